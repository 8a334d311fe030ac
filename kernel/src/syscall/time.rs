//! Clocks and sleeping: clock_gettime, nanosleep, clock_nanosleep on
//! CLOCK_MONOTONIC (the system counter since boot).

use super::error::Errno;
use super::user::UserPtr;
use abi::errno::{EINTR, EINVAL};
use abi::time::{CLOCK_MONOTONIC, TIMER_ABSTIME, Timespec};

/// clock_gettime(CLOCK_MONOTONIC, ts).
pub fn sys_clock_gettime(clock: u64, ts: UserPtr<Timespec>) -> Result<(), Errno> {
    if clock != CLOCK_MONOTONIC {
        return Err(Errno(EINVAL));
    }
    let ns = arch::timer::ticks_to_ns(arch::timer::counter(), arch::timer::cntfrq());
    ts.write(Timespec::from_ns(u128::from(ns)))
}

/// nanosleep(req, rem): a relative clock_nanosleep on CLOCK_MONOTONIC.
pub fn sys_nanosleep(req: UserPtr<Timespec>, rem: UserPtr<Timespec>) -> Result<(), Errno> {
    sys_clock_nanosleep(CLOCK_MONOTONIC, 0, req, rem)
}

/// clock_nanosleep(clock, flags, req, rem): relative or TIMER_ABSTIME on
/// CLOCK_MONOTONIC, tick resolution; EINTR on a signal, with the time left
/// in `rem` (relative sleeps only).
pub fn sys_clock_nanosleep(
    clock: u64,
    flags: u64,
    req: UserPtr<Timespec>,
    rem: UserPtr<Timespec>,
) -> Result<(), Errno> {
    if clock != CLOCK_MONOTONIC || flags & !TIMER_ABSTIME != 0 {
        return Err(Errno(EINVAL));
    }
    let req_ns = crate::process::futex::timespec_ns(req)?;
    let ticks = crate::process::futex::ns_to_ticks(req_ns);
    let freq = arch::timer::cntfrq();
    let start = arch::timer::counter();
    let deadline = if flags & TIMER_ABSTIME != 0 {
        ticks
    } else {
        start.saturating_add(ticks)
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
