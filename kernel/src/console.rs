//! The kernel console (`printk`): the board's PL011, behind a lock.

use crate::sync::SpinLock;
use boards::pl011::Pl011;
use core::fmt::{self, Write};
use core::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};

static CONSOLE: SpinLock<Option<Pl011>> = SpinLock::new(None);

/// The UART's base address, for printing without the lock once the kernel
/// is panicking (0 before `init`).
static UART_BASE: AtomicUsize = AtomicUsize::new(0);
/// Linux's `oops_in_progress`: the kernel is panicking, the console lock
/// may be held by the very code that failed, so printing ignores it.
static OOPS_IN_PROGRESS: AtomicBool = AtomicBool::new(false);

/// Linux's `console_loglevel`: a message of level L is printed when L < it.
static CONSOLE_LOGLEVEL: AtomicU8 = AtomicU8::new(7);
/// `KERN_INFO`.
pub const LOGLEVEL_INFO: u8 = 6;
/// `KERN_DEBUG`.
pub const LOGLEVEL_DEBUG: u8 = 7;

/// Sets the console log level (from `loglevel=` on the command line).
pub fn set_loglevel(level: u8) {
    CONSOLE_LOGLEVEL.store(level, Ordering::Relaxed);
}

/// Would a message of `level` be printed?
pub fn enabled(level: u8) -> bool {
    level < CONSOLE_LOGLEVEL.load(Ordering::Relaxed)
}

/// Starts the console on the board's UART.
pub fn init() {
    (boards::BOARD.early_init)();
    let config = boards::BOARD.uart;
    let base = arch::mmu::phys_to_virt(config.base as u64) as usize;
    // SAFETY: the board's UART, mapped as device memory in the kernel's
    // linear map (`mm::init_early` runs first), driven only through this lock.
    let uart = unsafe { Pl011::new(base) };
    if let Some(clock) = config.clock_hz {
        uart.init(clock, config.baud);
    }
    *CONSOLE.lock() = Some(uart);
    UART_BASE.store(base, Ordering::Relaxed);
}

/// Linux's `bust_spinlocks(1)`: from now on the console prints without
/// its lock, so a panic on a CPU that holds it (or waits for a CPU that
/// does) still gets its report out. Lines of CPUs printing at the same
/// moment may interleave; the kernel is going down anyway.
pub fn bust_spinlocks() {
    OOPS_IN_PROGRESS.store(true, Ordering::SeqCst);
}

/// Runs `f` on the UART: under the console lock, or without it once the
/// kernel is panicking.
fn with_uart(f: impl FnOnce(&Pl011)) {
    if OOPS_IN_PROGRESS.load(Ordering::Relaxed) {
        let base = UART_BASE.load(Ordering::Relaxed);
        if base != 0 {
            // SAFETY: the board's UART, mapped as device memory since
            // `init`; a second handle on it only risks interleaved output.
            f(&unsafe { Pl011::new(base) });
        }
        return;
    }
    if let Some(uart) = CONSOLE.lock().as_ref() {
        f(uart);
    }
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
    with_uart(|uart| {
        let _ = Writer(uart).write_fmt(args);
    });
}

/// Writes raw bytes (from `write(2)`), translating `\n` to `\r\n`.
pub fn write_bytes(bytes: &[u8]) {
    with_uart(|uart| {
        for &b in bytes {
            if b == b'\n' {
                uart.putc(b'\r');
            }
            uart.putc(b);
        }
    });
}

/// Runs `f` with the console lock held (`selftest=fault-under-console-lock`).
pub fn with_lock_held(f: impl FnOnce()) {
    let _guard = CONSOLE.lock();
    f();
}

/// Waits until the UART has sent everything (before power-off).
pub fn flush() {
    with_uart(Pl011::flush);
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

/// `pr_info()`: informational, shown by default.
macro_rules! pr_info {
    ($($arg:tt)*) => {
        if $crate::console::enabled($crate::console::LOGLEVEL_INFO) {
            println!($($arg)*);
        }
    };
}

/// `pr_debug()`: shown with `loglevel=8`.
macro_rules! pr_debug {
    ($($arg:tt)*) => {
        if $crate::console::enabled($crate::console::LOGLEVEL_DEBUG) {
            println!($($arg)*);
        }
    };
}
