//! The app's areas and the syscalls that change them: `mmap`/`munmap`
//! inside `[MMAP_BASE, MMAP_END)` (thread stacks, heaps), `mprotect` and
//! `madvise` on any area (the loaded image's RELRO too). The areas
//! (`VMAS`, Linux's `mm->mmap` tree) are the app's whole address space:
//! the image, the program break, the signal trampoline, the main stack
//! and every mapping; the page fault handler (`mm::fault`) reads them.
//!
//! When an anonymous page gets its frame depends on the overcommit
//! policy (Linux's `vm.overcommit_memory`, boot option `overcommit=`):
//!
//! - `0` (Linux's default, heuristic): on first touch (demand paging);
//!   mmap refuses only a single mapping larger than all of RAM, unless
//!   MAP_NORESERVE. Touching more than RAM holds ends the app with
//!   SIGKILL and an "out of memory" report: with one process, that is the
//!   process Linux's OOM killer would pick.
//! - `1` (always): as 0 without the size check.
//! - `2` (never overcommit): every page is allocated when it is mapped
//!   (or made accessible by mprotect), so running out of memory is an
//!   ENOMEM from mmap, brk or mprotect, never a kill. (Linux's mode 2
//!   charges a commit count instead and still allocates on touch; the
//!   errno contract is the same.)
//!
//! No file mappings. One process: MAP_SHARED anonymous memory is the same
//! as private.

use crate::mm::vma::{VmaError, VmaList};
use crate::mm::{self, MMAP_BASE, MMAP_END};
use crate::sync::SpinLock;
use crate::syscall::error::Errno;
use abi::cmdline::Overcommit;
use abi::errno::*;
use abi::mman::*;
use arch::PAGE_SIZE;
use arch::mmu::MapKind;
use core::sync::atomic::{AtomicU8, Ordering};

/// Flags accepted beyond private anonymous (MAP_NORESERVE and
/// MAP_POPULATE change when frames are allocated; the others are hints).
const MAP_ACCEPTED: u64 = MAP_PRIVATE
    | MAP_SHARED
    | MAP_ANONYMOUS
    | MAP_FIXED
    | MAP_FIXED_NOREPLACE
    | MAP_NORESERVE
    | MAP_STACK
    | MAP_POPULATE
    | MAP_GROWSDOWN;

/// What an area is: its protection and where its contents come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Area {
    /// The page kind its pages are mapped with (`UserNone`: PROT_NONE).
    pub kind: MapKind,
    /// Anonymous memory (mmap, the break, the stack), whose dropped pages
    /// come back zeroed; the loaded image is not (MADV_DONTNEED keeps it,
    /// where Linux would reload the file's pages).
    pub anon: bool,
}

/// Every area of the app. Lock order: `VMAS` before the page tables' lock.
pub(super) static VMAS: SpinLock<VmaList<Area>> = SpinLock::new(VmaList::new());

fn anon(kind: MapKind) -> Area {
    Area { kind, anon: true }
}

/// The overcommit policy (`Overcommit as u8`).
static OVERCOMMIT: AtomicU8 = AtomicU8::new(Overcommit::Guess as u8);

/// Sets the overcommit policy (from the command line, before the app runs).
pub fn set_overcommit(policy: Overcommit) {
    OVERCOMMIT.store(policy as u8, Ordering::Relaxed);
}

/// Whether pages get their frames when mapped (`overcommit=2`).
pub fn eager() -> bool {
    OVERCOMMIT.load(Ordering::Relaxed) == Overcommit::Never as u8
}

fn policy() -> Overcommit {
    match OVERCOMMIT.load(Ordering::Relaxed) {
        1 => Overcommit::Always,
        2 => Overcommit::Never,
        _ => Overcommit::Guess,
    }
}

fn page_align(len: u64) -> Option<u64> {
    len.checked_add(PAGE_SIZE as u64 - 1)
        .map(|l| l & !(PAGE_SIZE as u64 - 1))
}

/// The mapping kind for `prot`; W+X is refused (EINVAL: the kernel keeps
/// W^X for the app too).
fn kind(prot: u64) -> Result<MapKind, Errno> {
    match (
        prot & PROT_WRITE != 0,
        prot & PROT_EXEC != 0,
        prot & PROT_READ != 0,
    ) {
        (true, true, _) => Err(Errno(EINVAL)),
        (true, false, _) => Ok(MapKind::UserData),
        (false, true, _) => Ok(MapKind::UserText),
        (false, false, true) => Ok(MapKind::UserRodata),
        (false, false, false) => Ok(MapKind::UserNone),
    }
}

impl From<VmaError> for Errno {
    fn from(VmaError::NoMemory: VmaError) -> Errno {
        Errno(ENOMEM)
    }
}

/// Registers an area of a new program (image segments and the signal
/// trampoline, `anon` false; the main stack, `anon` true).
pub fn add_loaded_area(start: u64, end: u64, kind: MapKind, anon: bool) -> Result<(), VmaError> {
    VMAS.lock().insert(start, end, Area { kind, anon })
}

/// Forgets every area (before a program is loaded).
pub fn clear_areas() {
    VMAS.lock().clear();
}

/// Gives `[start, end)` of an area of kind `kind` its frames now, where
/// the policy says so (`overcommit=2`) or the caller asks (MAP_POPULATE).
/// Pages that already have one keep it.
fn populate(start: u64, end: u64, kind: MapKind) -> Result<(), Errno> {
    if kind == MapKind::UserNone {
        return Ok(());
    }
    mm::populate_user_pages(start, end - start, kind).map_err(|_| Errno(ENOMEM))
}

/// Linux's `__vm_enough_memory()` for one new mapping (or break growth)
/// of `len` bytes.
pub(super) fn enough_memory(len: u64, flags: u64) -> bool {
    match policy() {
        Overcommit::Always | Overcommit::Never => true,
        Overcommit::Guess => {
            flags & MAP_NORESERVE != 0 || len / PAGE_SIZE as u64 <= mm::frame_counts().0
        }
    }
}

/// mmap(addr, len, prot, flags, fd, off): anonymous mappings only.
pub fn sys_mmap(
    addr: u64,
    len: u64,
    prot: u64,
    flags: u64,
    fd: u64,
    off: u64,
) -> Result<u64, Errno> {
    if prot & !(PROT_READ | PROT_WRITE | PROT_EXEC) != 0 {
        return Err(Errno(EINVAL));
    }
    let sharing = flags & (MAP_PRIVATE | MAP_SHARED);
    if flags & !MAP_ACCEPTED != 0
        || flags & MAP_ANONYMOUS == 0
        || (sharing != MAP_PRIVATE && sharing != MAP_SHARED)
    {
        return Err(Errno(EINVAL));
    }
    if fd as i64 != -1 || off != 0 {
        return Err(Errno(EINVAL)); // no files
    }
    let Some(len) = page_align(len).filter(|&l| l > 0 && l <= MMAP_END - MMAP_BASE) else {
        return Err(Errno(EINVAL));
    };
    let kind = kind(prot)?;
    if !enough_memory(len, flags) {
        return Err(Errno(ENOMEM));
    }
    let fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE) != 0;
    let mut vmas = VMAS.lock();
    let start = if fixed {
        if !addr.is_multiple_of(PAGE_SIZE as u64)
            || addr < MMAP_BASE
            || addr.saturating_add(len) > MMAP_END
        {
            return Err(Errno(EINVAL));
        }
        if vmas.overlaps(addr, addr + len) {
            // Linux replaces what MAP_FIXED lands on; we refuse, so that a
            // stray MAP_FIXED cannot silently drop a thread's stack.
            return Err(Errno(if flags & MAP_FIXED_NOREPLACE != 0 {
                EEXIST
            } else {
                EINVAL
            }));
        }
        addr
    } else {
        // A free page-aligned hint is taken, as Linux does; otherwise the
        // highest gap below the top (Linux's top-down layout).
        let hint = addr & !(PAGE_SIZE as u64 - 1);
        if hint >= MMAP_BASE
            && hint.saturating_add(len) <= MMAP_END
            && !vmas.overlaps(hint, hint + len)
        {
            hint
        } else {
            vmas.gap_top_down(len, MMAP_BASE, MMAP_END)
                .ok_or(Errno(ENOMEM))?
        }
    };
    vmas.insert(start, start + len, anon(kind))?;
    if eager() || flags & MAP_POPULATE != 0 {
        let populated = populate(start, start + len, kind);
        if populated.is_err() && eager() {
            // Nothing of the new mapping stays: no area, no frame.
            let _ = vmas.remove(start, start + len, |s, e| mm::unmap_user_pages(s, e - s));
            return Err(Errno(ENOMEM));
        }
        // MAP_POPULATE is best effort in Linux too: the rest faults in.
    }
    Ok(start)
}

/// munmap(addr, len): inside the mmap area; parts without a mapping are
/// fine. Frames go back after every CPU's TLB has dropped them.
pub fn sys_munmap(addr: u64, len: u64) -> Result<(), Errno> {
    let Some(len) = page_align(len).filter(|&l| l > 0) else {
        return Err(Errno(EINVAL));
    };
    if !addr.is_multiple_of(PAGE_SIZE as u64) {
        return Err(Errno(EINVAL));
    }
    let Some(end) = addr.checked_add(len) else {
        return Err(Errno(EINVAL));
    };
    if addr < MMAP_BASE || end > MMAP_END {
        return Err(Errno(EINVAL)); // the image and the main stack stay mapped
    }
    // Cutting a hole in the middle of an area makes two of one (Linux:
    // ENOMEM when that split cannot be made).
    VMAS.lock()
        .remove(addr, end, |s, e| mm::unmap_user_pages(s, e - s))?;
    Ok(())
}

/// `len` from page-aligned `addr` as `[addr, end)`, or `wraps` when the
/// range passes the end of the address space (mprotect says ENOMEM,
/// madvise EINVAL).
fn user_range(addr: u64, len: u64, wraps: Errno) -> Result<(u64, u64), Errno> {
    let len = page_align(len).ok_or(wraps)?;
    let end = addr.checked_add(len).ok_or(wraps)?;
    Ok((addr, end))
}

/// mprotect(addr, len, prot): new permissions for pages the app owns;
/// W+X is refused (EINVAL) as mmap refuses it; a range with a page in no
/// area is ENOMEM, as in Linux.
pub fn sys_mprotect(addr: u64, len: u64, prot: u64) -> Result<(), Errno> {
    // Linux's order: alignment, an empty range (done, whatever `prot`),
    // a wrapping range, then `prot`.
    if !addr.is_multiple_of(PAGE_SIZE as u64) {
        return Err(Errno(EINVAL));
    }
    if len == 0 {
        return Ok(());
    }
    let (addr, end) = user_range(addr, len, Errno(ENOMEM))?;
    if prot & !(PROT_READ | PROT_WRITE | PROT_EXEC) != 0 {
        return Err(Errno(EINVAL));
    }
    let kind = kind(prot)?;
    let mut vmas = VMAS.lock();
    if !vmas.covers(addr, end) {
        return Err(Errno(ENOMEM));
    }
    vmas.protect(addr, end, |a| Area { kind, ..a })?;
    mm::protect_user_pages(addr, end - addr, kind);
    if eager() {
        // The pages a PROT_NONE reservation left without frames get them
        // now (as Linux's mode 2 charges them now); out of memory, the
        // change stays and the rest comes on touch, as Linux may leave a
        // partial change.
        populate(addr, end, kind)?;
    }
    Ok(())
}

/// madvise(addr, len, advice): MADV_DONTNEED (and _LOCKED) drops the
/// anonymous pages of the range, which then read as zeroes (their frames
/// go back; with `overcommit=2` they are zeroed in place, so that they
/// stay allocated); the loaded image is left as it is (Linux would reload
/// its file pages; this kernel keeps no file). The other advice Linux accepts on private anonymous memory
/// changes nothing here; unknown advice is EINVAL, a range with a page in
/// no area ENOMEM.
pub fn sys_madvise(addr: u64, len: u64, advice: u64) -> Result<(), Errno> {
    // Linux's order: alignment, the advice, then the range (a wrap is EINVAL).
    if !addr.is_multiple_of(PAGE_SIZE as u64) {
        return Err(Errno(EINVAL));
    }
    let drop = match advice {
        MADV_DONTNEED | MADV_DONTNEED_LOCKED => true,
        MADV_NORMAL | MADV_RANDOM | MADV_SEQUENTIAL | MADV_WILLNEED | MADV_FREE => false,
        a if (MADV_DONTFORK..MADV_DONTNEED_LOCKED).contains(&a) => false,
        _ => return Err(Errno(EINVAL)),
    };
    let (addr, end) = user_range(addr, len, Errno(EINVAL))?;
    if addr == end {
        return Ok(());
    }
    let vmas = VMAS.lock();
    if !vmas.covers(addr, end) {
        return Err(Errno(ENOMEM));
    }
    if drop {
        for v in vmas.iter().filter(|v| v.prot.anon) {
            let (lo, hi) = (v.start.max(addr), v.end.min(end));
            if lo >= hi {
                continue;
            }
            if eager() {
                mm::zero_user_pages(lo, hi - lo);
            } else {
                mm::unmap_user_pages(lo, hi - lo);
            }
        }
    }
    Ok(())
}
