//! The generic TIF bits (`include/asm-generic/thread_info_tif.h`): the low 16
//! bits of the word are generic, the high 16 architecture specific.

use core::sync::atomic::{AtomicUsize, Ordering};

/// Callback before returning to user space (the rseq slow path).
pub const TIF_NOTIFY_RESUME: u32 = 0;
/// A signal is pending.
pub const TIF_SIGPENDING: u32 = 1;
/// Signal notification without a signal (task work).
pub const TIF_NOTIFY_SIGNAL: u32 = 2;
/// Rescheduling is necessary.
pub const TIF_NEED_RESCHED: u32 = 4;
/// Lazy rescheduling is necessary.
pub const TIF_NEED_RESCHED_LAZY: u32 = 5;
/// Run the rseq fast path.
pub const TIF_RSEQ: u32 = 11;

/// Mask of [`TIF_NOTIFY_RESUME`].
pub const _TIF_NOTIFY_RESUME: usize = 1 << TIF_NOTIFY_RESUME;
/// Mask of [`TIF_SIGPENDING`].
pub const _TIF_SIGPENDING: usize = 1 << TIF_SIGPENDING;
/// Mask of [`TIF_NOTIFY_SIGNAL`].
pub const _TIF_NOTIFY_SIGNAL: usize = 1 << TIF_NOTIFY_SIGNAL;
/// Mask of [`TIF_NEED_RESCHED`].
pub const _TIF_NEED_RESCHED: usize = 1 << TIF_NEED_RESCHED;
/// Mask of [`TIF_NEED_RESCHED_LAZY`].
pub const _TIF_NEED_RESCHED_LAZY: usize = 1 << TIF_NEED_RESCHED_LAZY;
/// Mask of [`TIF_RSEQ`].
pub const _TIF_RSEQ: usize = 1 << TIF_RSEQ;

/// Every bit that keeps a thread from returning to user mode directly
/// (Linux's `EXIT_TO_USER_MODE_WORK`).
pub const EXIT_TO_USER_MODE_WORK: usize = _TIF_SIGPENDING
    | _TIF_NOTIFY_RESUME
    | _TIF_NEED_RESCHED
    | _TIF_NEED_RESCHED_LAZY
    | _TIF_NOTIFY_SIGNAL
    | _TIF_RSEQ;

/// Work that forbids (and revokes) a time slice extension: everything but
/// the reschedule request itself (Linux's `TIF_SLICE_EXT_DENY`). TIF_RSEQ
/// is in it: the task was already scheduled.
pub const TIF_SLICE_EXT_DENY: usize =
    EXIT_TO_USER_MODE_WORK & !(_TIF_NEED_RESCHED | _TIF_NEED_RESCHED_LAZY);

/// The work handled inside the loop body; TIF_RSEQ is handled after it, by
/// the fast path, once everything else is done.
pub const EXIT_TO_USER_MODE_WORK_LOOP: usize = EXIT_TO_USER_MODE_WORK & !_TIF_RSEQ;

/// A task's TIF word (`thread_info.flags`): set from any CPU, read on exit.
#[derive(Debug, Default)]
pub struct ThreadFlags(AtomicUsize);

impl ThreadFlags {
    /// No bits set.
    pub const fn new() -> Self {
        ThreadFlags(AtomicUsize::new(0))
    }
    /// `read_thread_flags()`.
    #[inline(always)]
    pub fn read(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
    /// `set_tsk_thread_flag()`.
    #[inline(always)]
    pub fn set(&self, bit: u32) {
        self.0.fetch_or(1 << bit, Ordering::Relaxed);
    }
    /// `clear_tsk_thread_flag()`.
    #[inline(always)]
    pub fn clear(&self, bit: u32) {
        self.0.fetch_and(!(1 << bit), Ordering::Relaxed);
    }
    /// Clears every bit (a recycled task starts clean).
    #[inline(always)]
    pub fn clear_all(&self) {
        self.0.store(0, Ordering::Relaxed);
    }

    /// `test_tsk_thread_flag()`.
    #[inline(always)]
    pub fn test(&self, bit: u32) -> bool {
        self.read() & (1 << bit) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linux_numbering() {
        assert_eq!(
            (TIF_NOTIFY_RESUME, TIF_SIGPENDING, TIF_NOTIFY_SIGNAL),
            (0, 1, 2)
        );
        assert_eq!(
            (TIF_NEED_RESCHED, TIF_NEED_RESCHED_LAZY, TIF_RSEQ),
            (4, 5, 11)
        );
        const {
            assert!(
                EXIT_TO_USER_MODE_WORK < 1 << 16,
                "only generic bits are work"
            )
        };
    }

    #[test]
    fn flags_set_clear_test() {
        let f = ThreadFlags::new();
        f.set(TIF_RSEQ);
        f.set(TIF_SIGPENDING);
        assert!(f.test(TIF_RSEQ));
        f.clear(TIF_RSEQ);
        assert_eq!(f.read(), _TIF_SIGPENDING);
    }
}
