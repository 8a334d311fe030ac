//! restart_syscall(2): what the exit path runs instead of a sleep that a
//! signal interrupted with `ERESTART_RESTARTBLOCK` and no handler took
//! (it sets x8 to this number and rewinds the pc over `svc`): the rest of
//! that sleep, from the thread's restart block.

use super::error::Errno;
use crate::process::signal::state::RestartBlock;
use crate::sched::task::current;
use abi::errno::EINTR;

/// restart_syscall(): continues the thread's restart block — a relative
/// nanosleep to its end, a futex wait to its timeout — or, with none,
/// `EINTR` (Linux's `do_no_restart_syscall`), as for an app that calls it
/// itself.
pub fn sys_restart_syscall() -> Result<usize, Errno> {
    let block = current().sig.lock().restart;
    match block {
        RestartBlock::None => Err(Errno(EINTR)),
        RestartBlock::Nanosleep { end_ns, rem } => {
            super::time::nanosleep_restart(end_ns, rem).map(|()| 0)
        }
        RestartBlock::FutexWait {
            uaddr,
            val,
            bitset,
            deadline,
        } => crate::process::futex::futex_wait_restart(uaddr, val, bitset, deadline),
    }
}
