//! Boot entry, exception vectors and the user-access routines, assembled from
//! `.s` files with the constants they share with Rust passed in by name.
//!
//! The Rust symbols these call (`kernel_main`, `secondary_main`, the
//! `el0_*_handler`s and `el1_*_handler`s) are defined, with their types, by
//! [`crate::handlers!`], which the kernel invokes once. The linker script
//! provides `__stacks_start`, `__bss_start`, `__bss_end` and
//! `__kernel_size`.

use crate::BOOT_STACK_SIZE;
use crate::trapframe::{TF_PC, TF_SIZE, TF_SP};

/// SCTLR_EL1 with MMU and caches off and every RES1 bit set: the state the
/// EL2→EL1 drop hands to EL1.
pub const SCTLR_EL1_RESET: u64 = 0x30d0_0800;

core::arch::global_asm!(
    include_str!("boot.s"),
    BOOT_STACK_SIZE = const BOOT_STACK_SIZE,
    SCTLR_EL1_RESET = const SCTLR_EL1_RESET,
    EARLY_BLOCK = const crate::mmu::EARLY_BLOCK,
    MAIR_VALUE = const crate::mmu::MAIR_VALUE,
    TCR_VALUE = const crate::mmu::TCR_VALUE,
    KERNEL_OFFSET = const crate::mmu::KERNEL_OFFSET,
);

core::arch::global_asm!(
    include_str!("vectors.s"),
    TF_SIZE = const TF_SIZE,
    TF_SP = const TF_SP,
    TF_PC = const TF_PC,
);

core::arch::global_asm!(include_str!("uaccess.s"));
core::arch::global_asm!(include_str!("switch.s"));

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

/// What a secondary CPU needs to turn its MMU on before running Rust code:
/// CPU 0's translation registers. Read by `secondary_entry` with caches off,
/// so [`publish_secondary_boot`] cleans it to memory.
#[repr(C)]
pub struct SecondaryBoot {
    tcr: u64,
    ttbr1: u64,
    ttbr0: u64,
    sctlr: u64,
}

#[unsafe(no_mangle)]
static mut SECONDARY_BOOT: SecondaryBoot = SecondaryBoot {
    tcr: 0,
    ttbr1: 0,
    ttbr0: 0,
    sctlr: 0,
};

unsafe extern "C" {
    fn secondary_entry();
}

/// The physical address secondaries must start at (their MMU is off).
pub fn secondary_entry_addr() -> u64 {
    crate::mmu::virt_to_phys(secondary_entry as *const () as u64)
}

/// Copies this CPU's MMU registers for the secondaries and cleans them to
/// the point of coherency. Call on CPU 0 after its MMU is on, before
/// starting any secondary.
pub fn publish_secondary_boot() {
    use aarch64_cpu::registers::{Readable, SCTLR_EL1, TCR_EL1, TTBR0_EL1, TTBR1_EL1};
    let boot = SecondaryBoot {
        tcr: TCR_EL1.get(),
        ttbr1: TTBR1_EL1.get(),
        ttbr0: TTBR0_EL1.get(),
        sctlr: SCTLR_EL1.get(),
    };
    // SAFETY: written only here, on CPU 0, before any secondary reads it.
    unsafe {
        let p = &raw mut SECONDARY_BOOT;
        p.write_volatile(boot);
        crate::cpu::clean_dcache_range(p as u64, core::mem::size_of::<SecondaryBoot>());
    }
}
