//! The time slice extension's enforcement timer: one per CPU, the EL1
//! virtual timer through the GIC, armed on the way out to EL0 with a grant
//! and cancelled on yield, syscall or switch. Below the scheduler: it knows
//! no task.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Counter ticks a grant may run (`rseq_slice_us=`).
static SLICE_TICKS: AtomicU64 = AtomicU64::new(0);
/// Per CPU: the enforcement timer is armed.
static ARMED: [AtomicBool; arch::MAX_CPUS] = [const { AtomicBool::new(false) }; arch::MAX_CPUS];

/// Sets the grant's length.
pub fn set_slice_us(slice_us: u32) {
    let ticks = arch::timer::cntfrq() * slice_us as u64 / 1_000_000;
    SLICE_TICKS.store(ticks.max(1), Ordering::Relaxed);
}

/// Arms this CPU's timer right before returning to EL0, if the thread
/// holds a grant and the timer is not running yet.
#[inline(always)]
pub fn arm_if_granted(granted: bool) {
    if granted && !ARMED[arch::cpu::cpu_id()].swap(true, Ordering::Relaxed) {
        arch::timer::arm_virt_timer_at(
            arch::timer::virt_counter() + SLICE_TICKS.load(Ordering::Relaxed),
        );
    }
}

/// Cancels this CPU's timer (yield, syscall, switch, expiry).
pub fn cancel() {
    if ARMED[arch::cpu::cpu_id()].swap(false, Ordering::Relaxed) {
        arch::timer::cancel_virt_timer();
    }
}
