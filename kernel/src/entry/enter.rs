//! The kernel's side of generic entry's enter half: the
//! [`entry::EnterWork`] hooks `entry::syscall_enter_from_user_mode` and
//! `entry::irqentry_enter_from_user_mode` call.

use crate::sched::task::Task;
use arch::TrapFrame;
use entry::EnterWork;

/// The current task, as the entry half sees it.
pub struct KernelEnter {
    task: &'static Task,
}

impl KernelEnter {
    #[inline(always)]
    pub fn current() -> Self {
        Self::of(crate::sched::task::current())
    }

    /// `task`, which must be the current task.
    #[inline(always)]
    pub fn of(task: &'static Task) -> Self {
        KernelEnter { task }
    }
}

impl EnterWork for KernelEnter {
    type Regs = TrapFrame;
    type Fatal = rseq::Fatal;
    const NR_RSEQ_SLICE_YIELD: u64 = abi::nr::RSEQ_SLICE_YIELD;

    #[inline(always)]
    fn local_irq_enable(&mut self) {
        arch::cpu::local_irq_enable();
    }
    fn set_thread_flag(&self, bit: u32) {
        self.task.flags.set(bit);
    }
    #[inline(always)]
    fn rseq_note_user_irq_entry(&mut self) {
        crate::rseq_hooks::hooks::note_user_irq_entry(self.task);
    }
    #[inline(always)]
    fn syscall_work(&self) -> u32 {
        self.task.syscall_work.read()
    }
    fn rseq_debug_syscall(&mut self, regs: &TrapFrame) -> Result<(), rseq::Fatal> {
        crate::rseq_hooks::access::debug_syscall(self.task, regs)
    }
    #[inline(always)]
    fn rseq_slice_syscall_entry(&mut self) -> Result<bool, rseq::Fatal> {
        crate::rseq_hooks::slice::slice_syscall_entry(self.task)
    }
    fn rseq_cancel_slice_extension_timer(&mut self) {
        crate::rseq_hooks::timer::cancel();
    }
    fn force_sigsegv(&mut self, why: rseq::Fatal) -> ! {
        crate::process::end::end_app(crate::rseq_hooks::access::die(self.task, why).into())
    }
}
