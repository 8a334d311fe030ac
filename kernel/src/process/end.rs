//! The one place that ends the app: prints the verdict (`[exit]` or
//! `[kill]`), the statistics and the `[shutdown]` line, then powers off
//! with the app's status. Every path that ends the app returns a
//! [`Verdict`] up to its caller at the top (the entry glue, the syscall
//! dispatcher, boot), which calls [`end_app`].

use super::verdict::Verdict;
use crate::loader::exec::APP_NAME;
use crate::sched::percpu;
use crate::{mm, power};
use core::sync::atomic::Ordering;

/// Ends the app with `verdict`. Several threads can end it at once (two
/// faults on two CPUs, a fault racing `exit_group`): `power::begin_shutdown`
/// lets the first one report and parks the others.
pub fn end_app(verdict: Verdict) -> ! {
    power::begin_shutdown();
    match verdict {
        Verdict::Exit(status) => println!("[exit] app={APP_NAME} status={status}"),
        Verdict::Kill(k) => println!(
            "[kill] app={APP_NAME} tid={} signal={} {}",
            k.tid,
            k.signal.name(),
            k.why
        ),
    }
    shutdown(verdict.status())
}

/// Prints the statistics and the shutdown line, and powers off.
///
/// `threads_alive` counts the app's threads that had not exited besides
/// the one ending the app (0 when the last thread exited). Each still
/// holds its task and kernel stack, so `heap_used` and `frames` measure
/// what the app left behind only when it is 0.
pub fn shutdown(status: u32) -> ! {
    power::begin_shutdown();
    crate::rseq_hooks::stats::print_stats();
    println!(
        "[shutdown] status={status} ticks={} irqs_el0={} syscalls={} switches={} migrations={} ipis={} frames={} threads_alive={} heap_used={}",
        percpu::sum(|s| &s.ticks),
        percpu::sum(|s| &s.irqs_el0),
        crate::syscall::stats::syscalls(),
        percpu::sum(|s| &s.context_switches),
        crate::sched::MIGRATIONS.load(Ordering::Relaxed),
        percpu::sum(|s| &s.ipi_resched) + percpu::sum(|s| &s.ipi_call),
        mm::frames_used(),
        // The thread ending the app is still counted unless it was the
        // last one to exit (then the count is already 0).
        crate::sched::task::LIVE_THREADS
            .load(Ordering::Relaxed)
            .saturating_sub(1),
        mm::heap_used(),
    );
    power::power_off(status)
}
