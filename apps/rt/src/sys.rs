//! Raw syscalls (Linux aarch64: number in x8, arguments x0..x5, `svc #0`,
//! result in x0, negative errno on error) and typed wrappers.

/// Syscall numbers (include/uapi/asm-generic/unistd.h).
pub mod nr {
    pub const WRITE: u64 = 64;
    pub const EXIT: u64 = 93;
    pub const EXIT_GROUP: u64 = 94;
    pub const CLOCK_GETTIME: u64 = 113;
    pub const GETPID: u64 = 172;
    pub const GETTID: u64 = 178;
}

/// errno values the tests compare against.
pub mod errno {
    pub const EBADF: i64 = 9;
    pub const EFAULT: i64 = 14;
    pub const EINVAL: i64 = 22;
    pub const ENOSYS: i64 = 38;
}

/// A syscall with up to six arguments.
#[inline(always)]
pub fn syscall6(nr: u64, a: [u64; 6]) -> i64 {
    let ret: i64;
    #[cfg(target_arch = "aarch64")]
    // SAFETY: `svc #0` enters the kernel, which validates every argument;
    // only x0 is changed on return.
    unsafe {
        core::arch::asm!(
            "svc #0",
            inlateout("x0") a[0] => ret,
            in("x1") a[1], in("x2") a[2], in("x3") a[3], in("x4") a[4], in("x5") a[5],
            in("x8") nr,
            options(nostack),
        );
    }
    #[cfg(not(target_arch = "aarch64"))]
    {
        let _ = (nr, a);
        ret = -errno::ENOSYS;
    }
    ret
}

/// A syscall with up to three arguments.
#[inline(always)]
pub fn syscall3(nr: u64, a0: u64, a1: u64, a2: u64) -> i64 {
    syscall6(nr, [a0, a1, a2, 0, 0, 0])
}

/// write(2) of a buffer.
pub fn write(fd: u64, buf: &[u8]) -> i64 {
    syscall3(nr::WRITE, fd, buf.as_ptr() as u64, buf.len() as u64)
}

/// write(2) with a raw pointer (for tests of bad pointers).
pub fn write_raw(fd: u64, ptr: u64, len: u64) -> i64 {
    syscall3(nr::WRITE, fd, ptr, len)
}

/// exit_group(2).
pub fn exit_group(status: i32) -> ! {
    syscall3(nr::EXIT_GROUP, status as u64, 0, 0);
    unreachable!("exit_group returned")
}

/// getpid(2).
pub fn getpid() -> i64 {
    syscall3(nr::GETPID, 0, 0, 0)
}

/// gettid(2).
pub fn gettid() -> i64 {
    syscall3(nr::GETTID, 0, 0, 0)
}

/// `struct timespec`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timespec {
    pub tv_sec: i64,
    pub tv_nsec: i64,
}

/// `CLOCK_MONOTONIC`.
pub const CLOCK_MONOTONIC: u64 = 1;

/// clock_gettime(2) into a raw pointer; returns 0 or -errno.
pub fn clock_gettime_raw(clock: u64, ts: u64) -> i64 {
    syscall3(nr::CLOCK_GETTIME, clock, ts, 0)
}

/// clock_gettime(CLOCK_MONOTONIC).
pub fn monotonic() -> Timespec {
    let mut ts = Timespec::default();
    clock_gettime_raw(CLOCK_MONOTONIC, &mut ts as *mut Timespec as u64);
    ts
}

/// The virtual counter and its frequency, readable at EL0 (CNTKCTL_EL1.EL0VCTEN).
#[cfg(target_arch = "aarch64")]
pub fn counter() -> (u64, u64) {
    let (cnt, frq): (u64, u64);
    // SAFETY: reading EL0-accessible counter registers.
    unsafe {
        core::arch::asm!("isb", "mrs {}, cntvct_el0", "mrs {}, cntfrq_el0", out(reg) cnt, out(reg) frq, options(nostack))
    };
    (cnt, frq)
}
