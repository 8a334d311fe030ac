//! System calls: Linux aarch64 numbers, arguments in x0..x5, number in x8,
//! result (or negative errno) in x0. One dispatch table, as Linux's
//! `sys_call_table`; every slot not listed returns -ENOSYS.

use abi::errno::*;
use abi::kstats::{KSTATS_VERSION, KStats};
use abi::nr;
use abi::prctl::PR_RSEQ_SLICE_EXTENSION;
use abi::time::{CLOCK_MONOTONIC, TIMER_ABSTIME, Timespec};
use arch::TrapFrame;
use arch::uaccess;
use core::sync::atomic::{AtomicU64, Ordering};

/// Syscalls handled since boot.
pub static SYSCALLS: AtomicU64 = AtomicU64::new(0);

type SyscallFn = fn(&mut TrapFrame) -> i64;

/// One past the highest syscall number.
const NR_SYSCALLS: usize = nr::KSTATS as usize + 1;

static SYS_CALL_TABLE: [SyscallFn; NR_SYSCALLS] = {
    let mut t = [sys_ni_syscall as SyscallFn; NR_SYSCALLS];
    t[nr::WRITE as usize] = sys_write;
    t[nr::EXIT as usize] = |tf| crate::process::do_exit(tf.regs[0] as u32 & 0xff);
    t[nr::EXIT_GROUP as usize] = |tf| crate::process::do_group_exit(tf.regs[0] as u32 & 0xff);
    t[nr::SET_TID_ADDRESS as usize] = |tf| crate::process::sys_set_tid_address(tf.regs[0]);
    t[nr::FUTEX as usize] =
        |tf| crate::futex::sys_futex(tf.regs[0], tf.regs[1], tf.regs[2], tf.regs[3]);
    t[nr::NANOSLEEP as usize] =
        |tf| sys_clock_nanosleep(CLOCK_MONOTONIC, 0, tf.regs[0], tf.regs[1]);
    t[nr::CLOCK_GETTIME as usize] = sys_clock_gettime;
    t[nr::CLOCK_NANOSLEEP as usize] =
        |tf| sys_clock_nanosleep(tf.regs[0], tf.regs[1], tf.regs[2], tf.regs[3]);
    t[nr::SCHED_SETAFFINITY as usize] =
        |tf| sys_sched_setaffinity(tf.regs[0], tf.regs[1], tf.regs[2]);
    t[nr::SCHED_GETAFFINITY as usize] =
        |tf| sys_sched_getaffinity(tf.regs[0], tf.regs[1], tf.regs[2]);
    t[nr::SCHED_YIELD as usize] = |_| {
        crate::sched::yield_now();
        0
    };
    t[nr::KILL as usize] = |tf| crate::signal::sys_kill(tf.regs[0] as i32 as i64, tf.regs[1]);
    t[nr::TGKILL as usize] = |tf| {
        crate::signal::sys_tgkill(
            tf.regs[0] as i32 as i64,
            tf.regs[1] as i32 as i64,
            tf.regs[2],
        )
    };
    t[nr::RT_SIGACTION as usize] =
        |tf| crate::signal::sys_rt_sigaction(tf.regs[0], tf.regs[1], tf.regs[2], tf.regs[3]);
    t[nr::RT_SIGPROCMASK as usize] =
        |tf| crate::signal::sys_rt_sigprocmask(tf.regs[0], tf.regs[1], tf.regs[2], tf.regs[3]);
    t[nr::RT_SIGRETURN as usize] = crate::signal::sys_rt_sigreturn;
    t[nr::GETCPU as usize] = |tf| sys_getcpu(tf.regs[0], tf.regs[1]);
    t[nr::GETPID as usize] = sys_getpid;
    t[nr::GETTID as usize] = sys_gettid;
    t[nr::MUNMAP as usize] = |tf| crate::vm::sys_munmap(tf.regs[0], tf.regs[1]);
    t[nr::CLONE as usize] = crate::process::sys_clone;
    t[nr::MMAP as usize] = |tf| {
        crate::vm::sys_mmap(
            tf.regs[0], tf.regs[1], tf.regs[2], tf.regs[3], tf.regs[4], tf.regs[5],
        )
    };
    t[nr::MEMBARRIER as usize] =
        |tf| crate::membarrier::sys_membarrier(tf.regs[0], tf.regs[1], tf.regs[2]);
    t[nr::RSEQ as usize] = crate::rseq_hooks::sys_rseq;
    t[nr::RSEQ_SLICE_YIELD as usize] = crate::rseq_hooks::sys_rseq_slice_yield;
    t[nr::PRCTL as usize] = sys_prctl;
    t[nr::KSTATS as usize] = |tf| sys_kstats(tf.regs[0], tf.regs[1]);
    t
};

/// Runs the syscall in `tf` and stores its result in x0.
pub fn invoke(tf: &mut TrapFrame) {
    SYSCALLS.fetch_add(1, Ordering::Relaxed);
    let nr = tf.regs[8];
    tf.orig_x0 = tf.regs[0];
    tf.syscallno = nr as i64;
    let ret = match SYS_CALL_TABLE.get(nr as usize) {
        Some(f) => f(tf),
        None => -ENOSYS,
    };
    tf.regs[0] = ret as u64;
}

fn sys_ni_syscall(_tf: &mut TrapFrame) -> i64 {
    -ENOSYS
}

/// write(fd, buf, count) to the console (fd 1 and 2 only).
fn sys_write(tf: &mut TrapFrame) -> i64 {
    let (fd, buf, count) = (tf.regs[0], tf.regs[1], tf.regs[2] as usize);
    if fd != 1 && fd != 2 {
        return -EBADF;
    }
    // Linux caps one write at MAX_RW_COUNT; so do we, at a console-sized value.
    let count = count.min(1 << 20);
    if !uaccess::access_ok(buf, count) {
        return -EFAULT;
    }
    let mut chunk = [0u8; 256];
    let mut done = 0;
    while done < count {
        let n = (count - done).min(chunk.len());
        if uaccess::copy_from_user(&mut chunk[..n], buf + done as u64).is_err() {
            // A fault after some output is a short write, as in Linux.
            return if done > 0 { done as i64 } else { -EFAULT };
        }
        crate::console::write_bytes(&chunk[..n]);
        done += n;
    }
    done as i64
}

/// getpid(): the app is process 1.
fn sys_getpid(_tf: &mut TrapFrame) -> i64 {
    1
}

/// gettid().
fn sys_gettid(_tf: &mut TrapFrame) -> i64 {
    crate::task::current().tid() as i64
}

/// clock_gettime(CLOCK_MONOTONIC, ts): the system counter since boot.
fn sys_clock_gettime(tf: &mut TrapFrame) -> i64 {
    let (clock, ts) = (tf.regs[0], tf.regs[1]);
    if clock != CLOCK_MONOTONIC {
        return -EINVAL;
    }
    let ns = arch::timer::ticks_to_ns(arch::timer::counter(), arch::timer::cntfrq());
    match uaccess::put_user(ts, Timespec::from_ns(u128::from(ns))) {
        Ok(()) => 0,
        Err(_) => -EFAULT,
    }
}

/// clock_nanosleep(clock, flags, req, rem) (and nanosleep): relative or
/// TIMER_ABSTIME on CLOCK_MONOTONIC, tick resolution; -EINTR on a signal,
/// with the time left in `rem` (relative sleeps only).
fn sys_clock_nanosleep(clock: u64, flags: u64, req: u64, rem: u64) -> i64 {
    if clock != CLOCK_MONOTONIC || flags & !TIMER_ABSTIME != 0 {
        return -EINVAL;
    }
    let req_ns = match crate::futex::timespec_ns(req) {
        Ok(ns) => ns,
        Err(e) => return e,
    };
    let ticks = crate::futex::ns_to_ticks(req_ns);
    let freq = arch::timer::cntfrq();
    let start = arch::timer::counter();
    let deadline = if flags & TIMER_ABSTIME != 0 {
        ticks
    } else {
        start.saturating_add(ticks)
    };
    match crate::sched::sleep_until(deadline) {
        crate::task::WakeReason::Signal => {
            if rem != 0 && flags & TIMER_ABSTIME == 0 {
                // The request minus the time slept, in nanoseconds: exact
                // for any request (the deadline itself may be clamped).
                let slept = arch::timer::counter().saturating_sub(start) as u128 * 1_000_000_000
                    / freq as u128;
                let left = req_ns.saturating_sub(slept);
                if uaccess::put_user(rem, Timespec::from_ns(left)).is_err() {
                    return -EFAULT;
                }
            }
            -EINTR
        }
        _ => 0,
    }
}

/// prctl(option, arg2, arg3, arg4, arg5): only PR_RSEQ_SLICE_EXTENSION (79);
/// every other option is `-EINVAL`, as Linux answers unknown options.
fn sys_prctl(tf: &mut TrapFrame) -> i64 {
    match tf.regs[0] {
        PR_RSEQ_SLICE_EXTENSION => {
            crate::rseq_hooks::slice_prctl([tf.regs[1], tf.regs[2], tf.regs[3], tf.regs[4]])
        }
        _ => -EINVAL,
    }
}

/// Bytes of a CPU mask the kernel uses (Linux rounds to `unsigned long`).
const CPUMASK_BYTES: u64 = 8;

/// sched_setaffinity(pid, len, mask): 0 or a thread of the app; moves a
/// running thread off CPUs it may no longer use before returning.
fn sys_sched_setaffinity(pid: u64, len: u64, mask: u64) -> i64 {
    let Some(task) = task_by_pid(pid) else {
        return -ESRCH;
    };
    let mut bytes = [0u8; 8];
    let n = len.min(CPUMASK_BYTES) as usize;
    if uaccess::copy_from_user(&mut bytes[..n], mask).is_err() {
        return -EFAULT;
    }
    let online: u64 = crate::percpu::online().fold(0, |m, c| m | 1 << c.id);
    let allowed = u64::from_le_bytes(bytes) & online;
    if allowed == 0 {
        return -EINVAL;
    }
    task.cpus_allowed.store(allowed, Ordering::SeqCst);
    let cpu = task.cpu.load(Ordering::Relaxed);
    if allowed & (1 << cpu) == 0 {
        if core::ptr::eq(task, crate::task::current()) {
            crate::sched::schedule(); // migrates now; returns on an allowed CPU
        } else {
            task.flags.set(entry::tif::TIF_NEED_RESCHED);
            crate::smp::send_reschedule(cpu);
        }
    }
    0
}

/// sched_getaffinity(pid, len, mask): returns the bytes written (8).
fn sys_sched_getaffinity(pid: u64, len: u64, mask: u64) -> i64 {
    let Some(task) = task_by_pid(pid) else {
        return -ESRCH;
    };
    if len < CPUMASK_BYTES || !len.is_multiple_of(8) {
        return -EINVAL;
    }
    match uaccess::put_user(
        mask,
        task.cpus_allowed.load(Ordering::Relaxed) & online_mask(),
    ) {
        Ok(()) => CPUMASK_BYTES as i64,
        Err(_) => -EFAULT,
    }
}

fn online_mask() -> u64 {
    crate::percpu::online().fold(0, |m, c| m | 1 << c.id)
}

/// pid 0 is the caller; otherwise a live thread's TID.
fn task_by_pid(pid: u64) -> Option<&'static crate::task::Task> {
    if pid == 0 {
        return Some(crate::task::current());
    }
    crate::task::find(pid as u32).filter(|t| t.state() != crate::task::TaskState::Dead)
}

/// getcpu(cpu, node, cache): node is always 0.
fn sys_getcpu(cpu: u64, node: u64) -> i64 {
    let id = arch::cpu::cpu_id() as u32;
    if cpu != 0 && uaccess::put_user(cpu, id).is_err() {
        return -EFAULT;
    }
    if node != 0 && uaccess::put_user(node, 0u32).is_err() {
        return -EFAULT;
    }
    0
}

/// Kernel counters for apps and tests (rseq-os syscall 1000): `struct
/// kstats` (`abi::kstats`, documented in the README). Returns bytes written.
fn sys_kstats(buf: u64, len: u64) -> i64 {
    let mut k = KStats {
        version: KSTATS_VERSION,
        nr_cpus: crate::percpu::nr_online() as u64,
        ..Default::default()
    };
    for c in 0..arch::MAX_CPUS {
        let s = &crate::percpu::cpu(c).stats;
        k.ticks[c] = s.ticks.load(Ordering::Relaxed);
        k.irqs_el0[c] = s.irqs_el0.load(Ordering::Relaxed);
        k.ipi_resched[c] = s.ipi_resched.load(Ordering::Relaxed);
        k.ipi_call[c] = s.ipi_call.load(Ordering::Relaxed);
        k.membarrier_ipis[c] = s.membarrier_ipis.load(Ordering::Relaxed);
        k.context_switches[c] = s.context_switches.load(Ordering::Relaxed);
    }
    k.migrations = crate::sched::MIGRATIONS.load(Ordering::Relaxed);
    k.syscalls = SYSCALLS.load(Ordering::Relaxed);
    k.rseq_mode = crate::rseq_hooks::MODE.version() as u64;
    for c in 0..arch::MAX_CPUS {
        k.rseq[c] = crate::percpu::cpu(c).rseq_stats_snapshot();
    }
    k.threads_max = crate::task::threads_max();
    k.nr_threads = u64::from(crate::task::LIVE_THREADS.load(Ordering::Relaxed));
    // Dying first: a stack is freed before its thread stops counting as
    // dying, so `nr_dying == 0` here means `frames_free` below has it.
    k.nr_dying = u64::from(crate::task::DYING_THREADS.load(Ordering::SeqCst));
    (k.frames_total, k.frames_free) = crate::mm::frame_counts();
    let size = core::mem::size_of::<KStats>();
    if (len as usize) < size {
        return -EINVAL;
    }
    match uaccess::put_user(buf, k) {
        Ok(()) => size as i64,
        Err(_) => -EFAULT,
    }
}
