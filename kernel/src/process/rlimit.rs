//! The process's resource limits and prlimit64(2). They start at Linux's
//! defaults (`abi::resource::default_limit`); RLIMIT_NOFILE is enforced
//! by the descriptor table (`files`) and ppoll, the others are kept and
//! reported (the kernel has its own limits: `threads_max`, memory; the
//! main stack is mapped at exec, so a new RLIMIT_STACK changes nothing, as
//! in Linux until the next execve).

use crate::sync::SpinLock;
use crate::syscall::error::Errno;
use crate::syscall::user::UserPtr;
use abi::errno::{EINVAL, EPERM, ESRCH};
use abi::resource::{RLIM_NLIMITS, RLIMIT_NOFILE, Rlimit64, default_limit};

/// The limits, indexed by resource.
static RLIMITS: SpinLock<[Rlimit64; RLIM_NLIMITS as usize]> = SpinLock::new({
    let mut t = [Rlimit64 {
        rlim_cur: 0,
        rlim_max: 0,
    }; RLIM_NLIMITS as usize];
    let mut r = 0;
    while r < RLIM_NLIMITS {
        t[r as usize] = default_limit(r);
        r += 1;
    }
    t
});

/// Linux's `sysctl_nr_open` default: the highest RLIMIT_NOFILE ceiling.
pub const NR_OPEN: u64 = 1 << 20;

/// Linux's `rlimit(RLIMIT_NOFILE)`: the soft limit on file descriptor
/// numbers (a new fd is below it).
pub fn nofile() -> u64 {
    RLIMITS.lock()[RLIMIT_NOFILE as usize].rlim_cur
}

/// prlimit64(pid, resource, new, old), in Linux's order: `new` is read
/// (`EFAULT`); pid 0 or a thread of the app (the limits are the
/// process's), else `ESRCH`; resource past RLIMIT_RTTIME `EINVAL`; `new`
/// with soft above hard `EINVAL`, an RLIMIT_NOFILE hard limit above
/// 2^20 (`NR_OPEN`) `EPERM`; then the old value is written (`EFAULT`,
/// after the new one took effect). The app runs as root (uid 0, every
/// capability), so raising a hard limit is allowed (Linux's
/// CAP_SYS_RESOURCE); lowering RLIMIT_NOFILE below an open fd is allowed
/// too, and leaves that fd open.
pub fn sys_prlimit64(
    pid: i32,
    resource: u32,
    new: UserPtr<Rlimit64>,
    old: UserPtr<Rlimit64>,
) -> Result<(), Errno> {
    let new = if new.is_null() {
        None
    } else {
        Some(new.read()?)
    };
    if pid != 0 && !crate::sched::task::is_live_thread(pid) {
        return Err(Errno(ESRCH));
    }
    if resource >= RLIM_NLIMITS {
        return Err(Errno(EINVAL));
    }
    if let Some(n) = new {
        if n.rlim_cur > n.rlim_max {
            return Err(Errno(EINVAL));
        }
        if resource == RLIMIT_NOFILE && n.rlim_max > NR_OPEN {
            return Err(Errno(EPERM));
        }
    }
    let prev = {
        let mut limits = RLIMITS.lock();
        let prev = limits[resource as usize];
        if let Some(n) = new {
            limits[resource as usize] = n;
        }
        prev
    };
    if !old.is_null() {
        old.write(prev)?;
    }
    Ok(())
}
