//! Signals: actions, masks, kill/tgkill, delivery with Linux's arm64 signal
//! frame, rt_sigreturn, and the default actions (fatal signals end the app
//! with a report). Delivery happens in the exit loop on TIF_SIGPENDING
//! (`do_signal`), the point where rseq hooks in.

use crate::fault::Signal;
use crate::sync::SpinLock;
use crate::task::{Task, TaskState, WakeReason, current};
use abi::errno::*;
use arch::TrapFrame;
use arch::context::FpState;
use arch::esr::Esr;
use arch::uaccess;
use entry::tif::TIF_SIGPENDING;

/// Number of signals (1..=64).
pub const NSIG: usize = 64;
/// SIGKILL: cannot be caught or blocked.
pub const SIGKILL: u32 = 9;
/// SIGSTOP: cannot be caught or blocked (stopping is not supported: fatal).
pub const SIGSTOP: u32 = 19;
const SIG_DFL: u64 = 0;
const SIG_IGN: u64 = 1;
/// `sa_flags` bits.
const SA_NODEFER: u64 = 0x4000_0000;
const SA_RESETHAND: u64 = 0x8000_0000;
const SA_RESTORER: u64 = 0x0400_0000;
/// `si_code` values.
const SI_USER: i32 = 0;
const SI_TKILL: i32 = -6;

/// A fault's registers, for the kill report.
#[derive(Clone, Copy, Debug)]
pub struct FaultReport {
    /// ESR_EL1 of the fault.
    pub esr: Esr,
    /// FAR_EL1 (the faulting data address, or the PC for instruction aborts).
    pub far: u64,
    /// ELR_EL1: the faulting instruction.
    pub elr: u64,
}

/// What a queued signal carries (the `siginfo` we fill, plus the report).
#[derive(Clone, Copy, Debug, Default)]
pub struct KSigInfo {
    /// `si_code`.
    pub code: i32,
    /// `si_pid` of the sender (kill/tgkill).
    pub pid: i32,
    /// `si_addr` (faults).
    pub addr: u64,
    /// Set when raised by a fault: the signal is forced (unblocked, default
    /// if ignored) and its report printed if fatal.
    pub fault: Option<FaultReport>,
}

/// A fault-raised signal (what traps.rs reports).
#[derive(Clone, Copy, Debug)]
pub struct SigInfo {
    /// The signal.
    pub signal: Signal,
    /// ESR_EL1 of the fault.
    pub esr: Esr,
    /// FAR_EL1.
    pub far: u64,
    /// ELR_EL1.
    pub elr: u64,
}

/// Per-thread signal state.
#[derive(Clone, Copy, Debug)]
pub struct SigState {
    /// Blocked signals (bit n-1 = signal n).
    pub blocked: u64,
    /// Pending signals.
    pub pending: u64,
    /// Their info.
    pub info: [KSigInfo; NSIG],
}

impl Default for SigState {
    fn default() -> Self {
        SigState {
            blocked: 0,
            pending: 0,
            info: [KSigInfo::default(); NSIG],
        }
    }
}

/// The kernel `struct sigaction` on arm64.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct SigAction {
    /// Handler address, SIG_DFL (0) or SIG_IGN (1).
    pub handler: u64,
    /// SA_* flags.
    pub flags: u64,
    /// Return trampoline when SA_RESTORER.
    pub restorer: u64,
    /// Signals blocked while the handler runs.
    pub mask: u64,
}

/// The app's signal actions (shared by all threads: CLONE_SIGHAND).
static ACTIONS: SpinLock<[SigAction; NSIG]> = SpinLock::new(
    [SigAction {
        handler: 0,
        flags: 0,
        restorer: 0,
        mask: 0,
    }; NSIG],
);

fn bit(sig: u32) -> u64 {
    1 << (sig - 1)
}

/// Signals whose default action is to do nothing.
fn default_ignored(sig: u32) -> bool {
    matches!(sig, 17 | 18 | 23 | 28) // SIGCHLD, SIGCONT, SIGURG, SIGWINCH
}

/// Queues `sig` for `task` and makes it notice (Linux's `signal_wake_up`):
/// a blocked task is woken, a running one kicked into its exit path.
pub fn send_signal(task: &'static Task, sig: u32, info: KSigInfo) {
    {
        let mut st = task.sig.lock();
        st.pending |= bit(sig);
        st.info[sig as usize - 1] = info;
        if st.blocked & bit(sig) != 0 && info.fault.is_none() {
            return; // stays pending until unblocked
        }
    }
    task.flags.set(TIF_SIGPENDING);
    if !crate::sched::wake_up(task, WakeReason::Signal) && task.state() == TaskState::Running {
        let cpu = task.cpu.load(core::sync::atomic::Ordering::Relaxed);
        if cpu != arch::cpu::cpu_id() {
            crate::smp::send_reschedule(cpu);
        }
    }
}

/// Linux's `force_sig_fault()`: a fault in `task` raises `info.signal`.
pub fn force_sig_fault(task: &'static Task, info: SigInfo) {
    let report = FaultReport {
        esr: info.esr,
        far: info.far,
        elr: info.elr,
    };
    let code = if info.esr.class().is_abort() && (info.esr.abort_fsc() & 0x3c) == 0x0c {
        2
    } else {
        1
    };
    let k = KSigInfo {
        code,
        pid: 0,
        addr: info.far,
        fault: Some(report),
    };
    send_signal(task, info.signal.0 as u32, k);
}

/// Dequeues the lowest pending deliverable signal of the current thread.
fn dequeue(task: &Task) -> Option<(u32, KSigInfo)> {
    let mut st = task.sig.lock();
    let forced = (0..NSIG as u32)
        .map(|i| i + 1)
        .find(|&s| st.pending & bit(s) != 0 && st.info[s as usize - 1].fault.is_some());
    let deliverable = st.pending & !st.blocked;
    let sig = forced.or_else(|| (deliverable != 0).then(|| deliverable.trailing_zeros() + 1))?;
    st.pending &= !bit(sig);
    Some((sig, st.info[sig as usize - 1]))
}

/// Recomputes TIF_SIGPENDING from the pending and blocked sets.
fn recalc_sigpending(task: &Task) {
    let st = task.sig.lock();
    if st.pending & !st.blocked != 0 {
        task.flags.set(TIF_SIGPENDING);
    } else {
        task.flags.clear(TIF_SIGPENDING);
    }
}

/// `arch_do_signal_or_restart()`: delivers one pending signal, by default
/// action or by building a frame for its handler.
pub fn do_signal(task: &'static Task, tf: &mut TrapFrame) {
    task.flags.clear(TIF_SIGPENDING);
    while let Some((sig, info)) = dequeue(task) {
        let mut action = ACTIONS.lock()[sig as usize - 1];
        if info.fault.is_some()
            && (action.handler == SIG_IGN || task.sig.lock().blocked & bit(sig) != 0)
        {
            // A fault cannot be ignored or blocked: Linux resets it to default.
            action.handler = SIG_DFL;
        }
        match action.handler {
            SIG_IGN => continue,
            SIG_DFL if default_ignored(sig) => continue,
            SIG_DFL => fatal(task, sig, &info),
            _ => {
                // rseq first: an interrupted critical section is aborted so
                // the frame records its abort address (rseq_signal_deliver).
                crate::rseq_hooks::signal_deliver(task, tf);
                if setup_rt_frame(task, sig, &info, &action, tf).is_err() {
                    // The frame could not be written: Linux's force_sigsegv().
                    // No fault ESR describes this: the report says what.
                    fatal_report(
                        task,
                        Signal::SIGSEGV,
                        &format_args!(
                            "cannot write the signal frame for signal {} below sp={:#x} (pc={:#x})",
                            Signal(sig as u8).name(),
                            tf.sp,
                            tf.pc
                        ),
                    );
                }
                if action.flags & SA_RESETHAND != 0 {
                    ACTIONS.lock()[sig as usize - 1].handler = SIG_DFL;
                }
                let mut st = task.sig.lock();
                st.blocked |= action.mask & !(bit(SIGKILL) | bit(SIGSTOP));
                if action.flags & SA_NODEFER == 0 {
                    st.blocked |= bit(sig);
                }
                drop(st);
                break;
            }
        }
    }
    recalc_sigpending(task);
}

/// Ends the app for a reason the kernel found (not a fault): a `[kill]`
/// report with that reason, status 128 + signal.
pub fn fatal_report(task: &Task, sig: Signal, why: &dyn core::fmt::Display) -> ! {
    crate::power::begin_shutdown();
    println!(
        "[kill] app={} tid={} signal={} what=\"{}\"",
        crate::exec::APP_NAME,
        task.tid(),
        sig.name(),
        why
    );
    crate::power::shutdown(128 + sig.0 as u32)
}

/// The default action of a fatal signal: the app ends with a report.
fn fatal(task: &Task, sig: u32, info: &KSigInfo) -> ! {
    crate::power::begin_shutdown();
    let name = Signal(sig as u8).name();
    match info.fault {
        Some(f) => println!(
            "[kill] app={} tid={} signal={} esr={:#x} ec={:#04x} far={:#x} elr={:#x} what=\"{}\"",
            crate::exec::APP_NAME,
            task.tid(),
            name,
            f.esr.0,
            f.esr.ec(),
            f.far,
            f.elr,
            f.esr
        ),
        None => println!(
            "[kill] app={} tid={} signal={} sig={} what=\"signal from pid {} (code {})\"",
            crate::exec::APP_NAME,
            task.tid(),
            name,
            sig,
            info.pid,
            info.code
        ),
    }
    crate::power::shutdown(128 + sig)
}

// Linux's arm64 `struct rt_sigframe` layout (arch/arm64/kernel/signal.c):
// siginfo (128) then ucontext: uc_flags, uc_link, uc_stack (24), uc_sigmask
// (8, padded to 128), then uc_mcontext (16-aligned, at 176): fault_address,
// regs[31], sp, pc, pstate, then __reserved[4096] (16-aligned, at 464)
// holding an fpsimd_context and a terminator.
const SIGINFO_SIZE: usize = 128;
const UC: usize = SIGINFO_SIZE;
const UC_SIGMASK: usize = UC + 40;
const MC: usize = UC + 176;
const MC_FAULT_ADDRESS: usize = MC;
const MC_REGS: usize = MC + 8;
const MC_SP: usize = MC + 8 + 31 * 8;
const MC_PC: usize = MC_SP + 8;
const MC_PSTATE: usize = MC_PC + 8;
const MC_RESERVED: usize = MC + 288;
const FPSIMD_MAGIC: u32 = 0x4650_8001;
const FPSIMD_SIZE: usize = 528;
/// Size of the frame proper; a frame record (fp, lr) follows it.
const FRAME_SIZE: usize = MC_RESERVED + 4096;
const FRAME_TOTAL: usize = FRAME_SIZE + 16;

fn put(buf: &mut [u8], off: usize, val: u64) {
    buf[off..off + 8].copy_from_slice(&val.to_le_bytes());
}
fn put32(buf: &mut [u8], off: usize, val: u32) {
    buf[off..off + 4].copy_from_slice(&val.to_le_bytes());
}
fn get(buf: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(buf[off..off + 8].try_into().unwrap())
}
fn get32(buf: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(buf[off..off + 4].try_into().unwrap())
}

/// Builds the signal frame on the user stack and points the thread at the handler.
fn setup_rt_frame(
    task: &Task,
    sig: u32,
    info: &KSigInfo,
    action: &SigAction,
    tf: &mut TrapFrame,
) -> Result<(), ()> {
    let sp = (tf.sp.wrapping_sub(FRAME_TOTAL as u64)) & !15;
    // On the kernel stack (32 KiB): nothing to allocate, nothing to fail.
    let mut buf = [0u8; FRAME_TOTAL];
    put32(&mut buf, 0, sig);
    put32(&mut buf, 8, info.code as u32);
    if info.fault.is_some() {
        put(&mut buf, 16, info.addr);
    } else {
        put32(&mut buf, 16, info.pid as u32);
    }
    put(&mut buf, UC_SIGMASK, task.sig.lock().blocked);
    put(&mut buf, MC_FAULT_ADDRESS, info.addr);
    for (i, r) in tf.regs.iter().enumerate() {
        put(&mut buf, MC_REGS + 8 * i, *r);
    }
    put(&mut buf, MC_SP, tf.sp);
    put(&mut buf, MC_PC, tf.pc);
    put(&mut buf, MC_PSTATE, tf.pstate);
    // The FP/SIMD registers are live: the kernel never touches them.
    let mut fp = FpState::default();
    arch::context::fpsimd_save(&mut fp);
    put32(&mut buf, MC_RESERVED, FPSIMD_MAGIC);
    put32(&mut buf, MC_RESERVED + 4, FPSIMD_SIZE as u32);
    put32(&mut buf, MC_RESERVED + 8, fp.fpsr as u32);
    put32(&mut buf, MC_RESERVED + 12, fp.fpcr as u32);
    for (i, v) in fp.vregs.iter().enumerate() {
        let off = MC_RESERVED + 16 + 16 * i;
        buf[off..off + 16].copy_from_slice(&v.to_le_bytes());
    }
    // (Terminator: the zero header that follows is already zero.)
    put(&mut buf, FRAME_SIZE, tf.regs[29]);
    put(&mut buf, FRAME_SIZE + 8, tf.pc);
    uaccess::copy_to_user(sp, &buf).map_err(|_| ())?;

    tf.regs[0] = sig as u64;
    tf.regs[1] = sp;
    tf.regs[2] = sp + UC as u64;
    tf.regs[29] = sp + FRAME_SIZE as u64;
    tf.regs[30] = if action.flags & SA_RESTORER != 0 {
        action.restorer
    } else {
        crate::mm::SIGPAGE
    };
    tf.sp = sp;
    tf.pc = action.handler;
    Ok(())
}

/// rt_sigreturn(): restores what `setup_rt_frame` saved. Returns x0 as it was.
pub fn sys_rt_sigreturn(tf: &mut TrapFrame) -> i64 {
    let task = current();
    let mut buf = [0u8; FRAME_SIZE];
    let ok = uaccess::copy_from_user(&mut buf, tf.sp).is_ok()
        && get32(&buf, MC_RESERVED) == FPSIMD_MAGIC
        && get32(&buf, MC_RESERVED + 4) as usize == FPSIMD_SIZE;
    let pstate = get(&buf, MC_PSTATE);
    // Only EL0t AArch64 with the flags the app may set (Linux's valid_user_regs).
    if !ok || pstate & 0x1f != 0 {
        // Linux answers a bad frame with SIGSEGV too (force_sig); no fault
        // ESR describes it, so the report says which check failed.
        let why = if !ok {
            "unreadable signal frame or bad FP/SIMD record"
        } else {
            "signal frame returns to a mode other than EL0t"
        };
        fatal_report(
            task,
            Signal::SIGSEGV,
            &format_args!("rt_sigreturn: {why} at sp={:#x} (pc={:#x})", tf.sp, tf.pc),
        );
    }
    for i in 0..31 {
        tf.regs[i] = get(&buf, MC_REGS + 8 * i);
    }
    tf.sp = get(&buf, MC_SP);
    tf.pc = get(&buf, MC_PC);
    tf.pstate = pstate & 0xf000_0000; // NZCV only
    let mut fp = FpState {
        fpsr: get32(&buf, MC_RESERVED + 8) as u64,
        fpcr: get32(&buf, MC_RESERVED + 12) as u64,
        ..Default::default()
    };
    for (i, v) in fp.vregs.iter_mut().enumerate() {
        let off = MC_RESERVED + 16 + 16 * i;
        *v = u128::from_le_bytes(buf[off..off + 16].try_into().unwrap());
    }
    arch::context::fpsimd_load(&fp);
    task.sig.lock().blocked = get(&buf, UC_SIGMASK) & !(bit(SIGKILL) | bit(SIGSTOP));
    recalc_sigpending(task);
    tf.regs[0] as i64
}

/// rt_sigaction(sig, act, oact, sigsetsize).
pub fn sys_rt_sigaction(sig: u64, act: u64, oact: u64, sigsetsize: u64) -> i64 {
    if sigsetsize != 8 || sig == 0 || sig > NSIG as u64 {
        return -EINVAL;
    }
    let sig = sig as u32;
    let new = if act != 0 {
        if sig == SIGKILL || sig == SIGSTOP {
            return -EINVAL;
        }
        match uaccess::get_user::<SigAction>(act) {
            Ok(a) => Some(a),
            Err(_) => return -EFAULT,
        }
    } else {
        None
    };
    let old = {
        let mut actions = ACTIONS.lock();
        let old = actions[sig as usize - 1];
        if let Some(mut a) = new {
            a.mask &= !(bit(SIGKILL) | bit(SIGSTOP));
            actions[sig as usize - 1] = a;
        }
        old
    };
    if oact != 0 && uaccess::put_user(oact, old).is_err() {
        return -EFAULT;
    }
    0
}

/// rt_sigprocmask(how, set, oset, sigsetsize).
pub fn sys_rt_sigprocmask(how: u64, set: u64, oset: u64, sigsetsize: u64) -> i64 {
    if sigsetsize != 8 {
        return -EINVAL;
    }
    let task = current();
    let new = if set != 0 {
        match uaccess::get_user::<u64>(set) {
            Ok(s) => Some(s),
            Err(_) => return -EFAULT,
        }
    } else {
        None
    };
    let old = task.sig.lock().blocked;
    if let Some(s) = new {
        let blocked = match how {
            0 => old | s,
            1 => old & !s,
            2 => s,
            _ => return -EINVAL,
        };
        task.sig.lock().blocked = blocked & !(bit(SIGKILL) | bit(SIGSTOP));
        recalc_sigpending(task);
    }
    if oset != 0 && uaccess::put_user(oset, old).is_err() {
        return -EFAULT;
    }
    0
}

fn valid_sig(sig: u64) -> Result<Option<u32>, i64> {
    match sig {
        0 => Ok(None),
        1..=64 => Ok(Some(sig as u32)),
        _ => Err(-EINVAL),
    }
}

/// kill(pid, sig): the app is process 1 (pid 0 and -1 also mean it).
pub fn sys_kill(pid: i64, sig: u64) -> i64 {
    let sig = match valid_sig(sig) {
        Ok(s) => s,
        Err(e) => return e,
    };
    if !matches!(pid, -1..=1) {
        return -ESRCH;
    }
    let Some(sig) = sig else { return 0 };
    // A process-directed signal goes to a thread that does not block it:
    // the caller if possible, else the first such thread, else the caller.
    let me = current();
    let target = if me.sig.lock().blocked & bit(sig) == 0 {
        me
    } else {
        crate::task::find_thread(|t| {
            t.state() != TaskState::Dead && t.sig.lock().blocked & bit(sig) == 0
        })
        .unwrap_or(me)
    };
    send_signal(
        target,
        sig,
        KSigInfo {
            code: SI_USER,
            pid: 1,
            ..Default::default()
        },
    );
    0
}

/// tgkill(tgid, tid, sig).
pub fn sys_tgkill(tgid: i64, tid: i64, sig: u64) -> i64 {
    let sig = match valid_sig(sig) {
        Ok(s) => s,
        Err(e) => return e,
    };
    if tgid <= 0 || tid <= 0 {
        return -EINVAL;
    }
    if tgid != 1 {
        return -ESRCH;
    }
    let Some(task) = crate::task::find(tid as u32).filter(|t| t.state() != TaskState::Dead) else {
        return -ESRCH;
    };
    if let Some(sig) = sig {
        send_signal(
            task,
            sig,
            KSigInfo {
                code: SI_TKILL,
                pid: 1,
                ..Default::default()
            },
        );
    }
    0
}
