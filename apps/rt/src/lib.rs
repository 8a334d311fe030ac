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
//!   sleep, CPU masks. [`sys::kstats`] reads rseq-os's kernel counters.
//! - [`test`]: what the test apps share: `TEST <name> ok|FAIL` reporting,
//!   exit status, waits with a timeout.
//! - [`rseq`]: every thread is registered for rseq before its code runs,
//!   in the mode the app declares with [`rseq_mode!`] (required in every
//!   app).
#![no_std]

pub mod args;
pub mod fpsimd;
pub mod io;
#[cfg(target_arch = "aarch64")]
pub mod rseq;
pub mod sched;
#[cfg(target_arch = "aarch64")]
pub mod signal;
pub mod sync;
pub mod sys;
#[cfg(target_arch = "aarch64")]
mod tcb;
pub mod test;
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

/// Declares the app's rseq mode; every app must, once, in its crate root:
/// `rt::rseq_mode!(v1)`, `rt::rseq_mode!(v2)`, `rt::rseq_mode!(linux)` or
/// `rt::rseq_mode!(none)`.
///
/// It emits the 8-byte `.rseq_mode` section (the name, NUL-padded) from
/// which the image build picks the kernel's mode (`none` gets a v2
/// kernel), and `__rt_rseq_mode` (1, 2, 3 or 0), which tells the runtime
/// what to register for each thread (see [`rseq`]).
#[macro_export]
macro_rules! rseq_mode {
    (v1) => {
        $crate::__rseq_mode_statics!(*b"v1\0\0\0\0\0\0", 1);
    };
    (v2) => {
        $crate::__rseq_mode_statics!(*b"v2\0\0\0\0\0\0", 2);
    };
    (linux) => {
        $crate::__rseq_mode_statics!(*b"linux\0\0\0", 3);
    };
    (none) => {
        $crate::__rseq_mode_statics!(*b"none\0\0\0\0", 0);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __rseq_mode_statics {
    ($tag:expr, $mode:expr) => {
        #[used]
        #[unsafe(no_mangle)]
        #[unsafe(link_section = ".rseq_mode")]
        static __RT_RSEQ_MODE_TAG: [u8; 8] = $tag;
        #[used]
        #[unsafe(no_mangle)]
        #[allow(non_upper_case_globals)]
        static __rt_rseq_mode: u8 = $mode;
    };
}
