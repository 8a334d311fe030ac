//! The app as a process: thread creation (`clone`), thread and group exit,
//! futexes and robust lists, signals, the file descriptor table
//! (`files`), resource limits (`rlimit`), and `end`, the one place that
//! ends the app with its verdict.

#[cfg(target_os = "none")]
pub mod clone;
pub mod clone_flags;
#[cfg(target_os = "none")]
pub mod end;
#[cfg(target_os = "none")]
pub mod exit;
#[cfg(target_os = "none")]
pub mod files;
#[cfg(target_os = "none")]
pub mod futex;
#[cfg(target_os = "none")]
pub mod rlimit;
#[cfg(target_os = "none")]
pub mod robust;
#[cfg(target_os = "none")]
pub mod signal;
pub mod verdict;
