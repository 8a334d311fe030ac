//! Power-off with a status: semihosting gives QEMU its exit status; PSCI
//! SYSTEM_OFF or a parked CPU is the fallback on real hardware.

use core::sync::atomic::{AtomicUsize, Ordering};

/// Status after a kernel panic.
pub const STATUS_PANIC: u32 = 255;
/// Status after a boot error (bad command line, bad app image).
pub const STATUS_BOOT_ERROR: u32 = 2;

/// The CPU that is ending the app and powering off (`NO_OWNER`: none yet).
static SHUTDOWN_OWNER: AtomicUsize = AtomicUsize::new(NO_OWNER);
const NO_OWNER: usize = usize::MAX;

/// Claims the end of the app for this CPU and stops the others, before the
/// caller prints why (`[exit]`, `[kill]`). Several threads can end the app
/// at once (two faults on two CPUs, a fault racing `exit_group`): the first
/// one wins and reports; a CPU that loses parks here without printing, so
/// the log holds exactly one verdict and one `[shutdown]` line. Returns
/// only to the winner (again and again: the winner calls it twice).
pub fn begin_shutdown() {
    arch::cpu::local_irq_disable();
    let me = arch::cpu::cpu_id();
    match SHUTDOWN_OWNER.compare_exchange(NO_OWNER, me, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => crate::sched::ipi::stop_other_cpus(),
        Err(owner) if owner == me => {}
        Err(_) => arch::cpu::halt(),
    }
}

/// Powers off with `status` once the console has drained (the caller
/// holds the end: [`begin_shutdown`]).
pub fn power_off(status: u32) -> ! {
    crate::console::flush();
    arch::semihosting::exit(status);
    if boards::BOARD.power_off == boards::PowerOff::Psci {
        arch::psci::system_off();
    }
    arch::cpu::halt()
}

/// The end of every kernel panic (the panic handler, an unexpected kernel
/// exception): takes no lock the failing code could hold — the console
/// prints without its lock, the other CPUs are stopped without waiting
/// for anyone's lock, no counter that needs a lock is read — and powers
/// off with [`STATUS_PANIC`]. A panic overrides an end already under way
/// on another CPU (that CPU may be the one waiting for a lock this one
/// holds).
pub fn panic_shutdown() -> ! {
    arch::cpu::local_irq_disable();
    crate::console::bust_spinlocks();
    let me = arch::cpu::cpu_id();
    if SHUTDOWN_OWNER.swap(me, Ordering::AcqRel) != me {
        crate::sched::ipi::stop_other_cpus();
    }
    println!("[shutdown] status={STATUS_PANIC}");
    power_off(STATUS_PANIC)
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    arch::cpu::local_irq_disable();
    crate::console::bust_spinlocks();
    // Printed before anything else: a panic must never be lost.
    println!("[panic] {info}");
    panic_shutdown()
}
