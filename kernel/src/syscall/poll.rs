//! ppoll(2) (glibc's `poll` and `ppoll`): the console's descriptions are
//! always ready (its input at end of file reads without blocking, its
//! output takes writes), an fd that is not open is POLLNVAL, so a call
//! either returns at once or is a sleep — Linux's selftests use
//! `poll(NULL, 0, ms)` as one — that a signal ends with `ERESTARTNOHAND`:
//! `EINTR` when a handler runs, a restart (with the time left, which is
//! written back) when none does. A signal mask given to ppoll is in force
//! for the call and, when a signal ended it, until that signal's handler
//! has run (Linux's saved sigmask).

use super::error::Errno;
use super::user::UserPtr;
use crate::process::files::{self, Kind};
use crate::process::futex::{ns_to_ticks, timespec_ns};
use crate::process::signal::queue::recalc_sigpending;
use crate::process::signal::state::{SIGKILL, SIGSTOP, bit};
use crate::sched::task::{Task, WakeReason, current};
use abi::errno::{EFAULT, EINTR, EINVAL, ERESTARTNOHAND};
use abi::poll::{POLLIN, POLLNVAL, POLLOUT, POLLRDNORM, POLLWRNORM, Pollfd};
use abi::time::Timespec;
use entry::tif::TIF_SIGPENDING;

/// What fd `fd` is ready for, of the requested `events`.
fn revents(fd: i32, events: i16) -> i16 {
    let Ok(fd) = u32::try_from(fd) else {
        return 0;
    };
    match files::fget(fd) {
        Err(_) => POLLNVAL,
        Ok(d) => match d.kind {
            Kind::ConsoleIn => events & (POLLIN | POLLRDNORM),
            Kind::ConsoleOut => events & (POLLOUT | POLLWRNORM),
        },
    }
}

/// The `i`th entry of the array at `fds`.
fn entry(fds: UserPtr<Pollfd>, i: u64) -> UserPtr<Pollfd> {
    UserPtr::new(fds.addr().wrapping_add(i * size_of::<Pollfd>() as u64))
}

/// How many of the `nfds` entries are ready (each read again, `EFAULT`);
/// with `write`, their `revents` are stored too.
fn scan(fds: UserPtr<Pollfd>, nfds: u32, write: bool) -> Result<usize, Errno> {
    let mut ready = 0;
    for i in 0..u64::from(nfds) {
        let mut p = entry(fds, i).read()?;
        p.revents = revents(p.fd, p.events);
        if write {
            entry(fds, i).write(p)?;
        }
        ready += usize::from(p.revents != 0);
    }
    Ok(ready)
}

/// ppoll(fds, nfds, tmo, sigmask, sigsetsize), Linux's steps in order:
/// the timeout is read (`EFAULT`, `EINVAL`); the mask (`sigsetsize` 8,
/// else `EINVAL`; `EFAULT`) is put in force; nfds above RLIMIT_NOFILE
/// `EINVAL`; the array is read (`EFAULT`); then the poll, a sleep if
/// nothing is ready, and the `revents` stored (`EFAULT`). The time left is
/// written back to a non-zero timeout however the call ends (failing to
/// only matters to a restart, which then becomes `EINTR`); the mask goes
/// back unless a signal ended the call (`ERESTARTNOHAND`, see the module).
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
    let start = arch::timer::counter();
    let mask = if sigmask.is_null() {
        None
    } else {
        if sigsetsize != 8 {
            return Err(Errno(EINVAL));
        }
        Some(sigmask.read()?)
    };
    let task = current();
    if let Some(mask) = mask {
        let mut st = task.sig.lock();
        st.saved_mask = Some(st.blocked);
        st.blocked = mask & !(bit(SIGKILL) | bit(SIGSTOP));
        drop(st);
        recalc_sigpending(task);
    }
    let ret = do_poll(task, fds, nfds, timeout_ns, start);
    if ret != Err(Errno(ERESTARTNOHAND)) && mask.is_some() {
        let mut st = task.sig.lock();
        if let Some(old) = st.saved_mask.take() {
            st.blocked = old;
        }
        drop(st);
        recalc_sigpending(task);
    }
    match timeout_ns {
        Some(ns) if ns > 0 => {
            let slept = ticks_ns(arch::timer::counter().saturating_sub(start));
            let left = Timespec::from_ns(ns.saturating_sub(slept));
            match (tmo.write(left), ret) {
                (Err(_), Err(Errno(ERESTARTNOHAND))) => Err(Errno(EINTR)),
                _ => ret,
            }
        }
        _ => ret,
    }
}

/// Linux's `do_sys_poll` once the mask is in force: the checks, a poll, a
/// sleep until the timeout or a signal while nothing is ready, a last
/// poll, and the `revents` stored.
fn do_poll(
    task: &Task,
    fds: UserPtr<Pollfd>,
    nfds: u32,
    timeout_ns: Option<u128>,
    start: u64,
) -> Result<usize, Errno> {
    if u64::from(nfds) > crate::process::rlimit::nofile() {
        return Err(Errno(EINVAL));
    }
    let mut ready = scan(fds, nfds, false)?;
    let mut signalled = task.flags.test(TIF_SIGPENDING);
    if ready == 0 && !signalled && timeout_ns != Some(0) {
        let deadline = timeout_ns.map_or(u64::MAX, |ns| start.saturating_add(ns_to_ticks(ns)));
        signalled = crate::sched::sleep_until(deadline) == WakeReason::Signal;
    }
    // The last poll decides; its result goes back to the app.
    ready = match scan(fds, nfds, true) {
        Ok(n) => n,
        Err(_) => return Err(Errno(EFAULT)),
    };
    if ready == 0 && signalled {
        // Linux's restart idiom: the exit path decides, signal or not.
        task.flags.set(TIF_SIGPENDING);
        return Err(Errno(ERESTARTNOHAND));
    }
    Ok(ready)
}

/// Counter ticks as nanoseconds.
fn ticks_ns(ticks: u64) -> u128 {
    u128::from(ticks) * 1_000_000_000 / u128::from(arch::timer::cntfrq())
}
