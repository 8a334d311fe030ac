//! A spinlock that also masks IRQs on the local CPU, and the
//! `critical-section` implementation `embedded-alloc` needs.

use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Linux's `spinlock_t` taken with `spin_lock_irqsave()`: interrupts are
/// masked while held so an IRQ handler on this CPU cannot deadlock on it.
pub struct SpinLock<T> {
    locked: AtomicBool,
    data: UnsafeCell<T>,
}

// SAFETY: access to `data` is serialised by `locked`.
unsafe impl<T: Send> Sync for SpinLock<T> {}
// SAFETY: the lock owns its data.
unsafe impl<T: Send> Send for SpinLock<T> {}

impl<T> SpinLock<T> {
    /// An unlocked lock.
    pub const fn new(data: T) -> Self {
        SpinLock {
            locked: AtomicBool::new(false),
            data: UnsafeCell::new(data),
        }
    }

    /// Masks IRQs, then spins until the lock is ours.
    pub fn lock(&self) -> SpinLockGuard<'_, T> {
        let flags = arch::cpu::local_irq_save();
        while self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            arch::cpu::cpu_relax();
        }
        SpinLockGuard { lock: self, flags }
    }

    /// Masks IRQs and takes the lock if it is free; otherwise restores
    /// IRQs and returns `None`.
    pub fn try_lock(&self) -> Option<SpinLockGuard<'_, T>> {
        let flags = arch::cpu::local_irq_save();
        if self
            .locked
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            Some(SpinLockGuard { lock: self, flags })
        } else {
            arch::cpu::local_irq_restore(flags);
            None
        }
    }
}

/// Holds a [`SpinLock`]; unlocks and restores IRQs on drop.
pub struct SpinLockGuard<'a, T> {
    lock: &'a SpinLock<T>,
    flags: u64,
}

impl<T> Deref for SpinLockGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard proves exclusive access.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T> DerefMut for SpinLockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard proves exclusive access.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T> Drop for SpinLockGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.locked.store(false, Ordering::Release);
        arch::cpu::local_irq_restore(self.flags);
    }
}

/// One global, re-entrant critical section: IRQs masked and a lock owned by
/// this CPU. Re-entry on the owning CPU is allowed (critical-section's contract).
struct KernelCriticalSection;
critical_section::set_impl!(KernelCriticalSection);

const NO_OWNER: usize = usize::MAX;
static CS_OWNER: AtomicUsize = AtomicUsize::new(NO_OWNER);
/// Bit 63 of the restore state: this acquire was nested (do not unlock).
const NESTED: u64 = 1 << 63;

// SAFETY: acquire/release pair up as the trait requires; the lock gives
// mutual exclusion across CPUs and IRQ masking within one.
unsafe impl critical_section::Impl for KernelCriticalSection {
    unsafe fn acquire() -> u64 {
        let flags = arch::cpu::local_irq_save();
        let me = arch::cpu::cpu_id();
        if CS_OWNER.load(Ordering::Relaxed) == me {
            return flags | NESTED;
        }
        while CS_OWNER
            .compare_exchange_weak(NO_OWNER, me, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            arch::cpu::cpu_relax();
        }
        flags
    }

    unsafe fn release(state: u64) {
        if state & NESTED == 0 {
            CS_OWNER.store(NO_OWNER, Ordering::Release);
        }
        arch::cpu::local_irq_restore(state & !NESTED);
    }
}
