//! The syscall counter (`[shutdown] syscalls=`, kstats), which also
//! carries the `strace=1` switch in its top bit. One shared atomic: cheaper
//! on the null syscall than finding this CPU's slot, and the dispatch
//! tests the switch in the value its increment already loaded, so tracing
//! costs the untraced path one never-taken branch and no load.

use core::sync::atomic::{AtomicU64, Ordering};

/// Bit 63: `strace=1`. Bits 0..63: syscalls handled since boot.
pub static SYSCALLS: AtomicU64 = AtomicU64::new(0);

/// The top bit of [`SYSCALLS`]: every syscall is traced.
pub const TRACE_BIT: u64 = 1 << 63;

/// Syscalls handled since boot.
pub fn syscalls() -> u64 {
    SYSCALLS.load(Ordering::Relaxed) & !TRACE_BIT
}

/// Turns the syscall trace on or off (`strace=` on the command line).
pub fn set_trace(on: bool) {
    if on {
        SYSCALLS.fetch_or(TRACE_BIT, Ordering::Relaxed);
    } else {
        SYSCALLS.fetch_and(!TRACE_BIT, Ordering::Relaxed);
    }
}
