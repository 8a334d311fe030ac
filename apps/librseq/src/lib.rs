//! User-side rseq for rseq-os apps, after Linux's
//! `tools/testing/selftests/rseq` (`rseq-arm64.h`) and librseq.
//!
//! - [`ops`]: the per-CPU operations, each one restartable sequence in
//!   inline asm with its `struct rseq_cs` descriptor in the `__rseq_cs`
//!   section and the signature `RSEQ_SIG` (`brk #0x45e0`) in the 4 bytes
//!   before its abort label. An operation stores its descriptor into the
//!   thread's `rseq_cs`, checks that the thread still runs on the expected
//!   CPU (`cpu_id`) or concurrency ID (`mm_cid`), does its work and commits
//!   with one final store. It returns [`COMMITTED`] (0), [`CMPFAIL`] (1, a
//!   comparison failed, nothing was stored) or [`ABORTED`] (-1: the index
//!   did not match, or the kernel aborted the section because of
//!   preemption, migration, a signal or a membarrier IPI; retry).
//! - Delay injection: every operation can spin `N` iterations inside its
//!   section, after its index check and loads and before its commit,
//!   widening the window for preemption, migration and signals (like
//!   `param_test`'s `RSEQ_INJECT_ASM`). `N` comes from the call's [`Cpu`]
//!   ([`Cpu::with_delay`]) or, by default, the global [`set_inject_delay`].
//! - [`cs`]: the frame of one critical section ([`rseq_cs_asm!`],
//!   [`delay_loop_asm!`]), for the operations here and for apps that write
//!   their own sections.
//! - [`percpu`]: [`PerCpuSpinlock`], [`PerCpuCounter`], [`PerCpuList`],
//!   [`PerCpuBuffer`], [`PerCpuMemcpyBuffer`], each indexable by `cpu_id` or
//!   `mm_cid` ([`Index`]), with the retry loops of `param_test`.
//!
//! The calling thread must be registered (the runtime registers every
//! thread it spawns, see `rt::rseq`); a retry loop that finds the thread
//! unregistered panics instead of spinning forever.
#![no_std]

pub mod cs;
pub mod ops;
pub mod percpu;

use core::sync::atomic::{AtomicU64, Ordering};

pub use ops::{
    addv, cmpeqv_cmpeqv_storev, cmpeqv_storev, cmpeqv_trymemcpy_storev, cmpeqv_trystorev_storev,
    cmpnev_storeoffp_load, offset_deref_addv,
};
pub use percpu::{
    ListNode, MemcpyItem, PerCpuBuffer, PerCpuCounter, PerCpuList, PerCpuMemcpyBuffer,
    PerCpuSpinlock,
};
pub use rseq::uapi::{RSEQ_SIG, Rseq, RseqCs};

/// How many CPUs (or concurrency IDs) the per-CPU structures have slots for.
pub const MAX_CPUS: usize = 8;

/// An operation committed (its final store happened).
pub const COMMITTED: i32 = 0;
/// An operation's comparison failed; nothing was stored.
pub const CMPFAIL: i32 = 1;
/// An operation was aborted (wrong CPU / concurrency ID, or the kernel
/// restarted the section); nothing was committed: retry.
pub const ABORTED: i32 = -1;

/// A [`Cpu::delay`] meaning "use the global [`inject_delay`]".
pub const DELAY_GLOBAL: u64 = u64::MAX;

static INJECT_DELAY: AtomicU64 = AtomicU64::new(0);
static ABORTS: AtomicU64 = AtomicU64::new(0);

/// Sets the global in-section delay (loop iterations) used by operations
/// whose [`Cpu::delay`] is [`DELAY_GLOBAL`].
pub fn set_inject_delay(iterations: u64) {
    INJECT_DELAY.store(iterations, Ordering::Relaxed);
}

/// The global in-section delay.
pub fn inject_delay() -> u64 {
    INJECT_DELAY.load(Ordering::Relaxed)
}

/// How many times the retry loops of [`percpu`] saw [`ABORTED`] (all
/// threads; the `nr_abort` of `param_test`).
pub fn aborts() -> u64 {
    ABORTS.load(Ordering::Relaxed)
}

/// Counts an abort; panics if the thread is not registered (the operation
/// could never succeed).
#[cold]
pub(crate) fn note_abort() {
    if !available() {
        panic!(
            "librseq: thread {} is not registered for rseq (errno {})",
            rt::thread::current_tid(),
            rt::rseq::registration_errno()
        );
    }
    ABORTS.fetch_add(1, Ordering::Relaxed);
}

/// Which ID of the rseq area indexes the per-CPU data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Index {
    /// `cpu_id`: the CPU the thread runs on.
    CpuId,
    /// `mm_cid`: the thread's concurrency ID (below the number of CPUs,
    /// unique among the process's running threads).
    MmCid,
}

impl Index {
    /// Byte offset of the field in `struct rseq`.
    pub const fn field_offset(self) -> usize {
        match self {
            Index::CpuId => Rseq::CPU_ID_OFFSET,
            Index::MmCid => Rseq::MM_CID_OFFSET,
        }
    }

    /// The calling thread's current value ([`current_cpu`] or
    /// [`current_mm_cid`]).
    #[inline]
    pub fn current(self) -> u32 {
        match self {
            Index::CpuId => current_cpu(),
            Index::MmCid => current_mm_cid(),
        }
    }

    /// "cpu_id" or "mm_cid".
    pub const fn name(self) -> &'static str {
        match self {
            Index::CpuId => "cpu_id",
            Index::MmCid => "mm_cid",
        }
    }
}

/// Where an operation must run: the index kind, the expected value, and the
/// in-section delay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cpu {
    pub index: Index,
    /// The expected `cpu_id` / `mm_cid`.
    pub id: u32,
    /// Delay-loop iterations inside the section; [`DELAY_GLOBAL`] (the
    /// default) takes [`inject_delay`].
    pub delay: u64,
}

impl Cpu {
    /// Expect `index` to read `id`, with the global delay.
    pub const fn new(index: Index, id: u32) -> Cpu {
        Cpu {
            index,
            id,
            delay: DELAY_GLOBAL,
        }
    }

    /// The calling thread's current `index` value, with the global delay.
    #[inline]
    pub fn current(index: Index) -> Cpu {
        Cpu::new(index, index.current())
    }

    /// The same with an explicit delay (0: none).
    pub const fn with_delay(self, delay: u64) -> Cpu {
        Cpu { delay, ..self }
    }

    /// The delay to spin, with [`DELAY_GLOBAL`] resolved.
    #[inline]
    pub fn resolved_delay(&self) -> u64 {
        if self.delay == DELAY_GLOBAL {
            inject_delay()
        } else {
            self.delay
        }
    }

    /// `id` as an index into the per-CPU arrays (panics if out of range).
    #[inline]
    pub(crate) fn slot(&self) -> usize {
        let i = self.id as usize;
        assert!(
            i < MAX_CPUS,
            "librseq: {} {} out of range (registered: {})",
            self.index.name(),
            self.id,
            available()
        );
        i
    }
}

/// True if the calling thread is registered for rseq.
#[inline]
pub fn available() -> bool {
    rt::rseq::registered()
}

/// The CPU the calling thread runs on: the rseq area's `cpu_id`, or
/// `getcpu` when the thread is not registered.
#[inline]
pub fn current_cpu() -> u32 {
    let c = rt::rseq::cpu_id();
    if (c as i32) >= 0 {
        c
    } else {
        rt::sched::getcpu()
    }
}

/// The calling thread's concurrency ID: the rseq area's `mm_cid`, or (not
/// registered) the CPU number from `getcpu`, which is also below the
/// number of CPUs.
#[inline]
pub fn current_mm_cid() -> u32 {
    if available() {
        rt::rseq::mm_cid()
    } else {
        rt::sched::getcpu()
    }
}
