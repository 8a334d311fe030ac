//! Output: write(2) to the console.

use super::error::Errno;
use super::user::UserPtr;
use abi::errno::{EBADF, EFAULT};

/// Linux caps one write at MAX_RW_COUNT; so do we, at a console-sized value.
const MAX_WRITE: usize = 1 << 20;

/// write(fd, buf, count) to the console (fd 1 and 2 only). Out of line: a
/// console write is never the hot path, and so debuggers and backtraces
/// can name it (the gdb check breaks here).
#[inline(never)]
pub fn sys_write(fd: u32, buf: UserPtr<u8>, count: usize) -> Result<usize, Errno> {
    if fd != 1 && fd != 2 {
        return Err(Errno(EBADF));
    }
    let count = count.min(MAX_WRITE);
    if !buf.access_ok(count) {
        return Err(Errno(EFAULT));
    }
    let mut chunk = [0u8; 256];
    let mut done = 0;
    while done < count {
        let n = (count - done).min(chunk.len());
        if let Err(e) = buf.read_bytes(done as u64, &mut chunk[..n]) {
            // A fault after some output is a short write, as in Linux.
            return if done > 0 { Ok(done) } else { Err(e) };
        }
        crate::console::write_bytes(&chunk[..n]);
        done += n;
    }
    Ok(done)
}
