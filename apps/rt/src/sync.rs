//! Futex-based locks for threads of one process (private futexes).
//!
//! - [`Mutex`]: Ulrich Drepper's three-state mutex ("Futexes Are Tricky",
//!   mutex3): 0 unlocked, 1 locked, 2 locked with (possible) waiters. An
//!   uncontended lock/unlock is one CAS and one atomic decrement, no
//!   syscall; only a contended unlock makes a `FUTEX_WAKE`.
//! - [`Barrier`]: N threads meet; the last to arrive bumps a generation word
//!   and wakes the others, who sleep on it with `FUTEX_WAIT`.
//!
//! Both are `const fn new`, so they can live in `static`s.

use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicU32, Ordering};

use crate::sys;

/// Spins this many times on a contended word before sleeping.
const SPINS: u32 = 100;

const UNLOCKED: u32 = 0;
const LOCKED: u32 = 1;
const CONTENDED: u32 = 2;

/// A mutual-exclusion lock protecting a `T`.
pub struct Mutex<T: ?Sized> {
    state: AtomicU32,
    data: UnsafeCell<T>,
}

// SAFETY: the lock hands out access to `data` to one thread at a time, so a
// `T: Send` may be reached from any thread.
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}
// SAFETY: as above: `&Mutex<T>` only gives `&mut T` under the lock.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

impl<T> Mutex<T> {
    /// An unlocked mutex holding `value`.
    pub const fn new(value: T) -> Mutex<T> {
        Mutex {
            state: AtomicU32::new(UNLOCKED),
            data: UnsafeCell::new(value),
        }
    }

    /// Consumes the mutex, returning the value.
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Locks, sleeping on the futex while another thread holds the lock.
    pub fn lock(&self) -> MutexGuard<'_, T> {
        if self
            .state
            .compare_exchange(UNLOCKED, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_contended();
        }
        MutexGuard { mutex: self }
    }

    /// Locks if that needs no waiting.
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        self.state
            .compare_exchange(UNLOCKED, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .ok()
            .map(|_| MutexGuard { mutex: self })
    }

    #[cold]
    fn lock_contended(&self) {
        // A short spin: the holder is often on another CPU and about to
        // unlock; taking it as LOCKED (1) here keeps unlock syscall-free.
        for _ in 0..SPINS {
            let s = self.state.load(Ordering::Relaxed);
            if s == UNLOCKED
                && self
                    .state
                    .compare_exchange(UNLOCKED, LOCKED, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                return;
            }
            if s == CONTENDED {
                break;
            }
            core::hint::spin_loop();
        }
        // Drepper's mutex3: announce a waiter (2), sleep while it stays 2.
        // Whoever takes the lock here takes it as 2, since other waiters
        // may still be asleep and must be woken by our unlock.
        while self.state.swap(CONTENDED, Ordering::Acquire) != UNLOCKED {
            sys::futex_wait(&self.state, CONTENDED, None);
        }
    }

    fn unlock(&self) {
        if self.state.fetch_sub(1, Ordering::Release) != LOCKED {
            // It was CONTENDED: fully unlock and wake one waiter.
            self.state.store(UNLOCKED, Ordering::Release);
            sys::futex_wake(&self.state, 1);
        }
    }

    /// The value, through an exclusive borrow (no locking needed).
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }
}

/// Access to a locked [`Mutex`]'s value; unlocks on drop.
pub struct MutexGuard<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard proves the lock is held.
        unsafe { &*self.mutex.data.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard proves the lock is held, and it is borrowed
        // mutably, so this is the only reference.
        unsafe { &mut *self.mutex.data.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.mutex.unlock();
    }
}

/// A reusable barrier for a fixed number of threads.
pub struct Barrier {
    n: u32,
    arrived: AtomicU32,
    generation: AtomicU32,
}

impl Barrier {
    /// A barrier that releases its waiters when `n` threads have arrived.
    pub const fn new(n: u32) -> Barrier {
        Barrier {
            n,
            arrived: AtomicU32::new(0),
            generation: AtomicU32::new(0),
        }
    }

    /// Blocks until `n` threads (this one included) have called `wait` in
    /// this round. Returns true in exactly one of them (the last to arrive).
    pub fn wait(&self) -> bool {
        let generation = self.generation.load(Ordering::SeqCst);
        if self.arrived.fetch_add(1, Ordering::SeqCst) + 1 >= self.n {
            // Reset for the next round before releasing anyone: a released
            // thread may call `wait` again at once.
            self.arrived.store(0, Ordering::SeqCst);
            self.generation.fetch_add(1, Ordering::SeqCst);
            sys::futex_wake(&self.generation, i32::MAX as u32);
            return true;
        }
        let mut spins = 0;
        while self.generation.load(Ordering::SeqCst) == generation {
            if spins < SPINS {
                spins += 1;
                core::hint::spin_loop();
            } else {
                sys::futex_wait(&self.generation, generation, None);
            }
        }
        false
    }
}
