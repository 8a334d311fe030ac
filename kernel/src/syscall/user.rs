//! Typed user pointers: a syscall argument that points into EL0 memory,
//! read and written only through the checked LDTR/STTR helpers
//! (`arch::uaccess`), a fault turning into `EFAULT`.

use super::error::Errno;
use abi::errno::EFAULT;
use arch::uaccess;
use core::marker::PhantomData;

/// A `T __user *` argument.
pub struct UserPtr<T> {
    addr: u64,
    _t: PhantomData<*mut T>,
}

impl<T> Clone for UserPtr<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for UserPtr<T> {}

impl<T> core::fmt::Debug for UserPtr<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:#x}", self.addr)
    }
}

impl<T> UserPtr<T> {
    /// The pointer `addr` as the app passed it.
    pub const fn new(addr: u64) -> Self {
        UserPtr {
            addr,
            _t: PhantomData,
        }
    }

    /// The address.
    pub const fn addr(self) -> u64 {
        self.addr
    }

    /// NULL: the argument is absent (where the syscall allows it).
    pub const fn is_null(self) -> bool {
        self.addr == 0
    }
}

impl<T: Copy + Default> UserPtr<T> {
    /// Copies a `T` in (`get_user`).
    pub fn read(self) -> Result<T, Errno> {
        uaccess::get_user(self.addr).map_err(|_| Errno(EFAULT))
    }
}

impl<T: Copy> UserPtr<T> {
    /// Copies `value` out (`put_user`).
    pub fn write(self, value: T) -> Result<(), Errno> {
        uaccess::put_user(self.addr, value).map_err(|_| Errno(EFAULT))
    }
}

impl UserPtr<u8> {
    /// Copies `dst.len()` bytes in from `offset` bytes past the pointer.
    pub fn read_bytes(self, offset: u64, dst: &mut [u8]) -> Result<(), Errno> {
        uaccess::copy_from_user(dst, self.addr.wrapping_add(offset)).map_err(|_| Errno(EFAULT))
    }

    /// Whether `len` bytes from the pointer lie in the user window.
    pub fn access_ok(self, len: usize) -> bool {
        uaccess::access_ok(self.addr, len)
    }

    /// Linux's `access_ok` for a buffer argument: an empty one is fine at
    /// any address below the top of user space (`1 << VA_BITS`; Linux
    /// checks against TASK_SIZE, so NULL passes), a non-empty one must lie
    /// in the user window.
    pub fn range_ok(self, len: usize) -> bool {
        if len == 0 {
            return self.addr <= 1 << arch::mmu::VA_BITS;
        }
        self.access_ok(len)
    }
}

impl UserPtr<u8> {
    /// Copies `src` out to `offset` bytes past the pointer.
    pub fn write_bytes(self, offset: u64, src: &[u8]) -> Result<(), Errno> {
        uaccess::copy_to_user(self.addr.wrapping_add(offset), src).map_err(|_| Errno(EFAULT))
    }
}
