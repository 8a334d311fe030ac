//! Thread creation and exit: clone (pthread-style threads only),
//! set_tid_address, exit, exit_group.

use crate::sched;
use crate::task::{DYING_THREADS, LIVE_THREADS, NewTaskError, Task, TaskState, current};
use abi::errno::*;
use arch::TrapFrame;
use arch::uaccess;
use core::sync::atomic::Ordering;

use crate::clone_flags::check_clone_flags;
use abi::clone::{CLONE_CHILD_CLEARTID, CLONE_CHILD_SETTID, CLONE_PARENT_SETTID, CLONE_SETTLS};

/// clone(flags, newsp, parent_tidptr, tls, child_tidptr) (aarch64 order).
pub fn sys_clone(tf: &mut TrapFrame) -> i64 {
    let (flags, newsp, parent_tid, tls, child_tid) =
        (tf.regs[0], tf.regs[1], tf.regs[2], tf.regs[3], tf.regs[4]);
    if let Err(e) = check_clone_flags(flags) {
        return e;
    }
    if newsp == 0 || newsp % 16 != 0 || !uaccess::access_ok(newsp - 16, 16) {
        return -EINVAL;
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
    let child = match Task::new_user(frame, tpidr) {
        Ok(child) => child,
        Err(NewTaskError::Limit) => return -EAGAIN,
        Err(NewTaskError::NoMemory) => return -ENOMEM,
    };
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
        let _ = uaccess::put_user(parent_tid, tid);
    }
    if flags & CLONE_CHILD_SETTID != 0 {
        let _ = uaccess::put_user(child_tid, tid);
    }
    if flags & CLONE_CHILD_CLEARTID != 0 {
        child.clear_child_tid.store(child_tid, Ordering::Relaxed);
    }
    sched::wake_up_new_task(child);
    tid as i64
}

/// set_tid_address(tidptr): remembered for exit; returns the TID.
pub fn sys_set_tid_address(tidptr: u64) -> i64 {
    let me = current();
    me.clear_child_tid.store(tidptr, Ordering::Relaxed);
    me.tid() as i64
}

/// exit(status): ends the calling thread; the last one ends the app.
pub fn do_exit(status: u32) -> ! {
    let me = current();
    let ctid = me.clear_child_tid.swap(0, Ordering::Relaxed);
    if ctid != 0 {
        // Linux's mm_release(): clear the TID word and wake a joiner.
        let _ = uaccess::put_user(ctid, 0u32);
        crate::futex::futex_wake(ctid, 1);
    }
    // Dying before not alive: a `kstats` reader never misses this thread's
    // kernel stack in both counts.
    DYING_THREADS.fetch_add(1, Ordering::SeqCst);
    if LIVE_THREADS.fetch_sub(1, Ordering::SeqCst) == 1 {
        do_group_exit(status);
    }
    {
        let _guard = me.sched_lock.lock();
        me.set_state(TaskState::Dead);
    }
    sched::schedule();
    unreachable!("a dead thread was scheduled")
}

/// exit_group(status): ends the app.
pub fn do_group_exit(status: u32) -> ! {
    crate::power::begin_shutdown();
    println!("[exit] app={} status={status}", crate::exec::APP_NAME);
    crate::power::shutdown(status)
}
