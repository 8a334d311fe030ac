//! The check that the task left the read-only ID fields of its rseq area
//! as the kernel wrote them: run before every ID update by v2 (through
//! [`crate::v2`]'s wrapper), and by v1 in debug mode ([`crate::ids`]).

use crate::fatal::Fatal;
use crate::mem::{Error, UserMem, rseq_off};
use crate::state::{Ids, TaskRseq};

/// Mirrors the read-only validation at the top of Linux's
/// `rseq_set_ids_get_csaddr()` (formerly `rseq_debug_validate_ids()`): the
/// four ID fields are read-only for user space, so each must still hold
/// what the kernel last wrote ([`TaskRseq::ids`], or [`Ids::REGISTERED`]
/// right after registration, and [`TaskRseq::node_id`]). A mismatch is
/// [`Fatal::ReadOnlyOverwritten`] naming the first bad field.
///
/// Run by v2 before every ID write ([`crate::v2`]'s
/// `rseq_v2_validate_ro_ids`), and by v1 only in debug mode, as Linux does
/// ("validate the R/O fields for debug and optimized mode").
pub(crate) fn validate_ro_ids<M: UserMem>(t: &TaskRseq, mem: &mut M) -> Result<(), Error> {
    let ids = t.ids.unwrap_or(Ids::REGISTERED);
    let fields = [
        ("cpu_id_start", rseq_off::CPU_ID_START, ids.cpu_id),
        ("cpu_id", rseq_off::CPU_ID, ids.cpu_id),
        ("node_id", rseq_off::NODE_ID, t.node_id),
        ("mm_cid", rseq_off::MM_CID, ids.mm_cid),
    ];
    for (field, off, expected) in fields {
        let found = mem.read_u32(t.usrptr + off)?;
        if found != expected {
            return Err(Fatal::ReadOnlyOverwritten {
                field,
                found,
                expected,
            }
            .into());
        }
    }
    Ok(())
}
