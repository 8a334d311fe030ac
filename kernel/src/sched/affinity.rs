//! The scheduler's syscalls: sched_setaffinity, sched_getaffinity,
//! sched_yield, sched_getscheduler, sched_getparam.

use super::task::{Task, TaskState};
use super::{percpu, task};
use crate::syscall::error::Errno;
use crate::syscall::user::UserPtr;
use abi::errno::{EINVAL, ESRCH};
use abi::sched::{SCHED_OTHER, SchedParam};
use core::sync::atomic::Ordering;

/// Bytes of a CPU mask the kernel uses (Linux rounds to `unsigned long`).
const CPUMASK_BYTES: u64 = 8;

/// sched_yield(): always succeeds.
pub fn sys_sched_yield() -> Result<(), Errno> {
    super::yield_now();
    Ok(())
}

/// sched_setaffinity(pid, len, mask): 0 or a thread of the app; moves a
/// running thread off CPUs it may no longer use before returning.
pub fn sys_sched_setaffinity(pid: u64, len: u64, mask: UserPtr<u8>) -> Result<(), Errno> {
    let task = task_by_pid(pid).ok_or(Errno(ESRCH))?;
    let mut bytes = [0u8; 8];
    let n = len.min(CPUMASK_BYTES) as usize;
    mask.read_bytes(0, &mut bytes[..n])?;
    let allowed = u64::from_le_bytes(bytes) & online_mask();
    if allowed == 0 {
        return Err(Errno(EINVAL));
    }
    task.cpus_allowed.store(allowed, Ordering::SeqCst);
    let cpu = task.cpu.load(Ordering::Relaxed);
    if allowed & (1 << cpu) == 0 {
        if core::ptr::eq(task, task::current()) {
            super::schedule(); // migrates now; returns on an allowed CPU
        } else {
            task.flags.set(entry::tif::TIF_NEED_RESCHED);
            super::ipi::send_reschedule(cpu);
        }
    }
    Ok(())
}

/// sched_getaffinity(pid, len, mask): returns the bytes written (8).
pub fn sys_sched_getaffinity(pid: u64, len: u64, mask: UserPtr<u64>) -> Result<u64, Errno> {
    let task = task_by_pid(pid).ok_or(Errno(ESRCH))?;
    if len < CPUMASK_BYTES || !len.is_multiple_of(8) {
        return Err(Errno(EINVAL));
    }
    mask.write(task.cpus_allowed.load(Ordering::Relaxed) & online_mask())?;
    Ok(CPUMASK_BYTES)
}

/// The thread a `pid_t` names for the sched_get* calls: negative
/// `EINVAL`, 0 the caller, else a live thread or `ESRCH`.
fn task_by_pid_t(pid: i32) -> Result<&'static Task, Errno> {
    if pid < 0 {
        return Err(Errno(EINVAL));
    }
    task_by_pid(pid as u64).ok_or(Errno(ESRCH))
}

/// sched_getscheduler(pid): every thread is SCHED_OTHER (round-robin
/// time sharing).
pub fn sys_sched_getscheduler(pid: i32) -> Result<u32, Errno> {
    task_by_pid_t(pid)?;
    Ok(SCHED_OTHER)
}

/// sched_getparam(pid, param): priority 0, SCHED_OTHER's only one. A NULL
/// `param` is `EINVAL` before the pid is looked at, as in Linux.
pub fn sys_sched_getparam(pid: i32, param: UserPtr<SchedParam>) -> Result<(), Errno> {
    if param.is_null() {
        return Err(Errno(EINVAL));
    }
    task_by_pid_t(pid)?;
    param.write(SchedParam { sched_priority: 0 })
}

fn online_mask() -> u64 {
    percpu::online().fold(0, |m, c| m | 1 << c.id)
}

/// pid 0 is the caller; otherwise a live thread's TID.
fn task_by_pid(pid: u64) -> Option<&'static Task> {
    if pid == 0 {
        return Some(task::current());
    }
    task::find(pid as u32).filter(|t| t.state() != TaskState::Dead)
}
