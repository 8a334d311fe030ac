//! The calls that report or set the caller's identity and the kernel's
//! state: getpid, gettid, getppid, the user and group IDs, uname,
//! getcpu, prctl, and rseq-os's kstats.

use super::error::{Errno, SysError};
use super::user::UserPtr;
use abi::errno::EINVAL;
use abi::kstats::{KSTATS_VERSION, KStats};
use abi::prctl::PR_RSEQ_SLICE_EXTENSION;
use abi::utsname::{NewUtsname, UTSNAME};
use core::sync::atomic::Ordering;

/// The app's PID: process 1, as the only process.
pub const PID: i32 = 1;
/// Its parent's: none.
pub const PPID: i32 = 0;
/// Its user and group IDs, real and effective: root.
pub const ROOT_ID: u32 = 0;

/// getpid(): the app is process 1.
pub fn sys_getpid() -> Result<i32, Errno> {
    Ok(PID)
}

/// getppid(): the app has no parent process.
pub fn sys_getppid() -> Result<i32, Errno> {
    Ok(PPID)
}

/// getuid(), geteuid(), getgid(), getegid(): the app runs as root.
pub fn sys_getuid() -> Result<u32, Errno> {
    Ok(ROOT_ID)
}

/// uname(buf): `abi::utsname::UTSNAME` (Linux, release 7.2.0-rseq-os,
/// aarch64).
pub fn sys_uname(buf: UserPtr<NewUtsname>) -> Result<(), Errno> {
    buf.write(UTSNAME)
}

/// gettid().
pub fn sys_gettid() -> Result<u32, Errno> {
    Ok(crate::sched::task::current().tid())
}

/// getcpu(cpu, node, cache): node is always 0.
pub fn sys_getcpu(cpu: UserPtr<u32>, node: UserPtr<u32>) -> Result<(), Errno> {
    if !cpu.is_null() {
        cpu.write(arch::cpu::cpu_id() as u32)?;
    }
    if !node.is_null() {
        node.write(0)?;
    }
    Ok(())
}

/// prctl(option, arg2, arg3, arg4, arg5): only PR_RSEQ_SLICE_EXTENSION (79);
/// every other option is EINVAL, as Linux answers unknown options.
pub fn sys_prctl(option: u64, arg2: u64, arg3: u64, arg4: u64, arg5: u64) -> Result<i64, SysError> {
    match option {
        PR_RSEQ_SLICE_EXTENSION => {
            crate::rseq_hooks::syscalls::slice_prctl([arg2, arg3, arg4, arg5])
        }
        _ => Err(Errno(EINVAL).into()),
    }
}

/// Kernel counters for apps and tests (rseq-os syscall 1000): `struct
/// kstats` (`abi::kstats`, documented in the README). Returns bytes written.
pub fn sys_kstats(buf: UserPtr<KStats>, len: u64) -> Result<usize, Errno> {
    use crate::sched::{percpu, task};
    let mut k = KStats {
        version: KSTATS_VERSION,
        nr_cpus: percpu::nr_online() as u64,
        ..Default::default()
    };
    for c in 0..arch::MAX_CPUS {
        let s = &percpu::cpu(c).stats;
        k.ticks[c] = s.ticks.load(Ordering::Relaxed);
        k.irqs_el0[c] = s.irqs_el0.load(Ordering::Relaxed);
        k.ipi_resched[c] = s.ipi_resched.load(Ordering::Relaxed);
        k.ipi_call[c] = s.ipi_call.load(Ordering::Relaxed);
        k.membarrier_ipis[c] = s.membarrier_ipis.load(Ordering::Relaxed);
        k.context_switches[c] = s.context_switches.load(Ordering::Relaxed);
        k.rseq[c] = percpu::cpu(c).rseq_stats_snapshot();
    }
    k.migrations = crate::sched::MIGRATIONS.load(Ordering::Relaxed);
    k.syscalls = super::stats::syscalls();
    k.rseq_mode = crate::rseq_hooks::access::MODE.number();
    k.threads_max = task::threads_max();
    k.nr_threads = u64::from(task::LIVE_THREADS.load(Ordering::Relaxed));
    // Dying first: a stack is freed before its thread stops counting as
    // dying, so `nr_dying == 0` here means `frames_free` below has it.
    k.nr_dying = u64::from(task::DYING_THREADS.load(Ordering::SeqCst));
    (k.frames_total, k.frames_free) = crate::mm::frame_counts();
    let size = core::mem::size_of::<KStats>();
    if (len as usize) < size {
        return Err(Errno(EINVAL));
    }
    buf.write(k)?;
    Ok(size)
}
