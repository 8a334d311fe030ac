//! Exhaustion and back: threads until clone fails, memory until mmap
//! fails, then everything released, while the other workers are parked
//! ([`pause::exclusive`]).
//!
//! Running out must be an ordinary error (clone: EAGAIN once
//! `threads_max` threads are alive, as Linux's `threads-max`, or ENOMEM;
//! mmap: ENOMEM), never a kernel panic; and giving everything back must
//! give back every frame: `kstats().frames_free` (and `nr_threads`) must
//! return exactly to their values before the step. Exactly, because
//! nothing else of the fuzzer's maps, unmaps or starts or ends a thread
//! meanwhile (the pause); the kernel's own deferred work (freeing a dead
//! thread's kernel stack once it is off its CPU) is waited for, with a
//! deadline, before and after.

use core::sync::atomic::{AtomicU32, Ordering};

use rt::sys::{self, KStats, Timespec, clone_flags as cf, errno, mman};
use rt::{println, sched};

use crate::mem::{PAGE, is_ok};
use crate::pause;
use crate::rawclone::{self, SignalsBlocked};
use crate::stats::{self, anomaly};
use crate::worker::Worker;

/// How rare the steps are (once in this many steps of a worker).
pub const THREADS_ODDS: u64 = 2500;
pub const MMAP_ODDS: u64 = 8000;
/// Each run has a budget of exhaustions, so the slow ones cannot pile up
/// in one run: threads, the expected number (rounded up); mmap, 1 GiB of
/// RAM per 20,000 calls (the kernel zeroes every page, and the first time
/// QEMU allocates it: 3 s on virt's 256 MiB, 10–20 s on rpi4's 1 GiB on
/// a loaded host), at least one.
const MMAP_PAGES_PER_20K: u64 = 1 << 18;
static THREADS_MADE: AtomicU32 = AtomicU32::new(0);
static MMAPS_MADE: AtomicU32 = AtomicU32::new(0);

/// Takes one of the run's `budget` steps; false when they are all made.
fn take(made: &AtomicU32, budget: u64) -> bool {
    u64::from(made.fetch_add(1, Ordering::Relaxed)) < budget.max(1)
}

/// The children's start counter and release word.
static STARTED: AtomicU32 = AtomicU32::new(0);
static RELEASE: AtomicU32 = AtomicU32::new(0);

/// How long the kernel may take to settle (reap dead threads) and the
/// children to start or exit.
const SETTLE_NS: u64 = 5_000_000_000;

/// The kernel's counters once no exited thread still holds its kernel
/// stack (`nr_dying` 0) and two reads 2 ms apart agree on the thread and
/// free frame counts.
fn settled() -> Option<KStats> {
    let t0 = sys::monotonic().as_nanos();
    let mut last = sys::kstats().ok()?;
    loop {
        sched::sleep_ns(2_000_000);
        let k = sys::kstats().ok()?;
        let same =
            k.nr_dying == 0 && (k.nr_threads, k.frames_free) == (last.nr_threads, last.frames_free);
        if same || sys::monotonic().as_nanos() - t0 > SETTLE_NS {
            return Some(k);
        }
        last = k;
    }
}

/// Waits until the thread and free frame counts are back to `before`'s;
/// an anomaly if they are not within [`SETTLE_NS`].
fn back_to(before: &KStats, what: &str) {
    let t0 = sys::monotonic().as_nanos();
    loop {
        let Ok(k) = sys::kstats() else { return };
        if k.nr_dying == 0
            && (k.nr_threads, k.frames_free) == (before.nr_threads, before.frames_free)
        {
            return;
        }
        if sys::monotonic().as_nanos() - t0 > SETTLE_NS {
            anomaly(format_args!(
                "after {what}: frames_free {} (before {}: {:+}), nr_threads {} (before {})",
                k.frames_free,
                before.frames_free,
                k.frames_free as i64 - before.frames_free as i64,
                k.nr_threads,
                before.nr_threads
            ));
            return;
        }
        sched::sleep_ns(2_000_000);
    }
}

/// Waits until `word` is `want` (a shared futex for clear-child-tid
/// words, which the kernel wakes as Linux's exit does); false if it is
/// not by `deadline`.
fn wait_word(word: &AtomicU32, want: u32, shared: bool, deadline: u64) -> bool {
    loop {
        let v = word.load(Ordering::SeqCst);
        if v == want {
            return true;
        }
        let now = sys::monotonic().as_nanos();
        if now >= deadline {
            return false;
        }
        let ts = Timespec::from_nanos((deadline - now).min(100_000_000));
        if shared {
            sys::futex_wait_shared(word, v, Some(&ts));
        } else {
            sys::futex_wait(word, v, Some(&ts));
        }
    }
}

/// The step: threads until clone fails, then all released and joined.
pub fn threads(w: &mut Worker) -> i64 {
    if !take(&THREADS_MADE, crate::config().calls.div_ceil(THREADS_ODDS)) {
        return 0;
    }
    pause::exclusive(w.idx, || threads_paused(w.idx)).unwrap_or(0)
}

fn threads_paused(idx: usize) -> i64 {
    let t0 = sys::monotonic().as_nanos();
    let Some(before) = settled() else { return 0 };
    let max = before.threads_max;
    println!(
        "fuzz: thread {idx}: thread exhaustion from {} threads (threads_max {max}), frames_free {}",
        before.nr_threads, before.frames_free
    );
    // Room for a few past the limit, to see a kernel that has none.
    let cap = max.saturating_sub(before.nr_threads) + 8;
    let words_len = (cap * 4).next_multiple_of(PAGE);
    let words = match sys::mmap_anon(words_len as usize) {
        Ok(p) => p as *const AtomicU32,
        Err(e) => return e,
    };
    // SAFETY: `cap` u32 words of the fresh mapping, unmapped only after
    // every child has exited (or leaked if one has not).
    let word = |n: u64| unsafe { &*words.add(n as usize) };
    STARTED.store(0, Ordering::SeqCst);
    RELEASE.store(0, Ordering::SeqCst);
    let flags = cf::THREAD_SHARED | cf::CLONE_PARENT_SETTID | cf::CLONE_CHILD_CLEARTID;
    let (mut made, mut end) = (0u64, 0i64);
    if let Some(blocked) = SignalsBlocked::new() {
        while made < cap {
            let tw = word(made);
            tw.store(u32::MAX, Ordering::SeqCst);
            let p = tw.as_ptr() as u64;
            let r = rawclone::spawn(&blocked, flags, p, p, &STARTED, &RELEASE);
            if r <= 0 {
                end = r;
                break;
            }
            made += 1;
        }
    }
    let at = sys::kstats().unwrap_or(before);
    println!(
        "fuzz: thread {idx}: thread exhaustion: {made} threads made, {} alive (threads_max {max}), then clone = {end}",
        at.nr_threads
    );
    match end {
        e if e == -errno::EAGAIN && at.nr_threads != at.threads_max => anomaly(format_args!(
            "clone failed with EAGAIN at {} live threads, threads_max {}",
            at.nr_threads, at.threads_max
        )),
        e if e == -errno::EAGAIN || e == -errno::ENOMEM => {}
        0 => anomaly(format_args!(
            "clone made {made} threads without failing: {} alive, threads_max {max}",
            at.nr_threads
        )),
        e => anomaly(format_args!(
            "clone at {} live threads returned {e}, want -EAGAIN or -ENOMEM",
            at.nr_threads
        )),
    }
    let deadline = sys::monotonic().as_nanos() + SETTLE_NS;
    let all = made as u32;
    if !wait_word(&STARTED, all, false, deadline) {
        anomaly(format_args!(
            "thread exhaustion: {} of {made} children never ran",
            all - STARTED.load(Ordering::SeqCst)
        ));
    }
    rawclone::release_all(&RELEASE);
    let deadline = sys::monotonic().as_nanos() + SETTLE_NS;
    let stuck = (0..made)
        .filter(|&n| !wait_word(word(n), 0, true, deadline))
        .count();
    if stuck > 0 {
        anomaly(format_args!(
            "thread exhaustion: {stuck} of {made} children did not exit within 5 s"
        ));
        // Their clear-child-tid words must stay mapped.
        return end;
    }
    sys::munmap(words as u64, words_len);
    back_to(&before, "thread exhaustion");
    println!(
        "fuzz: thread {idx}: thread exhaustion and back in {} ms",
        (sys::monotonic().as_nanos() - t0) / 1_000_000
    );
    stats::EXHAUST_THREADS.inc();
    stats::EXHAUST_THREADS_PEAK.max(at.nr_threads);
    end
}

/// Mappings one mmap exhaustion keeps, at most.
const MAX_MAPS: usize = 128;
/// The first size tried; halved on each ENOMEM down to a page.
const FIRST_LEN: u64 = 64 << 20;

/// The step: anonymous mappings until mmap fails with ENOMEM, then all
/// unmapped.
pub fn mmap(w: &mut Worker) -> i64 {
    let salt = w.rng.next_u64();
    let frames = sys::kstats().map_or(1, |k| k.frames_total.max(1));
    let budget = crate::config().calls * MMAP_PAGES_PER_20K / 20_000 / frames;
    if !take(&MMAPS_MADE, budget) {
        return 0;
    }
    pause::exclusive(w.idx, || mmap_paused(w.idx, salt)).unwrap_or(0)
}

fn mmap_paused(idx: usize, salt: u64) -> i64 {
    let t0 = sys::monotonic().as_nanos();
    let Some(before) = settled() else { return 0 };
    println!(
        "fuzz: thread {idx}: mmap exhaustion from frames_free {} of {}",
        before.frames_free, before.frames_total
    );
    let mut maps = [(0u64, 0u64); MAX_MAPS];
    let (mut n, mut len) = (0, FIRST_LEN);
    let rw = mman::PROT_READ | mman::PROT_WRITE;
    let end = loop {
        if n == MAX_MAPS {
            break 0;
        }
        let r = sys::mmap(0, len, rw, mman::MAP_PRIVATE | mman::MAP_ANONYMOUS, -1, 0);
        if is_ok(r) {
            maps[n] = (r as u64, len);
            n += 1;
            touch(r as u64, len, salt);
        } else if r == -errno::ENOMEM && len > PAGE {
            len /= 2;
        } else {
            break r;
        }
    };
    let at = sys::kstats().unwrap_or(before);
    let pages: u64 = maps[..n].iter().map(|m| m.1 / PAGE).sum();
    println!(
        "fuzz: thread {idx}: mmap exhaustion: {n} mappings, {pages} pages, frames_free {} of {}, then mmap = {end}",
        at.frames_free, at.frames_total
    );
    if end != -errno::ENOMEM && end != 0 {
        anomaly(format_args!(
            "mmap of {len:#x} bytes with {pages} pages mapped returned {end}, want -ENOMEM"
        ));
    }
    for &(a, l) in &maps[..n] {
        let r = sys::munmap(a, l);
        if r != 0 {
            anomaly(format_args!("munmap({a:#x}, {l:#x}) = {r}"));
        }
    }
    back_to(&before, "mmap exhaustion");
    println!(
        "fuzz: thread {idx}: mmap exhaustion and back in {} ms",
        (sys::monotonic().as_nanos() - t0) / 1_000_000
    );
    stats::EXHAUST_MMAPS.inc();
    stats::EXHAUST_PAGES_PEAK.max(pages);
    end
}

/// Checks that a fresh mapping reads zero at each page's first word
/// (where a freed frame's free-list link would be) and at one other, and
/// leaves a pattern there for whoever gets the frame next.
fn touch(addr: u64, len: u64, salt: u64) {
    for page in (addr..addr + len).step_by(PAGE as usize) {
        let mix = (page ^ salt).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32;
        let other = page + 8 + mix % (PAGE / 8 - 1) * 8;
        for a in [page, other] {
            // SAFETY: inside the mapping just made, which is ours alone.
            let v = unsafe { (a as *const u64).read_volatile() };
            if v != 0 {
                anomaly(format_args!(
                    "fresh mmap (exhaustion) at {addr:#x} reads {v:#x} at {a:#x}"
                ));
            }
            // SAFETY: as above.
            unsafe { (a as *mut u64).write_volatile(a ^ salt) };
        }
    }
}
