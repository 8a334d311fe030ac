//! Memory: the one set of page tables, the physical frame allocator, the
//! kernel heap, and the user window.
//!
//! Layout (DESIGN §1, "single address space"):
//! - RAM is identity-mapped EL1-only: kernel text RX, rodata R, everything
//!   else RW+XN (W^X, and SCTLR_EL1.WXN on top).
//! - MMIO ranges from the board, identity-mapped as device memory.
//! - The app lives in the user window `[USER_BASE, USER_END)`, mapped page by
//!   page: text EL0 RX, rodata EL0 R, data/stack/heap EL0 RW+XN.
//! - Nothing else is mapped; in particular page 0.

use crate::sync::SpinLock;
use arch::PAGE_SIZE;
use arch::mmu::{MapError, MapKind, PageTables, Table, TableSource};

/// Bottom of the user window; `linker/app.ld` links apps here.
pub const USER_BASE: u64 = 0x40_0000_0000;
/// End of the user window (1 GiB).
pub const USER_END: u64 = USER_BASE + (1 << 30);
/// The anonymous-mmap area (thread stacks, heaps). Below it,
/// `[USER_BASE + 0x2000_0000, MMAP_BASE)` is never mapped: tests rely on a
/// hole there.
pub const MMAP_BASE: u64 = USER_BASE + 0x2400_0000;
/// End of the mmap area.
pub const MMAP_END: u64 = USER_BASE + 0x3c00_0000;
/// The signal-return trampoline page (Linux's vDSO `__kernel_rt_sigreturn`
/// role), used when a handler was installed without SA_RESTORER.
pub const SIGPAGE: u64 = USER_BASE + 0x3e00_0000;
/// A kernel-only virtual page for reaching physical pages the identity map
/// leaves out (page 0, with the Pi 4 spin table).
const FIXMAP: u64 = 0x7f_ffff_f000;
/// Top of the main thread's stack; the page above is never mapped.
pub const USER_STACK_TOP: u64 = USER_END - PAGE_SIZE as u64;
/// Main thread stack size (an unmapped guard page lies below it).
pub const USER_STACK_SIZE: u64 = 256 * 1024;

/// Kernel heap size (task structs, kernel stacks).
const HEAP_SIZE: usize = 8 << 20;
/// Page-table pages available (a static pool: the kernel map needs a
/// handful, each 2 MiB of user window one more).
const TABLE_POOL: usize = 64;

unsafe extern "C" {
    static __kernel_start: u8;
    static __text_end: u8;
    static __rodata_end: u8;
    static __kernel_end: u8;
}

/// Page-table pages, from BSS (zeroed at boot).
struct TablePool {
    tables: [Table; TABLE_POOL],
    used: usize,
}

static mut TABLE_POOL_MEM: TablePool = TablePool {
    tables: [const { Table::empty() }; TABLE_POOL],
    used: 0,
};

struct PoolSource;

impl TableSource for PoolSource {
    fn alloc_table(&mut self) -> Option<*mut Table> {
        // SAFETY: only called with the `KERNEL_MM` lock held (or at
        // single-threaded boot), so the pool is not shared concurrently.
        let pool = unsafe { &mut *core::ptr::addr_of_mut!(TABLE_POOL_MEM) };
        let t = pool.tables.get_mut(pool.used)? as *mut Table;
        pool.used += 1;
        Some(t)
    }
}

/// The address space and the frame allocator.
pub struct Mm {
    tables: PageTables,
    /// Next never-used physical frame (bump allocator) and the end of RAM.
    next_frame: u64,
    first_frame: u64,
    ram_end: u64,
    /// Frames given back (munmap), reused first.
    free_frames: FreeFrames,
    /// Frames handed out, for the shutdown report.
    pub frames_used: u64,
}

static KERNEL_MM: SpinLock<Option<Mm>> = SpinLock::new(None);

/// The free frames, as a list threaded through the frames themselves (each
/// one's first word holds the next one's address; 0 ends it: frame 0
/// is never handed out, it is below the kernel or not RAM). Unlike a
/// `Vec` of addresses it costs no kernel heap: a fuzzer mapping and
/// unmapping most of RAM used to grow the heap by 8 bytes per frame it
/// ever freed.
struct FreeFrames {
    head: u64,
}

impl FreeFrames {
    /// Gives `pa` (a whole RAM frame nobody maps any more) back.
    fn push(&mut self, pa: u64) {
        // SAFETY: `pa` is a RAM frame, identity-mapped writable for the
        // kernel, no longer mapped for EL0 and owned by the allocator now.
        unsafe { (pa as *mut u64).write(self.head) };
        self.head = pa;
    }

    /// Takes a frame back out (its contents are stale: the caller zeroes).
    fn pop(&mut self) -> Option<u64> {
        let pa = self.head;
        if pa == 0 {
            return None;
        }
        // SAFETY: `pa` was pushed: a free RAM frame whose first word is
        // the link written by `push`.
        self.head = unsafe { (pa as *const u64).read() };
        Some(pa)
    }
}

/// Linker-symbol address.
fn sym(s: &u8) -> u64 {
    s as *const u8 as u64
}

fn align_up(x: u64, a: u64) -> u64 {
    (x + a - 1) & !(a - 1)
}

/// Builds the kernel map with RAM `[ram_base, ram_base + ram_size)` and the
/// board's devices, then turns the MMU on. Runs on CPU 0 before anything else.
pub fn init_early(ram_base: u64, ram_size: u64, devices: &[(u64, u64)]) {
    let mut src = PoolSource;
    let mut pt = PageTables::new(&mut src).expect("page-table pool");
    // SAFETY: linker symbols; only their addresses are used.
    let (kstart, text_end, rodata_end, kend) = unsafe {
        (
            sym(&__kernel_start),
            sym(&__text_end),
            sym(&__rodata_end),
            sym(&__kernel_end),
        )
    };
    let ram_end = ram_base + ram_size;
    let map = |pt: &mut PageTables, src: &mut PoolSource, start: u64, end: u64, kind| {
        if end > start {
            pt.map(src, start, start, end - start, kind)
                .expect("kernel map");
        }
    };
    // Page 0 stays unmapped even where RAM starts at 0 (Pi 4), so a null
    // dereference in the kernel faults.
    map(
        &mut pt,
        &mut src,
        ram_base.max(PAGE_SIZE as u64),
        kstart,
        MapKind::KernelData,
    );
    map(&mut pt, &mut src, kstart, text_end, MapKind::KernelText);
    map(
        &mut pt,
        &mut src,
        text_end,
        rodata_end,
        MapKind::KernelRodata,
    );
    map(&mut pt, &mut src, rodata_end, kend, MapKind::KernelData);
    // The rest of RAM: RAM after the 2 MiB block holding the kernel end can
    // use blocks; `map` picks them where aligned.
    map(&mut pt, &mut src, kend, ram_end, MapKind::KernelData);
    for &(base, size) in devices {
        let start = base & !(arch::mmu::BLOCK_2M - 1);
        let end = align_up(base + size, arch::mmu::BLOCK_2M);
        match pt.map(&mut src, start, start, end - start, MapKind::Device) {
            Ok(()) | Err(MapError::AlreadyMapped(_)) => {}
            Err(e) => panic!("device map {base:#x}: {e:?}"),
        }
    }
    // SAFETY: the tables map this code, its stack (in the kernel image) and
    // the console, identity, with the attributes the code expects.
    unsafe { arch::mmu::enable(pt.root_addr()) };
    *KERNEL_MM.lock() = Some(Mm {
        tables: pt,
        next_frame: align_up(kend, PAGE_SIZE as u64),
        first_frame: align_up(kend, PAGE_SIZE as u64),
        ram_end,
        free_frames: FreeFrames { head: 0 },
        frames_used: 0,
    });
}

/// After the DTB was read: drops RAM beyond the real end from the map, keeps
/// the DTB out of the allocator, and carves the kernel heap.
pub fn init_memory(
    ram_base: u64,
    early_size: u64,
    ram_size: u64,
    reserved: Option<(u64, u64)>,
) -> (u64, u64) {
    let mut guard = KERNEL_MM.lock();
    let mm = guard.as_mut().expect("mm");
    let real_end = ram_base + ram_size.min(early_size);
    if real_end < ram_base + early_size {
        mm.tables.unmap(
            align_up(real_end, arch::mmu::BLOCK_2M),
            ram_base + early_size - real_end,
        );
        arch::mmu::flush_tlb_all();
    }
    mm.ram_end = real_end;
    if let Some((start, size)) = reserved
        && start + size > mm.next_frame
        && start < real_end
    {
        mm.next_frame = align_up(start + size, PAGE_SIZE as u64);
    }
    let heap = mm.next_frame;
    mm.next_frame += HEAP_SIZE as u64;
    mm.first_frame = mm.next_frame;
    assert!(
        mm.next_frame <= mm.ram_end,
        "RAM too small for the kernel heap"
    );
    // SAFETY: `[heap, heap + HEAP_SIZE)` is mapped kernel RAM handed to no one else.
    unsafe { HEAP.init(heap as usize, HEAP_SIZE) };
    (heap, HEAP_SIZE as u64)
}

#[global_allocator]
static HEAP: embedded_alloc::LlffHeap = embedded_alloc::LlffHeap::empty();

/// Allocates `pages` zeroed, physically contiguous frames.
fn alloc_frames(mm: &mut Mm, pages: u64) -> Option<u64> {
    let start = mm.next_frame;
    let end = start.checked_add(pages * PAGE_SIZE as u64)?;
    if end > mm.ram_end {
        return None;
    }
    mm.next_frame = end;
    mm.frames_used += pages;
    // SAFETY: fresh frames in identity-mapped kernel RAM, owned by nobody.
    unsafe { core::ptr::write_bytes(start as *mut u8, 0, (end - start) as usize) };
    Some(start)
}

/// Maps `size` bytes of fresh zeroed memory at user address `va` and returns
/// the physical (= kernel identity) address of its first byte.
pub fn map_user_zeroed(va: u64, size: u64, kind: MapKind) -> Result<u64, MapError> {
    let mut guard = KERNEL_MM.lock();
    let mm = guard.as_mut().expect("mm");
    let pages = align_up(size, PAGE_SIZE as u64) / PAGE_SIZE as u64;
    let pa = alloc_frames(mm, pages).ok_or(MapError::OutOfTables)?;
    mm.tables
        .map(&mut PoolSource, va, pa, pages * PAGE_SIZE as u64, kind)?;
    Ok(pa)
}

/// Checks the live tables against the W^X layout: kernel text EL1 RX,
/// rodata EL1 R, data EL1 RW+XN, none of it EL0-accessible. A mismatch is a
/// kernel bug, caught at boot rather than exploited later.
pub fn verify_kernel_wx() {
    use arch::mmu::perms::*;
    let guard = KERNEL_MM.lock();
    let mm = guard.as_ref().expect("mm");
    // SAFETY: linker symbols; only their addresses are used.
    let (text, rodata, data) =
        unsafe { (sym(&__kernel_start), sym(&__text_end), sym(&__rodata_end)) };
    let desc = |va: u64| {
        mm.tables
            .translate(va)
            .map(|(_, d)| d)
            .expect("kernel page mapped")
    };
    let (t, r, d) = (desc(text), desc(rodata), desc(data));
    assert!(!writable(t) && el1_exec(t), "kernel text must be RX");
    assert!(!writable(r) && !el1_exec(r), "kernel rodata must be R");
    assert!(writable(d) && !el1_exec(d), "kernel data must be RW+XN");
    for x in [t, r, d] {
        assert!(
            !el0_accessible(x) && !el0_exec(x),
            "kernel pages must be EL1-only"
        );
    }
    assert!(
        mm.tables.translate(0).is_none(),
        "page 0 must stay unmapped"
    );
}

/// One zeroed frame, from the free list or the bump allocator.
fn alloc_frame(mm: &mut Mm) -> Option<u64> {
    if let Some(pa) = mm.free_frames.pop() {
        mm.frames_used += 1;
        // SAFETY: a frame returned by munmap, unmapped from user space.
        unsafe { core::ptr::write_bytes(pa as *mut u8, 0, PAGE_SIZE) };
        return Some(pa);
    }
    alloc_frames(mm, 1)
}

/// Maps fresh zeroed pages at `[va, va + size)`, page by page (mmap).
/// On failure nothing stays mapped.
pub fn map_user_pages(va: u64, size: u64, kind: MapKind) -> Result<(), MapError> {
    let mut guard = KERNEL_MM.lock();
    let mm = guard.as_mut().expect("mm");
    let mut done = 0;
    while done < size {
        let result = match alloc_frame(mm) {
            Some(pa) => mm
                .tables
                .map(&mut PoolSource, va + done, pa, PAGE_SIZE as u64, kind)
                .inspect_err(|_| {
                    mm.free_frames.push(pa);
                    mm.frames_used -= 1;
                }),
            None => Err(MapError::OutOfTables),
        };
        if let Err(e) = result {
            drop(guard);
            unmap_user_pages(va, done);
            return Err(e);
        }
        done += PAGE_SIZE as u64;
    }
    Ok(())
}

/// Unmaps `[va, va + size)` and frees the frames behind it (munmap).
pub fn unmap_user_pages(va: u64, size: u64) {
    let mut guard = KERNEL_MM.lock();
    let mm = guard.as_mut().expect("mm");
    let mut off = 0;
    while off < size {
        if let Some((pa, _)) = mm.tables.translate(va + off) {
            mm.tables.unmap(va + off, PAGE_SIZE as u64);
            mm.free_frames.push(pa & !(PAGE_SIZE as u64 - 1));
            mm.frames_used -= 1;
        }
        off += PAGE_SIZE as u64;
    }
    drop(guard);
    arch::mmu::flush_tlb_all();
}

/// Writes a u64 to physical address `pa` through the fixmap page, and
/// cleans it to memory for observers with caches off (spin-table CPUs).
pub fn write_phys_u64(pa: u64, val: u64) {
    let mut guard = KERNEL_MM.lock();
    let mm = guard.as_mut().expect("mm");
    let page = pa & !(PAGE_SIZE as u64 - 1);
    mm.tables.unmap(FIXMAP, PAGE_SIZE as u64);
    arch::mmu::flush_tlb_all();
    mm.tables
        .map(
            &mut PoolSource,
            FIXMAP,
            page,
            PAGE_SIZE as u64,
            MapKind::KernelData,
        )
        .expect("fixmap");
    let va = FIXMAP + (pa - page);
    // SAFETY: the fixmap page now maps `page`, owned by the firmware protocol
    // that asked for this write; `va` is 8-aligned (`pa` is).
    unsafe { (va as *mut u64).write_volatile(val) };
    arch::cpu::clean_dcache_range(va, 8);
}

/// Runs `f` with the memory lock held (`selftest=fault-under-mm-lock`).
pub fn with_lock_held(f: impl FnOnce()) {
    let _guard = KERNEL_MM.lock();
    f();
}

/// Kernel heap bytes in use (boot and shutdown reports: a soak must not grow it).
pub fn heap_used() -> usize {
    HEAP.used()
}

/// (frames the allocator manages, frames free now), for `kstats`.
pub fn frame_counts() -> (u64, u64) {
    KERNEL_MM.lock().as_ref().map_or((0, 0), |mm| {
        let total = (mm.ram_end - mm.first_frame) / PAGE_SIZE as u64;
        (total, total - mm.frames_used)
    })
}

/// Frames in use, for the shutdown report.
pub fn frames_used() -> u64 {
    KERNEL_MM.lock().as_ref().map_or(0, |mm| mm.frames_used)
}
