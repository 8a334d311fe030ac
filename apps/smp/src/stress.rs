//! `stress [seconds]`: futex-sum rounds and progress rounds, alternating
//! until `seconds` (default 60) of counter time passed, with the threads
//! yielding and moving themselves between CPUs all the while. Every sum must
//! be exact and every spinner must advance in every round.
//!
//! The 8 worker threads live for the whole run and meet the main thread at
//! a [`Barrier`] before and after each round (the kernel does not free
//! exited threads yet, so spawning 16 threads per round would exhaust it;
//! thread creation and exit are covered by the other scenarios).

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use rt::sync::Barrier;
use rt::{println, sched, thread};

use crate::{MS, SEC, all_cpus, check, futex, now_ns, nr_cpus, progress};

const THREADS: usize = 8;
/// Locked increments per thread in a futex-sum round.
const PER_THREAD: u64 = 5000;
/// How long a progress round spins.
const SPIN_NS: u64 = 50 * MS;

const CMD_SUM: u32 = 0;
const CMD_SPIN: u32 = 1;
const CMD_QUIT: u32 = 2;

/// Workers and the main thread.
static ROUND: Barrier = Barrier::new(THREADS as u32 + 1);
static CMD: AtomicU32 = AtomicU32::new(CMD_QUIT);
static NR: AtomicU32 = AtomicU32::new(1);
static STOP: AtomicBool = AtomicBool::new(false);
static COUNTS: [AtomicU64; THREADS] = [const { AtomicU64::new(0) }; THREADS];
static CPUS: AtomicU64 = AtomicU64::new(0);

fn worker(i: usize) -> i32 {
    let nr = NR.load(Ordering::SeqCst);
    loop {
        ROUND.wait();
        match CMD.load(Ordering::SeqCst) {
            CMD_SUM => futex::add(i, PER_THREAD, true, nr),
            CMD_SPIN => {
                let mask = progress::spin(i, true, &STOP, &COUNTS[i]);
                CPUS.fetch_or(mask, Ordering::SeqCst);
            }
            _ => return 0,
        }
        ROUND.wait();
    }
}

/// Has the workers run one round of `cmd` (the main thread sleeps through
/// a spin round, then stops it).
fn round(cmd: u32) {
    CMD.store(cmd, Ordering::SeqCst);
    ROUND.wait();
    if cmd == CMD_SPIN {
        sched::sleep_ns(SPIN_NS);
        STOP.store(true, Ordering::SeqCst);
    }
    if cmd != CMD_QUIT {
        ROUND.wait();
    }
}

pub fn run(seconds: u64) -> i32 {
    let nr = nr_cpus();
    println!(
        "smp: stress: {seconds} s of futex-sum rounds ({THREADS} x {PER_THREAD}) and progress rounds ({THREADS} x {} ms), with yields and migrations over {nr} CPUs",
        SPIN_NS / MS
    );
    NR.store(nr, Ordering::SeqCst);
    progress::set_nr_cpus(nr);
    let mut handles = [const { None }; THREADS];
    for (i, h) in handles.iter_mut().enumerate() {
        match thread::spawn(worker, i) {
            Ok(j) => *h = Some(j),
            Err(e) => {
                // The others wait at the barrier; returning ends them.
                check("stress", false, format_args!("spawn: {e}"));
                return 1;
            }
        }
    }

    let start = now_ns();
    let (mut rounds, mut increments, mut spins) = (0u64, 0u64, 0u64);
    let mut next_report = 5 * SEC;
    let mut failure = false;
    while now_ns() - start < seconds * SEC {
        futex::take_sum();
        round(CMD_SUM);
        let sum = futex::take_sum();
        let want = THREADS as u64 * PER_THREAD;
        if sum != want {
            check(
                "stress",
                false,
                format_args!("round {rounds}: sum {sum}, want {want}"),
            );
            failure = true;
            break;
        }
        increments += sum;

        STOP.store(false, Ordering::SeqCst);
        for c in &COUNTS {
            c.store(0, Ordering::SeqCst);
        }
        round(CMD_SPIN);
        let counts: [u64; THREADS] = core::array::from_fn(|i| COUNTS[i].load(Ordering::SeqCst));
        if counts.contains(&0) {
            check(
                "stress",
                false,
                format_args!("round {rounds}: spinner counts {counts:?}"),
            );
            failure = true;
            break;
        }
        spins += counts.iter().sum::<u64>();
        rounds += 1;
        let elapsed = now_ns() - start;
        if elapsed >= next_report {
            println!(
                "smp: stress: {} s, {rounds} rounds, {increments} increments, {spins} spins",
                elapsed / SEC
            );
            next_report += 5 * SEC;
        }
    }
    if failure {
        // The workers are parked at the barrier; returning ends them.
        return 1;
    }
    round(CMD_QUIT);
    for h in handles.iter_mut() {
        if let Some(j) = h.take() {
            j.join();
        }
    }
    let _ = sched::set_affinity(all_cpus(nr));
    let cpus = CPUS.load(Ordering::SeqCst);
    println!(
        "smp: stress: {rounds} rounds, {increments} increments, {spins} spins, CPUs seen {cpus:#x}"
    );
    if rounds == 0 {
        check("stress", false, format_args!("no round completed"));
        return 1;
    }
    // The harness reads only the word after the name; the totals follow.
    println!("TEST stress ok rounds={rounds} increments={increments} spins={spins}");
    0
}
