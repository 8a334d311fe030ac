//! Secondary CPUs and inter-processor interrupts.
//!
//! Bring-up: PSCI CPU_ON on virt, the spin table on the Pi 4 (the firmware
//! parks CPUs 1–3 reading 0xe0/0xe8/0xf0). Both enter `secondary_entry`
//! (arch/src/boot.s), which turns the MMU on and calls [`secondary_main`].
//!
//! IPIs are SGIs: [`SGI_RESCHEDULE`] makes the target look at its run queue
//! on the way out of the interrupt; [`SGI_CALL_FUNCTION`] runs requested
//! work (`CALL_*` bits) on the target and is waited for by the sender.

use crate::percpu::{self, PerCpu};
use crate::task::{Task, set_current};
use core::sync::atomic::Ordering;

/// SGI 0: reschedule.
pub const SGI_RESCHEDULE: u32 = 0;
/// SGI 1: call function.
pub const SGI_CALL_FUNCTION: u32 = 1;

/// Call-function work: a full memory barrier (membarrier).
pub const CALL_MEMBARRIER: u64 = 1 << 0;
/// Call-function work: membarrier with rseq (also raises the rseq event that
/// restarts the target thread's critical section).
pub const CALL_MEMBARRIER_RSEQ: u64 = 1 << 1;
/// Call-function work: park for good (shutdown; Linux's `smp_send_stop`).
/// Never acknowledged through `call_done`: see [`stop_other_cpus`].
pub const CALL_STOP: u64 = 1 << 2;

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
            core::hint::spin_loop();
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
    crate::irq::init_this_cpu();
    percpu::cpu(cpu).online.store(true, Ordering::Release);
    idle
}

/// Rust entry of CPUs 1..3 (from arch/src/boot.s through
/// `arch::handlers!`, MMU on, IRQs masked).
pub fn secondary_main(cpu: u64, _entry_el: u64) -> ! {
    if crate::boot::pan_enabled() {
        arch::cpu::enable_pan();
    }
    cpu_up(cpu as usize);
    crate::sched::cpu_idle()
}

/// Sends the reschedule IPI to `cpu`.
pub fn send_reschedule(cpu: usize) {
    crate::irq::send_sgi(SGI_RESCHEDULE, cpu);
}

/// Runs `kinds` of work on each CPU in `mask` (never this one) and waits
/// until every one of them has done it.
pub fn call_function_many(mask: u64, kinds: u64) {
    let me = arch::cpu::cpu_id();
    let mut waits = [0u64; arch::MAX_CPUS];
    for c in percpu::online().filter(|c| c.id != me && mask & (1 << c.id) != 0) {
        c.call_kinds.fetch_or(kinds, Ordering::SeqCst);
        waits[c.id] = c.call_req.fetch_add(1, Ordering::SeqCst) + 1;
        crate::irq::send_sgi(SGI_CALL_FUNCTION, c.id);
    }
    for c in percpu::online() {
        if waits[c.id] != 0 {
            while c.call_done.load(Ordering::Acquire) < waits[c.id] {
                core::hint::spin_loop();
            }
        }
    }
}

/// Linux's `smp_send_stop()`: parks every other online CPU with its
/// interrupts masked, so that once the app has ended (exit, `[kill]`) none
/// of its other threads runs, prints or makes a syscall while the kernel
/// reports and powers off. Waits up to 100 ms of counter time for them: a
/// CPU spinning with interrupts masked (waiting for this one, say) cannot
/// take the IPI, and shutdown must go on regardless.
pub fn stop_other_cpus() {
    let me = arch::cpu::cpu_id();
    for c in percpu::online().filter(|c| c.id != me) {
        c.call_kinds.fetch_or(CALL_STOP, Ordering::SeqCst);
        // Bounded: the stop must go on even when the GIC lock's holder is
        // the CPU that panicked.
        crate::irq::try_send_sgi(SGI_CALL_FUNCTION, c.id);
    }
    let deadline = arch::timer::counter() + arch::timer::cntfrq() / 10;
    for c in percpu::online().filter(|c| c.id != me) {
        while !c.stopped.load(Ordering::Acquire) && arch::timer::counter() < deadline {
            core::hint::spin_loop();
        }
    }
}

/// The call-function IPI handler.
pub fn handle_call_function(cpu: &PerCpu) {
    if cpu.call_kinds.load(Ordering::SeqCst) & CALL_STOP != 0 {
        // Not counted in `ipi_call`: the shutdown line's IPI total is the
        // app's.
        cpu.stopped.store(true, Ordering::Release);
        arch::cpu::halt();
    }
    cpu.stats.ipi_call.fetch_add(1, Ordering::Relaxed);
    // Read the request number first: every request up to it has set its
    // kinds before bumping it, so the swap below sees them.
    let req = cpu.call_req.load(Ordering::SeqCst);
    let kinds = cpu.call_kinds.swap(0, Ordering::SeqCst);
    if kinds & (CALL_MEMBARRIER | CALL_MEMBARRIER_RSEQ) != 0 {
        crate::membarrier::ipi(cpu, kinds);
    }
    cpu.call_done.fetch_max(req, Ordering::Release);
}
