//! aarch64 support for rseq-os.
//!
//! This crate owns everything that is a fact about the CPU architecture and
//! nothing that is a policy: boot and the EL2→EL1 drop, the exception vectors
//! and the [`TrapFrame`] they save, the MMU and page-table format, the
//! unprivileged user-access helpers and their exception-fixup table, the
//! generic timer, the GIC glue over `arm-gic`, PSCI and semihosting.
//! It knows no board (addresses come in as arguments) and no rseq.
//!
//! The pure parts (ESR decoding, page-table construction, the TrapFrame
//! layout) build and are unit-tested on the host; the rest exists only when
//! compiling for aarch64.
#![cfg_attr(not(test), no_std)]

pub mod context;
pub mod esr;
pub mod handlers;
pub mod mmu;
pub mod trapframe;

#[cfg(target_arch = "aarch64")]
pub mod boot;
#[cfg(target_arch = "aarch64")]
pub mod cpu;
#[cfg(target_arch = "aarch64")]
pub mod gic;
#[cfg(target_arch = "aarch64")]
pub mod psci;
#[cfg(target_arch = "aarch64")]
pub mod semihosting;
#[cfg(target_arch = "aarch64")]
pub mod timer;
#[cfg(target_arch = "aarch64")]
pub mod uaccess;

pub use trapframe::TrapFrame;

/// Size of a page and of the MMU's smallest mapping (4 KiB granule).
pub const PAGE_SIZE: usize = 4096;

/// Most CPUs any supported board has; sizes the per-CPU boot stacks.
pub const MAX_CPUS: usize = 4;

/// Per-CPU boot (and, for now, exception) stack size.
pub const BOOT_STACK_SIZE: usize = 64 * 1024;
