//! Tasks (threads of the one app). For now the app has one thread on CPU 0;
//! the scheduler issue adds more. `current()` lives in TPIDR_EL1, which EL0
//! cannot read, as Linux keeps it in a per-CPU register.

use crate::signal::SigInfo;
use crate::sync::SpinLock;
use aarch64_cpu::registers::{Readable, TPIDR_EL1, Writeable};
use alloc::boxed::Box;
use arch::TrapFrame;
use entry::tif::ThreadFlags;

/// Kernel stack per task: exceptions from EL0 start at its top.
pub const KERNEL_STACK_SIZE: usize = 32 * 1024;

/// One thread (Linux's `task_struct`, the parts we need).
pub struct Task {
    /// Thread ID (the main thread's equals the PID).
    pub tid: u32,
    /// The TIF word the exit loop works from.
    pub flags: ThreadFlags,
    /// A fault-raised signal waiting for delivery on exit to user mode.
    pub pending_fault: SpinLock<Option<SigInfo>>,
    /// Bottom of this task's kernel stack.
    kstack: *mut u8,
}

// SAFETY: the raw stack pointer is owned by the task and only used to find
// its top; all mutable state is atomic or locked.
unsafe impl Sync for Task {}
// SAFETY: as above.
unsafe impl Send for Task {}

impl Task {
    /// A task with a fresh kernel stack. Tasks live until shutdown.
    pub fn new(tid: u32) -> &'static Task {
        let stack = Box::leak(alloc::vec![0u8; KERNEL_STACK_SIZE].into_boxed_slice());
        Box::leak(Box::new(Task {
            tid,
            flags: ThreadFlags::new(),
            pending_fault: SpinLock::new(None),
            kstack: stack.as_mut_ptr(),
        }))
    }

    /// Where the user TrapFrame of this task sits: the top of its kernel
    /// stack, so that every exception from EL0 lands exactly there.
    pub fn user_frame(&self) -> *mut TrapFrame {
        // SAFETY: in bounds of the stack allocation (size > TrapFrame).
        unsafe {
            self.kstack
                .add(KERNEL_STACK_SIZE - core::mem::size_of::<TrapFrame>())
                .cast()
        }
    }
}

/// Makes `task` the one running on this CPU.
pub fn set_current(task: &'static Task) {
    TPIDR_EL1.set(task as *const Task as u64);
}

/// The task running on this CPU, if any.
#[inline(always)]
pub fn try_current() -> Option<&'static Task> {
    let p = TPIDR_EL1.get() as *const Task;
    // SAFETY: TPIDR_EL1 is 0 at boot or holds a leaked, never-freed Task.
    unsafe { p.as_ref() }
}

/// The task running on this CPU; only called on paths that come from EL0.
#[inline(always)]
pub fn current() -> &'static Task {
    try_current().expect("no current task")
}
