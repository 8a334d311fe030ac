//! Exclusive steps: one worker runs while every other waits between steps.
//!
//! An exhaustion step ([`crate::exhaust`]) compares the kernel's free
//! frame count before and after, exactly, so nothing else of the fuzzer's
//! may map, unmap, create or end a thread meanwhile; and while memory is
//! exhausted the others' calls could legitimately fail with ENOMEM or
//! EAGAIN, which their checks would misjudge. So:
//!
//! - [`checkpoint`], before every step, parks the worker while another
//!   worker holds the pause;
//! - [`exclusive`] takes the pause, waits until every other worker is
//!   parked, runs the step and lets them go;
//! - [`start`] holds every worker until all have mapped their memory and
//!   the main thread has started the signaller ([`ready`]), and
//!   [`finish`] keeps a worker that is done parked until all are, so no
//!   worker unmaps its memory or exits (after which the main thread unmaps
//!   its stack) during an exclusive step.
//!
//! The signaller and the main thread's watchdog keep running: they only
//! send signals and wait, which takes no memory. A thread a step makes
//! is gone before the step ends ([`join`]), so the live thread count too
//! holds still while the workers are parked.

use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use rt::sys::{self, Timespec};
use rt::{println, sched};

/// The worker holding the pause, plus one (0: none).
static PAUSER: AtomicU32 = AtomicU32::new(0);
/// Workers parked at a checkpoint or finished.
static PARKED: AtomicU32 = AtomicU32::new(0);
/// Workers that reached [`start`], and those done with their quota.
static STARTED: AtomicU32 = AtomicU32::new(0);
static FINISHED: AtomicU32 = AtomicU32::new(0);
/// Set by the main thread once the signaller runs.
static READY: AtomicBool = AtomicBool::new(false);

/// How long [`exclusive`] waits for the others to park before giving up.
const PARK_TIMEOUT_NS: u64 = 30_000_000_000;

fn workers() -> u32 {
    crate::config().threads as u32
}

/// Sleeps on `word` for at most 50 ms while it holds `seen`.
fn wait_on(word: &AtomicU32, seen: u32) {
    let ts = Timespec::from_nanos(50_000_000);
    sys::futex_wait(word, seen, Some(&ts));
}

fn set_parked(idx: usize, parked: bool) {
    crate::PROGRESS[idx].parked.store(parked, Ordering::Relaxed);
}

/// Called by the main thread once every thread the fuzzer starts up front
/// (workers, signaller) exists.
pub fn ready() {
    READY.store(true, Ordering::SeqCst);
}

/// Waits until every worker has arrived and [`ready`] was called.
pub fn start(idx: usize) {
    STARTED.fetch_add(1, Ordering::SeqCst);
    set_parked(idx, true);
    loop {
        let s = STARTED.load(Ordering::SeqCst);
        if s >= workers() && READY.load(Ordering::SeqCst) {
            break;
        }
        wait_on(&STARTED, s);
    }
    set_parked(idx, false);
}

/// Parks the calling worker while another worker holds the pause.
pub fn checkpoint(idx: usize) {
    if PAUSER.load(Ordering::SeqCst) != 0 {
        park(idx);
    }
}

/// Counted as parked until no pause is held. The count drops before the
/// last look at [`PAUSER`]: a pauser that counted us either took the
/// pause before that look (and we park again) or after it (and then
/// waits for our next checkpoint).
fn park(idx: usize) {
    loop {
        PARKED.fetch_add(1, Ordering::SeqCst);
        set_parked(idx, true);
        loop {
            let p = PAUSER.load(Ordering::SeqCst);
            if p == 0 {
                break;
            }
            wait_on(&PAUSER, p);
        }
        PARKED.fetch_sub(1, Ordering::SeqCst);
        set_parked(idx, false);
        if PAUSER.load(Ordering::SeqCst) == 0 {
            return;
        }
    }
}

/// Runs `f` while every other worker is parked; `None` (and a note) if
/// they did not all park within 30 s (a worker stuck in a step, which the
/// watchdog reports).
pub fn exclusive<R>(idx: usize, f: impl FnOnce() -> R) -> Option<R> {
    let me = idx as u32 + 1;
    while PAUSER
        .compare_exchange(0, me, Ordering::SeqCst, Ordering::SeqCst)
        .is_err()
    {
        park(idx);
    }
    let start = sys::monotonic().as_nanos();
    let mut out = None;
    loop {
        if PARKED.load(Ordering::SeqCst) + 1 >= workers() {
            out = Some(f());
            break;
        }
        if sys::monotonic().as_nanos() - start > PARK_TIMEOUT_NS {
            println!(
                "fuzz: thread {idx}: the other workers did not pause within 30 s; exclusive step skipped"
            );
            break;
        }
        sched::sleep_ns(200_000);
    }
    PAUSER.store(0, Ordering::SeqCst);
    sys::futex_wake(&PAUSER, i32::MAX as u32);
    out
}

/// Joins a thread a step made and waits until the kernel no longer knows
/// it (`tgkill(tid, 0)` gives ESRCH): its tid word is cleared while it
/// is still exiting, and it counts as alive until then. Returns the
/// thread's value; a thread still there after 10 s is an anomaly.
pub fn join(h: rt::thread::JoinHandle) -> i32 {
    let tid = h.tid();
    let r = h.join();
    let t0 = sys::monotonic().as_nanos();
    while sys::tgkill(1, tid, 0) != -rt::sys::errno::ESRCH {
        if sys::monotonic().as_nanos() - t0 > 10_000_000_000 {
            crate::stats::anomaly(format_args!(
                "thread {tid} still exists 10 s after it exited"
            ));
            break;
        }
        sched::sleep_ns(100_000);
    }
    r
}

/// Parks a worker that made all its steps until every worker has.
pub fn finish(idx: usize) {
    PARKED.fetch_add(1, Ordering::SeqCst);
    set_parked(idx, true);
    FINISHED.fetch_add(1, Ordering::SeqCst);
    sys::futex_wake(&FINISHED, i32::MAX as u32);
    loop {
        let f = FINISHED.load(Ordering::SeqCst);
        if f >= workers() {
            break;
        }
        wait_on(&FINISHED, f);
    }
}
