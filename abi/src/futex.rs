//! `futex(2)` operations (include/uapi/linux/futex.h).

/// Sleep while the word holds the expected value.
pub const FUTEX_WAIT: u64 = 0;
/// Wake up to `val` sleepers.
pub const FUTEX_WAKE: u64 = 1;
/// Wake up to `val` waiters, move up to `val2` more to a second word.
pub const FUTEX_REQUEUE: u64 = 3;
/// [`FUTEX_REQUEUE`] if the first word still holds `val3`, else `EAGAIN`.
pub const FUTEX_CMP_REQUEUE: u64 = 4;
/// [`FUTEX_WAIT`] with an absolute timeout and a wake-up bitset (`val3`).
pub const FUTEX_WAIT_BITSET: u64 = 9;
/// [`FUTEX_WAKE`] of the waiters whose bitset shares a bit with `val3`.
pub const FUTEX_WAKE_BITSET: u64 = 10;
/// The bitset plain FUTEX_WAIT and FUTEX_WAKE use: every waiter matches.
pub const FUTEX_BITSET_MATCH_ANY: u32 = u32::MAX;
/// The word is private to the process (this kernel has one process, so
/// private and shared futexes behave the same).
pub const FUTEX_PRIVATE_FLAG: u64 = 128;
/// Timeouts against CLOCK_REALTIME instead of CLOCK_MONOTONIC.
pub const FUTEX_CLOCK_REALTIME: u64 = 256;
/// [`FUTEX_WAIT`] on a private word.
pub const FUTEX_WAIT_PRIVATE: u64 = FUTEX_WAIT | FUTEX_PRIVATE_FLAG;
/// [`FUTEX_WAKE`] on a private word.
pub const FUTEX_WAKE_PRIVATE: u64 = FUTEX_WAKE | FUTEX_PRIVATE_FLAG;
