//! ppoll(2) (glibc's `poll` and `ppoll`): the console fds are always ready
//! (fd 0 at end of file reads without blocking, fds 1 and 2 take writes),
//! every other fd is not open (POLLNVAL), so a call either returns at once
//! or is a sleep — Linux's selftests use `poll(NULL, 0, ms)` as one — that
//! a signal ends with EINTR. A signal mask given to ppoll is in force for
//! the wait and until a handler for the signal that ended it has run.

use super::error::Errno;
use super::user::UserPtr;
use crate::process::futex::{ns_to_ticks, timespec_ns};
use crate::process::signal::queue::recalc_sigpending;
use crate::process::signal::state::{SIGKILL, SIGSTOP, bit};
use crate::sched::task::{WakeReason, current};
use abi::errno::{EINTR, EINVAL};
use abi::poll::{POLLIN, POLLNVAL, POLLOUT, POLLRDNORM, POLLWRNORM, Pollfd};
use abi::time::Timespec;

/// Linux's limit: `RLIMIT_NOFILE`'s soft value (1024 here, see prlimit64).
const MAX_NFDS: u32 = 1024;

/// What fd `fd` is ready for, of the requested `events`.
fn revents(fd: i32, events: i16) -> i16 {
    match fd {
        fd if fd < 0 => 0,
        0 => events & (POLLIN | POLLRDNORM),
        1 | 2 => events & (POLLOUT | POLLWRNORM),
        _ => POLLNVAL,
    }
}

/// ppoll(fds, nfds, tmo, sigmask, sigsetsize).
pub fn sys_ppoll(
    fds: UserPtr<Pollfd>,
    nfds: u32,
    tmo: UserPtr<Timespec>,
    sigmask: UserPtr<u64>,
    sigsetsize: usize,
) -> Result<usize, Errno> {
    let timeout_ns = if tmo.is_null() {
        None
    } else {
        Some(timespec_ns(tmo)?)
    };
    let mask = if sigmask.is_null() {
        None
    } else {
        if sigsetsize != 8 {
            return Err(Errno(EINVAL));
        }
        Some(sigmask.read()?)
    };
    if nfds > MAX_NFDS {
        return Err(Errno(EINVAL));
    }
    let mut ready = 0;
    for i in 0..u64::from(nfds) {
        let entry = UserPtr::<Pollfd>::new(fds.addr().wrapping_add(i * 8));
        let mut p = entry.read()?;
        p.revents = revents(p.fd, p.events);
        entry.write(p)?;
        ready += usize::from(p.revents != 0);
    }
    if ready > 0 || timeout_ns == Some(0) {
        return Ok(ready);
    }
    let task = current();
    if let Some(mask) = mask {
        let mut st = task.sig.lock();
        st.saved_mask = Some(st.blocked);
        st.blocked = mask & !(bit(SIGKILL) | bit(SIGSTOP));
        drop(st);
        recalc_sigpending(task);
    }
    let start = arch::timer::counter();
    let deadline = timeout_ns.map_or(u64::MAX, |ns| start.saturating_add(ns_to_ticks(ns)));
    let why = crate::sched::sleep_until(deadline);
    if why == WakeReason::Signal {
        // The mask stays until the signal's handler has run (do_signal).
        if !tmo.is_null()
            && let Some(ns) = timeout_ns
        {
            let slept = ticks_ns(arch::timer::counter().saturating_sub(start));
            tmo.write(Timespec::from_ns(ns.saturating_sub(slept)))?;
        }
        return Err(Errno(EINTR));
    }
    if mask.is_some() {
        let mut st = task.sig.lock();
        if let Some(old) = st.saved_mask.take() {
            st.blocked = old;
        }
        drop(st);
        recalc_sigpending(task);
    }
    if !tmo.is_null() {
        tmo.write(Timespec::from_ns(0))?;
    }
    Ok(0)
}

/// Counter ticks as nanoseconds.
fn ticks_ns(ticks: u64) -> u128 {
    u128::from(ticks) * 1_000_000_000 / u128::from(arch::timer::cntfrq())
}
