//! The syscall counter (`[shutdown] syscalls=`, kstats). One shared
//! atomic: cheaper on the null syscall than finding this CPU's slot.

use core::sync::atomic::AtomicU64;

/// Syscalls handled since boot.
pub static SYSCALLS: AtomicU64 = AtomicU64::new(0);
