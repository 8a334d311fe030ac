//! The program break (`brk`): the heap right after the loaded image that
//! glibc's malloc tries first, one anonymous read-write area. Its pages
//! get frames as any anonymous page does (on first touch, or when the
//! break grows with `overcommit=2`); they are freed when it shrinks.

use crate::mm::mmap::{Area, VMAS, eager, enough_memory};
use crate::mm::{self};
use crate::sync::SpinLock;
use crate::syscall::error::Errno;
use arch::PAGE_SIZE;
use arch::mmu::MapKind;

/// `(start_brk, brk)`: where the break started (the page-aligned end of
/// the image) and where it is now (as the app last set it, unaligned).
static BRK: SpinLock<(u64, u64)> = SpinLock::new((0, 0));

/// The break's area.
const HEAP: Area = Area {
    kind: MapKind::UserData,
    anon: true,
};

fn page_up(x: u64) -> Option<u64> {
    x.checked_add(PAGE_SIZE as u64 - 1)
        .map(|x| x & !(PAGE_SIZE as u64 - 1))
}

/// Sets the break at the end of the loaded image (`exec`).
pub fn set_start(image_end: u64) {
    let start = page_up(image_end).unwrap_or(image_end);
    *BRK.lock() = (start, start);
}

/// brk(addr): Linux's answer is always a break, never an errno: the new
/// one, or the old one when `addr` is below the start, would run into
/// another area or what lies above (the never-mapped hole below the mmap
/// area, `mm::IMAGE_LIMIT`), or the overcommit policy refuses the growth
/// (as it refuses an mmap of that size). brk(0) asks for it.
pub fn sys_brk(addr: u64) -> Result<u64, Errno> {
    let mut brk = BRK.lock();
    let (start, cur) = *brk;
    if addr < start {
        return Ok(cur);
    }
    let (Some(new_end), Some(old_end)) = (page_up(addr), page_up(cur)) else {
        return Ok(cur);
    };
    if new_end > mm::IMAGE_LIMIT {
        return Ok(cur);
    }
    let mut vmas = VMAS.lock();
    if new_end > old_end {
        if !enough_memory(new_end - old_end, 0)
            || vmas.overlaps(old_end, new_end)
            || vmas.set_end(start, old_end, new_end, HEAP).is_err()
        {
            return Ok(cur);
        }
        if eager()
            && mm::populate_user_pages(old_end, new_end - old_end, MapKind::UserData).is_err()
        {
            let _ = vmas.set_end(start, new_end, old_end, HEAP);
            mm::unmap_user_pages(old_end, new_end - old_end);
            return Ok(cur);
        }
    } else if new_end < old_end {
        // Shrinking never splits an area in two (the break's is the
        // highest part of its own), so it cannot fail.
        let _ = vmas.set_end(start, old_end, new_end, HEAP);
        mm::unmap_user_pages(new_end, old_end - new_end);
    }
    brk.1 = addr;
    Ok(addr)
}
