//! futex(2): FUTEX_WAIT and FUTEX_WAKE (private or not: there is one
//! process), with an optional relative timeout. One global wait list keyed
//! by user address; the word is read under its lock, so a wake between the
//! check and the sleep cannot be lost.

use crate::sched;
use crate::sched::task::{Task, WakeReason, current};
use crate::sync::SpinLock;
use crate::syscall::error::Errno;
use crate::syscall::user::UserPtr;
use abi::errno::*;
use alloc::vec::Vec;

use abi::futex::{FUTEX_CLOCK_REALTIME, FUTEX_PRIVATE_FLAG, FUTEX_WAIT, FUTEX_WAKE};
use abi::time::Timespec;

/// Waiters: (user address, task).
static WAITERS: SpinLock<Vec<(u64, &'static Task)>> = SpinLock::new(Vec::new());

/// A user `struct timespec` as nanoseconds (exact: up to i64::MAX
/// seconds), EFAULT or EINVAL as Linux's `get_timespec64` plus
/// `timespec64_valid`.
pub fn timespec_ns(ts: UserPtr<Timespec>) -> Result<u128, Errno> {
    ts.read()?.to_ns().ok_or(Errno(EINVAL))
}

/// Nanoseconds as counter ticks, clamped to half the counter's range
/// (thousands of years: never reached, never overflowing a deadline).
pub fn ns_to_ticks(ns: u128) -> u64 {
    (ns * arch::timer::cntfrq() as u128 / 1_000_000_000).min(u64::MAX as u128 / 2) as u64
}

/// futex(uaddr, op, val, timeout, uaddr2, val3).
pub fn sys_futex(
    uaddr: UserPtr<u32>,
    op: u64,
    val: u64,
    timeout: UserPtr<Timespec>,
) -> Result<usize, Errno> {
    let cmd = op & !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
    if !uaddr.addr().is_multiple_of(4) {
        return Err(Errno(EINVAL));
    }
    match cmd {
        FUTEX_WAIT => futex_wait(uaddr, val as u32, timeout).map(|()| 0),
        FUTEX_WAKE => Ok(futex_wake(uaddr.addr(), val.min(i32::MAX as u64) as usize)),
        _ => Err(Errno(ENOSYS)),
    }
}

fn futex_wait(uaddr: UserPtr<u32>, val: u32, timeout: UserPtr<Timespec>) -> Result<(), Errno> {
    let deadline = if timeout.is_null() {
        None
    } else {
        let ticks = ns_to_ticks(timespec_ns(timeout)?);
        Some(arch::timer::counter().saturating_add(ticks))
    };
    let me = current();
    {
        let mut waiters = WAITERS.lock();
        if uaddr.read()? != val {
            return Err(Errno(EAGAIN));
        }
        sched::prepare_to_wait();
        if me.flags.test(entry::tif::TIF_SIGPENDING) {
            sched::finish_wait();
            return Err(Errno(EINTR));
        }
        waiters.push((uaddr.addr(), me));
    }
    if let Some(d) = deadline {
        sched::timer_add(d);
    }
    let why = sched::wait();
    if deadline.is_some() {
        sched::timer_del();
    }
    // Still queued unless a waker took us off.
    let was_queued = {
        let mut waiters = WAITERS.lock();
        let before = waiters.len();
        waiters.retain(|&(_, t)| !core::ptr::eq(t, me));
        waiters.len() != before
    };
    match why {
        _ if !was_queued => Ok(()),
        WakeReason::Timeout => Err(Errno(ETIMEDOUT)),
        WakeReason::Signal => Err(Errno(EINTR)),
        _ => Ok(()),
    }
}

/// Wakes up to `n` waiters on `uaddr`; returns how many. They are taken
/// off the list a batch at a time (no allocation) and woken outside its lock.
pub fn futex_wake(uaddr: u64, n: usize) -> usize {
    let mut woken = 0;
    while woken < n {
        let mut batch = [None; sched::WAKE_BATCH];
        let mut got = 0;
        {
            let mut waiters = WAITERS.lock();
            waiters.retain(|&(a, t)| {
                if a == uaddr && got < sched::WAKE_BATCH && woken + got < n {
                    batch[got] = Some(t);
                    got += 1;
                    false
                } else {
                    true
                }
            });
        }
        for t in batch.iter().flatten() {
            sched::wake_up(t, WakeReason::Event);
        }
        woken += got;
        if got < sched::WAKE_BATCH {
            break;
        }
    }
    woken
}

/// Reserves room for `tasks` waiters, so that waiting never allocates.
/// False when the heap is exhausted.
pub fn reserve_task_slots(tasks: usize) -> bool {
    let mut waiters = WAITERS.lock();
    let more = tasks.saturating_sub(waiters.len());
    waiters.try_reserve(more).is_ok()
}
