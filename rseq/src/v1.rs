//! Code only v1 (legacy, TCMalloc-compatible) registrations run: v1 and
//! `linux` images contain it.
//!
//! Compiled only with the `v1` or the `linux` feature (or in tests, or
//! with neither `v1` nor `v2`). The kernel's image test greps the ELF
//! symbols for the names here to show that a v2 image has none of them
//! and a `linux` image has them all.

use crate::state::TaskRseq;

/// v1's unconditional ID rewrite decision: on every context switch, before
/// every signal and on every membarrier-RSEQ IPI, request an ID rewrite
/// (and so a critical section check) on the way to user mode, whether or
/// not the IDs changed. TCMalloc relies on it: it keeps its own data in
/// `cpu_id_start` and counts on the kernel overwriting it (DESIGN §3).
///
/// Mirrors the legacy branches Linux's "Revert to historical performance
/// killing behaviour" patch adds to `rseq_sched_switch_event()`,
/// `__rseq_signal_deliver()` and `ipi_rseq()` (`rseq_force_update()`).
/// Returns true: raise TIF_RSEQ. Out of line for the signal and the IPI;
/// the switch, once per context switch, inlines the same two stores
/// ([`rseq_v1_switch_event`]).
#[inline(never)]
pub(crate) fn rseq_v1_force_ids_update(t: &mut TaskRseq) -> bool {
    rseq_v1_switch_event(t)
}

/// [`rseq_v1_force_ids_update`] inline, for the context switch.
#[inline(always)]
pub(crate) fn rseq_v1_switch_event(t: &mut TaskRseq) -> bool {
    t.event.sched_switch = true;
    t.event.ids_changed = true;
    true
}
