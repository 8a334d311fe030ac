//! Threads made by a raw `clone` that run no Rust code, for the steps
//! that need many of them ([`crate::exhaust`]) or hand clone pointers a
//! runtime thread could not live with ([`crate::clonetid`]).
//!
//! Such a child only increments a counter and wakes it, waits until a
//! release word is non-zero, and exits, all in registers: it has no stack
//! of its own and its `TPIDR_EL0` is its creator's. It must therefore
//! never run a signal handler, so it is created with every signal blocked
//! (the mask is copied at clone): see [`SignalsBlocked`].

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use rt::signal;
use rt::sys::{clone_flags as cf, futex_op, nr};

/// A valid, 16-aligned stack pointer (in writable memory) for the
/// kernel's checks; the children never use it.
#[repr(C, align(16))]
struct DummyStack([AtomicU64; 4]);
static DUMMY_STACK: DummyStack = DummyStack([const { AtomicU64::new(0) }; 4]);

/// Every signal of the calling thread blocked while it lives.
pub struct SignalsBlocked {
    old: u64,
}

impl SignalsBlocked {
    pub fn new() -> Option<SignalsBlocked> {
        signal::block(!0).ok().map(|old| SignalsBlocked { old })
    }
}

impl Drop for SignalsBlocked {
    fn drop(&mut self) {
        let _ = signal::sigprocmask(signal::SIG_SETMASK, Some(self.old));
    }
}

/// `clone(flags, ptid, ctid)` of a child that increments `started`, wakes
/// one waiter on it, waits (`FUTEX_WAIT_PRIVATE`) until `release` is
/// non-zero and exits with status 0. Returns clone's result.
///
/// `flags` must include [`cf::THREAD_SHARED`] (shared memory: the child touches the
/// two words) and must not include `CLONE_SETTLS` (pointless: the child
/// never reads `TPIDR_EL0`). `started` and `release` must outlive the
/// child (statics, in practice).
pub fn spawn(
    _blocked: &SignalsBlocked,
    flags: u64,
    ptid: u64,
    ctid: u64,
    started: &'static AtomicU32,
    release: &'static AtomicU32,
) -> i64 {
    debug_assert!(flags & cf::THREAD_SHARED == cf::THREAD_SHARED && flags & cf::CLONE_SETTLS == 0);
    let sp = DUMMY_STACK.0.as_ptr_range().end as u64;
    let ret: i64;
    // SAFETY: the parent only gets clone's result in x0 (x8 is declared
    // clobbered). The child (x0 = 0) runs the code after `cbnz` with every
    // signal blocked (`_blocked`), touches only `started` and `release`
    // (which outlive it) through x10/x11 and the scratch x12/x13, makes
    // syscalls, and ends in `exit`, never returning into Rust.
    unsafe {
        core::arch::asm!(
            "svc #0",
            "cbnz x0, 9f",
            "1: ldxr w12, [x10]",
            "add w12, w12, #1",
            "stlxr w13, w12, [x10]",
            "cbnz w13, 1b",
            "mov x0, x10",
            "mov x1, #{wake}",
            "mov x2, #1",
            "mov x8, #{futex}",
            "svc #0",
            "2: ldar w12, [x11]",
            "cbnz w12, 3f",
            "mov x0, x11",
            "mov x1, #{wait}",
            "mov x2, #0",
            "mov x3, #0",
            "mov x8, #{futex}",
            "svc #0",
            "b 2b",
            "3: mov x0, #0",
            "mov x8, #{exit}",
            "svc #0",
            "brk #0x99",
            "9:",
            futex = const nr::FUTEX,
            wake = const futex_op::FUTEX_WAKE_PRIVATE,
            wait = const futex_op::FUTEX_WAIT_PRIVATE,
            exit = const nr::EXIT,
            inlateout("x0") flags => ret,
            in("x1") sp,
            in("x2") ptid,
            in("x3") 0u64,
            in("x4") ctid,
            inlateout("x8") nr::CLONE => _,
            in("x10") started.as_ptr(),
            in("x11") release.as_ptr(),
            options(nostack),
        )
    };
    ret
}

/// Sets `release` and wakes every child waiting on it.
pub fn release_all(release: &AtomicU32) {
    release.store(1, Ordering::SeqCst);
    rt::sys::futex_wake(release, i32::MAX as u32);
}
