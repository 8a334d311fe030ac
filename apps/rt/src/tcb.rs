//! The thread control block: what `TPIDR_EL0` points at, the main thread's
//! static one, and the rseq part inside it. [`crate::thread`] makes blocks
//! for the threads it spawns and [`crate::rseq`] registers the area each one
//! holds; neither needs the other to find the calling thread's block.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicI32, AtomicU32, Ordering};

use rseq::uapi::Rseq;

use crate::sys;

/// What the tid word holds between spawn and the kernel's `PARENT_SETTID`
/// store: nonzero, so a kernel without `CLONE_PARENT_SETTID` still lets
/// `join` wait for `CLONE_CHILD_CLEARTID`.
const TID_UNSET: u32 = u32::MAX;

/// A thread's control block, at the top of its stack mapping; `TPIDR_EL0`
/// points at it.
#[repr(C, align(64))]
pub struct ThreadBlock {
    /// The clone tid word: `parent_tid` and `child_tid` (set by the kernel,
    /// zeroed at exit). Must stay the first field.
    pub(crate) tid_word: AtomicU32,
    /// The thread's own tid (`gettid` at start), never cleared.
    pub(crate) tid: AtomicU32,
    /// The function's return value, stored before `exit`.
    pub(crate) ret: AtomicI32,
    /// Whether the trampoline registers rseq for the thread.
    pub(crate) rseq_auto: bool,
    /// The creator's signal mask, restored by the trampoline after the
    /// registration (the creator blocked everything around clone).
    pub(crate) sigmask: Option<u64>,
    pub(crate) f: Option<fn(usize) -> i32>,
    pub(crate) arg: usize,
    /// The whole mapping (stack + this block), unmapped by `join`.
    pub(crate) map_base: usize,
    pub(crate) map_len: usize,
    /// The thread's rseq area and the app's slot before it.
    pub(crate) rseq: RseqTcb,
}

impl ThreadBlock {
    pub(crate) const fn empty() -> ThreadBlock {
        ThreadBlock {
            tid_word: AtomicU32::new(TID_UNSET),
            tid: AtomicU32::new(0),
            ret: AtomicI32::new(0),
            rseq_auto: false,
            sigmask: None,
            f: None,
            arg: 0,
            map_base: 0,
            map_len: 0,
            rseq: RseqTcb::new(),
        }
    }
}

const _: () = assert!(core::mem::offset_of!(ThreadBlock, tid_word) == 0);

/// The main thread's block (its stack is the kernel's initial stack).
pub(crate) static MAIN_BLOCK: ThreadBlock = ThreadBlock::empty();

/// `TPIDR_EL0`.
#[inline(always)]
pub fn tpidr() -> u64 {
    let v: u64;
    // SAFETY: TPIDR_EL0 is readable at EL0; no memory is touched.
    unsafe {
        core::arch::asm!("mrs {}, tpidr_el0", out(reg) v, options(nomem, nostack, preserves_flags))
    };
    v
}

/// Sets `TPIDR_EL0` (the runtime's own: apps must not write it).
#[inline(always)]
pub(crate) fn set_tpidr(v: u64) {
    // SAFETY: TPIDR_EL0 is writable at EL0; only the runtime reads it, and
    // it always points at a live ThreadBlock (ours or MAIN_BLOCK).
    unsafe {
        core::arch::asm!("msr tpidr_el0, {}", in(reg) v, options(nomem, nostack, preserves_flags))
    };
}

/// Points the main thread's `TPIDR_EL0` at its static block (idempotent;
/// also done lazily by [`current_tid`](crate::thread::current_tid)). Call it only from the main thread.
pub fn init_main() {
    if tpidr() == 0 {
        MAIN_BLOCK
            .tid
            .store(sys::gettid() as u32, Ordering::Relaxed);
        set_tpidr(&MAIN_BLOCK as *const ThreadBlock as u64);
    }
}

/// The calling thread's block.
pub(crate) fn current_block() -> &'static ThreadBlock {
    let mut p = tpidr();
    if p == 0 {
        // Only the main thread runs with TPIDR_EL0 == 0 (clone sets it).
        init_main();
        p = tpidr();
    }
    // SAFETY: TPIDR_EL0 is only ever set through `set_tpidr` (here and by
    // the thread trampoline), to MAIN_BLOCK or to the block of the running
    // thread, which lives until the thread exits.
    unsafe { &*(p as *const ThreadBlock) }
}

/// The calling thread's rseq data (see [`crate::rseq`]).
#[inline]
pub(crate) fn current_rseq_tcb() -> &'static RseqTcb {
    &current_block().rseq
}

/// One thread's rseq data: runtime bookkeeping, the app's 8-byte slot, and
/// the registered `struct rseq`. See [`crate::rseq`] for the layout.
#[repr(C, align(64))]
pub struct RseqTcb {
    /// The length this thread is registered with (0: not registered).
    pub(crate) len: AtomicU32,
    /// The positive errno of the runtime's registration attempt (0: none).
    pub(crate) errno: AtomicI32,
    _pad: [u8; 48],
    /// App-owned: the 8 bytes right before the area.
    pub(crate) slot: UnsafeCell<u64>,
    /// The area the kernel writes (`cpu_id_start`, `cpu_id`, ...).
    pub(crate) area: UnsafeCell<Rseq>,
}

// SAFETY: `len` and `errno` are atomics; `slot` and `area` are only reached
// through raw pointers (the kernel and the owning thread write them, with
// volatile accesses), never through references that could alias.
unsafe impl Sync for RseqTcb {}

const _: () = assert!(core::mem::offset_of!(RseqTcb, slot) == 56);
const _: () = assert!(core::mem::offset_of!(RseqTcb, area) == 64);
const _: () = assert!(core::mem::size_of::<RseqTcb>() == 128);

impl RseqTcb {
    /// An unregistered area (`cpu_id` = `RSEQ_CPU_ID_UNINITIALIZED`).
    pub const fn new() -> RseqTcb {
        RseqTcb {
            len: AtomicU32::new(0),
            errno: AtomicI32::new(0),
            _pad: [0; 48],
            slot: UnsafeCell::new(0),
            area: UnsafeCell::new(Rseq::new()),
        }
    }
}

impl Default for RseqTcb {
    fn default() -> Self {
        Self::new()
    }
}
