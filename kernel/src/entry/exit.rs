//! The kernel's side of the generic exit path: the [`entry::ExitWork`] hooks.
//! Every return to EL0 goes through [`syscall_exit_to_user_mode`] or
//! [`irqentry_exit_to_user_mode`], which run `entry`'s one exit loop.

use crate::process::end::end_app;
use crate::sched::percpu::{self, PerCpu};
use crate::sched::task::{Task, current};
use arch::TrapFrame;
use entry::ExitWork;

/// The current task, as the exit loop sees it. `C` says whether the CPU
/// it runs on is looked up once per exit ([`OnceCpu`]) or at each use
/// ([`AnyCpu`]).
struct KernelExit<C: CpuLookup> {
    task: &'static Task,
    cpu: C,
    /// Returning from an interrupt or exception (not a syscall): only then
    /// may a time slice extension be granted.
    from_irq: bool,
}

/// How an exit finds the CPU its task runs on.
trait CpuLookup {
    fn get(&mut self) -> &'static PerCpu;
    /// After a hook that may have scheduled, the only way the kernel (not
    /// preemptible) moves a task.
    fn rescheduled(&mut self);
}

/// Looks the CPU up at each use: nothing to keep, so an exit whose work
/// goes through the out-of-line loop (which takes the hooks by reference)
/// builds no more of them in memory than it did without.
#[derive(Default)]
struct AnyCpu;

impl CpuLookup for AnyCpu {
    #[inline(always)]
    fn get(&mut self) -> &'static PerCpu {
        percpu::this_cpu()
    }
    fn rescheduled(&mut self) {}
}

/// Looks the CPU up once: the syscall fast exit, where a v1 switch's rseq
/// fast path and the last step both need it, and which never enters the
/// loop.
#[derive(Default)]
struct OnceCpu(Option<&'static PerCpu>);

impl CpuLookup for OnceCpu {
    #[inline(always)]
    fn get(&mut self) -> &'static PerCpu {
        self.0.get_or_insert_with(percpu::this_cpu)
    }
    fn rescheduled(&mut self) {
        self.0 = None;
    }
}

impl<C: CpuLookup + Default> KernelExit<C> {
    fn new(task: &'static Task, from_irq: bool) -> Self {
        KernelExit {
            task,
            cpu: C::default(),
            from_irq,
        }
    }
}

impl<C: CpuLookup> KernelExit<C> {
    /// After a hook that may have scheduled.
    fn rescheduled(&mut self) {
        self.cpu.rescheduled();
    }
}

impl<C: CpuLookup> ExitWork for KernelExit<C> {
    type Regs = TrapFrame;

    /// Images with v1 registrations (v1, `linux`) run TIF_RSEQ alone on
    /// every switch of a v1 task.
    const RSEQ_ALONE_STRAIGHT: bool = !cfg!(feature = "rseq-v2");

    #[inline(always)]
    fn read_thread_flags(&self) -> usize {
        self.task.flags.read()
    }
    fn clear_thread_flag(&self, bit: u32) {
        self.task.flags.clear(bit);
    }
    fn set_thread_flag(&self, bit: u32) {
        self.task.flags.set(bit);
    }
    fn local_irq_enable(&mut self) {
        arch::cpu::local_irq_enable();
    }
    fn local_irq_disable(&mut self) {
        arch::cpu::local_irq_disable();
    }
    fn schedule(&mut self) {
        crate::sched::schedule();
        self.rescheduled();
    }
    fn grant_slice_extension(&mut self, other_work: bool) -> bool {
        let granted = crate::rseq_hooks::slice::grant(self.task, self.from_irq, other_work);
        if granted.unwrap_or_else(|kill| end_app(kill.into())) {
            self.task.flags.clear(entry::tif::TIF_NEED_RESCHED);
            self.task.flags.clear(entry::tif::TIF_NEED_RESCHED_LAZY);
            true
        } else {
            false
        }
    }
    fn do_signal(&mut self, regs: &mut TrapFrame) {
        if let Err(kill) = crate::process::signal::deliver::do_signal(self.task, regs) {
            end_app(kill.into());
        }
        self.rescheduled();
    }
    fn notify_resume(&mut self, regs: &mut TrapFrame) {
        if let Err(kill) = crate::rseq_hooks::hooks::slowpath(self.task, regs) {
            end_app(kill.into());
        }
        self.rescheduled();
    }
    #[inline(always)]
    fn rseq_fastpath(&mut self, regs: &mut TrapFrame) -> bool {
        let cpu = self.cpu.get();
        crate::rseq_hooks::hooks::fastpath(self.task, cpu, regs)
    }
    #[inline(always)]
    fn exit_to_user_mode(&mut self) {
        let cpu = self.cpu.get();
        crate::rseq_hooks::hooks::exit_to_user_mode(self.task, cpu);
    }
}

/// Return path of a syscall.
#[inline(always)]
pub fn syscall_exit_to_user_mode(tf: &mut TrapFrame) {
    entry::syscall_exit_to_user_mode(&mut KernelExit::<AnyCpu>::new(current(), false), tf);
}

/// Return path of a syscall on the fast path, whose frame holds only the
/// registers a call clobbers: `true` when it is done (no work was pending
/// but TIF_RSEQ's fast path, the last step ran), `false` with interrupts
/// masked and the work left, when [`syscall_exit_to_user_mode`] must run on
/// the complete frame. `task` is the current task.
#[inline(always)]
pub fn syscall_exit_without_work(task: &'static Task, tf: &mut TrapFrame) -> bool {
    entry::syscall_exit_to_user_mode_without_work(&mut KernelExit::<OnceCpu>::new(task, false), tf)
}

/// A new thread's first kernel code (from `__arch_ret_from_fork`, through
/// `arch::handlers!`): finish the switch that started it, then the same
/// exit work as any return to EL0.
#[inline(always)]
pub fn ret_from_fork(tf: &mut TrapFrame) {
    crate::sched::finish_task_switch();
    irqentry_exit_to_user_mode(tf);
}

/// Return path of an interrupt or exception taken from EL0.
#[inline(always)]
pub fn irqentry_exit_to_user_mode(tf: &mut TrapFrame) {
    arch::cpu::local_irq_disable();
    entry::irqentry_exit_to_user_mode(&mut KernelExit::<AnyCpu>::new(current(), true), tf);
}
