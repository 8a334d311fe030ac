//! Syscall numbers: Linux aarch64 uses the generic table
//! (include/uapi/asm-generic/unistd.h), number in x8, arguments in x0..x5,
//! result in x0. Plus rseq-os's one private call, [`KSTATS`].

pub const WRITE: u64 = 64;
pub const EXIT: u64 = 93;
pub const EXIT_GROUP: u64 = 94;
pub const SET_TID_ADDRESS: u64 = 96;
pub const FUTEX: u64 = 98;
pub const NANOSLEEP: u64 = 101;
pub const CLOCK_GETTIME: u64 = 113;
pub const CLOCK_NANOSLEEP: u64 = 115;
pub const SCHED_SETAFFINITY: u64 = 122;
pub const SCHED_GETAFFINITY: u64 = 123;
pub const SCHED_YIELD: u64 = 124;
pub const KILL: u64 = 129;
pub const TGKILL: u64 = 131;
pub const RT_SIGACTION: u64 = 134;
pub const RT_SIGPROCMASK: u64 = 135;
pub const RT_SIGRETURN: u64 = 139;
pub const PRCTL: u64 = 167;
pub const GETCPU: u64 = 168;
pub const GETPID: u64 = 172;
pub const GETTID: u64 = 178;
pub const MUNMAP: u64 = 215;
pub const CLONE: u64 = 220;
pub const MMAP: u64 = 222;
pub const MEMBARRIER: u64 = 283;
pub const RSEQ: u64 = 293;
/// `rseq_slice_yield()`: ends a granted time slice extension.
pub const RSEQ_SLICE_YIELD: u64 = 471;
/// rseq-os private: `kstats(buf, len)`, see [`crate::kstats`].
pub const KSTATS: u64 = 1000;
