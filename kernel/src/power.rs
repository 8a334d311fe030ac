//! Power-off with a status: semihosting gives QEMU its exit status; PSCI
//! SYSTEM_OFF or a parked CPU is the fallback on real hardware.

use core::sync::atomic::Ordering;

/// Status after a kernel panic.
pub const STATUS_PANIC: u32 = 255;
/// Status after a boot error (bad command line, bad app image).
pub const STATUS_BOOT_ERROR: u32 = 2;

/// Prints the shutdown line and powers off.
pub fn shutdown(status: u32) -> ! {
    arch::cpu::local_irq_disable();
    println!(
        "[shutdown] status={status} ticks={} irqs_el0={} syscalls={} schedule={} frames={}",
        crate::irq::TICKS.load(Ordering::Relaxed),
        crate::traps::IRQS_FROM_EL0.load(Ordering::Relaxed),
        crate::syscall::SYSCALLS.load(Ordering::Relaxed),
        crate::sched::SCHEDULE_CALLS.load(Ordering::Relaxed),
        crate::mm::frames_used(),
    );
    crate::console::flush();
    arch::semihosting::exit(status);
    if boards::BOARD.power_off == boards::PowerOff::Psci {
        arch::psci::system_off();
    }
    arch::cpu::halt()
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    arch::cpu::local_irq_disable();
    println!("[panic] {info}");
    println!("[shutdown] status={STATUS_PANIC}");
    crate::console::flush();
    arch::semihosting::exit(STATUS_PANIC);
    if boards::BOARD.power_off == boards::PowerOff::Psci {
        arch::psci::system_off();
    }
    arch::cpu::halt()
}
