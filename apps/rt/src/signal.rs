//! Signals with Linux's aarch64 ABI: `rt_sigaction` with the kernel's
//! `struct sigaction`, `SA_SIGINFO` handlers, and the runtime's own restorer
//! (`mov x8, #RT_SIGRETURN; svc #0`).
//!
//! A handler runs on the interrupted thread's stack (there is no
//! `sigaltstack` here) with `x0 = sig`, `x1 = &siginfo`, `x2 = &ucontext`
//! and `x30 = sa_restorer`; returning from it enters the restorer, and
//! `rt_sigreturn` restores the interrupted context from the frame.

use core::ffi::c_void;

use crate::sys;

/// The signal ABI (numbers, flags, `struct sigaction`, `siginfo_t`, the
/// frame a handler sees), from the one definition the kernel also uses.
pub use abi::signal::*;

/// An `SA_SIGINFO` handler.
pub type Handler = extern "C" fn(sig: i32, info: *mut SigInfo, uctx: *mut c_void);

unsafe extern "C" {
    /// The runtime's signal restorer: `rt_sigreturn`.
    safe fn __rt_sigreturn();
}

core::arch::global_asm!(
    ".pushsection .text, \"ax\", %progbits",
    ".global __rt_sigreturn",
    ".type __rt_sigreturn, %function",
    ".p2align 2",
    "__rt_sigreturn:",
    "    mov x8, #{rt_sigreturn}",
    "    svc #0",
    ".size __rt_sigreturn, . - __rt_sigreturn",
    ".popsection",
    rt_sigreturn = const sys::nr::RT_SIGRETURN,
);

/// The address of the runtime's restorer (`mov x8, #RT_SIGRETURN; svc #0`).
pub fn restorer() -> u64 {
    __rt_sigreturn as *const () as u64
}

/// The raw `rt_sigaction(sig, act, oact, 8)`; 0 or -errno.
pub fn sigaction_raw(sig: i32, act: Option<&KSigaction>, old: Option<&mut KSigaction>) -> i64 {
    let act = act.map_or(0, |a| a as *const KSigaction as u64);
    let old = old.map_or(0, |o| o as *mut KSigaction as u64);
    sys::rt_sigaction(sig as u64, act, old)
}

/// Installs `handler` for `sig` with `flags | SA_SIGINFO | SA_RESTORER`,
/// the runtime's restorer and an empty `sa_mask`.
pub fn sigaction(sig: i32, handler: Handler, flags: u64) -> Result<(), i64> {
    sigaction_mask(sig, handler, flags, 0).map(|_| ())
}

/// [`sigaction`] with a `sa_mask`; returns the previous action.
pub fn sigaction_mask(
    sig: i32,
    handler: Handler,
    flags: u64,
    mask: u64,
) -> Result<KSigaction, i64> {
    let act = KSigaction {
        handler: handler as *const () as u64,
        flags: flags | SA_SIGINFO | SA_RESTORER,
        restorer: restorer(),
        mask,
    };
    let mut old = KSigaction::default();
    sys::result(sigaction_raw(sig, Some(&act), Some(&mut old))).map(|_| old)
}

/// Sets `sig` to `SIG_DFL` (`how = SIG_DFL`) or `SIG_IGN`.
pub fn set_disposition(sig: i32, how: u64) -> Result<(), i64> {
    let act = KSigaction {
        handler: how,
        ..KSigaction::default()
    };
    sys::result(sigaction_raw(sig, Some(&act), None)).map(|_| ())
}

/// `rt_sigprocmask(how, set, &old, 8)` for the calling thread; returns the
/// previous mask. With `set = None` only reads the mask.
pub fn sigprocmask(how: u64, set: Option<u64>) -> Result<u64, i64> {
    let mut old = 0u64;
    let set_ptr = set.as_ref().map_or(0, |s| s as *const u64 as u64);
    sys::result(sys::rt_sigprocmask(
        how,
        set_ptr,
        &mut old as *mut u64 as u64,
    ))
    .map(|_| old)
}

/// Blocks the signals in `mask`; returns the previous mask.
pub fn block(mask: u64) -> Result<u64, i64> {
    sigprocmask(SIG_BLOCK, Some(mask))
}

/// Unblocks the signals in `mask`; returns the previous mask.
pub fn unblock(mask: u64) -> Result<u64, i64> {
    sigprocmask(SIG_UNBLOCK, Some(mask))
}

/// `kill(pid, sig)`.
pub fn kill(pid: i64, sig: i32) -> Result<(), i64> {
    sys::result(sys::kill(pid, sig)).map(|_| ())
}

/// `tgkill(tgid, tid, sig)`.
pub fn tgkill(tgid: i64, tid: i64, sig: i32) -> Result<(), i64> {
    sys::result(sys::tgkill(tgid, tid, sig)).map(|_| ())
}

/// Sends `sig` to thread `tid` of this process.
pub fn thread_kill(tid: i64, sig: i32) -> Result<(), i64> {
    tgkill(sys::getpid(), tid, sig)
}

/// `raise(sig)`: sends `sig` to the calling thread (delivered before this
/// returns, unless blocked).
pub fn raise(sig: i32) -> Result<(), i64> {
    tgkill(sys::getpid(), sys::gettid(), sig)
}
