//! `stats-pingpong [N]` and `stats`: the kernel's rseq counters (kstats).
//!
//! `stats-pingpong`: two threads pinned to one CPU hand a turn back and
//! forth N times each with `sched_yield`, so every hand-off is a context
//! switch into a registered thread whose IDs did not change. v1 rewrites
//! the IDs on each switch: the `ids` delta of that CPU is at least the
//! number of hand-offs (`pingpong-v1-ids`). v2 writes them only when they
//! change: the delta is 0 (`pingpong-v2-ids`).
//!
//! `stats`: a few operations (yields, signals to self, rseq operations with
//! a delay), then the counters are consistent: `rseq_mode` is the image's,
//! `exit > 0`, `ids > 0`, `fixup <= cs`, and in v1 at least one `signal`
//! per signal delivered and `cs`, `clear` > 0 (two threads pinned to one
//! CPU yield to each other right after rseq operations) (`stats`).

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use librseq::{Index, PerCpuCounter};
use rt::sched::cpu_bit;
use rt::sync::Barrier;
use rt::sys::{self, KStats};
use rt::test::{SEC, check, status, wait_for};
use rt::{println, sched, signal, thread};

use crate::{SIGNALS, install_signal_counter, is_v1, kstats_pair, nr_cpus, print_rseq_stats};

static TURN: AtomicU64 = AtomicU64::new(0);
static GO: AtomicBool = AtomicBool::new(false);
static READY: AtomicU64 = AtomicU64::new(0);
static ROUNDS: AtomicU64 = AtomicU64::new(0);
static TURNS_TAKEN: AtomicU64 = AtomicU64::new(0);
static PINNED: AtomicU64 = AtomicU64::new(0);

/// `arg` = (player << 8) | cpu. Player p moves when `TURN % 2 == p`.
fn player(arg: usize) -> i32 {
    let (p, cpu) = ((arg >> 8) as u64, (arg & 0xff) as u32);
    if sched::pin(cpu) {
        PINNED.fetch_add(1, Ordering::SeqCst);
    }
    READY.fetch_add(1, Ordering::SeqCst);
    while !GO.load(Ordering::SeqCst) {
        sched::yield_now();
    }
    let end = 2 * ROUNDS.load(Ordering::SeqCst);
    let mut taken = 0;
    loop {
        let t = TURN.load(Ordering::SeqCst);
        if t >= end {
            break;
        }
        if t % 2 == p {
            TURN.store(t + 1, Ordering::SeqCst);
            taken += 1;
        }
        sched::yield_now();
    }
    TURNS_TAKEN.fetch_add(taken, Ordering::SeqCst);
    0
}

pub fn pingpong(n: u64) -> i32 {
    let nr = nr_cpus();
    let cpu = if nr > 1 { 1 } else { 0 };
    println!(
        "rseqtest: stats-pingpong ({}): two threads pinned to CPU {cpu} take {n} turns each with sched_yield; the main thread waits on CPU 0; kstats rseq counters of CPU {cpu} before/after",
        rt::rseq::mode_name()
    );
    let _ = sched::set_affinity(cpu_bit(0));
    TURN.store(0, Ordering::SeqCst);
    GO.store(false, Ordering::SeqCst);
    READY.store(0, Ordering::SeqCst);
    TURNS_TAKEN.store(0, Ordering::SeqCst);
    PINNED.store(0, Ordering::SeqCst);
    ROUNDS.store(n, Ordering::SeqCst);
    let a = thread::spawn(player, cpu as usize).ok();
    let b = thread::spawn(player, (1 << 8) | cpu as usize).ok();
    wait_for(2 * SEC, || READY.load(Ordering::SeqCst) == 2);
    // Let both settle on the CPU (their first ID writes happen now).
    sched::sleep_ns(20_000_000);
    let before = sys::kstats();
    GO.store(true, Ordering::SeqCst);
    for h in [a, b].into_iter().flatten() {
        h.join();
    }
    let after = sys::kstats();
    let Some((k0, k1)) = kstats_pair("pingpong", before, after) else {
        return 1;
    };
    let c = cpu as usize;
    let d = k1.rseq[c].delta(&k0.rseq[c]);
    let switches = k1.context_switches[c] - k0.context_switches[c];
    let taken = TURNS_TAKEN.load(Ordering::SeqCst);
    let pinned = PINNED.load(Ordering::SeqCst);
    println!(
        "rseqtest: {taken} turns taken (want {}), {pinned}/2 players pinned; CPU {cpu}: {switches} context switches, ids delta {}",
        2 * n,
        d.ids
    );
    print_rseq_stats("CPU delta", &d);
    let setup = taken == 2 * n && pinned == 2 && k1.rseq_mode == rt::rseq::mode() as u64;
    if is_v1() {
        // Every turn after the first needs a switch into the other player.
        let want = 2 * n - 1;
        status(check(
            "pingpong-v1-ids",
            setup && d.ids >= want,
            format_args!(
                "ids delta {} (want >= {want}, one per switch-in), {switches} switches, {taken} turns, {pinned} pinned, kstats mode {}",
                d.ids, k1.rseq_mode
            ),
        ))
    } else {
        status(check(
            "pingpong-v2-ids",
            setup && d.ids == 0 && switches >= 2 * n - 1,
            format_args!(
                "ids delta {} (want 0: the IDs never changed), {switches} switches (want >= {}), {taken} turns, {pinned} pinned, kstats mode {}",
                d.ids,
                2 * n - 1,
                k1.rseq_mode
            ),
        ))
    }
}

static COUNTER: PerCpuCounter = PerCpuCounter::new();
static START: Barrier = Barrier::new(2);

/// Pinned to CPU `cpu` with the other yielder: every yield is a switch
/// into a thread whose `rseq_cs` still points at its last section.
fn yielder(cpu: usize) -> i32 {
    let _ = sched::set_affinity(cpu_bit(cpu as u32));
    START.wait();
    for _ in 0..50 {
        COUNTER.add(Index::CpuId, 1);
        sched::yield_now();
    }
    0
}

pub fn run() -> i32 {
    const SIGS: u64 = 10;
    println!(
        "rseqtest: stats ({}): 2 threads on one CPU x 50 rseq increments + yields, {SIGS} signals to self, 1000 increments with an in-section delay; then the kernel's rseq counters",
        rt::rseq::mode_name()
    );
    let before: Result<KStats, i64> = sys::kstats();
    let cpu = if nr_cpus() > 1 { 1 } else { 0 };
    let hs = [
        thread::spawn(yielder, cpu).ok(),
        thread::spawn(yielder, cpu).ok(),
    ];
    for h in hs.into_iter().flatten() {
        h.join();
    }
    install_signal_counter();
    SIGNALS.store(0, Ordering::SeqCst);
    for _ in 0..SIGS {
        let _ = signal::raise(signal::SIGUSR1);
    }
    librseq::set_inject_delay(2000);
    for _ in 0..1000 {
        COUNTER.add(Index::CpuId, 1);
    }
    librseq::set_inject_delay(0);
    let after = sys::kstats();
    let Some((k0, k1)) = kstats_pair("stats", before, after) else {
        return 1;
    };
    let total = k1.rseq_total();
    let d = total.delta(&k0.rseq_total());
    print_rseq_stats("totals", &total);
    print_rseq_stats("during the operations", &d);
    for (cpu, s) in k1.rseq.iter().enumerate().take(nr_cpus() as usize) {
        print_rseq_stats(if cpu == 0 { "CPU 0" } else { "next CPU" }, s);
    }
    let delivered = SIGNALS.load(Ordering::SeqCst);
    let counted = COUNTER.sum();
    println!(
        "rseqtest: kstats version {} rseq_mode {}, {delivered} signals handled, counter {counted} (want 1100), {} librseq aborts",
        k1.version,
        k1.rseq_mode,
        librseq::aborts()
    );
    let mut ok = k1.rseq_mode == rt::rseq::mode() as u64
        && total.exit > 0
        && total.ids > 0
        && total.fixup <= total.cs
        && d.exit > 0
        && delivered == SIGS
        && counted == 1100;
    if is_v1() {
        // Every switch evaluates the (stale) rseq_cs and clears it; every
        // signal delivery goes through rseq.
        ok &= d.signal >= SIGS && d.cs >= 1 && d.clear >= 1;
    }
    status(check(
        "stats",
        ok,
        format_args!(
            "mode {} (want {}), exit {} ids {} fixup {} cs {}, delta exit {} signal {} (v1: >= {SIGS}) cs {} clear {} (v1: >= 1), {delivered} signals handled, counter {counted}",
            k1.rseq_mode,
            rt::rseq::mode(),
            total.exit,
            total.ids,
            total.fixup,
            total.cs,
            d.exit,
            d.signal,
            d.cs,
            d.clear
        ),
    ))
}
