//! Syscall numbers the table does not have: `-ENOSYS`, and the number
//! logged once (always on, at the default log level) with its Linux name,
//! so a program that stops on a missing syscall says which.

use abi::errno::ENOSYS;
use core::sync::atomic::{AtomicU64, Ordering};

/// Every number not in the table (Linux's `sys_ni_syscall`).
pub fn sys_ni_syscall(tf: &mut arch::TrapFrame) -> i64 {
    log_unknown(tf.syscallno as u64);
    -ENOSYS
}

/// Numbers below this each have their own bit in [`LOGGED`]; all larger
/// ones share the last bit (one line for all of them).
const LOGGED_NUMBERS: usize = 2048;

/// Which unknown numbers have been logged: a fixed bitmap, no allocation.
static LOGGED: [AtomicU64; LOGGED_NUMBERS / 64] =
    [const { AtomicU64::new(0) }; LOGGED_NUMBERS / 64];

/// Logs an unimplemented syscall number the first time it is called (at
/// info level, shown by default): `[syscall] tid=N unknown syscall NR
/// (linux-name)`, or `(unknown)` for a number Linux does not have.
fn log_unknown(nr: u64) {
    let bit = (nr as usize).min(LOGGED_NUMBERS - 1);
    let mask = 1 << (bit % 64);
    if LOGGED[bit / 64].fetch_or(mask, Ordering::Relaxed) & mask != 0 {
        return;
    }
    pr_info!(
        "[syscall] tid={} unknown syscall {nr} ({})",
        crate::sched::task::current().tid(),
        abi::nr::name(nr).unwrap_or("unknown")
    );
}
