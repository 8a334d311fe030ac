//! `getrandom(2)` flags (include/uapi/linux/random.h).

/// Do not block when the pool is not ready.
pub const GRND_NONBLOCK: u32 = 0x0001;
/// The blocking pool (obsolete in Linux: the same as the default).
pub const GRND_RANDOM: u32 = 0x0002;
/// Never block, even before the pool is ready; not with [`GRND_RANDOM`].
pub const GRND_INSECURE: u32 = 0x0004;
