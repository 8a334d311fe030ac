//! The scheduler. One runnable thread for now: `schedule()` only
//! acknowledges the request; the SMP scheduler issue fills it in.

use core::sync::atomic::{AtomicU64, Ordering};
use entry::tif::{TIF_NEED_RESCHED, TIF_NEED_RESCHED_LAZY};

/// Times `schedule()` ran from the exit loop.
pub static SCHEDULE_CALLS: AtomicU64 = AtomicU64::new(0);

/// Linux's `schedule()` as called from the exit loop.
pub fn schedule() {
    let task = crate::task::current();
    task.flags.clear(TIF_NEED_RESCHED);
    task.flags.clear(TIF_NEED_RESCHED_LAZY);
    SCHEDULE_CALLS.fetch_add(1, Ordering::Relaxed);
}

/// Asks for a reschedule of the current task (from the tick).
pub fn resched_curr() {
    if let Some(task) = crate::task::try_current() {
        task.flags.set(TIF_NEED_RESCHED);
    }
}
