//! `progress`: 8 threads on (typically) 4 CPUs spin, each incrementing its
//! own counter until a stop flag; every thread must make progress (the
//! kernel preempts EL0 spinners fairly) and the threads must spread over the
//! CPUs (more runnable threads than CPUs means they cannot all share one).
//! Each thread also checks its thread pointer (`tls`: `CLONE_SETTLS` set
//! TPIDR_EL0 to the thread's block, so `current_tid()` is its tid).

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rt::sched::{cpu_bit, now_ns, nr_cpus};
use rt::test::{MS, check};
use rt::{println, sched, thread};

const THREADS: usize = 8;

/// How often (in iterations) a spinner asks `getcpu` where it is, and (in
/// migrating rounds) moves itself.
const SAMPLE: u64 = 1 << 14;

static STOP: AtomicBool = AtomicBool::new(false);
static NR_CPUS: AtomicU64 = AtomicU64::new(1);
static COUNTS: [AtomicU64; THREADS] = [const { AtomicU64::new(0) }; THREADS];
static CPUS: [AtomicU64; THREADS] = [const { AtomicU64::new(0) }; THREADS];
/// Threads whose `thread::current_tid()` (read through TPIDR_EL0) was not
/// their `gettid()`.
static BAD_TLS: AtomicU64 = AtomicU64::new(0);

/// The number of CPUs [`spin`] migrates over.
pub fn set_nr_cpus(nr: u32) {
    NR_CPUS.store(nr as u64, Ordering::SeqCst);
}

/// The outcome of one round.
struct Round {
    counts: [u64; THREADS],
    /// Per thread, the CPUs `getcpu` reported.
    cpus: [u64; THREADS],
    /// Threads that could not be spawned (-errno of the first failure).
    spawn_error: Option<i64>,
}

impl Round {
    fn min_count(&self) -> u64 {
        self.counts.iter().copied().min().unwrap_or(0)
    }

    fn cpu_union(&self) -> u64 {
        self.cpus.iter().fold(0, |a, &m| a | m)
    }
}

/// Thread `i`'s spin loop: counts in `count` until `stop`, sampling
/// `getcpu` every [`SAMPLE`] iterations (and, if `migrate`, moving itself to
/// another CPU and yielding). Returns the mask of CPUs seen.
pub fn spin(i: usize, migrate: bool, stop: &AtomicBool, count: &AtomicU64) -> u64 {
    let nr = NR_CPUS.load(Ordering::Relaxed).max(1);
    let mut mask = cpu_bit(sched::getcpu());
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        count.store(n, Ordering::Relaxed);
        if n.is_multiple_of(SAMPLE) {
            mask |= cpu_bit(sched::getcpu());
            if migrate {
                let to = (i as u64 + n / SAMPLE) % nr;
                let _ = sched::set_affinity(1 << to);
                mask |= cpu_bit(sched::getcpu());
                sched::yield_now();
            }
        }
    }
    mask | cpu_bit(sched::getcpu())
}

fn spinner(i: usize) -> i32 {
    if thread::current_tid() != rt::sys::gettid() || thread::is_main() {
        BAD_TLS.fetch_add(1, Ordering::SeqCst);
    }
    let mask = spin(i, false, &STOP, &COUNTS[i]);
    CPUS[i].store(mask, Ordering::Relaxed);
    0
}

/// Runs one round: `THREADS` spinners for `duration_ns` of counter time
/// (the main thread sleeps meanwhile), then stops and joins them.
fn round(duration_ns: u64) -> Round {
    STOP.store(false, Ordering::SeqCst);
    set_nr_cpus(nr_cpus());
    BAD_TLS.store(0, Ordering::SeqCst);
    for i in 0..THREADS {
        COUNTS[i].store(0, Ordering::SeqCst);
        CPUS[i].store(0, Ordering::SeqCst);
    }
    let mut spawn_error = None;
    let mut handles = [const { None }; THREADS];
    for (i, h) in handles.iter_mut().enumerate() {
        match thread::spawn(spinner, i) {
            Ok(j) => *h = Some(j),
            Err(e) => {
                spawn_error.get_or_insert(e);
            }
        }
    }
    let start = now_ns();
    while now_ns() - start < duration_ns {
        let left = duration_ns - (now_ns() - start).min(duration_ns);
        sched::sleep_ns(left.min(10 * MS));
    }
    STOP.store(true, Ordering::SeqCst);
    for h in handles.iter_mut() {
        if let Some(j) = h.take() {
            j.join();
        }
    }
    let mut r = Round {
        counts: [0; THREADS],
        cpus: [0; THREADS],
        spawn_error,
    };
    for i in 0..THREADS {
        r.counts[i] = COUNTS[i].load(Ordering::SeqCst);
        r.cpus[i] = CPUS[i].load(Ordering::SeqCst);
    }
    r
}

pub fn run() -> i32 {
    let nr = nr_cpus();
    println!(
        "smp: progress: {THREADS} threads spin on {nr} CPUs for 300 ms, each counting; all must advance and spread; TPIDR_EL0 per thread"
    );
    let r = round(300 * MS);
    for i in 0..THREADS {
        println!(
            "smp: thread {i}: count={} cpus={:#x}",
            r.counts[i], r.cpus[i]
        );
    }
    let mut ok = check(
        "progress",
        r.spawn_error.is_none() && r.min_count() > 0,
        format_args!("spawn error {:?}, counts {:?}", r.spawn_error, r.counts),
    );
    let bad_tls = BAD_TLS.load(Ordering::SeqCst);
    let fixups = thread::tls_fixups();
    let main_tls = thread::is_main() && thread::current_tid() == rt::sys::gettid();
    ok &= check(
        "tls",
        bad_tls == 0 && fixups == 0 && main_tls,
        format_args!(
            "{bad_tls} threads saw a wrong current_tid(), {fixups} found TPIDR_EL0 not set by CLONE_SETTLS, main ok {main_tls}"
        ),
    );
    let distinct = r.cpu_union().count_ones();
    let want = if nr >= 4 { 3 } else { 2 };
    ok &= check(
        "spread",
        distinct >= want,
        format_args!(
            "threads ran on {distinct} distinct CPUs (mask {:#x}), want >= {want} of {nr}",
            r.cpu_union()
        ),
    );
    if ok { 0 } else { 1 }
}
