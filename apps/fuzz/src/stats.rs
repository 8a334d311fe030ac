//! Counters shared by every thread, and the summary.

use core::sync::atomic::{AtomicU64, Ordering};

use rt::println;

/// A named event counter.
pub struct Counter(AtomicU64);

impl Counter {
    pub const fn new() -> Counter {
        Counter(AtomicU64::new(0))
    }

    pub fn inc(&self) {
        self.add(1);
    }

    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// Raises the value to `v` if it is below.
    pub fn max(&self, v: u64) {
        self.0.fetch_max(v, Ordering::Relaxed);
    }
}

/// Fuzz steps made (each one result: ok or errno).
pub static CALLS: Counter = Counter::new();
/// Steps that returned >= 0.
pub static OK: Counter = Counter::new();
/// Steps that returned < 0.
pub static ERR: Counter = Counter::new();
/// Negative returns outside -4095..-1 (no errno).
pub static ERR_OTHER: Counter = Counter::new();
/// SIGUSR1/SIGUSR2 handler runs.
pub static SIGNALS: Counter = Counter::new();
/// Faults (SIGSEGV/SIGILL/SIGTRAP/SIGBUS) recovered by the handler.
pub static FAULTS: Counter = Counter::new();
/// Things the kernel did that it must not do (each also printed).
pub static ANOMALIES: Counter = Counter::new();

/// Signals the signaller thread sent.
pub static SENT: Counter = Counter::new();
/// Forged `rseq_cs` descriptors set, and how many the kernel cleared.
pub static CS_FORGED: Counter = Counter::new();
pub static CS_CLEARED: Counter = Counter::new();
/// Real critical sections run, aborted, and run with a fault inside.
pub static CS_LEGIT: Counter = Counter::new();
pub static CS_ABORTED: Counter = Counter::new();
pub static CS_FAULT_IN: Counter = Counter::new();
/// Slice extension cycles and how they ended.
pub static SLICE_CYCLES: Counter = Counter::new();
pub static SLICE_NOT_GRANTED: Counter = Counter::new();
pub static SLICE_YIELDED: Counter = Counter::new();
pub static SLICE_REVOKED: Counter = Counter::new();
pub static SLICE_RUNAWAY: Counter = Counter::new();
/// Threads started by the fuzzers (runtime ones, raw rseq ones).
pub static SPAWNED: Counter = Counter::new();
pub static RAW_THREADS: Counter = Counter::new();
/// Successful mmaps and munmaps of fuzzer regions.
pub static MMAPS: Counter = Counter::new();
pub static MUNMAPS: Counter = Counter::new();
/// mmaps asking for about all of virt's RAM.
pub static HUGE_MMAPS: Counter = Counter::new();
/// Page races ([`crate::races`]): steps, munmaps of raced pages, those
/// made while a reader was running ("races tried", in `FUZZ-DONE`), the
/// readers' loads and their (expected) faults.
pub static RACE_STEPS: Counter = Counter::new();
pub static RACE_MUNMAPS: Counter = Counter::new();
pub static RACES: Counter = Counter::new();
pub static RACE_READS: Counter = Counter::new();
pub static RACE_FAULTS: Counter = Counter::new();
/// Exhaustion steps ([`crate::exhaust`]) and the most threads alive and
/// pages mapped at their limit.
pub static EXHAUST_THREADS: Counter = Counter::new();
pub static EXHAUST_THREADS_PEAK: Counter = Counter::new();
pub static EXHAUST_MMAPS: Counter = Counter::new();
pub static EXHAUST_PAGES_PEAK: Counter = Counter::new();
/// Threads made by clone with bad tid pointers ([`crate::clonetid`]).
pub static CLONE_BADTID: Counter = Counter::new();
/// Random unimplemented syscall numbers tried, and those not -ENOSYS.
pub static UNIMPL: Counter = Counter::new();
pub static UNIMPL_NOT_ENOSYS: Counter = Counter::new();

const MAX_ERRNO: usize = 4096;

/// Per-errno counts (index = errno).
static ERRNO: [AtomicU64; MAX_ERRNO] = [const { AtomicU64::new(0) }; MAX_ERRNO];

/// Accounts one step's result.
pub fn record(ret: i64) {
    CALLS.inc();
    if ret >= 0 {
        OK.inc();
        return;
    }
    ERR.inc();
    match usize::try_from(-(ret as i128)) {
        Ok(e) if e < MAX_ERRNO => {
            ERRNO[e].fetch_add(1, Ordering::Relaxed);
            if !is_user_errno(e) {
                anomaly(format_args!(
                    "a call returned -{e}, not an errno EL0 may see"
                ));
            }
        }
        _ => {
            ERR_OTHER.inc();
            anomaly(format_args!(
                "a call returned {ret}, neither >= 0 nor -errno"
            ));
        }
    }
}

/// The errnos a Linux syscall may hand to user space: Linux's uapi ones
/// (1..=133, up to EHWPOISON) and ENOTSUPP (524), which the time slice
/// extension's prctl returns as Linux's does. The other kernel-internal
/// ones (ERESTARTSYS 512 and up) must never reach EL0.
pub fn is_user_errno(e: usize) -> bool {
    matches!(e, 1..=133 | 524)
}

/// Reports something the kernel must not do; the run then exits 1.
pub fn anomaly(what: core::fmt::Arguments) {
    let n = ANOMALIES.0.fetch_add(1, Ordering::Relaxed);
    if n < 64 {
        println!("fuzz: ANOMALY (tid {}): {what}", rt::thread::current_tid());
    }
}

/// Linux's name of `errno`.
pub fn errno_name(e: usize) -> &'static str {
    match e {
        1 => "EPERM",
        2 => "ENOENT",
        3 => "ESRCH",
        4 => "EINTR",
        5 => "EIO",
        6 => "ENXIO",
        7 => "E2BIG",
        9 => "EBADF",
        11 => "EAGAIN",
        12 => "ENOMEM",
        13 => "EACCES",
        14 => "EFAULT",
        16 => "EBUSY",
        17 => "EEXIST",
        22 => "EINVAL",
        34 => "ERANGE",
        38 => "ENOSYS",
        95 => "EOPNOTSUPP",
        110 => "ETIMEDOUT",
        524 => "ENOTSUPP",
        _ => "?",
    }
}

/// Prints one line per errno seen, most frequent first.
pub fn print_errnos() {
    let mut done = [false; MAX_ERRNO];
    loop {
        let mut best = None;
        for (e, c) in ERRNO.iter().enumerate() {
            let n = c.load(Ordering::Relaxed);
            if n > 0 && !done[e] && best.is_none_or(|(_, m)| n > m) {
                best = Some((e, n));
            }
        }
        let Some((e, n)) = best else { break };
        done[e] = true;
        println!("fuzz: errno {e} ({}) x {n}", errno_name(e));
    }
    if ERR_OTHER.get() > 0 {
        println!("fuzz: errno ? (below -4095) x {}", ERR_OTHER.get());
    }
}
