//! The syscall work word (Linux's `thread_info.syscall_work` and its
//! `SYSCALL_WORK_*` bits): what a task's syscalls must do besides the call
//! itself. A syscall tests the whole word once; only a task with a bit set
//! pays for the work behind it. The kernel keeps each task's word in step
//! with what the bits stand for, so that no entry path has to look
//! anywhere else, the assembly fast lane included.
//!
//! Linux keeps `rseq_debug=1` in a static key; rseq-os gives it a bit
//! here, set in every task when the kernel boots with it, so that the
//! common syscall tests one word instead of a word and a global.

use core::sync::atomic::{AtomicU32, Ordering};

/// `strace=1`: every syscall is traced (Linux's
/// `SYSCALL_WORK_SYSCALL_TRACE` stands for ptrace's tracer; this kernel's
/// tracer is the console).
pub const SYSCALL_WORK_SYSCALL_TRACE: u32 = 1 << 0;
/// `rseq_debug=1`: no syscall from inside a critical section.
pub const SYSCALL_WORK_RSEQ_DEBUG: u32 = 1 << 1;
/// The task enabled the time slice extension (Linux's
/// `SYSCALL_WORK_SYSCALL_RSEQ_SLICE`): a syscall during a grant aborts it.
pub const SYSCALL_WORK_SYSCALL_RSEQ_SLICE: u32 = 1 << 2;

/// A task's syscall work word. Written by the task itself (a prctl or an
/// rseq registration) or before it first runs; read at its syscall entries.
#[derive(Debug, Default)]
pub struct SyscallWork(AtomicU32);

impl SyscallWork {
    /// A word with `bits` set.
    pub const fn new(bits: u32) -> Self {
        SyscallWork(AtomicU32::new(bits))
    }
    /// The bits set.
    #[inline(always)]
    pub fn read(&self) -> u32 {
        self.0.load(Ordering::Relaxed)
    }
    /// Sets (`on`) or clears the bits of `mask`.
    pub fn update(&self, mask: u32, on: bool) {
        if on {
            self.0.fetch_or(mask, Ordering::Relaxed);
        } else {
            self.0.fetch_and(!mask, Ordering::Relaxed);
        }
    }
    /// Replaces the whole word (a task that is not running yet).
    pub fn store(&self, bits: u32) {
        self.0.store(bits, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_touches_only_its_bits() {
        let w = SyscallWork::new(SYSCALL_WORK_SYSCALL_TRACE);
        w.update(SYSCALL_WORK_SYSCALL_RSEQ_SLICE, true);
        assert_eq!(
            w.read(),
            SYSCALL_WORK_SYSCALL_TRACE | SYSCALL_WORK_SYSCALL_RSEQ_SLICE
        );
        w.update(SYSCALL_WORK_SYSCALL_TRACE, false);
        assert_eq!(w.read(), SYSCALL_WORK_SYSCALL_RSEQ_SLICE);
        w.store(0);
        assert_eq!(w.read(), 0);
    }
}
