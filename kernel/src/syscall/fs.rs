//! There is no filesystem: a path names nothing (`ENOENT`), and the
//! console is the only open file (`process::files`), character device 5:1
//! as Linux's `/dev/console`. Enough for glibc's start-up, which asks
//! `readlinkat("/proc/self/exe")` and stats stdout to size its buffer.

use super::error::Errno;
use super::user::UserPtr;
use abi::errno::{EBADF, EINVAL, ENOENT};
use abi::stat::{AT_EMPTY_PATH, AT_NO_AUTOMOUNT, AT_SYMLINK_NOFOLLOW, S_IFCHR, Stat, makedev};

/// The status of open fd `fd` (the console), or `EBADF`.
fn console_stat(fd: i64) -> Result<Stat, Errno> {
    let fd = u32::try_from(fd).map_err(|_| Errno(EBADF))?;
    crate::process::files::fget(fd)?;
    Ok(Stat {
        st_mode: S_IFCHR | 0o620,
        st_nlink: 1,
        st_rdev: makedev(5, 1),
        st_blksize: 1024,
        ..Stat::default()
    })
}

/// Whether the path at `path` is empty; `EFAULT` if its first byte cannot
/// be read (Linux's `getname`).
fn path_is_empty(path: UserPtr<u8>) -> Result<bool, Errno> {
    let mut first = [0u8; 1];
    path.read_bytes(0, &mut first)?;
    Ok(first[0] == 0)
}

/// newfstatat(dirfd, path, statbuf, flags): an empty path with
/// AT_EMPTY_PATH stats `dirfd` (an fd not open `EBADF`); any other path
/// `ENOENT`; unknown flags `EINVAL`.
pub fn sys_newfstatat(
    dirfd: i32,
    path: UserPtr<u8>,
    statbuf: UserPtr<Stat>,
    flags: u64,
) -> Result<(), Errno> {
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH) != 0 {
        return Err(Errno(EINVAL));
    }
    if !path_is_empty(path)? || flags & AT_EMPTY_PATH == 0 {
        return Err(Errno(ENOENT));
    }
    statbuf.write(console_stat(i64::from(dirfd))?)
}

/// fstat(fd, statbuf).
pub fn sys_fstat(fd: u32, statbuf: UserPtr<Stat>) -> Result<(), Errno> {
    statbuf.write(console_stat(i64::from(fd))?)
}

/// readlinkat(dirfd, path, buf, bufsiz): a size ≤ 0 `EINVAL`, else
/// `ENOENT` (after the path is read, `EFAULT`).
pub fn sys_readlinkat(
    dirfd: i32,
    path: UserPtr<u8>,
    buf: UserPtr<u8>,
    bufsiz: i32,
) -> Result<usize, Errno> {
    let _ = (dirfd, buf);
    if bufsiz <= 0 {
        return Err(Errno(EINVAL));
    }
    path_is_empty(path)?;
    Err(Errno(ENOENT))
}
