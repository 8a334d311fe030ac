//! ioctl request numbers (include/uapi/asm-generic/ioctls.h).

/// Get the terminal's attributes (what `isatty` asks).
pub const TCGETS: u32 = 0x5401;
/// Get the terminal's window size.
pub const TIOCGWINSZ: u32 = 0x5413;
