//! Formatted output to fd 1 and 2, through `write(2)`.

use core::fmt::{self, Write};

/// Formats into a stack buffer and writes it with as few syscalls as fit.
pub struct FdWriter {
    fd: u64,
    buf: [u8; 256],
    len: usize,
}

impl FdWriter {
    /// A writer for `fd`.
    pub const fn new(fd: u64) -> Self {
        FdWriter {
            fd,
            buf: [0; 256],
            len: 0,
        }
    }

    /// Writes out what is buffered.
    pub fn flush(&mut self) {
        if self.len > 0 {
            crate::sys::write(self.fd, &self.buf[..self.len]);
            self.len = 0;
        }
    }
}

impl Write for FdWriter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &b in s.as_bytes() {
            if self.len == self.buf.len() {
                self.flush();
            }
            self.buf[self.len] = b;
            self.len += 1;
        }
        Ok(())
    }
}

#[doc(hidden)]
pub fn _print(fd: u64, args: fmt::Arguments) {
    let mut w = FdWriter::new(fd);
    let _ = w.write_fmt(args);
    w.flush();
}

/// Prints to standard output.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => ($crate::io::_print(1, format_args!($($arg)*)));
}

/// Prints a line to standard output.
#[macro_export]
macro_rules! println {
    () => ($crate::print!("\n"));
    ($($arg:tt)*) => ($crate::io::_print(1, format_args!("{}\n", format_args!($($arg)*))));
}

/// Prints a line to standard error.
#[macro_export]
macro_rules! eprintln {
    ($($arg:tt)*) => ($crate::io::_print(2, format_args!("{}\n", format_args!($($arg)*))));
}
