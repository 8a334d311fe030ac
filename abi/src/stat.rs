//! `struct stat` as arm64 returns it from fstat/newfstatat (the generic
//! layout, include/uapi/asm-generic/stat.h), the `S_IF*` types, and the
//! `*at` calls' `AT_*` flags (include/uapi/linux/fcntl.h).

/// `struct stat`, 128 bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stat {
    pub st_dev: u64,
    pub st_ino: u64,
    pub st_mode: u32,
    pub st_nlink: u32,
    pub st_uid: u32,
    pub st_gid: u32,
    pub st_rdev: u64,
    pub __pad1: u64,
    pub st_size: i64,
    pub st_blksize: i32,
    pub __pad2: i32,
    pub st_blocks: i64,
    pub st_atime: i64,
    pub st_atime_nsec: u64,
    pub st_mtime: i64,
    pub st_mtime_nsec: u64,
    pub st_ctime: i64,
    pub st_ctime_nsec: u64,
    pub __unused4: u32,
    pub __unused5: u32,
}

/// File type bits of `st_mode`.
pub const S_IFMT: u32 = 0o170000;
/// A character device.
pub const S_IFCHR: u32 = 0o020000;

/// `dirfd` meaning the current directory.
pub const AT_FDCWD: i32 = -100;
/// Do not follow a final symbolic link.
pub const AT_SYMLINK_NOFOLLOW: u64 = 0x100;
/// Do not automount.
pub const AT_NO_AUTOMOUNT: u64 = 0x800;
/// An empty path means `dirfd` itself.
pub const AT_EMPTY_PATH: u64 = 0x1000;

/// `makedev(major, minor)` as Linux's `new_encode_dev` (for `st_rdev`).
pub const fn makedev(major: u32, minor: u32) -> u64 {
    ((minor as u64) & 0xff) | ((major as u64) << 8) | (((minor as u64) & !0xff) << 12)
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{offset_of, size_of};

    #[test]
    fn layout_is_the_generic_one() {
        assert_eq!(size_of::<Stat>(), 128);
        assert_eq!(offset_of!(Stat, st_mode), 16);
        assert_eq!(offset_of!(Stat, st_rdev), 32);
        assert_eq!(offset_of!(Stat, st_size), 48);
        assert_eq!(offset_of!(Stat, st_blksize), 56);
        assert_eq!(offset_of!(Stat, st_blocks), 64);
        assert_eq!(offset_of!(Stat, st_atime), 72);
        assert_eq!(offset_of!(Stat, st_ctime_nsec), 112);
    }

    #[test]
    fn the_console_device_number() {
        // /dev/console is character device 5:1.
        assert_eq!(makedev(5, 1), 0x501);
    }
}
