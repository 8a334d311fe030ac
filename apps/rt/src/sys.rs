//! Raw syscalls (Linux aarch64: number in x8, arguments x0..x5, `svc #0`,
//! result in x0, negative errno on error) and typed wrappers.

use core::sync::atomic::AtomicU32;

pub use abi::clone as clone_flags;
pub use abi::futex as futex_op;
pub use abi::kstats::{KSTATS_VERSION, KStats, RseqStats};
pub use abi::mman;
pub use abi::prctl::{
    PR_RSEQ_SLICE_EXT_ENABLE, PR_RSEQ_SLICE_EXTENSION, PR_RSEQ_SLICE_EXTENSION_GET,
    PR_RSEQ_SLICE_EXTENSION_SET,
};
pub use abi::time::{CLOCK_MONOTONIC, Timespec};
/// Syscall numbers, errno values and the other ABI definitions, from the
/// one definition the kernel also uses.
pub use abi::{errno, nr};

/// Turns a raw syscall return into `Ok(value)` or `Err(-errno)` (the
/// negative value as returned by the kernel, e.g. `Err(-EINVAL)`).
#[inline]
pub fn result(ret: i64) -> Result<u64, i64> {
    if (-4095..0).contains(&ret) {
        Err(ret)
    } else {
        Ok(ret as u64)
    }
}

/// A syscall with up to six arguments.
#[inline(always)]
pub fn syscall6(nr: u64, a: [u64; 6]) -> i64 {
    let ret: i64;
    #[cfg(target_arch = "aarch64")]
    // SAFETY: `svc #0` enters the kernel, which validates every argument;
    // x0 is changed on return, and x8 may be: a sleep a signal interrupted
    // and no handler took continues as restart_syscall, its number left
    // in x8 (Linux's arm64 restart).
    unsafe {
        core::arch::asm!(
            "svc #0",
            inlateout("x0") a[0] => ret,
            in("x1") a[1], in("x2") a[2], in("x3") a[3], in("x4") a[4], in("x5") a[5],
            inlateout("x8") nr => _,
            options(nostack),
        );
    }
    #[cfg(not(target_arch = "aarch64"))]
    {
        let _ = (nr, a);
        ret = -errno::ENOSYS;
    }
    ret
}

/// A syscall with up to three arguments.
#[inline(always)]
pub fn syscall3(nr: u64, a0: u64, a1: u64, a2: u64) -> i64 {
    syscall6(nr, [a0, a1, a2, 0, 0, 0])
}

/// write(2) of a buffer.
pub fn write(fd: u64, buf: &[u8]) -> i64 {
    syscall3(nr::WRITE, fd, buf.as_ptr() as u64, buf.len() as u64)
}

/// write(2) with a raw pointer (for tests of bad pointers).
pub fn write_raw(fd: u64, ptr: u64, len: u64) -> i64 {
    syscall3(nr::WRITE, fd, ptr, len)
}

/// exit_group(2).
pub fn exit_group(status: i32) -> ! {
    syscall3(nr::EXIT_GROUP, status as u64, 0, 0);
    unreachable!("exit_group returned")
}

/// getpid(2).
pub fn getpid() -> i64 {
    syscall3(nr::GETPID, 0, 0, 0)
}

/// gettid(2).
pub fn gettid() -> i64 {
    syscall3(nr::GETTID, 0, 0, 0)
}

/// clock_gettime(2) into a raw pointer; returns 0 or -errno.
pub fn clock_gettime_raw(clock: u64, ts: u64) -> i64 {
    syscall3(nr::CLOCK_GETTIME, clock, ts, 0)
}

/// clock_gettime(CLOCK_MONOTONIC).
pub fn monotonic() -> Timespec {
    let mut ts = Timespec::default();
    clock_gettime_raw(CLOCK_MONOTONIC, &mut ts as *mut Timespec as u64);
    ts
}

/// The virtual counter and its frequency, readable at EL0 (CNTKCTL_EL1.EL0VCTEN).
#[cfg(target_arch = "aarch64")]
pub fn counter() -> (u64, u64) {
    let (cnt, frq): (u64, u64);
    // SAFETY: reading EL0-accessible counter registers.
    unsafe {
        core::arch::asm!("isb", "mrs {}, cntvct_el0", "mrs {}, cntfrq_el0", out(reg) cnt, out(reg) frq, options(nostack))
    };
    (cnt, frq)
}

/// exit(2): ends the calling thread only (the process ends with its last
/// thread). With `CLONE_CHILD_CLEARTID` the kernel then zeroes the thread's
/// tid word and wakes one futex waiter on it.
pub fn exit(status: i32) -> ! {
    syscall3(nr::EXIT, status as u64, 0, 0);
    unreachable!("exit returned")
}

/// set_tid_address(2): sets the calling thread's clear-child-tid pointer;
/// returns the caller's tid.
pub fn set_tid_address(tidptr: *mut u32) -> i64 {
    syscall3(nr::SET_TID_ADDRESS, tidptr as u64, 0, 0)
}

/// The raw clone(2) syscall, aarch64 argument order: flags, newsp,
/// parent_tidptr, tls, child_tidptr. Only usable from asm in practice (the
/// child returns on `newsp`); see [`crate::thread`] for a safe spawn.
///
/// # Safety
///
/// With a zero `newsp` and `CLONE_VM` the child would share the caller's
/// stack; the caller must make sure a successful clone cannot corrupt memory
/// (e.g. expect only failure).
pub unsafe fn clone_raw(flags: u64, newsp: u64, ptid: u64, tls: u64, ctid: u64) -> i64 {
    syscall6(nr::CLONE, [flags, newsp, ptid, tls, ctid, 0])
}

/// The raw futex(2): uaddr, op, val, timeout (or val2), uaddr2, val3.
pub fn futex(uaddr: *const u32, op: u64, val: u32, timeout: *const Timespec) -> i64 {
    syscall6(
        nr::FUTEX,
        [uaddr as u64, op, val as u64, timeout as u64, 0, 0],
    )
}

/// A futex wait with `op` (FUTEX_WAIT, private or not) on `word`.
fn futex_wait_op(op: u64, word: &AtomicU32, val: u32, timeout: Option<&Timespec>) -> i64 {
    let timeout = timeout.map_or(core::ptr::null(), |t| t as *const Timespec);
    futex(word.as_ptr(), op, val, timeout)
}

/// FUTEX_WAIT|FUTEX_PRIVATE_FLAG: sleeps while `*word == val`, at most the
/// relative `timeout`. 0 when woken (or spuriously), `-EAGAIN` if the word
/// did not hold `val`, `-ETIMEDOUT`, `-EINTR`.
pub fn futex_wait(word: &AtomicU32, val: u32, timeout: Option<&Timespec>) -> i64 {
    futex_wait_op(futex_op::FUTEX_WAIT_PRIVATE, word, val, timeout)
}

/// FUTEX_WAKE|FUTEX_PRIVATE_FLAG: wakes up to `n` waiters; returns how many.
pub fn futex_wake(word: &AtomicU32, n: u32) -> i64 {
    futex(
        word.as_ptr(),
        futex_op::FUTEX_WAKE_PRIVATE,
        n,
        core::ptr::null(),
    )
}

/// FUTEX_WAIT without FUTEX_PRIVATE_FLAG (a "shared" futex). Needed for the
/// `CLONE_CHILD_CLEARTID` word: Linux wakes it with a shared FUTEX_WAKE,
/// which does not match private waiters.
pub fn futex_wait_shared(word: &AtomicU32, val: u32, timeout: Option<&Timespec>) -> i64 {
    futex_wait_op(futex_op::FUTEX_WAIT, word, val, timeout)
}

/// FUTEX_WAKE without FUTEX_PRIVATE_FLAG.
pub fn futex_wake_shared(word: &AtomicU32, n: u32) -> i64 {
    futex(word.as_ptr(), futex_op::FUTEX_WAKE, n, core::ptr::null())
}

/// mmap(2): the mapping's address, or -errno.
pub fn mmap(addr: u64, len: u64, prot: u64, flags: u64, fd: i64, off: u64) -> i64 {
    syscall6(nr::MMAP, [addr, len, prot, flags, fd as u64, off])
}

/// An anonymous private read-write mapping of `len` bytes (zero-filled).
pub fn mmap_anon(len: usize) -> Result<*mut u8, i64> {
    let ret = mmap(
        0,
        len as u64,
        mman::PROT_READ | mman::PROT_WRITE,
        mman::MAP_PRIVATE | mman::MAP_ANONYMOUS,
        -1,
        0,
    );
    result(ret).map(|a| a as *mut u8)
}

/// munmap(2).
pub fn munmap(addr: u64, len: u64) -> i64 {
    syscall3(nr::MUNMAP, addr, len, 0)
}

/// sched_yield(2).
pub fn sched_yield() -> i64 {
    syscall3(nr::SCHED_YIELD, 0, 0, 0)
}

/// sched_setaffinity(2) with a one-word mask (CPUs 0..63); `tid` 0 = self.
pub fn sched_setaffinity(tid: i64, mask: u64) -> i64 {
    syscall3(
        nr::SCHED_SETAFFINITY,
        tid as u64,
        8,
        &mask as *const u64 as u64,
    )
}

/// sched_getaffinity(2) into a one-word mask; `tid` 0 = self. Returns the
/// number of bytes the kernel wrote (Linux: its cpumask size) or -errno.
pub fn sched_getaffinity(tid: i64, mask: &mut u64) -> i64 {
    syscall3(
        nr::SCHED_GETAFFINITY,
        tid as u64,
        8,
        mask as *mut u64 as u64,
    )
}

/// getcpu(2): (cpu, node), or -errno.
pub fn getcpu() -> Result<(u32, u32), i64> {
    let (mut cpu, mut node) = (u32::MAX, u32::MAX);
    let ret = syscall3(
        nr::GETCPU,
        &mut cpu as *mut u32 as u64,
        &mut node as *mut u32 as u64,
        0,
    );
    result(ret).map(|_| (cpu, node))
}

/// clock_nanosleep(2) with a relative request (flags 0); `rem` receives the
/// remaining time when interrupted (-EINTR).
pub fn clock_nanosleep(clock: u64, flags: u64, req: &Timespec, rem: Option<&mut Timespec>) -> i64 {
    let rem = rem.map_or(0, |r| r as *mut Timespec as u64);
    syscall6(
        nr::CLOCK_NANOSLEEP,
        [clock, flags, req as *const Timespec as u64, rem, 0, 0],
    )
}

/// nanosleep(2).
pub fn nanosleep(req: &Timespec, rem: Option<&mut Timespec>) -> i64 {
    let rem = rem.map_or(0, |r| r as *mut Timespec as u64);
    syscall3(nr::NANOSLEEP, req as *const Timespec as u64, rem, 0)
}

/// rt_sigaction(2) (sigsetsize 8); see [`crate::signal`] for typed use.
pub fn rt_sigaction(sig: u64, act: u64, oact: u64) -> i64 {
    syscall6(nr::RT_SIGACTION, [sig, act, oact, 8, 0, 0])
}

/// rt_sigprocmask(2) (sigsetsize 8); see [`crate::signal`] for typed use.
pub fn rt_sigprocmask(how: u64, set: u64, oset: u64) -> i64 {
    syscall6(nr::RT_SIGPROCMASK, [how, set, oset, 8, 0, 0])
}

/// kill(2).
pub fn kill(pid: i64, sig: i32) -> i64 {
    syscall3(nr::KILL, pid as u64, sig as u64, 0)
}

/// tgkill(2).
pub fn tgkill(tgid: i64, tid: i64, sig: i32) -> i64 {
    syscall3(nr::TGKILL, tgid as u64, tid as u64, sig as u64)
}

/// membarrier(2) commands and flags under short names, from `abi::membarrier`.
pub mod membarrier_cmd {
    pub use abi::membarrier::{
        MEMBARRIER_CMD_FLAG_CPU as FLAG_CPU, MEMBARRIER_CMD_GET_REGISTRATIONS as GET_REGISTRATIONS,
        MEMBARRIER_CMD_GLOBAL as GLOBAL, MEMBARRIER_CMD_GLOBAL_EXPEDITED as GLOBAL_EXPEDITED,
        MEMBARRIER_CMD_PRIVATE_EXPEDITED as PRIVATE_EXPEDITED,
        MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ as PRIVATE_EXPEDITED_RSEQ,
        MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE as PRIVATE_EXPEDITED_SYNC_CORE,
        MEMBARRIER_CMD_QUERY as QUERY,
        MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED as REGISTER_GLOBAL_EXPEDITED,
        MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED as REGISTER_PRIVATE_EXPEDITED,
        MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ as REGISTER_PRIVATE_EXPEDITED_RSEQ,
        MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE as REGISTER_PRIVATE_EXPEDITED_SYNC_CORE,
    };
}

/// membarrier(2): cmd, flags, cpu_id.
pub fn membarrier(cmd: u64, flags: u64, cpu_id: i32) -> i64 {
    syscall3(nr::MEMBARRIER, cmd, flags, cpu_id as i64 as u64)
}

/// rseq(2): `rseq(rseq, rseq_len, flags, sig)`; 0 or -errno. See
/// [`crate::rseq`] for the runtime's registration.
pub fn rseq(rseq: u64, len: u32, flags: u32, sig: u32) -> i64 {
    syscall6(nr::RSEQ, [rseq, len as u64, flags as u64, sig as u64, 0, 0])
}

/// prctl(2): `prctl(option, arg2, arg3, arg4, arg5)`; the result or -errno.
pub fn prctl(option: u64, a2: u64, a3: u64, a4: u64, a5: u64) -> i64 {
    syscall6(nr::PRCTL, [option, a2, a3, a4, a5, 0])
}

/// `rseq_slice_yield()` (471): gives the CPU back at the end of a granted
/// time slice extension. 1 if it yielded inside a grant, else 0 (or -errno).
pub fn rseq_slice_yield() -> i64 {
    syscall3(nr::RSEQ_SLICE_YIELD, 0, 0, 0)
}

/// The raw `kstats(buf, len)` syscall: bytes written or -errno.
pub fn kstats_raw(buf: *mut KStats, len: usize) -> i64 {
    syscall3(nr::KSTATS, buf as u64, len as u64, 0)
}

/// The kernel's counters (rseq-os only; `Err(-ENOSYS)` elsewhere).
pub fn kstats() -> Result<KStats, i64> {
    let mut k = KStats::default();
    let n = result(kstats_raw(&mut k, core::mem::size_of::<KStats>()))?;
    if n < 16 || k.version != KSTATS_VERSION {
        return Err(-errno::EINVAL);
    }
    Ok(k)
}
