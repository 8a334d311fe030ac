//! The program break (`brk`): the heap right after the loaded image that
//! glibc's malloc tries first. Pages are allocated and zeroed when the
//! break grows, freed when it shrinks.

use crate::mm;
use crate::sync::SpinLock;
use crate::syscall::error::Errno;
use arch::PAGE_SIZE;
use arch::mmu::MapKind;

/// `(start_brk, brk)`: where the break started (the page-aligned end of
/// the image) and where it is now (as the app last set it, unaligned).
static BRK: SpinLock<(u64, u64)> = SpinLock::new((0, 0));

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
/// what lies above (the never-mapped hole below the mmap area,
/// `mm::IMAGE_LIMIT`), or memory is exhausted. brk(0) asks for it.
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
    if new_end > old_end {
        if mm::map_user_pages(old_end, new_end - old_end, MapKind::UserData).is_err() {
            return Ok(cur);
        }
    } else if new_end < old_end {
        mm::unmap_user_pages(new_end, old_end - new_end);
    }
    brk.1 = addr;
    Ok(addr)
}
