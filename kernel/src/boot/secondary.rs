//! Secondary CPU bring-up: PSCI CPU_ON on virt, the spin table on the Pi 4 (the firmware
//! parks CPUs 1–3 reading 0xe0/0xe8/0xf0). Both enter `secondary_entry`
//! (arch/src/boot.s), which turns the MMU on and calls [`secondary_main`].

use crate::sched::percpu;
use crate::sched::task::{Task, set_current};
use core::sync::atomic::Ordering;

/// Where the Pi 4 firmware's spin table waits, per CPU (CPU n at 0xd8 + 8n).
const SPIN_TABLE_BASE: u64 = 0xd8;

/// Starts CPUs 1..cpus and waits until each is online.
pub fn start_secondaries(cpus: usize) {
    arch::boot::publish_secondary_boot();
    let entry = arch::boot::secondary_entry_addr();
    for cpu in 1..cpus.min(arch::MAX_CPUS) {
        let started = match boards::BOARD.secondary_start {
            boards::SecondaryStart::Psci => {
                arch::psci::cpu_on(cpu as u64, entry, cpu as u64).is_ok()
            }
            boards::SecondaryStart::SpinTable => {
                crate::mm::write_phys_u64(SPIN_TABLE_BASE + 8 * cpu as u64, entry);
                arch::cpu::sev();
                true
            }
        };
        if !started {
            println!("[smp] CPU {cpu} did not start");
            continue;
        }
        let deadline = arch::timer::counter() + arch::timer::cntfrq(); // 1 s
        while !percpu::cpu(cpu).online.load(Ordering::Acquire) {
            if arch::timer::counter() > deadline {
                println!("[smp] CPU {cpu} did not come online");
                break;
            }
            arch::cpu::cpu_relax();
        }
    }
}

/// Brings this CPU's per-CPU state up: idle thread, GIC, tick. Used by CPU 0
/// too, before it starts the others.
pub fn cpu_up(cpu: usize) -> &'static Task {
    let idle = Task::new_idle(cpu);
    percpu::cpu(cpu)
        .idle
        .store(idle as *const Task as *mut Task, Ordering::Release);
    set_current(idle);
    arch::timer::allow_el0_virtual_counter();
    crate::irqchip::init_this_cpu();
    percpu::cpu(cpu).online.store(true, Ordering::Release);
    idle
}

/// Rust entry of CPUs 1..3 (from arch/src/boot.s through
/// `arch::handlers!`, MMU on, IRQs masked).
pub fn secondary_main(cpu: u64, _entry_el: u64) -> ! {
    if super::pan::pan_enabled() {
        arch::cpu::enable_pan();
    }
    cpu_up(cpu as usize);
    crate::sched::cpu_idle()
}
