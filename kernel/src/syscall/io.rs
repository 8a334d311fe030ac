//! I/O on the console's file descriptions (`process::files`): the input
//! is always at end of file (there is no console input), the output
//! prints. write(2), writev(2), read(2), readv(2) and ioctl(2); an fd that
//! is not open is `EBADF`, and so is one not open for the direction
//! asked (Linux's FMODE_READ/FMODE_WRITE check).

use super::error::Errno;
use super::user::UserPtr;
use crate::process::files::{self, Description};
use abi::errno::{EBADF, EFAULT, EINVAL, ENOTTY};
use abi::fcntl::O_NONBLOCK;
use abi::ioctl::{FIOCLEX, FIONBIO, FIONCLEX};
use abi::uio::{IOV_MAX, Iovec};

/// Linux caps one read or write at MAX_RW_COUNT; so do we, at a
/// console-sized value (for writev: the sum of the lengths).
const MAX_WRITE: usize = 1 << 20;

/// The description open as `fd` for writing, or `EBADF`.
fn writable(fd: u32) -> Result<&'static Description, Errno> {
    let d = files::fget(fd)?;
    if d.can_write() {
        Ok(d)
    } else {
        Err(Errno(EBADF))
    }
}

/// The description open as `fd` for reading, or `EBADF`.
fn readable(fd: u32) -> Result<&'static Description, Errno> {
    let d = files::fget(fd)?;
    if d.can_read() {
        Ok(d)
    } else {
        Err(Errno(EBADF))
    }
}

/// Writes `count` bytes from `buf` to the console; a fault after some
/// output is a short count, before any `EFAULT`.
fn console_write(buf: UserPtr<u8>, count: usize) -> Result<usize, Errno> {
    let mut chunk = [0u8; 256];
    let mut done = 0;
    while done < count {
        let n = (count - done).min(chunk.len());
        if let Err(e) = buf.read_bytes(done as u64, &mut chunk[..n]) {
            return if done > 0 { Ok(done) } else { Err(e) };
        }
        crate::console::write_bytes(&chunk[..n]);
        done += n;
    }
    Ok(done)
}

/// write(fd, buf, count) to the console output. Out of line: a console
/// write is never the hot path, and so debuggers and backtraces can name
/// it (the gdb check breaks here).
#[inline(never)]
pub fn sys_write(fd: u32, buf: UserPtr<u8>, count: usize) -> Result<usize, Errno> {
    writable(fd)?;
    let count = count.min(MAX_WRITE);
    if !buf.range_ok(count) {
        return Err(Errno(EFAULT));
    }
    console_write(buf, count)
}

/// The `iovcnt` iovecs at `iov`, each checked as Linux's `import_iovec`
/// does: more than IOV_MAX `EINVAL`, an unreadable array `EFAULT`, a
/// length over `isize::MAX` `EINVAL`, a buffer outside the user window
/// `EFAULT`; lengths are cut so that their sum stays within
/// [`MAX_WRITE`]. Calls `each` with every (buffer, length) in order until
/// it returns `false`.
fn for_each_iovec(
    iov: UserPtr<Iovec>,
    iovcnt: u64,
    mut each: impl FnMut(UserPtr<u8>, usize) -> bool,
) -> Result<(), Errno> {
    if iovcnt > IOV_MAX as u64 {
        return Err(Errno(EINVAL));
    }
    // Every check before any I/O, in Linux's order: the array and the
    // lengths first (Linux copies the array in), then the buffers. The
    // array is read again for each pass (it is not copied: IOV_MAX
    // entries do not fit a kernel stack); a thread changing it meanwhile
    // only changes which check fails, the copies are checked anyway.
    let at = |i: u64| UserPtr::<Iovec>::new(iov.addr().wrapping_add(i * 16));
    let mut total = 0usize;
    for i in 0..iovcnt {
        if at(i).read()?.iov_len > isize::MAX as u64 {
            return Err(Errno(EINVAL));
        }
    }
    for i in 0..iovcnt {
        let v = at(i).read()?;
        if !UserPtr::<u8>::new(v.iov_base).range_ok(v.iov_len as usize) {
            return Err(Errno(EFAULT));
        }
    }
    for i in 0..iovcnt {
        let v = at(i).read()?;
        let len = (v.iov_len as usize).min(MAX_WRITE - total);
        total += len;
        if !each(UserPtr::new(v.iov_base), len) {
            break;
        }
    }
    Ok(())
}

/// writev(fd, iov, iovcnt) to the console output: the buffers in order,
/// as one write; a fault stops it with the bytes written so far (`EFAULT`
/// if none).
pub fn sys_writev(fd: u32, iov: UserPtr<Iovec>, iovcnt: u64) -> Result<usize, Errno> {
    writable(fd)?;
    let mut done = 0usize;
    let mut fault = None;
    for_each_iovec(iov, iovcnt, |buf, len| match console_write(buf, len) {
        Ok(n) => {
            done += n;
            n == len
        }
        Err(e) => {
            fault = Some(e);
            false
        }
    })?;
    match fault {
        Some(e) if done == 0 => Err(e),
        _ => Ok(done),
    }
}

/// read(fd, buf, count): the console input is always at end of file (0,
/// at once: a read never sleeps, so there is nothing a signal could
/// interrupt or restart), after Linux's check of the buffer (`EFAULT`).
pub fn sys_read(fd: u32, buf: UserPtr<u8>, count: usize) -> Result<usize, Errno> {
    readable(fd)?;
    if !buf.range_ok(count.min(MAX_WRITE)) {
        return Err(Errno(EFAULT));
    }
    Ok(0)
}

/// readv(fd, iov, iovcnt): as read, after the iovecs are checked as
/// writev checks them.
pub fn sys_readv(fd: u32, iov: UserPtr<Iovec>, iovcnt: u64) -> Result<usize, Errno> {
    readable(fd)?;
    for_each_iovec(iov, iovcnt, |_, _| false)?;
    Ok(0)
}

/// ioctl(fd, request, arg): a closed fd `EBADF`; then the requests every
/// fd takes (Linux's `do_vfs_ioctl`): FIOCLEX and FIONCLEX set and clear
/// close-on-exec, FIONBIO sets O_NONBLOCK from the `int` at `arg`
/// (`EFAULT`); every other request (TCGETS, which `isatty` asks,
/// included) `ENOTTY`: the console is not a terminal.
pub fn sys_ioctl(fd: u32, request: u32, arg: u64) -> Result<i64, Errno> {
    let desc = files::fget(fd)?;
    match request {
        FIOCLEX | FIONCLEX => files::set_cloexec(fd, request == FIOCLEX).map(|()| 0),
        FIONBIO => {
            let on = UserPtr::<i32>::new(arg).read()?;
            desc.set_status(O_NONBLOCK, if on != 0 { O_NONBLOCK } else { 0 });
            Ok(0)
        }
        _ => Err(Errno(ENOTTY)),
    }
}
