//! System calls: Linux aarch64 numbers, arguments in x0..x5, number in x8,
//! result (or negative errno) in x0. One dispatch table, as Linux's
//! `sys_call_table`; every slot not listed returns -ENOSYS.

use crate::errno::*;
use arch::TrapFrame;
use arch::uaccess;
use core::sync::atomic::{AtomicU64, Ordering};

/// Syscalls handled since boot.
pub static SYSCALLS: AtomicU64 = AtomicU64::new(0);

type SyscallFn = fn(&mut TrapFrame) -> i64;

/// One past the highest syscall number we know of (rseq_slice_yield = 471).
const NR_SYSCALLS: usize = 472;

/// Linux aarch64 syscall numbers (include/uapi/asm-generic/unistd.h).
pub mod nr {
    pub const WRITE: usize = 64;
    pub const EXIT: usize = 93;
    pub const EXIT_GROUP: usize = 94;
    pub const CLOCK_GETTIME: usize = 113;
    pub const GETPID: usize = 172;
    pub const GETTID: usize = 178;
}

static SYS_CALL_TABLE: [SyscallFn; NR_SYSCALLS] = {
    let mut t = [sys_ni_syscall as SyscallFn; NR_SYSCALLS];
    t[nr::WRITE] = sys_write;
    t[nr::EXIT] = sys_exit;
    t[nr::EXIT_GROUP] = sys_exit_group;
    t[nr::CLOCK_GETTIME] = sys_clock_gettime;
    t[nr::GETPID] = sys_getpid;
    t[nr::GETTID] = sys_gettid;
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

/// exit(status): ends the calling thread; the app's only thread ends the app.
fn sys_exit(tf: &mut TrapFrame) -> i64 {
    do_group_exit(tf.regs[0] as u32 & 0xff)
}

/// exit_group(status): ends the app.
fn sys_exit_group(tf: &mut TrapFrame) -> i64 {
    do_group_exit(tf.regs[0] as u32 & 0xff)
}

fn do_group_exit(status: u32) -> ! {
    println!("[exit] app={} status={status}", crate::exec::APP_NAME);
    crate::power::shutdown(status)
}

/// getpid(): the app is process 1.
fn sys_getpid(_tf: &mut TrapFrame) -> i64 {
    1
}

/// gettid().
fn sys_gettid(_tf: &mut TrapFrame) -> i64 {
    crate::task::current().tid as i64
}

const CLOCK_MONOTONIC: u64 = 1;

/// `struct timespec` on aarch64.
#[repr(C)]
#[derive(Clone, Copy)]
struct Timespec {
    tv_sec: i64,
    tv_nsec: i64,
}

/// clock_gettime(CLOCK_MONOTONIC, ts): the system counter since boot.
fn sys_clock_gettime(tf: &mut TrapFrame) -> i64 {
    let (clock, ts) = (tf.regs[0], tf.regs[1]);
    if clock != CLOCK_MONOTONIC {
        return -EINVAL;
    }
    let ns = arch::timer::ticks_to_ns(arch::timer::counter(), arch::timer::cntfrq());
    let val = Timespec {
        tv_sec: (ns / 1_000_000_000) as i64,
        tv_nsec: (ns % 1_000_000_000) as i64,
    };
    match uaccess::put_user(ts, val) {
        Ok(()) => 0,
        Err(_) => -EFAULT,
    }
}
