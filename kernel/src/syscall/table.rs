//! The syscall table: every implemented Linux aarch64 syscall, one line
//! each — its number (`abi::nr`), its handler, its arguments x0.. with
//! their C types. Adding a syscall is a line here and a function.

use super::define::syscall_table;
use super::ni::sys_ni_syscall;
use super::user::UserPtr;
use super::{fs, info, io, poll, random, restart, time};
use crate::mm::{brk, mmap};
use crate::process::{clone, exit, files, futex, rlimit, robust, signal};
use crate::rseq_hooks::syscalls as rseq;
use crate::sched::{affinity, membarrier};
use abi::kstats::KStats;
use abi::poll::Pollfd;
use abi::resource::Rlimit64;
use abi::sched::SchedParam;
use abi::signal::StackT;
use abi::stat::Stat;
use abi::time::Timespec;
use abi::uio::Iovec;
use abi::utsname::NewUtsname;

syscall_table! {
    DUP => files::sys_dup(oldfd: u32);
    DUP3 => files::sys_dup3(oldfd: u32, newfd: u32, flags: i32);
    FCNTL => files::sys_fcntl(fd: u32, cmd: u32, arg: u64);
    IOCTL => io::sys_ioctl(fd: u32, request: u32, arg: u64);
    CLOSE => files::sys_close(fd: u32);
    READ => io::sys_read(fd: u32, buf: UserPtr<u8>, count: usize);
    WRITE => io::sys_write(fd: u32, buf: UserPtr<u8>, count: usize);
    READV => io::sys_readv(fd: u32, iov: UserPtr<Iovec>, iovcnt: u64);
    WRITEV => io::sys_writev(fd: u32, iov: UserPtr<Iovec>, iovcnt: u64);
    READLINKAT => fs::sys_readlinkat(dirfd: i32, path: UserPtr<u8>, buf: UserPtr<u8>, bufsiz: i32);
    NEWFSTATAT => fs::sys_newfstatat(
        dirfd: i32,
        path: UserPtr<u8>,
        statbuf: UserPtr<Stat>,
        flags: u64,
    );
    FSTAT => fs::sys_fstat(fd: u32, statbuf: UserPtr<Stat>);
    PPOLL => poll::sys_ppoll(
        fds: UserPtr<Pollfd>,
        nfds: u32,
        tmo: UserPtr<Timespec>,
        sigmask: UserPtr<u64>,
        sigsetsize: usize,
    );
    FUTEX => futex::sys_futex(
        uaddr: UserPtr<u32>,
        op: i32,
        val: u32,
        timeout: UserPtr<Timespec>,
        uaddr2: UserPtr<u32>,
        val3: u32,
    );
    SET_ROBUST_LIST => robust::sys_set_robust_list(head: u64, len: usize);
    GET_ROBUST_LIST => robust::sys_get_robust_list(
        pid: i32,
        head_ptr: UserPtr<u64>,
        len_ptr: UserPtr<usize>,
    );
    EXIT => exit::sys_exit(status: i32);
    EXIT_GROUP => exit::sys_exit_group(status: i32);
    SET_TID_ADDRESS => exit::sys_set_tid_address(tidptr: UserPtr<u32>);
    NANOSLEEP => time::sys_nanosleep(req: UserPtr<Timespec>, rem: UserPtr<Timespec>);
    CLOCK_GETTIME => time::sys_clock_gettime(clock: u64, ts: UserPtr<Timespec>);
    CLOCK_GETRES => time::sys_clock_getres(clock: u64, res: UserPtr<Timespec>);
    CLOCK_NANOSLEEP => time::sys_clock_nanosleep(
        clock: u64,
        flags: u64,
        req: UserPtr<Timespec>,
        rem: UserPtr<Timespec>,
    );
    SCHED_GETSCHEDULER => affinity::sys_sched_getscheduler(pid: i32);
    SCHED_GETPARAM => affinity::sys_sched_getparam(pid: i32, param: UserPtr<SchedParam>);
    SCHED_SETAFFINITY => affinity::sys_sched_setaffinity(pid: u64, len: u64, mask: UserPtr<u8>);
    SCHED_GETAFFINITY => affinity::sys_sched_getaffinity(pid: u64, len: u64, mask: UserPtr<u64>);
    SCHED_YIELD => affinity::sys_sched_yield();
    RESTART_SYSCALL => restart::sys_restart_syscall();
    KILL => signal::syscalls::sys_kill(pid: i32, sig: u64);
    TGKILL => signal::syscalls::sys_tgkill(tgid: i32, tid: i32, sig: u64);
    SIGALTSTACK => signal::syscalls::sys_sigaltstack(
        &mut regs,
        ss: UserPtr<StackT>,
        old_ss: UserPtr<StackT>,
    );
    RT_SIGACTION => signal::syscalls::sys_rt_sigaction(
        sig: u64,
        act: UserPtr<signal::queue::SigAction>,
        oact: UserPtr<signal::queue::SigAction>,
        sigsetsize: u64,
    );
    RT_SIGPROCMASK => signal::syscalls::sys_rt_sigprocmask(
        how: u64,
        set: UserPtr<u64>,
        oset: UserPtr<u64>,
        sigsetsize: u64,
    );
    RT_SIGPENDING => signal::syscalls::sys_rt_sigpending(set: UserPtr<u8>, sigsetsize: usize);
    RT_SIGRETURN => signal::syscalls::sys_rt_sigreturn(&mut regs,);
    UNAME => info::sys_uname(buf: UserPtr<NewUtsname>);
    PRCTL => info::sys_prctl(option: u64, arg2: u64, arg3: u64, arg4: u64, arg5: u64);
    GETCPU => info::sys_getcpu(cpu: UserPtr<u32>, node: UserPtr<u32>);
    GETPID => info::sys_getpid();
    GETPPID => info::sys_getppid();
    GETUID => info::sys_getuid();
    GETEUID => info::sys_getuid();
    GETGID => info::sys_getuid();
    GETEGID => info::sys_getuid();
    GETTID => info::sys_gettid();
    MUNMAP => mmap::sys_munmap(addr: u64, len: u64);
    BRK => brk::sys_brk(addr: u64);
    MPROTECT => mmap::sys_mprotect(addr: u64, len: u64, prot: u64);
    MADVISE => mmap::sys_madvise(addr: u64, len: u64, advice: u64);
    CLONE => clone::sys_clone(
        &mut regs,
        flags: u64,
        newsp: u64,
        parent_tid: UserPtr<u32>,
        tls: u64,
        child_tid: UserPtr<u32>,
    );
    MMAP => mmap::sys_mmap(addr: u64, len: u64, prot: u64, flags: u64, fd: u64, off: u64);
    PRLIMIT64 => rlimit::sys_prlimit64(
        pid: i32,
        resource: u32,
        new: UserPtr<Rlimit64>,
        old: UserPtr<Rlimit64>,
    );
    MEMBARRIER => membarrier::sys_membarrier(cmd: u64, flags: u64, cpu_id: u64);
    RSEQ => rseq::sys_rseq(rseq: u64, len: u32, flags: u32, sig: u32);
    CLONE3 => clone::sys_clone3(args: u64, size: usize);
    RSEQ_SLICE_YIELD => rseq::sys_rseq_slice_yield();
    GETRANDOM => random::sys_getrandom(buf: UserPtr<u8>, count: usize, flags: u32);
    KSTATS => info::sys_kstats(buf: UserPtr<KStats>, len: u64);
}
