//! Thread creation: clone (pthread-style threads only).

use crate::sched;
use crate::sched::task::{NewTaskError, Task, current};
use crate::syscall::error::Errno;
use crate::syscall::user::UserPtr;
use abi::errno::*;
use arch::TrapFrame;
use arch::uaccess;
use core::sync::atomic::Ordering;

use crate::process::clone_flags::check_clone_flags;
use abi::clone::{CLONE_CHILD_CLEARTID, CLONE_CHILD_SETTID, CLONE_PARENT_SETTID, CLONE_SETTLS};

/// clone(flags, newsp, parent_tidptr, tls, child_tidptr) (aarch64 order).
pub fn sys_clone(
    tf: &mut TrapFrame,
    flags: u64,
    newsp: u64,
    parent_tid: UserPtr<u32>,
    tls: u64,
    child_tid: UserPtr<u32>,
) -> Result<u32, Errno> {
    check_clone_flags(flags).map_err(|e| Errno(-e))?;
    if newsp == 0 || !newsp.is_multiple_of(16) || !uaccess::access_ok(newsp - 16, 16) {
        return Err(Errno(EINVAL));
    }
    let mut frame = *tf;
    frame.regs[0] = 0; // the child sees 0
    frame.sp = newsp;
    frame.syscallno = -1;
    let parent = current();
    let tpidr = if flags & CLONE_SETTLS != 0 {
        tls
    } else {
        arch::cpu::read_tpidr_el0()
    };
    let child = create_thread(frame, tpidr).map_err(|e| match e {
        NewTaskError::Limit => Errno(EAGAIN),
        NewTaskError::NoMemory => Errno(ENOMEM),
    })?;
    // Inherit the signal mask; affinity too (as Linux does).
    child.sig.lock().blocked = parent.sig.lock().blocked;
    child.cpus_allowed.store(
        parent.cpus_allowed.load(Ordering::Relaxed),
        Ordering::Relaxed,
    );
    child.cpu.store(arch::cpu::cpu_id(), Ordering::Relaxed);
    let tid = child.tid();
    // Linux ignores a failed tid write: the thread exists whatever
    // happens here (kernel_clone()'s put_user for CLONE_PARENT_SETTID,
    // schedule_tail()'s for CLONE_CHILD_SETTID). Writing the child's word
    // before it runs, from the parent, is the same: the two threads share
    // the address space.
    if flags & CLONE_PARENT_SETTID != 0 {
        let _ = parent_tid.write(tid);
    }
    if flags & CLONE_CHILD_SETTID != 0 {
        let _ = child_tid.write(tid);
    }
    if flags & CLONE_CHILD_CLEARTID != 0 {
        child
            .clear_child_tid
            .store(child_tid.addr(), Ordering::Relaxed);
    }
    sched::wake_up_new_task(child);
    Ok(tid)
}

/// A new user thread with `frame` and TLS `tpidr`, its futex slot
/// reserved with the scheduler's (the main thread's too).
pub fn create_thread(frame: TrapFrame, tpidr: u64) -> Result<&'static Task, NewTaskError> {
    Task::new_user(frame, tpidr, super::futex::reserve_task_slots)
}

/// clone3(args, size): not implemented, `ENOSYS` without a look at the
/// arguments, which is how a libc learns to fall back to clone (glibc's
/// pthread_create does). In the table so that the fallback is not logged
/// as an unknown syscall.
pub fn sys_clone3(args: u64, size: usize) -> Result<u32, Errno> {
    let _ = (args, size);
    Err(Errno(ENOSYS))
}
