//! ioctl request numbers (include/uapi/asm-generic/ioctls.h).

/// Get the terminal's attributes (what `isatty` asks).
pub const TCGETS: u32 = 0x5401;
/// Get the terminal's window size.
pub const TIOCGWINSZ: u32 = 0x5413;
/// Set non-blocking I/O from the `int` at `arg` (generic, any fd).
pub const FIONBIO: u32 = 0x5421;
/// Clear the fd's close-on-exec flag (generic, any fd).
pub const FIONCLEX: u32 = 0x5450;
/// Set the fd's close-on-exec flag (generic, any fd).
pub const FIOCLEX: u32 = 0x5451;
