//! Memory: the page tables of the two halves, the physical frame
//! allocator, the kernel heap, and the user window.
//!
//! Layout (Linux's split, `arch::mmu`):
//! - The high half (TTBR1) is the kernel's: all RAM in the linear map at
//!   `KERNEL_OFFSET + physical`, EL1-only: kernel text RX, rodata R,
//!   everything else RW+XN (W^X, and SCTLR_EL1.WXN on top); the board's
//!   MMIO ranges in the same linear map as device memory; a fixmap page.
//! - The low half (TTBR0) is the app's: the user window `[USER_BASE,
//!   USER_END)`, mapped page by page: text EL0 RX, rodata EL0 R,
//!   data/stack/heap EL0 RW+XN. No kernel byte is mapped there.
//! - Nothing else is mapped; in particular physical page 0's linear address.

use crate::mm::frames::{self, FrameMap};
use crate::sync::SpinLock;
use arch::PAGE_SIZE;
use arch::mmu::{
    KERNEL_OFFSET, MapError, MapKind, PageTables, Table, TableSource, phys_to_virt, virt_to_phys,
};

/// The lowest address the app may use: Linux's default `mmap_min_addr`
/// (64 KiB), so that a null pointer plus a small offset always faults.
pub const USER_START: u64 = 0x1_0000;
/// One past the highest address of the app's half (Linux's `TASK_SIZE`
/// with 39-bit VAs).
pub const TASK_SIZE: u64 = 1 << arch::mmu::VA_BITS;
/// Where `linker/app.ld` links our apps, and static PIEs are placed.
pub const USER_BASE: u64 = 0x40_0000_0000;
/// Where a loaded program must end: the never-mapped hole above our apps
/// (tests rely on it), the mmap area, the trampoline and the stack start
/// here. A Linux `ET_EXEC` program lies far below, at 0x400000.
pub const IMAGE_LIMIT: u64 = USER_BASE + 0x2000_0000;
/// End of the user window (4 GiB: more than any board's RAM, so the mmap
/// area is limited by memory, not by address space).
pub const USER_END: u64 = USER_BASE + (4 << 30);
/// The anonymous-mmap area (thread stacks, heaps). Below it,
/// `[USER_BASE + 0x2000_0000, MMAP_BASE)` is never mapped: tests rely on a
/// hole there.
pub const MMAP_BASE: u64 = USER_BASE + 0x2400_0000;
/// End of the mmap area.
pub const MMAP_END: u64 = USER_BASE + 0xfc00_0000;
/// The signal-return trampoline page (Linux's vDSO `__kernel_rt_sigreturn`
/// role), used when a handler was installed without SA_RESTORER.
pub const SIGPAGE: u64 = USER_BASE + 0xfe00_0000;
/// A kernel-only virtual page for reaching physical pages the linear map
/// leaves out (page 0, with the Pi 4 spin table): near the top of the high
/// half, far above any RAM's linear address.
const FIXMAP: u64 = u64::MAX - 2 * PAGE_SIZE as u64 + 1;
/// Top of the main thread's stack; the page above is never mapped.
pub const USER_STACK_TOP: u64 = USER_END - PAGE_SIZE as u64;
/// Main thread stack size, Linux's default `RLIMIT_STACK` (8 MiB: what a
/// C program may assume; an unmapped guard page lies below it). Its
/// pages get frames on first touch, as any anonymous memory.
pub const USER_STACK_SIZE: u64 = 8 << 20;

/// Kernel heap size (task structs, run queues, futex and timer lists).
pub const HEAP_SIZE: usize = 8 << 20;
/// Page-table pages for the kernel's own map, built at boot before the
/// frame allocator exists (the root, one level-2 table per GiB of RAM and
/// devices, the fixmap). User page tables come from the frame allocator.
const BOOT_TABLES: usize = 16;

/// How many unmapped frames wait for one TLB invalidation (Linux's
/// `mmu_gather` batch).
const GATHER_BATCH: usize = 64;

unsafe extern "C" {
    static __kernel_start: u8;
    static __text_end: u8;
    static __rodata_end: u8;
    static __kernel_end: u8;
}

/// The boot page-table pages, from BSS (zeroed at boot).
struct BootTables {
    tables: [Table; BOOT_TABLES],
    used: usize,
}

static mut BOOT_TABLES_MEM: BootTables = BootTables {
    tables: [const { Table::empty() }; BOOT_TABLES],
    used: 0,
};

/// Where page-table pages come from: the frame allocator once it exists,
/// the boot pool before.
struct Tables<'a>(Option<&'a mut FrameMap<'static>>);

impl TableSource for Tables<'_> {
    fn alloc_table(&mut self) -> Option<*mut Table> {
        if let Some(frames) = self.0.as_mut() {
            let va = phys_to_virt(frames.alloc()?);
            // SAFETY: a free RAM frame, in the kernel's linear map and
            // mapped nowhere else; a table must start all-invalid.
            unsafe { core::ptr::write_bytes(va as *mut u8, 0, PAGE_SIZE) };
            return Some(va as *mut Table);
        }
        // SAFETY: only called with the `KERNEL_MM` lock held (or at
        // single-threaded boot), so the pool is not shared concurrently.
        let pool = unsafe { &mut *core::ptr::addr_of_mut!(BOOT_TABLES_MEM) };
        let t = pool.tables.get_mut(pool.used)? as *mut Table;
        pool.used += 1;
        Some(t)
    }
}

/// The address space and the frame allocator.
pub struct Mm {
    /// The high half (TTBR1): the kernel's.
    kernel: PageTables,
    /// The low half (TTBR0): the app's.
    user: PageTables,
    /// Every frame the kernel hands out at run time (`None` until
    /// `init_memory` knows where RAM ends).
    frames: Option<FrameMap<'static>>,
}

impl Mm {
    fn frames(&mut self) -> &mut FrameMap<'static> {
        self.frames.as_mut().expect("frame allocator initialised")
    }

    /// One zeroed frame.
    fn alloc_zeroed(&mut self) -> Option<u64> {
        let pa = self.frames().alloc()?;
        // SAFETY: a free RAM frame, in the kernel's linear map and mapped
        // nowhere else (it was unmapped and the TLBs invalidated before it
        // was freed).
        unsafe { core::ptr::write_bytes(phys_to_virt(pa) as *mut u8, 0, PAGE_SIZE) };
        Some(pa)
    }

    /// Maps a fresh zeroed frame at user page `va` as `kind`; on failure
    /// the frame goes back (never mapped: no TLB can hold it).
    fn map_fresh_user_page(&mut self, va: u64, kind: MapKind) -> Result<(), MapError> {
        let pa = self.alloc_zeroed().ok_or(MapError::OutOfTables)?;
        let Mm { user, frames, .. } = self;
        let r = user.map(&mut Tables(frames.as_mut()), va, pa, PAGE_SIZE as u64, kind);
        if r.is_err() {
            self.frames().free(pa, 1);
        }
        r
    }

    /// Unmaps the user pages in `[va, va + size)` and frees their frames,
    /// and the page tables left empty (Linux's `free_pgtables()`), in
    /// Linux's `mmu_gather` order: clear the entries, invalidate the TLBs
    /// of every CPU and wait for that to complete, and only then give the
    /// frames back. Until the invalidation has completed another CPU may
    /// still reach a frame through a stale TLB entry (or a table through
    /// its walk cache); a frame freed (and handed out again) before that
    /// would be shared with a thread that no longer owns it.
    fn unmap_user(&mut self, va: u64, size: u64) {
        let Mm {
            user: tables,
            frames,
            ..
        } = self;
        let frames = frames.as_mut().expect("frame allocator initialised");
        let mut tlb = Gather::new();
        let mut off = 0;
        while off < size {
            if let Some((pa, _)) = tables.translate(va + off) {
                tables.unmap(va + off, PAGE_SIZE as u64);
                tlb.add(frames, pa & !(PAGE_SIZE as u64 - 1));
            }
            off += PAGE_SIZE as u64;
        }
        tables.prune(va, size, &mut |table| tlb.add(frames, table));
        tlb.finish(frames);
    }
}

/// Linux's `struct mmu_gather`: frames unhooked from the user page tables,
/// waiting for one TLB invalidation before they are freed.
struct Gather {
    batch: [u64; GATHER_BATCH],
    n: usize,
}

impl Gather {
    const fn new() -> Self {
        Gather {
            batch: [0; GATHER_BATCH],
            n: 0,
        }
    }

    /// Queues a frame; a full batch is invalidated and freed first.
    fn add(&mut self, frames: &mut FrameMap<'static>, pa: u64) {
        if self.n == GATHER_BATCH {
            self.finish(frames);
        }
        self.batch[self.n] = pa;
        self.n += 1;
    }

    /// `tlb_finish_mmu()`: one broadcast invalidation, completed on every
    /// CPU, then the gathered frames go back to the allocator.
    fn finish(&mut self, frames: &mut FrameMap<'static>) {
        if self.n == 0 {
            return;
        }
        arch::mmu::flush_tlb_all();
        for &pa in &self.batch[..self.n] {
            frames.free(pa, 1);
        }
        self.n = 0;
    }
}

static KERNEL_MM: SpinLock<Option<Mm>> = SpinLock::new(None);

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
    let mut src = Tables(None);
    // Boot-pool tables live in the kernel image: at physical + KERNEL_OFFSET
    // too, like every table from the frame allocator.
    let mut pt = PageTables::new(&mut src, KERNEL_OFFSET, KERNEL_OFFSET).expect("boot page tables");
    let user = PageTables::new(&mut src, 0, KERNEL_OFFSET).expect("boot page tables");
    // SAFETY: linker symbols; only their addresses are used.
    let (kstart, text_end, rodata_end, kend) = unsafe {
        (
            virt_to_phys(sym(&__kernel_start)),
            virt_to_phys(sym(&__text_end)),
            virt_to_phys(sym(&__rodata_end)),
            virt_to_phys(sym(&__kernel_end)),
        )
    };
    let ram_end = ram_base + ram_size;
    let map = |pt: &mut PageTables, src: &mut Tables, start: u64, end: u64, kind| {
        if end > start {
            pt.map(src, phys_to_virt(start), start, end - start, kind)
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
        match pt.map(
            &mut src,
            phys_to_virt(start),
            start,
            end - start,
            MapKind::Device,
        ) {
            Ok(()) | Err(MapError::AlreadyMapped(_)) => {}
            Err(e) => panic!("device map {base:#x}: {e:?}"),
        }
    }
    // SAFETY: the tables map this code, its stack (in the kernel image) and
    // the console at their linear addresses, with the attributes the code
    // expects; TTBR0 still holds boot.s's identity tables.
    unsafe { arch::mmu::enable(pt.root_addr(), user.root_addr()) };
    *KERNEL_MM.lock() = Some(Mm {
        kernel: pt,
        user,
        frames: None,
    });
}

/// After the DTB was read: drops RAM beyond the real end from the map,
/// carves the kernel heap and the frame bitmap out of RAM around the DTB
/// (`reserved`: base and size) and the initrd (`initrd`: start and end),
/// and hands every other frame after the kernel image to the frame
/// allocator. The initrd's frames stay out of it until
/// [`release_initrd`] (the program is loaded by then). Returns the heap's
/// address and size.
pub fn init_memory(
    ram_base: u64,
    early_size: u64,
    ram_size: u64,
    reserved: Option<(u64, u64)>,
    initrd: Option<(u64, u64)>,
) -> (u64, u64) {
    let mut guard = KERNEL_MM.lock();
    let mm = guard.as_mut().expect("mm");
    let real_end = ram_base + ram_size.min(early_size);
    if real_end < ram_base + early_size {
        mm.kernel.unmap(
            phys_to_virt(align_up(real_end, arch::mmu::BLOCK_2M)),
            ram_base + early_size - real_end,
        );
        arch::mmu::flush_tlb_all();
    }
    // SAFETY: a linker symbol; only its address is used.
    let first = align_up(
        virt_to_phys(unsafe { sym(&__kernel_end) }),
        PAGE_SIZE as u64,
    );
    let dtb = reserved.unwrap_or((0, 0));
    let dtb = (dtb.0, dtb.0 + dtb.1);
    let initrd = initrd.unwrap_or((0, 0));
    let heap = frames::carve(first, real_end, HEAP_SIZE as u64, &[dtb, initrd])
        .expect("RAM too small for the kernel heap");
    let nframes = (real_end - first) / PAGE_SIZE as u64;
    let words = FrameMap::words_for(nframes);
    let bitmap_bytes = (words * 8) as u64;
    let bitmap = frames::carve(
        first,
        real_end,
        bitmap_bytes,
        &[dtb, initrd, (heap, heap + HEAP_SIZE as u64)],
    )
    .expect("RAM too small for the frame bitmap");
    // SAFETY: `[bitmap, bitmap + bitmap_bytes)` is kernel RAM in the linear
    // map after the kernel image, outside the heap and the DTB, and from
    // here on reserved in the map it holds: nothing else ever uses it.
    let bits = unsafe { core::slice::from_raw_parts_mut(phys_to_virt(bitmap) as *mut u64, words) };
    let mut map = FrameMap::new(bits, first, nframes);
    map.release(first, real_end);
    map.reserve(dtb.0, dtb.1);
    map.reserve(initrd.0, initrd.1);
    map.reserve(heap, heap + HEAP_SIZE as u64);
    map.reserve(bitmap, bitmap + bitmap_bytes);
    mm.frames = Some(map);
    // SAFETY: `[heap, heap + HEAP_SIZE)` is mapped kernel RAM handed to no one else.
    unsafe { HEAP.init(phys_to_virt(heap) as usize, HEAP_SIZE) };
    (phys_to_virt(heap), HEAP_SIZE as u64)
}

/// The physical address of the first byte after the kernel image (its BSS and boot stacks
/// included): RAM below it is never free, whatever a boot loader says.
pub fn kernel_image_end() -> u64 {
    // SAFETY: a linker symbol; only its address is used.
    virt_to_phys(unsafe { sym(&__kernel_end) })
}

/// Gives the frames wholly inside the initrd `[start, end)` to the frame
/// allocator, once the program has been copied out of it. Frames it shares
/// with the DTB or anything else stay reserved.
pub fn release_initrd(start: u64, end: u64) {
    let mut guard = KERNEL_MM.lock();
    guard.as_mut().expect("mm").frames().release(start, end);
}

#[global_allocator]
static HEAP: embedded_alloc::LlffHeap = embedded_alloc::LlffHeap::empty();

/// Maps `size` bytes of fresh zeroed, physically contiguous memory at user
/// address `va` (the app image and its main stack, at boot) and returns the
/// kernel's (linear-map) address of its first byte.
pub fn map_user_zeroed(va: u64, size: u64, kind: MapKind) -> Result<u64, MapError> {
    let mut guard = KERNEL_MM.lock();
    let mm = guard.as_mut().expect("mm");
    let pages = align_up(size, PAGE_SIZE as u64) / PAGE_SIZE as u64;
    let pa = mm
        .frames()
        .alloc_contig(pages)
        .ok_or(MapError::OutOfTables)?;
    // SAFETY: fresh frames in the kernel's linear map, owned by nobody.
    unsafe {
        core::ptr::write_bytes(
            phys_to_virt(pa) as *mut u8,
            0,
            (pages * PAGE_SIZE as u64) as usize,
        )
    };
    for i in 0..pages {
        let off = i * PAGE_SIZE as u64;
        let Mm {
            user: tables,
            frames,
            ..
        } = &mut *mm;
        if let Err(e) = tables.map(
            &mut Tables(frames.as_mut()),
            va + off,
            pa + off,
            PAGE_SIZE as u64,
            kind,
        ) {
            // Pages before `off` are mapped (unmapping frees them), the rest
            // never were. Nothing was reachable from EL0: the app has not run.
            mm.frames().free(pa + off, pages - i);
            mm.unmap_user(va, off);
            return Err(e);
        }
    }
    Ok(phys_to_virt(pa))
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
        mm.kernel
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
        mm.kernel.translate(phys_to_virt(0)).is_none() && mm.user.translate(0).is_none(),
        "page 0 must stay unmapped"
    );
}

/// Gives every page of `[va, va + size)` without a frame a fresh zeroed
/// one mapped as `kind` (eager allocation, MAP_POPULATE); pages that have
/// one keep it. Out of frames: `OutOfTables`, with the pages before the
/// failing one populated (they belong to the caller's area either way).
pub fn populate_user_pages(va: u64, size: u64, kind: MapKind) -> Result<(), MapError> {
    let mut guard = KERNEL_MM.lock();
    let mm = guard.as_mut().expect("mm");
    let mut off = 0;
    while off < size {
        if mm.user.translate(va + off).is_none() {
            mm.map_fresh_user_page(va + off, kind)?;
        }
        off += PAGE_SIZE as u64;
    }
    Ok(())
}

/// The page fault's work: user page `va` gets a fresh zeroed frame mapped
/// as `kind`, unless another thread's fault has just given it one
/// (`Ok(false)`).
pub fn fault_in_user_page(va: u64, kind: MapKind) -> Result<bool, MapError> {
    let mut guard = KERNEL_MM.lock();
    let mm = guard.as_mut().expect("mm");
    if mm.user.translate(va).is_some() {
        return Ok(false);
    }
    mm.map_fresh_user_page(va, kind)?;
    Ok(true)
}

/// mprotect's page work on `[va, va + size)`: every page with a frame
/// keeps it and takes `kind` (`UserNone`: PROT_NONE, no EL0 access);
/// pages without one get theirs on touch, with the area's new kind.
/// Every CPU's TLB has dropped the old permissions when this returns.
pub fn protect_user_pages(va: u64, size: u64, kind: MapKind) {
    let mut guard = KERNEL_MM.lock();
    let mm = guard.as_mut().expect("mm");
    let mut off = 0;
    while off < size {
        let page = va + off;
        mm.user.protect(page, kind);
        off += PAGE_SIZE as u64;
    }
    arch::mmu::flush_tlb_all();
}

/// madvise(MADV_DONTNEED)'s page work: every mapped page of `[va, va +
/// size)` reads as zeroes from now on, as a private anonymous page does
/// when Linux drops it and faults a fresh one in.
pub fn zero_user_pages(va: u64, size: u64) {
    let guard = KERNEL_MM.lock();
    let mm = guard.as_ref().expect("mm");
    let mut off = 0;
    while off < size {
        if let Some((pa, _)) = mm.user.translate(va + off) {
            // SAFETY: an app frame in the kernel's linear map; the app may
            // race with its own writes, as it could with Linux's zap.
            unsafe {
                core::ptr::write_bytes(
                    phys_to_virt(pa & !(PAGE_SIZE as u64 - 1)) as *mut u8,
                    0,
                    PAGE_SIZE,
                )
            };
        }
        off += PAGE_SIZE as u64;
    }
}

/// Unmaps `[va, va + size)` and frees the frames behind it (munmap), after
/// every CPU's TLB has dropped them (see `Mm::unmap_user`).
pub fn unmap_user_pages(va: u64, size: u64) {
    let mut guard = KERNEL_MM.lock();
    guard.as_mut().expect("mm").unmap_user(va, size);
}

/// A kernel stack of `size` bytes (physically contiguous frames, EL1-only
/// in the linear map), or `None` when memory is exhausted.
pub fn alloc_kernel_stack(size: usize) -> Option<*mut u8> {
    let mut guard = KERNEL_MM.lock();
    let frames = guard.as_mut()?.frames.as_mut()?;
    let pa = frames.alloc_contig(size.div_ceil(PAGE_SIZE) as u64)?;
    Some(phys_to_virt(pa) as *mut u8)
}

/// Gives a kernel stack from [`alloc_kernel_stack`] back.
///
/// # Safety
///
/// Nothing runs on the stack or refers to it any more.
pub unsafe fn free_kernel_stack(stack: *mut u8, size: usize) {
    let mut guard = KERNEL_MM.lock();
    let mm = guard.as_mut().expect("mm");
    // Never mapped for EL0: no TLB invalidation needed.
    mm.frames()
        .free(virt_to_phys(stack as u64), size.div_ceil(PAGE_SIZE) as u64);
}

/// Writes a u64 to physical address `pa` through the fixmap page, and
/// cleans it to memory for observers with caches off (spin-table CPUs).
pub fn write_phys_u64(pa: u64, val: u64) {
    let mut guard = KERNEL_MM.lock();
    let mm = guard.as_mut().expect("mm");
    let page = pa & !(PAGE_SIZE as u64 - 1);
    mm.kernel.unmap(FIXMAP, PAGE_SIZE as u64);
    arch::mmu::flush_tlb_all();
    let Mm {
        kernel: tables,
        frames,
        ..
    } = mm;
    tables
        .map(
            &mut Tables(frames.as_mut()),
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
    let guard = KERNEL_MM.lock();
    match guard.as_ref().and_then(|mm| mm.frames.as_ref()) {
        Some(f) => (f.total(), f.free_count()),
        None => (0, 0),
    }
}

/// Frames in use, for the shutdown report.
pub fn frames_used() -> u64 {
    let (total, free) = frame_counts();
    total - free
}
