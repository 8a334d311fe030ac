//! Time slice extension (Linux 7.1's `rseq_slice_*`): whether it is
//! offered, the exit loop's grant, the syscall-entry check, and the
//! enforcement timer's expiry. The semantics are the `rseq` crate's.

use super::access::{KernelUserMem, MODE, ctx, die, with};
use crate::process::verdict::Kill;
use crate::sched::task::Task;
use core::sync::atomic::{AtomicBool, Ordering};
use rseq::Mode;

/// `rseq_slice_ext=`: the extension is offered.
static SLICE_EXT: AtomicBool = AtomicBool::new(true);

/// Sets up the time slice extension from the command line.
pub fn slice_init(enabled: bool, slice_us: u32) {
    SLICE_EXT.store(enabled, Ordering::Relaxed);
    super::timer::set_slice_us(slice_us);
}

/// The extension is offered: a v2 or `linux` image with
/// `rseq_slice_ext=1`. In a `linux` image only v2 registrations can enable
/// it (the `rseq` crate checks each registration's version), so the
/// grant, the enforcement timer and the syscall-entry check only ever act
/// for them.
pub fn slice_available() -> bool {
    MODE != Mode::V1 && SLICE_EXT.load(Ordering::Relaxed)
}

/// The exit loop's reschedule step, `from_irq` when returning from an
/// interrupt/exception: grant an extension instead of scheduling?
pub fn grant(task: &Task, from_irq: bool, other_work: bool) -> Result<bool, Kill> {
    use rseq::slice::Grant;
    let r = with(task, |r, stats| {
        rseq::slice::grant_slice_extension(
            r,
            &mut ctx(&mut KernelUserMem, stats, task),
            from_irq,
            other_work,
        )
    });
    match r {
        Ok(Grant::Granted) => Ok(true),
        Ok(Grant::Schedule | Grant::Revoked) => Ok(false),
        Err(fatal) => Err(die(task, fatal)),
    }
}

/// The enforcement timer fired (its IRQ): the grant, if still on, is over;
/// the exit path then revokes it and schedules.
pub fn slice_timer_expired() {
    super::timer::cancel();
    arch::timer::cancel_virt_timer();
    let Some(task) = crate::sched::task::try_current().filter(|t| !t.is_idle) else {
        return;
    };
    if with(task, |r, stats| rseq::slice::timer_expired(r, stats)) {
        task.flags.set(entry::tif::TIF_NEED_RESCHED);
    }
}

/// `task` enabled the time slice extension. Never in a v1 image, where
/// this is a constant and the syscall-entry check is not there at all.
#[inline(always)]
pub fn slice_enabled(task: &Task) -> bool {
    // SAFETY: current task; a plain read of a flag only this CPU writes.
    MODE != Mode::V1 && unsafe { task.rseq_mut().slice_enabled }
}

/// Makes the task's `SYSCALL_WORK_SYSCALL_RSEQ_SLICE` say whether it has
/// the extension enabled, after a syscall that may have changed that (an
/// rseq registration or unregistration, the prctl). `task` is the
/// current task.
pub fn sync_syscall_work(task: &Task) {
    task.syscall_work.update(
        entry::syscall_work::SYSCALL_WORK_SYSCALL_RSEQ_SLICE,
        slice_enabled(task),
    );
}

/// Syscall entry (not rseq_slice_yield): a syscall during a grant aborts
/// it; true when one was on.
#[inline(always)]
pub fn slice_syscall_entry(task: &Task) -> Result<bool, rseq::Fatal> {
    with(task, |r, stats| {
        rseq::slice::syscall_entry(r, &mut ctx(&mut KernelUserMem, stats, task))
    })
}
