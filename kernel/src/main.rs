//! rseq-os kernel.
//!
//! Built for `aarch64-unknown-none-softfloat` as the kernel image; on the host
//! the same crate builds a stub binary so the pure modules (ELF loading, the
//! initial user stack, command line, fault classification) run as unit tests.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![cfg_attr(not(target_os = "none"), allow(dead_code))]

// Always built: the pure parts (ELF, initial stack, device tree, frame
// bitmap, clone flags, fault classification) run as host unit tests.
#[cfg(target_os = "none")]
#[macro_use]
mod console;

mod boot;
mod entry;
#[cfg(test)]
mod fuzz_tests;
#[cfg(target_os = "none")]
mod irqchip;
mod loader;
mod mm;
#[cfg(target_os = "none")]
mod power;
mod process;
#[cfg(target_os = "none")]
mod rseq_hooks;
#[cfg(target_os = "none")]
mod sched;
#[cfg(target_os = "none")]
mod sync;
#[cfg(target_os = "none")]
mod syscall;

// The symbols the assembly calls, each checked against the type the
// assembly calls it with.
#[cfg(target_os = "none")]
arch::handlers! {
    kernel_main: crate::boot::start::kernel_main,
    secondary_main: crate::boot::secondary::secondary_main,
    el0_sync_fast: crate::entry::traps::el0_sync_fast,
    el0_sync_slow: crate::entry::traps::el0_sync_slow,
    el0_irq: crate::entry::traps::el0_irq,
    el0_bad: crate::entry::traps::el0_bad,
    el1_sync: crate::entry::traps::el1_sync,
    el1_irq: crate::entry::traps::el1_irq,
    el1_bad: crate::entry::traps::el1_bad,
    ret_from_fork: crate::entry::exit::ret_from_fork,
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("the kernel runs on aarch64: build it with `cargo xtask build`");
}

extern crate alloc;
