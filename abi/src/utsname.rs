//! `uname(2)`: `struct new_utsname` (include/uapi/linux/utsname.h) and
//! what this kernel reports in it.

/// Bytes in each field, NUL included.
pub const NEW_UTS_LEN: usize = 65;

/// `struct new_utsname`: six NUL-terminated strings.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewUtsname {
    pub sysname: [u8; NEW_UTS_LEN],
    pub nodename: [u8; NEW_UTS_LEN],
    pub release: [u8; NEW_UTS_LEN],
    pub version: [u8; NEW_UTS_LEN],
    pub machine: [u8; NEW_UTS_LEN],
    pub domainname: [u8; NEW_UTS_LEN],
}

impl Default for NewUtsname {
    fn default() -> Self {
        NewUtsname {
            sysname: [0; NEW_UTS_LEN],
            nodename: [0; NEW_UTS_LEN],
            release: [0; NEW_UTS_LEN],
            version: [0; NEW_UTS_LEN],
            machine: [0; NEW_UTS_LEN],
            domainname: [0; NEW_UTS_LEN],
        }
    }
}

/// `sysname`: programs (and glibc) check for Linux.
pub const SYSNAME: &str = "Linux";
/// `nodename`.
pub const NODENAME: &str = "rseq-os";
/// `release`: a Linux version new enough for every minimum a libc checks
/// (glibc 2.36 on aarch64 wants 3.7), and named for what it is.
pub const RELEASE: &str = "7.2.0-rseq-os";
/// `version`.
pub const VERSION: &str = "#1 SMP rseq-os";
/// `machine`.
pub const MACHINE: &str = "aarch64";
/// `domainname`: Linux's default when none is set.
pub const DOMAINNAME: &str = "(none)";

/// A field holding `s` (truncated to 64 bytes), NUL-padded.
pub const fn field(s: &str) -> [u8; NEW_UTS_LEN] {
    let mut f = [0u8; NEW_UTS_LEN];
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && i < NEW_UTS_LEN - 1 {
        f[i] = b[i];
        i += 1;
    }
    f
}

/// What `uname` reports.
pub const UTSNAME: NewUtsname = NewUtsname {
    sysname: field(SYSNAME),
    nodename: field(NODENAME),
    release: field(RELEASE),
    version: field(VERSION),
    machine: field(MACHINE),
    domainname: field(DOMAINNAME),
};

/// The text of a field up to its NUL.
pub fn as_str(f: &[u8; NEW_UTS_LEN]) -> &str {
    let end = f.iter().position(|&b| b == 0).unwrap_or(NEW_UTS_LEN);
    core::str::from_utf8(&f[..end]).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_and_contents() {
        assert_eq!(size_of::<NewUtsname>(), 390);
        assert_eq!(core::mem::offset_of!(NewUtsname, release), 130);
        assert_eq!(core::mem::offset_of!(NewUtsname, machine), 260);
        assert_eq!(as_str(&UTSNAME.sysname), "Linux");
        assert_eq!(as_str(&UTSNAME.release), "7.2.0-rseq-os");
        assert_eq!(as_str(&UTSNAME.machine), "aarch64");
        assert_eq!(field(&"x".repeat(100))[64], 0);
    }
}
