//! Clocks and sleeping: clock_gettime, clock_getres, nanosleep,
//! clock_nanosleep. Every clock reads the system counter since boot:
//! CLOCK_MONOTONIC, _RAW and _COARSE and CLOCK_BOOTTIME as it is,
//! CLOCK_REALTIME and _COARSE plus an epoch offset of 0
//! (`abi::time::REALTIME_OFFSET_NS`: the kernel has no time of day, so
//! the wall clock reads 1970-01-01 at boot).

use super::error::Errno;
use super::user::UserPtr;
use crate::process::signal::state::RestartBlock;
use crate::sched::task::{WakeReason, current};
use abi::errno::{EINVAL, EOPNOTSUPP, ERESTART_RESTARTBLOCK, ERESTARTNOHAND};
use abi::time::{
    CLOCK_BOOTTIME, CLOCK_MONOTONIC, CLOCK_MONOTONIC_COARSE, CLOCK_MONOTONIC_RAW, CLOCK_REALTIME,
    CLOCK_REALTIME_COARSE, REALTIME_OFFSET_NS, TIMER_ABSTIME, Timespec,
};
use entry::tif::TIF_SIGPENDING;

/// What a clock id names here: its offset over the counter, and whether
/// it is a coarse clock (tick resolution).
fn clock(id: u64) -> Result<(u64, bool), Errno> {
    match id {
        CLOCK_MONOTONIC | CLOCK_MONOTONIC_RAW | CLOCK_BOOTTIME => Ok((0, false)),
        CLOCK_MONOTONIC_COARSE => Ok((0, true)),
        CLOCK_REALTIME => Ok((REALTIME_OFFSET_NS, false)),
        CLOCK_REALTIME_COARSE => Ok((REALTIME_OFFSET_NS, true)),
        _ => Err(Errno(EINVAL)),
    }
}

/// clock_gettime(clock, ts): the clocks above; others `EINVAL`.
pub fn sys_clock_gettime(clock_id: u64, ts: UserPtr<Timespec>) -> Result<(), Errno> {
    let (offset, _) = clock(clock_id)?;
    let ns = arch::timer::ticks_to_ns(arch::timer::counter(), arch::timer::cntfrq());
    ts.write(Timespec::from_ns(u128::from(ns) + u128::from(offset)))
}

/// clock_getres(clock, res): 1 ns for the high-resolution clocks (what
/// Linux reports with high-resolution timers), the tick period for the
/// coarse ones; a NULL `res` only checks the clock.
pub fn sys_clock_getres(clock_id: u64, res: UserPtr<Timespec>) -> Result<(), Errno> {
    let (_, coarse) = clock(clock_id)?;
    if res.is_null() {
        return Ok(());
    }
    let ns = if coarse {
        arch::timer::ticks_to_ns(crate::irqchip::tick_period(), arch::timer::cntfrq())
    } else {
        1
    };
    res.write(Timespec::from_nanos(ns))
}

/// nanosleep(req, rem): a relative clock_nanosleep on CLOCK_MONOTONIC.
pub fn sys_nanosleep(req: UserPtr<Timespec>, rem: UserPtr<Timespec>) -> Result<(), Errno> {
    sys_clock_nanosleep(CLOCK_MONOTONIC, 0, req, rem)
}

/// clock_nanosleep(clock, flags, req, rem): relative or TIMER_ABSTIME on
/// CLOCK_MONOTONIC, CLOCK_BOOTTIME or CLOCK_REALTIME (an absolute
/// CLOCK_REALTIME time is taken minus the epoch offset), tick resolution.
/// Linux's checks in order: an unknown clock `EINVAL`, one Linux cannot
/// sleep on (_RAW, _COARSE) `EOPNOTSUPP`, `req` `EFAULT` then `EINVAL`;
/// flags other than TIMER_ABSTIME are ignored, as Linux ignores them.
/// A signal ends it as Linux's `hrtimer_nanosleep()`: a relative sleep
/// writes the time left to `rem` (`EFAULT`) and returns
/// `ERESTART_RESTARTBLOCK` (`EINTR` when a handler runs; with none it
/// continues through `restart_syscall` to the same end), an absolute one
/// `ERESTARTNOHAND` (`EINTR` with a handler, else restarted as it was).
pub fn sys_clock_nanosleep(
    clock_id: u64,
    flags: u64,
    req: UserPtr<Timespec>,
    rem: UserPtr<Timespec>,
) -> Result<(), Errno> {
    let (offset, coarse) = clock(clock_id)?;
    if coarse || clock_id == CLOCK_MONOTONIC_RAW {
        return Err(Errno(EOPNOTSUPP));
    }
    let req_ns = crate::process::futex::timespec_ns(req)?;
    let me = current();
    me.sig.lock().restart = RestartBlock::None;
    if flags & TIMER_ABSTIME != 0 {
        let deadline = deadline_ticks(req_ns.saturating_sub(u128::from(offset)));
        if crate::sched::sleep_until(deadline) == WakeReason::Signal
            && arch::timer::counter() < deadline
        {
            me.flags.set(TIF_SIGPENDING);
            return Err(Errno(ERESTARTNOHAND));
        }
        return Ok(());
    }
    nanosleep_until(now_ns() + req_ns, rem)
}

/// Linux's `do_nanosleep()` of a relative sleep (first run or restart):
/// sleeps until `end_ns` (counter nanoseconds); interrupted, it writes the
/// time left to `rem` unless that is NULL (nothing left: done, 0) and
/// leaves the restart block that continues it.
fn nanosleep_until(end_ns: u128, rem: UserPtr<Timespec>) -> Result<(), Errno> {
    let deadline = deadline_ticks(end_ns);
    if crate::sched::sleep_until(deadline) != WakeReason::Signal
        || arch::timer::counter() >= deadline
    {
        return Ok(());
    }
    if !rem.is_null() {
        // The end minus now, in nanoseconds: exact for any request (the
        // deadline in ticks may be clamped).
        let left = end_ns.saturating_sub(now_ns());
        if left == 0 {
            return Ok(());
        }
        rem.write(Timespec::from_ns(left))?;
    }
    let me = current();
    me.sig.lock().restart = RestartBlock::Nanosleep {
        end_ns,
        rem: rem.addr(),
    };
    me.flags.set(TIF_SIGPENDING);
    Err(Errno(ERESTART_RESTARTBLOCK))
}

/// Linux's `hrtimer_nanosleep_restart()`: the rest of a relative sleep a
/// signal interrupted and no handler took, to the same end. The block
/// stays (as Linux leaves it), so another interruption continues it too.
pub fn nanosleep_restart(end_ns: u128, rem: u64) -> Result<(), Errno> {
    nanosleep_until(end_ns, UserPtr::new(rem))
}

/// The counter in nanoseconds since boot.
fn now_ns() -> u128 {
    u128::from(arch::timer::counter()) * 1_000_000_000 / u128::from(arch::timer::cntfrq())
}

/// The first counter value at or after `ns` nanoseconds since boot,
/// clamped as `ns_to_ticks` clamps.
fn deadline_ticks(ns: u128) -> u64 {
    let freq = u128::from(arch::timer::cntfrq());
    (ns.saturating_mul(freq).div_ceil(1_000_000_000)).min(u128::from(u64::MAX / 2)) as u64
}
