//! The critical section check: is the interrupted user IP inside the
//! section `rseq_cs` points at? Then resume it at `abort_ip`; if not, clear
//! `rseq_cs` (Linux's lazy clear).
//!
//! The normal check ([`update_user_cs`]) does only what protects the
//! kernel and the task from a forged descriptor: `abort_ip` must be a user
//! address with the registered signature in the 4 bytes before it, so an
//! attacker who can write `rseq_cs` cannot turn an abort into a jump to an
//! arbitrary gadget. Debug mode ([`debug_update_user_cs`]) adds Linux's
//! full descriptor validation (DESIGN §3).

use crate::fatal::Fatal;
use crate::mem::{Error, SIG_LEN, UserMem, cs_off, rseq_off};
use crate::state::{Ctx, TaskRseq};

/// Mirrors Linux's `rseq_update_user_cs()` (include/linux/rseq_entry.h):
/// evaluates the descriptor at `csaddr` (non-zero) for the user IP `*pc`.
///
/// Counts `cs`; then either clears `rseq_cs` (`clear`, the IP is outside
/// `[start_ip, start_ip + post_commit_offset)`, compared unsigned as Linux
/// does) or aborts: `rseq_cs` = 0, `*pc = abort_ip` (`fixup`). A descriptor
/// outside user space, an `abort_ip` below 4 or outside user space, or a
/// wrong signature is [`Error::Fatal`]; a failed access is [`Error::Fault`]
/// and leaves `*pc` alone. `rseq_cs` is cleared before `*pc` changes, so a
/// fault never leaves a half-done abort.
pub(crate) fn update_user_cs<M: UserMem>(
    t: &TaskRseq,
    ctx: &mut Ctx<'_, M>,
    csaddr: u64,
    pc: &mut u64,
) -> Result<(), Error> {
    ctx.stats.cs += 1;
    if !ctx.mem.access_ok(csaddr, cs_off::SIZE) {
        return Err(Fatal::BadCsAddr(csaddr).into());
    }
    if ctx.debug {
        return debug_update_user_cs(t, ctx, csaddr, pc, !t.event.user_irq);
    }
    let mem = &mut *ctx.mem;
    let start_ip = mem.read_u64(csaddr + cs_off::START_IP)?;
    let offset = mem.read_u64(csaddr + cs_off::POST_COMMIT_OFFSET)?;
    let abort_ip = mem.read_u64(csaddr + cs_off::ABORT_IP)?;
    // No sanity checks on the section itself: "if user space screwed it
    // up, it can keep the pieces" (Linux). One unsigned compare.
    if pc.wrapping_sub(start_ip) >= offset {
        return clear(t, ctx);
    }
    check_abort_ip(ctx.mem, abort_ip)?;
    check_signature(ctx.mem, t.sig, abort_ip)?;
    abort(t, ctx, abort_ip, pc)
}

/// Mirrors Linux's `rseq_debug_update_user_cs()` (the `rseq_debug=1`
/// variant, also used at syscall entry by [`crate::debug_syscall`]): the
/// same decision with every descriptor property checked, each violation
/// fatal: `start_ip` a user address, `start_ip + post_commit_offset` not
/// overflowing and in user space, `abort_ip` a user address >= 4 outside
/// the section, `version` and `flags` zero, the signature.
///
/// `not_interrupted`: the task entered the kernel by a syscall, not an
/// interrupt or exception (Linux: `!rseq_event::user_irq`); an IP inside
/// the section is then a syscall from inside it, fatal. The descriptor is
/// read lazily in Linux's order, so a bad field past the point where the IP
/// is found outside is not reported (the section is just cleared).
pub(crate) fn debug_update_user_cs<M: UserMem>(
    t: &TaskRseq,
    ctx: &mut Ctx<'_, M>,
    csaddr: u64,
    pc: &mut u64,
    not_interrupted: bool,
) -> Result<(), Error> {
    let ip = *pc;
    let mem = &mut *ctx.mem;
    let start_ip = mem.read_u64(csaddr + cs_off::START_IP)?;
    if !mem.access_ok(start_ip, 1) {
        return Err(Fatal::DebugCs("start_ip is not a user address").into());
    }
    if ip < start_ip {
        return clear(t, ctx);
    }
    let offset = mem.read_u64(csaddr + cs_off::POST_COMMIT_OFFSET)?;
    let Some(cs_end) = start_ip.checked_add(offset) else {
        return Err(Fatal::DebugCs("start_ip + post_commit_offset overflows").into());
    };
    if !mem.access_ok(cs_end, 1) {
        return Err(Fatal::DebugCs("start_ip + post_commit_offset is not a user address").into());
    }
    if ip >= cs_end {
        return clear(t, ctx);
    }
    let abort_ip = mem.read_u64(csaddr + cs_off::ABORT_IP)?;
    check_abort_ip(mem, abort_ip)?;
    if abort_ip.wrapping_sub(start_ip) < offset {
        return Err(Fatal::DebugCs("abort_ip inside the critical section").into());
    }
    if mem.read_u64(csaddr + cs_off::HEAD)? != 0 {
        return Err(Fatal::DebugCs("version or flags not zero").into());
    }
    check_signature(mem, t.sig, abort_ip)?;
    if not_interrupted {
        return Err(Fatal::SyscallInCs { ip }.into());
    }
    abort(t, ctx, abort_ip, pc)
}

/// `abort_ip` must be a user address of at least 4 (Linux: x86's IRET
/// would happily return to the kernel): the signature word at
/// `abort_ip - 4` and the instruction at `abort_ip` must both lie in user
/// space.
fn check_abort_ip<M: UserMem>(mem: &M, abort_ip: u64) -> Result<(), Error> {
    if abort_ip < SIG_LEN || !mem.access_ok(abort_ip - SIG_LEN, 2 * SIG_LEN) {
        return Err(Fatal::BadAbortIp(abort_ip).into());
    }
    Ok(())
}

/// The 4 bytes before `abort_ip` must be the registered signature, so a
/// forged descriptor cannot turn an abort into a jump to an arbitrary
/// gadget (the ROP concern in Linux's comment). `abort_ip` was checked by
/// [`check_abort_ip`].
fn check_signature<M: UserMem>(mem: &mut M, sig: u32, abort_ip: u64) -> Result<(), Error> {
    let found = mem.read_u32(abort_ip - SIG_LEN)?;
    if found != sig {
        return Err(Fatal::BadSignature { abort_ip, found }.into());
    }
    Ok(())
}

/// The IP is outside the section: clear `rseq_cs` (`clear`).
fn clear<M: UserMem>(t: &TaskRseq, ctx: &mut Ctx<'_, M>) -> Result<(), Error> {
    ctx.mem.write_u64(t.usrptr + rseq_off::RSEQ_CS, 0)?;
    ctx.stats.clear += 1;
    Ok(())
}

/// Abort the section: clear `rseq_cs`, then resume at `abort_ip`
/// (`fixup`).
fn abort<M: UserMem>(
    t: &TaskRseq,
    ctx: &mut Ctx<'_, M>,
    abort_ip: u64,
    pc: &mut u64,
) -> Result<(), Error> {
    ctx.mem.write_u64(t.usrptr + rseq_off::RSEQ_CS, 0)?;
    *pc = abort_ip;
    ctx.stats.fixup += 1;
    Ok(())
}
