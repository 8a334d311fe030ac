//! Per-CPU data: the run queue, the idle thread, counters.

use crate::sched::RunQueue;
use crate::sched::task::Task;
use crate::sync::SpinLock;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use rseq::RseqStats;

/// Counters per CPU, exported through the `kstats` syscall and the shutdown line.
#[derive(Default)]
pub struct CpuStats {
    /// Scheduler ticks taken.
    pub ticks: AtomicU64,
    /// Interrupts taken while EL0 ran.
    pub irqs_el0: AtomicU64,
    /// Reschedule IPIs received.
    pub ipi_resched: AtomicU64,
    /// Call-function IPIs received.
    pub ipi_call: AtomicU64,
    /// membarrier IPIs executed.
    pub membarrier_ipis: AtomicU64,
    /// Context switches.
    pub context_switches: AtomicU64,
}

/// One CPU's state. Aligned to a power of two that is also its size, so
/// that no two CPUs' counters share a cache line and the fast lane
/// (`entry::lane`) finds a CPU's data with one shifted add.
#[repr(align(256))]
pub struct PerCpu {
    /// This CPU's number.
    pub id: usize,
    /// Online (taking ticks and running tasks).
    pub online: AtomicBool,
    /// Its run queue.
    pub rq: SpinLock<RunQueue>,
    /// Its idle thread (set when the CPU comes up).
    pub idle: AtomicPtr<Task>,
    /// Its counters.
    pub stats: CpuStats,
    /// Call-function IPI requests: a sequence number bumped by senders...
    pub call_req: AtomicU64,
    /// ...the last one this CPU completed...
    pub call_done: AtomicU64,
    /// ...and the kinds of work requested (`ipi::CALL_*` bits).
    pub call_kinds: AtomicU64,
    /// Parked for good by [`crate::sched::ipi::stop_other_cpus`] (shutdown).
    pub stopped: AtomicBool,
    /// rseq statistics of this CPU: written only by this CPU with IRQs
    /// masked (the fast path must stay cheap), read by others as snapshots.
    rseq_stats: UnsafeCell<RseqStats>,
}

// SAFETY: every field is atomic or locked except `rseq_stats`, which only
// its own CPU writes (IRQs masked); others only take snapshots of it.
unsafe impl Sync for PerCpu {}

impl PerCpu {
    const fn new(id: usize) -> PerCpu {
        PerCpu {
            id,
            online: AtomicBool::new(false),
            rq: SpinLock::new(RunQueue::new()),
            idle: AtomicPtr::new(core::ptr::null_mut()),
            stats: CpuStats {
                ticks: AtomicU64::new(0),
                irqs_el0: AtomicU64::new(0),
                ipi_resched: AtomicU64::new(0),
                ipi_call: AtomicU64::new(0),
                membarrier_ipis: AtomicU64::new(0),
                context_switches: AtomicU64::new(0),
            },
            call_req: AtomicU64::new(0),
            call_done: AtomicU64::new(0),
            call_kinds: AtomicU64::new(0),
            stopped: AtomicBool::new(false),
            rseq_stats: UnsafeCell::new(RseqStats {
                exit: 0,
                signal: 0,
                slowpath: 0,
                fastpath: 0,
                ids: 0,
                cs: 0,
                clear: 0,
                fixup: 0,
                s_granted: 0,
                s_expired: 0,
                s_revoked: 0,
                s_yielded: 0,
                s_aborted: 0,
            }),
        }
    }

    /// This CPU's rseq statistics, for updating.
    ///
    /// # Safety
    ///
    /// Call on this CPU (`self` is `this_cpu()`), IRQs masked, no other
    /// reference alive.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn rseq_stats_mut(&self) -> &mut RseqStats {
        // SAFETY: exclusive by the caller's contract.
        unsafe { &mut *self.rseq_stats.get() }
    }

    /// A copy of this CPU's rseq statistics. From another CPU it may be a
    /// few increments old; each counter is an aligned u64, so it is never torn.
    pub fn rseq_stats_snapshot(&self) -> RseqStats {
        // SAFETY: a volatile read of plain counters that only their own CPU
        // writes; aligned 64-bit accesses are single-copy atomic on aarch64.
        unsafe { core::ptr::read_volatile(self.rseq_stats.get()) }
    }

    /// The idle thread.
    pub fn idle(&self) -> &'static Task {
        // SAFETY: set once at CPU bring-up to a leaked Task, before any read.
        unsafe { &*self.idle.load(Ordering::Acquire) }
    }
}

const _: () = assert!(core::mem::size_of::<PerCpu>().is_power_of_two());
const _: () = assert!(arch::MAX_CPUS.is_power_of_two());

/// `log2(size_of::<PerCpu>())`: CPU n's data is at `CPUS + n << PERCPU_SHIFT`.
pub const PERCPU_SHIFT: u32 = core::mem::size_of::<PerCpu>().trailing_zeros();

/// Where a CPU's rseq `exit` counter is in its [`PerCpu`].
pub const RSEQ_EXIT_OFFSET: usize =
    core::mem::offset_of!(PerCpu, rseq_stats) + core::mem::offset_of!(RseqStats, exit);

/// Every CPU's data, indexed by MPIDR_EL1.Aff0 (`arch::cpu::cpu_id`).
pub(crate) static CPUS: [PerCpu; arch::MAX_CPUS] = [
    PerCpu::new(0),
    PerCpu::new(1),
    PerCpu::new(2),
    PerCpu::new(3),
];

/// CPU `id`'s data.
pub fn cpu(id: usize) -> &'static PerCpu {
    &CPUS[id]
}

/// This CPU's data.
#[inline(always)]
pub fn this_cpu() -> &'static PerCpu {
    &CPUS[arch::cpu::cpu_id()]
}

/// Every CPU that is online.
pub fn online() -> impl Iterator<Item = &'static PerCpu> {
    CPUS.iter().filter(|c| c.online.load(Ordering::Acquire))
}

/// Number of CPUs online.
pub fn nr_online() -> usize {
    online().count()
}

/// Sum of one counter over all CPUs.
pub fn sum(f: impl Fn(&CpuStats) -> &AtomicU64) -> u64 {
    CPUS.iter()
        .map(|c| f(&c.stats).load(Ordering::Relaxed))
        .sum()
}
