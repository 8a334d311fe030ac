//! Descriptor calls' constants (include/uapi/asm-generic/fcntl.h with
//! arm64's own O_DIRECTORY..O_LARGEFILE values): fcntl commands, the
//! close-on-exec flag, and the open flags F_GETFL/F_SETFL and dup3 see.

/// Duplicate onto the lowest free fd at or above `arg`.
pub const F_DUPFD: u32 = 0;
/// The fd's flags ([`FD_CLOEXEC`]).
pub const F_GETFD: u32 = 1;
/// Set the fd's flags.
pub const F_SETFD: u32 = 2;
/// The open file description's access mode and status flags.
pub const F_GETFL: u32 = 3;
/// Set the status flags (the ones in [`SETFL_MASK`]).
pub const F_SETFL: u32 = 4;
/// [`F_DUPFD`] with close-on-exec set on the new fd.
pub const F_DUPFD_CLOEXEC: u32 = 1030;

/// The fd flag: close on execve.
pub const FD_CLOEXEC: u64 = 1;

/// Access modes (the low two bits).
pub const O_ACCMODE: u32 = 0o3;
pub const O_RDONLY: u32 = 0o0;
pub const O_WRONLY: u32 = 0o1;
pub const O_RDWR: u32 = 0o2;
/// Writes go to the end.
pub const O_APPEND: u32 = 0o2000;
/// Non-blocking I/O (`O_NDELAY` is the same bit).
pub const O_NONBLOCK: u32 = 0o4000;
/// Signal-driven I/O.
pub const FASYNC: u32 = 0o20000;
/// Direct I/O (arm64's value).
pub const O_DIRECT: u32 = 0o200000;
/// Do not update the access time.
pub const O_NOATIME: u32 = 0o1000000;
/// Close on execve (dup3's only flag).
pub const O_CLOEXEC: u32 = 0o2000000;

/// The status flags F_SETFL may change (Linux's `SETFL_MASK`).
pub const SETFL_MASK: u32 = O_APPEND | O_NONBLOCK | O_DIRECT | O_NOATIME;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arm64_values() {
        assert_eq!((F_DUPFD_CLOEXEC, FD_CLOEXEC), (1030, 1));
        assert_eq!((O_APPEND, O_NONBLOCK, O_DIRECT), (0x400, 0x800, 0x10000));
        assert_eq!((O_NOATIME, O_CLOEXEC), (0x40000, 0x80000));
    }
}
