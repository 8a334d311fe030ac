//! The rseq scenarios, one per boot: `rseq-v1 -- <scenario> [args]`,
//! `rseq-v2 -- <scenario> [args]` or `rseq-linux -- <scenario> [args]`
//! (the same code; the image's kernel is built for the mode the app
//! declares, and scenarios whose outcome differs branch on the version the
//! registrations run, [`rt::rseq::version`]: in a `linux` image the one
//! the registration length asks for, `RT_RSEQ_LEN=32` or `64`).
//!
//! Written against Linux's rseq ABI and semantics (after Linux's
//! `tools/testing/selftests/rseq`) plus rseq-os's v1/v2 modes and `kstats`.
//! Each scenario says what it does, prints `TEST <name> ok|FAIL <why>` lines
//! and returns 0 when all passed; `legacy-check`, `tcmalloc` and
//! `slice-forge` in a v2 image must instead be killed by the kernel (status
//! 139).
#![no_std]

mod asmops;
mod basic;
mod errors;
mod faults;
mod inherit;
mod legacy;
mod lhp;
mod param;
mod percpu_ops;
mod slice;
mod stats;
mod tcmalloc;

use core::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

use rt::rseq::MODE_LINUX;
use rt::sched::now_ns;
use rt::signal::{self, SigInfo};
use rt::test::check;
use rt::{Args, println, sched, sys};

/// Runs the scenario named by `argv[1]`; returns the exit status.
pub fn main(args: Args) -> i32 {
    let arg = |i: usize| args.get(i);
    println!(
        "rseqtest: rseq mode {} (registration length {}), main thread registered {} (errno {}), cpu_id {}, mm_cid {}",
        rt::rseq::mode_name(),
        rt::rseq::mode_len(),
        rt::rseq::registered(),
        rt::rseq::registration_errno(),
        rt::rseq::cpu_id() as i32,
        rt::rseq::mm_cid()
    );
    match arg(1) {
        "basic" => basic::run(),
        "percpu-ops" => percpu_ops::run(arg(2).parse().ok()),
        "param" => param::run(arg(2), arg(3), arg(4).parse().ok()),
        "syscall-errors" => errors::run(),
        "legacy-check" => legacy::run(),
        "tcmalloc" => tcmalloc::run(arg(2).parse().ok()),
        "stats-pingpong" => stats::pingpong(arg(2).parse().unwrap_or(1000)),
        "inherit" => inherit::run(),
        "stats" => stats::run(),
        "asm-ops" => asmops::run(),
        "area-fault" => faults::area_fault(),
        "area-unpopulated" => faults::area_unpopulated(),
        "syscall-in-cs" => faults::syscall_in_cs(arg(2) == "debug"),
        "slice-prctl" => slice::prctl(arg(2) == "disabled"),
        "slice-test" => slice::test(arg(2), arg(3).parse().ok()),
        "slice-expire" => slice::expire(arg(2).parse().ok(), arg(3).parse().ok()),
        "slice-forge" => slice::forge(),
        "lhp" => lhp::run(arg(2).parse().ok(), arg(3), arg(4).parse().ok()),
        "lhp-compare" => lhp::compare(arg(2).parse().ok(), arg(3).parse().ok()),
        other => {
            println!("rseqtest: unknown scenario `{other}`");
            println!(
                "scenarios: basic | percpu-ops [N] | syscall-errors | legacy-check | tcmalloc [ITERS]"
            );
            println!(
                "           param <spinlock|list|buffer|memcpy|increment|membarrier> [none|yield|signal|sleep|delay] [REPS]"
            );
            println!(
                "           stats-pingpong [N] | inherit | stats | asm-ops | area-fault | syscall-in-cs [debug]"
            );
            println!(
                "           slice-prctl [disabled] | slice-test [yield|getpid] [CS_US] | slice-expire [SLICE_US] [SLACK_US] | slice-forge"
            );
            println!(
                "           lhp [SECONDS] [ext|noext] [CS_US] | lhp-compare [SECONDS] [CS_US]"
            );
            2
        }
    }
}

/// True when the runtime's registrations run v1 (legacy): a v1 image, or a
/// 32-byte registration in a `linux` image.
pub fn is_v1() -> bool {
    rt::rseq::version() == 1
}

/// True when they run v2 (optimized): a v2 image, or a 64-byte
/// registration in a `linux` image.
pub fn is_v2() -> bool {
    rt::rseq::version() == 2
}

/// True in a `linux` image: the kernel takes both lengths and gives each
/// registration its own version.
pub fn is_linux() -> bool {
    rt::rseq::mode() == MODE_LINUX
}

/// The number of CPUs ([`sched::nr_cpus`]), capped to librseq's slots.
pub fn nr_cpus() -> u32 {
    sched::nr_cpus().min(librseq::MAX_CPUS as u32)
}

/// A small xorshift generator (no allocator, no libc).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform-ish in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// SIGUSR1 deliveries counted by [`count_signal`].
pub static SIGNALS: AtomicU64 = AtomicU64::new(0);

/// A SIGUSR1 handler that only counts (param_test's).
pub extern "C" fn count_signal(_sig: i32, _info: *mut SigInfo, _uc: *mut core::ffi::c_void) {
    SIGNALS.fetch_add(1, Ordering::Relaxed);
}

/// Installs [`count_signal`] for SIGUSR1 (SA_RESTART so interrupted
/// syscalls other than sleeps resume).
pub fn install_signal_counter() -> bool {
    signal::sigaction(signal::SIGUSR1, count_signal, signal::SA_RESTART).is_ok()
}

/// param_test's signal injection: a thread that sends SIGUSR1 to every
/// registered worker, round after round, until stopped. The workers'
/// tids go in slots (0: none); [`run`](Self::run) is the sender's loop.
pub struct SignalInjector<const N: usize> {
    tids: [AtomicI64; N],
    stop: AtomicBool,
    sent: AtomicU64,
}

impl<const N: usize> Default for SignalInjector<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> SignalInjector<N> {
    pub const fn new() -> Self {
        SignalInjector {
            tids: [const { AtomicI64::new(0) }; N],
            stop: AtomicBool::new(false),
            sent: AtomicU64::new(0),
        }
    }

    /// Worker `i`'s tid (0: no worker in that slot).
    pub fn set_worker(&self, i: usize, tid: i64) {
        self.tids[i].store(tid, Ordering::SeqCst);
    }

    /// Empties every slot.
    pub fn clear_workers(&self) {
        for t in &self.tids {
            t.store(0, Ordering::SeqCst);
        }
    }

    /// Zeroes the count of [`sent`](Self::sent).
    pub fn clear_sent(&self) {
        self.sent.store(0, Ordering::SeqCst);
    }

    /// Lets [`run`](Self::run) go on (before the sender starts).
    pub fn arm(&self) {
        self.stop.store(false, Ordering::SeqCst);
    }

    /// Ends [`run`](Self::run) after its current round.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    /// The SIGUSR1s the kernel accepted.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Until [`stop`](Self::stop): a SIGUSR1 to each worker, then `pause_ns`
    /// of spinning to leave the workers some room.
    pub fn run(&self, pause_ns: u64) {
        let pid = sys::getpid();
        while !self.stop.load(Ordering::Relaxed) {
            for t in &self.tids {
                let tid = t.load(Ordering::Relaxed);
                if tid > 0 && sys::tgkill(pid, tid, signal::SIGUSR1) == 0 {
                    self.sent.fetch_add(1, Ordering::Relaxed);
                }
            }
            let t0 = now_ns();
            while now_ns() - t0 < pause_ns {
                core::hint::spin_loop();
            }
        }
    }
}

/// The rseq counters summed over CPUs (zeros if kstats is unavailable).
pub fn rseq_stats() -> Option<sys::KStats> {
    sys::kstats().ok()
}

/// Two kstats reads, or `None` after a `TEST <name> FAIL` line when either
/// failed.
pub fn kstats_pair(
    name: &str,
    before: Result<sys::KStats, i64>,
    after: Result<sys::KStats, i64>,
) -> Option<(sys::KStats, sys::KStats)> {
    match (before, after) {
        (Ok(b), Ok(a)) => Some((b, a)),
        _ => {
            check(
                name,
                false,
                format_args!("kstats failed: {before:?} / {after:?}"),
            );
            None
        }
    }
}

/// One line with every counter of `s`.
pub fn print_rseq_stats(what: &str, s: &sys::RseqStats) {
    println!(
        "rseqtest: {what}: exit={} signal={} slowpath={} fastpath={} ids={} cs={} clear={} fixup={}",
        s.exit, s.signal, s.slowpath, s.fastpath, s.ids, s.cs, s.clear, s.fixup
    );
}
