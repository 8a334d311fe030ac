//! Queueing signals: the app's actions, sending (kill, faults), and the
//! pending set a thread dequeues on its way out to EL0.

use super::state::{FaultReport, KSigInfo, bit};
use crate::entry::fault::Signal;
use crate::sched::task::{Task, TaskState, WakeReason};
use crate::sync::SpinLock;
use abi::signal::{NSIG, SIG_DFL, SIG_IGN};
use arch::esr::Esr;
use entry::tif::TIF_SIGPENDING;

/// A fault-raised signal (what `entry::traps` reports).
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
    /// A valid fault that found no frame (the signal is then SIGKILL).
    pub out_of_memory: bool,
}

/// The kernel `struct sigaction` on arm64: handler (or SIG_DFL/SIG_IGN),
/// SA_* flags, restorer, and the signals blocked while the handler runs.
pub use abi::signal::KSigaction as SigAction;

/// The app's signal actions (shared by all threads: CLONE_SIGHAND).
pub static ACTIONS: SpinLock<[SigAction; NSIG]> = SpinLock::new(
    [SigAction {
        handler: 0,
        flags: 0,
        restorer: 0,
        mask: 0,
    }; NSIG],
);

/// Signals whose default action is to do nothing.
pub fn default_ignored(sig: u32) -> bool {
    use abi::signal::{SIGCHLD, SIGCONT, SIGURG, SIGWINCH};
    [SIGCHLD, SIGCONT, SIGURG, SIGWINCH].contains(&(sig as i32))
}

/// Linux's `sig_handler_ignored()`: the action does nothing for `sig`.
pub fn handler_ignored(action: &SigAction, sig: u32) -> bool {
    action.handler == SIG_IGN || (action.handler == SIG_DFL && default_ignored(sig))
}

/// Queues `sig` for `task` and makes it notice (Linux's `signal_wake_up`):
/// a blocked task is woken, a running one kicked into its exit path. A
/// signal the app ignores and `task` does not block is dropped here, as
/// Linux's `sig_ignored()` drops it: it never interrupts a sleep. (A
/// blocked one is kept: the action may change before it is unblocked.)
/// The actions' lock is held across the check and the queueing, as
/// Linux's `siglock`, so a concurrent `rt_sigaction` sees the signal
/// queued or never sent.
pub fn send_signal(task: &'static Task, sig: u32, info: KSigInfo) {
    {
        let actions = ACTIONS.lock();
        let mut st = task.sig.lock();
        if info.fault.is_none()
            && st.blocked & bit(sig) == 0
            && handler_ignored(&actions[sig as usize - 1], sig)
        {
            return;
        }
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
            crate::sched::ipi::send_reschedule(cpu);
        }
    }
}

/// Linux's `force_sig_fault()`: a fault in `task` raises `info.signal`.
pub fn force_sig_fault(task: &'static Task, info: SigInfo) {
    let report = FaultReport {
        esr: info.esr,
        far: info.far,
        elr: info.elr,
        out_of_memory: info.out_of_memory,
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
pub fn dequeue(task: &Task) -> Option<(u32, KSigInfo)> {
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
pub fn recalc_sigpending(task: &Task) {
    let st = task.sig.lock();
    if st.pending & !st.blocked != 0 {
        task.flags.set(TIF_SIGPENDING);
    } else {
        task.flags.clear(TIF_SIGPENDING);
    }
}
