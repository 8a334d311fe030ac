//! The contracts between the rseq-os kernel and everything outside it, each
//! written once so the two sides cannot drift: the Linux aarch64 user ABI
//! the kernel speaks (syscall numbers, errno, structures, flags) — used by
//! the kernel, the EL0 runtime `rt` and `librseq` — and the boot command line,
//! which xtask checks an SD card's `cmdline.txt` with.
//!
//! Pure `no_std` code without dependencies, unit-tested on the host. Module
//! names follow the Linux uapi header each one mirrors.
#![no_std]

pub mod auxv;
pub mod clone;
pub mod cmdline;
pub mod errno;
pub mod fcntl;
pub mod futex;
pub mod ioctl;
pub mod kstats;
pub mod membarrier;
pub mod mman;
pub mod nr;
pub mod poll;
pub mod prctl;
pub mod random;
pub mod resource;
pub mod rseq;
pub mod sched;
pub mod signal;
pub mod stat;
pub mod time;
pub mod uio;
pub mod utsname;
