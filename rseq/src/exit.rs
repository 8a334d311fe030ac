//! The rseq work before a return to user mode: the TIF_RSEQ fast path, the
//! TIF_NOTIFY_RESUME slow path, the signal delivery hook, and debug mode's
//! syscall check.

use crate::cs::{debug_update_user_cs, update_user_cs};
use crate::fatal::Fatal;
use crate::ids::{read_cs_addr, set_ids_get_csaddr, update_usr};
use crate::mem::{Error, UserMem, cs_off};
use crate::state::{Ctx, RseqEvent, TaskRseq};

/// The TIF_RSEQ fast path at the end of the exit loop, IRQs off (Linux's
/// `__rseq_exit_to_user_mode_restart()` and `rseq_exit_user_update()`).
///
/// Nothing to do unless `event.sched_switch` (then only the events are
/// cleared; user memory is not touched). Otherwise counts `fastpath` and:
///
/// - IDs unchanged (v2 after an interrupt): read `rseq_cs`, clear
///   `slice_ctrl` (v2), check the critical section if `rseq_cs` is set.
/// - IDs changed: validate the read-only fields (v2; v1 in debug mode),
///   write the IDs, clear `slice_ctrl` (v2), read `rseq_cs` and check the
///   section: v1 always (it checks after every switch, DESIGN §3), v2 only
///   when the task was interrupted in user mode (`user_irq`) or in debug
///   mode.
///
/// A section is only checked when `rseq_cs` is non-zero, in debug mode too
/// (Linux's debug mode would evaluate a descriptor at address 0, fault, and
/// take the slow path for nothing).
///
/// Returns true when done (the events are then cleared); false when the
/// slow path must run: a fault (`event.slowpath` set) or a fatal condition
/// (`event.fatal` set, reason in `last_fatal`). The entry loop then raises
/// TIF_NOTIFY_RESUME.
///
/// The composition of [`exit_fastpath_inline`] and the two out-of-line
/// parts it may hand over to, [`exit_fastpath_cs`] and
/// [`exit_fastpath_general`]; a caller that wants the common case without
/// a call runs the three itself.
pub fn exit_fastpath<M: UserMem>(t: &mut TaskRseq, ctx: &mut Ctx<'_, M>, pc: &mut u64) -> bool {
    match exit_fastpath_inline(t, ctx) {
        FastPath::Done(done) => done,
        FastPath::Cs(csaddr) => exit_fastpath_cs(t, ctx, pc, csaddr),
        FastPath::General => exit_fastpath_general(t, ctx, pc),
    }
}

/// What [`exit_fastpath_inline`] left to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FastPath {
    /// Finished: [`exit_fastpath`]'s result.
    Done(bool),
    /// `rseq_cs` holds this descriptor address: run [`exit_fastpath_cs`].
    Cs(u64),
    /// Nothing done yet: run [`exit_fastpath_general`].
    General,
}

/// The fast path's common case, inline and without a call: v1 after a
/// switch (IDs to write, no debug mode), the three ID stores and the
/// `rseq_cs` load in one user access section
/// ([`UserMem::area_set_ids`], [`UserMem::area_get_csaddr`]). With
/// `rseq_cs` set, the section check is left to [`exit_fastpath_cs`];
/// every other case to [`exit_fastpath_general`].
#[inline(always)]
pub fn exit_fastpath_inline<M: UserMem>(t: &mut TaskRseq, ctx: &mut Ctx<'_, M>) -> FastPath {
    let v1 = by_version!(ctx.mode.version_of(t), v1 => true, v2 => false);
    if !(v1 && t.registered() && t.event.sched_switch && t.event.ids_changed && !ctx.debug) {
        return FastPath::General;
    }
    match set_ids_get_csaddr(t, ctx) {
        Ok(csaddr) => {
            // Side by side, the two counters take one paired load and
            // store.
            ctx.stats.fastpath += 1;
            ctx.stats.ids += 1;
            if csaddr == 0 {
                FastPath::Done(fastpath_done(t, Ok(())))
            } else {
                FastPath::Cs(csaddr)
            }
        }
        Err(fault) => {
            ctx.stats.fastpath += 1;
            FastPath::Done(fastpath_done(t, Err(fault.into())))
        }
    }
}

/// [`exit_fastpath_inline`]'s v1 case when `rseq_cs` was `csaddr`: the
/// section check, then the fast path's end.
#[inline(never)]
pub fn exit_fastpath_cs<M: UserMem>(
    t: &mut TaskRseq,
    ctx: &mut Ctx<'_, M>,
    pc: &mut u64,
    csaddr: u64,
) -> bool {
    let done = update_user_cs(t, ctx, csaddr, pc);
    fastpath_done(t, done)
}

/// The fast path's end: the events cleared when done, else the slow
/// path's reason recorded.
#[inline(always)]
fn fastpath_done(t: &mut TaskRseq, done: Result<(), Error>) -> bool {
    match done {
        Ok(()) => {
            t.event = RseqEvent::default();
            true
        }
        Err(Error::Fault) => {
            t.event.slowpath = true;
            false
        }
        Err(Error::Fatal(f)) => {
            t.event.fatal = true;
            t.last_fatal = Some(f);
            false
        }
    }
}

/// [`exit_fastpath`] in every case. Inlined into its caller (the kernel's
/// out-of-line general case), so v2's exits after a switch or an IPI pay
/// one call, not two.
#[inline(always)]
pub fn exit_fastpath_general<M: UserMem>(
    t: &mut TaskRseq,
    ctx: &mut Ctx<'_, M>,
    pc: &mut u64,
) -> bool {
    if !t.event.sched_switch || !t.registered() {
        clear_events(t);
        return true;
    }
    ctx.stats.fastpath += 1;
    let done = if t.event.ids_changed {
        let check_cs = by_version!(ctx.mode.version_of(t),
            v1 => true,
            v2 => t.event.user_irq || ctx.debug,
        );
        update_usr(t, ctx, pc, check_cs)
    } else {
        check_cs_only(t, ctx, pc)
    };
    fastpath_done(t, done)
}

/// The fast path when the IDs did not change (Linux's `!ids_changed`
/// branch of `rseq_exit_user_update()`; only reachable in v2, where the
/// event then means "interrupted in user mode").
fn check_cs_only<M: UserMem>(
    t: &TaskRseq,
    ctx: &mut Ctx<'_, M>,
    pc: &mut u64,
) -> Result<(), Error> {
    let csaddr = read_cs_addr(t, ctx.mem)?;
    by_version!(ctx.mode.version_of(t),
        v1 => (),
        v2 => crate::v2::rseq_v2_clear_slice_ctrl(t.usrptr, ctx.mem)?,
    );
    if csaddr != 0 {
        update_user_cs(t, ctx, csaddr, pc)?;
    }
    Ok(())
}

/// Linux's `rseq_event::events = 0`: the per-exit events, not the
/// registration and not the error bits.
fn clear_events(t: &mut TaskRseq) {
    t.event.sched_switch = false;
    t.event.ids_changed = false;
    t.event.user_irq = false;
}

/// TIF_NOTIFY_RESUME slow path (Linux's `__rseq_handle_slowpath()` and
/// `rseq_slowpath_update_usr()`), interrupts and faults allowed.
///
/// Does nothing (and counts nothing) unless the fast path asked for it
/// (`event.slowpath` or `event.fatal`; Linux's `rseq_handle_slowpath()`
/// gate), so the kernel may call it on every TIF_NOTIFY_RESUME. Otherwise
/// counts `slowpath`; a recorded fatal condition is returned as it is;
/// else the IDs are written unconditionally (after the read-only check in
/// v2) and the critical section is checked whenever `rseq_cs` is set. Any
/// fault now is [`Fatal::Fault`]. Success clears the events but
/// `user_irq`, as Linux does; the fast path then finds nothing to do.
pub fn slowpath<M: UserMem>(
    t: &mut TaskRseq,
    ctx: &mut Ctx<'_, M>,
    pc: &mut u64,
) -> Result<(), Fatal> {
    if !t.registered() || !(t.event.slowpath || t.event.fatal) {
        return Ok(());
    }
    ctx.stats.slowpath += 1;
    if t.event.fatal {
        t.event.fatal = false;
        t.event.slowpath = false;
        return Err(t.last_fatal.unwrap_or(Fatal::Fault));
    }
    t.event = RseqEvent {
        user_irq: t.event.user_irq,
        ..RseqEvent::default()
    };
    update_usr(t, ctx, pc, true).map_err(|e| {
        let f = e.fatal();
        t.last_fatal = Some(f);
        f
    })
}

/// Before a signal frame is built (Linux's `rseq_signal_deliver()` and
/// `__rseq_signal_deliver()`): check and abort the critical section on
/// `*pc`, the interrupted context, before the frame captures it.
///
/// v1: always (when registered), and it then forces an ID update
/// (`rseq_v1_force_ids_update`; `Ok(true)`: raise TIF_RSEQ). v2: only when
/// the task was interrupted in user mode (`user_irq`), since a syscall
/// cannot be inside a section; IDs are left to the exit path. Counts
/// `signal` when the work runs. `Err`: kill the task (SIGSEGV).
pub fn signal_deliver<M: UserMem>(
    t: &mut TaskRseq,
    ctx: &mut Ctx<'_, M>,
    pc: &mut u64,
) -> Result<bool, Fatal> {
    if !t.registered() {
        return Ok(false);
    }
    let wanted = by_version!(ctx.mode.version_of(t), v1 => true, v2 => t.event.user_irq);
    if !wanted {
        return Ok(false);
    }
    ctx.stats.signal += 1;
    handle_cs(t, ctx, pc).map_err(|e| {
        let f = e.fatal();
        t.last_fatal = Some(f);
        f
    })?;
    Ok(by_version!(ctx.mode.version_of(t),
        v1 => crate::v1::rseq_v1_force_ids_update(t),
        v2 => false,
    ))
}

/// Linux's `rseq_handle_cs()`: read `rseq_cs` and check the section if set.
fn handle_cs<M: UserMem>(t: &TaskRseq, ctx: &mut Ctx<'_, M>, pc: &mut u64) -> Result<(), Error> {
    let csaddr = read_cs_addr(t, ctx.mem)?;
    if csaddr == 0 {
        return Ok(());
    }
    update_user_cs(t, ctx, csaddr, pc)
}

/// Debug mode only (rseq_debug=1), at syscall entry: a syscall issued from
/// inside a critical section (`rseq_cs` set and the IP in
/// `[start_ip, start_ip + post_commit_offset)`) is fatal
/// ([`Fatal::SyscallInCs`]), as is an invalid descriptor or unreachable
/// memory (Linux's `__rseq_debug_syscall_return()`, which runs the debug
/// descriptor check with "not interrupted"). An IP outside the section
/// clears `rseq_cs`. Nothing happens without debug mode or registration.
pub fn debug_syscall<M: UserMem>(
    t: &mut TaskRseq,
    ctx: &mut Ctx<'_, M>,
    pc: u64,
) -> Result<(), Fatal> {
    if !ctx.debug || !t.registered() {
        return Ok(());
    }
    let check = |t: &TaskRseq, ctx: &mut Ctx<'_, M>| -> Result<(), Error> {
        let csaddr = read_cs_addr(t, ctx.mem)?;
        if csaddr == 0 {
            return Ok(());
        }
        if !ctx.mem.access_ok(csaddr, cs_off::SIZE) {
            return Err(Fatal::BadCsAddr(csaddr).into());
        }
        let mut ip = pc;
        debug_update_user_cs(t, ctx, csaddr, &mut ip, true)
    };
    check(t, ctx).map_err(|e| {
        let f = e.fatal();
        t.last_fatal = Some(f);
        f
    })
}
