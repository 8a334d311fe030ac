//! System calls: Linux aarch64 numbers, arguments in x0..x5, number in x8,
//! result (or negative errno) in x0. [`table`] lists them, [`define`] makes
//! the dispatch from it, handlers return `Result<_, Errno>` (or a verdict
//! that ends the app, handed to `process::end`); the handlers that belong to no
//! subsystem (`io`, `fs`, `poll`, `time`, `info`, `random`, `restart`)
//! live beside them, and [`trace`] is `strace=1` and the unknown-number log.

pub mod define;
pub mod error;
mod fs;
mod info;
mod io;
mod ni;
mod poll;
mod random;
mod restart;
pub mod stats;
mod table;
mod time;
pub mod trace;
pub mod user;

use arch::TrapFrame;
use core::sync::atomic::Ordering;

/// Runs syscall `nr` (x8 as the entry read it, Linux's `scno`) with the
/// arguments in `tf` and stores its result in x0.
#[inline(always)]
pub fn invoke(tf: &mut TrapFrame, nr: u64) {
    let count = stats::SYSCALLS.fetch_add(1, Ordering::Relaxed);
    if count & stats::TRACE_BIT != 0 {
        trace::invoke_traced(tf, nr);
        return;
    }
    dispatch(tf, nr);
}

/// The dispatch proper: the slot of `nr` (every number past the table
/// goes to its last slot, `sys_ni_syscall`).
#[inline(always)]
fn dispatch(tf: &mut TrapFrame, nr: u64) {
    tf.orig_x0 = tf.regs[0];
    tf.syscallno = nr as i64;
    let slot = (nr as usize).min(table::SYS_CALL_TABLE.len() - 1);
    tf.regs[0] = table::SYS_CALL_TABLE[slot](tf) as u64;
}
