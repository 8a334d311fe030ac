//! Boot entry, exception vectors and the user-access routines, assembled from
//! `.s` files with the constants they share with Rust passed in by name.
//!
//! The kernel crate provides the symbols these call: `kernel_main(dtb, el)`,
//! `el0_sync_handler`, `el0_irq_handler`, `el0_bad_handler`,
//! `el1_sync_handler`, `el1_irq_handler`, `el1_bad_handler`, each taking a
//! `&mut TrapFrame` (except `kernel_main`). The linker script provides
//! `__stacks_start`, `__bss_start`, `__bss_end` and `__kernel_size`.

use crate::BOOT_STACK_SIZE;
use crate::trapframe::{TF_PC, TF_SIZE, TF_SP};

/// SCTLR_EL1 with MMU and caches off and every RES1 bit set: the state the
/// EL2→EL1 drop hands to EL1.
pub const SCTLR_EL1_RESET: u64 = 0x30d0_0800;

core::arch::global_asm!(
    include_str!("boot.s"),
    BOOT_STACK_SIZE = const BOOT_STACK_SIZE,
    SCTLR_EL1_RESET = const SCTLR_EL1_RESET,
);

core::arch::global_asm!(
    include_str!("vectors.s"),
    TF_SIZE = const TF_SIZE,
    TF_SP = const TF_SP,
    TF_PC = const TF_PC,
);

core::arch::global_asm!(include_str!("uaccess.s"));

unsafe extern "C" {
    fn __arch_enter_user(tf: *mut crate::TrapFrame) -> !;
}

/// Starts a task in EL0 from the frame at the top of its kernel stack.
///
/// # Safety
///
/// `tf` must be the user frame at the very top of the task's kernel stack
/// (exceptions from EL0 will then use that stack), the task's address space
/// must be live, and the exit-to-user work must have been done with IRQs masked.
pub unsafe fn enter_user(tf: *mut crate::TrapFrame) -> ! {
    // SAFETY: forwarded from the caller.
    unsafe { __arch_enter_user(tf) }
}
