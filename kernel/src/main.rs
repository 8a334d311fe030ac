//! rseq-os kernel.
//!
//! Built for `aarch64-unknown-none-softfloat` as the kernel image; on the host
//! the same crate builds a stub binary so the pure modules (ELF loading, the
//! initial user stack, command line, fault classification) run as unit tests.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![cfg_attr(not(target_os = "none"), allow(dead_code))]

mod clone_flags;
mod elf;
#[allow(dead_code)] // the errno table is the ABI, complete ahead of its users
mod fault;
mod fdt;
mod frames;
#[cfg(test)]
mod fuzz_tests;
#[allow(dead_code)] // the AT_* table is complete ahead of its users
mod user_stack;

#[cfg(target_os = "none")]
#[macro_use]
mod console;
#[cfg(target_os = "none")]
mod boot;
#[cfg(target_os = "none")]
mod dtb;
#[cfg(target_os = "none")]
mod exec;
#[cfg(target_os = "none")]
mod exit;
#[cfg(target_os = "none")]
mod futex;
#[cfg(target_os = "none")]
mod irq;
#[cfg(target_os = "none")]
mod membarrier;
#[cfg(target_os = "none")]
mod mm;
#[cfg(target_os = "none")]
mod percpu;
#[cfg(target_os = "none")]
mod power;
#[cfg(target_os = "none")]
mod process;
#[cfg(target_os = "none")]
mod rseq_hooks;
#[cfg(target_os = "none")]
mod sched;
#[cfg(target_os = "none")]
mod signal;
#[cfg(target_os = "none")]
mod smp;
#[cfg(target_os = "none")]
mod sync;
#[cfg(target_os = "none")]
mod syscall;
#[cfg(target_os = "none")]
mod task;
#[cfg(target_os = "none")]
mod traps;
#[cfg(target_os = "none")]
mod vm;

// The symbols the assembly calls, each checked against the type the
// assembly calls it with.
#[cfg(target_os = "none")]
arch::handlers! {
    kernel_main: crate::boot::kernel_main,
    secondary_main: crate::smp::secondary_main,
    el0_sync: crate::traps::el0_sync,
    el0_irq: crate::traps::el0_irq,
    el0_bad: crate::traps::el0_bad,
    el1_sync: crate::traps::el1_sync,
    el1_irq: crate::traps::el1_irq,
    el1_bad: crate::traps::el1_bad,
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("the kernel runs on aarch64: build it with `cargo xtask build`");
}

#[cfg(target_os = "none")]
extern crate alloc;
