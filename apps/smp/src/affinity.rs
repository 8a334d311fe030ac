//! `affinity`: a thread moves itself to every CPU with
//! `sched_setaffinity(0, 1 << k)` and must be on CPU k right after the call
//! and after a `sched_yield` (`affinity-self`); the main thread moves a
//! spinning thread (which publishes `getcpu` in a loop) with
//! `sched_setaffinity(tid, ...)` and waits to see it arrive
//! (`affinity-other`); `sched_getaffinity` returns what was set, for the
//! caller and for another thread (`getaffinity`).

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use rt::sched::nr_cpus;
use rt::test::{SEC, check, wait_for};
use rt::{println, sched, thread};

static NR: AtomicU32 = AtomicU32::new(1);
/// The first failure of the self-moving thread, packed for printing:
/// (k, cpu after set_affinity, cpu after yield, get_affinity).
static SELF_FAIL: [AtomicU64; 4] = [const { AtomicU64::new(u64::MAX) }; 4];
static GETAFF_FAIL: [AtomicU64; 2] = [const { AtomicU64::new(u64::MAX) }; 2];

fn self_mover(_: usize) -> i32 {
    let nr = NR.load(Ordering::SeqCst);
    let mut status = 0;
    for k in 0..nr {
        let set = sched::set_affinity(1 << k);
        let c1 = sched::getcpu();
        sched::yield_now();
        let c2 = sched::getcpu();
        let got = sched::get_affinity_of(0);
        if (set.is_err() || c1 != k || c2 != k) && status & 1 == 0 {
            status |= 1;
            SELF_FAIL[0].store(k as u64, Ordering::SeqCst);
            SELF_FAIL[1].store(c1 as u64, Ordering::SeqCst);
            SELF_FAIL[2].store(c2 as u64, Ordering::SeqCst);
            SELF_FAIL[3].store(set.err().unwrap_or(0) as u64, Ordering::SeqCst);
        }
        if got != Ok(1 << k) && status & 2 == 0 {
            status |= 2;
            GETAFF_FAIL[0].store(k as u64, Ordering::SeqCst);
            GETAFF_FAIL[1].store(got.unwrap_or_else(|e| e as u64), Ordering::SeqCst);
        }
    }
    status
}

static PUBLISHED: AtomicU32 = AtomicU32::new(u32::MAX);
static STOP: AtomicBool = AtomicBool::new(false);

/// Spins, making a `getcpu` syscall per iteration and publishing the answer.
fn publisher(_: usize) -> i32 {
    while !STOP.load(Ordering::Relaxed) {
        PUBLISHED.store(sched::getcpu(), Ordering::Relaxed);
    }
    0
}

pub fn run() -> i32 {
    let nr = nr_cpus();
    NR.store(nr, Ordering::SeqCst);
    let target = nr - 1;
    let first = if target == 1 { 0 } else { 1 };
    println!(
        "smp: affinity: a thread moves itself to CPUs 0..{nr} (getcpu after the call and after a yield); main moves a spinning thread to CPU {first}, then CPU {target}"
    );

    let status = match thread::spawn(self_mover, 0) {
        Ok(h) => h.join(),
        Err(e) => {
            println!("smp: spawn: {e}");
            3
        }
    };
    let f = |a: &AtomicU64| a.load(Ordering::SeqCst) as i64;
    let mut ok = check(
        "affinity-self",
        status & 1 == 0,
        format_args!(
            "to CPU {}: getcpu {} after set_affinity, {} after yield (set_affinity error {})",
            f(&SELF_FAIL[0]),
            f(&SELF_FAIL[1]),
            f(&SELF_FAIL[2]),
            f(&SELF_FAIL[3])
        ),
    );
    let self_getaff_ok = status & 2 == 0;

    STOP.store(false, Ordering::SeqCst);
    let (other_ok, other_getaff) = match thread::spawn(publisher, 0) {
        Err(e) => {
            println!("smp: spawn: {e}");
            (false, Err(e))
        }
        Ok(h) => {
            let tid = h.tid();
            let mut moved = true;
            let mut seen = [u32::MAX; 2];
            for (i, cpu) in [first, target].into_iter().enumerate() {
                let set = sched::set_affinity_of(tid, 1 << cpu);
                let arrived = wait_for(SEC, || PUBLISHED.load(Ordering::Relaxed) == cpu);
                seen[i] = PUBLISHED.load(Ordering::Relaxed);
                if set.is_err() || !arrived {
                    println!(
                        "smp: move to CPU {cpu}: set_affinity {set:?}, published {}",
                        seen[i]
                    );
                    moved = false;
                }
            }
            let got = sched::get_affinity_of(tid);
            STOP.store(true, Ordering::SeqCst);
            h.join();
            println!("smp: spinner published CPU {} then {}", seen[0], seen[1]);
            (moved, got)
        }
    };
    ok &= check(
        "affinity-other",
        other_ok,
        format_args!("spinner did not arrive on CPU {first} then {target} within 1 s each"),
    );
    ok &= check(
        "getaffinity",
        self_getaff_ok && other_getaff == Ok(1 << target),
        format_args!(
            "self: to CPU {} got {:#x}; other thread: got {:x?}, want Ok({:#x})",
            f(&GETAFF_FAIL[0]),
            GETAFF_FAIL[1].load(Ordering::SeqCst),
            other_getaff,
            1u64 << target
        ),
    );
    if ok { 0 } else { 1 }
}
