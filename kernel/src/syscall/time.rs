//! Clocks and sleeping: clock_gettime, clock_getres, nanosleep,
//! clock_nanosleep. Every clock reads the system counter since boot:
//! CLOCK_MONOTONIC, _RAW and _COARSE and CLOCK_BOOTTIME as it is,
//! CLOCK_REALTIME and _COARSE plus an epoch offset of 0
//! (`abi::time::REALTIME_OFFSET_NS`: the kernel has no time of day, so
//! the wall clock reads 1970-01-01 at boot).

use super::error::Errno;
use super::user::UserPtr;
use abi::errno::{EINTR, EINVAL, EOPNOTSUPP};
use abi::time::{
    CLOCK_BOOTTIME, CLOCK_MONOTONIC, CLOCK_MONOTONIC_COARSE, CLOCK_MONOTONIC_RAW, CLOCK_REALTIME,
    CLOCK_REALTIME_COARSE, REALTIME_OFFSET_NS, TIMER_ABSTIME, Timespec,
};

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
/// CLOCK_REALTIME time is taken minus the epoch offset), tick resolution;
/// the clocks Linux cannot sleep on (_RAW, _COARSE) `EOPNOTSUPP`, unknown
/// ones and unknown flags `EINVAL`; `EINTR` on a signal, with the time
/// left in `rem` (relative sleeps only).
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
    if flags & !TIMER_ABSTIME != 0 {
        return Err(Errno(EINVAL));
    }
    let req_ns = crate::process::futex::timespec_ns(req)?;
    let freq = arch::timer::cntfrq();
    let start = arch::timer::counter();
    let deadline = if flags & TIMER_ABSTIME != 0 {
        crate::process::futex::ns_to_ticks(req_ns.saturating_sub(u128::from(offset)))
    } else {
        start.saturating_add(crate::process::futex::ns_to_ticks(req_ns))
    };
    match crate::sched::sleep_until(deadline) {
        crate::sched::task::WakeReason::Signal => {
            if !rem.is_null() && flags & TIMER_ABSTIME == 0 {
                // The request minus the time slept, in nanoseconds: exact
                // for any request (the deadline itself may be clamped).
                let slept = arch::timer::counter().saturating_sub(start) as u128 * 1_000_000_000
                    / freq as u128;
                rem.write(Timespec::from_ns(req_ns.saturating_sub(slept)))?;
            }
            Err(Errno(EINTR))
        }
        _ => Ok(()),
    }
}
