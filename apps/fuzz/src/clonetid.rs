//! clone with bad tid pointers: `CLONE_PARENT_SETTID` and
//! `CLONE_CHILD_SETTID` (and `CLONE_CHILD_CLEARTID`) pointing at NULL, a
//! hole, the kernel, read-only text or data, or across the end of a
//! mapping.
//!
//! Linux ignores a tid it cannot write (`kernel_clone` does not check
//! `put_user` on the parent's pointer; `schedule_tail` does the child's
//! write and ignores its failure too), so the thread must exist: clone
//! returns its tid (> 0), the child runs (it bumps a counter, see
//! [`rawclone`]) and exits, and it is then gone (`tgkill(tid, 0)` gives
//! ESRCH). Where a pointer was valid the tid must be there; read-only
//! targets must be unchanged. An error return would leave the caller
//! believing no thread was made while one might exist.

use core::sync::atomic::{AtomicU32, Ordering};

use rt::sched;
use rt::sys::{self, Timespec, clone_flags as cf, errno};

use crate::MAX_THREADS;
use crate::mem::{self, KERNEL_IMAGE, KERNEL_VA, TRAMPOLINE, USER_BASE, USER_UNMAPPED, WINDOW};
use crate::rawclone::{self, SignalsBlocked};
use crate::stats::{self, anomaly};
use crate::worker::Worker;

/// Per worker: the child's start counter, and the valid tid words (the
/// kernel may write them after a step gave up on its child: statics).
static RAN: [AtomicU32; MAX_THREADS] = [const { AtomicU32::new(0) }; MAX_THREADS];
static WORDS: [[AtomicU32; 2]; MAX_THREADS] =
    [const { [AtomicU32::new(0), AtomicU32::new(0)] }; MAX_THREADS];
/// Always set: the children exit at once.
static GO: AtomicU32 = AtomicU32::new(1);

/// How long the child may take to run and to be gone.
const CHILD_NS: u64 = 5_000_000_000;

/// A pointer a tid cannot be written to; read-only ones are flagged so
/// the step can check they stay unchanged.
fn bad_tid_ptr(w: &mut Worker) -> (u64, bool) {
    let r = &mut w.rng;
    match r.below(10) {
        0 => (0, false),
        1 => (USER_UNMAPPED + 4 * r.below(1024), false),
        2 => (KERNEL_IMAGE + 4 * r.below(1024), false),
        3 => (KERNEL_VA + 4 * r.below(1024), false),
        4 => (mem::text_addr() & !3, true),
        5 => (mem::rodata_addr() + 4 * r.below(256), true),
        6 => (TRAMPOLINE, true),
        7 => (USER_BASE + WINDOW - 2, false),
        8 if w.mem.straddle_end != 0 => (w.mem.straddle_end - 2, false),
        _ => (u64::MAX - 3, false),
    }
}

/// The u32 at a readable `p`.
fn peek(p: u64) -> u32 {
    // SAFETY: only called on the fuzzer's own text and rodata, and the
    // trampoline page, all readable at EL0.
    unsafe { (p as *const u32).read_volatile() }
}

/// Waits until `check` holds, at most [`CHILD_NS`].
fn wait_until(mut check: impl FnMut() -> bool) -> bool {
    let t0 = sys::monotonic().as_nanos();
    while !check() {
        if sys::monotonic().as_nanos() - t0 > CHILD_NS {
            return false;
        }
        sched::sleep_ns(200_000);
    }
    true
}

/// Waits (shared futex, as Linux's exit wakes it) until `word` is 0, at
/// most [`CHILD_NS`].
fn cleared(word: &AtomicU32) -> bool {
    let t0 = sys::monotonic().as_nanos();
    loop {
        let v = word.load(Ordering::SeqCst);
        if v == 0 {
            return true;
        }
        if sys::monotonic().as_nanos() - t0 > CHILD_NS {
            return false;
        }
        let ts = Timespec::from_nanos(100_000_000);
        sys::futex_wait_shared(word, v, Some(&ts));
    }
}

/// A clone call, for reports.
struct What {
    flags: u64,
    ptid: u64,
    ctid: u64,
}

impl core::fmt::Display for What {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        write!(
            f,
            "clone({:#x}, ptid {:#x}, ctid {:#x})",
            self.flags, self.ptid, self.ctid
        )
    }
}

/// The step. Returns the tid, or clone's -errno.
pub fn clone_bad_tid(w: &mut Worker) -> i64 {
    let (words, ran) = (&WORDS[w.idx], &RAN[w.idx]);
    let (parent, child) = pick!(w.rng, [(true, false), (false, true), (true, true)]);
    let (pbad, cbad) = match (parent, child) {
        (true, true) => pick!(w.rng, [(true, false), (false, true), (true, true)]),
        p => p,
    };
    let clear = child && w.rng.coin();
    let mut flags = cf::THREAD_SHARED;
    if parent {
        flags |= cf::CLONE_PARENT_SETTID;
    }
    if child {
        flags |= cf::CLONE_CHILD_SETTID;
    }
    if clear {
        flags |= cf::CLONE_CHILD_CLEARTID;
    }
    let (ptid, pro) = if pbad || !parent {
        bad_tid_ptr(w)
    } else {
        (words[0].as_ptr() as u64, false)
    };
    let (ctid, cro) = if cbad || !child {
        bad_tid_ptr(w)
    } else {
        (words[1].as_ptr() as u64, false)
    };
    let (pwas, cwas) = (pro.then(|| peek(ptid)), cro.then(|| peek(ctid)));
    words[0].store(0, Ordering::SeqCst);
    words[1].store(0, Ordering::SeqCst);
    ran.store(0, Ordering::SeqCst);
    let what = What { flags, ptid, ctid };
    let Some(blocked) = SignalsBlocked::new() else {
        return -errno::EINVAL;
    };
    let tid = rawclone::spawn(&blocked, flags, ptid, ctid, ran, &GO);
    drop(blocked);
    if tid <= 0 {
        anomaly(format_args!(
            "{what} = {tid}: Linux ignores a tid pointer it cannot write; the thread must be made"
        ));
        return tid;
    }
    stats::CLONE_BADTID.inc();
    if !wait_until(|| ran.load(Ordering::SeqCst) != 0) {
        anomaly(format_args!("{what} = {tid}: the child never ran (5 s)"));
        return tid;
    }
    let t = tid as u32;
    if parent && !pbad && words[0].load(Ordering::SeqCst) != t {
        anomaly(format_args!(
            "{what} = {tid}: parent tid word holds {}",
            words[0].load(Ordering::SeqCst)
        ));
    }
    // The child may have exited and cleared it already.
    let c = words[1].load(Ordering::SeqCst);
    if child && !cbad && c != t && !(clear && c == 0) {
        anomaly(format_args!("{what} = {tid}: child tid word holds {c}"));
    }
    for (p, was) in [(ptid, pwas), (ctid, cwas)] {
        if let Some(was) = was
            && peek(p) != was
        {
            anomaly(format_args!(
                "{what}: read-only word at {p:#x} changed from {was:#x} to {:#x}",
                peek(p)
            ));
        }
    }
    if clear && !cbad && !cleared(&words[1]) {
        anomaly(format_args!(
            "{what} = {tid}: child tid word not cleared at exit"
        ));
    }
    if !wait_until(|| sys::tgkill(1, tid, 0) == -errno::ESRCH) {
        anomaly(format_args!(
            "{what} = {tid}: the child still exists after 5 s"
        ));
    }
    tid
}
