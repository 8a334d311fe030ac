//! The interrupt controller: the GIC, which interrupts each CPU takes (its
//! tick and sleepers' deadlines on the EL1 physical timer, PPI 14 / INTID
//! 30; the slice-extension timer; the two IPIs), and sending SGIs. What
//! each interrupt does is the IRQ handler's (`entry/irq.rs`).

use crate::sync::SpinLock;
use arch::gic::{Gic, GicConfig};
use core::sync::atomic::{AtomicU64, Ordering};

/// SGI 0: reschedule (`sched::ipi`).
pub const SGI_RESCHEDULE: u32 = 0;
/// SGI 1: call function (`sched::ipi`).
pub const SGI_CALL_FUNCTION: u32 = 1;

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

/// Counter ticks between two scheduler ticks (CNTFRQ / HZ).
pub fn tick_period() -> u64 {
    TICK_PERIOD.load(Ordering::Relaxed)
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
        gic.enable_sgi(SGI_RESCHEDULE, cpu, IRQ_PRIORITY);
        gic.enable_sgi(SGI_CALL_FUNCTION, cpu, IRQ_PRIORITY);
    }
    crate::sched::clockevent::start_tick();
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

/// Acknowledges the highest-priority pending interrupt, if any.
pub fn ack() -> Option<arch::gic::AckedIrq> {
    GIC.lock().as_mut().and_then(|g| g.ack())
}

/// Signals the end of `irq`'s handling.
pub fn eoi(irq: arch::gic::AckedIrq) {
    if let Some(g) = GIC.lock().as_mut() {
        g.eoi(irq)
    }
}
