//! Code only v2 (optimized) registrations run: v2 and `linux` images
//! contain it.
//!
//! Compiled only with the `v2` or the `linux` feature (or in tests, or
//! with neither `v1` nor `v2`). The kernel's image test greps the ELF
//! symbols for the names here to show that a v1 image has none of them
//! and a `linux` image has them all.

use crate::mem::{Error, Fault, UserMem};
use crate::ro_ids::validate_ro_ids;
use crate::state::{Ids, TaskRseq};
use crate::uapi::{
    RSEQ_CS_FLAG_SLICE_EXT_AVAILABLE, RSEQ_CS_FLAG_SLICE_EXT_ENABLED,
    RSEQ_FLAG_SLICE_EXT_DEFAULT_ON, Rseq,
};

/// Byte offset of `slice_ctrl`, the one field past `mm_cid` the kernel
/// writes, and only for v2.
const SLICE_CTRL: u64 = Rseq::SLICE_CTRL_OFFSET as u64;

/// v2's switch-in decision (Linux's `rseq_sched_switch_event()` for
/// `rseq_v2()` tasks): work is due only if the scheduler reported new IDs
/// ([`crate::sched_set_ids_changed`]) or the task was interrupted in user
/// mode (its IP may be in a critical section). Inline: on the common
/// switch it is one load and one branch past the registration test.
/// Returns whether to raise TIF_RSEQ.
#[inline(always)]
pub(crate) fn rseq_v2_switch_event(t: &mut TaskRseq) -> bool {
    let raise = t.event.pending_on_switch();
    if raise {
        t.event.sched_switch = true;
    }
    raise
}

/// v2's decision when the caller only knows the IDs (the membarrier-RSEQ
/// IPI): the IDs need writing only if they differ from what the task last
/// saw (`rseq_sched_set_ids_changed()` folded in); work is due only if
/// they do or the task was interrupted in user mode. Returns whether to
/// raise TIF_RSEQ.
#[inline(never)]
pub(crate) fn rseq_v2_ids_event(t: &mut TaskRseq, ids: Ids) -> bool {
    if t.ids != Some(ids) {
        t.event.ids_changed = true;
    }
    rseq_v2_switch_event(t)
}

/// v2's read-only check before the IDs are rewritten (see
/// [`validate_ro_ids`]): a task that wrote its `cpu_id_start`, `cpu_id`,
/// `node_id` or `mm_cid` is killed instead of being silently repaired.
#[inline(never)]
pub(crate) fn rseq_v2_validate_ro_ids<M: UserMem>(t: &TaskRseq, mem: &mut M) -> Result<(), Error> {
    validate_ro_ids(t, mem)
}

/// Clears `slice_ctrl` (offset 28) of the area at `usrptr`: at
/// registration, on every ID update and on every exit that evaluated the
/// area (Linux's `rseq_slice_clear_user()`, "RSEQ ABI V2 only
/// operations"). Never run for v1, whose users may keep data there.
#[inline(never)]
pub(crate) fn rseq_v2_clear_slice_ctrl<M: UserMem>(usrptr: u64, mem: &mut M) -> Result<(), Fault> {
    mem.write_u32(usrptr + SLICE_CTRL, 0)
}

/// The `rseq.flags` a v2 registration gets and whether the slice extension
/// starts enabled (Linux's `rseq_register()`: `SLICE_EXT_AVAILABLE` when
/// the extension is available, plus `SLICE_EXT_ENABLED` when
/// `RSEQ_FLAG_SLICE_EXT_DEFAULT_ON` asks for it).
#[inline(never)]
pub(crate) fn rseq_v2_registration_flags(flags: u32, slice_available: bool) -> (u32, bool) {
    if !slice_available {
        return (0, false);
    }
    if flags & RSEQ_FLAG_SLICE_EXT_DEFAULT_ON != 0 {
        (
            RSEQ_CS_FLAG_SLICE_EXT_AVAILABLE | RSEQ_CS_FLAG_SLICE_EXT_ENABLED,
            true,
        )
    } else {
        (RSEQ_CS_FLAG_SLICE_EXT_AVAILABLE, false)
    }
}
