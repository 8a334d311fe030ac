//! Publishing the IDs (`cpu_id_start`, `cpu_id`, `node_id`, `mm_cid`) to
//! the task's rseq area, after the read-only check ([`crate::ro_ids`]).

use crate::cs::update_user_cs;
use crate::mem::{Error, Fault, UserMem, rseq_off};
use crate::state::{Ctx, TaskRseq};

/// `cpu_id_start` and `cpu_id` as one little-endian 8-byte word: they are
/// adjacent and 8-aligned (the area is at least 32-aligned).
#[inline(always)]
fn cpu_ids_word(cpu_id: u32) -> u64 {
    const _: () = assert!(
        rseq_off::CPU_ID == rseq_off::CPU_ID_START + 4 && rseq_off::CPU_ID_START.is_multiple_of(8)
    );
    u64::from(cpu_id) | u64::from(cpu_id) << 32
}

/// Records in the task the IDs just written, for the read-only check
/// ([`crate::ro_ids`]) and v2's comparison on switch-in.
#[inline(always)]
fn cache_ids<M: UserMem>(t: &mut TaskRseq, ctx: &Ctx<'_, M>) {
    t.ids = Some(ctx.ids());
    t.node_id = ctx.node_id;
}

/// Mirrors the write half of Linux's `rseq_set_ids_get_csaddr()`: writes
/// the four ID fields, then caches what was written in the task (only once
/// all four writes succeeded) and counts `ids`. v2's; v1 runs
/// [`set_ids_get_csaddr`].
#[cfg(any(test, feature = "v2", feature = "linux", not(feature = "v1")))]
pub(crate) fn write_ids<M: UserMem>(t: &mut TaskRseq, ctx: &mut Ctx<'_, M>) -> Result<(), Fault> {
    let ids = ctx.ids();
    let base = t.usrptr;
    ctx.mem
        .write_u64(base + rseq_off::CPU_ID_START, cpu_ids_word(ids.cpu_id))?;
    ctx.mem.write_u32(base + rseq_off::NODE_ID, ctx.node_id)?;
    ctx.mem.write_u32(base + rseq_off::MM_CID, ids.mm_cid)?;
    cache_ids(t, ctx);
    ctx.stats.ids += 1;
    Ok(())
}

/// Linux's `rseq_set_ids_get_csaddr()` as v1 runs it: the ID writes and
/// the `rseq_cs` load in one user access section
/// ([`UserMem::area_set_ids`], [`UserMem::area_get_csaddr`]), the IDs
/// cached only in debug mode, v1's one reader of the copy. The caller
/// counts `ids` when it returns `Ok` (Linux counts them once the whole
/// section succeeded), beside its own counter.
#[inline(always)]
pub(crate) fn set_ids_get_csaddr<M: UserMem>(
    t: &mut TaskRseq,
    ctx: &mut Ctx<'_, M>,
) -> Result<u64, Fault> {
    let ids = ctx.ids();
    ctx.mem
        .area_set_ids(t.usrptr, cpu_ids_word(ids.cpu_id), ctx.node_id, ids.mm_cid)?;
    let csaddr = ctx.mem.area_get_csaddr(t.usrptr)?;
    // Debug mode is fixed at boot and a registration's version never
    // changes, so without it nothing reads this copy.
    if ctx.debug {
        cache_ids(t, ctx);
    }
    Ok(csaddr)
}

/// Reads `rseq_cs`, the address of the current critical section
/// descriptor (0 outside critical sections).
pub(crate) fn read_cs_addr<M: UserMem>(t: &TaskRseq, mem: &mut M) -> Result<u64, Fault> {
    mem.read_u64(t.usrptr + rseq_off::RSEQ_CS)
}

/// Mirrors Linux's `rseq_update_usr()` with `rseq_set_ids_get_csaddr()`:
/// validate the read-only fields (v2; v1 only in debug mode), write the
/// IDs, clear `slice_ctrl` (v2 only: a v1 area may hold foreign data at
/// offset 28), read `rseq_cs` and, when `check_cs` and it is non-zero,
/// run the critical section check on `*pc`.
pub(crate) fn update_usr<M: UserMem>(
    t: &mut TaskRseq,
    ctx: &mut Ctx<'_, M>,
    pc: &mut u64,
    check_cs: bool,
) -> Result<(), Error> {
    let csaddr = by_version!(ctx.mode.version_of(t),
        v1 => {
            if ctx.debug {
                crate::ro_ids::validate_ro_ids(t, ctx.mem)?;
            }
            let csaddr = set_ids_get_csaddr(t, ctx)?;
            ctx.stats.ids += 1;
            csaddr
        },
        v2 => {
            crate::v2::rseq_v2_validate_ro_ids(t, ctx.mem)?;
            write_ids(t, ctx)?;
            crate::v2::rseq_v2_clear_slice_ctrl(t.usrptr, ctx.mem)?;
            read_cs_addr(t, ctx.mem)?
        },
    );
    if check_cs && csaddr != 0 {
        update_user_cs(t, ctx, csaddr, pc)?;
    }
    Ok(())
}
