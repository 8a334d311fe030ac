//! Robust futexes: set_robust_list/get_robust_list, and the walk of a
//! thread's list when it exits (Linux's `exit_robust_list` and
//! `handle_futex_death`), which marks every lock the dead thread still
//! held FUTEX_OWNER_DIED and wakes a waiter, so that the next locker of a
//! robust pthread mutex gets `EOWNERDEAD` instead of waiting forever.

use super::futex::futex_wake;
use crate::sched::task::{Task, current};
use crate::syscall::error::Errno;
use crate::syscall::user::UserPtr;
use abi::errno::{EINVAL, ESRCH};
use abi::futex::{
    FUTEX_OWNER_DIED, FUTEX_TID_MASK, FUTEX_WAITERS, ROBUST_LIST_LIMIT, RobustListHead,
};
use arch::uaccess::{Cmpxchg, futex_cmpxchg};
use core::sync::atomic::Ordering;

/// `sizeof(struct robust_list_head)` on 64-bit: the only length accepted.
const ROBUST_LIST_HEAD_LEN: usize = size_of::<RobustListHead>();

/// set_robust_list(head, len): `len` must be 24 (`EINVAL`); the head is
/// the thread's until it exits, when [`exit_robust_list`] walks it. It is
/// not read here: a bad one only stops that walk.
pub fn sys_set_robust_list(head: u64, len: usize) -> Result<(), Errno> {
    if len != ROBUST_LIST_HEAD_LEN {
        return Err(Errno(EINVAL));
    }
    current().robust_list.store(head, Ordering::Relaxed);
    Ok(())
}

/// get_robust_list(pid, head_ptr, len_ptr): pid 0 or a live thread
/// (`ESRCH`); stores 24 in `*len_ptr`, then the head in `*head_ptr`
/// (`EFAULT`), in Linux's order.
pub fn sys_get_robust_list(
    pid: i32,
    head_ptr: UserPtr<u64>,
    len_ptr: UserPtr<usize>,
) -> Result<(), Errno> {
    let task = if pid == 0 {
        current()
    } else if crate::sched::task::is_live_thread(pid) {
        crate::sched::task::find(pid as u32).ok_or(Errno(ESRCH))?
    } else {
        return Err(Errno(ESRCH));
    };
    let head = task.robust_list.load(Ordering::Relaxed);
    len_ptr.write(ROBUST_LIST_HEAD_LEN)?;
    head_ptr.write(head)
}

/// Linux's `fetch_robust_entry()`: the pointer at `at` without its bit 0,
/// and bit 0 (the entry is a PI futex); `None` on a fault.
fn fetch_entry(at: u64) -> Option<(u64, bool)> {
    let v = UserPtr::<u64>::new(at).read().ok()?;
    Some((v & !1, v & 1 != 0))
}

/// Linux's `exit_robust_list()`, for `task` as it exits (before its
/// CLONE_CHILD_CLEARTID word is cleared, as Linux orders them): each
/// entry of its robust list, at most [`ROBUST_LIST_LIMIT`], then the
/// `list_op_pending` one, goes through [`handle_futex_death`]. A head,
/// entry or word that cannot be read, or a word that is misaligned or
/// cannot be written, ends the walk without a word (and then the pending
/// entry is left alone, as in Linux). The head is forgotten.
pub fn exit_robust_list(task: &Task) {
    let head = task.robust_list.swap(0, Ordering::Relaxed);
    if head == 0 {
        return;
    }
    let tid = task.tid();
    let Some((mut entry, mut pi)) = fetch_entry(head) else {
        return;
    };
    let Ok(futex_offset) = UserPtr::<i64>::new(head.wrapping_add(8)).read() else {
        return;
    };
    let Some((pending, pending_pi)) = fetch_entry(head.wrapping_add(16)) else {
        return;
    };
    let word = |entry: u64| entry.wrapping_add(futex_offset as u64);
    let mut limit = ROBUST_LIST_LIMIT;
    while entry != head {
        // The next entry first: handling this one may let its lock be
        // taken and the entry reused.
        let next = fetch_entry(entry);
        // The pending entry may be on the list too: handled once, below.
        if entry != pending && handle_futex_death(word(entry), tid, pi, false).is_err() {
            return;
        }
        let Some((n, npi)) = next else {
            return;
        };
        (entry, pi) = (n, npi);
        limit -= 1;
        if limit == 0 {
            break;
        }
    }
    if pending != 0 {
        let _ = handle_futex_death(word(pending), tid, pending_pi, true);
    }
}

/// Linux's `handle_futex_death()` for the futex word at `uaddr` of the
/// dying thread `tid`: if the word's owner is `tid`, it becomes
/// FUTEX_OWNER_DIED with its FUTEX_WAITERS bit kept (the TID cleared),
/// atomically against the app's own compare-and-swaps, and one waiter is
/// woken if FUTEX_WAITERS was set (not for a PI futex, which this kernel
/// has no PI waiters for). A pending non-PI entry whose word has no owner
/// (released, the waker died before its wake) gets the wake alone.
/// `Err` for a misaligned word or a fault: the walk stops.
fn handle_futex_death(uaddr: u64, tid: u32, pi: bool, pending: bool) -> Result<(), ()> {
    if !uaddr.is_multiple_of(4) {
        return Err(());
    }
    loop {
        let uval = UserPtr::<u32>::new(uaddr).read().map_err(|_| ())?;
        let owner = uval & FUTEX_TID_MASK;
        if pending && !pi && owner == 0 {
            futex_wake(uaddr, 1);
            return Ok(());
        }
        if owner != tid {
            return Ok(());
        }
        let mval = (uval & FUTEX_WAITERS) | FUTEX_OWNER_DIED;
        match futex_cmpxchg(uaddr, uval, mval).map_err(|_| ())? {
            Cmpxchg::Found(found) if found == uval => {
                if !pi && uval & FUTEX_WAITERS != 0 {
                    futex_wake(uaddr, 1);
                }
                return Ok(());
            }
            // Changed under us, or the exclusive monitor kept being
            // lost: read it again (after letting others run, as Linux's
            // cond_resched(), so an app hammering the word cannot hold
            // the CPU).
            Cmpxchg::Found(_) => {}
            Cmpxchg::Busy => crate::sched::yield_now(),
        }
    }
}
