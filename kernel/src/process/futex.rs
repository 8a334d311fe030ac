//! futex(2): FUTEX_WAIT, FUTEX_WAKE, their _BITSET forms, FUTEX_REQUEUE and
//! FUTEX_CMP_REQUEUE (private or not: there is one process), with
//! Linux's timeouts (relative for FUTEX_WAIT, absolute on CLOCK_MONOTONIC
//! or, with FUTEX_CLOCK_REALTIME, CLOCK_REALTIME for FUTEX_WAIT_BITSET).
//! One global wait list keyed by user address, in arrival order; the word
//! is read under its lock, so a wake between the check and the sleep
//! cannot be lost. The robust lists are in `robust`.

use crate::process::signal::state::RestartBlock;
use crate::sched;
use crate::sched::task::{Task, WakeReason, current};
use crate::sync::SpinLock;
use crate::syscall::error::Errno;
use crate::syscall::user::UserPtr;
use abi::errno::*;
use alloc::vec::Vec;

use abi::futex::{
    FUTEX_BITSET_MATCH_ANY, FUTEX_CLOCK_REALTIME, FUTEX_CMP_REQUEUE, FUTEX_PRIVATE_FLAG,
    FUTEX_REQUEUE, FUTEX_WAIT, FUTEX_WAIT_BITSET, FUTEX_WAKE, FUTEX_WAKE_BITSET,
};
use abi::time::{REALTIME_OFFSET_NS, Timespec};

/// A waiter: the word it waits on, the task, its wake-up bitset.
#[derive(Clone, Copy)]
struct Waiter {
    uaddr: u64,
    task: &'static Task,
    bitset: u32,
}

/// Every waiter, in arrival order.
static WAITERS: SpinLock<Vec<Waiter>> = SpinLock::new(Vec::new());

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

/// Linux's `get_futex_key` checks: a word is 4-aligned (`EINVAL`) and in
/// user space (`EFAULT`).
fn check_word(uaddr: UserPtr<u32>) -> Result<(), Errno> {
    if !uaddr.addr().is_multiple_of(4) {
        return Err(Errno(EINVAL));
    }
    if !arch::uaccess::access_ok(uaddr.addr(), 4) {
        return Err(Errno(EFAULT));
    }
    Ok(())
}

/// futex(uaddr, op, val, timeout or val2, uaddr2, val3), checks in
/// Linux's order: the timeout (commands that wait), FUTEX_CLOCK_REALTIME
/// with a command other than FUTEX_WAIT_BITSET (`ENOSYS`), then the
/// command's own; unknown commands `ENOSYS`.
pub fn sys_futex(
    uaddr: UserPtr<u32>,
    op: i32,
    val: u32,
    utime: UserPtr<Timespec>,
    uaddr2: UserPtr<u32>,
    val3: u32,
) -> Result<usize, Errno> {
    let op = u64::from(op as u32);
    let cmd = op & !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
    let deadline = match cmd {
        FUTEX_WAIT | FUTEX_WAIT_BITSET if !utime.is_null() => {
            let ns = timespec_ns(utime)?;
            Some(if cmd == FUTEX_WAIT {
                arch::timer::counter().saturating_add(ns_to_ticks(ns))
            } else if op & FUTEX_CLOCK_REALTIME != 0 {
                ns_to_ticks(ns.saturating_sub(u128::from(REALTIME_OFFSET_NS)))
            } else {
                ns_to_ticks(ns)
            })
        }
        _ => None,
    };
    if op & FUTEX_CLOCK_REALTIME != 0 && cmd != FUTEX_WAIT_BITSET {
        return Err(Errno(ENOSYS));
    }
    match cmd {
        FUTEX_WAIT => futex_wait(uaddr, val, deadline, FUTEX_BITSET_MATCH_ANY).map(|()| 0),
        FUTEX_WAIT_BITSET => futex_wait(uaddr, val, deadline, val3).map(|()| 0),
        FUTEX_WAKE | FUTEX_WAKE_BITSET => {
            let bitset = if cmd == FUTEX_WAKE {
                FUTEX_BITSET_MATCH_ANY
            } else {
                val3
            };
            if bitset == 0 {
                return Err(Errno(EINVAL));
            }
            check_word(uaddr)?;
            // Linux wakes one before it compares the count: 0 or a
            // negative count still wakes one.
            Ok(wake_bitset(
                uaddr.addr(),
                (val as i32).max(1) as usize,
                bitset,
            ))
        }
        FUTEX_REQUEUE | FUTEX_CMP_REQUEUE => {
            let cmpval = (cmd == FUTEX_CMP_REQUEUE).then_some(val3);
            futex_requeue(
                uaddr,
                uaddr2,
                val as i32,
                utime.addr() as u32 as i32,
                cmpval,
            )
        }
        _ => Err(Errno(ENOSYS)),
    }
}

/// Sleeps while `*uaddr == val` until a wake whose bitset meets `bitset`,
/// the counter `deadline` (`ETIMEDOUT`) or a signal. A signal ends it as
/// Linux's `futex_wait()` does: without a timeout `ERESTARTSYS` (the wait
/// restarts unless a handler without SA_RESTART runs, then `EINTR`); with
/// one `ERESTART_RESTARTBLOCK`, the absolute timeout kept in the thread's
/// restart block (restarted through `restart_syscall` when no handler
/// runs, else `EINTR`).
fn futex_wait(
    uaddr: UserPtr<u32>,
    val: u32,
    deadline: Option<u64>,
    bitset: u32,
) -> Result<(), Errno> {
    if bitset == 0 {
        return Err(Errno(EINVAL));
    }
    check_word(uaddr)?;
    let me = current();
    {
        let mut waiters = WAITERS.lock();
        if uaddr.read()? != val {
            return Err(Errno(EAGAIN));
        }
        sched::prepare_to_wait();
        if me.flags.test(entry::tif::TIF_SIGPENDING) {
            sched::finish_wait();
            return Err(interrupted(uaddr, val, deadline, bitset));
        }
        waiters.push(Waiter {
            uaddr: uaddr.addr(),
            task: me,
            bitset,
        });
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
        waiters.retain(|w| !core::ptr::eq(w.task, me));
        waiters.len() != before
    };
    match why {
        _ if !was_queued => Ok(()),
        WakeReason::Timeout => Err(Errno(ETIMEDOUT)),
        WakeReason::Signal => Err(interrupted(uaddr, val, deadline, bitset)),
        _ => Ok(()),
    }
}

/// A wait a signal ended: `ERESTARTSYS`, or with a timeout
/// `ERESTART_RESTARTBLOCK` and the restart block that continues it.
/// TIF_SIGPENDING is set again (Linux's `restart_syscall()` idiom) so the
/// exit path decides the restart even if the signal went meanwhile.
fn interrupted(uaddr: UserPtr<u32>, val: u32, deadline: Option<u64>, bitset: u32) -> Errno {
    let me = current();
    me.flags.set(entry::tif::TIF_SIGPENDING);
    match deadline {
        None => Errno(ERESTARTSYS),
        Some(deadline) => {
            me.sig.lock().restart = RestartBlock::FutexWait {
                uaddr: uaddr.addr(),
                val,
                bitset,
                deadline,
            };
            Errno(ERESTART_RESTARTBLOCK)
        }
    }
}

/// Linux's `futex_wait_restart()`: the wait of a restart block, with the
/// same absolute timeout (the block is cleared first; a new interruption
/// sets it again).
pub fn futex_wait_restart(
    uaddr: u64,
    val: u32,
    bitset: u32,
    deadline: u64,
) -> Result<usize, Errno> {
    current().sig.lock().restart = RestartBlock::None;
    futex_wait(UserPtr::new(uaddr), val, Some(deadline), bitset).map(|()| 0)
}

/// Wakes up to `n` waiters on `uaddr`; returns how many.
pub fn futex_wake(uaddr: u64, n: usize) -> usize {
    wake_bitset(uaddr, n, FUTEX_BITSET_MATCH_ANY)
}

/// Takes up to `n` waiters on `uaddr` whose bitset meets `bitset` off the
/// list, then up to `requeue` more of those on `uaddr` onto `uaddr2`;
/// returns (woken, requeued). The woken go a batch at a time (no
/// allocation), woken outside the list's lock; the requeue happens in the
/// pass that completes the wakes.
fn wake_requeue(uaddr: u64, n: usize, bitset: u32, requeue: usize, uaddr2: u64) -> (usize, usize) {
    let mut woken = 0;
    let mut moved = 0;
    loop {
        let mut batch = sched::TaskBatch::new();
        {
            let mut waiters = WAITERS.lock();
            waiters.retain_mut(|w| {
                if w.uaddr != uaddr || w.bitset & bitset == 0 {
                    return true;
                }
                if woken + batch.len() < n {
                    return !batch.push(w.task);
                }
                if moved < requeue {
                    w.uaddr = uaddr2;
                    moved += 1;
                }
                true
            });
        }
        for t in batch.iter() {
            sched::wake_up(t, WakeReason::Event);
        }
        woken += batch.len();
        if !batch.is_full() || woken >= n {
            break;
        }
    }
    (woken, moved)
}

fn wake_bitset(uaddr: u64, n: usize, bitset: u32) -> usize {
    wake_requeue(uaddr, n, bitset, 0, 0).0
}

/// FUTEX_REQUEUE / FUTEX_CMP_REQUEUE: wakes `nr_wake` waiters of `uaddr`
/// and moves up to `nr_requeue` of the rest to `uaddr2`; returns both
/// counts summed. Negative counts `EINVAL`; both words checked
/// (`EINVAL`, `EFAULT`); with `cmpval`, `*uaddr` must still hold it
/// (`EAGAIN`), read under the list's lock.
fn futex_requeue(
    uaddr: UserPtr<u32>,
    uaddr2: UserPtr<u32>,
    nr_wake: i32,
    nr_requeue: i32,
    cmpval: Option<u32>,
) -> Result<usize, Errno> {
    if nr_wake < 0 || nr_requeue < 0 {
        return Err(Errno(EINVAL));
    }
    check_word(uaddr)?;
    check_word(uaddr2)?;
    if let Some(expected) = cmpval {
        let _waiters = WAITERS.lock();
        if uaddr.read()? != expected {
            return Err(Errno(EAGAIN));
        }
    }
    let (woken, moved) = wake_requeue(
        uaddr.addr(),
        nr_wake as usize,
        FUTEX_BITSET_MATCH_ANY,
        nr_requeue as usize,
        uaddr2.addr(),
    );
    Ok(woken + moved)
}

/// Reserves room for `tasks` waiters, so that waiting never allocates.
/// False when the heap is exhausted.
pub fn reserve_task_slots(tasks: usize) -> bool {
    let mut waiters = WAITERS.lock();
    let more = tasks.saturating_sub(waiters.len());
    waiters.try_reserve(more).is_ok()
}
