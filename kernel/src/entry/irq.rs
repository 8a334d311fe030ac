//! The IRQ handler: what each interrupt `irqchip` delivers does (the
//! tick and sleepers' deadlines, the slice-extension timer, the IPIs).

use crate::irqchip::{self, SGI_CALL_FUNCTION, SGI_RESCHEDULE};
use crate::sched::percpu;
use core::sync::atomic::Ordering;

/// Handles every pending interrupt (called from the vectors with IRQs masked).
pub fn handle() {
    let cpu = percpu::this_cpu();
    loop {
        let Some(irq) = irqchip::ack() else {
            return;
        };
        let eoi = || irqchip::eoi(irq);
        // The level-triggered timer is re-armed (line low) before its EOI;
        // an IPI is ended before its work, so that one sent meanwhile is
        // not lost.
        if irq.intid() == arch::timer::PHYS_TIMER_INTID {
            timer_interrupt(cpu);
            eoi();
            continue;
        }
        if irq.intid() == arch::timer::VIRT_TIMER_INTID {
            crate::rseq_hooks::slice::slice_timer_expired(); // disarms it first
            eoi();
            continue;
        }
        eoi();
        match irq.intid() {
            SGI_RESCHEDULE => {
                cpu.stats.ipi_resched.fetch_add(1, Ordering::Relaxed);
                crate::sched::resched_curr();
            }
            SGI_CALL_FUNCTION => crate::sched::ipi::handle_call_function(cpu, |kinds| {
                crate::sched::membarrier::ipi(cpu, kinds)
            }),
            other => println!("[irq] unexpected interrupt {other} on CPU {}", cpu.id),
        }
    }
}

/// The physical timer: sleepers whose deadline passed are woken, the timer
/// set to the next tick or deadline, and if the tick came due, its count
/// and the scheduler's work.
fn timer_interrupt(cpu: &percpu::PerCpu) {
    let now = arch::timer::counter();
    let due = crate::sched::clockevent::expire(now);
    crate::sched::clockevent::rearm(crate::sched::run_timers(now));
    if due.tick {
        let ticks = cpu.stats.ticks.fetch_add(1, Ordering::Relaxed) + 1;
        crate::sched::scheduler_tick(cpu, ticks);
    }
}
