//! Stage-1 translation: the kernel in the high half (TTBR1_EL1), the app in
//! the low half (TTBR0_EL1), as Linux splits them.
//!
//! 4 KiB granule, 39-bit virtual addresses in each half (T0SZ = T1SZ = 25,
//! Linux's `CONFIG_ARM64_VA_BITS_39`), so walks start at level 1 (1 GiB per
//! entry), then level 2 (2 MiB blocks), then level 3 (4 KiB pages). The
//! kernel reaches all RAM and the devices through its linear map, virtual =
//! physical + [`KERNEL_OFFSET`]; the app owns every address below
//! `1 << VA_BITS` and none of the kernel's.
//!
//! Building tables is pure logic over a [`TableSource`] (tables reached at
//! physical address + an offset: the linear map's in the kernel, 0 in host
//! tests), so it is unit-tested on the host. Only [`enable`] touches system
//! registers.

/// Entries per table.
pub const ENTRIES: usize = 512;
/// Bytes mapped by one level-2 block.
pub const BLOCK_2M: u64 = 2 << 20;
const PAGE: u64 = 4096;
/// Virtual address bits (TCR_EL1.T0SZ = T1SZ = 64 - VA_BITS).
pub const VA_BITS: u32 = 39;
/// The first address of the high half, where the kernel's linear map puts
/// physical address 0: a kernel virtual address is physical + this.
pub const KERNEL_OFFSET: u64 = !((1 << VA_BITS) - 1);

/// The kernel's virtual address of physical address `pa` (the linear map).
#[inline(always)]
pub const fn phys_to_virt(pa: u64) -> u64 {
    pa.wrapping_add(KERNEL_OFFSET)
}

/// The physical address of kernel virtual address `va` (the linear map).
#[inline(always)]
pub const fn virt_to_phys(va: u64) -> u64 {
    va.wrapping_sub(KERNEL_OFFSET)
}

/// One translation table, page sized and aligned.
#[repr(C, align(4096))]
pub struct Table(pub [u64; ENTRIES]);

impl Table {
    /// An all-invalid table.
    pub const fn empty() -> Table {
        Table([0; ENTRIES])
    }
}

/// Hands out zeroed tables, as pointers the caller can use (at physical
/// address + the tables' offset, see [`PageTables::new`]).
pub trait TableSource {
    /// A zeroed, page-aligned table, or `None` when out of tables.
    fn alloc_table(&mut self) -> Option<*mut Table>;
}

mod desc {
    pub const VALID: u64 = 1 << 0;
    /// At levels 1 and 2: next-level table. At level 3: page (must be set).
    pub const TABLE_OR_PAGE: u64 = 1 << 1;
    pub const ATTR_DEVICE: u64 = 0 << 2; // MAIR index 0
    pub const ATTR_NORMAL: u64 = 1 << 2; // MAIR index 1
    pub const AP_EL0: u64 = 1 << 6;
    pub const AP_RO: u64 = 1 << 7;
    pub const SH_INNER: u64 = 3 << 8;
    pub const AF: u64 = 1 << 10;
    pub const PXN: u64 = 1 << 53;
    pub const UXN: u64 = 1 << 54;
    pub const ADDR_MASK: u64 = 0x0000_ffff_ffff_f000;
}

/// MAIR_EL1: index 0 Device-nGnRE, index 1 Normal write-back RW-allocate.
pub const MAIR_VALUE: u64 = 0x04 | (0xff << 8);

/// What a range is for; each kind has fixed permissions, and no kind is both
/// writable and executable at any level (W^X).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapKind {
    /// Kernel code: EL1 read+execute.
    KernelText,
    /// Kernel constants: EL1 read-only.
    KernelRodata,
    /// Kernel data, heap, free RAM: EL1 read+write, never executable.
    KernelData,
    /// MMIO: EL1 read+write, Device-nGnRE, never executable.
    Device,
    /// App code: EL0 read+execute (and EL1 read, subject to PAN).
    UserText,
    /// App constants: EL0 read-only.
    UserRodata,
    /// App data, stack, heap: EL0 read+write, never executable.
    UserData,
    /// An app page with PROT_NONE: its frame kept, no EL0 access at all
    /// (and none from the kernel's checked user accesses, which are EL0's).
    UserNone,
}

impl MapKind {
    /// Leaf descriptor attribute bits for this kind.
    pub const fn attrs(self) -> u64 {
        use desc::*;
        let normal = ATTR_NORMAL | SH_INNER | AF;
        match self {
            MapKind::KernelText => normal | AP_RO | UXN,
            MapKind::KernelRodata => normal | AP_RO | UXN | PXN,
            MapKind::KernelData => normal | UXN | PXN,
            MapKind::Device => ATTR_DEVICE | AF | UXN | PXN,
            MapKind::UserText => normal | AP_EL0 | AP_RO | PXN,
            MapKind::UserRodata => normal | AP_EL0 | AP_RO | UXN | PXN,
            MapKind::UserData => normal | AP_EL0 | UXN | PXN,
            MapKind::UserNone => normal | AP_RO | UXN | PXN,
        }
    }

    /// User mappings always use 4 KiB pages so they can be changed page by page.
    const fn allows_blocks(self) -> bool {
        !matches!(
            self,
            MapKind::UserText | MapKind::UserRodata | MapKind::UserData | MapKind::UserNone
        )
    }
}

/// Why a mapping could not be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// Address or size not page aligned, or beyond the VA space.
    BadRange,
    /// The range overlaps an existing mapping.
    AlreadyMapped(u64),
    /// The table source is exhausted.
    OutOfTables,
}

/// The translation tables rooted at one level-1 table: one half of the
/// address space.
pub struct PageTables {
    root: *mut Table,
    /// The half's first address: 0 (TTBR0) or [`KERNEL_OFFSET`] (TTBR1).
    base: u64,
    /// Where tables are reached: pointer = physical address + `offset`.
    offset: u64,
}

// SAFETY: the tables are plain memory; callers serialise updates.
unsafe impl Send for PageTables {}

impl PageTables {
    /// Fresh, empty tables for the half starting at `base` (0 or
    /// [`KERNEL_OFFSET`]), whose tables `src` hands out at physical address
    /// + `offset`.
    pub fn new(src: &mut impl TableSource, base: u64, offset: u64) -> Result<Self, MapError> {
        Ok(PageTables {
            root: src.alloc_table().ok_or(MapError::OutOfTables)?,
            base,
            offset,
        })
    }

    /// Physical address of the level-1 table (for TTBRn_EL1).
    pub fn root_addr(&self) -> u64 {
        (self.root as u64).wrapping_sub(self.offset)
    }

    /// Whether `[va, end)` (`end` computed without overflow) lies in this half.
    fn in_half(&self, va: u64, end: u64) -> bool {
        va >= self.base && end - self.base <= 1 << VA_BITS
    }

    /// Maps `[va, va + size)` to `[pa, pa + size)` with the permissions of
    /// `kind`, using 2 MiB blocks where alignment allows (not for user ranges).
    pub fn map(
        &mut self,
        src: &mut impl TableSource,
        va: u64,
        pa: u64,
        size: u64,
        kind: MapKind,
    ) -> Result<(), MapError> {
        if !va.is_multiple_of(PAGE) || !pa.is_multiple_of(PAGE) || !size.is_multiple_of(PAGE) {
            return Err(MapError::BadRange);
        }
        let end = va.checked_add(size).ok_or(MapError::BadRange)?;
        if !self.in_half(va, end) {
            return Err(MapError::BadRange);
        }
        let (mut va, mut pa) = (va, pa);
        while va < end {
            let block = kind.allows_blocks()
                && va.is_multiple_of(BLOCK_2M)
                && pa.is_multiple_of(BLOCK_2M)
                && end - va >= BLOCK_2M;
            if block {
                let l2 = self.next_table(src, self.root, l1_index(va))?;
                // SAFETY: `l2` is a live table from `next_table`.
                let entry = unsafe { &mut (*l2).0[l2_index(va)] };
                if *entry & desc::VALID != 0 {
                    return Err(MapError::AlreadyMapped(va));
                }
                *entry = pa | kind.attrs() | desc::VALID;
                va += BLOCK_2M;
                pa += BLOCK_2M;
            } else {
                let l2 = self.next_table(src, self.root, l1_index(va))?;
                let l3 = self.next_table(src, l2, l2_index(va))?;
                // SAFETY: `l3` is a live table from `next_table`.
                let entry = unsafe { &mut (*l3).0[l3_index(va)] };
                if *entry & desc::VALID != 0 {
                    return Err(MapError::AlreadyMapped(va));
                }
                *entry = pa | kind.attrs() | desc::TABLE_OR_PAGE | desc::VALID;
                va += PAGE;
                pa += PAGE;
            }
        }
        Ok(())
    }

    /// Removes every 2 MiB block wholly inside `[va, va + size)` and every
    /// page in it; the caller flushes the TLB.
    pub fn unmap(&mut self, va: u64, size: u64) {
        let end = va.saturating_add(size);
        let mut va = va & !(PAGE - 1);
        while va < end {
            let Some(l2) = self.table_at(self.root, l1_index(va)) else {
                match (va | ((1 << 30) - 1)).checked_add(1) {
                    Some(next) => va = next,
                    None => break, // the last GiB of the high half
                }
                continue;
            };
            // SAFETY: `l2` is a live table reached from the root.
            let e2 = unsafe { &mut (*l2).0[l2_index(va)] };
            if *e2 & desc::VALID != 0 && *e2 & desc::TABLE_OR_PAGE == 0 {
                if va.is_multiple_of(BLOCK_2M) && end - va >= BLOCK_2M {
                    *e2 = 0;
                }
                match (va | (BLOCK_2M - 1)).checked_add(1) {
                    Some(next) => va = next,
                    None => break,
                }
                continue;
            }
            if let Some(l3) = self.table_at(l2, l2_index(va)) {
                // SAFETY: `l3` is a live table reached from the root.
                unsafe { (*l3).0[l3_index(va)] = 0 };
            }
            match va.checked_add(PAGE) {
                Some(next) => va = next,
                None => break,
            }
        }
    }

    /// Linux's `free_pgtables()` for `[va, va + size)`: every last-level
    /// table in the range left with no valid entry is unhooked, then every
    /// level-2 table left empty, and `freed` gets each one's address. The
    /// caller invalidates the TLBs (walk caches included) before reusing
    /// them, and calls this only on ranges whose tables came from the
    /// allocator `freed` returns them to (the user window).
    pub fn prune(&mut self, va: u64, size: u64, freed: &mut impl FnMut(u64)) {
        let end = va
            .saturating_add(size)
            .min(self.base + ((1 << VA_BITS) - 1));
        let mut gib = va & !((1 << 30) - 1);
        while gib < end {
            if let Some(l2) = self.table_at(self.root, l1_index(gib)) {
                let first = if gib < va { l2_index(va) } else { 0 };
                let last = if end - gib < (1 << 30) {
                    l2_index(end - 1)
                } else {
                    ENTRIES - 1
                };
                for i in first..=last {
                    if let Some(l3) = self.table_at(l2, i)
                        // SAFETY: `l3` is a live table reached from the root.
                        && unsafe { (*l3).0.iter().all(|&e| e & desc::VALID == 0) }
                    {
                        // SAFETY: `l2` is a live table reached from the root.
                        unsafe { (*l2).0[i] = 0 };
                        freed((l3 as u64).wrapping_sub(self.offset));
                    }
                }
                // SAFETY: as above.
                if unsafe { (*l2).0.iter().all(|&e| e & desc::VALID == 0) } {
                    // SAFETY: the root is live.
                    unsafe { (*self.root).0[l1_index(gib)] = 0 };
                    freed((l2 as u64).wrapping_sub(self.offset));
                }
            }
            match gib.checked_add(1 << 30) {
                Some(next) => gib = next,
                None => break,
            }
        }
    }

    /// Linux's `change_pte_range()` for one page: the 4 KiB page at `va`,
    /// if mapped, keeps its frame and takes `kind`'s permissions, rewritten
    /// in place (no table is allocated or freed, so it cannot fail). A page
    /// inside a 2 MiB block is left as it is. Returns whether it changed;
    /// the caller flushes the TLB.
    pub fn protect(&mut self, va: u64, kind: MapKind) -> bool {
        let Some(l2) = self.table_at(self.root, l1_index(va)) else {
            return false;
        };
        let Some(l3) = self.table_at(l2, l2_index(va)) else {
            return false;
        };
        // SAFETY: `l3` is a live table reached from the root.
        let entry = unsafe { &mut (*l3).0[l3_index(va)] };
        if *entry & desc::VALID == 0 {
            return false;
        }
        *entry = (*entry & desc::ADDR_MASK) | kind.attrs() | desc::TABLE_OR_PAGE | desc::VALID;
        true
    }

    /// The physical address and leaf descriptor for `va`, if mapped.
    pub fn translate(&self, va: u64) -> Option<(u64, u64)> {
        let l2 = self.table_at(self.root, l1_index(va))?;
        // SAFETY: `l2` is a live table reached from the root.
        let e2 = unsafe { (*l2).0[l2_index(va)] };
        if e2 & desc::VALID == 0 {
            return None;
        }
        if e2 & desc::TABLE_OR_PAGE == 0 {
            return Some((
                (e2 & desc::ADDR_MASK & !(BLOCK_2M - 1)) | (va & (BLOCK_2M - 1)),
                e2,
            ));
        }
        let l3 = self.table_at(l2, l2_index(va))?;
        // SAFETY: `l3` is a live table reached from the root.
        let e3 = unsafe { (*l3).0[l3_index(va)] };
        (e3 & desc::VALID != 0).then_some(((e3 & desc::ADDR_MASK) | (va & (PAGE - 1)), e3))
    }

    /// The table an entry points to, if it is a table descriptor.
    fn table_at(&self, table: *mut Table, index: usize) -> Option<*mut Table> {
        // SAFETY: `table` is a live table of this tree.
        let e = unsafe { (*table).0[index] };
        (e & (desc::VALID | desc::TABLE_OR_PAGE) == desc::VALID | desc::TABLE_OR_PAGE)
            .then_some((e & desc::ADDR_MASK).wrapping_add(self.offset) as *mut Table)
    }

    /// The next-level table for an entry, allocated if the entry is empty.
    fn next_table(
        &mut self,
        src: &mut impl TableSource,
        table: *mut Table,
        index: usize,
    ) -> Result<*mut Table, MapError> {
        if let Some(t) = self.table_at(table, index) {
            return Ok(t);
        }
        // SAFETY: `table` is a live table of this tree.
        let entry = unsafe { &mut (*table).0[index] };
        if *entry & desc::VALID != 0 {
            return Err(MapError::AlreadyMapped(0)); // a block is in the way
        }
        let next = src.alloc_table().ok_or(MapError::OutOfTables)?;
        *entry = (next as u64).wrapping_sub(self.offset) | desc::TABLE_OR_PAGE | desc::VALID;
        Ok(next)
    }
}

fn l1_index(va: u64) -> usize {
    ((va >> 30) & 0x1ff) as usize
}
fn l2_index(va: u64) -> usize {
    ((va >> 21) & 0x1ff) as usize
}
fn l3_index(va: u64) -> usize {
    ((va >> 12) & 0x1ff) as usize
}

/// Descriptor predicates, for reports and tests.
pub mod perms {
    use super::desc;
    /// EL0 may access the page.
    pub fn el0_accessible(d: u64) -> bool {
        d & desc::AP_EL0 != 0
    }
    /// Writable (at whichever ELs may access it).
    pub fn writable(d: u64) -> bool {
        d & desc::AP_RO == 0
    }
    /// EL0 may execute.
    pub fn el0_exec(d: u64) -> bool {
        d & desc::UXN == 0
    }
    /// EL1 may execute.
    pub fn el1_exec(d: u64) -> bool {
        // EL0-writable pages are implicitly PXN in hardware; we set PXN anyway.
        d & desc::PXN == 0
    }
}

/// TCR_EL1 for Linux's split with 39-bit halves, 4 KiB granules, walks
/// cached write-back inner shareable; IPS is added from the CPU's PARange.
pub const TCR_VALUE: u64 = (64 - VA_BITS as u64) // T0SZ
    | 1 << 8 // IRGN0: write-back, write-allocate
    | 1 << 10 // ORGN0
    | 3 << 12 // SH0: inner shareable
    | (64 - VA_BITS as u64) << 16 // T1SZ
    | 1 << 24 // IRGN1
    | 1 << 26 // ORGN1
    | 3 << 28 // SH1
    | 2 << 30; // TG1: 4 KiB

/// A 1 GiB block of normal memory, EL1 read/write/execute: the one entry
/// of the early tables `boot.s` builds before the kernel's own (the block
/// holding the kernel image).
pub const EARLY_BLOCK: u64 = desc::ATTR_NORMAL | desc::SH_INNER | desc::AF | desc::VALID;

#[cfg(target_arch = "aarch64")]
unsafe extern "C" {
    fn __arch_replace_ttbr1(root: u64);
}

/// Installs the kernel's tables in TTBR1 and the app's in TTBR0 (physical
/// addresses), replacing the early ones `boot.s` turned the MMU on with,
/// and turns WXN on.
///
/// # Safety
///
/// `kernel_root` must map the running kernel at its link addresses, its
/// stacks and every device it will touch, with the attributes the code
/// expects; TTBR0 must still hold the early identity tables.
#[cfg(target_arch = "aarch64")]
pub unsafe fn enable(kernel_root: u64, user_root: u64) {
    use aarch64_cpu::registers::{ReadWriteable, SCTLR_EL1, TTBR0_EL1, Writeable};
    // SAFETY: forwarded from the caller; the routine switches from the
    // identity map, which TTBR0 still holds.
    unsafe { __arch_replace_ttbr1(kernel_root) };
    TTBR0_EL1.set(user_root);
    // SAFETY: barriers and a full local TLB invalidation after the switch.
    unsafe {
        core::arch::asm!(
            "dsb ish",
            "tlbi vmalle1",
            "dsb ish",
            "isb",
            options(nostack)
        );
    }
    SCTLR_EL1.modify(SCTLR_EL1::WXN::Enable);
    aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
}

/// Invalidates every TLB entry of this address space on all CPUs.
#[cfg(target_arch = "aarch64")]
pub fn flush_tlb_all() {
    // SAFETY: TLB maintenance has no memory-safety effect on its own.
    unsafe {
        core::arch::asm!(
            "dsb ishst",
            "tlbi vmalle1is",
            "dsb ish",
            "isb",
            options(nostack)
        )
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    struct HostTables(Vec<Box<Table>>);
    impl TableSource for HostTables {
        fn alloc_table(&mut self) -> Option<*mut Table> {
            self.0.push(Box::new(Table::empty()));
            Some(&mut **self.0.last_mut().unwrap() as *mut Table)
        }
    }

    #[test]
    fn no_kind_is_writable_and_executable() {
        use MapKind::*;
        for k in [
            KernelText,
            KernelRodata,
            KernelData,
            Device,
            UserText,
            UserRodata,
            UserData,
            UserNone,
        ] {
            let d = k.attrs();
            if perms::writable(d) {
                assert!(!perms::el0_exec(d) && !perms::el1_exec(d), "{k:?}");
            }
        }
    }

    #[test]
    fn kernel_kinds_are_el1_only_and_user_text_is_not_el1_executable() {
        for k in [
            MapKind::KernelText,
            MapKind::KernelRodata,
            MapKind::KernelData,
            MapKind::Device,
        ] {
            assert!(!perms::el0_accessible(k.attrs()));
        }
        assert!(perms::el0_exec(MapKind::UserText.attrs()));
        assert!(!perms::el1_exec(MapKind::UserText.attrs()));
        assert!(!perms::writable(MapKind::UserText.attrs()));
    }

    #[test]
    fn blocks_and_pages_translate() {
        let mut src = HostTables(Vec::new());
        let mut pt = PageTables::new(&mut src, 0, 0).unwrap();
        pt.map(
            &mut src,
            0x4000_0000,
            0x4000_0000,
            8 << 20,
            MapKind::KernelData,
        )
        .unwrap();
        pt.map(
            &mut src,
            0x40_0000_0000,
            0x4100_0000,
            0x3000,
            MapKind::UserData,
        )
        .unwrap();
        assert_eq!(pt.translate(0x4012_3456).unwrap().0, 0x4012_3456);
        assert_eq!(pt.translate(0x40_0000_2010).unwrap().0, 0x4100_2010);
        assert!(pt.translate(0x40_0000_3000).is_none());
        assert!(pt.translate(0).is_none());
        // Four 2 MiB blocks: root + one L2; user pages: one L2 + one L3.
        assert_eq!(src.0.len(), 4);
    }

    #[test]
    fn protect_rewrites_a_page_in_place() {
        let mut src = HostTables(Vec::new());
        let mut pt = PageTables::new(&mut src, 0, 0).unwrap();
        pt.map(
            &mut src,
            0x40_0000_0000,
            0x4100_0000,
            0x2000,
            MapKind::UserData,
        )
        .unwrap();
        let tables = src.0.len();
        assert!(pt.protect(0x40_0000_1000, MapKind::UserNone));
        let (pa, d) = pt.translate(0x40_0000_1234).unwrap();
        assert_eq!(
            (pa, d & !desc::ADDR_MASK),
            (0x4100_1234, {
                MapKind::UserNone.attrs() | desc::TABLE_OR_PAGE | desc::VALID
            })
        );
        // The neighbour keeps its kind; absent pages are left absent.
        let (_, d0) = pt.translate(0x40_0000_0000).unwrap();
        assert!(perms::writable(d0) && perms::el0_accessible(d0));
        assert!(!pt.protect(0x40_0000_2000, MapKind::UserData));
        assert!(!pt.protect(0x41_0000_0000, MapKind::UserData));
        assert!(pt.translate(0x40_0000_2000).is_none());
        assert_eq!(src.0.len(), tables, "no table allocated");
    }

    #[test]
    fn a_prot_none_page_is_out_of_el0_reach_and_never_executable() {
        let d = MapKind::UserNone.attrs();
        assert!(!perms::el0_accessible(d) && !perms::el0_exec(d) && !perms::el1_exec(d));
        assert!(!perms::writable(d));
    }

    #[test]
    fn overlap_and_misalignment_are_refused() {
        let mut src = HostTables(Vec::new());
        let mut pt = PageTables::new(&mut src, 0, 0).unwrap();
        pt.map(&mut src, 0x1000, 0x1000, 0x1000, MapKind::KernelData)
            .unwrap();
        assert_eq!(
            pt.map(&mut src, 0x1000, 0x9000, 0x1000, MapKind::KernelData),
            Err(MapError::AlreadyMapped(0x1000))
        );
        assert_eq!(
            pt.map(&mut src, 0x1001, 0, 0x1000, MapKind::KernelData),
            Err(MapError::BadRange)
        );
        assert_eq!(
            pt.map(&mut src, 1 << 39, 0, 0x1000, MapKind::KernelData),
            Err(MapError::BadRange)
        );
    }

    #[test]
    fn the_linker_script_links_the_kernel_at_the_same_offset() {
        // linker/kernel.ld cannot read this crate's constant: it states the
        // offset again, and this keeps the two equal.
        let ld = include_str!("../../linker/kernel.ld");
        let line = format!("KERNEL_OFFSET = {KERNEL_OFFSET:#x};");
        assert!(ld.contains(&line), "linker/kernel.ld must say `{line}`");
    }

    #[test]
    fn the_high_half_maps_only_high_addresses() {
        let mut src = HostTables(Vec::new());
        let mut pt = PageTables::new(&mut src, KERNEL_OFFSET, 0).unwrap();
        let va = phys_to_virt(0x4008_0000);
        pt.map(&mut src, va, 0x4008_0000, 0x3000, MapKind::KernelText)
            .unwrap();
        assert_eq!(pt.translate(va + 0x1234).map(|t| t.0), Some(0x4008_1234));
        assert_eq!(virt_to_phys(va), 0x4008_0000);
        // A low-half address, or one past the top, is not this half's.
        assert_eq!(
            pt.map(
                &mut src,
                0x4008_0000,
                0x4008_0000,
                0x1000,
                MapKind::KernelData
            ),
            Err(MapError::BadRange)
        );
        assert_eq!(
            pt.map(&mut src, u64::MAX - 0xfff, 0, 0x2000, MapKind::KernelData),
            Err(MapError::BadRange)
        );
        let mut low = PageTables::new(&mut src, 0, 0).unwrap();
        assert_eq!(
            low.map(&mut src, va, 0x4008_0000, 0x1000, MapKind::KernelData),
            Err(MapError::BadRange)
        );
    }

    #[test]
    fn the_top_page_of_the_high_half_maps_and_unmaps() {
        let mut src = HostTables(Vec::new());
        let mut pt = PageTables::new(&mut src, KERNEL_OFFSET, 0).unwrap();
        let low = phys_to_virt(0x8_0000);
        pt.map(&mut src, low, 0x8_0000, 0x1000, MapKind::KernelData)
            .unwrap();
        let top = u64::MAX - 0x1fff;
        pt.map(&mut src, top, 0xd000, 0x1000, MapKind::KernelData)
            .unwrap();
        // Unmapping up to the end of the address space stops there: it
        // must not wrap around to the low end of the half.
        pt.unmap(top, 0x1000);
        pt.unmap(u64::MAX - 0xfff, 0x1000);
        pt.prune(top, 0x2000, &mut |_| {});
        assert_eq!(pt.translate(top), None);
        assert_eq!(pt.translate(low).map(|t| t.0), Some(0x8_0000));
    }

    #[test]
    fn prune_frees_only_empty_tables() {
        let mut src = HostTables(Vec::new());
        let mut pt = PageTables::new(&mut src, 0, 0).unwrap();
        let base = 0x40_0000_0000;
        // Two pages 2 MiB apart, one page in the next GiB.
        for va in [base, base + BLOCK_2M, base + (1 << 30)] {
            pt.map(&mut src, va, 0x5000_0000, 0x1000, MapKind::UserData)
                .unwrap();
        }
        assert_eq!(src.0.len(), 1 + 2 + 3); // root, two L2s, three L3s
        let mut freed = Vec::new();
        pt.prune(base, 4 << 30, &mut |t| freed.push(t));
        assert!(freed.is_empty(), "nothing is empty yet");
        pt.unmap(base + BLOCK_2M, 0x1000);
        pt.unmap(base + (1 << 30), 0x1000);
        pt.prune(base + BLOCK_2M, 1 << 30, &mut |t| freed.push(t));
        // The second L3, then the second GiB's L3 and its now empty L2.
        assert_eq!(freed.len(), 3);
        assert!(pt.translate(base).is_some());
        // Mapping again rebuilds what was pruned.
        pt.map(
            &mut src,
            base + (1 << 30),
            0x5000_0000,
            0x1000,
            MapKind::UserData,
        )
        .unwrap();
        assert!(pt.translate(base + (1 << 30)).is_some());
        pt.unmap(base, 0x1000);
        pt.prune(base, 0x1000, &mut |t| freed.push(t));
        // The first GiB's L3 and L2 too.
        assert_eq!(freed.len(), 5);
        assert!(pt.translate(base + (1 << 30)).is_some());
    }

    #[test]
    fn unmap_removes_blocks_and_pages() {
        let mut src = HostTables(Vec::new());
        let mut pt = PageTables::new(&mut src, 0, 0).unwrap();
        pt.map(
            &mut src,
            0x4000_0000,
            0x4000_0000,
            6 << 20,
            MapKind::KernelData,
        )
        .unwrap();
        pt.unmap(0x4020_0000, 4 << 20);
        assert!(pt.translate(0x4000_0000).is_some());
        assert!(pt.translate(0x4020_0000).is_none());
        assert!(pt.translate(0x405f_ffff).is_none());
        pt.map(
            &mut src,
            0x40_0000_0000,
            0x5000_0000,
            0x2000,
            MapKind::UserText,
        )
        .unwrap();
        pt.unmap(0x40_0000_1000, 0x1000);
        assert!(pt.translate(0x40_0000_0000).is_some());
        assert!(pt.translate(0x40_0000_1000).is_none());
    }
}
