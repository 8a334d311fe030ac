//! A hostile EL0 fuzzer:
//! `fuzz -- [seed=S] [calls=N] [threads=T] [deadly=1 [deadly_kind=K]] [strict=1]`.
//!
//! T threads (spread over the CPUs; default 4), each with its own
//! deterministic xorshift64* stream derived from (seed, thread index),
//! make N/T steps each (default N = 20000). A step is picked by weight:
//! a syscall with hostile arguments (every implemented one, see
//! [`ops`], plus random numbers up to 1100 with random arguments), a
//! forged or real rseq critical section, a time slice extension cycle
//! (runaway ones included), or a deliberate fault (bad load or store,
//! `udf`, `brk`, `hvc`, a privileged `mrs`, misaligned `ldxr`, a branch to
//! a hole) that the fault handler recovers by editing the signal frame.
//! Now and then a step spawns a short-lived runtime thread, or a raw
//! thread that registers, unregisters and abuses test rseq areas of its
//! own. Meanwhile a signaller thread `tgkill`s the workers with SIGUSR1
//! and SIGUSR2 at random times.
//!
//! Rarer steps go after the kernel's memory and thread management, where
//! one CPU's change must be seen by the others and running out must be
//! survived:
//!
//! - a page race ([`races`]): reader threads pinned to the other CPUs
//!   keep loading and storing a region while its worker munmaps and
//!   re-mmaps parts of it; every u64 read must be 0 or the page's own
//!   pattern (never a physical address, another mapping's data), and a
//!   fault is only allowed while the page is being changed;
//! - clone with bad `CLONE_PARENT_SETTID`/`CLONE_CHILD_SETTID` pointers
//!   ([`clonetid`]): as on Linux the thread must be made and run;
//! - exhaustion and back ([`exhaust`]): threads until clone fails (EAGAIN
//!   at `threads_max`, or ENOMEM), or mappings until mmap gives ENOMEM,
//!   then all released; the kernel's free frame and thread counts must
//!   come back exactly. The other workers wait between steps meanwhile
//!   ([`pause`]), so nothing else changes those counts and none of their
//!   calls meets the exhaustion.
//!
//! Fresh mappings must read zero. The fuzzer's own mmaps stay out of a
//! race's transient hole ([`gate`]).
//!
//! The fuzzer never does what would legitimately end or hang it (see
//! [`ops`]), so a run must end with
//!
//! ```text
//! FUZZ-DONE seed=S calls=N ok=.. errno=.. signals=.. faults=.. races=..
//! ```
//!
//! (`races`: munmaps made while a race's reader was running), then one
//! line per errno, exit status 0. The kernel must neither panic nor hang.
//! Whatever the kernel does that it must not (a wrong pid, a thread made
//! by invalid clone flags, an mmap over live memory, a fault delivered
//! with the wrong signal, a lost registration, a stale page, a frame not
//! given back, ...) is printed as `fuzz: ANOMALY ...` and makes the
//! status 1.
//!
//! A watchdog in the main thread reports a worker that has made no step
//! for 60 s (`fuzz: watchdog: thread I (tid T) has been in step N (<kind>)
//! ...`, its signal mask, and where a SIGUSR1 finds it) and ends the run
//! with `fuzz: HANG ...` and status 4 after 120 s, so a stall names its
//! seed, thread, step and kind instead of running into a harness timeout.
//!
//! `deadly=1` adds, once in ~5000 steps, actions the kernel must answer
//! by killing the app (an unreachable `rseq_cs`, an abort without the
//! signature, a forged slice grant, an unmapped rseq area, a signal frame
//! returning to EL1 or without its FP/SIMD record): such a run may end
//! with a `[kill]` report and status 139. `deadly_kind=K` picks one
//! and makes it likely (once in ~100 steps).
//!
//! `strict=1` keeps the rseq descriptors within what `rseq_debug=1`
//! accepts (no start_ip outside user space, no version/flags, no abort
//! handler inside the section), for kernels booted with it.
#![no_std]
#![no_main]

#[macro_use]
mod rng;
mod clonetid;
mod exhaust;
mod faults;
mod gate;
mod linuxops;
mod mem;
mod ops;
mod pause;
mod races;
mod rawclone;
mod rseqfuzz;
mod stats;
mod worker;

use core::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

use rt::signal;
use rt::{Args, println, sched, sys, thread};

use crate::rng::Rng;
use crate::stats::Counter;

rt::rseq_mode!(v2);
rt::main!(main);

/// At most this many worker threads.
pub const MAX_THREADS: usize = 64;
/// A worker's stack (signal frames nest: a fault inside a USR handler...).
const WORKER_STACK: usize = 256 * 1024;

/// The run's parameters.
#[derive(Clone, Copy)]
pub struct Config {
    pub seed: u64,
    pub calls: u64,
    pub threads: usize,
    pub deadly: bool,
    /// `deadly_kind=K`: always deadly action K (else a random one).
    pub deadly_kind: Option<u64>,
    /// `strict=1`: descriptors valid for `rseq_debug=1`.
    pub strict: bool,
}

impl Config {
    /// Steps of worker `idx`: an equal share, the remainder to the first.
    pub fn quota(&self, idx: usize) -> u64 {
        let t = self.threads as u64;
        self.calls / t + u64::from((idx as u64) < self.calls % t)
    }
}

static SEED: AtomicU64 = AtomicU64::new(0);
static CALLS_WANTED: AtomicU64 = AtomicU64::new(0);
static THREADS: AtomicU64 = AtomicU64::new(0);
static DEADLY: AtomicBool = AtomicBool::new(false);
static DEADLY_KIND: AtomicU64 = AtomicU64::new(u64::MAX);
static STRICT: AtomicBool = AtomicBool::new(false);
/// The workers' tids (0: not started).
static TIDS: [AtomicI64; MAX_THREADS] = [const { AtomicI64::new(0) }; MAX_THREADS];
/// Set when the workers are done: the signaller stops.
static STOP: AtomicBool = AtomicBool::new(false);
/// Steps the workers made (summed at their end).
pub static MADE: Counter = Counter::new();

/// What a worker is doing, for the watchdog.
pub struct Progress {
    /// The step number (1-based) being made.
    pub step: AtomicU64,
    /// Its kind (see [`ops::op_name`]).
    pub op: AtomicU64,
    /// The worker's `FaultCtx` (0 when not running).
    pub ctx: AtomicU64,
    /// Its signal mask after its last rt_sigprocmask step.
    pub mask: AtomicU64,
    /// Waiting between steps ([`pause`]), not stuck.
    pub parked: AtomicBool,
}

pub static PROGRESS: [Progress; MAX_THREADS] = [const {
    Progress {
        step: AtomicU64::new(0),
        op: AtomicU64::new(0),
        ctx: AtomicU64::new(0),
        mask: AtomicU64::new(0),
        parked: AtomicBool::new(false),
    }
}; MAX_THREADS];

/// Seconds without a step before the watchdog reports a worker, and
/// before it ends the run (status 4) if nothing moved since.
const WATCHDOG_S: u64 = 60;
const HANG_S: u64 = 120;

/// The run's parameters (set by `main` before any thread starts).
pub fn config() -> Config {
    Config {
        seed: SEED.load(Ordering::Relaxed),
        calls: CALLS_WANTED.load(Ordering::Relaxed),
        threads: THREADS.load(Ordering::Relaxed) as usize,
        deadly: DEADLY.load(Ordering::Relaxed),
        deadly_kind: match DEADLY_KIND.load(Ordering::Relaxed) {
            u64::MAX => None,
            k => Some(k),
        },
        strict: STRICT.load(Ordering::Relaxed),
    }
}

/// Worker `i`'s tid, 0 if there is none.
pub fn worker_tid(i: usize) -> i64 {
    TIDS.get(i).map_or(0, |t| t.load(Ordering::Relaxed))
}

/// The number of CPUs (one past the highest in the initial affinity mask).
pub fn nr_cpus() -> u32 {
    static NR: AtomicU64 = AtomicU64::new(0);
    let n = NR.load(Ordering::Relaxed);
    if n != 0 {
        return n as u32;
    }
    let mask = sched::get_affinity();
    let n = if mask == 0 {
        1
    } else {
        64 - mask.leading_zeros()
    };
    NR.store(u64::from(n), Ordering::Relaxed);
    n
}

/// Spins in EL0 for `us` microseconds of the virtual counter.
pub fn spin_us(us: u64) {
    let (start, freq) = sys::counter();
    let ticks = sched::ns_to_ticks(us * 1000, if freq == 0 { 1_000_000_000 } else { freq });
    while sys::counter().0.wrapping_sub(start) < ticks {
        core::hint::spin_loop();
    }
}

/// Parses `12`, `0x1f`.
fn parse_u64(s: &str) -> Option<u64> {
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

fn usage(bad: &str) -> i32 {
    println!("fuzz: bad argument `{bad}`");
    println!(
        "usage: fuzz [seed=<u64>] [calls=<N, default 20000>] [threads=<T, default 4>] [deadly=1 [deadly_kind=0..{}]] [strict=1]",
        rseqfuzz::DEADLY_KINDS - 1
    );
    2
}

/// Sends SIGUSR1/SIGUSR2 to random workers at random times until STOP.
fn signaller(_: usize) -> i32 {
    let cfg = config();
    let mut rng = Rng::new(cfg.seed, 0x5167_7a11);
    while !STOP.load(Ordering::Relaxed) {
        if rng.one_in(4) {
            sched::sleep_ns(rng.below(500_000));
        } else {
            spin_us(rng.below(1500));
        }
        let tid = worker_tid(rng.below(cfg.threads as u64) as usize);
        let sig = if rng.coin() {
            signal::SIGUSR1
        } else {
            signal::SIGUSR2
        };
        let r = if rng.one_in(16) {
            signal::kill(1, sig)
        } else if tid != 0 {
            signal::tgkill(1, tid, sig)
        } else {
            continue;
        };
        if r.is_ok() {
            stats::SENT.inc();
        }
    }
    0
}

fn main(args: Args) -> i32 {
    thread::init_main();
    let (mut seed, mut calls, mut threads, mut deadly) = (None, 20_000u64, 4usize, false);
    for i in 1..args.len() {
        let a = args.get(i);
        let Some((k, v)) = a.split_once('=') else {
            return usage(a);
        };
        match (k, parse_u64(v)) {
            ("seed", Some(v)) => seed = Some(v),
            ("calls", Some(v)) => calls = v,
            ("threads", Some(v)) if (1..=MAX_THREADS as u64).contains(&v) => threads = v as usize,
            ("deadly", Some(v)) => deadly = v != 0,
            ("strict", Some(v)) => STRICT.store(v != 0, Ordering::Relaxed),
            ("deadly_kind", Some(v)) if v < rseqfuzz::DEADLY_KINDS => {
                DEADLY_KIND.store(v, Ordering::Relaxed);
            }
            _ => return usage(a),
        }
    }
    let seed = seed.unwrap_or_else(|| sys::counter().0 ^ 0x5eed_f00d);
    println!("fuzz: seed={seed} calls={calls} threads={threads}");
    println!(
        "fuzz: rseq {} registered {}, {} CPUs, deadly={}",
        rt::rseq::mode_name(),
        rt::rseq::registered(),
        nr_cpus(),
        deadly as u8
    );
    SEED.store(seed, Ordering::Relaxed);
    CALLS_WANTED.store(calls, Ordering::Relaxed);
    THREADS.store(threads as u64, Ordering::Relaxed);
    DEADLY.store(deadly, Ordering::Relaxed);

    if let Err(e) = faults::install_usr_handlers() {
        println!("fuzz: sigaction for SIGUSR1/SIGUSR2: {e}");
        return 1;
    }
    if let Err(e) = faults::install_handlers() {
        println!("fuzz: sigaction for the fault signals: {e}");
        return 1;
    }
    let before = sys::kstats().ok();
    let (t0, freq) = sys::counter();

    let mut handles: [Option<thread::JoinHandle>; MAX_THREADS] = [const { None }; MAX_THREADS];
    for (i, h) in handles.iter_mut().enumerate().take(threads) {
        match thread::spawn_with_stack(WORKER_STACK, ops::worker, i) {
            Ok(j) => {
                TIDS[i].store(j.tid(), Ordering::Relaxed);
                *h = Some(j);
            }
            Err(e) => {
                println!("fuzz: spawning worker {i}: {e}");
                return 1;
            }
        }
    }
    let sig_thread = thread::spawn(signaller, 0);
    pause::ready();
    let mut failed = join_workers(&mut handles, threads);
    STOP.store(true, Ordering::Relaxed);
    if let Ok(h) = sig_thread {
        h.join();
    }
    let ns = sched::ticks_to_ns(sys::counter().0 - t0, if freq == 0 { 1 } else { freq });

    println!(
        "FUZZ-DONE seed={seed} calls={} ok={} errno={} signals={} faults={} races={}",
        stats::CALLS.get(),
        stats::OK.get(),
        stats::ERR.get(),
        stats::SIGNALS.get(),
        stats::FAULTS.get(),
        stats::RACES.get()
    );
    stats::print_errnos();
    summary(before, ns);
    let anomalies = stats::ANOMALIES.get();
    if MADE.get() != stats::CALLS.get() {
        println!(
            "fuzz: workers report {} steps, counted {}",
            MADE.get(),
            stats::CALLS.get()
        );
        failed += 1;
    }
    println!("fuzz: {anomalies} anomalies, {failed} failed workers");
    if anomalies == 0 && failed == 0 { 0 } else { 1 }
}

/// Seconds on the virtual counter.
fn now_s() -> u64 {
    let (cnt, freq) = sys::counter();
    cnt / if freq == 0 { 1_000_000_000 } else { freq }
}

/// Joins the workers, watching that each keeps stepping: a worker stuck
/// in one step for [`WATCHDOG_S`] is reported (step, kind, and where a
/// SIGUSR1 finds it); still stuck after [`HANG_S`], the run ends with
/// status 4. Returns the number of workers that failed.
fn join_workers(handles: &mut [Option<thread::JoinHandle>], threads: usize) -> u32 {
    let mut failed = 0;
    let mut last = [(0u64, 0u64); MAX_THREADS]; // (step, since)
    let mut reported = [false; MAX_THREADS];
    loop {
        let mut running = false;
        for (i, slot) in handles.iter_mut().enumerate().take(threads) {
            let Some(h) = slot.take() else { continue };
            match h.try_join(50_000_000) {
                Ok(r) => {
                    if r != 0 {
                        println!("fuzz: worker {i} returned {r}");
                        failed += 1;
                    }
                }
                Err(h) => {
                    running = true;
                    *slot = Some(h);
                }
            }
        }
        if !running {
            return failed;
        }
        let now = now_s();
        for (i, slot) in handles.iter().enumerate().take(threads) {
            if slot.is_none() {
                continue;
            }
            let p = &PROGRESS[i];
            let step = p.step.load(Ordering::Relaxed);
            if step != last[i].0 || last[i].1 == 0 || p.parked.load(Ordering::Relaxed) {
                if reported[i] {
                    println!("fuzz: watchdog: thread {i} moved on (step {step})");
                    reported[i] = false;
                }
                last[i] = (step, now);
                continue;
            }
            let idle = now - last[i].1;
            if idle >= WATCHDOG_S && !reported[i] {
                reported[i] = true;
                watchdog_report(i, step, idle);
            } else if idle >= HANG_S {
                println!(
                    "fuzz: HANG: thread {i} (tid {}) stuck in step {step} ({}) for {idle} s; seed={}",
                    worker_tid(i),
                    ops::op_name(p.op.load(Ordering::Relaxed) as usize),
                    config().seed
                );
                sys::exit_group(4);
            }
        }
    }
}

/// Reports a stuck worker and pokes it with SIGUSR1 to see where it is.
fn watchdog_report(i: usize, step: u64, idle: u64) {
    let p = &PROGRESS[i];
    let tid = worker_tid(i);
    let op = ops::op_name(p.op.load(Ordering::Relaxed) as usize);
    println!(
        "fuzz: watchdog: thread {i} (tid {tid}) has been in step {step} ({op}) for {idle} s, signal mask {:#x}; seed={}",
        p.mask.load(Ordering::Relaxed),
        config().seed
    );
    let ctx = p.ctx.load(Ordering::SeqCst) as *const faults::FaultCtx;
    // SAFETY: a running worker's FaultCtx lives until it clears `ctx`.
    let before = unsafe { ctx.as_ref() }.map_or(0, |c| c.usr_pc.swap(0, Ordering::SeqCst));
    let r = signal::tgkill(1, tid, signal::SIGUSR1);
    sched::sleep_ns(200_000_000);
    // SAFETY: as above.
    let after = unsafe { ctx.as_ref() }.map_or(0, |c| c.usr_pc.load(Ordering::SeqCst));
    println!(
        "fuzz: watchdog: SIGUSR1 to tid {tid}: {r:?}; its handler ran at pc {after:#x} (0: not within 200 ms; previous {before:#x}); step now {}",
        p.step.load(Ordering::Relaxed)
    );
    if let Ok(k) = sys::kstats() {
        println!(
            "fuzz: watchdog: kernel ticks {:?} switches {:?} syscalls {}",
            k.ticks, k.context_switches, k.syscalls
        );
    }
}

/// What the fuzzer did and what the kernel counted meanwhile.
fn summary(before: Option<sys::KStats>, ns: u64) {
    use stats::*;
    let calls = CALLS.get();
    let ms = (ns / 1_000_000).max(1);
    println!(
        "fuzz: {calls} calls in {ms} ms: {} calls/s; signals sent {}, caught {}",
        calls * 1000 / ms,
        SENT.get(),
        SIGNALS.get()
    );
    println!(
        "fuzz: rseq_cs forged {} (cleared by the kernel {}); critical sections {} (aborted {}, with a trap inside {})",
        CS_FORGED.get(),
        CS_CLEARED.get(),
        CS_LEGIT.get(),
        CS_ABORTED.get(),
        CS_FAULT_IN.get()
    );
    println!(
        "fuzz: slice cycles {} (runaway {}): not granted {}, yielded {}, revoked {}",
        SLICE_CYCLES.get(),
        SLICE_RUNAWAY.get(),
        SLICE_NOT_GRANTED.get(),
        SLICE_YIELDED.get(),
        SLICE_REVOKED.get()
    );
    println!(
        "fuzz: threads spawned {}, raw rseq threads {}; mmaps {} ({} tries of 200 MiB), munmaps {}; unimplemented numbers {} ({} not ENOSYS)",
        SPAWNED.get(),
        RAW_THREADS.get(),
        MMAPS.get(),
        HUGE_MMAPS.get(),
        MUNMAPS.get(),
        UNIMPL.get(),
        UNIMPL_NOT_ENOSYS.get()
    );
    println!(
        "fuzz: page races {} ({} munmaps, {} with a reader running; {} loads, {} faults); clones with bad tid pointers {}",
        RACE_STEPS.get(),
        RACE_MUNMAPS.get(),
        RACES.get(),
        RACE_READS.get(),
        RACE_FAULTS.get(),
        CLONE_BADTID.get()
    );
    println!(
        "fuzz: exhaustion: threads {} (most alive {}), mmap {} (most pages {})",
        EXHAUST_THREADS.get(),
        EXHAUST_THREADS_PEAK.get(),
        EXHAUST_MMAPS.get(),
        EXHAUST_PAGES_PEAK.get()
    );
    if let (Some(b), Ok(a)) = (before, sys::kstats()) {
        let (rb, ra) = (b.rseq_total(), a.rseq_total());
        println!(
            "fuzz: kernel: syscalls {} migrations {} | rseq cs {} clear {} fixup {} ids {} slowpath {} | slice granted {} expired {} revoked {} yielded {} aborted {}",
            a.syscalls - b.syscalls,
            a.migrations - b.migrations,
            ra.cs - rb.cs,
            ra.clear - rb.clear,
            ra.fixup - rb.fixup,
            ra.ids - rb.ids,
            ra.slowpath - rb.slowpath,
            ra.s_granted - rb.s_granted,
            ra.s_expired - rb.s_expired,
            ra.s_revoked - rb.s_revoked,
            ra.s_yielded - rb.s_yielded,
            ra.s_aborted - rb.s_aborted
        );
    }
}
