//! Linux errno values (include/uapi/asm-generic/errno-base.h, errno.h);
//! syscalls return them negated in x0. Constants not used yet are kept: the
//! table is the ABI, complete ahead of its users.

pub const EPERM: i64 = 1;
pub const ESRCH: i64 = 3;
pub const EINTR: i64 = 4;
pub const EBADF: i64 = 9;
pub const EAGAIN: i64 = 11;
pub const ENOMEM: i64 = 12;
pub const EFAULT: i64 = 14;
pub const EBUSY: i64 = 16;
pub const EINVAL: i64 = 22;
pub const ENOSYS: i64 = 38;
pub const ENXIO: i64 = 6;
/// Kernel-internal "operation not supported" that Linux returns from prctl
/// for the rseq slice extension (include/linux/errno.h).
pub const ENOTSUPP: i64 = 524;
