//! CPU state: interrupt masking, waiting, identification.

use aarch64_cpu::registers::{DAIF, MPIDR_EL1, Readable, Writeable};

/// Masks IRQs on this CPU and returns the previous DAIF value.
#[inline(always)]
pub fn local_irq_save() -> u64 {
    let flags = DAIF.get();
    // SAFETY: setting DAIF.I only masks interrupts; no memory is touched.
    unsafe { core::arch::asm!("msr daifset, #2", options(nomem, nostack, preserves_flags)) };
    flags
}

/// Restores the DAIF value returned by [`local_irq_save`].
#[inline(always)]
pub fn local_irq_restore(flags: u64) {
    DAIF.set(flags);
}

/// Unmasks IRQs on this CPU.
#[inline(always)]
pub fn local_irq_enable() {
    // SAFETY: unmasking IRQs; the vectors are installed before this is called.
    unsafe { core::arch::asm!("msr daifclr, #2", options(nomem, nostack, preserves_flags)) };
}

/// Masks IRQs on this CPU.
#[inline(always)]
pub fn local_irq_disable() {
    // SAFETY: masking IRQs has no memory effects.
    unsafe { core::arch::asm!("msr daifset, #2", options(nomem, nostack, preserves_flags)) };
}

/// Waits for an interrupt (idle).
#[inline(always)]
pub fn wfi() {
    aarch64_cpu::asm::wfi();
}

/// This CPU's number (MPIDR Aff0 on the supported boards).
#[inline(always)]
pub fn cpu_id() -> usize {
    (MPIDR_EL1.get() & 0xff) as usize
}

/// Does the CPU implement FEAT_PAN (ID_AA64MMFR1_EL1.PAN != 0)?
pub fn has_pan() -> bool {
    let mmfr1: u64;
    // SAFETY: reading an ID register has no side effects.
    unsafe {
        core::arch::asm!("mrs {}, id_aa64mmfr1_el1", out(reg) mmfr1, options(nomem, nostack))
    };
    (mmfr1 >> 20) & 0xf != 0
}

/// Turns PAN on (PSTATE.PAN = 1) and makes every exception entry to EL1 set
/// it again (SCTLR_EL1.SPAN = 0). Only call when [`has_pan`].
pub fn enable_pan() {
    use aarch64_cpu::registers::SCTLR_EL1;
    let sctlr = SCTLR_EL1.get() & !(1 << 23);
    SCTLR_EL1.set(sctlr);
    // SAFETY: `msr pan, #1` (encoded by hand: the assembler needs +pan for the
    // mnemonic) only restricts EL1 access to EL0 pages; every kernel access to
    // user memory uses LDTR/STTR, which PAN does not affect.
    unsafe { core::arch::asm!(".inst 0xd500419f", "isb", options(nostack)) };
}

/// Linux's `cpu_relax()` in a busy-wait: the `yield` hint, which also lets
/// QEMU's round-robin TCG run another vCPU (it does not switch on `isb`,
/// what `core::hint::spin_loop()` emits), so a waiter does not burn the
/// time slot of the CPU it waits for.
#[inline(always)]
pub fn cpu_relax() {
    // SAFETY: a hint instruction with no architectural effect.
    unsafe { core::arch::asm!("yield", options(nomem, nostack, preserves_flags)) };
}

/// Parks this CPU forever with interrupts masked.
pub fn halt() -> ! {
    local_irq_disable();
    loop {
        aarch64_cpu::asm::wfe();
    }
}

/// Cleans and invalidates the data cache lines of `[addr, addr + len)` to
/// the point of coherency, so a CPU running with its MMU off (non-cacheable
/// accesses) sees what was written with caches on.
pub fn clean_dcache_range(addr: u64, len: usize) {
    let line = 64; // smallest line size on the supported cores (Cortex-A72: 64)
    let mut a = addr & !(line - 1);
    while a < addr + len as u64 {
        // SAFETY: cache maintenance by VA on mapped memory has no memory-safety effect.
        unsafe { core::arch::asm!("dc civac, {}", in(reg) a, options(nostack)) };
        a += line;
    }
    // SAFETY: barrier only.
    unsafe { core::arch::asm!("dsb sy", options(nostack)) };
}

/// Wakes CPUs waiting in `wfe` (spin-table secondaries).
pub fn sev() {
    aarch64_cpu::asm::sev();
}

/// The EL0 thread pointer (TPIDR_EL0), saved per thread on context switch.
#[inline(always)]
pub fn read_tpidr_el0() -> u64 {
    aarch64_cpu::registers::TPIDR_EL0.get()
}

/// Sets the EL0 thread pointer.
#[inline(always)]
pub fn write_tpidr_el0(v: u64) {
    aarch64_cpu::registers::TPIDR_EL0.set(v)
}
