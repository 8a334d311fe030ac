//! The app's anonymous mappings: `mmap`/`munmap` inside
//! `[MMAP_BASE, MMAP_END)` (thread stacks and heaps). Pages are allocated and
//! zeroed at mmap time; there is no demand paging and no file mapping.

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
    if flags & !(MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_IGNORED) != 0
        || flags & (MAP_PRIVATE | MAP_ANONYMOUS) != (MAP_PRIVATE | MAP_ANONYMOUS)
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
