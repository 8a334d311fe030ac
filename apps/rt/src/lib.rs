//! The user runtime every rseq-os app links (the part of libc an app needs).
//!
//! - `_start` reads the Linux initial stack (argc, argv, envp, auxv) and
//!   calls the app's `main` declared with [`main!`]; its return value is the
//!   exit status.
//! - [`sys`]: syscall wrappers with Linux aarch64 numbers; errors come back
//!   as negative errno values, exactly as the kernel returns them.
//! - [`print!`]/[`println!`] write to fd 1; a panic prints to fd 2 and exits
//!   with status 101 (Rust's convention for a panicked program).
//! - [`thread`]: `clone`d threads with `mmap`ed stacks, `join`, and the
//!   thread pointer (`TPIDR_EL0`) at a per-thread block; [`sync`]: futex
//!   `Mutex` and `Barrier`; [`signal`]: `rt_sigaction` with the runtime's
//!   restorer, masks, `kill`/`tgkill`; [`sched`]: CPU, affinity, yield,
//!   sleep. [`sys::kstats`] reads rseq-os's kernel counters.
#![no_std]

pub mod args;
pub mod io;
pub mod sched;
#[cfg(target_arch = "aarch64")]
pub mod signal;
pub mod sync;
pub mod sys;
#[cfg(target_arch = "aarch64")]
pub mod thread;

pub use args::Args;

#[cfg(target_os = "none")]
mod start;

/// Declares the app's entry function: `fn(Args) -> i32`.
#[macro_export]
macro_rules! main {
    ($f:path) => {
        #[unsafe(no_mangle)]
        extern "Rust" fn __rt_main(args: $crate::Args) -> i32 {
            $f(args)
        }
    };
}
