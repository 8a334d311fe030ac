//! The kernel console (`printk`): the board's PL011, behind a lock.

use crate::sync::SpinLock;
use boards::pl011::Pl011;
use core::fmt::{self, Write};

static CONSOLE: SpinLock<Option<Pl011>> = SpinLock::new(None);

/// Starts the console on the board's UART.
pub fn init() {
    // SAFETY: the board's UART address, mapped as device memory (identity
    // before the MMU is on, and in the kernel map after), driven only here.
    let uart = unsafe { Pl011::new(boards::BOARD.uart_base) };
    *CONSOLE.lock() = Some(uart);
}

struct Writer<'a>(&'a Pl011);

impl Write for Writer<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for b in s.bytes() {
            if b == b'\n' {
                self.0.putc(b'\r');
            }
            self.0.putc(b);
        }
        Ok(())
    }
}

/// Writes formatted text to the console.
pub fn print(args: fmt::Arguments) {
    if let Some(uart) = CONSOLE.lock().as_ref() {
        let _ = Writer(uart).write_fmt(args);
    }
}

/// Writes raw bytes (from `write(2)`), translating `\n` to `\r\n`.
pub fn write_bytes(bytes: &[u8]) {
    if let Some(uart) = CONSOLE.lock().as_ref() {
        for &b in bytes {
            if b == b'\n' {
                uart.putc(b'\r');
            }
            uart.putc(b);
        }
    }
}

/// Waits until the UART has sent everything (before power-off).
pub fn flush() {
    if let Some(uart) = CONSOLE.lock().as_ref() {
        uart.flush();
    }
}

/// Prints to the console.
macro_rules! print {
    ($($arg:tt)*) => ($crate::console::print(format_args!($($arg)*)));
}

/// Prints a line to the console.
macro_rules! println {
    () => (print!("\n"));
    ($($arg:tt)*) => ($crate::console::print(format_args!("{}\n", format_args!($($arg)*))));
}
