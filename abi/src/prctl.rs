//! `prctl(2)` options (include/uapi/linux/prctl.h) this kernel implements.

/// The calling thread's rseq time slice extension.
pub const PR_RSEQ_SLICE_EXTENSION: u64 = 79;
/// `arg2` of [`PR_RSEQ_SLICE_EXTENSION`]: returns the enable flags.
pub const PR_RSEQ_SLICE_EXTENSION_GET: u64 = 1;
/// `arg2` of [`PR_RSEQ_SLICE_EXTENSION`]: sets the enable flags (`arg3`).
pub const PR_RSEQ_SLICE_EXTENSION_SET: u64 = 2;
/// The enable bit of GET's result and SET's `arg3`.
pub const PR_RSEQ_SLICE_EXT_ENABLE: u64 = 1;
