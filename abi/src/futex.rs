//! `futex(2)` operations (include/uapi/linux/futex.h).

/// Sleep while the word holds the expected value.
pub const FUTEX_WAIT: u64 = 0;
/// Wake up to `val` sleepers.
pub const FUTEX_WAKE: u64 = 1;
/// The word is private to the process (this kernel has one process, so
/// private and shared futexes behave the same).
pub const FUTEX_PRIVATE_FLAG: u64 = 128;
/// Timeouts against CLOCK_REALTIME instead of CLOCK_MONOTONIC.
pub const FUTEX_CLOCK_REALTIME: u64 = 256;
/// [`FUTEX_WAIT`] on a private word.
pub const FUTEX_WAIT_PRIVATE: u64 = FUTEX_WAIT | FUTEX_PRIVATE_FLAG;
/// [`FUTEX_WAKE`] on a private word.
pub const FUTEX_WAKE_PRIVATE: u64 = FUTEX_WAKE | FUTEX_PRIVATE_FLAG;
