//! Lock-holder preemption, with and without the time slice extension.
//!
//! `lhp [SECONDS=1] [ext|noext] [CS_US=10]`: 4 threads, pinned 2 per CPU on
//! 2 CPUs (1 and 2 when there are 3 or more, keeping CPU 0 for the main
//! thread), contend for one userspace test-and-set spinlock
//! ([`rt::rseq::SliceLock`]; a waiter spins up to 20 µs, then
//! `sched_yield`s). The holder spends CS_US µs in its critical section
//! (spinning on the counter, no syscalls), then a 2 µs pause outside. Two
//! threads per CPU, pinned, make the contention deterministic: every CPU
//! always has exactly one other runnable thread, so every scheduler tick on
//! it wants to preempt whoever runs (the round-robin scheduler only
//! preempts when someone waits), the load balancer has nothing to move, and
//! a preempted holder stalls the other CPU's pair too. (8 threads on 4
//! CPUs, unpinned, would mix in migrations and the main thread's CPU.)
//!
//! - `noext`: a tick that lands in a critical section preempts the holder;
//!   its CPU peer spins its 20 µs in vain and yields back, the other pair
//!   waits meanwhile: the hold time grows by the preemption.
//! - `ext`: each thread enables the extension (prctl), sets
//!   `slice_ctrl.request` right before each acquisition attempt and follows
//!   the required code flow after releasing the lock (or after a failed
//!   attempt): clear the request, or `rseq_slice_yield()` when granted. A
//!   tick inside the section then grants up to `rseq_slice_us` (default
//!   5 µs; boot with `rseq_slice_us=20` to cover a 10 µs section) instead
//!   of preempting.
//!
//! Measured: acquisitions per second and the hold time (acquire to release)
//! distribution: p50/p90/p99/max, the holds longer than twice the section
//! (`long_holds`, the preempted ones) and a log2 histogram. TEST lhp-ext /
//! lhp-noext pass when the counts add up (the per-thread acquisitions sum
//! to the global count and to the lock-protected, non-atomically
//! incremented counter) and, for `ext`, every thread enabled the extension.
//! Boot with `hz=1000` for ten times more preemption opportunities.
//!
//! `lhp-compare [SECONDS=1] [CS_US=10]` runs `noext` then `ext` and prints
//! both lines and the ratio (TEST lhp-compare: both runs' counts add up).

use core::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use rt::rseq::{SliceExt, SliceLock};
use rt::sys::{self, RseqStats};
use rt::test::{SEC, check, status};
use rt::{println, sched, thread};

use crate::slice::{Us, counter, ns_ticks, online_cpus, print_slice_stats, stats_delta, ticks_ns};

const THREADS: usize = 4;
/// A waiter spins this long on the lock, then yields.
const SPIN_NS: u64 = 20_000;
/// The pause outside the lock between two acquisitions.
const THINK_NS: u64 = 2_000;
/// Hold-time samples per thread per second (more than one 10 µs section
/// per 10 µs could produce).
const SAMPLES_PER_SEC: usize = 128 * 1024;
/// log2 histogram buckets: [0,1) µs, [1,2), [2,4), ... , [2^(N-2), inf).
const BUCKETS: usize = 22;

static LOCK: SliceLock = SliceLock::new();
/// Incremented under the lock with a plain load and store: lost updates
/// would show a broken lock.
static PROTECTED: AtomicU64 = AtomicU64::new(0);
static OPS: AtomicU64 = AtomicU64::new(0);
static READY: AtomicU32 = AtomicU32::new(0);
static GO: AtomicBool = AtomicBool::new(false);
static EXT: AtomicBool = AtomicBool::new(false);
static DEADLINE: AtomicU64 = AtomicU64::new(0);
static CS_TICKS: AtomicU64 = AtomicU64::new(0);
static SAMPLES: AtomicUsize = AtomicUsize::new(0);
static SAMPLE_CAP: AtomicUsize = AtomicUsize::new(0);

/// One thread's results.
struct Slot {
    cpu: AtomicU32,
    pinned: AtomicBool,
    enable: AtomicI64,
    ops: AtomicU64,
    samples: AtomicUsize,
    not_granted: AtomicU64,
    yielded: AtomicU64,
    yield_late: AtomicU64,
    revoked: AtomicU64,
}

impl Slot {
    const fn new() -> Slot {
        Slot {
            cpu: AtomicU32::new(0),
            pinned: AtomicBool::new(false),
            enable: AtomicI64::new(0),
            ops: AtomicU64::new(0),
            samples: AtomicUsize::new(0),
            not_granted: AtomicU64::new(0),
            yielded: AtomicU64::new(0),
            yield_late: AtomicU64::new(0),
            revoked: AtomicU64::new(0),
        }
    }
}

static SLOTS: [Slot; THREADS] = [const { Slot::new() }; THREADS];

fn worker(idx: usize) -> i32 {
    let slot = &SLOTS[idx];
    slot.pinned.store(
        sched::pin(slot.cpu.load(Ordering::SeqCst)),
        Ordering::SeqCst,
    );
    let (mut ext, r) = SliceExt::enable(EXT.load(Ordering::SeqCst));
    slot.enable.store(r, Ordering::SeqCst);
    READY.fetch_add(1, Ordering::SeqCst);
    while !GO.load(Ordering::SeqCst) {
        sched::yield_now();
    }
    let deadline = DEADLINE.load(Ordering::SeqCst);
    let cs = CS_TICKS.load(Ordering::SeqCst);
    let (spin, think) = (ns_ticks(SPIN_NS), ns_ticks(THINK_NS));
    let cap = SAMPLE_CAP.load(Ordering::SeqCst);
    let buf = (SAMPLES.load(Ordering::SeqCst) as *mut u32).wrapping_add(idx * cap);
    let (mut ops, mut n) = (0u64, 0usize);
    loop {
        // Spin on a held lock, yielding every `spin` ticks, until the
        // deadline.
        let acquired = LOCK.lock(&mut ext, || {
            let mut w = counter();
            while LOCK.is_held() {
                let now = counter();
                if now >= deadline {
                    return false;
                }
                if now.wrapping_sub(w) >= spin {
                    sys::sched_yield();
                    w = counter();
                }
                core::hint::spin_loop();
            }
            true
        });
        if !acquired {
            break;
        }
        let t_acq = counter();
        PROTECTED.store(PROTECTED.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        OPS.fetch_add(1, Ordering::Relaxed);
        while counter().wrapping_sub(t_acq) < cs {
            core::hint::spin_loop();
        }
        let t_rel = counter();
        LOCK.unlock(&mut ext);
        ops += 1;
        if n < cap {
            // SAFETY: `buf` is this thread's part of the samples mapping,
            // `cap` entries long; no other thread writes it.
            unsafe {
                buf.add(n)
                    .write(ticks_ns(t_rel - t_acq).min(u32::MAX as u64) as u32)
            };
            n += 1;
        }
        if t_rel >= deadline {
            break;
        }
        while counter().wrapping_sub(t_rel) < think {
            core::hint::spin_loop();
        }
    }
    let ends = ext.disable();
    slot.ops.store(ops, Ordering::SeqCst);
    slot.samples.store(n, Ordering::SeqCst);
    slot.not_granted.store(ends.not_granted, Ordering::SeqCst);
    slot.yielded.store(ends.yielded, Ordering::SeqCst);
    slot.yield_late.store(ends.late, Ordering::SeqCst);
    slot.revoked.store(ends.revoked, Ordering::SeqCst);
    0
}

/// One run's outcome.
struct Outcome {
    ok: bool,
    ops: u64,
    ops_per_s: u64,
    long_holds: u64,
    max_ns: u64,
}

fn bucket(ns: u64) -> usize {
    let us = ns / 1000;
    if us == 0 {
        0
    } else {
        ((64 - us.leading_zeros()) as usize).min(BUCKETS - 1)
    }
}

/// The `p`-th percentile (0..=100) of sorted `v`.
fn percentile(v: &[u32], p: usize) -> u64 {
    if v.is_empty() {
        return 0;
    }
    let i = ((v.len() - 1) * p).div_ceil(100);
    v[i.min(v.len() - 1)] as u64
}

fn run_mode(seconds: u64, ext: bool, cs_us: u64) -> Outcome {
    let mode = if ext { "ext" } else { "noext" };
    let nr = online_cpus();
    let cpus: [u32; 2] = match nr {
        0 | 1 => [0, 0],
        2 => [0, 1],
        _ => [1, 2],
    };
    println!(
        "rseqtest: lhp mode={mode}: {THREADS} threads pinned 2 per CPU on CPUs {} and {}, test-and-set lock, {cs_us} µs sections, spin {} µs then sched_yield, {seconds} s",
        cpus[0],
        cpus[1],
        SPIN_NS / 1000
    );
    let cap = SAMPLES_PER_SEC * seconds as usize;
    let map_len = cap * THREADS * 4;
    let Ok(samples) = sys::mmap_anon(map_len) else {
        println!("rseqtest: lhp: mmap of {map_len} bytes failed");
        check(
            if ext { "lhp-ext" } else { "lhp-noext" },
            false,
            format_args!("mmap failed"),
        );
        return Outcome {
            ok: false,
            ops: 0,
            ops_per_s: 0,
            long_holds: 0,
            max_ns: 0,
        };
    };
    LOCK.reset();
    PROTECTED.store(0, Ordering::SeqCst);
    OPS.store(0, Ordering::SeqCst);
    READY.store(0, Ordering::SeqCst);
    GO.store(false, Ordering::SeqCst);
    EXT.store(ext, Ordering::SeqCst);
    CS_TICKS.store(ns_ticks(cs_us * 1000), Ordering::SeqCst);
    SAMPLES.store(samples as usize, Ordering::SeqCst);
    SAMPLE_CAP.store(cap, Ordering::SeqCst);
    for (i, s) in SLOTS.iter().enumerate() {
        s.cpu.store(cpus[i / 2], Ordering::SeqCst);
        s.pinned.store(false, Ordering::SeqCst);
        s.enable.store(0, Ordering::SeqCst);
        s.ops.store(0, Ordering::SeqCst);
        s.samples.store(0, Ordering::SeqCst);
    }
    let main_mask = sched::get_affinity();
    let _ = sched::set_affinity(sched::cpu_bit(0));
    let mut handles = [const { None }; THREADS];
    for (i, h) in handles.iter_mut().enumerate() {
        match thread::spawn(worker, i) {
            Ok(t) => *h = Some(t),
            Err(e) => println!("rseqtest: lhp: spawn: {e}"),
        }
    }
    let spawned = handles.iter().filter(|h| h.is_some()).count();
    rt::test::wait_for(2 * SEC, || READY.load(Ordering::SeqCst) as usize == spawned);
    let before = sys::kstats();
    DEADLINE.store(counter() + ns_ticks(seconds * SEC), Ordering::SeqCst);
    GO.store(true, Ordering::SeqCst);
    let mut rets = [0i32; THREADS];
    for (i, h) in handles.into_iter().enumerate() {
        rets[i] = h.map_or(-1, |h| h.join());
    }
    let after = sys::kstats();
    if main_mask != 0 {
        let _ = sched::set_affinity(main_mask);
    }

    // Gather the samples into one run at the start of the mapping.
    let base = samples as *mut u32;
    let mut total = 0usize;
    let mut per_thread_ops = 0u64;
    let (mut not_granted, mut yielded, mut late, mut revoked) = (0u64, 0u64, 0u64, 0u64);
    let mut enable_err = 0i64;
    let mut pinned = 0;
    for (i, s) in SLOTS.iter().enumerate() {
        let n = s.samples.load(Ordering::SeqCst);
        // SAFETY: thread i wrote `n <= cap` samples at `base + i * cap`;
        // `total <= i * cap`, so copying down within the mapping is in
        // bounds (`copy` allows overlap).
        unsafe { core::ptr::copy(base.add(i * cap), base.add(total), n) };
        total += n;
        per_thread_ops += s.ops.load(Ordering::SeqCst);
        not_granted += s.not_granted.load(Ordering::SeqCst);
        yielded += s.yielded.load(Ordering::SeqCst);
        late += s.yield_late.load(Ordering::SeqCst);
        revoked += s.revoked.load(Ordering::SeqCst);
        if s.enable.load(Ordering::SeqCst) != 0 {
            enable_err = s.enable.load(Ordering::SeqCst);
        }
        pinned += s.pinned.load(Ordering::SeqCst) as usize;
    }
    // SAFETY: the first `total` entries were just filled; the threads are
    // gone.
    let v = unsafe { core::slice::from_raw_parts_mut(base, total) };
    v.sort_unstable();
    let long_ns = 2 * cs_us * 1000;
    let mut hist = [0u64; BUCKETS];
    let mut long_holds = 0u64;
    for &ns in v.iter() {
        hist[bucket(ns as u64)] += 1;
        long_holds += (ns as u64 > long_ns) as u64;
    }
    let (p50, p90, p99) = (percentile(v, 50), percentile(v, 90), percentile(v, 99));
    let max = v.last().map_or(0, |&m| m as u64);
    let ops = OPS.load(Ordering::SeqCst);
    let protected = PROTECTED.load(Ordering::SeqCst);
    let ops_per_s = ops / seconds.max(1);
    println!(
        "lhp: mode={mode} threads={THREADS} seconds={seconds} ops={ops} ops_per_s={ops_per_s} hold_us_p50={} p90={} p99={} max={} long_holds={long_holds} cs_us={cs_us} cpus={},{}",
        Us(p50),
        Us(p90),
        Us(p99),
        Us(max),
        cpus[0],
        cpus[1]
    );
    for (i, &c) in hist.iter().enumerate() {
        if c == 0 {
            continue;
        }
        let lo = if i == 0 { 0 } else { 1u64 << (i - 1) };
        let bar = (64 - c.leading_zeros()) as usize;
        if i == BUCKETS - 1 {
            println!("lhp: hold_us [{lo},inf) {c:>8} {:#<bar$}", "");
        } else {
            println!("lhp: hold_us [{lo},{}) {c:>8} {:#<bar$}", 1u64 << i, "");
        }
    }
    println!(
        "rseqtest: lhp mode={mode}: per-thread ops {:?} (sum {per_thread_ops}), protected counter {protected}, {total} samples, threads -> {rets:?}, {pinned}/{THREADS} pinned",
        [
            SLOTS[0].ops.load(Ordering::SeqCst),
            SLOTS[1].ops.load(Ordering::SeqCst),
            SLOTS[2].ops.load(Ordering::SeqCst),
            SLOTS[3].ops.load(Ordering::SeqCst)
        ]
    );
    let d: Option<RseqStats> = stats_delta(&before, &after);
    if ext {
        println!(
            "rseqtest: lhp mode=ext: protocol ends: not_granted={not_granted} yielded={yielded} yield_late={late} revoked={revoked}; prctl errors {enable_err}"
        );
    }
    if let Some(d) = &d {
        print_slice_stats("lhp kernel delta", d);
    }
    let _ = sys::munmap(samples as u64, map_len as u64);
    let ok = check(
        if ext { "lhp-ext" } else { "lhp-noext" },
        spawned == THREADS
            && rets.iter().all(|&r| r == 0)
            && ops > 0
            && per_thread_ops == ops
            && protected == ops
            && (!ext || enable_err == 0),
        format_args!(
            "ops {ops}, per-thread sum {per_thread_ops}, protected {protected}, {spawned} threads -> {rets:?}, prctl errors {enable_err}"
        ),
    );
    Outcome {
        ok,
        ops,
        ops_per_s,
        long_holds,
        max_ns: max,
    }
}

fn parse_mode(arg: &str) -> Option<bool> {
    match arg {
        "" | "ext" => Some(true),
        "noext" => Some(false),
        _ => None,
    }
}

/// `lhp [SECONDS] [ext|noext] [CS_US]`.
pub fn run(seconds: Option<u64>, mode: &str, cs_us: Option<u64>) -> i32 {
    let Some(ext) = parse_mode(mode) else {
        println!("rseqtest: lhp: unknown mode `{mode}` (ext | noext)");
        return 2;
    };
    let seconds = seconds.unwrap_or(1).clamp(1, 10);
    let cs_us = cs_us.unwrap_or(10).clamp(1, 1000);
    status(run_mode(seconds, ext, cs_us).ok)
}

/// `lhp-compare [SECONDS] [CS_US]`.
pub fn compare(seconds: Option<u64>, cs_us: Option<u64>) -> i32 {
    let seconds = seconds.unwrap_or(1).clamp(1, 10);
    let cs_us = cs_us.unwrap_or(10).clamp(1, 1000);
    let a = run_mode(seconds, false, cs_us);
    let b = run_mode(seconds, true, cs_us);
    let ratio = (b.ops_per_s * 1000).checked_div(a.ops_per_s).unwrap_or(0);
    println!(
        "lhp-compare: ops_per_s noext={} ext={} ratio_ext_noext={}.{:03} long_holds noext={} ext={} max_hold_us noext={} ext={}",
        a.ops_per_s,
        b.ops_per_s,
        ratio / 1000,
        ratio % 1000,
        a.long_holds,
        b.long_holds,
        Us(a.max_ns),
        Us(b.max_ns)
    );
    status(check(
        "lhp-compare",
        a.ok && b.ok,
        format_args!(
            "noext run ok {} ({} ops), ext run ok {} ({} ops)",
            a.ok, a.ops, b.ok, b.ops
        ),
    ))
}
