//! The ARM generic timer: the system counter, the EL1 physical timer
//! (PPI 14, INTID 30), which the kernel programs for its tick and its
//! sleepers' deadlines, and the EL1 virtual timer (PPI 11, INTID 27).

use aarch64_cpu::registers::{CNTFRQ_EL0, CNTP_CTL_EL0, CNTPCT_EL0, Readable, Writeable};

/// GIC INTID of the EL1 physical timer (PPI 14).
pub const PHYS_TIMER_INTID: u32 = 30;
/// GIC INTID of the EL1 virtual timer (PPI 11).
pub const VIRT_TIMER_INTID: u32 = 27;

/// Counter frequency in Hz (62.5 MHz in QEMU, 54 MHz on a real Pi 4): always read, never assumed.
#[inline]
pub fn cntfrq() -> u64 {
    CNTFRQ_EL0.get()
}

/// The system counter, ordered after preceding instructions.
#[inline]
pub fn counter() -> u64 {
    aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
    CNTPCT_EL0.get()
}

/// Counter ticks to nanoseconds.
#[inline]
pub fn ticks_to_ns(ticks: u64, freq: u64) -> u64 {
    ((ticks as u128 * 1_000_000_000) / freq as u128) as u64
}

/// Arms the EL1 physical timer to fire when the counter reaches
/// `deadline` (a deadline already past fires at once).
#[inline]
pub fn arm_phys_timer_at(deadline: u64) {
    use aarch64_cpu::registers::CNTP_CVAL_EL0;
    CNTP_CVAL_EL0.set(deadline);
    CNTP_CTL_EL0.write(CNTP_CTL_EL0::ENABLE::SET + CNTP_CTL_EL0::IMASK::CLEAR);
}

/// Lets EL0 read the virtual counter (CNTKCTL_EL1.EL0VCTEN), as Linux does, so
/// apps can time themselves without a syscall.
pub fn allow_el0_virtual_counter() {
    // SAFETY: CNTKCTL_EL1 only controls EL0 access to the counters.
    unsafe { core::arch::asm!("msr cntkctl_el1, {}", "isb", in(reg) 1u64 << 1, options(nostack)) };
}

/// Arms the EL1 virtual timer (PPI 11, INTID 27) to fire when the virtual
/// counter reaches `deadline`. A separate hardware timer from the tick: the
/// rseq slice-extension enforcement owns it.
#[inline]
pub fn arm_virt_timer_at(deadline: u64) {
    use aarch64_cpu::registers::{CNTV_CTL_EL0, CNTV_CVAL_EL0};
    CNTV_CVAL_EL0.set(deadline);
    CNTV_CTL_EL0.write(CNTV_CTL_EL0::ENABLE::SET + CNTV_CTL_EL0::IMASK::CLEAR);
}

/// Disarms the EL1 virtual timer (its level interrupt deasserts).
#[inline]
pub fn cancel_virt_timer() {
    use aarch64_cpu::registers::CNTV_CTL_EL0;
    CNTV_CTL_EL0.set(0);
}

/// The virtual counter (equal to the physical one: CNTVOFF is 0).
#[inline]
pub fn virt_counter() -> u64 {
    aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
    aarch64_cpu::registers::CNTVCT_EL0.get()
}
