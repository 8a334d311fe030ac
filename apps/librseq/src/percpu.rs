//! Per-CPU data structures on the [`ops`](crate::ops), with the retry
//! loops of Linux's `param_test.c` / `basic_percpu_ops_test.c`. Each
//! operation takes the [`Index`] to shard by (`cpu_id` or `mm_cid`) and
//! returns the slot it used. All are `const`-constructible for statics.
//! The `*_unsync` methods are for setup and final accounting, when no
//! other thread touches the structure.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicI64, AtomicU64, Ordering, fence};

use crate::{ABORTED, COMMITTED, Cpu, Index, MAX_CPUS, note_abort, ops};

/// Keeps each CPU's data on its own cache lines (Linux's
/// `__attribute__((aligned(128)))`).
#[repr(C, align(128))]
struct Padded<T>(T);

/// A contended compare failure spins this often before yielding the CPU (a
/// holder preempted on our CPU cannot release the lock while we spin).
const SPINS_BEFORE_YIELD: u32 = 256;

/// The retry policy for compare failures that mean "busy".
struct Backoff(u32);

impl Backoff {
    fn wait(&mut self) {
        self.0 += 1;
        if self.0.is_multiple_of(SPINS_BEFORE_YIELD) {
            rt::sched::yield_now();
        } else {
            core::hint::spin_loop();
        }
    }
}

/// A spinlock per CPU: [`lock`](Self::lock) takes the lock of the caller's
/// current CPU (or concurrency ID) with [`ops::cmpeqv_storev`] (0 → 1) and
/// returns which one; [`unlock`](Self::unlock) releases it from anywhere.
pub struct PerCpuSpinlock {
    c: [Padded<AtomicI64>; MAX_CPUS],
}

impl Default for PerCpuSpinlock {
    fn default() -> Self {
        Self::new()
    }
}

impl PerCpuSpinlock {
    pub const fn new() -> PerCpuSpinlock {
        PerCpuSpinlock {
            c: [const { Padded(AtomicI64::new(0)) }; MAX_CPUS],
        }
    }

    /// Takes the lock of the current CPU / concurrency ID; returns its
    /// index (pass it to [`unlock`](Self::unlock)).
    pub fn lock(&self, index: Index) -> u32 {
        let mut backoff = Backoff(0);
        loop {
            let cpu = Cpu::current(index);
            let word = self.c[cpu.slot()].0.as_ptr();
            // SAFETY: `word` is this lock's slot for `cpu`, only changed by
            // rseq operations on `cpu` (lock) and by its holder (unlock).
            match unsafe { ops::cmpeqv_storev(word, 0, 1, cpu) } {
                COMMITTED => {
                    // Acquire after the control dependency (Linux's
                    // rseq_smp_acquire__after_ctrl_dep).
                    fence(Ordering::Acquire);
                    return cpu.id;
                }
                ABORTED => note_abort(),
                _ => backoff.wait(),
            }
        }
    }

    /// Releases lock `cpu` (a value [`lock`](Self::lock) returned).
    pub fn unlock(&self, cpu: u32) {
        let l = &self.c[cpu as usize].0;
        debug_assert_eq!(l.load(Ordering::Relaxed), 1);
        l.store(0, Ordering::Release);
    }

    /// Whether lock `cpu` is held.
    pub fn is_locked(&self, cpu: u32) -> bool {
        self.c[cpu as usize].0.load(Ordering::Relaxed) != 0
    }
}

/// A counter per CPU, incremented with [`ops::addv`].
pub struct PerCpuCounter {
    c: [Padded<AtomicI64>; MAX_CPUS],
}

impl Default for PerCpuCounter {
    fn default() -> Self {
        Self::new()
    }
}

impl PerCpuCounter {
    pub const fn new() -> PerCpuCounter {
        PerCpuCounter {
            c: [const { Padded(AtomicI64::new(0)) }; MAX_CPUS],
        }
    }

    /// Adds `n` to the current CPU's (concurrency ID's) counter; returns
    /// which one.
    pub fn add(&self, index: Index, n: i64) -> u32 {
        loop {
            let cpu = Cpu::current(index);
            let v = self.c[cpu.slot()].0.as_ptr();
            // SAFETY: `v` is this counter's slot for `cpu`, only changed by
            // rseq operations on `cpu`.
            if unsafe { ops::addv(v, n, cpu) } == COMMITTED {
                return cpu.id;
            }
            note_abort();
        }
    }

    /// The counter of `cpu`.
    pub fn get(&self, cpu: u32) -> i64 {
        self.c[cpu as usize].0.load(Ordering::Relaxed)
    }

    /// The sum over all CPUs.
    pub fn sum(&self) -> i64 {
        self.c.iter().map(|c| c.0.load(Ordering::Relaxed)).sum()
    }

    /// Sets every counter to 0 (no concurrent users).
    pub fn reset(&self) {
        for c in &self.c {
            c.0.store(0, Ordering::Relaxed);
        }
    }
}

/// A node of a [`PerCpuList`] (intrusive, owned by the caller).
#[repr(C)]
#[derive(Debug)]
pub struct ListNode {
    pub data: i64,
    pub next: *mut ListNode,
}

impl ListNode {
    pub const fn new(data: i64) -> ListNode {
        ListNode {
            data,
            next: core::ptr::null_mut(),
        }
    }
}

/// A singly linked list per CPU: push with [`ops::cmpeqv_storev`] on the
/// head, pop with [`ops::cmpnev_storeoffp_load`] (no ABA problem: the pop
/// is one restartable sequence).
pub struct PerCpuList {
    head: [Padded<AtomicI64>; MAX_CPUS],
}

impl Default for PerCpuList {
    fn default() -> Self {
        Self::new()
    }
}

impl PerCpuList {
    pub const fn new() -> PerCpuList {
        PerCpuList {
            head: [const { Padded(AtomicI64::new(0)) }; MAX_CPUS],
        }
    }

    /// Pushes `node` on the current CPU's list; returns which one.
    ///
    /// # Safety
    ///
    /// `node` must be valid, not on any list, and stay valid while on it.
    pub unsafe fn push(&self, node: *mut ListNode, index: Index) -> u32 {
        loop {
            let cpu = Cpu::current(index);
            let head = self.head[cpu.slot()].0.as_ptr();
            let expect = self.head[cpu.slot()].0.load(Ordering::Relaxed);
            // SAFETY: the caller owns `node` until it is on the list.
            unsafe { (*node).next = expect as *mut ListNode };
            // SAFETY: `head` is the list's slot for `cpu`, only changed by
            // rseq operations on `cpu`.
            match unsafe { ops::cmpeqv_storev(head, expect, node as i64, cpu) } {
                COMMITTED => return cpu.id,
                ABORTED => note_abort(),
                _ => {}
            }
        }
    }

    /// Pops from the current CPU's list: `(node, cpu)`, or `None` if that
    /// list is empty.
    pub fn pop(&self, index: Index) -> Option<(*mut ListNode, u32)> {
        loop {
            let cpu = Cpu::current(index);
            let head = self.head[cpu.slot()].0.as_ptr();
            let mut node: i64 = 0;
            let next = core::mem::offset_of!(ListNode, next) as i64;
            // SAFETY: `head` as in `push`; a non-null head is a node whose
            // `next` is readable (nodes stay valid while listed).
            match unsafe { ops::cmpnev_storeoffp_load(head, 0, next, &mut node, cpu) } {
                COMMITTED => return Some((node as *mut ListNode, cpu.id)),
                ABORTED => note_abort(),
                _ => return None,
            }
        }
    }

    /// Pushes on list `cpu` without rseq (setup only).
    ///
    /// # Safety
    ///
    /// As [`push`](Self::push), and no concurrent users.
    pub unsafe fn push_unsync(&self, cpu: u32, node: *mut ListNode) {
        let h = &self.head[cpu as usize].0;
        // SAFETY: the caller owns `node`.
        unsafe { (*node).next = h.load(Ordering::Relaxed) as *mut ListNode };
        h.store(node as i64, Ordering::Relaxed);
    }

    /// Pops from list `cpu` without rseq (accounting only).
    ///
    /// # Safety
    ///
    /// No concurrent users; listed nodes are valid.
    pub unsafe fn pop_unsync(&self, cpu: u32) -> Option<*mut ListNode> {
        let h = &self.head[cpu as usize].0;
        let node = h.load(Ordering::Relaxed) as *mut ListNode;
        if node.is_null() {
            return None;
        }
        // SAFETY: a listed node is valid (caller's contract).
        h.store(unsafe { (*node).next } as i64, Ordering::Relaxed);
        Some(node)
    }
}

/// One CPU's entry of a [`PerCpuBuffer`].
struct BufferEntry<const CAP: usize> {
    offset: AtomicI64,
    array: [AtomicU64; CAP],
}

/// A bounded stack of words per CPU (param_test's "buffer"): push with
/// [`ops::cmpeqv_trystorev_storev`] (speculative store of the item, commit
/// of the new offset), pop with [`ops::cmpeqv_cmpeqv_storev`].
pub struct PerCpuBuffer<const CAP: usize> {
    c: [Padded<BufferEntry<CAP>>; MAX_CPUS],
}

impl<const CAP: usize> Default for PerCpuBuffer<CAP> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const CAP: usize> PerCpuBuffer<CAP> {
    pub const fn new() -> Self {
        PerCpuBuffer {
            c: [const {
                Padded(BufferEntry {
                    offset: AtomicI64::new(0),
                    array: [const { AtomicU64::new(0) }; CAP],
                })
            }; MAX_CPUS],
        }
    }

    /// Pushes `item` on the current CPU's stack: `Some(cpu)`, or `None` if
    /// that stack is full.
    pub fn push(&self, item: u64, index: Index) -> Option<u32> {
        loop {
            let cpu = Cpu::current(index);
            let e = &self.c[cpu.slot()].0;
            let offset = e.offset.load(Ordering::Relaxed);
            if offset as usize >= CAP {
                return None;
            }
            let slot = e.array[offset as usize].as_ptr() as *mut i64;
            // SAFETY: `offset` and `slot` belong to `cpu`'s entry, only
            // changed by rseq operations on `cpu`.
            let r = unsafe {
                ops::cmpeqv_trystorev_storev(
                    e.offset.as_ptr(),
                    offset,
                    slot,
                    item as i64,
                    offset + 1,
                    cpu,
                )
            };
            match r {
                COMMITTED => return Some(cpu.id),
                ABORTED => note_abort(),
                _ => {}
            }
        }
    }

    /// Pops from the current CPU's stack: `(item, cpu)`, or `None` if empty.
    pub fn pop(&self, index: Index) -> Option<(u64, u32)> {
        loop {
            let cpu = Cpu::current(index);
            let e = &self.c[cpu.slot()].0;
            let offset = e.offset.load(Ordering::Relaxed);
            if offset <= 0 || offset as usize > CAP {
                return None;
            }
            let slot = &e.array[offset as usize - 1];
            let item = slot.load(Ordering::Relaxed);
            // SAFETY: as in `push`.
            let r = unsafe {
                ops::cmpeqv_cmpeqv_storev(
                    e.offset.as_ptr(),
                    offset,
                    slot.as_ptr() as *const i64,
                    item as i64,
                    offset - 1,
                    cpu,
                )
            };
            match r {
                COMMITTED => return Some((item, cpu.id)),
                ABORTED => note_abort(),
                _ => {}
            }
        }
    }

    /// Pushes on `cpu`'s stack without rseq (setup only; no concurrent
    /// users). False if full.
    pub fn push_unsync(&self, cpu: u32, item: u64) -> bool {
        let e = &self.c[cpu as usize].0;
        let offset = e.offset.load(Ordering::Relaxed) as usize;
        if offset >= CAP {
            return false;
        }
        e.array[offset].store(item, Ordering::Relaxed);
        e.offset.store(offset as i64 + 1, Ordering::Relaxed);
        true
    }

    /// Pops from `cpu`'s stack without rseq (accounting only).
    pub fn pop_unsync(&self, cpu: u32) -> Option<u64> {
        let e = &self.c[cpu as usize].0;
        let offset = e.offset.load(Ordering::Relaxed) as usize;
        if offset == 0 {
            return None;
        }
        e.offset.store(offset as i64 - 1, Ordering::Relaxed);
        Some(e.array[offset - 1].load(Ordering::Relaxed))
    }
}

/// An item of a [`PerCpuMemcpyBuffer`]: two words copied as one.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemcpyItem {
    pub data1: i64,
    pub data2: u64,
}

/// One CPU's entry of a [`PerCpuMemcpyBuffer`].
struct MemcpyEntry<const CAP: usize> {
    offset: AtomicI64,
    array: UnsafeCell<[MemcpyItem; CAP]>,
}

/// A bounded stack of [`MemcpyItem`]s per CPU, copied in and out inside
/// the section with [`ops::cmpeqv_trymemcpy_storev`] (param_test's
/// "memcpy buffer").
pub struct PerCpuMemcpyBuffer<const CAP: usize> {
    c: [Padded<MemcpyEntry<CAP>>; MAX_CPUS],
}

// SAFETY: the items of a CPU's entry are only written inside rseq sections
// on that CPU (or by `*_unsync` with no concurrent users), and read by the
// same sections; no references to them are handed out.
unsafe impl<const CAP: usize> Sync for PerCpuMemcpyBuffer<CAP> {}

impl<const CAP: usize> Default for PerCpuMemcpyBuffer<CAP> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const CAP: usize> PerCpuMemcpyBuffer<CAP> {
    pub const fn new() -> Self {
        PerCpuMemcpyBuffer {
            c: [const {
                Padded(MemcpyEntry {
                    offset: AtomicI64::new(0),
                    array: UnsafeCell::new([MemcpyItem { data1: 0, data2: 0 }; CAP]),
                })
            }; MAX_CPUS],
        }
    }

    fn item_ptr(e: &MemcpyEntry<CAP>, i: usize) -> *mut MemcpyItem {
        debug_assert!(i < CAP);
        // SAFETY: `i < CAP`: inside the array.
        unsafe { (e.array.get() as *mut MemcpyItem).add(i) }
    }

    /// Copies `item` onto the current CPU's stack: `Some(cpu)`, or `None`
    /// if full.
    pub fn push(&self, item: MemcpyItem, index: Index) -> Option<u32> {
        loop {
            let cpu = Cpu::current(index);
            let e = &self.c[cpu.slot()].0;
            let offset = e.offset.load(Ordering::Relaxed);
            if offset as usize >= CAP {
                return None;
            }
            let dst = Self::item_ptr(e, offset as usize) as *mut u8;
            let src = &item as *const MemcpyItem as *const u8;
            let len = core::mem::size_of::<MemcpyItem>();
            // SAFETY: `dst` is a slot of `cpu`'s entry, `src` our local
            // item; the entry is only changed by rseq operations on `cpu`.
            let r = unsafe {
                ops::cmpeqv_trymemcpy_storev(
                    e.offset.as_ptr(),
                    offset,
                    dst,
                    src,
                    len,
                    offset + 1,
                    cpu,
                )
            };
            match r {
                COMMITTED => return Some(cpu.id),
                ABORTED => note_abort(),
                _ => {}
            }
        }
    }

    /// Copies the top item off the current CPU's stack: `(item, cpu)`, or
    /// `None` if empty.
    pub fn pop(&self, index: Index) -> Option<(MemcpyItem, u32)> {
        loop {
            let cpu = Cpu::current(index);
            let e = &self.c[cpu.slot()].0;
            let offset = e.offset.load(Ordering::Relaxed);
            if offset <= 0 || offset as usize > CAP {
                return None;
            }
            let mut item = MemcpyItem::default();
            let src = Self::item_ptr(e, offset as usize - 1) as *const u8;
            let dst = &mut item as *mut MemcpyItem as *mut u8;
            let len = core::mem::size_of::<MemcpyItem>();
            // SAFETY: as in `push`, copying the other way.
            let r = unsafe {
                ops::cmpeqv_trymemcpy_storev(
                    e.offset.as_ptr(),
                    offset,
                    dst,
                    src,
                    len,
                    offset - 1,
                    cpu,
                )
            };
            match r {
                COMMITTED => return Some((item, cpu.id)),
                ABORTED => note_abort(),
                _ => {}
            }
        }
    }

    /// Pushes on `cpu`'s stack without rseq (setup only). False if full.
    ///
    /// # Safety
    ///
    /// No concurrent users.
    pub unsafe fn push_unsync(&self, cpu: u32, item: MemcpyItem) -> bool {
        let e = &self.c[cpu as usize].0;
        let offset = e.offset.load(Ordering::Relaxed) as usize;
        if offset >= CAP {
            return false;
        }
        // SAFETY: no concurrent users (caller's contract); in bounds.
        unsafe { Self::item_ptr(e, offset).write_volatile(item) };
        e.offset.store(offset as i64 + 1, Ordering::Relaxed);
        true
    }

    /// Pops from `cpu`'s stack without rseq (accounting only).
    ///
    /// # Safety
    ///
    /// No concurrent users.
    pub unsafe fn pop_unsync(&self, cpu: u32) -> Option<MemcpyItem> {
        let e = &self.c[cpu as usize].0;
        let offset = e.offset.load(Ordering::Relaxed) as usize;
        if offset == 0 {
            return None;
        }
        e.offset.store(offset as i64 - 1, Ordering::Relaxed);
        // SAFETY: no concurrent users; in bounds.
        Some(unsafe { Self::item_ptr(e, offset - 1).read_volatile() })
    }
}
