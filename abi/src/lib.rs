//! The contracts between the rseq-os kernel and everything outside it, each
//! written once so the two sides cannot drift: the kernel depends on this
//! crate, and so do the host tools that produce its inputs (xtask checks an
//! SD card's `cmdline.txt` with the very parser the kernel boots with).
//!
//! Pure `no_std` code without dependencies, unit-tested on the host.
#![no_std]

pub mod cmdline;
