//! Linux's errno values (include/uapi/asm-generic/errno-base.h, errno.h,
//! and one of include/linux/errno.h). Syscalls return them negated in x0.

pub const EPERM: i64 = 1;
pub const ESRCH: i64 = 3;
pub const EINTR: i64 = 4;
pub const ENXIO: i64 = 6;
pub const EBADF: i64 = 9;
pub const EAGAIN: i64 = 11;
pub const ENOMEM: i64 = 12;
pub const EFAULT: i64 = 14;
pub const EBUSY: i64 = 16;
pub const EINVAL: i64 = 22;
pub const ENOSYS: i64 = 38;
pub const ETIMEDOUT: i64 = 110;
/// Kernel-internal "operation not supported" (not `EOPNOTSUPP`): what
/// Linux's prctl returns when the rseq time slice extension is disabled.
pub const ENOTSUPP: i64 = 524;

/// The largest errno a syscall returns: results in `-MAX_ERRNO..0` are
/// errors, everything else a value (include/linux/err.h).
pub const MAX_ERRNO: i64 = 4095;
