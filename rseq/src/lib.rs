//! The kernel side of restartable sequences (rseq) for rseq-os.
//!
//! [`uapi`] is Linux's rseq user ABI (`include/uapi/linux/rseq.h` plus the
//! syscall, prctl, membarrier and auxv numbers an rseq user needs), byte for
//! byte, so an unmodified Linux program and our own runtime see the same
//! structures. The rest of the crate (events, fast and slow path, critical
//! section validation and abort, slice extension) is pure logic over traits
//! for user memory, the current task and the clock, so it runs unchanged in
//! the kernel and in host unit tests (DESIGN §1, §3).
#![no_std]

pub mod uapi;
