//! Thread and group exit: exit, exit_group, and set_tid_address (the word
//! exit clears). The end of the app is a [`Verdict`] for the caller.

use super::verdict::Verdict;
use crate::sched;
use crate::sched::task::{DYING_THREADS, LIVE_THREADS, TaskState, current};
use crate::syscall::error::{Errno, SysError};
use crate::syscall::user::UserPtr;
use core::convert::Infallible;
use core::sync::atomic::Ordering;

/// set_tid_address(tidptr): remembered for exit; returns the TID.
pub fn sys_set_tid_address(tidptr: UserPtr<u32>) -> Result<u32, Errno> {
    let me = current();
    me.clear_child_tid.store(tidptr.addr(), Ordering::Relaxed);
    Ok(me.tid())
}

/// exit(status): ends the calling thread; the last one ends the app.
pub fn sys_exit(status: i32) -> Result<Infallible, SysError> {
    let status = status as u32 & 0xff;
    let me = current();
    // Linux's exit_mm_release(): the robust futexes it holds first, then
    // the TID word a joiner waits on.
    super::robust::exit_robust_list(me);
    let ctid = UserPtr::<u32>::new(me.clear_child_tid.swap(0, Ordering::Relaxed));
    if !ctid.is_null() {
        // Linux's mm_release(): clear the TID word and wake a joiner.
        let _ = ctid.write(0);
        super::futex::futex_wake(ctid.addr(), 1);
    }
    // Dying before not alive: a `kstats` reader never misses this thread's
    // kernel stack in both counts.
    DYING_THREADS.fetch_add(1, Ordering::SeqCst);
    if LIVE_THREADS.fetch_sub(1, Ordering::SeqCst) == 1 {
        return Err(Verdict::Exit(status).into());
    }
    {
        let _guard = me.sched_lock.lock();
        me.set_state(TaskState::Dead);
    }
    sched::schedule();
    unreachable!("a dead thread was scheduled")
}

/// exit_group(status): ends the app.
pub fn sys_exit_group(status: i32) -> Result<Infallible, SysError> {
    Err(Verdict::Exit(status as u32 & 0xff).into())
}
