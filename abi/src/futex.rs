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

/// A robust futex word's bit: some thread waits in the kernel for it.
pub const FUTEX_WAITERS: u32 = 0x8000_0000;
/// A robust futex word's bit: its owner died holding it (set by the
/// kernel when it walks the dead thread's robust list).
pub const FUTEX_OWNER_DIED: u32 = 0x4000_0000;
/// A robust futex word's owner TID.
pub const FUTEX_TID_MASK: u32 = 0x3fff_ffff;
/// The most entries of a robust list the kernel walks at thread exit
/// (stops a circular or endless list).
pub const ROBUST_LIST_LIMIT: usize = 2048;

/// `struct robust_list_head` on 64-bit: the list (its `next`, each entry
/// starting with its own `next`; an entry with bit 0 set is a PI futex),
/// the futex word's offset from an entry, and the entry being locked or
/// unlocked right now.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RobustListHead {
    /// `list.next`: the first entry, or the head itself when empty.
    pub next: u64,
    /// `futex_offset`: the word of an entry is at entry + this.
    pub futex_offset: i64,
    /// `list_op_pending`.
    pub list_op_pending: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn robust_list_abi() {
        assert_eq!(size_of::<RobustListHead>(), 24);
        assert_eq!(core::mem::offset_of!(RobustListHead, futex_offset), 8);
        assert_eq!(core::mem::offset_of!(RobustListHead, list_op_pending), 16);
        assert_eq!(FUTEX_WAITERS | FUTEX_OWNER_DIED | FUTEX_TID_MASK, u32::MAX);
        assert_eq!(ROBUST_LIST_LIMIT, 2048);
    }
}
