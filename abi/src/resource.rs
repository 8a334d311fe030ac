//! Resource limits (include/uapi/asm-generic/resource.h): `RLIMIT_*`,
//! `struct rlimit64`, and the values this kernel reports.

pub const RLIMIT_CPU: u32 = 0;
pub const RLIMIT_FSIZE: u32 = 1;
pub const RLIMIT_DATA: u32 = 2;
pub const RLIMIT_STACK: u32 = 3;
pub const RLIMIT_CORE: u32 = 4;
pub const RLIMIT_RSS: u32 = 5;
pub const RLIMIT_NPROC: u32 = 6;
pub const RLIMIT_NOFILE: u32 = 7;
pub const RLIMIT_MEMLOCK: u32 = 8;
pub const RLIMIT_AS: u32 = 9;
pub const RLIMIT_LOCKS: u32 = 10;
pub const RLIMIT_SIGPENDING: u32 = 11;
pub const RLIMIT_MSGQUEUE: u32 = 12;
pub const RLIMIT_NICE: u32 = 13;
pub const RLIMIT_RTPRIO: u32 = 14;
pub const RLIMIT_RTTIME: u32 = 15;
/// How many limits there are; a resource at or past it is `EINVAL`.
pub const RLIM_NLIMITS: u32 = 16;

/// No limit.
pub const RLIM_INFINITY: u64 = u64::MAX;

/// `struct rlimit64`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rlimit64 {
    /// Soft limit.
    pub rlim_cur: u64,
    /// Hard limit (ceiling for the soft one).
    pub rlim_max: u64,
}

/// The limits this kernel reports for `resource` (below
/// [`RLIM_NLIMITS`]): Linux's defaults for a process started by a shell —
/// an 8 MiB soft stack, 1024 (soft) and 4096 (hard) files, no limit on
/// the rest.
pub const fn default_limit(resource: u32) -> Rlimit64 {
    match resource {
        RLIMIT_STACK => Rlimit64 {
            rlim_cur: 8 << 20,
            rlim_max: RLIM_INFINITY,
        },
        RLIMIT_NOFILE => Rlimit64 {
            rlim_cur: 1024,
            rlim_max: 4096,
        },
        _ => Rlimit64 {
            rlim_cur: RLIM_INFINITY,
            rlim_max: RLIM_INFINITY,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        assert_eq!(
            (RLIMIT_STACK, RLIMIT_NOFILE, RLIMIT_AS, RLIM_NLIMITS),
            (3, 7, 9, 16)
        );
        assert_eq!(size_of::<Rlimit64>(), 16);
        assert_eq!(default_limit(RLIMIT_STACK).rlim_cur, 8 << 20);
        assert_eq!(default_limit(RLIMIT_NOFILE).rlim_max, 4096);
        assert_eq!(default_limit(RLIMIT_CPU).rlim_cur, RLIM_INFINITY);
    }
}
