//! The rseq-os benchmarks, one image per rseq mode: `bench-none`,
//! `bench-v1`, `bench-v2`, `bench-linux [-- NAME...]` (the same code; the
//! image's kernel is built for the mode the app declares, `none` gets a v2
//! kernel and registers nothing, `linux` registers 64 bytes and so runs v2
//! through the `linux` kernel's run-time version checks).
//!
//! Every benchmark (or only those named in `argv[1..]`, in that order)
//! runs once and prints exactly one line:
//!
//! ```text
//! BENCH name=getpid iters=N ticks=T freq=F ops=O exit=.. signal=.. slowpath=.. fastpath=.. ids=.. cs=.. clear=.. fixup=.. s_granted=.. s_expired=.. s_revoked=.. s_yielded=.. s_aborted=.. switches=S cpu=C [kind=..|cmd=..]
//! ```
//!
//! - `ticks`: virtual counter (CNTVCT_EL0) ticks over all `iters`
//!   iterations, read with `isb; mrs` right before and after the timed loop
//!   (for the multi-thread ones: from the first thread's start to the last
//!   thread's end, each thread reading the counter around its own loop);
//!   `freq`: CNTFRQ_EL0; `ops`: the operations counted (ns/op =
//!   `ticks * 1e9 / freq / ops`; under QEMU `-icount shift=0` that is also
//!   instructions per op, summed over the vCPUs that ran).
//! - The rseq counters (`exit` .. `s_aborted`, Linux's names) and
//!   `switches` (context switches) are kstats deltas summed over CPUs,
//!   read just outside the timed region (before the first counter read,
//!   after the second; for the multi-thread ones before the start signal
//!   and after the join, so they include the start-up and exit switches).
//! - `cpu`: the CPU the measuring thread ran on; `kind=`/`cmd=` say which
//!   variant ran where it depends on the mode.
//!
//! Then `BENCH-DONE mode=<none|v1|v2|linux>`. The exit status is 0, or 1 if a
//! benchmark's own check failed (a `bench: NAME: FAIL ...` line says why),
//! or 2 for an unknown name.
//!
//! Iteration counts are fixed (no time-based loops), so a run under QEMU
//! with `-icount shift=0,sleep=off` is deterministic; they are chosen so
//! that each benchmark takes about 10–50 ms of emulated time there. The
//! benchmarks:
//!
//! | name | what | ops |
//! |---|---|---|
//! | `getpid`, `gettid` | the null syscall, main pinned to CPU 0 | iters |
//! | `sched_yield` | `sched_yield()` with nothing else runnable on CPU 0 | iters |
//! | `pingpong_1cpu` | main and a peer pinned to CPU 0 yield to each other, `iters` yields each | 2 × iters (switches) |
//! | `pingpong_2cpu` | main (CPU 0) and a peer (CPU 1) hand a sequence word back and forth, each futex-waking the other | 2 × iters (round trips × 2) |
//! | `rseq_percpu_inc` | librseq's per-CPU counter increment (`addv` on `cpu_id`) on CPU 0; `none`: an atomic `fetch_add` on the CPU's slot (`kind=atomic`) | iters |
//! | `atomic_inc` | `AtomicU64::fetch_add(1)` on one shared counter | iters |
//! | `membarrier_rseq` | `membarrier(PRIVATE_EXPEDITED_RSEQ)` from CPU 0 while 3 threads spin in EL0 on CPUs 1–3; `none`: `PRIVATE_EXPEDITED` (`cmd=expedited`) | iters |
//! | `slice_lock` | lock-holder preemption (rseqtest's `lhp`, deterministic): 4 threads, 2 pinned to each of CPUs 1 and 2, `iters` acquisitions each of one test-and-set spinlock with a fixed-length section; v2 registrations (v2, linux) request a time slice extension around each hold (`kind=ext`), v1/none do not (`kind=noext`) | 4 × iters |
//!
//! Spin-waits use the `yield` hint ([`spin_hint`]): a no-op on the
//! Cortex-A72, but QEMU's single-threaded TCG (always used with `-icount`)
//! switches to the next vCPU on it, so a waiter hands the emulator to the
//! CPU it waits for instead of burning its whole emulator time slice.
#![no_std]

use core::fmt::{self, Write};
use core::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering};

use librseq::{Index, PerCpuCounter};
use rt::rseq::{SliceExt, SliceLock};
use rt::sys::{self, KStats, RseqStats, membarrier_cmd};
use rt::{Args, println, sched, thread};

// Iteration counts, tuned for QEMU virt under `-icount shift=0` (1
// instruction = 1 ns): each benchmark takes a few to ~40 ms of emulated
// time. The figures they give are in the README's "Benchmarks" (`just
// bench rust=1`), not here, where they would go stale.

/// `getpid`: null syscalls.
pub const GETPID_ITERS: u64 = 150_000;
/// `gettid`: as `getpid`.
pub const GETTID_ITERS: u64 = 150_000;
/// `sched_yield` with an empty run queue (a `schedule()` that picks the
/// caller again).
pub const SCHED_YIELD_ITERS: u64 = 70_000;
/// `pingpong_1cpu`: yields per thread (2 × this context switches).
pub const PINGPONG_1CPU_ITERS: u64 = 25_000;
/// `pingpong_2cpu`: round trips (each a futex wake and a wait per side;
/// both CPUs' instructions counted).
pub const PINGPONG_2CPU_ITERS: u64 = 5_000;
/// `rseq_percpu_inc`: per-CPU increments.
pub const PERCPU_INC_ITERS: u64 = 1_200_000;
/// `atomic_inc`: shared-counter `fetch_add`s.
pub const ATOMIC_INC_ITERS: u64 = 3_000_000;
/// `membarrier_rseq`: membarrier calls (each IPIs 3 CPUs and waits for
/// them; the kernel's wait uses the `yield` hint, so QEMU runs the other
/// vCPUs at once and a call costs a couple of thousand instructions).
pub const MEMBARRIER_ITERS: u64 = 2_000;
/// `slice_lock`: lock acquisitions per thread (4 threads, both CPUs
/// counted). Few ticks land in a hold here, so it rarely sees a grant: the
/// C program's `slice_lock_ext` (two threads on one CPU) shows the
/// extension's effect.
pub const SLICE_LOCK_ITERS: u64 = 4_000;
/// `slice_lock`: delay-loop iterations inside the lock (2 instructions
/// each: ~2 µs under icount, ~1 µs on a 1.5 GHz Cortex-A72, inside the
/// default 5 µs slice extension).
pub const SLICE_LOCK_CS_SPINS: u64 = 1_000;
/// `slice_lock`: delay-loop iterations between a release and the next
/// acquisition attempt.
pub const SLICE_LOCK_THINK_SPINS: u64 = 250;
/// `slice_lock`: polls of a held lock before a waiter gives up its CPU
/// with `sched_yield()` (rseqtest's `lhp` spins 20 µs).
pub const SLICE_LOCK_SPIN_POLLS: u64 = 2_000;

/// The benchmark names, in the order a full run uses.
pub const NAMES: [&str; 9] = [
    "getpid",
    "gettid",
    "sched_yield",
    "pingpong_1cpu",
    "pingpong_2cpu",
    "rseq_percpu_inc",
    "atomic_inc",
    "membarrier_rseq",
    "slice_lock",
];

/// Runs the benchmarks named in `argv[1..]` (all of [`NAMES`] if none),
/// prints their `BENCH` lines and `BENCH-DONE`; returns the exit status.
pub fn main(args: Args) -> i32 {
    for i in 1..args.len() {
        let name = args.get(i);
        if !NAMES.contains(&name) {
            println!("bench: unknown benchmark `{name}`; benchmarks: {NAMES:?}");
            return 2;
        }
    }
    let nr = online_cpus();
    println!(
        "bench: rseq mode {} (registered {}), {nr} CPUs, counter {} Hz",
        rt::rseq::mode_name(),
        rt::rseq::registered(),
        freq()
    );
    if !sched::pin(0) {
        println!("bench: FAIL cannot pin the main thread to CPU 0");
    }
    let mut ok = true;
    let t0 = now();
    let mut run = |name: &str| ok &= run_one(name, nr);
    if args.len() > 1 {
        (1..args.len()).for_each(|i| run(args.get(i)));
    } else {
        NAMES.iter().for_each(|n| run(n));
    }
    let ms = (now() - t0) * 1000 / freq().max(1);
    println!("bench: all done in {ms} ms of counter time");
    println!("BENCH-DONE mode={}", rt::rseq::mode_name());
    if ok { 0 } else { 1 }
}

/// Runs one benchmark and prints its line; returns whether its check
/// passed.
fn run_one(name: &str, nr: u32) -> bool {
    let m = match name {
        "getpid" => single(GETPID_ITERS, "", || {
            sys::getpid();
        }),
        "gettid" => single(GETTID_ITERS, "", || {
            sys::gettid();
        }),
        "sched_yield" => single(SCHED_YIELD_ITERS, "", || {
            sys::sched_yield();
        }),
        "pingpong_1cpu" => pingpong_1cpu(),
        "pingpong_2cpu" if nr >= 2 => pingpong_2cpu(),
        "rseq_percpu_inc" => percpu_inc(),
        "atomic_inc" => atomic_inc(),
        "membarrier_rseq" if nr >= 4 => membarrier(),
        "slice_lock" if nr >= 3 => slice_lock(),
        _ => {
            println!("bench: {name}: FAIL needs more CPUs than {nr}");
            return false;
        }
    };
    m.print(name);
    if !m.ok {
        println!("bench: {name}: FAIL {}", m.why);
    }
    m.ok
}

/// One benchmark's result.
struct Measure {
    iters: u64,
    ticks: u64,
    ops: u64,
    cpu: u32,
    /// Extra `key=value` at the end of the line ("" for none).
    extra: &'static str,
    before: Result<KStats, i64>,
    after: Result<KStats, i64>,
    ok: bool,
    why: &'static str,
}

impl Measure {
    fn new(iters: u64, extra: &'static str) -> Measure {
        Measure {
            iters,
            ticks: 0,
            ops: iters,
            cpu: sched::getcpu(),
            extra,
            before: Err(0),
            after: Err(0),
            ok: true,
            why: "",
        }
    }

    /// Records a failed check (the first reason is kept).
    fn check(&mut self, ok: bool, why: &'static str) {
        if !ok && self.ok {
            self.ok = false;
            self.why = why;
        }
    }

    /// The `BENCH` line, written with one `write(2)`.
    fn print(&self, name: &str) {
        let (d, switches) = match (&self.before, &self.after) {
            (Ok(b), Ok(a)) => {
                let n = (a.nr_cpus as usize).min(a.context_switches.len());
                let sw = (0..n)
                    .map(|c| a.context_switches[c].wrapping_sub(b.context_switches[c]))
                    .sum();
                (a.rseq_total().delta(&b.rseq_total()), sw)
            }
            _ => (RseqStats::default(), 0),
        };
        let mut l = Line::new();
        let _ = write!(
            l,
            "BENCH name={name} iters={} ticks={} freq={} ops={}",
            self.iters,
            self.ticks,
            freq(),
            self.ops
        );
        for (k, v) in RseqStats::NAMES.iter().zip(d.as_array()) {
            let _ = write!(l, " {k}={v}");
        }
        let _ = write!(l, " switches={switches} cpu={}", self.cpu);
        if !self.extra.is_empty() {
            let _ = write!(l, " {}", self.extra);
        }
        if self.before.is_err() || self.after.is_err() {
            let _ = write!(l, " kstats=failed");
        }
        l.finish();
    }
}

/// A line formatted on the stack and written at once (`println!` writes
/// 256-byte pieces).
struct Line {
    buf: [u8; 768],
    len: usize,
}

impl Line {
    fn new() -> Line {
        Line {
            buf: [0; 768],
            len: 0,
        }
    }

    fn finish(mut self) {
        let _ = self.write_str("\n");
        sys::write(1, &self.buf[..self.len]);
    }
}

impl Write for Line {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = self.buf.len() - 1 - self.len; // keep one byte for '\n'
        let n = s.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// The virtual counter, after an `isb` so earlier instructions have
/// completed (no `nomem`: also a compiler barrier).
#[inline(always)]
pub fn now() -> u64 {
    let c: u64;
    // SAFETY: CNTVCT_EL0 is readable at EL0 (CNTKCTL_EL1.EL0VCTEN).
    unsafe { core::arch::asm!("isb", "mrs {}, cntvct_el0", out(reg) c, options(nostack)) };
    c
}

/// CNTFRQ_EL0.
pub fn freq() -> u64 {
    sys::counter().1
}

/// The spin-wait hint: `yield` (see the crate documentation).
#[inline(always)]
pub fn spin_hint() {
    // SAFETY: a hint instruction; no registers or memory change.
    unsafe { core::arch::asm!("yield", options(nomem, nostack, preserves_flags)) };
}

/// A delay of exactly `n` loop iterations (2 instructions each), no
/// memory accesses, no syscalls.
#[inline(always)]
pub fn delay(n: u64) {
    if n == 0 {
        return;
    }
    // SAFETY: a register-only count-down loop.
    unsafe {
        core::arch::asm!(
            "1: subs {n}, {n}, #1",
            "b.ne 1b",
            n = inout(reg) n => _,
            options(nomem, nostack),
        )
    };
}

/// The number of CPUs ([`sched::online_cpus`]), at most 4 (kstats'
/// arrays).
fn online_cpus() -> u32 {
    sched::online_cpus().clamp(1, 4)
}

/// Yields until `cond` holds (setup only, never timed).
fn wait_until(mut cond: impl FnMut() -> bool) {
    while !cond() {
        sys::sched_yield();
    }
}

/// Runs `f` `iters` times on the pinned main thread between two counter
/// reads, with kstats read just outside.
#[inline(always)]
fn single(iters: u64, extra: &'static str, mut f: impl FnMut()) -> Measure {
    let mut m = Measure::new(iters, extra);
    m.before = sys::kstats();
    let t0 = now();
    for _ in 0..iters {
        f();
    }
    let t1 = now();
    m.after = sys::kstats();
    m.ticks = t1 - t0;
    m.check(m.cpu == 0, "not on CPU 0");
    m
}

// ---------------------------------------------------------------------------
// rseq_percpu_inc, atomic_inc
// ---------------------------------------------------------------------------

static PERCPU: PerCpuCounter = PerCpuCounter::new();
static ATOMIC_SLOTS: [AtomicU64; librseq::MAX_CPUS] =
    [const { AtomicU64::new(0) }; librseq::MAX_CPUS];
static SHARED: AtomicU64 = AtomicU64::new(0);

fn percpu_inc() -> Measure {
    let n = PERCPU_INC_ITERS;
    if rt::rseq::registered() {
        PERCPU.reset();
        let aborts = librseq::aborts();
        let mut m = single(n, "kind=rseq", || {
            PERCPU.add(Index::CpuId, 1);
        });
        m.check(
            PERCPU.get(0) == n as i64,
            "per-CPU counter of CPU 0 != iters",
        );
        if librseq::aborts() != aborts {
            println!(
                "bench: rseq_percpu_inc: {} aborted sections (retried)",
                librseq::aborts() - aborts
            );
        }
        m
    } else {
        // No registration (mode none): the same loop on an atomic slot of
        // the CPU (read once: the thread is pinned).
        let slot = &ATOMIC_SLOTS[(sched::getcpu() as usize) % librseq::MAX_CPUS];
        slot.store(0, Ordering::Relaxed);
        let mut m = single(n, "kind=atomic", || {
            slot.fetch_add(1, Ordering::Relaxed);
        });
        m.check(slot.load(Ordering::Relaxed) == n, "counter != iters");
        m
    }
}

fn atomic_inc() -> Measure {
    SHARED.store(0, Ordering::Relaxed);
    let mut m = single(ATOMIC_INC_ITERS, "", || {
        SHARED.fetch_add(1, Ordering::Relaxed);
    });
    m.check(
        SHARED.load(Ordering::Relaxed) == ATOMIC_INC_ITERS,
        "counter != iters",
    );
    m
}

// ---------------------------------------------------------------------------
// pingpong_1cpu, pingpong_2cpu, membarrier_rseq: main measures, peers help
// ---------------------------------------------------------------------------

static READY: AtomicU32 = AtomicU32::new(0);
static PINNED: AtomicU32 = AtomicU32::new(0);
static GO: AtomicBool = AtomicBool::new(false);
static STOP: AtomicBool = AtomicBool::new(false);
static SEQ: AtomicU32 = AtomicU32::new(0);

fn reset_shared() {
    READY.store(0, Ordering::SeqCst);
    PINNED.store(0, Ordering::SeqCst);
    GO.store(false, Ordering::SeqCst);
    STOP.store(false, Ordering::SeqCst);
    SEQ.store(0, Ordering::SeqCst);
}

/// Pins to `cpu`, counts itself pinned and ready.
fn peer_start(cpu: u32) {
    if sched::pin(cpu) {
        PINNED.fetch_add(1, Ordering::SeqCst);
    }
    READY.fetch_add(1, Ordering::SeqCst);
}

/// Spawns `f(arg)` for each arg; the handles that started.
fn spawn_all<const N: usize>(
    f: fn(usize) -> i32,
    args: [usize; N],
) -> [Option<thread::JoinHandle>; N] {
    args.map(|a| match thread::spawn(f, a) {
        Ok(h) => Some(h),
        Err(e) => {
            println!("bench: spawn: {e}");
            None
        }
    })
}

/// Joins every handle; true if all threads started and returned 0.
fn join_all<const N: usize>(hs: [Option<thread::JoinHandle>; N]) -> bool {
    let mut ok = true;
    for h in hs {
        ok &= h.map_or(-1, |h| h.join()) == 0;
    }
    ok
}

/// The `pingpong_1cpu` peer: on CPU 0 with main, yields until GO, then
/// `PINGPONG_1CPU_ITERS` times.
fn yield_peer(cpu: usize) -> i32 {
    peer_start(cpu as u32);
    while !GO.load(Ordering::Acquire) {
        sys::sched_yield();
    }
    for _ in 0..PINGPONG_1CPU_ITERS {
        sys::sched_yield();
    }
    0
}

/// Main and the peer on CPU 0, nothing else runnable there: each of
/// main's yields switches to the peer, whose yield switches back. After
/// GO, main's first yield lets the peer (still in its GO loop) see it and
/// start; main's last yield returns after the peer's last: 2N switches.
fn pingpong_1cpu() -> Measure {
    let n = PINGPONG_1CPU_ITERS;
    reset_shared();
    let mut m = Measure::new(n, "");
    m.ops = 2 * n;
    let hs = spawn_all(yield_peer, [0]);
    wait_until(|| READY.load(Ordering::SeqCst) == 1);
    m.before = sys::kstats();
    GO.store(true, Ordering::Release);
    let t0 = now();
    for _ in 0..n {
        sys::sched_yield();
    }
    let t1 = now();
    m.after = sys::kstats();
    m.ticks = t1 - t0;
    let joined = join_all(hs);
    m.check(
        PINNED.load(Ordering::SeqCst) == 1 && m.cpu == 0,
        "not pinned",
    );
    m.check(joined, "peer failed");
    m
}

/// Waits (futex) until `SEQ == want`.
#[inline(always)]
fn wait_seq(want: u32) {
    loop {
        let s = SEQ.load(Ordering::Acquire);
        if s == want {
            return;
        }
        sys::futex_wait(&SEQ, s, None);
    }
}

/// Publishes `v` in `SEQ` and wakes the other side.
#[inline(always)]
fn post_seq(v: u32) {
    SEQ.store(v, Ordering::Release);
    sys::futex_wake(&SEQ, 1);
}

/// The `pingpong_2cpu` peer: answers odd values with the next even one.
fn futex_peer(cpu: usize) -> i32 {
    peer_start(cpu as u32);
    for i in 0..PINGPONG_2CPU_ITERS as u32 {
        wait_seq(2 * i + 1);
        post_seq(2 * i + 2);
    }
    0
}

/// Main on CPU 0 posts 2i+1 and waits for 2i+2 from the peer on CPU 1;
/// each side sleeps in FUTEX_WAIT while the other runs.
fn pingpong_2cpu() -> Measure {
    let n = PINGPONG_2CPU_ITERS;
    reset_shared();
    let mut m = Measure::new(n, "");
    m.ops = 2 * n;
    let hs = spawn_all(futex_peer, [1]);
    wait_until(|| READY.load(Ordering::SeqCst) == 1);
    m.before = sys::kstats();
    let t0 = now();
    for i in 0..n as u32 {
        post_seq(2 * i + 1);
        wait_seq(2 * i + 2);
    }
    let t1 = now();
    m.after = sys::kstats();
    m.ticks = t1 - t0;
    let joined = join_all(hs);
    m.check(
        PINNED.load(Ordering::SeqCst) == 1 && m.cpu == 0,
        "not pinned",
    );
    m.check(joined, "peer failed");
    m
}

/// A `membarrier_rseq` spinner: pinned, spins in EL0 until STOP.
fn spinner(cpu: usize) -> i32 {
    peer_start(cpu as u32);
    while !STOP.load(Ordering::Relaxed) {
        spin_hint();
    }
    0
}

/// Main on CPU 0 issues membarriers while CPUs 1-3 each run a spinning
/// thread of the app (so each call IPIs all three and waits for them).
fn membarrier() -> Measure {
    let n = MEMBARRIER_ITERS;
    let rseq = rt::rseq::registered();
    let (register, cmd, extra) = if rseq {
        (
            membarrier_cmd::REGISTER_PRIVATE_EXPEDITED_RSEQ,
            membarrier_cmd::PRIVATE_EXPEDITED_RSEQ,
            "cmd=rseq",
        )
    } else {
        (
            membarrier_cmd::REGISTER_PRIVATE_EXPEDITED,
            membarrier_cmd::PRIVATE_EXPEDITED,
            "cmd=expedited",
        )
    };
    reset_shared();
    let mut m = Measure::new(n, extra);
    let registered = sys::membarrier(register, 0, 0) == 0;
    let hs = spawn_all(spinner, [1, 2, 3]);
    wait_until(|| READY.load(Ordering::SeqCst) == 3);
    m.before = sys::kstats();
    let mut err = 0;
    let t0 = now();
    for _ in 0..n {
        err |= sys::membarrier(cmd, 0, 0);
    }
    let t1 = now();
    m.after = sys::kstats();
    m.ticks = t1 - t0;
    STOP.store(true, Ordering::Relaxed);
    let joined = join_all(hs);
    m.check(registered && err == 0, "membarrier failed");
    m.check(
        PINNED.load(Ordering::SeqCst) == 3 && m.cpu == 0,
        "not pinned",
    );
    m.check(joined, "spinner failed");
    if let (Ok(b), Ok(a)) = (&m.before, &m.after) {
        let ipis: u64 = (1..4)
            .map(|c| a.membarrier_ipis[c] - b.membarrier_ipis[c])
            .sum();
        println!(
            "bench: membarrier_rseq: {ipis} membarrier IPIs on CPUs 1-3 (want {})",
            3 * n
        );
        m.check(ipis == 3 * n, "not one IPI per spinner per call");
    }
    m
}

// ---------------------------------------------------------------------------
// slice_lock
// ---------------------------------------------------------------------------

const LOCK_THREADS: usize = 4;

static LOCK: SliceLock = SliceLock::new();
/// Incremented under the lock with a plain load and store: lost updates
/// would show a broken lock.
static PROTECTED: AtomicU64 = AtomicU64::new(0);
static EXT: AtomicBool = AtomicBool::new(false);
static DONE: AtomicU32 = AtomicU32::new(0);

/// One worker's results.
struct Slot {
    start: AtomicU64,
    end: AtomicU64,
    acquired: AtomicU64,
    cpu: AtomicU32,
    enable: AtomicI64,
    /// Slice ends: request still set (no grant), yielded, revoked.
    not_granted: AtomicU64,
    yielded: AtomicU64,
    revoked: AtomicU64,
}

impl Slot {
    const fn new() -> Slot {
        Slot {
            start: AtomicU64::new(0),
            end: AtomicU64::new(0),
            acquired: AtomicU64::new(0),
            cpu: AtomicU32::new(0),
            enable: AtomicI64::new(0),
            not_granted: AtomicU64::new(0),
            yielded: AtomicU64::new(0),
            revoked: AtomicU64::new(0),
        }
    }
}

static SLOTS: [Slot; LOCK_THREADS] = [const { Slot::new() }; LOCK_THREADS];

/// A `slice_lock` worker: `SLICE_LOCK_ITERS` acquisitions.
fn lock_worker(idx: usize) -> i32 {
    let slot = &SLOTS[idx];
    let cpu = 1 + (idx / 2) as u32;
    peer_start(cpu);
    slot.cpu.store(sched::getcpu(), Ordering::SeqCst);
    let (mut ext, r) = SliceExt::enable(EXT.load(Ordering::SeqCst));
    slot.enable.store(r, Ordering::SeqCst);
    while !GO.load(Ordering::Acquire) {
        sys::sched_yield();
    }
    let t0 = now();
    for _ in 0..SLICE_LOCK_ITERS {
        LOCK.lock(&mut ext, || {
            let mut polls = 0;
            while LOCK.is_held() {
                polls += 1;
                if polls == SLICE_LOCK_SPIN_POLLS {
                    sys::sched_yield();
                    polls = 0;
                }
                spin_hint();
            }
            true
        });
        PROTECTED.store(PROTECTED.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        delay(SLICE_LOCK_CS_SPINS);
        LOCK.unlock(&mut ext);
        spin_hint();
        delay(SLICE_LOCK_THINK_SPINS);
    }
    let t1 = now();
    let ends = ext.disable();
    slot.start.store(t0, Ordering::SeqCst);
    slot.end.store(t1, Ordering::SeqCst);
    slot.acquired.store(SLICE_LOCK_ITERS, Ordering::SeqCst);
    slot.not_granted.store(ends.not_granted, Ordering::SeqCst);
    slot.yielded
        .store(ends.yielded + ends.late, Ordering::SeqCst);
    slot.revoked.store(ends.revoked, Ordering::SeqCst);
    DONE.fetch_add(1, Ordering::SeqCst);
    0
}

/// Lock-holder preemption, deterministic: see the crate documentation.
/// Main (CPU 0) only starts the workers and joins them (asleep meanwhile).
fn slice_lock() -> Measure {
    let n = SLICE_LOCK_ITERS;
    let ext = rt::rseq::version() == 2;
    reset_shared();
    LOCK.reset();
    PROTECTED.store(0, Ordering::SeqCst);
    DONE.store(0, Ordering::SeqCst);
    EXT.store(ext, Ordering::SeqCst);
    for s in &SLOTS {
        s.start.store(0, Ordering::SeqCst);
        s.end.store(0, Ordering::SeqCst);
        s.acquired.store(0, Ordering::SeqCst);
        s.enable.store(0, Ordering::SeqCst);
    }
    let mut m = Measure::new(n, if ext { "kind=ext" } else { "kind=noext" });
    m.ops = LOCK_THREADS as u64 * n;
    let hs = spawn_all(lock_worker, [0, 1, 2, 3]);
    wait_until(|| READY.load(Ordering::SeqCst) == LOCK_THREADS as u32);
    m.before = sys::kstats();
    GO.store(true, Ordering::Release);
    let joined = join_all(hs);
    m.after = sys::kstats();
    let start = SLOTS.iter().map(|s| s.start.load(Ordering::SeqCst)).min();
    let end = SLOTS.iter().map(|s| s.end.load(Ordering::SeqCst)).max();
    m.ticks = end.unwrap_or(0).wrapping_sub(start.unwrap_or(0));
    m.cpu = SLOTS[0].cpu.load(Ordering::SeqCst);
    let acquired: u64 = SLOTS
        .iter()
        .map(|s| s.acquired.load(Ordering::SeqCst))
        .sum();
    let protected = PROTECTED.load(Ordering::SeqCst);
    let sum = |f: fn(&Slot) -> &AtomicU64| -> u64 {
        SLOTS.iter().map(|s| f(s).load(Ordering::SeqCst)).sum()
    };
    let enable_err = SLOTS
        .iter()
        .map(|s| s.enable.load(Ordering::SeqCst))
        .find(|&e| e != 0)
        .unwrap_or(0);
    println!(
        "bench: slice_lock: {} threads on CPUs 1,2, {acquired} acquisitions, protected counter {protected}, slice ends not_granted={} yielded={} revoked={}, prctl error {enable_err}",
        DONE.load(Ordering::SeqCst),
        sum(|s| &s.not_granted),
        sum(|s| &s.yielded),
        sum(|s| &s.revoked)
    );
    m.check(joined && acquired == m.ops, "a worker failed");
    m.check(protected == m.ops, "lost updates under the lock");
    m.check(
        PINNED.load(Ordering::SeqCst) == LOCK_THREADS as u32,
        "not pinned",
    );
    m.check(enable_err == 0, "prctl(PR_RSEQ_SLICE_EXTENSION) failed");
    m
}
