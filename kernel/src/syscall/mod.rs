//! System calls: Linux aarch64 numbers, arguments in x0..x5, number in x8,
//! result (or negative errno) in x0. [`table`] lists them, [`define`] makes
//! the dispatch from it, handlers return `Result<_, Errno>` (or a verdict
//! that ends the app, handed to `process::end`); the handlers that belong to no
//! subsystem (`io`, `time`, `info`) live beside them.

pub mod define;
pub mod error;
mod info;
mod io;
pub mod stats;
mod table;
mod time;
pub mod user;

use abi::errno::ENOSYS;
use arch::TrapFrame;
use core::sync::atomic::Ordering;

/// Runs the syscall in `tf` and stores its result in x0.
#[inline(always)]
pub fn invoke(tf: &mut TrapFrame) {
    stats::SYSCALLS.fetch_add(1, Ordering::Relaxed);
    let nr = tf.regs[8];
    tf.orig_x0 = tf.regs[0];
    tf.syscallno = nr as i64;
    tf.regs[0] = match table::SYS_CALL_TABLE.get(nr as usize) {
        Some(f) => f(tf),
        None => -ENOSYS,
    } as u64;
}
