//! `threads`: an app that creates threads until `clone` refuses must get
//! an error, not take the kernel down, and everything must come back.
//!
//! Each thread has a small mmap'ed stack and sleeps on one futex word. The
//! first refusal must be `EAGAIN` with `kstats().threads_max` threads
//! alive (Linux's `threads-max`), or `ENOMEM` if memory ran out first.
//! Then all are released and joined (`CLONE_CHILD_CLEARTID`), which
//! unmaps their stacks, and `frames_free` must be back where it was: the
//! stacks' pages and page tables and the kernel stacks all come back. A
//! second round must reach the same count: nothing leaked in between.

use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicU32, Ordering};

use rt::println;
use rt::sys::{self, errno};
use rt::test::{SEC, verdict, wait_for};
use rt::thread::{self, JoinHandle};

use crate::{errno_name, kstats};

/// A thread's stack: the runtime adds a page for its control block.
const STACK: usize = 4096;

/// 0 while the threads must sleep.
static RELEASE: AtomicU32 = AtomicU32::new(0);

fn sleeper(_: usize) -> i32 {
    while RELEASE.load(Ordering::Acquire) == 0 {
        sys::futex_wait(&RELEASE, 0, None);
    }
    0
}

/// What one round saw.
struct Round {
    created: u64,
    /// The (negative) errno of the first refused spawn; 0 if none was
    /// refused up to one past `threads_max`.
    refused: i64,
    /// Threads alive when it was refused (kstats).
    alive: u64,
    frames_before: u64,
    frames_after: u64,
    /// Threads alive after all were joined.
    alive_after: u64,
}

pub fn run() -> i32 {
    let k = kstats();
    let max = k.threads_max;
    println!(
        "isolation: threads: clone until refused, twice; threads_max {max}, nr_threads {}, frames_free {} of {}",
        k.nr_threads, k.frames_free, k.frames_total
    );
    if max == 0 {
        return verdict("threads", Some(format_args!("kstats has no threads_max")));
    }
    // One slot past threads_max: a clone that succeeds there is a failure.
    let cap = max as usize + 1;
    let slots = match sys::mmap_anon(cap * size_of::<JoinHandle>()) {
        Ok(p) => p as *mut MaybeUninit<JoinHandle>,
        Err(e) => return verdict("threads", Some(format_args!("mmap = {e}"))),
    };
    // SAFETY: a fresh mapping of `cap` handles, used by this thread only;
    // zeroed bytes are a valid `MaybeUninit`. Written now so that its pages
    // have their frames before `frames_free` is first read.
    let slots = unsafe {
        core::ptr::write_bytes(slots, 0, cap);
        core::slice::from_raw_parts_mut(slots, cap)
    };

    let mut counts = [0u64; 2];
    for (i, count) in counts.iter_mut().enumerate() {
        let r = one_round(i + 1, slots);
        println!(
            "isolation: threads round {}: {} threads created, then spawn = {} ({}) with {} alive; threads_max {max}; frames_free {} -> {}",
            i + 1,
            r.created,
            r.refused,
            errno_name(r.refused),
            r.alive,
            r.frames_before,
            r.frames_after
        );
        *count = r.created;
        let round = i + 1;
        if r.refused == 0 {
            return verdict(
                "threads",
                Some(format_args!(
                    "round {round}: {} threads alive, threads_max is {max}, and clone still succeeds",
                    r.alive
                )),
            );
        }
        if r.refused != -errno::EAGAIN && r.refused != -errno::ENOMEM {
            return verdict(
                "threads",
                Some(format_args!(
                    "round {round}: spawn refused with {}, expected EAGAIN or ENOMEM",
                    r.refused
                )),
            );
        }
        if r.refused == -errno::EAGAIN && r.alive != max {
            return verdict(
                "threads",
                Some(format_args!(
                    "round {round}: EAGAIN with {} threads alive, threads_max is {max}",
                    r.alive
                )),
            );
        }
        if r.alive_after != 1 || r.frames_after != r.frames_before {
            return verdict(
                "threads",
                Some(format_args!(
                    "round {round}: after joining all, {} threads alive and frames_free {} (was {})",
                    r.alive_after, r.frames_after, r.frames_before
                )),
            );
        }
    }
    if counts[0] != counts[1] {
        return verdict(
            "threads",
            Some(format_args!(
                "round 1 created {} threads, round 2 {}",
                counts[0], counts[1]
            )),
        );
    }
    verdict("threads", None)
}

/// Spawns sleepers into `slots` until refused (or the slots run out),
/// then releases and joins them all and waits for the kernel to free
/// their last resources.
fn one_round(round: usize, slots: &mut [MaybeUninit<JoinHandle>]) -> Round {
    let before = kstats();
    RELEASE.store(0, Ordering::Release);
    let mut created = 0usize;
    let mut refused = 0;
    let mut alive = 0;
    for slot in slots.iter_mut() {
        match thread::spawn_with_stack(STACK, sleeper, 0) {
            Ok(h) => {
                slot.write(h);
                created += 1;
                if created >= 64 && created.is_power_of_two() {
                    println!("isolation: threads round {round}: {created} threads alive");
                }
            }
            Err(e) => {
                refused = e;
                alive = kstats().nr_threads;
                break;
            }
        }
    }
    if refused == 0 {
        alive = kstats().nr_threads;
    }
    RELEASE.store(1, Ordering::Release);
    sys::futex_wake(&RELEASE, i32::MAX as u32);
    for slot in &mut slots[..created] {
        // SAFETY: the first `created` slots were written above and each is
        // read out exactly once.
        unsafe { slot.assume_init_read() }.join();
    }
    // An exited thread's kernel stack is freed after its last switch,
    // which may come a little after its tid word was cleared.
    wait_for(3 * SEC, || {
        let k = kstats();
        k.nr_threads == 1 && k.frames_free == before.frames_free
    });
    let after = kstats();
    Round {
        created: created as u64,
        refused,
        alive,
        frames_before: before.frames_free,
        frames_after: after.frames_free,
        alive_after: after.nr_threads,
    }
}
