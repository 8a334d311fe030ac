//! The hooks generic entry, signal delivery and membarrier call (Linux's
//! `rseq_note_user_irq_entry`, the exit fast and slow paths,
//! `rseq_signal_deliver`, the membarrier-RSEQ IPI). The scheduler's own
//! hook (`rseq_sched_switch_event`) is in `sched`.

use super::access::{KernelUserMem, MODE, NoFaultUserMem, ctx, ctx_on, die, with, with_irqs_off};
use crate::process::verdict::Kill;
use crate::sched::percpu::PerCpu;
use crate::sched::task::Task;
use arch::TrapFrame;
use core::sync::atomic::Ordering;
use entry::tif::TIF_RSEQ;

/// IRQ or exception entry from EL0 (Linux's `rseq_note_user_irq_entry`).
#[inline(always)]
pub fn note_user_irq_entry(task: &Task) {
    with(task, |r, _| rseq::note_user_irq_entry(r));
}

/// The TIF_RSEQ fast path (IRQs masked, from the exit loop, on CPU `this`). Its user
/// accesses do not page memory in, as in Linux: a page of the rseq area or
/// the critical section descriptor that has no frame yet fails the access,
/// and the slow path, which may fault pages in, does the work instead.
///
/// The common case (v1 after a switch, `rseq_cs` clear) runs inline in
/// the exit loop, without a call; the rest out of line.
#[inline(always)]
pub fn fastpath(task: &Task, this: &PerCpu, tf: &mut TrapFrame) -> bool {
    let inline = with_irqs_off(task, this, |r, stats, cpu| {
        rseq::exit_fastpath_inline(r, &mut ctx_on(cpu, &mut NoFaultUserMem, stats, task))
    });
    match inline {
        rseq::FastPath::Done(done) => done,
        rseq::FastPath::Cs(csaddr) => fastpath_cs(task, this, tf, csaddr),
        rseq::FastPath::General => fastpath_general(task, this, tf),
    }
}

/// [`fastpath`] with `rseq_cs` set: the section check.
#[inline(never)]
fn fastpath_cs(task: &Task, this: &PerCpu, tf: &mut TrapFrame, csaddr: u64) -> bool {
    with_irqs_off(task, this, |r, stats, cpu| {
        rseq::exit_fastpath_cs(
            r,
            &mut ctx_on(cpu, &mut NoFaultUserMem, stats, task),
            &mut tf.pc,
            csaddr,
        )
    })
}

/// [`fastpath`] in every other case: out of line where the inline case
/// exists (v1 and `linux` images), inline in a v2 image, where it is the
/// only case.
#[cfg_attr(feature = "rseq-v2", inline(always))]
#[cfg_attr(not(feature = "rseq-v2"), inline(never))]
fn fastpath_general(task: &Task, this: &PerCpu, tf: &mut TrapFrame) -> bool {
    with_irqs_off(task, this, |r, stats, cpu| {
        rseq::exit_fastpath_general(
            r,
            &mut ctx_on(cpu, &mut NoFaultUserMem, stats, task),
            &mut tf.pc,
        )
    })
}

/// The TIF_NOTIFY_RESUME slow path; an unrecoverable state kills the app.
pub fn slowpath(task: &Task, tf: &mut TrapFrame) -> Result<(), Kill> {
    with(task, |r, stats| {
        rseq::slowpath(r, &mut ctx(&mut KernelUserMem, stats, task), &mut tf.pc)
    })
    .map_err(|fatal| die(task, fatal))
}

/// Before a signal frame is built: abort an interrupted critical section
/// (the frame then records the abort address) and, in v1, force the IDs.
/// A time slice grant ends here too (other work: revoked).
pub fn signal_deliver(task: &Task, tf: &mut TrapFrame) -> Result<(), Kill> {
    super::slice::grant(task, false, true)?;
    let raise = with(task, |r, stats| {
        rseq::signal_deliver(r, &mut ctx(&mut KernelUserMem, stats, task), &mut tf.pc)
    })
    .map_err(|fatal| die(task, fatal))?;
    if raise {
        task.flags.set(TIF_RSEQ);
    }
    Ok(())
}

/// The last step of every exit to EL0 (IRQs masked, on CPU `this`): events
/// cleared, and the enforcement timer armed if a grant is on.
#[inline(always)]
pub fn exit_to_user_mode(task: &Task, this: &PerCpu) {
    with_irqs_off(task, this, |r, stats, _| rseq::exit_to_user_mode(r, stats));
    // A mode without the extension never grants: no test on every exit.
    if MODE.has_slice_extension() {
        // SAFETY: current task, IRQs masked (the end of the exit path).
        let granted = unsafe { task.rseq_mut().slice_granted };
        super::timer::arm_if_granted(granted);
    }
}

/// The membarrier-RSEQ IPI on this CPU: acts on the thread it interrupted.
pub fn membarrier_ipi() {
    let Some(task) = crate::sched::task::try_current().filter(|t| !t.is_idle) else {
        return;
    };
    let cid = task.mm_cid.load(Ordering::Relaxed);
    let cpu = arch::cpu::cpu_id() as u32;
    if with(task, |r, _| rseq::membarrier_ipi(r, cpu, cid, MODE)) {
        task.flags.set(TIF_RSEQ);
    }
}
