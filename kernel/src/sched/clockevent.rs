//! Each CPU's timer event (Linux's clock event device driven by hrtimers):
//! the EL1 physical timer is programmed to the earlier of this CPU's next
//! scheduler tick and the earliest sleeper deadline it was asked to meet.
//! So a 1 ms `nanosleep` or futex timeout ends after 1 ms, as on Linux,
//! not at the next tick (10 ms at the default hz=100), while the tick
//! itself keeps its period.
//!
//! Both deadlines are counter values. Each is written only by its own CPU
//! with IRQs masked (the timer interrupt, or [`arm_timer`] under
//! `local_irq_save`), so plain per-CPU atomics suffice.

use core::sync::atomic::{AtomicU64, Ordering};

/// No deadline.
const NONE: u64 = u64::MAX;

/// Per CPU: the counter value of the next scheduler tick.
static NEXT_TICK: [AtomicU64; arch::MAX_CPUS] = [const { AtomicU64::new(NONE) }; arch::MAX_CPUS];
/// Per CPU: the earliest sleeper deadline this CPU's timer must meet.
static NEXT_TIMER: [AtomicU64; arch::MAX_CPUS] = [const { AtomicU64::new(NONE) }; arch::MAX_CPUS];

/// What a timer interrupt found due.
pub struct Due {
    /// The scheduler tick (the next one is already set a period on).
    pub tick: bool,
}

/// Starts this CPU's tick one period from now.
pub fn start_tick() {
    let cpu = arch::cpu::cpu_id();
    NEXT_TICK[cpu].store(
        arch::timer::counter() + crate::irqchip::tick_period(),
        Ordering::Relaxed,
    );
    program(cpu);
}

/// Makes this CPU's timer fire by `deadline` (a sleeper's, just queued) if
/// its next event is later.
pub fn arm_timer(deadline: u64) {
    let flags = arch::cpu::local_irq_save();
    let cpu = arch::cpu::cpu_id();
    if deadline < NEXT_TIMER[cpu].load(Ordering::Relaxed) {
        NEXT_TIMER[cpu].store(deadline, Ordering::Relaxed);
        program(cpu);
    }
    arch::cpu::local_irq_restore(flags);
}

/// On this CPU's timer interrupt (IRQs masked): whether the tick came due,
/// moving it a period on if so. The sleeper deadline is consumed either
/// way; [`rearm`] sets the next one.
pub fn expire(now: u64) -> Due {
    let cpu = arch::cpu::cpu_id();
    NEXT_TIMER[cpu].store(NONE, Ordering::Relaxed);
    let tick = now >= NEXT_TICK[cpu].load(Ordering::Relaxed);
    if tick {
        NEXT_TICK[cpu].store(now + crate::irqchip::tick_period(), Ordering::Relaxed);
    }
    Due { tick }
}

/// After the interrupt's work: the timer to the earlier of the next tick
/// and `next_timer`, the earliest deadline still queued (if any). The
/// timer is level-triggered: a future compare value lowers the line before
/// the interrupt's EOI.
pub fn rearm(next_timer: Option<u64>) {
    let cpu = arch::cpu::cpu_id();
    NEXT_TIMER[cpu].store(next_timer.unwrap_or(NONE), Ordering::Relaxed);
    program(cpu);
}

fn program(cpu: usize) {
    let next = NEXT_TICK[cpu]
        .load(Ordering::Relaxed)
        .min(NEXT_TIMER[cpu].load(Ordering::Relaxed));
    arch::timer::arm_phys_timer_at(next);
}
