//! Signals, for now only those raised by faults, whose default action is to
//! end the app (the signals issue adds handlers, masks and kill/tgkill).
//! Delivery happens in the exit loop on TIF_SIGPENDING, where rseq will hook in.

use crate::fault::Signal;
use crate::task::Task;
use arch::TrapFrame;
use arch::esr::Esr;
use entry::tif::TIF_SIGPENDING;

/// What a fault-raised signal carries (Linux's `siginfo` plus the report).
#[derive(Clone, Copy, Debug)]
pub struct SigInfo {
    /// The signal.
    pub signal: Signal,
    /// ESR_EL1 of the fault.
    pub esr: Esr,
    /// FAR_EL1 (the faulting data address, or the PC for instruction aborts).
    pub far: u64,
    /// ELR_EL1: the faulting instruction.
    pub elr: u64,
}

/// Linux's `force_sig_fault()`: queue the signal and make the exit loop see it.
pub fn force_sig_fault(task: &Task, info: SigInfo) {
    *task.pending_fault.lock() = Some(info);
    task.flags.set(TIF_SIGPENDING);
}

/// `arch_do_signal_or_restart()`: delivers what is pending. Every signal we
/// can raise today is fatal by default (no handlers yet): the app ends with a
/// report and status 128 + signal, as a shell would report it.
pub fn do_signal(task: &Task, _tf: &mut TrapFrame) {
    task.flags.clear(TIF_SIGPENDING);
    let Some(info) = task.pending_fault.lock().take() else {
        return;
    };
    println!(
        "[kill] app={} tid={} signal={} esr={:#x} ec={:#04x} far={:#x} elr={:#x} what=\"{}\"",
        crate::exec::APP_NAME,
        task.tid,
        info.signal.name(),
        info.esr.0,
        info.esr.ec(),
        info.far,
        info.elr,
        info.esr
    );
    crate::power::shutdown(128 + info.signal.0 as u32);
}
