//! The syscall counter (`[shutdown] syscalls=`, kstats) and the
//! `strace=1` switch. Each task counts its own syscalls
//! ([`Task::count_syscall`](crate::sched::task::Task::count_syscall)), and
//! `strace=1` is a bit of every task's syscall work word, which the entry
//! reads anyway: the untraced path pays one bit test for the trace and a
//! load and a store for the count.

use entry::syscall_work::SYSCALL_WORK_SYSCALL_TRACE;

/// Syscalls handled since boot.
pub fn syscalls() -> u64 {
    crate::sched::task::sum_syscalls()
}

/// Turns the syscall trace on or off (`strace=` on the command line).
pub fn set_trace(on: bool) {
    crate::sched::task::set_boot_syscall_work(SYSCALL_WORK_SYSCALL_TRACE, on);
}
