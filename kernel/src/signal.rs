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

use abi::signal::{
    FpsimdContext, FrameRecord, NSIG, RtSigframe, SA_NODEFER, SA_RESETHAND, SA_RESTORER, SI_TKILL,
    SI_USER, SIG_BLOCK, SIG_DFL, SIG_IGN, SIG_SETMASK, SIG_UNBLOCK, SigInfo as UserSigInfo,
    SignalFrame,
};

/// SIGKILL: cannot be caught or blocked.
pub const SIGKILL: u32 = abi::signal::SIGKILL as u32;
/// SIGSTOP: cannot be caught or blocked (stopping is not supported: fatal).
pub const SIGSTOP: u32 = abi::signal::SIGSTOP as u32;

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

/// The kernel `struct sigaction` on arm64: handler (or SIG_DFL/SIG_IGN),
/// SA_* flags, restorer, and the signals blocked while the handler runs.
use abi::signal::KSigaction as SigAction;

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
    use abi::signal::{SIGCHLD, SIGCONT, SIGURG, SIGWINCH};
    [SIGCHLD, SIGCONT, SIGURG, SIGWINCH].contains(&(sig as i32))
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

/// Builds the signal frame on the user stack and points the thread at the handler.
fn setup_rt_frame(
    task: &Task,
    sig: u32,
    info: &KSigInfo,
    action: &SigAction,
    tf: &mut TrapFrame,
) -> Result<(), ()> {
    let sp = (tf.sp.wrapping_sub(size_of::<SignalFrame>() as u64)) & !15;
    // On the kernel stack (32 KiB): nothing to allocate, nothing to fail.
    let mut f = SignalFrame::ZERO;
    f.frame.info = if info.fault.is_some() {
        UserSigInfo::from_fault(sig as i32, info.code, info.addr)
    } else {
        UserSigInfo::from_process(sig as i32, info.code, info.pid)
    };
    f.frame.uc.uc_sigmask = task.sig.lock().blocked;
    let mc = &mut f.frame.uc.uc_mcontext;
    mc.fault_address = info.addr;
    mc.regs = tf.regs;
    mc.sp = tf.sp;
    mc.pc = tf.pc;
    mc.pstate = tf.pstate;
    // The FP/SIMD registers are live: the kernel never touches them.
    let mut fp = FpState::default();
    arch::context::fpsimd_save(&mut fp);
    mc.set_fpsimd(&FpsimdContext::new(
        fp.fpsr as u32,
        fp.fpcr as u32,
        fp.vregs,
    ));
    f.record = FrameRecord {
        fp: tf.regs[29],
        lr: tf.pc,
    };
    uaccess::put_user(sp, f).map_err(|_| ())?;

    tf.regs[0] = sig as u64;
    tf.regs[1] = sp;
    tf.regs[2] = sp + core::mem::offset_of!(RtSigframe, uc) as u64;
    tf.regs[29] = sp + core::mem::offset_of!(SignalFrame, record) as u64;
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
    let frame = uaccess::get_user::<RtSigframe>(tf.sp).ok();
    let fpsimd = frame.as_ref().and_then(|f| f.uc.uc_mcontext.fpsimd());
    let (frame, fpsimd) = match (frame, fpsimd) {
        // Only EL0t AArch64 with the flags the app may set (Linux's
        // valid_user_regs).
        (Some(f), Some(fp)) if f.uc.uc_mcontext.pstate & 0x1f == 0 => (f, fp),
        (_, fp) => {
            // Linux answers a bad frame with SIGSEGV too (force_sig); no
            // fault ESR describes it, so the report says which check failed.
            let why = if fp.is_none() {
                "unreadable signal frame or bad FP/SIMD record"
            } else {
                "signal frame returns to a mode other than EL0t"
            };
            fatal_report(
                task,
                Signal::SIGSEGV,
                &format_args!("rt_sigreturn: {why} at sp={:#x} (pc={:#x})", tf.sp, tf.pc),
            )
        }
    };
    let mc = &frame.uc.uc_mcontext;
    tf.regs = mc.regs;
    tf.sp = mc.sp;
    tf.pc = mc.pc;
    tf.pstate = mc.pstate & 0xf000_0000; // NZCV only
    arch::context::fpsimd_load(&FpState {
        vregs: fpsimd.vregs,
        fpsr: u64::from(fpsimd.fpsr),
        fpcr: u64::from(fpsimd.fpcr),
    });
    task.sig.lock().blocked = frame.uc.uc_sigmask & !(bit(SIGKILL) | bit(SIGSTOP));
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
            SIG_BLOCK => old | s,
            SIG_UNBLOCK => old & !s,
            SIG_SETMASK => s,
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
