//! `poll(2)`/`ppoll(2)`: `struct pollfd` and the event bits
//! (include/uapi/asm-generic/poll.h).

/// One polled file descriptor.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pollfd {
    /// The fd; negative entries are skipped (`revents` 0).
    pub fd: i32,
    /// Requested events.
    pub events: i16,
    /// Returned events.
    pub revents: i16,
}

/// Data to read.
pub const POLLIN: i16 = 0x001;
/// Writing will not block.
pub const POLLOUT: i16 = 0x004;
/// Error (always reported).
pub const POLLERR: i16 = 0x008;
/// Hang up (always reported).
pub const POLLHUP: i16 = 0x010;
/// Not an open fd (always reported).
pub const POLLNVAL: i16 = 0x020;
/// Normal data to read.
pub const POLLRDNORM: i16 = 0x040;
/// Normal data may be written.
pub const POLLWRNORM: i16 = 0x100;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pollfd_is_eight_bytes() {
        assert_eq!(core::mem::size_of::<Pollfd>(), 8);
        assert_eq!(core::mem::offset_of!(Pollfd, revents), 6);
    }
}
