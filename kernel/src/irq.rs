//! Interrupt handling: the GIC and the periodic tick on the EL1 physical
//! timer (PPI 14 / INTID 30).

use crate::sync::SpinLock;
use arch::gic::{Gic, GicConfig};
use core::sync::atomic::{AtomicU64, Ordering};

static GIC: SpinLock<Option<Gic>> = SpinLock::new(None);
/// Counter ticks between two scheduler ticks (CNTFRQ / HZ).
static TICK_PERIOD: AtomicU64 = AtomicU64::new(0);
/// Scheduler ticks since boot.
pub static TICKS: AtomicU64 = AtomicU64::new(0);

/// Priority of the timer interrupt (any value the GIC implements below the mask).
const TIMER_PRIORITY: u8 = 0x80;

/// Brings up the GIC and starts the tick on this CPU. Returns the GIC version.
pub fn init(config: GicConfig, cpus: usize, hz: u32) -> u8 {
    let cpu = arch::cpu::cpu_id();
    // SAFETY: the frames come from the DTB or the board and are mapped as
    // device memory by `mm::init_early`; this is the only GIC instance.
    let mut gic = unsafe { Gic::init(config, cpus, cpu) };
    gic.enable_ppi(arch::timer::PHYS_TIMER_INTID, cpu, TIMER_PRIORITY);
    let version = gic.version();
    *GIC.lock() = Some(gic);
    let period = arch::timer::cntfrq() / hz as u64;
    TICK_PERIOD.store(period, Ordering::Relaxed);
    arch::timer::arm_phys_timer(period);
    version
}

/// Handles every pending interrupt (called from the vectors with IRQs masked).
pub fn handle() {
    loop {
        let Some(irq) = GIC.lock().as_mut().and_then(|g| g.ack()) else {
            return;
        };
        match irq.intid() {
            arch::timer::PHYS_TIMER_INTID => tick(),
            other => println!("[irq] unexpected interrupt {other}"),
        }
        if let Some(g) = GIC.lock().as_mut() {
            g.eoi(irq)
        }
    }
}

/// The periodic tick: re-arm, count, and ask for a reschedule.
fn tick() {
    arch::timer::arm_phys_timer(TICK_PERIOD.load(Ordering::Relaxed));
    TICKS.fetch_add(1, Ordering::Relaxed);
    crate::sched::resched_curr();
}
