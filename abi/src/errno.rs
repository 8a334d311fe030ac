//! Linux's errno values (include/uapi/asm-generic/errno-base.h, errno.h,
//! and one of include/linux/errno.h), each with its name and the message
//! `strerror` gives it: the one table the syscall trace prints from.
//! Syscalls return them negated in x0.

/// Defines one `pub const` per entry and [`TABLE`] from one list.
macro_rules! errnos {
    ($($(#[$attr:meta])* $name:ident = $n:literal, $msg:literal;)*) => {
        $(
            $(#[$attr])*
            pub const $name: i64 = $n;
        )*

        /// Every errno here with its name and message, in increasing order.
        const TABLE: &[(i64, &str, &str)] = &[$(($name, stringify!($name), $msg),)*];
    };
}

errnos! {
    EPERM = 1, "Operation not permitted";
    ENOENT = 2, "No such file or directory";
    ESRCH = 3, "No such process";
    EINTR = 4, "Interrupted system call";
    EIO = 5, "Input/output error";
    ENXIO = 6, "No such device or address";
    E2BIG = 7, "Argument list too long";
    ENOEXEC = 8, "Exec format error";
    EBADF = 9, "Bad file descriptor";
    ECHILD = 10, "No child processes";
    EAGAIN = 11, "Resource temporarily unavailable";
    ENOMEM = 12, "Cannot allocate memory";
    EACCES = 13, "Permission denied";
    EFAULT = 14, "Bad address";
    EBUSY = 16, "Device or resource busy";
    EEXIST = 17, "File exists";
    ENODEV = 19, "No such device";
    ENOTDIR = 20, "Not a directory";
    EISDIR = 21, "Is a directory";
    EINVAL = 22, "Invalid argument";
    EMFILE = 24, "Too many open files";
    ENOTTY = 25, "Inappropriate ioctl for device";
    ENOSPC = 28, "No space left on device";
    ESPIPE = 29, "Illegal seek";
    EPIPE = 32, "Broken pipe";
    ERANGE = 34, "Numerical result out of range";
    EDEADLK = 35, "Resource deadlock avoided";
    ENAMETOOLONG = 36, "File name too long";
    ENOSYS = 38, "Function not implemented";
    EOVERFLOW = 75, "Value too large for defined data type";
    EOPNOTSUPP = 95, "Operation not supported";
    ETIMEDOUT = 110, "Connection timed out";
    /// Kernel-internal (include/linux/errno.h), never seen by the app: an
    /// interrupted syscall that restarts unless a handler without
    /// SA_RESTART runs (then `EINTR`).
    ERESTARTSYS = 512, "Unknown error 512";
    /// Kernel-internal: restart whatever the signal's action.
    ERESTARTNOINTR = 513, "Unknown error 513";
    /// Kernel-internal: restart only when no handler runs (else `EINTR`).
    ERESTARTNOHAND = 514, "Unknown error 514";
    /// Kernel-internal: when no handler runs, continue through
    /// `restart_syscall` with the thread's restart block (else `EINTR`).
    ERESTART_RESTARTBLOCK = 516, "Unknown error 516";
    /// Kernel-internal "operation not supported" (not `EOPNOTSUPP`): what
    /// Linux's prctl returns when the rseq time slice extension is disabled.
    ENOTSUPP = 524, "Unknown error 524";
}

/// The largest errno a syscall returns: results in `-MAX_ERRNO..0` are
/// errors, everything else a value (include/linux/err.h).
pub const MAX_ERRNO: i64 = 4095;

/// The name and `strerror` message of `errno` (positive), as strace prints
/// them (`EBADF`, `Bad file descriptor`); `None` for a number not in the
/// table.
pub fn name(errno: i64) -> Option<(&'static str, &'static str)> {
    TABLE
        .binary_search_by_key(&errno, |&(n, _, _)| n)
        .ok()
        .map(|i| (TABLE[i].1, TABLE[i].2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linux_values_and_names() {
        assert_eq!((EPERM, EBADF, EINVAL, ENOTTY, ENOSYS), (1, 9, 22, 25, 38));
        assert_eq!((ETIMEDOUT, ENOTSUPP), (110, 524));
        assert_eq!(
            (
                ERESTARTSYS,
                ERESTARTNOINTR,
                ERESTARTNOHAND,
                ERESTART_RESTARTBLOCK
            ),
            (512, 513, 514, 516)
        );
        assert_eq!(name(EBADF), Some(("EBADF", "Bad file descriptor")));
        assert_eq!(name(ENOSYS), Some(("ENOSYS", "Function not implemented")));
        assert_eq!(name(ENOTTY).unwrap().0, "ENOTTY");
        for missing in [0, 15, 133, 523, 4095, -1] {
            assert_eq!(name(missing), None, "{missing}");
        }
    }

    #[test]
    fn table_is_sorted_and_unique() {
        for w in TABLE.windows(2) {
            assert!(w[0].0 < w[1].0, "{} before {}", w[0].1, w[1].1);
        }
        assert!(TABLE.iter().all(|&(n, _, _)| (1..=MAX_ERRNO).contains(&n)));
    }
}
