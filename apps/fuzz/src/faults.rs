//! Deliberate faults and their recovery.
//!
//! A faulting asm block first records, in the thread's [`FaultCtx`] (found
//! by the handler through the runtime's per-thread rseq `slot`), the PC at
//! which the fault must be reported and the PC to resume at. The
//! SIGSEGV/SIGILL/SIGTRAP/SIGBUS handler checks the frame's PC against it,
//! rewrites `uc_mcontext.pc` to the resume address and returns; the
//! `rt_sigreturn` then continues after the faulting instruction. A fault
//! anywhere else is a bug (of the fuzzer or of the kernel's frame): it is
//! reported and the app exits with status 3.
//!
//! The SIGUSR1/SIGUSR2 handler is here too: besides counting, it edits the
//! frames it gets (junk in the PSTATE bits Linux ignores, which the kernel
//! must drop; or, on request, a new PC: a kernel address, a hole, a
//! misaligned PC, which must then fault and be recovered like the others;
//! or, with `deadly=1`, an EL1 mode or a broken FP/SIMD record, for which
//! `rt_sigreturn` must kill the app).

use core::ffi::c_void;
use core::sync::atomic::{AtomicU64, Ordering};

use rt::signal::{self, SigInfo, UContext};
use rt::{println, sys};

use crate::mem::{self, KERNEL_IMAGE, KERNEL_VA, USER_UNMAPPED};
use crate::stats;

/// What a thread expects of its next fault. `#[repr(C)]`: the asm blocks
/// store `expect` at offset 0, `resume` at 8, `alt` at 16,
/// `redirect_from` at 40 and `redirect_to` at 48.
#[repr(C)]
pub struct FaultCtx {
    /// The PC the fault must be reported at (0: no fault expected).
    pub expect: AtomicU64,
    /// Where to continue after a fault at `expect`.
    pub resume: AtomicU64,
    /// Another PC accepted as is (an rseq abort handler: a fault inside a
    /// critical section is delivered at the section's `abort_ip`).
    pub alt: AtomicU64,
    /// The signal that hit (0: none since the last [`FaultCtx::arm`]).
    pub sig: AtomicU64,
    /// 1: reported at `expect`; 2: at `alt`.
    pub how: AtomicU64,
    /// A USR handler interrupting this PC returns to `redirect_to`.
    pub redirect_from: AtomicU64,
    pub redirect_to: AtomicU64,
    /// deadly=1: what that handler also breaks in the frame (1: PSTATE
    /// mode EL1h, 2: the FP/SIMD record's magic).
    pub corrupt: AtomicU64,
    /// Where the last SIGUSR1/SIGUSR2 interrupted the thread.
    pub usr_pc: AtomicU64,
}

impl FaultCtx {
    pub const fn new() -> FaultCtx {
        FaultCtx {
            expect: AtomicU64::new(0),
            resume: AtomicU64::new(0),
            alt: AtomicU64::new(0),
            sig: AtomicU64::new(0),
            how: AtomicU64::new(0),
            redirect_from: AtomicU64::new(0),
            redirect_to: AtomicU64::new(0),
            corrupt: AtomicU64::new(0),
            usr_pc: AtomicU64::new(0),
        }
    }

    /// Clears the result of the previous fault.
    pub fn arm(&self) {
        self.sig.store(0, Ordering::SeqCst);
        self.how.store(0, Ordering::SeqCst);
    }

    /// Expects no fault any more.
    pub fn disarm(&self) {
        self.expect.store(0, Ordering::SeqCst);
        self.alt.store(0, Ordering::SeqCst);
        self.redirect_from.store(0, Ordering::SeqCst);
        self.corrupt.store(0, Ordering::SeqCst);
    }

    /// Makes this the calling thread's context (through the rseq slot).
    pub fn install(&self) {
        // SAFETY: the slot is the calling thread's own app-owned word.
        unsafe { rt::rseq::slot().write_volatile(self as *const FaultCtx as u64) };
    }

    /// Detaches the calling thread's context.
    pub fn uninstall() {
        // SAFETY: as in `install`.
        unsafe { rt::rseq::slot().write_volatile(0) };
    }
}

/// The fault signal handler.
extern "C" fn on_fault(sig: i32, info: *mut SigInfo, uc: *mut c_void) {
    // SAFETY: the kernel passes a valid siginfo and ucontext for an
    // SA_SIGINFO handler; the slot holds 0 or the address of the thread's
    // live FaultCtx (see `install`).
    unsafe {
        let uc = &mut *(uc as *mut UContext);
        let pc = uc.uc_mcontext.pc;
        let ctx = rt::rseq::slot().read_volatile() as *const FaultCtx;
        if let Some(ctx) = ctx.as_ref() {
            let expect = ctx.expect.load(Ordering::SeqCst);
            let alt = ctx.alt.load(Ordering::SeqCst);
            if expect != 0 && pc == expect {
                uc.uc_mcontext.pc = ctx.resume.load(Ordering::SeqCst);
                ctx.expect.store(0, Ordering::SeqCst);
                ctx.sig.store(sig as u64, Ordering::SeqCst);
                ctx.how.store(1, Ordering::SeqCst);
                stats::FAULTS.inc();
                return;
            }
            if alt != 0 && pc == alt {
                ctx.expect.store(0, Ordering::SeqCst);
                ctx.alt.store(0, Ordering::SeqCst);
                ctx.sig.store(sig as u64, Ordering::SeqCst);
                ctx.how.store(2, Ordering::SeqCst);
                stats::FAULTS.inc();
                return;
            }
        }
        let info = &*info;
        println!(
            "fuzz: UNEXPECTED signal {sig} (si_signo {} si_code {}) in tid {} at pc {pc:#x}, si_addr {:#x}, sp {:#x}, lr {:#x}, fault context {:#x}",
            info.si_signo,
            info.si_code,
            rt::thread::current_tid(),
            info.si_addr(),
            uc.uc_mcontext.sp,
            uc.uc_mcontext.regs[30],
            ctx as u64
        );
        sys::exit_group(3);
    }
}

/// PSTATE bits Linux's `valid_native_regs()` silently clears (RES0 for
/// an EL0 AArch64 context): junk there must not survive `rt_sigreturn`.
const PSTATE_JUNK: u64 = 0xffff_ffff_0000_0000 | (3 << 26) | (3 << 22) | (0x7f << 13) | (1 << 5);

/// Deliveries of the USR handler (picks the junk).
static USR_RUNS: AtomicU64 = AtomicU64::new(0);

/// The SIGUSR1/SIGUSR2 handler: counts, checks the siginfo, edits the
/// frame (see the module docs).
extern "C" fn on_usr(sig: i32, info: *mut SigInfo, uc: *mut c_void) {
    stats::SIGNALS.inc();
    // SAFETY: the kernel passes a valid siginfo and ucontext to an
    // SA_SIGINFO handler; the slot holds 0 or the thread's live FaultCtx.
    unsafe {
        let info = &*info;
        if info.si_signo != sig || !matches!(info.si_code, signal::SI_USER | signal::SI_TKILL) {
            stats::anomaly(format_args!(
                "signal {sig} with si_signo {} si_code {}",
                info.si_signo, info.si_code
            ));
        }
        let uc = &mut *(uc as *mut UContext);
        let ctx = rt::rseq::slot().read_volatile() as *const FaultCtx;
        if let Some(ctx) = ctx.as_ref() {
            ctx.usr_pc.store(uc.uc_mcontext.pc, Ordering::SeqCst);
            let from = ctx.redirect_from.load(Ordering::SeqCst);
            if from != 0 && uc.uc_mcontext.pc == from {
                ctx.redirect_from.store(0, Ordering::SeqCst);
                uc.uc_mcontext.pc = ctx.redirect_to.load(Ordering::SeqCst);
                match ctx.corrupt.swap(0, Ordering::SeqCst) {
                    1 => uc.uc_mcontext.pstate = 0x3c5,        // EL1h, DAIF masked
                    2 => uc.uc_mcontext.reserved.0[0] ^= 0xff, // FPSIMD magic
                    _ => {}
                }
                return;
            }
        }
        let n = USR_RUNS.fetch_add(1, Ordering::Relaxed);
        if n.is_multiple_of(4) {
            let junk = n
                .wrapping_mul(0x9e37_79b9_7f4a_7c15)
                .rotate_left(n as u32 % 64);
            uc.uc_mcontext.pstate |= junk & PSTATE_JUNK;
        }
    }
}

/// Installs the SIGUSR1 (SA_RESTART) and SIGUSR2 (SA_NODEFER) handler.
pub fn install_usr_handlers() -> Result<(), i64> {
    signal::sigaction(signal::SIGUSR1, on_usr, signal::SA_RESTART)?;
    signal::sigaction(signal::SIGUSR2, on_usr, signal::SA_NODEFER)
}

/// The signals a fault raises.
pub const FAULT_SIGNALS: [i32; 5] = [
    signal::SIGSEGV,
    signal::SIGILL,
    signal::SIGTRAP,
    signal::SIGBUS,
    signal::SIGFPE,
];

/// Installs the fault handler for SIGSEGV, SIGILL, SIGTRAP, SIGBUS, SIGFPE.
pub fn install_handlers() -> Result<(), i64> {
    for sig in FAULT_SIGNALS {
        signal::sigaction(sig, on_fault, 0)?;
    }
    Ok(())
}

/// The kinds of deliberate fault.
pub const KINDS: u64 = 20;

/// Records `1f` as the faulting PC and `2f` as the resume PC in `$ctx`,
/// then runs the faulting instruction at `1:`.
macro_rules! fault_asm {
    ($insn:literal, $ctx:expr $(, $($ops:tt)*)?) => {
        core::arch::asm!(
            "adr {t}, 1f",
            "str {t}, [{ctx}]",
            "adr {t}, 2f",
            "str {t}, [{ctx}, #8]",
            "1:",
            $insn,
            "2:",
            ctx = in(reg) $ctx,
            t = out(reg) _,
            $($($ops)*)?
        )
    };
}

/// Runs fault `kind` (0..[`KINDS`]) with `ctx` installed; returns the
/// signal it should raise and the one the handler saw (0: no fault).
pub fn fault(ctx: &FaultCtx, kind: u64, scratch: u64, straddle_end: u64, tid: i64) -> (u64, u64) {
    use signal::{SIGBUS, SIGILL, SIGSEGV, SIGTRAP};
    ctx.arm();
    let c = ctx as *const FaultCtx as u64;
    let text = mem::text_addr();
    let rodata = mem::rodata_addr();
    let hole = if straddle_end != 0 {
        straddle_end
    } else {
        USER_UNMAPPED
    };
    // SAFETY: each block faults at its `1:` instruction, which the handler
    // skips by resuming at `2:` with all registers restored from the frame;
    // the only side effects are the (failed) access and the two stores
    // into `ctx`. The stores that do not fault never happen: every target
    // is unmapped, read-only or EL1-only.
    let want = unsafe {
        match kind {
            0 => {
                fault_asm!("ldr {v}, [{a}]", c, a = in(reg) USER_UNMAPPED + 0x1238, v = out(reg) _);
                SIGSEGV
            }
            1 => {
                fault_asm!("ldr {v}, [{a}]", c, a = in(reg) KERNEL_IMAGE, v = out(reg) _);
                SIGSEGV
            }
            2 => {
                fault_asm!("ldr {v}, [{a}]", c, a = in(reg) KERNEL_VA + 0x40, v = out(reg) _);
                SIGSEGV
            }
            3 => {
                fault_asm!("str {v}, [{a}]", c, a = in(reg) text, v = in(reg) 0u64);
                SIGSEGV
            }
            4 => {
                fault_asm!("str {v}, [{a}]", c, a = in(reg) rodata, v = in(reg) 0u64);
                SIGSEGV
            }
            5 => {
                fault_asm!("udf #0", c);
                SIGILL
            }
            6 => {
                fault_asm!("brk #0", c);
                SIGTRAP
            }
            7 => {
                fault_asm!("mrs {v}, sctlr_el1", c, v = out(reg) _);
                SIGILL
            }
            8 => {
                fault_asm!("ldxr {v}, [{a}]", c, a = in(reg) scratch + 1, v = out(reg) _);
                SIGBUS
            }
            9 => {
                branch_to(c, USER_UNMAPPED + 0x40);
                SIGSEGV
            }
            10 => {
                // Data pages are never executable (W^X).
                branch_to(c, scratch);
                SIGSEGV
            }
            11 => {
                fault_asm!("hvc #0", c);
                SIGILL
            }
            12 => {
                // An 8-byte load straddling into the hole.
                fault_asm!("ldr {v}, [{a}]", c, a = in(reg) hole - 4, v = out(reg) _);
                SIGSEGV
            }
            13 => {
                // A store straddling into the hole (the first bytes may
                // land in the thread's own straddle page).
                fault_asm!("str {v}, [{a}]", c, a = in(reg) hole - 3, v = in(reg) 0x5a5a_5a5a_5a5a_5a5au64);
                SIGSEGV
            }
            _ => {
                // A signal handler sends the thread to a bad PC.
                let (target, want) = match kind {
                    14 => (KERNEL_IMAGE, SIGSEGV),
                    15 => (KERNEL_VA, SIGSEGV),
                    16 => (USER_UNMAPPED, SIGSEGV),
                    17 => (scratch, SIGSEGV),
                    18 => (4, SIGSEGV), // page 0 (a 0 PC would read as "no fault expected")
                    _ => (text + 2, SIGBUS), // misaligned PC
                };
                redirect(ctx, tid, target);
                want
            }
        }
    };
    ctx.disarm();
    (want as u64, ctx.sig.load(Ordering::SeqCst))
}

/// Sends SIGUSR1 to the thread itself with `ctx` asking the handler to
/// return to `target` (which must fault at once, and is then resumed
/// after the `svc`).
pub fn redirect(ctx: &FaultCtx, tid: i64, target: u64) {
    // The handler must run right at the syscall's exit.
    let _ = signal::unblock(signal::sigmask(signal::SIGUSR1));
    // SAFETY: `tgkill(1, tid, SIGUSR1)`; the handler turns the return to
    // `1:` into a jump to `target`, whose fault the fault handler resumes
    // at `2:`. x0 is clobbered (the syscall result).
    unsafe {
        core::arch::asm!(
            "adr {t}, 2f",
            "str {t}, [{ctx}, #8]",
            "str {to}, [{ctx}]",
            "str {to}, [{ctx}, #48]",
            "adr {t}, 1f",
            "str {t}, [{ctx}, #40]",
            "svc #0",
            "1:",
            "nop",
            "2:",
            ctx = in(reg) ctx as *const FaultCtx as u64,
            to = in(reg) target,
            t = out(reg) _,
            inlateout("x0") 1u64 => _,
            in("x1") tid,
            in("x2") signal::SIGUSR1 as u64,
            in("x8") sys::nr::TGKILL,
        )
    };
    ctx.redirect_from.store(0, Ordering::SeqCst);
}

/// `blr target` (an instruction abort at `target`); the handler resumes
/// at the return address.
///
/// # Safety
///
/// `target` must not be executable; `ctx` must be the installed context.
unsafe fn branch_to(ctx: u64, target: u64) {
    // SAFETY: the caller's contract; the fault is reported at `target`,
    // and the handler resumes at `2:` (x30 is clobbered by `blr`).
    unsafe {
        core::arch::asm!(
            "adr {t}, 2f",
            "str {target}, [{ctx}]",
            "str {t}, [{ctx}, #8]",
            "blr {target}",
            "2:",
            ctx = in(reg) ctx,
            target = in(reg) target,
            t = out(reg) _,
            out("x30") _,
        )
    };
}

/// Loads the u64 at `addr`, which may be unmapped: `Ok(value)`, or
/// `Err(signal)` when the load faulted and the handler resumed after it.
/// `ctx` must be the calling thread's installed context.
pub fn probe_load(ctx: &FaultCtx, addr: u64) -> Result<u64, u64> {
    ctx.arm();
    let v: u64;
    // SAFETY: an 8-byte load; if it faults, the handler resumes at `2:`
    // with the registers of the frame (`v` is then garbage, and unused).
    unsafe {
        fault_asm!("ldr {v}, [{a}]", ctx as *const FaultCtx as u64, a = in(reg) addr, v = out(reg) v)
    };
    ctx.disarm();
    match ctx.sig.load(Ordering::SeqCst) {
        0 => Ok(v),
        sig => Err(sig),
    }
}

/// Stores `v` at `addr`, which may be unmapped: `Err(signal)` when the
/// store faulted and was resumed. `ctx` must be the calling thread's
/// installed context.
///
/// # Safety
///
/// If `addr` is mapped writable, nothing else may rely on its contents.
pub unsafe fn probe_store(ctx: &FaultCtx, addr: u64, v: u64) -> Result<(), u64> {
    ctx.arm();
    // SAFETY: the caller's contract; a fault is resumed at `2:`.
    unsafe {
        fault_asm!("str {v}, [{a}]", ctx as *const FaultCtx as u64, a = in(reg) addr, v = in(reg) v)
    };
    ctx.disarm();
    match ctx.sig.load(Ordering::SeqCst) {
        0 => Ok(()),
        sig => Err(sig),
    }
}
