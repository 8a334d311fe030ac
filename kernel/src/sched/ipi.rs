//! Inter-processor interrupts (SGIs): [`SGI_RESCHEDULE`] makes the target
//! look at its run queue on the way out of the interrupt;
//! [`SGI_CALL_FUNCTION`] runs requested work (`CALL_*` bits) on the target
//! and is waited for by the sender.

use super::percpu::{self, PerCpu};
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

/// Sends the reschedule IPI to `cpu`.
pub fn send_reschedule(cpu: usize) {
    crate::irqchip::send_sgi(SGI_RESCHEDULE, cpu);
}

/// Runs `kinds` of work on each CPU in `mask` (never this one) and waits
/// until every one of them has done it.
pub fn call_function_many(mask: u64, kinds: u64) {
    let me = arch::cpu::cpu_id();
    let mut waits = [0u64; arch::MAX_CPUS];
    for c in percpu::online().filter(|c| c.id != me && mask & (1 << c.id) != 0) {
        c.call_kinds.fetch_or(kinds, Ordering::SeqCst);
        waits[c.id] = c.call_req.fetch_add(1, Ordering::SeqCst) + 1;
        crate::irqchip::send_sgi(SGI_CALL_FUNCTION, c.id);
    }
    for c in percpu::online() {
        if waits[c.id] != 0 {
            while c.call_done.load(Ordering::Acquire) < waits[c.id] {
                arch::cpu::cpu_relax();
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
        crate::irqchip::try_send_sgi(SGI_CALL_FUNCTION, c.id);
    }
    let deadline = arch::timer::counter() + arch::timer::cntfrq() / 10;
    for c in percpu::online().filter(|c| c.id != me) {
        while !c.stopped.load(Ordering::Acquire) && arch::timer::counter() < deadline {
            arch::cpu::cpu_relax();
        }
    }
}

/// The call-function IPI handler: runs `work` with the requested `CALL_*`
/// kinds (the IRQ layer knows who does what), then acknowledges them.
pub fn handle_call_function(cpu: &PerCpu, work: impl FnOnce(u64)) {
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
    work(kinds);
    cpu.call_done.fetch_max(req, Ordering::Release);
}
