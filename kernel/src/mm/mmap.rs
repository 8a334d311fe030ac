//! The app's anonymous mappings: `mmap`/`munmap` inside
//! `[MMAP_BASE, MMAP_END)` (thread stacks and heaps), and `mprotect` and
//! `madvise` on them and on the loaded image. Pages are allocated and
//! zeroed at mmap time (or when mprotect first makes a PROT_NONE page
//! accessible); there is no demand paging and no file mapping. One
//! process: MAP_SHARED anonymous memory is the same as private.

use crate::mm::{self, MMAP_BASE, MMAP_END};
use crate::sync::SpinLock;
use crate::syscall::error::Errno;
use abi::errno::*;
use alloc::vec::Vec;
use arch::PAGE_SIZE;
use arch::mmu::MapKind;

use abi::mman::*;

/// Flags accepted beyond private anonymous (and ignored).
const MAP_IGNORED: u64 = MAP_NORESERVE | MAP_STACK | MAP_POPULATE | MAP_GROWSDOWN;

/// Mapped `[start, end)` ranges of the mmap area, sorted.
static REGIONS: SpinLock<Vec<(u64, u64)>> = SpinLock::new(Vec::new());

fn page_align(len: u64) -> Option<u64> {
    len.checked_add(PAGE_SIZE as u64 - 1)
        .map(|l| l & !(PAGE_SIZE as u64 - 1))
}

/// The mapping kind for `prot`, or None for W+X (refused: the kernel keeps
/// W^X for the app too) and PROT_NONE (reserved, not mapped).
fn kind(prot: u64) -> Result<Option<MapKind>, Errno> {
    match (
        prot & PROT_WRITE != 0,
        prot & PROT_EXEC != 0,
        prot & PROT_READ != 0,
    ) {
        (true, true, _) => Err(Errno(EINVAL)),
        (true, false, _) => Ok(Some(MapKind::UserData)),
        (false, true, _) => Ok(Some(MapKind::UserText)),
        (false, false, true) => Ok(Some(MapKind::UserRodata)),
        (false, false, false) => Ok(None),
    }
}

/// First gap of `len` bytes in the area (first fit).
fn find_gap(regions: &[(u64, u64)], len: u64) -> Option<u64> {
    let mut start = MMAP_BASE;
    for &(s, e) in regions {
        if s >= start + len {
            break;
        }
        start = start.max(e);
    }
    (start + len <= MMAP_END).then_some(start)
}

/// mmap(addr, len, prot, flags, fd, off): anonymous private mappings only.
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
    if flags & !(MAP_PRIVATE | MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED | MAP_IGNORED) != 0
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
    let mut regions = REGIONS.lock();
    // Room for the new region first: past this point nothing can fail but
    // the frames themselves.
    if regions.try_reserve(1).is_err() {
        return Err(Errno(ENOMEM));
    }
    let start = if flags & MAP_FIXED != 0 {
        if !addr.is_multiple_of(PAGE_SIZE as u64)
            || addr < MMAP_BASE
            || addr.saturating_add(len) > MMAP_END
        {
            return Err(Errno(EINVAL));
        }
        if regions.iter().any(|&(s, e)| s < addr + len && addr < e) {
            return Err(Errno(EINVAL)); // no implicit munmap of an overlap (Linux would replace it)
        }
        addr
    } else {
        match find_gap(&regions, len) {
            Some(a) => a,
            None => return Err(Errno(ENOMEM)),
        }
    };
    if let Some(kind) = kind
        && mm::map_user_pages(start, len, kind).is_err()
    {
        return Err(Errno(ENOMEM));
    }
    let pos = regions.partition_point(|&(s, _)| s < start);
    regions.insert(pos, (start, start + len));
    Ok(start)
}

/// munmap(addr, len): inside the mmap area; unmapped parts are fine.
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
    let mut regions = REGIONS.lock();
    // Cutting a hole in the middle of a region makes two of one (Linux:
    // ENOMEM when that split cannot be made).
    if regions.try_reserve(1).is_err() {
        return Err(Errno(ENOMEM));
    }
    let mut split = None;
    regions.retain_mut(|(s, e)| {
        if *e <= addr || *s >= end {
            return true;
        }
        // Only mapped regions are walked: the area is gigabytes, mostly empty.
        mm::unmap_user_pages((*s).max(addr), (*e).min(end) - (*s).max(addr));
        match (*s < addr, *e > end) {
            (true, true) => {
                split = Some((end, *e));
                *e = addr;
                true
            }
            (true, false) => {
                *e = addr;
                true
            }
            (false, true) => {
                *s = end;
                true
            }
            (false, false) => false,
        }
    });
    if let Some(tail) = split {
        let pos = regions.partition_point(|&(s, _)| s < tail.0);
        regions.insert(pos, tail);
    }
    Ok(())
}

/// Whether every page of `[addr, end)` belongs to the app: mapped (the
/// image, the stacks, any mapping), or reserved by mmap with PROT_NONE.
fn all_mapped(regions: &[(u64, u64)], addr: u64, end: u64) -> bool {
    (addr..end).step_by(PAGE_SIZE).all(|page| {
        regions.iter().any(|&(s, e)| s <= page && page < e) || mm::user_page_mapped(page)
    })
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
/// W+X is refused (EINVAL) as mmap refuses it; a range with a page the
/// app does not own is ENOMEM, as in Linux.
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
    // The region list lock keeps munmap from changing the range meanwhile.
    let regions = REGIONS.lock();
    if !all_mapped(&regions, addr, end) {
        return Err(Errno(ENOMEM));
    }
    mm::protect_user_pages(addr, end - addr, kind).map_err(|_| Errno(ENOMEM))
}

/// madvise(addr, len, advice): MADV_DONTNEED (and _LOCKED) makes the
/// app's mmap'd pages read as zeroes (the loaded image is left as it is:
/// Linux would reload its file pages); the other advice Linux accepts on
/// private anonymous memory changes nothing here; unknown advice is
/// EINVAL, a range with a page the app does not own ENOMEM.
pub fn sys_madvise(addr: u64, len: u64, advice: u64) -> Result<(), Errno> {
    // Linux's order: alignment, the advice, then the range (a wrap is EINVAL).
    if !addr.is_multiple_of(PAGE_SIZE as u64) {
        return Err(Errno(EINVAL));
    }
    let zero = match advice {
        MADV_DONTNEED | MADV_DONTNEED_LOCKED => true,
        MADV_NORMAL | MADV_RANDOM | MADV_SEQUENTIAL | MADV_WILLNEED | MADV_FREE => false,
        a if (MADV_DONTFORK..MADV_DONTNEED_LOCKED).contains(&a) => false,
        _ => return Err(Errno(EINVAL)),
    };
    let (addr, end) = user_range(addr, len, Errno(EINVAL))?;
    if addr == end {
        return Ok(());
    }
    let regions = REGIONS.lock();
    if !all_mapped(&regions, addr, end) {
        return Err(Errno(ENOMEM));
    }
    if zero {
        for &(s, e) in regions.iter() {
            let (lo, hi) = (s.max(addr), e.min(end));
            if lo < hi {
                mm::zero_user_pages(lo, hi - lo);
            }
        }
    }
    Ok(())
}
