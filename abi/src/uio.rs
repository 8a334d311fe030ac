//! Vectored I/O (include/uapi/linux/uio.h): `struct iovec` and its limit.

/// The most iovecs one readv/writev takes (`UIO_MAXIOV`); more is `EINVAL`.
pub const IOV_MAX: usize = 1024;

/// `struct iovec`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Iovec {
    /// Start of the buffer.
    pub iov_base: u64,
    /// Its length in bytes.
    pub iov_len: u64,
}
