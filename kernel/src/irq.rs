//! Interrupt handling: the GIC, the per-CPU tick on the EL1 physical timer
//! (PPI 14 / INTID 30), and the IPIs (SGIs, see `smp.rs`).

use crate::percpu;
use crate::sync::SpinLock;
use arch::gic::{Gic, GicConfig};
use core::sync::atomic::{AtomicU64, Ordering};

static GIC: SpinLock<Option<Gic>> = SpinLock::new(None);
/// Counter ticks between two scheduler ticks (CNTFRQ / HZ).
static TICK_PERIOD: AtomicU64 = AtomicU64::new(0);

/// Priority of the timer and the IPIs (any value the GIC implements below the mask).
const IRQ_PRIORITY: u8 = 0x80;

/// Brings up the GIC distributor (once, on CPU 0) and records the tick
/// period. Returns the GIC version.
pub fn init(config: GicConfig, cpus: usize, hz: u32) -> u8 {
    let cpu = arch::cpu::cpu_id();
    // SAFETY: the frames come from the DTB or the board and are mapped as
    // device memory by `mm::init_early`; this is the only GIC instance.
    let gic = unsafe { Gic::init(config, cpus, cpu) };
    let version = gic.version();
    *GIC.lock() = Some(gic);
    TICK_PERIOD.store(arch::timer::cntfrq() / hz as u64, Ordering::Relaxed);
    version
}

/// This CPU's interface, its private interrupts and its tick.
pub fn init_this_cpu() {
    let cpu = arch::cpu::cpu_id();
    {
        let mut gic = GIC.lock();
        let gic = gic.as_mut().expect("GIC initialised");
        gic.init_cpu(cpu);
        gic.enable_ppi(arch::timer::PHYS_TIMER_INTID, cpu, IRQ_PRIORITY);
        // The rseq slice-extension enforcement timer (its own PPI).
        gic.enable_ppi(arch::timer::VIRT_TIMER_INTID, cpu, IRQ_PRIORITY);
        gic.enable_sgi(crate::smp::SGI_RESCHEDULE, cpu, IRQ_PRIORITY);
        gic.enable_sgi(crate::smp::SGI_CALL_FUNCTION, cpu, IRQ_PRIORITY);
    }
    arch::timer::arm_phys_timer(TICK_PERIOD.load(Ordering::Relaxed));
}

/// Sends SGI `sgi` to `cpu`.
pub fn send_sgi(sgi: u32, cpu: usize) {
    if let Some(g) = GIC.lock().as_mut() {
        g.send_sgi(sgi, cpu);
    }
}

/// `send_sgi` for the stop path: gives up after about a millisecond if the
/// GIC lock stays taken (its holder may be the CPU that panicked, or one
/// that will never run again). Returns whether the SGI went out.
pub fn try_send_sgi(sgi: u32, cpu: usize) -> bool {
    let deadline = arch::timer::counter() + arch::timer::cntfrq() / 1000;
    loop {
        if let Some(mut gic) = GIC.try_lock() {
            if let Some(g) = gic.as_mut() {
                g.send_sgi(sgi, cpu);
            }
            return true;
        }
        if arch::timer::counter() >= deadline {
            return false;
        }
        arch::cpu::cpu_relax();
    }
}

/// Handles every pending interrupt (called from the vectors with IRQs masked).
pub fn handle() {
    let cpu = percpu::this_cpu();
    loop {
        let Some(irq) = GIC.lock().as_mut().and_then(|g| g.ack()) else {
            return;
        };
        let eoi = || {
            if let Some(g) = GIC.lock().as_mut() {
                g.eoi(irq)
            }
        };
        // The level-triggered timer is re-armed (line low) before its EOI;
        // an IPI is ended before its work, so that one sent meanwhile is
        // not lost.
        if irq.intid() == arch::timer::PHYS_TIMER_INTID {
            tick(cpu);
            eoi();
            continue;
        }
        if irq.intid() == arch::timer::VIRT_TIMER_INTID {
            crate::rseq_hooks::slice_timer_expired(); // disarms it first
            eoi();
            continue;
        }
        eoi();
        match irq.intid() {
            id if id == crate::smp::SGI_RESCHEDULE => {
                cpu.stats.ipi_resched.fetch_add(1, Ordering::Relaxed);
                crate::sched::resched_curr();
            }
            id if id == crate::smp::SGI_CALL_FUNCTION => crate::smp::handle_call_function(cpu),
            other => println!("[irq] unexpected interrupt {other} on CPU {}", cpu.id),
        }
    }
}

/// The periodic tick: re-arm, count, scheduler work.
fn tick(cpu: &percpu::PerCpu) {
    arch::timer::arm_phys_timer(TICK_PERIOD.load(Ordering::Relaxed));
    let ticks = cpu.stats.ticks.fetch_add(1, Ordering::Relaxed) + 1;
    crate::sched::scheduler_tick(cpu, ticks);
}
