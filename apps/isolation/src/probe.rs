//! A load and a store that may fault: a SIGSEGV at either one is answered
//! by skipping the instruction and reporting the fault in the return
//! value, so a thread can keep reading memory that another thread unmaps
//! under it, and tell "faulted" from "read this value".
//!
//! The handler edits the signal frame as Linux lets a handler do: it
//! checks that the PC is one of the two probing instructions, clears the
//! result registers and moves the PC past the instruction. A fault
//! anywhere else is a bug of this app: reported, exit status 3.

use core::ffi::c_void;
use core::sync::atomic::{AtomicU64, Ordering};

use rt::signal::{self, SigInfo, UContext};
use rt::{println, sys};

/// What [`load`] read.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Loaded {
    pub value: u64,
    /// 1 if the load completed, 0 if it faulted (then `value` is 0).
    pub ok: u64,
}

// `iso_load(addr) -> Loaded` (x0 = value, x1 = ok: a 16-byte struct comes
// back in x0/x1) and `iso_store(addr, value) -> ok`. The handler
// recognises the probing instruction by its offset in the function.
core::arch::global_asm!(
    ".pushsection .text.iso_probe, \"ax\", %progbits",
    ".global iso_load",
    ".type iso_load, %function",
    ".p2align 2",
    "iso_load:",
    "    mov x1, #1",
    "    ldr x0, [x0]",
    "    ret",
    ".size iso_load, . - iso_load",
    ".global iso_store",
    ".type iso_store, %function",
    ".p2align 2",
    "iso_store:",
    "    mov x2, x0",
    "    mov x0, #1",
    "    str x1, [x2]",
    "    ret",
    ".size iso_store, . - iso_store",
    ".popsection",
);

/// Where the probing instruction sits in `iso_load` and `iso_store`.
const LOAD_INSN_OFFSET: u64 = 4;
const STORE_INSN_OFFSET: u64 = 8;

unsafe extern "C" {
    fn iso_load(addr: u64) -> Loaded;
    fn iso_store(addr: u64, value: u64) -> u64;
}

/// Faults recovered so far, all threads.
pub static FAULTS: AtomicU64 = AtomicU64::new(0);

/// Reads the u64 at `addr` (8-aligned), or reports that it faulted.
pub fn load(addr: u64) -> Loaded {
    // SAFETY: the only memory access is the probing load; a fault there is
    // turned into `ok = 0` by `on_segv` (installed by `install`), any
    // other outcome is a plain load of a u64.
    unsafe { iso_load(addr) }
}

/// Writes `value` at `addr` (8-aligned); false if it faulted.
///
/// # Safety
///
/// `addr` must not be memory the caller or anyone else relies on, other
/// than as a target of these probes.
pub unsafe fn store(addr: u64, value: u64) -> bool {
    // SAFETY: the caller's contract; a fault is turned into 0 by `on_segv`.
    unsafe { iso_store(addr, value) != 0 }
}

extern "C" fn on_segv(sig: i32, info: *mut SigInfo, uc: *mut c_void) {
    // SAFETY: the kernel passes a valid siginfo and ucontext to an
    // SA_SIGINFO handler, on this thread's stack.
    let (info, uc) = unsafe { (&*info, &mut *(uc as *mut UContext)) };
    let mc = &mut uc.uc_mcontext;
    let load_insn = iso_load as *const () as u64 + LOAD_INSN_OFFSET;
    let store_insn = iso_store as *const () as u64 + STORE_INSN_OFFSET;
    if mc.pc == load_insn {
        mc.regs[0] = 0;
        mc.regs[1] = 0;
    } else if mc.pc == store_insn {
        mc.regs[0] = 0;
    } else {
        println!(
            "isolation: unexpected signal {sig} in tid {} at pc {:#x}, address {:#x}",
            sys::gettid(),
            mc.pc,
            info.si_addr()
        );
        sys::exit_group(3);
    }
    mc.pc += 4;
    FAULTS.fetch_add(1, Ordering::Relaxed);
}

/// Installs the handler for SIGSEGV, for every thread. (Any other signal
/// at a probe, e.g. SIGBUS, keeps its default action and ends the app.)
pub fn install() -> Result<(), i64> {
    signal::sigaction(signal::SIGSEGV, on_segv, 0)
}
