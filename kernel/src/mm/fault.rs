//! The page fault handler (Linux's `handle_mm_fault()` for anonymous
//! memory): a translation fault on a page of one of the app's areas that
//! allows the access gets a fresh zeroed frame, and the access is retried;
//! every other fault is the app's (a signal) or, out of frames, the end
//! of the app (the OOM killer's choice when there is one process).
//!
//! Faults come from EL0 and from the kernel's checked user accesses
//! (`arch::uaccess`) in syscalls. A kernel path that must not fault pages
//! in (the rseq fast path, which runs with interrupts masked at the end of
//! the exit path) uses the `_nofault` accesses: their faults go straight to
//! the fixup, as under Linux's `pagefault_disable()`, and it takes the slow
//! path instead. Choosing the access costs nothing at run time, where a
//! per-CPU "disabled" flag would cost stores on every switch.

use crate::entry::fault::Access;
use crate::mm::mmap::VMAS;
use arch::PAGE_SIZE;
use arch::mmu::MapKind;

/// Why a fault was not satisfied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultError {
    /// No area holds the address, or its protection forbids the access:
    /// SIGSEGV (EFAULT for a kernel access).
    Segv,
    /// No frame (or page table) left for the page.
    OutOfMemory,
}

/// Whether an area of kind `kind` allows `access` (Linux's
/// `access_error()`): every accessible kind may be read (text is EL0
/// readable), only data written, only text executed.
fn allows(kind: MapKind, access: Access) -> bool {
    match access {
        Access::Read => kind != MapKind::UserNone,
        Access::Write => kind == MapKind::UserData,
        Access::Exec => kind == MapKind::UserText,
    }
}

/// Handles a translation fault at user address `addr`.
pub fn handle_mm_fault(addr: u64, access: Access) -> Result<(), FaultError> {
    let vmas = VMAS.lock();
    let area = vmas.find(addr).ok_or(FaultError::Segv)?.prot;
    if !allows(area.kind, access) {
        return Err(FaultError::Segv);
    }
    let page = addr & !(PAGE_SIZE as u64 - 1);
    match crate::mm::fault_in_user_page(page, area.kind) {
        Ok(_) => Ok(()),
        Err(_) => Err(FaultError::OutOfMemory),
    }
}
