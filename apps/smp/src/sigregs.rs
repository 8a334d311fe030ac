//! `signal-regs`: a signal delivered to a thread spinning in EL0 must leave
//! every register of the interrupted context intact, even when the handler
//! destroys them all.
//!
//! The worker thread (`__smp_regs_spin`, asm) loads distinct patterns into
//! x0-x15, x17-x30, v0-v31 (all 128 bits), FPCR, FPSR and NZCV, announces itself
//! and spins until a flag word becomes nonzero, then stores everything back
//! (and SP). The main thread `tgkill`s it with SIGUSR1. The handler
//! (`__smp_handler`, asm) records what it got (Rust), sets the flag and
//! then loads junk into x0-x29, v0-v31, FPCR, FPSR and NZCV before returning
//! through the restorer: only `rt_sigreturn` restoring the frame brings the
//! patterns back.
//!
//! Not checked: x16, the one scratch register of the spin loop (it holds the
//! flag's address, then the flag's value: `adrp x16; ldr x16; cbz x16`) and
//! of the final stores (their base address). SP is checked (stored after the
//! loop, compared with its value before), and TPIDR_EL0 (not part of the
//! signal frame: left alone by the handler, it must be unchanged). x18 is
//! treated like any other
//! register (the function saves and restores it, as it does x19-x30 and
//! d8-d15, which the AAPCS64 requires it to preserve).
//!
//! Also checked: the handler's arguments (`signal-info`: sig and si_signo
//! 10), the thread it ran on (`signal-tid`), and the kernel's signal frame
//! (`signal-frame`: the ucontext's x0-x30 minus x16, SP, PC in the spin
//! loop, NZCV in PSTATE, and the fpsimd record's v0-v31, FPCR and FPSR).

use core::cell::UnsafeCell;
use core::ffi::c_void;
use core::sync::atomic::{AtomicI32, AtomicI64, AtomicU32, AtomicU64, Ordering};

use rt::signal::{self, SigInfo, UContext};
use rt::test::{MS, SEC, check, wait_for};
use rt::{println, sched, sys, thread};

/// A full register file as the asm stores it. Offsets are hard-coded in the
/// asm: x at 0, v at 256, fpcr 768, nzcv 776, sp 784, sp_before 792,
/// fpsr 800.
#[repr(C, align(16))]
#[derive(Clone, Copy)]
pub struct Regs {
    x: [u64; 32],
    v: [u128; 32],
    fpcr: u64,
    nzcv: u64,
    sp: u64,
    sp_before: u64,
    fpsr: u64,
    _pad: u64,
}

const _: () = assert!(core::mem::offset_of!(Regs, v) == 256);
const _: () = assert!(core::mem::offset_of!(Regs, fpcr) == 768);
const _: () = assert!(core::mem::offset_of!(Regs, nzcv) == 776);
const _: () = assert!(core::mem::offset_of!(Regs, sp) == 784);
const _: () = assert!(core::mem::offset_of!(Regs, sp_before) == 792);
const _: () = assert!(core::mem::offset_of!(Regs, fpsr) == 800);

/// The register the spin loop needs for itself.
const SCRATCH: usize = 16;

/// FPCR: AHP, DN, FZ, round towards zero (bits 26..22; all ARMv8.0).
const FPCR_PATTERN: u64 = 0x07c0_0000;
/// FPCR in the handler: round towards +infinity only.
const FPCR_JUNK: u64 = 0x0040_0000;
/// FPSR: QC, IDC, IXC, DZC, IOC (cumulative flags, writable at EL0).
const FPSR_PATTERN: u64 = 0x0800_0093;
/// FPSR in the handler: OFC, UFC.
const FPSR_JUNK: u64 = 0x0000_000c;
/// NZCV: N and C.
const NZCV_PATTERN: u64 = 0xa000_0000;
/// NZCV in the handler: Z and V.
const NZCV_JUNK: u64 = 0x5000_0000;

const fn patterns(junk: bool) -> Regs {
    let mut r = Regs {
        x: [0; 32],
        v: [0; 32],
        fpcr: if junk { FPCR_JUNK } else { FPCR_PATTERN },
        nzcv: if junk { NZCV_JUNK } else { NZCV_PATTERN },
        sp: 0,
        sp_before: 0,
        fpsr: if junk { FPSR_JUNK } else { FPSR_PATTERN },
        _pad: 0,
    };
    let mut i = 0;
    while i < 32 {
        let n = i as u64;
        r.x[i] = if junk {
            0xdead_0000_0000_0000 | (n << 8) | n
        } else {
            0x0101_0101_0101_0101u64.wrapping_mul(n + 1) ^ 0x5a00_0000_0000_00a5 ^ (n << 40)
        };
        let v = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210u128
            ^ ((n as u128) * 0x0101_0101_0101_0101_0101_0101_0101_0101)
            ^ ((n as u128) << 120);
        r.v[i] = if junk { !v } else { v };
        i += 1;
    }
    r
}

static PAT: Regs = patterns(false);
static JUNK: Regs = patterns(true);

/// Written by the worker's asm, read by the main thread after join.
struct Shared(UnsafeCell<Regs>);
// SAFETY: written by the worker only, read by main only after joining it.
unsafe impl Sync for Shared {}
static SAVE: Shared = Shared(UnsafeCell::new(patterns(true)));

/// Set (to its own address) by the worker once the patterns are loaded.
static READY: AtomicU64 = AtomicU64::new(0);
/// Set by the handler; the worker's loop waits for it.
static FLAG: AtomicU64 = AtomicU64::new(0);

static WORKER_TID: AtomicI64 = AtomicI64::new(-1);
static HANDLER_RUNS: AtomicU32 = AtomicU32::new(0);
static HANDLER_SIG: AtomicI32 = AtomicI32::new(-1);
static HANDLER_TID: AtomicI64 = AtomicI64::new(-1);
static SI_SIGNO: AtomicI32 = AtomicI32::new(-1);
static SI_CODE: AtomicI32 = AtomicI32::new(-1);
static SI_PID: AtomicI32 = AtomicI32::new(-1);

/// What the handler found in the kernel's signal frame.
struct Frame {
    regs: [u64; 31],
    sp: u64,
    pc: u64,
    pstate: u64,
    fpsimd: bool,
    fpcr: u32,
    fpsr: u32,
    v: [u128; 32],
}

struct FrameCell(UnsafeCell<Frame>);
// SAFETY: written by the handler (on the worker), read by main after join.
unsafe impl Sync for FrameCell {}
static FRAME: FrameCell = FrameCell(UnsafeCell::new(Frame {
    regs: [0; 31],
    sp: 0,
    pc: 0,
    pstate: 0,
    fpsimd: false,
    fpcr: 0,
    fpsr: 0,
    v: [0; 32],
}));

unsafe extern "C" {
    /// Loads the patterns, spins until FLAG, stores everything to SAVE.
    fn __smp_regs_spin();
    /// The SIGUSR1 handler.
    safe fn __smp_handler(sig: i32, info: *mut SigInfo, uctx: *mut c_void);
    /// The spin loop's first instruction and the one after it.
    static __smp_spin_begin: u8;
    static __smp_spin_end: u8;
}

core::arch::global_asm!(
    ".pushsection .text.__smp_regs_spin, \"ax\", %progbits",
    ".global __smp_regs_spin",
    ".type __smp_regs_spin, %function",
    ".p2align 2",
    "__smp_regs_spin:",
    // Save what the AAPCS64 says a callee preserves (and x18, FPCR, FPSR).
    "    stp x29, x30, [sp, #-192]!",
    "    mov x29, sp",
    "    stp x18, x19, [sp, #16]",
    "    stp x20, x21, [sp, #32]",
    "    stp x22, x23, [sp, #48]",
    "    stp x24, x25, [sp, #64]",
    "    stp x26, x27, [sp, #80]",
    "    str x28, [sp, #96]",
    "    stp d8, d9, [sp, #112]",
    "    stp d10, d11, [sp, #128]",
    "    stp d12, d13, [sp, #144]",
    "    stp d14, d15, [sp, #160]",
    "    mrs x9, fpcr",
    "    mrs x10, fpsr",
    "    stp x9, x10, [sp, #176]",
    "    adrp x16, {save}",
    "    add x16, x16, :lo12:{save}",
    "    mov x9, sp",
    "    str x9, [x16, #792]",
    // Load the patterns: FPCR, NZCV, v0-v31, then x0-x30 but x16.
    "    adrp x16, {pat}",
    "    add x16, x16, :lo12:{pat}",
    "    ldr x9, [x16, #768]",
    "    msr fpcr, x9",
    "    ldr x9, [x16, #776]",
    "    msr nzcv, x9",
    "    ldr x9, [x16, #800]",
    "    msr fpsr, x9",
    "    ldp q0, q1, [x16, #256]",
    "    ldp q2, q3, [x16, #288]",
    "    ldp q4, q5, [x16, #320]",
    "    ldp q6, q7, [x16, #352]",
    "    ldp q8, q9, [x16, #384]",
    "    ldp q10, q11, [x16, #416]",
    "    ldp q12, q13, [x16, #448]",
    "    ldp q14, q15, [x16, #480]",
    "    ldp q16, q17, [x16, #512]",
    "    ldp q18, q19, [x16, #544]",
    "    ldp q20, q21, [x16, #576]",
    "    ldp q22, q23, [x16, #608]",
    "    ldp q24, q25, [x16, #640]",
    "    ldp q26, q27, [x16, #672]",
    "    ldp q28, q29, [x16, #704]",
    "    ldp q30, q31, [x16, #736]",
    "    ldp x0, x1, [x16, #0]",
    "    ldp x2, x3, [x16, #16]",
    "    ldp x4, x5, [x16, #32]",
    "    ldp x6, x7, [x16, #48]",
    "    ldp x8, x9, [x16, #64]",
    "    ldp x10, x11, [x16, #80]",
    "    ldp x12, x13, [x16, #96]",
    "    ldp x14, x15, [x16, #112]",
    "    ldr x17, [x16, #136]",
    "    ldp x18, x19, [x16, #144]",
    "    ldp x20, x21, [x16, #160]",
    "    ldp x22, x23, [x16, #176]",
    "    ldp x24, x25, [x16, #192]",
    "    ldp x26, x27, [x16, #208]",
    "    ldp x28, x29, [x16, #224]",
    "    ldr x30, [x16, #240]",
    // READY = its own address (nonzero), with x16 only.
    "    adrp x16, {ready}",
    "    add x16, x16, :lo12:{ready}",
    "    str x16, [x16]",
    ".global __smp_spin_begin",
    "__smp_spin_begin:",
    "    adrp x16, {flag}",
    "    ldr x16, [x16, :lo12:{flag}]",
    "    cbz x16, __smp_spin_begin",
    ".global __smp_spin_end",
    "__smp_spin_end:",
    // Store everything (x16 is the base).
    "    adrp x16, {save}",
    "    add x16, x16, :lo12:{save}",
    "    stp x0, x1, [x16, #0]",
    "    stp x2, x3, [x16, #16]",
    "    stp x4, x5, [x16, #32]",
    "    stp x6, x7, [x16, #48]",
    "    stp x8, x9, [x16, #64]",
    "    stp x10, x11, [x16, #80]",
    "    stp x12, x13, [x16, #96]",
    "    stp x14, x15, [x16, #112]",
    "    str x17, [x16, #136]",
    "    stp x18, x19, [x16, #144]",
    "    stp x20, x21, [x16, #160]",
    "    stp x22, x23, [x16, #176]",
    "    stp x24, x25, [x16, #192]",
    "    stp x26, x27, [x16, #208]",
    "    stp x28, x29, [x16, #224]",
    "    str x30, [x16, #240]",
    "    stp q0, q1, [x16, #256]",
    "    stp q2, q3, [x16, #288]",
    "    stp q4, q5, [x16, #320]",
    "    stp q6, q7, [x16, #352]",
    "    stp q8, q9, [x16, #384]",
    "    stp q10, q11, [x16, #416]",
    "    stp q12, q13, [x16, #448]",
    "    stp q14, q15, [x16, #480]",
    "    stp q16, q17, [x16, #512]",
    "    stp q18, q19, [x16, #544]",
    "    stp q20, q21, [x16, #576]",
    "    stp q22, q23, [x16, #608]",
    "    stp q24, q25, [x16, #640]",
    "    stp q26, q27, [x16, #672]",
    "    stp q28, q29, [x16, #704]",
    "    stp q30, q31, [x16, #736]",
    "    mrs x0, fpcr",
    "    str x0, [x16, #768]",
    "    mrs x0, nzcv",
    "    str x0, [x16, #776]",
    "    mov x0, sp",
    "    str x0, [x16, #784]",
    "    mrs x0, fpsr",
    "    str x0, [x16, #800]",
    // Restore the caller's registers.
    "    ldp x9, x10, [sp, #176]",
    "    msr fpcr, x9",
    "    msr fpsr, x10",
    "    ldp d8, d9, [sp, #112]",
    "    ldp d10, d11, [sp, #128]",
    "    ldp d12, d13, [sp, #144]",
    "    ldp d14, d15, [sp, #160]",
    "    ldp x18, x19, [sp, #16]",
    "    ldp x20, x21, [sp, #32]",
    "    ldp x22, x23, [sp, #48]",
    "    ldp x24, x25, [sp, #64]",
    "    ldp x26, x27, [sp, #80]",
    "    ldr x28, [sp, #96]",
    "    ldp x29, x30, [sp], #192",
    "    ret",
    ".size __smp_regs_spin, . - __smp_regs_spin",
    "",
    // The handler: record (Rust, AAPCS64), then, on the worker, junk in
    // every register but SP and x30 (the return address into the restorer).
    ".global __smp_handler",
    ".type __smp_handler, %function",
    ".p2align 2",
    "__smp_handler:",
    "    stp x29, x30, [sp, #-16]!",
    "    mov x29, sp",
    "    bl {record}",
    "    ldp x29, x30, [sp], #16",
    "    cbz x0, 1f",
    "    adrp x17, {junk}",
    "    add x17, x17, :lo12:{junk}",
    "    ldr x9, [x17, #768]",
    "    msr fpcr, x9",
    "    ldr x9, [x17, #776]",
    "    msr nzcv, x9",
    "    ldr x9, [x17, #800]",
    "    msr fpsr, x9",
    "    ldp q0, q1, [x17, #256]",
    "    ldp q2, q3, [x17, #288]",
    "    ldp q4, q5, [x17, #320]",
    "    ldp q6, q7, [x17, #352]",
    "    ldp q8, q9, [x17, #384]",
    "    ldp q10, q11, [x17, #416]",
    "    ldp q12, q13, [x17, #448]",
    "    ldp q14, q15, [x17, #480]",
    "    ldp q16, q17, [x17, #512]",
    "    ldp q18, q19, [x17, #544]",
    "    ldp q20, q21, [x17, #576]",
    "    ldp q22, q23, [x17, #608]",
    "    ldp q24, q25, [x17, #640]",
    "    ldp q26, q27, [x17, #672]",
    "    ldp q28, q29, [x17, #704]",
    "    ldp q30, q31, [x17, #736]",
    "    ldp x0, x1, [x17, #0]",
    "    ldp x2, x3, [x17, #16]",
    "    ldp x4, x5, [x17, #32]",
    "    ldp x6, x7, [x17, #48]",
    "    ldp x8, x9, [x17, #64]",
    "    ldp x10, x11, [x17, #80]",
    "    ldp x12, x13, [x17, #96]",
    "    ldp x14, x15, [x17, #112]",
    "    ldr x16, [x17, #128]",
    "    ldp x18, x19, [x17, #144]",
    "    ldp x20, x21, [x17, #160]",
    "    ldp x22, x23, [x17, #176]",
    "    ldp x24, x25, [x17, #192]",
    "    ldp x26, x27, [x17, #208]",
    "    ldp x28, x29, [x17, #224]",
    "    ldr x17, [x17, #136]",
    "1:  ret",
    ".size __smp_handler, . - __smp_handler",
    ".popsection",
    save = sym SAVE,
    pat = sym PAT,
    junk = sym JUNK,
    ready = sym READY,
    flag = sym FLAG,
    record = sym record,
);

/// The handler's Rust part: records the arguments and the frame, sets the
/// flag; returns 1 when running on the worker (then the asm clobbers every
/// register), 0 otherwise (wrong thread: return cleanly, do not break the
/// interrupted code's ABI).
extern "C" fn record(sig: i32, info: *mut SigInfo, uctx: *mut c_void) -> u64 {
    HANDLER_SIG.store(sig, Ordering::SeqCst);
    // SAFETY: the kernel passes a valid siginfo (SA_SIGINFO) or NULL.
    if let Some(info) = unsafe { info.as_ref() } {
        SI_SIGNO.store(info.si_signo, Ordering::SeqCst);
        SI_CODE.store(info.si_code, Ordering::SeqCst);
        SI_PID.store(info.si_pid(), Ordering::SeqCst);
    }
    // SAFETY: the kernel passes a valid ucontext (SA_SIGINFO) or NULL; the
    // frame is written only here and read by main after the worker ended.
    unsafe {
        if let Some(uc) = (uctx as *const UContext).as_ref() {
            let f = &mut *FRAME.0.get();
            let mc = &uc.uc_mcontext;
            f.regs = mc.regs;
            f.sp = mc.sp;
            f.pc = mc.pc;
            f.pstate = mc.pstate;
            if let Some(fp) = mc.fpsimd() {
                f.fpsimd = true;
                f.fpcr = fp.fpcr;
                f.fpsr = fp.fpsr;
                f.v = fp.vregs;
            }
        }
    }
    let tid = sys::gettid();
    HANDLER_TID.store(tid, Ordering::SeqCst);
    HANDLER_RUNS.fetch_add(1, Ordering::SeqCst);
    FLAG.store(1, Ordering::SeqCst);
    u64::from(tid == WORKER_TID.load(Ordering::SeqCst))
}

static TPIDR_BEFORE: AtomicU64 = AtomicU64::new(0);
static TPIDR_AFTER: AtomicU64 = AtomicU64::new(1);

fn worker(_: usize) -> i32 {
    WORKER_TID.store(sys::gettid(), Ordering::SeqCst);
    TPIDR_BEFORE.store(thread::tpidr(), Ordering::SeqCst);
    // SAFETY: a self-contained AAPCS64 function: it preserves x18-x30,
    // d8-d15, SP, FPCR and FPSR, and writes only the statics SAVE and READY.
    unsafe { __smp_regs_spin() };
    // TPIDR_EL0 is not in the signal frame: it must simply be left alone.
    TPIDR_AFTER.store(thread::tpidr(), Ordering::SeqCst);
    0
}

pub fn run() -> i32 {
    println!(
        "smp: signal-regs: a thread spins with patterns in x0-x30 (not x16), v0-v31, FPCR, FPSR, NZCV; main tgkills it with SIGUSR1, whose handler clobbers them all"
    );
    let fail_all = |why: core::fmt::Arguments| {
        for name in ["signal-regs", "signal-info", "signal-tid", "signal-frame"] {
            check(name, false, why);
        }
        1
    };
    if let Err(e) = signal::sigaction(signal::SIGUSR1, __smp_handler, 0) {
        return fail_all(format_args!("rt_sigaction: {e}"));
    }
    let h = match thread::spawn(worker, 0) {
        Ok(h) => h,
        Err(e) => return fail_all(format_args!("spawn: {e}")),
    };
    let worker_tid = h.tid();
    if !wait_for(2 * SEC, || READY.load(Ordering::SeqCst) != 0) {
        return fail_all(format_args!("worker never started spinning"));
    }
    // A short delay, so the worker is well inside its loop.
    sched::sleep_ns(10 * MS);
    let sent = signal::tgkill(sys::getpid(), worker_tid, signal::SIGUSR1);
    if h.try_join(2 * SEC).is_err() {
        // Returning ends the process (exit_group) with the worker spinning.
        return fail_all(format_args!(
            "tgkill = {sent:?}; worker still spinning 2 s later (handler runs: {})",
            HANDLER_RUNS.load(Ordering::SeqCst)
        ));
    }

    // SAFETY: the worker has exited; nothing writes these any more.
    let (save, frame) = unsafe { (&*SAVE.0.get(), &*FRAME.0.get()) };
    let handler_tid = HANDLER_TID.load(Ordering::SeqCst);
    let on_worker = handler_tid == worker_tid;
    let runs = HANDLER_RUNS.load(Ordering::SeqCst);
    let tpidr_before = TPIDR_BEFORE.load(Ordering::SeqCst);
    let tpidr_after = TPIDR_AFTER.load(Ordering::SeqCst);

    let mut ok = true;
    let bad_x = (0..31).find(|&i| i != SCRATCH && save.x[i] != PAT.x[i]);
    let bad_v = (0..32).find(|&i| save.v[i] != PAT.v[i]);
    let regs_ok = on_worker
        && runs == 1
        && bad_x.is_none()
        && bad_v.is_none()
        && save.fpcr == FPCR_PATTERN
        && save.fpsr == FPSR_PATTERN
        && save.nzcv == NZCV_PATTERN
        && tpidr_after == tpidr_before
        && save.sp == save.sp_before;
    ok &= check(
        "signal-regs",
        regs_ok,
        format_args!(
            "handler on worker {on_worker}, runs {runs}; {}{}fpcr {:#x} (want {FPCR_PATTERN:#x}) fpsr {:#x} (want {FPSR_PATTERN:#x}) nzcv {:#x} (want {NZCV_PATTERN:#x}) sp {:#x} (want {:#x}) tpidr {tpidr_before:#x} -> {tpidr_after:#x}",
            Mismatch("x", bad_x, |i| save.x[i] as u128, |i| PAT.x[i] as u128),
            Mismatch("v", bad_v, |i| save.v[i], |i| PAT.v[i]),
            save.fpcr,
            save.fpsr,
            save.nzcv,
            save.sp,
            save.sp_before
        ),
    );

    let (sig, signo) = (
        HANDLER_SIG.load(Ordering::SeqCst),
        SI_SIGNO.load(Ordering::SeqCst),
    );
    let (code, pid) = (
        SI_CODE.load(Ordering::SeqCst),
        SI_PID.load(Ordering::SeqCst),
    );
    println!(
        "smp: handler: sig={sig} si_signo={signo} si_code={code} (SI_TKILL = {}) si_pid={pid} (pid {}) tid={handler_tid}",
        signal::SI_TKILL,
        sys::getpid()
    );
    ok &= check(
        "signal-info",
        sig == signal::SIGUSR1 && signo == signal::SIGUSR1,
        format_args!("sig {sig}, si_signo {signo}, want 10"),
    );
    ok &= check(
        "signal-tid",
        on_worker,
        format_args!("handler ran on tid {handler_tid}, worker is {worker_tid}"),
    );

    let (begin, end) = (
        &raw const __smp_spin_begin as u64,
        &raw const __smp_spin_end as u64,
    );
    let bad_fx = (0..31).find(|&i| i != SCRATCH && frame.regs[i] != PAT.x[i]);
    let bad_fv = (0..32).find(|&i| frame.v[i] != PAT.v[i]);
    println!(
        "smp: frame: pc={:#x} (loop {begin:#x}..{end:#x}) sp={:#x} pstate={:#x} fpsimd={} fpcr={:#x} fpsr={:#x}",
        frame.pc, frame.sp, frame.pstate, frame.fpsimd, frame.fpcr, frame.fpsr
    );
    ok &= check(
        "signal-frame",
        on_worker
            && (begin..end).contains(&frame.pc)
            && frame.sp == save.sp_before
            && frame.pstate & 0xf000_0000 == NZCV_PATTERN
            && bad_fx.is_none()
            && frame.fpsimd
            && bad_fv.is_none()
            && frame.fpcr as u64 == FPCR_PATTERN
            && frame.fpsr as u64 == FPSR_PATTERN,
        format_args!(
            "ucontext: {}{}pc {:#x} in loop {}, sp {:#x} (want {:#x}), pstate {:#x}, fpsimd record {}, fpcr {:#x}, fpsr {:#x}",
            Mismatch("x", bad_fx, |i| frame.regs[i] as u128, |i| PAT.x[i] as u128),
            Mismatch("v", bad_fv, |i| frame.v[i], |i| PAT.v[i]),
            frame.pc,
            (begin..end).contains(&frame.pc),
            frame.sp,
            save.sp_before,
            frame.pstate,
            frame.fpsimd,
            frame.fpcr,
            frame.fpsr
        ),
    );
    if ok { 0 } else { 1 }
}

/// Formats the first mismatching register, if any: "x3 = .. want ..; ".
struct Mismatch<G: Fn(usize) -> u128, W: Fn(usize) -> u128>(&'static str, Option<usize>, G, W);

impl<G: Fn(usize) -> u128, W: Fn(usize) -> u128> core::fmt::Display for Mismatch<G, W> {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        match self.1 {
            None => Ok(()),
            Some(i) => write!(
                f,
                "{}{i} = {:#x}, want {:#x}; ",
                self.0,
                (self.2)(i),
                (self.3)(i)
            ),
        }
    }
}
