//! The kernel's glue to the `rseq` crate: user memory through the checked
//! user-access helpers, this CPU's statistics, debug mode, and the hooks the
//! scheduler, the exit loop, signal delivery, membarrier and the syscall
//! table call. The rseq semantics themselves live in `rseq/`.
//!
//! The image is built for one mode (`rseq::MODE`, cargo feature `rseq-v1`,
//! `rseq-v2` or `rseq-linux` of this crate, chosen by the app's
//! declaration at image build time); in a `linux` image each
//! registration's length picks its version at run time.
//!
//! A task's rseq state is touched only by the CPU running it (or switching
//! it in, under the `on_cpu` protocol), with IRQs masked, so that a
//! membarrier IPI on the same CPU cannot interleave.

pub mod access;
pub mod hooks;
pub mod slice;
pub mod stats;
pub mod syscalls;
pub mod timer;
