//! System calls: Linux aarch64 numbers, arguments in x0..x5, number in x8,
//! result (or negative errno) in x0. [`table`] lists them, [`define`] makes
//! the dispatch from it, handlers return `Result<_, Errno>` (or a verdict
//! that ends the app, handed to `process::end`); the handlers that belong to no
//! subsystem (`io`, `fs`, `poll`, `time`, `info`, `random`, `restart`)
//! live beside them, and [`trace`] is `strace=1` and the unknown-number log.

pub mod define;
pub mod error;
mod fs;
pub mod info;
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

use crate::sched::task::Task;
use arch::TrapFrame;
use entry::syscall_work::SYSCALL_WORK_SYSCALL_TRACE;

/// Runs syscall `nr` (x8 as the entry read it, Linux's `scno`) of `task`
/// (the current one) with the arguments in `tf` and stores its result in
/// x0. `work` is the task's syscall work word as the entry read it.
#[inline(always)]
pub fn invoke(task: &Task, tf: &mut TrapFrame, nr: u64, work: u32) {
    invoke_handler(task, tf, nr, handler(nr), work);
}

/// The handler of syscall `nr` if it reads nothing of the frame but its
/// argument registers (every one not declared with `&mut regs` in the
/// table), for the entry fast path, whose frame has only x0..x18 then;
/// `None` for the others, and for numbers past the table (rare: the
/// full dispatch sends them to `sys_ni_syscall`).
#[inline(always)]
pub fn args_only(nr: u64) -> Option<define::SyscallFn> {
    table::SYS_CALL_ARGS_ONLY
        .get(nr as usize)
        .copied()
        .flatten()
}

/// [`invoke`] for a handler [`args_only`] gave.
#[inline(always)]
pub fn invoke_args_only(
    task: &Task,
    tf: &mut TrapFrame,
    nr: u64,
    call: define::SyscallFn,
    work: u32,
) {
    invoke_handler(task, tf, nr, call, work);
}

/// Counts the syscall, then runs `call`, the handler of `nr`, unless
/// `strace=1` traces it.
#[inline(always)]
fn invoke_handler(task: &Task, tf: &mut TrapFrame, nr: u64, call: define::SyscallFn, work: u32) {
    task.count_syscall();
    if work & SYSCALL_WORK_SYSCALL_TRACE != 0 {
        trace::invoke_traced(tf, nr);
        return;
    }
    run(tf, nr, call);
}

/// The dispatch proper, untraced and uncounted: the handler of `nr` run.
#[inline(always)]
fn dispatch(tf: &mut TrapFrame, nr: u64) {
    run(tf, nr, handler(nr));
}

/// The handler of `nr`: its table slot, or for every number past the
/// table the last one, `sys_ni_syscall`.
#[inline(always)]
fn handler(nr: u64) -> define::SyscallFn {
    table::SYS_CALL_TABLE[(nr as usize).min(table::SYS_CALL_TABLE.len() - 1)]
}

/// Runs `call`, the handler of `nr`, with Linux's `orig_x0` and
/// `syscallno` recorded, and stores its result in x0.
#[inline(always)]
fn run(tf: &mut TrapFrame, nr: u64, call: define::SyscallFn) {
    tf.orig_x0 = tf.regs[0];
    tf.syscallno = nr as i64;
    tf.regs[0] = call(tf) as u64;
}
