//! Generators for the Linux calls a static libc makes at startup (see
//! [`crate::ops`] for the rules every generator follows): the console
//! fds (read, readv, writev, ioctl), identity (uname, the IDs, getppid,
//! clone3), limits (prlimit64), getrandom, clock_getres, the sched_get*
//! calls, robust lists and sigaltstack. Results the kernel fixes are
//! checked; none of these can block, and none changes what the fuzzer
//! relies on (the alternate stack and the robust list are reset at once).

use abi::mman::{MADV_DONTNEED, PROT_EXEC, PROT_NONE, PROT_READ, PROT_WRITE};
use abi::resource::Rlimit64;
use abi::signal::{SS_AUTODISARM, SS_DISABLE, SS_ONSTACK, StackT};
use abi::stat::{AT_EMPTY_PATH, AT_FDCWD};
use abi::uio::{IOV_MAX, Iovec};
use rt::sys::{errno, nr, syscall6};

use crate::mem::{KERNEL_IMAGE, PAGE, SLACK, USER_UNMAPPED, any_flags, any_len, is_ok};
use crate::rng::Rng;
use crate::stats::anomaly;
use crate::worker::Worker;

/// The console fds, closed ones, and junk.
fn any_fd(r: &mut Rng) -> u64 {
    pick!(
        r,
        [
            0,
            0,
            1,
            2,
            3,
            7,
            1000,
            u64::MAX,
            (1 << 32) | 1,
            r.next_u64()
        ]
    )
}

fn junk(r: &mut Rng) -> [u64; 6] {
    [(); 6].map(|_| r.next_u64())
}

pub fn op_read(w: &mut Worker) -> i64 {
    let r = &mut w.rng;
    let fd = any_fd(r);
    let (buf, len) = (w.mem.any_ptr(r), any_len(r));
    let ret = if r.coin() {
        syscall6(nr::READ, [fd, buf, len, 0, 0, 0])
    } else {
        let iov = w.mem.any_ptr(r);
        let cnt = pick!(
            r,
            [
                0,
                1,
                2,
                IOV_MAX as u64,
                IOV_MAX as u64 + 1,
                u64::MAX,
                r.below(64)
            ]
        );
        syscall6(nr::READV, [fd, iov, cnt, 0, 0, 0])
    };
    // There is no console input: never a byte read.
    if ret > 0 {
        anomaly(format_args!("read/readv of fd {fd:#x} returned {ret}"));
    }
    ret
}

/// writev with hostile iovec arrays. On the console fds every buffer is
/// unreadable or empty (so nothing random reaches the serial log): the
/// result must be 0 or an errno.
pub fn op_writev(w: &mut Worker) -> i64 {
    let r = &mut w.rng;
    let fd = any_fd(r);
    let console = matches!(fd as u32, 1 | 2);
    let mut iov = [Iovec::default(); 4];
    for v in iov.iter_mut() {
        *v = if r.one_in(3) {
            Iovec {
                iov_base: w.mem.any_ptr(r),
                iov_len: 0,
            }
        } else {
            Iovec {
                iov_base: pick!(
                    r,
                    [
                        0,
                        USER_UNMAPPED + r.below(4096),
                        crate::mem::KERNEL_VA,
                        u64::MAX - 8
                    ]
                ),
                iov_len: pick!(r, [1, 8, 4096, 1 << 63, u64::MAX, r.next_u64()]),
            }
        };
        if !console && r.coin() {
            v.iov_base = w.mem.any_ptr(r);
        }
    }
    let arr = match r.below(4) {
        0 => w.mem.bad_ptr(r, 64),
        _ => iov.as_ptr() as u64,
    };
    let cnt = pick!(r, [0, 1, 2, 3, 4, 4, IOV_MAX as u64 + 1, u64::MAX]);
    // Past the 4 built entries the array runs into the worker's stack:
    // readable, so only the counts above 4 that must fail are used.
    let ret = syscall6(nr::WRITEV, [fd, arr, cnt, 0, 0, 0]);
    if ret > 0 && console {
        anomaly(format_args!(
            "writev of unreadable buffers to fd {fd} returned {ret}"
        ));
    }
    if ret > 0 && !console {
        anomaly(format_args!("writev to closed fd {fd:#x} returned {ret}"));
    }
    ret
}

pub fn op_ioctl(w: &mut Worker) -> i64 {
    let r = &mut w.rng;
    let fd = any_fd(r);
    let req = pick!(r, [0x5401, 0x5401, 0x5413, 0, r.next_u64()]);
    let arg = w.mem.any_ptr(r);
    let ret = syscall6(nr::IOCTL, [fd, req, arg, 0, 0, 0]);
    let want = if fd as u32 <= 2 {
        -errno::ENOTTY
    } else {
        -errno::EBADF
    };
    if ret != want {
        anomaly(format_args!(
            "ioctl({fd:#x}, {req:#x}) = {ret}, want {want}"
        ));
    }
    ret
}

pub fn op_identity(w: &mut Worker) -> i64 {
    let r = &mut w.rng;
    match r.below(3) {
        0 => {
            let n = pick!(
                r,
                [
                    nr::GETUID,
                    nr::GETEUID,
                    nr::GETGID,
                    nr::GETEGID,
                    nr::GETPPID
                ]
            );
            let ret = syscall6(n, junk(r));
            if ret != 0 {
                anomaly(format_args!("syscall {n} (an ID) = {ret}, want 0"));
            }
            ret
        }
        1 => syscall6(nr::UNAME, [w.mem.any_ptr(r), 0, 0, 0, 0, 0]),
        _ => {
            let ret = syscall6(nr::CLONE3, junk(r));
            if ret != -errno::ENOSYS {
                anomaly(format_args!("clone3 = {ret}, want -ENOSYS"));
            }
            ret
        }
    }
}

pub fn op_prlimit(w: &mut Worker) -> i64 {
    let pid = if w.rng.coin() { 0 } else { w.some_tid() };
    let r = &mut w.rng;
    let res = pick!(r, [3, 7, 0, 9, 15, 16, 1000, u64::MAX, r.below(20)]);
    // Only RLIMIT_NOFILE is enforced, and the fuzzer opens no fd (a
    // lowered limit only fails ppoll's nfds check), so a random set is
    // harmless.
    let lim = Rlimit64 {
        rlim_cur: pick!(r, [0, 1024, u64::MAX, r.next_u64()]),
        rlim_max: pick!(r, [0, 4096, u64::MAX, 1 << 21, r.next_u64()]),
    };
    let new = match r.below(4) {
        0 | 1 => 0,
        2 => w.mem.bad_ptr(r, 16),
        _ => &lim as *const Rlimit64 as u64,
    };
    let old = w.mem.any_ptr(r);
    syscall6(nr::PRLIMIT64, [pid, res, new, old, 0, 0])
}

pub fn op_getrandom(w: &mut Worker) -> i64 {
    let r = &mut w.rng;
    // getrandom writes its whole length: into valid memory never more than
    // the pools' slack; any length only where the write must fault at once.
    let (buf, len) = if r.coin() {
        (w.mem.any_ptr(r), r.below(SLACK + 1))
    } else {
        (
            pick!(r, [0, USER_UNMAPPED, crate::mem::KERNEL_VA, u64::MAX - 8]),
            any_len(r),
        )
    };
    let flags = pick!(r, [0, 1, 2, 3, 4, 5, 6, 8, u64::MAX, any_flags(r)]);
    let ret = syscall6(nr::GETRANDOM, [buf, len, flags, 0, 0, 0]);
    if is_ok(ret) && ret as u64 > len {
        anomaly(format_args!("getrandom({len}) = {ret}"));
    }
    ret
}

pub fn op_clock_getres(w: &mut Worker) -> i64 {
    let r = &mut w.rng;
    let clock = pick!(r, [0, 1, 4, 5, 6, 7, 2, 3, 8, 11, u64::MAX, r.next_u64()]);
    let res = w.mem.any_ptr(r);
    syscall6(nr::CLOCK_GETRES, [clock, res, 0, 0, 0, 0])
}

pub fn op_sched_get(w: &mut Worker) -> i64 {
    let tid = w.some_tid();
    let pid = pick!(w.rng, [0, 0, tid, u64::MAX, 1 << 31, 9999]);
    let r = &mut w.rng;
    if r.coin() {
        let ret = syscall6(nr::SCHED_GETSCHEDULER, [pid, 0, 0, 0, 0, 0]);
        if ret > 0 {
            anomaly(format_args!("sched_getscheduler({pid:#x}) = {ret}"));
        }
        ret
    } else {
        syscall6(nr::SCHED_GETPARAM, [pid, w.mem.any_ptr(r), 0, 0, 0, 0])
    }
}

/// set_robust_list with junk, then back to none (the runtime uses none);
/// or get_robust_list of some thread into any memory.
pub fn op_robust(w: &mut Worker) -> i64 {
    let tid = w.some_tid();
    let pid = pick!(w.rng, [0, tid, u64::MAX, 9999]);
    let r = &mut w.rng;
    if r.coin() {
        let len = pick!(r, [24, 24, 0, 16, 32, u64::MAX]);
        let ret = syscall6(nr::SET_ROBUST_LIST, [w.mem.any_ptr(r), len, 0, 0, 0, 0]);
        syscall6(nr::SET_ROBUST_LIST, [0, 24, 0, 0, 0, 0]);
        if (ret == 0) != (len == 24) {
            anomaly(format_args!("set_robust_list(len {len}) = {ret}"));
        }
        ret
    } else {
        let (h, l) = (w.mem.any_ptr(r), w.mem.any_ptr(r));
        syscall6(nr::GET_ROBUST_LIST, [pid, h, l, 0, 0, 0])
    }
}

/// sigaltstack with hostile arguments, then SS_DISABLE again. The
/// fuzzer's handlers never ask for SA_ONSTACK, so a stack set for the
/// moment is never used.
pub fn op_sigaltstack(w: &mut Worker) -> i64 {
    let r = &mut w.rng;
    // Never a stack that holds this thread's own sp: Linux (and so the
    // kernel) refuses to change a stack the thread is on, so it could not
    // be reset. A huge size only above the user window.
    let (ss_sp, ss_size) = if r.one_in(6) {
        (pick!(r, [crate::mem::KERNEL_VA, u64::MAX - 4096]), u64::MAX)
    } else {
        (
            pick!(r, [w.mem.scratch, 0, USER_UNMAPPED, crate::mem::KERNEL_VA]),
            pick!(r, [0, 2048, 5119, 5120, 16384]),
        )
    };
    let st = StackT {
        ss_sp,
        ss_flags: pick!(
            r,
            [
                0,
                SS_ONSTACK,
                SS_DISABLE,
                SS_AUTODISARM,
                3,
                -1,
                r.next_u64() as i32
            ]
        ),
        _pad: 0,
        ss_size,
    };
    let ss = match r.below(4) {
        0 => 0,
        1 => w.mem.bad_ptr(r, 24),
        _ => &st as *const StackT as u64,
    };
    let old = w.mem.any_ptr(r);
    let ret = syscall6(nr::SIGALTSTACK, [ss, old, 0, 0, 0, 0]);
    let off = StackT {
        ss_sp: 0,
        ss_flags: SS_DISABLE,
        _pad: 0,
        ss_size: 0,
    };
    let reset = syscall6(
        nr::SIGALTSTACK,
        [&off as *const StackT as u64, 0, 0, 0, 0, 0],
    );
    if reset != 0 {
        anomaly(format_args!("sigaltstack(SS_DISABLE) = {reset}"));
    }
    ret
}

/// newfstatat, fstat and readlinkat: no filesystem, the console fds stat
/// as a character device. The buffers are pool pointers (a `struct stat`
/// is 128 bytes, within the pools' slack) or hostile ones.
pub fn op_stat(w: &mut Worker) -> i64 {
    let r = &mut w.rng;
    let empty = c"".as_ptr() as u64;
    match r.below(3) {
        0 => {
            let path = pick!(r, [empty, empty, w.mem.any_ptr(r)]);
            let flags = pick!(r, [AT_EMPTY_PATH, 0, any_flags(r)]);
            let fd = pick!(r, [any_fd(r), AT_FDCWD as u64]);
            let ret = syscall6(nr::NEWFSTATAT, [fd, path, w.mem.any_ptr(r), flags, 0, 0]);
            if path == empty
                && flags == AT_EMPTY_PATH
                && fd <= 2
                && ret != 0
                && ret != -errno::EFAULT
            {
                anomaly(format_args!(
                    "newfstatat({fd}, \"\", AT_EMPTY_PATH) = {ret}"
                ));
            }
            ret
        }
        1 => syscall6(nr::FSTAT, [any_fd(r), w.mem.any_ptr(r), 0, 0, 0, 0]),
        _ => {
            let size = pick!(r, [0, u64::MAX, 64, any_len(r)]);
            let ret = syscall6(
                nr::READLINKAT,
                [any_fd(r), w.mem.any_ptr(r), w.mem.any_ptr(r), size, 0, 0],
            );
            if ret >= 0 {
                anomaly(format_args!("readlinkat = {ret}: there is no filesystem"));
            }
            ret
        }
    }
}

/// mprotect and madvise: on one of the thread's own mappings, a round of
/// protections that must all succeed and ends read-write again (the
/// thread keeps using it), and MADV_DONTNEED (its contents are nobody's);
/// elsewhere, arguments that must fail: kernel addresses, the never-mapped
/// hole, misaligned or wrapping ranges, unknown bits, W+X.
pub fn op_mprotect(w: &mut Worker) -> i64 {
    let r = &mut w.rng;
    if r.coin()
        && let Some(i) = w.mem.some_region(r)
    {
        let reg = w.mem.regions[i];
        let pages = reg.len / PAGE;
        let first = r.below(pages);
        let (addr, len) = (reg.addr + first * PAGE, r.range(1, pages - first) * PAGE);
        let rw = PROT_READ | PROT_WRITE;
        for (call, a2) in [
            (nr::MPROTECT, PROT_READ),
            (nr::MPROTECT, PROT_NONE),
            (nr::MADVISE, MADV_DONTNEED),
            (nr::MPROTECT, rw),
        ] {
            let ret = syscall6(call, [addr, len, a2, 0, 0, 0]);
            if ret != 0 {
                anomaly(format_args!(
                    "syscall {call}({addr:#x}, {len:#x}, {a2}) of the thread's own mapping = {ret}"
                ));
                return ret;
            }
        }
        return 0;
    }
    let call = pick!(r, [nr::MPROTECT, nr::MADVISE]);
    let scratch = w.mem.scratch;
    let (addr, len, arg) = match r.below(7) {
        0 => (KERNEL_IMAGE & !(PAGE - 1), PAGE, PROT_READ),
        1 => (USER_UNMAPPED + r.below(64) * PAGE, PAGE, PROT_READ),
        2 => (scratch | (1 + r.below(PAGE - 1)), PAGE, PROT_READ),
        3 => (scratch, u64::MAX - r.below(PAGE), PROT_READ),
        4 => (!(PAGE - 1), 2 * PAGE, PROT_READ),
        5 => (scratch, PAGE, 0x100 | r.below(1 << 8) << 8),
        _ => (scratch, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC),
    };
    // madvise's "advice" slot: the same bad bits, or MADV_DONTNEED where
    // only the range is wrong (never on the scratch page itself).
    let arg = if call == nr::MADVISE && arg < 8 {
        MADV_DONTNEED
    } else {
        arg
    };
    if call == nr::MADVISE && arg == MADV_DONTNEED && addr == scratch && len == PAGE {
        return 0;
    }
    let ret = syscall6(call, [addr, len, arg, 0, 0, 0]);
    if ret >= 0 {
        anomaly(format_args!(
            "syscall {call}({addr:#x}, {len:#x}, {arg:#x}) succeeded"
        ));
    }
    ret
}

/// ppoll that never waits: a zero timeout (a sleep could outlast the run),
/// the thread's fds array or a hostile one.
pub fn op_ppoll(w: &mut Worker) -> i64 {
    let r = &mut w.rng;
    let zero = [0u64; 2];
    let nfds = pick!(r, [0, 1, 3, 1025, r.below(1 << 20)]);
    syscall6(
        nr::PPOLL,
        [
            w.mem.any_ptr(r),
            nfds,
            zero.as_ptr() as u64,
            pick!(r, [0, w.mem.any_ptr(r)]),
            pick!(r, [8, 0, 16]),
            0,
        ],
    )
}
