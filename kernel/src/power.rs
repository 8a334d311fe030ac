//! Power-off with a status: semihosting gives QEMU its exit status; PSCI
//! SYSTEM_OFF or a parked CPU is the fallback on real hardware.

use crate::percpu;
use core::sync::atomic::Ordering;

/// Status after a kernel panic.
pub const STATUS_PANIC: u32 = 255;
/// Status after a boot error (bad command line, bad app image).
pub const STATUS_BOOT_ERROR: u32 = 2;

/// Prints the shutdown line and powers off.
pub fn shutdown(status: u32) -> ! {
    arch::cpu::local_irq_disable();
    crate::rseq_hooks::print_stats();
    println!(
        "[shutdown] status={status} ticks={} irqs_el0={} syscalls={} switches={} migrations={} ipis={} frames={} heap_used={}",
        percpu::sum(|s| &s.ticks),
        percpu::sum(|s| &s.irqs_el0),
        crate::syscall::SYSCALLS.load(Ordering::Relaxed),
        percpu::sum(|s| &s.context_switches),
        crate::sched::MIGRATIONS.load(Ordering::Relaxed),
        percpu::sum(|s| &s.ipi_resched) + percpu::sum(|s| &s.ipi_call),
        crate::mm::frames_used(),
        crate::mm::heap_used(),
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
