//! Linux's generic entry code (`kernel/entry/common.c`,
//! `include/linux/entry-common.h`, `include/linux/irq-entry-common.h`) in
//! Rust: both halves of every trip from EL0 into the kernel and back.
//!
//! - [`enter`]: what runs between the exception vector and the syscall or
//!   interrupt handler (`syscall_enter_from_user_mode()`,
//!   `irqentry_enter_from_user_mode()`), over the [`EnterWork`] hooks;
//! - [`exit`]: the one way back, the TIF work loop
//!   (`exit_to_user_mode_loop()`), over the [`ExitWork`] hooks;
//! - [`tif`]: the TIF word both halves read and write;
//! - [`syscall_work`]: the word that says what a task's syscalls must do
//!   besides the call.
//!
//! The work itself (scheduling, signals, rseq, timers) is the kernel's; the
//! order of operations and the decisions are here, pure and host-tested
//! with a fake kernel that records what it is asked to do.
#![no_std]

pub mod enter;
pub mod exit;
pub mod syscall_work;
pub mod tif;

pub use enter::{EnterWork, irqentry_enter_from_user_mode, syscall_enter_from_user_mode};
pub use exit::{
    ExitWork, exit_to_user_mode_loop, exit_to_user_mode_prepare, irqentry_exit_to_user_mode,
    syscall_exit_to_user_mode, syscall_exit_to_user_mode_without_work,
};
