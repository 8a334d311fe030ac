//! The events that decide whether rseq work is due on the way back to user
//! mode (Linux's `include/linux/rseq.h` inlines): context switch, interrupt
//! entry, membarrier IPI, fork, execve, and the final exit.
//!
//! These only set flags in [`TaskRseq::event`]; they never touch user
//! memory. The functions that return `bool` return whether the caller must
//! raise TIF_RSEQ.

use crate::Mode;
use crate::RseqStats;
use crate::state::{Ids, TaskRseq};

/// The scheduler gave `t` another CPU or another mm_cid as it switched it
/// in (Linux's `rseq_sched_set_ids_changed()`, which `__set_task_cpu()`
/// and the mm_cid code call): the IDs in its area are stale. Kept until the
/// next exit to user mode writes them, however many switches come first.
/// Harmless without a registration: [`sched_switch_event`] ignores it and
/// the next exit clears it.
#[inline(always)]
pub fn sched_set_ids_changed(t: &mut TaskRseq) {
    t.event.ids_changed = true;
}

/// Context switch: `t` is switched IN, the scheduler having already called
/// [`sched_set_ids_changed`] if its CPU or mm_cid changed. Linux's
/// `rseq_sched_switch_event()`, per version ([`Mode::version_of`]):
///
/// - v1: always `sched_switch` + `ids_changed` (`rseq_v1_switch_event`,
///   inline), so the IDs are rewritten and the critical section checked after every
///   switch.
/// - v2: work only if the IDs changed or the task was interrupted in user
///   mode (`user_irq`: its IP may be in a critical section); one inline
///   test of both, nothing compared, nothing written (`rseq_v2_switch_event`).
///
/// Returns whether to set TIF_RSEQ. No-op (false) without registration.
#[inline(always)]
pub fn sched_switch_event(t: &mut TaskRseq, mode: Mode) -> bool {
    if !t.registered() {
        return false;
    }
    by_version!(mode.version_of(t),
        v1 => crate::v1::rseq_v1_switch_event(t),
        v2 => crate::v2::rseq_v2_switch_event(t),
    )
}

/// A switch event for a caller that knows the IDs `t` will see but not
/// whether they changed (the membarrier-RSEQ IPI): as
/// [`sched_switch_event`], with v2's `ids_changed` decided by comparing
/// `(cpu_id, mm_cid)` with [`TaskRseq::ids`] (`rseq_v2_ids_event`).
/// Returns whether to set TIF_RSEQ. No-op (false) without registration.
pub fn ids_event(t: &mut TaskRseq, cpu_id: u32, mm_cid: u32, mode: Mode) -> bool {
    if !t.registered() {
        return false;
    }
    let ids = Ids { cpu_id, mm_cid };
    by_version!(mode.version_of(t),
        v1 => {
            let _ = ids; // rewritten whatever they are
            crate::v1::rseq_v1_force_ids_update(t)
        },
        v2 => crate::v2::rseq_v2_ids_event(t, ids),
    )
}

/// IRQ/exception entry from EL0 (Linux's `rseq_note_user_irq_entry()`):
/// the user IP may now be inside a critical section, so a later switch or
/// signal must check it.
pub fn note_user_irq_entry(t: &mut TaskRseq) {
    t.event.user_irq = true;
}

/// membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ) IPI on the CPU running
/// `t` (Linux's `ipi_rseq()`): v1 forces an ID rewrite and with it the
/// critical section check (`rseq_v1_force_ids_update`); v2 treats it as a
/// switch event on the same CPU: the interrupt set `user_irq`, so the
/// section is checked, and the IDs are written only if they changed.
/// Returns whether to set TIF_RSEQ; false without registration.
/// In both versions that is exactly what a context switch does.
pub fn membarrier_ipi(t: &mut TaskRseq, cpu_id: u32, mm_cid: u32, mode: Mode) -> bool {
    ids_event(t, cpu_id, mm_cid, mode)
}

/// Linux's `rseq_force_update()`: after registration the IDs must be
/// written on the way out whatever they are.
pub(crate) fn force_update(t: &mut TaskRseq) {
    if t.registered() {
        t.event.sched_switch = true;
        t.event.ids_changed = true;
    }
}

/// Linux's `rseq_reset()`: no registration, no events, IDs unknown.
pub(crate) fn reset(t: &mut TaskRseq) {
    *t = TaskRseq::default();
}

/// clone(CLONE_VM): the child starts unregistered (Linux's `rseq_fork()`
/// with CLONE_VM: a thread needs its own area). Without CLONE_VM the child
/// is a copy of the parent's address space, area included, so it inherits
/// the registration and the IDs last written there.
pub fn fork(child: &mut TaskRseq, parent: &TaskRseq, clone_vm: bool) {
    if clone_vm {
        reset(child);
    } else {
        *child = *parent;
    }
}

/// execve(): the new program starts unregistered (Linux's `rseq_execve()`).
pub fn execve(t: &mut TaskRseq) {
    reset(t);
}

/// Every exit to user mode, after everything (Linux's
/// `rseq_exit_to_user_mode()`): counts `exit` and clears the events
/// (`sched_switch`, `ids_changed`, `user_irq`; Linux's `events` compound),
/// in particular `user_irq` when the interrupt did not lead to a switch.
/// The registration is kept.
pub fn exit_to_user_mode(t: &mut TaskRseq, stats: &mut RseqStats) {
    stats.exit += 1;
    t.event.sched_switch = false;
    t.event.ids_changed = false;
    t.event.user_irq = false;
}
