//! Signals with Linux's aarch64 ABI: `rt_sigaction` with the kernel's
//! `struct sigaction`, `SA_SIGINFO` handlers, and the runtime's own restorer
//! (`mov x8, #139; svc #0`, i.e. `rt_sigreturn`).
//!
//! A handler runs on the interrupted thread's stack (there is no
//! `sigaltstack` here) with `x0 = sig`, `x1 = &siginfo`, `x2 = &ucontext`
//! and `x30 = sa_restorer`; returning from it enters the restorer, and
//! `rt_sigreturn` restores the interrupted context from the frame.

use core::ffi::c_void;

use crate::sys;

pub const SIGHUP: i32 = 1;
pub const SIGINT: i32 = 2;
pub const SIGQUIT: i32 = 3;
pub const SIGILL: i32 = 4;
pub const SIGTRAP: i32 = 5;
pub const SIGABRT: i32 = 6;
pub const SIGBUS: i32 = 7;
pub const SIGFPE: i32 = 8;
pub const SIGKILL: i32 = 9;
pub const SIGUSR1: i32 = 10;
pub const SIGSEGV: i32 = 11;
pub const SIGUSR2: i32 = 12;
pub const SIGPIPE: i32 = 13;
pub const SIGALRM: i32 = 14;
pub const SIGTERM: i32 = 15;
pub const SIGCHLD: i32 = 17;
pub const SIGSTOP: i32 = 19;

/// `sa_flags`.
pub const SA_NOCLDSTOP: u64 = 0x0000_0001;
pub const SA_NOCLDWAIT: u64 = 0x0000_0002;
pub const SA_SIGINFO: u64 = 0x0000_0004;
pub const SA_RESTORER: u64 = 0x0400_0000;
pub const SA_ONSTACK: u64 = 0x0800_0000;
pub const SA_RESTART: u64 = 0x1000_0000;
pub const SA_NODEFER: u64 = 0x4000_0000;
pub const SA_RESETHAND: u64 = 0x8000_0000;

/// `sa_handler` values that are not functions.
pub const SIG_DFL: u64 = 0;
pub const SIG_IGN: u64 = 1;

/// `rt_sigprocmask` `how`.
pub const SIG_BLOCK: u64 = 0;
pub const SIG_UNBLOCK: u64 = 1;
pub const SIG_SETMASK: u64 = 2;

/// `si_code` values for signals sent by a process.
pub const SI_USER: i32 = 0;
pub const SI_TKILL: i32 = -6;

/// The bit of `sig` in a signal set.
pub const fn sigmask(sig: i32) -> u64 {
    1 << (sig - 1)
}

/// The kernel's `struct sigaction` on aarch64 (not glibc's).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KSigaction {
    pub handler: u64,
    pub flags: u64,
    pub restorer: u64,
    pub mask: u64,
}

/// `siginfo_t` (128 bytes): the common head, then the union, whose first
/// words are `si_pid`/`si_uid` (kill, tgkill) or `si_addr` (faults).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct SigInfo {
    pub si_signo: i32,
    pub si_errno: i32,
    pub si_code: i32,
    _pad: i32,
    pub fields: [u64; 14],
}

const _: () = assert!(core::mem::size_of::<SigInfo>() == 128);

impl SigInfo {
    /// `si_pid` (kill, tgkill, SIGCHLD).
    pub fn si_pid(&self) -> i32 {
        self.fields[0] as u32 as i32
    }

    /// `si_uid` (kill, tgkill).
    pub fn si_uid(&self) -> u32 {
        (self.fields[0] >> 32) as u32
    }

    /// `si_addr` (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP).
    pub fn si_addr(&self) -> u64 {
        self.fields[0]
    }
}

/// `struct sigcontext` (uapi/asm/sigcontext.h): the interrupted registers;
/// `reserved` holds records such as [`FpsimdContext`], ending with a zero
/// header.
#[repr(C, align(16))]
pub struct SigContext {
    pub fault_address: u64,
    pub regs: [u64; 31],
    pub sp: u64,
    pub pc: u64,
    pub pstate: u64,
    pub reserved: Reserved,
}

/// `sigcontext.__reserved`: 4096 bytes, 16-byte aligned.
#[repr(C, align(16))]
pub struct Reserved(pub [u8; 4096]);

/// The FP/SIMD record in [`SigContext::reserved`].
#[repr(C)]
pub struct FpsimdContext {
    pub magic: u32,
    pub size: u32,
    pub fpsr: u32,
    pub fpcr: u32,
    pub vregs: [u128; 32],
}

/// [`FpsimdContext::magic`].
pub const FPSIMD_MAGIC: u32 = 0x4650_8001;

/// `struct ucontext` (the third handler argument) as the kernel lays it out.
#[repr(C)]
pub struct UContext {
    pub uc_flags: u64,
    pub uc_link: u64,
    pub ss_sp: u64,
    pub ss_flags: i32,
    _ss_pad: i32,
    pub ss_size: u64,
    pub uc_sigmask: u64,
    _unused: [u8; 120],
    pub uc_mcontext: SigContext,
}

const _: () = assert!(core::mem::offset_of!(UContext, uc_sigmask) == 40);
const _: () = assert!(core::mem::offset_of!(UContext, uc_mcontext) == 176);
const _: () = assert!(core::mem::offset_of!(SigContext, pc) == 264);
const _: () = assert!(core::mem::offset_of!(SigContext, reserved) == 288);
const _: () = assert!(core::mem::size_of::<FpsimdContext>() == 528);

impl SigContext {
    /// The FP/SIMD record, if the kernel wrote one (Linux always does).
    pub fn fpsimd(&self) -> Option<&FpsimdContext> {
        let mut off = 0usize;
        let r = &self.reserved.0;
        while off + 8 <= r.len() {
            let word = |o: usize| u32::from_ne_bytes([r[o], r[o + 1], r[o + 2], r[o + 3]]);
            let (magic, size) = (word(off), word(off + 4) as usize);
            if magic == 0 || size < 8 || off + size > r.len() {
                return None;
            }
            if magic == FPSIMD_MAGIC && size >= core::mem::size_of::<FpsimdContext>() {
                let p = r[off..].as_ptr() as *const FpsimdContext;
                // SAFETY: the record lies inside `reserved` (checked above),
                // records are 16-byte aligned like `reserved` itself.
                return Some(unsafe { &*p });
            }
            off += size;
        }
        None
    }
}

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
    "    mov x8, #139",
    "    svc #0",
    ".size __rt_sigreturn, . - __rt_sigreturn",
    ".popsection",
);

/// The address of the runtime's restorer (`mov x8, #139; svc #0`).
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
