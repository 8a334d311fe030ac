//! Per-CPU counters with restartable sequences: the starting point of a new
//! app (`just new-app NAME` copies this crate, `apps/template`, and sets the
//! rseq mode below).
//!
//! Eight threads each add 1 to "the counter of the CPU I am on" many times;
//! at the end the counters must add up to exactly what was added. The add
//! is librseq's `addv`, a restartable sequence: a load, an add and one
//! committing store, which the kernel restarts at its abort handler if the
//! thread is preempted, migrated or signalled in between, so no lock and no
//! atomic instruction is needed and no increment is lost.
//!
//! In a `none` image the runtime registers nothing (the area's `cpu_id`
//! reads `RSEQ_CPU_ID_REGISTRATION_FAILED`) and an rseq section could never
//! commit, so each thread checks its registration and falls back to an
//! atomic add on the CPU `getcpu` reports. The same source thus builds and
//! passes in every mode.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use librseq::{COMMITTED, Cpu, Index, MAX_CPUS};
use rt::{eprintln, println, rseq, sched, thread};

rt::main!(main);
// The kernel's rseq mode for this image: v2 (optimized), v1 (legacy,
// TCMalloc-compatible) or none (no registration); see README "rseq".
rt::rseq_mode!(v2);

/// The name the output lines start with (the package name, so a copy made
/// by `just new-app` prints its own).
const NAME: &str = env!("CARGO_PKG_NAME");
/// More threads than QEMU's 4 CPUs, so threads share CPUs and get
/// preempted and migrated in the middle of their sequences.
const THREADS: usize = 8;
const ADDS_PER_THREAD: i64 = 200_000;

/// One counter per CPU, each on its own cache lines (as Linux's selftests
/// align theirs), so CPUs do not slow each other down.
#[repr(align(128))]
struct Slot(AtomicI64);

static COUNTERS: [Slot; MAX_CPUS] = [const { Slot(AtomicI64::new(0)) }; MAX_CPUS];
/// How often the kernel aborted a sequence (it is then simply retried).
static ABORTS: AtomicU64 = AtomicU64::new(0);

/// Adds `n` to the counter of the CPU the calling thread runs on.
fn add_on_this_cpu(n: i64) {
    if !rseq::registered() {
        // No rseq (mode none): an atomic add is right on any CPU, so a
        // `getcpu` answer that is stale by the time we add only puts the
        // count in another CPU's slot. (A process takes one path only: the
        // runtime registers every thread in v1/v2 images and none in `none`.)
        let cpu = (sched::getcpu() as usize).min(MAX_CPUS - 1);
        COUNTERS[cpu].0.fetch_add(n, Ordering::Relaxed);
        return;
    }
    loop {
        // The kernel keeps the area's `cpu_id` current: it rewrites it
        // before the thread returns to user space on another CPU.
        let cpu = rseq::cpu_id();
        let counter = COUNTERS[cpu as usize].0.as_ptr();
        // SAFETY: `counter` is a live static, and CPU `cpu`'s counter is only
        // written by sequences that commit on `cpu`, which `addv` checks
        // (`cpu_id` still equal to `cpu`) inside the section.
        if unsafe { librseq::addv(counter, n, Cpu::new(Index::CpuId, cpu)) } == COMMITTED {
            return;
        }
        // Aborted: preempted, migrated or signalled inside the section, or
        // `cpu_id` changed since we read it. Nothing was stored: retry.
        ABORTS.fetch_add(1, Ordering::Relaxed);
    }
}

fn worker(_: usize) -> i32 {
    for _ in 0..ADDS_PER_THREAD {
        add_on_this_cpu(1);
    }
    0
}

// Arguments after `--` on the kernel command line: `args.get(1)`, ...
fn main(_args: rt::Args) -> i32 {
    if rseq::registered() {
        println!(
            "{NAME}: rseq {} registered ({} bytes), main thread on cpu_id {}",
            rseq::mode_name(),
            rseq::registered_len(),
            rseq::cpu_id()
        );
    } else {
        println!(
            "{NAME}: rseq {}: not registered (cpu_id {}), atomic adds on getcpu's CPU instead",
            rseq::mode_name(),
            rseq::cpu_id() as i32
        );
    }

    let mut handles = [const { None }; THREADS];
    for (i, h) in handles.iter_mut().enumerate() {
        match thread::spawn(worker, i) {
            Ok(handle) => *h = Some(handle),
            Err(e) => {
                eprintln!("{NAME}: spawning thread {i} failed: {e}");
                return 1;
            }
        }
    }
    for handle in handles.into_iter().flatten() {
        handle.join();
    }

    let want = THREADS as i64 * ADDS_PER_THREAD;
    let sum: i64 = COUNTERS.iter().map(|c| c.0.load(Ordering::Relaxed)).sum();
    let used = COUNTERS
        .iter()
        .filter(|c| c.0.load(Ordering::Relaxed) != 0)
        .count();
    println!(
        "{NAME}: counted {sum} of {want} increments, on {used} CPUs, {} rseq aborts",
        ABORTS.load(Ordering::Relaxed)
    );
    if sum != want {
        eprintln!("{NAME}: lost or extra increments: {}", sum - want);
        return 1;
    }
    0
}
