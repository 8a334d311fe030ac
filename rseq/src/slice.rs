//! Time slice extension (DESIGN §4, seed 002: the user ABI; seed 001: the
//! grant decision, the enforcement timer, the reset on schedule). v2
//! registrations only: a v2 image's, or a `linux` image's longer than 32
//! bytes (a v1 registration's `slice_ctrl` may hold TCMalloc's data).
//!
//! A thread that enabled the extension sets `slice_ctrl.request` before a
//! short critical section. When an interrupt hits it in EL0 and the only
//! pending work is a reschedule, the kernel may *grant* instead of
//! scheduling: it writes `request = 0, granted = 1` and lets the thread run
//! on for at most the slice length, enforced by a per-CPU timer (the
//! kernel's part). A grant ends exactly one way, each counted:
//! `rseq_slice_yield()` (s_yielded), any other syscall (s_aborted), or a
//! revoke — another need-resched or other work while granted, e.g. after
//! the timer expired (s_expired counts those expiries) — (s_revoked). So
//! `s_granted == s_yielded + s_aborted + s_revoked` once none is pending.
//!
//! These functions are pure over [`UserMem`]; the kernel calls them from the
//! exit loop, the syscall entry, the timer interrupt and the scheduler.

use crate::Version;
use crate::fatal::Fatal;
use crate::mem::{Fault, UserMem};
use crate::state::{Ctx, TaskRseq};
use crate::uapi::{RSEQ_CS_FLAG_SLICE_EXT_AVAILABLE, RSEQ_CS_FLAG_SLICE_EXT_ENABLED, Rseq};
use abi::errno::{EINVAL, ENOTSUPP, ENXIO};
use abi::prctl::{
    PR_RSEQ_SLICE_EXT_ENABLE, PR_RSEQ_SLICE_EXTENSION_GET, PR_RSEQ_SLICE_EXTENSION_SET,
};

const SLICE_CTRL: u64 = Rseq::SLICE_CTRL_OFFSET as u64;
const FLAGS: u64 = Rseq::FLAGS_OFFSET as u64;
/// `slice_ctrl` as one little-endian word: request is byte 0, granted byte 1.
const REQUEST: u32 = 0xff;
const GRANTED: u32 = 0xff00;
const GRANTED_ONE: u32 = 1 << 8;

/// What the exit loop does about a pending reschedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// Schedule as usual.
    Schedule,
    /// Extension granted: skip the schedule, arm the enforcement timer.
    Granted,
    /// A grant was revoked: schedule.
    Revoked,
}

fn slice_ctrl<M: UserMem>(t: &TaskRseq, mem: &mut M) -> Result<u32, Fatal> {
    mem.read_u32(t.usrptr + SLICE_CTRL)
        .map_err(|Fault| Fatal::Fault)
}

fn set_slice_ctrl<M: UserMem>(t: &TaskRseq, mem: &mut M, v: u32) -> Result<(), Fatal> {
    mem.write_u32(t.usrptr + SLICE_CTRL, v)
        .map_err(|Fault| Fatal::Fault)
}

/// The task has the extension enabled, which only a v2 registration can
/// have (Linux's `rseq_v2()` gate on every slice operation); in a v1 image
/// a constant false, so none of the slice code is there.
#[inline(always)]
fn slice_on<M: UserMem>(t: &TaskRseq, ctx: &Ctx<'_, M>) -> bool {
    t.slice_enabled && ctx.mode.version_of(t) == Version::V2
}

/// Ends the current grant in the kernel and in user memory.
fn end_grant<M: UserMem>(t: &mut TaskRseq, mem: &mut M) -> Result<(), Fatal> {
    t.slice_granted = false;
    set_slice_ctrl(t, mem, 0)
}

/// Linux's `rseq_grant_slice_extension()`, at the reschedule step of the
/// exit loop. `from_irq`: this exit returns from an interrupt or exception
/// (never a syscall); `other_work`: any pending work besides
/// NEED_RESCHED(_LAZY), TIF_RSEQ included (the task was already scheduled).
/// A thread that set `granted` itself is fatal.
pub fn grant_slice_extension<M: UserMem>(
    t: &mut TaskRseq,
    ctx: &mut Ctx<'_, M>,
    from_irq: bool,
    other_work: bool,
) -> Result<Grant, Fatal> {
    if !slice_on(t, ctx) {
        return Ok(Grant::Schedule);
    }
    if t.slice_granted {
        // A second need-resched, or other work, while granted: revoke.
        end_grant(t, ctx.mem)?;
        ctx.stats.s_revoked += 1;
        return Ok(Grant::Revoked);
    }
    if !from_irq || other_work {
        return Ok(Grant::Schedule);
    }
    let ctrl = slice_ctrl(t, ctx.mem)?;
    if ctrl & GRANTED != 0 {
        return Err(Fatal::SliceCtrl {
            why: "granted set without a grant",
            found: ctrl,
        });
    }
    if ctrl & REQUEST == 0 {
        return Ok(Grant::Schedule);
    }
    set_slice_ctrl(t, ctx.mem, GRANTED_ONE)?;
    t.slice_granted = true;
    ctx.stats.s_granted += 1;
    Ok(Grant::Granted)
}

/// The enforcement timer fired on the CPU running `t`: if the grant is
/// still on, the task must now be rescheduled (the exit loop then revokes).
/// Returns whether to set NEED_RESCHED.
pub fn timer_expired(t: &TaskRseq, stats: &mut crate::RseqStats) -> bool {
    if t.slice_granted {
        stats.s_expired += 1;
        true
    } else {
        false
    }
}

/// `rseq_slice_yield()` (syscall 471): 1 when it ended a grant (the kernel
/// then schedules), 0 otherwise. `granted` set without a grant is fatal.
pub fn slice_yield<M: UserMem>(t: &mut TaskRseq, ctx: &mut Ctx<'_, M>) -> Result<i64, Fatal> {
    if !slice_on(t, ctx) {
        return Ok(0);
    }
    if t.slice_granted {
        end_grant(t, ctx.mem)?;
        ctx.stats.s_yielded += 1;
        return Ok(1);
    }
    let ctrl = slice_ctrl(t, ctx.mem)?;
    if ctrl & GRANTED != 0 {
        return Err(Fatal::SliceCtrl {
            why: "granted set without a grant",
            found: ctrl,
        });
    }
    Ok(0)
}

/// Syscall entry (any syscall but `rseq_slice_yield`) of a thread with the
/// extension enabled: a syscall during a grant aborts it (the kernel then
/// reschedules on the way out). Returns whether a grant was aborted.
pub fn syscall_entry<M: UserMem>(t: &mut TaskRseq, ctx: &mut Ctx<'_, M>) -> Result<bool, Fatal> {
    if !slice_on(t, ctx) {
        return Ok(false);
    }
    if t.slice_granted {
        end_grant(t, ctx.mem)?;
        ctx.stats.s_aborted += 1;
        return Ok(true);
    }
    let ctrl = slice_ctrl(t, ctx.mem)?;
    if ctrl & GRANTED != 0 {
        return Err(Fatal::SliceCtrl {
            why: "granted set without a grant",
            found: ctrl,
        });
    }
    Ok(false)
}

/// The task is being scheduled (switched out): any grant is over. The user
/// word is cleared by the v2 ID/slice update on its next exit.
pub fn sched_out(t: &mut TaskRseq) {
    t.slice_granted = false;
}

/// Why `prctl(PR_RSEQ_SLICE_EXTENSION, ...)` failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrctlError {
    /// Return this errno (positive).
    Errno(i64),
    /// The rseq area's flags were inconsistent: kill the task.
    Fatal(Fatal),
}

/// `prctl(PR_RSEQ_SLICE_EXTENSION, arg2, arg3, arg4, arg5)` (Linux's
/// `rseq_slice_extension_prctl()` with sys_prctl's arg4/arg5 check):
/// GET → 1 when enabled, else 0; SET enables (`arg3 == 1`) or disables
/// (`arg3 == 0`), keeping `flags` bit 5 in step. `available`: the image
/// offers the extension (v2 or `linux`) and `rseq_slice_ext=1`. An image
/// without the extension ([`crate::Mode::has_slice_extension`], v1)
/// answers every call past sys_prctl's arg4/arg5 check with ENOTSUPP, GET
/// included. SET's errors in Linux's
/// order: bad arguments EINVAL, not available ENOTSUPP, not registered
/// ENXIO, then a v1 registration (a `linux` image's 32-byte one) ENOTSUPP.
pub fn prctl<M: UserMem>(
    t: &mut TaskRseq,
    ctx: &mut Ctx<'_, M>,
    args: [u64; 4],
    available: bool,
) -> Result<i64, PrctlError> {
    let [arg2, arg3, arg4, arg5] = args;
    if arg4 != 0 || arg5 != 0 {
        return Err(PrctlError::Errno(EINVAL));
    }
    if !ctx.mode.has_slice_extension() {
        return Err(PrctlError::Errno(ENOTSUPP));
    }
    match arg2 {
        PR_RSEQ_SLICE_EXTENSION_GET => {
            if arg3 != 0 {
                return Err(PrctlError::Errno(EINVAL));
            }
            Ok(if t.slice_enabled {
                PR_RSEQ_SLICE_EXT_ENABLE as i64
            } else {
                0
            })
        }
        PR_RSEQ_SLICE_EXTENSION_SET => {
            if arg3 & !PR_RSEQ_SLICE_EXT_ENABLE != 0 {
                return Err(PrctlError::Errno(EINVAL));
            }
            let enable = arg3 & PR_RSEQ_SLICE_EXT_ENABLE != 0;
            if !available {
                return Err(PrctlError::Errno(ENOTSUPP));
            }
            if !t.registered() {
                return Err(PrctlError::Errno(ENXIO));
            }
            if ctx.mode.version_of(t) != Version::V2 {
                return Err(PrctlError::Errno(ENOTSUPP));
            }
            if enable == t.slice_enabled {
                return Ok(0);
            }
            let flags_at = t.usrptr + FLAGS;
            let flags = ctx
                .mem
                .read_u32(flags_at)
                .map_err(|Fault| PrctlError::Fatal(Fatal::Fault))?;
            let mut valid = RSEQ_CS_FLAG_SLICE_EXT_AVAILABLE;
            if t.slice_enabled {
                valid |= RSEQ_CS_FLAG_SLICE_EXT_ENABLED;
            }
            if flags & valid != valid {
                return Err(PrctlError::Fatal(Fatal::SliceCtrl {
                    why: "rseq flags bits 4/5 overwritten",
                    found: flags,
                }));
            }
            let flags = (flags & !RSEQ_CS_FLAG_SLICE_EXT_ENABLED)
                | if enable {
                    RSEQ_CS_FLAG_SLICE_EXT_ENABLED
                } else {
                    0
                };
            ctx.mem
                .write_u32(flags_at, flags)
                .map_err(|Fault| PrctlError::Fatal(Fatal::Fault))?;
            t.slice_enabled = enable;
            if !enable && t.slice_granted {
                end_grant(t, ctx.mem).map_err(PrctlError::Fatal)?;
            }
            Ok(0)
        }
        _ => Err(PrctlError::Errno(EINVAL)),
    }
}
