//! `selftest -- linuxabi`: the Linux calls a static glibc and pthreads
//! make at startup and in common use, each result and errno as Linux
//! gives it; `selftest -- strace` makes a few calls whose trace lines the
//! runner checks (booted with `strace=1`).

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use abi::futex::*;
use abi::ioctl::TCGETS;
use abi::random::{GRND_INSECURE, GRND_NONBLOCK, GRND_RANDOM};
use abi::resource::{
    RLIM_INFINITY, RLIM_NLIMITS, RLIMIT_CPU, RLIMIT_NOFILE, RLIMIT_STACK, Rlimit64,
};
use abi::sched::SchedParam;
use abi::signal::{
    MINSIGSTKSZ, SA_ONSTACK, SIGUSR1, SIGUSR2, SS_AUTODISARM, SS_DISABLE, SS_ONSTACK, StackT,
};
use abi::time::*;
use abi::uio::{IOV_MAX, Iovec};
use abi::utsname::{NewUtsname, as_str};
use rt::signal;
use rt::sys::{self, errno, nr, syscall3, syscall6};
use rt::test::{MS, check, status};

use crate::USER_UNMAPPED;

fn p<T>(x: &T) -> u64 {
    x as *const T as u64
}

fn pm<T>(x: &mut T) -> u64 {
    x as *mut T as u64
}

pub fn run(kernel: u64) -> i32 {
    let mut all = true;
    all &= identity();
    all &= io(kernel);
    all &= limits();
    all &= random();
    all &= clocks();
    all &= altstack();
    all &= futexes();
    all &= unknown();
    status(all)
}

fn identity() -> bool {
    let mut all = true;
    let mut u = NewUtsname::default();
    let r = syscall3(nr::UNAME, pm(&mut u), 0, 0);
    all &= check(
        "uname",
        r == 0
            && as_str(&u.sysname) == "Linux"
            && as_str(&u.release) == "7.2.0-rseq-os"
            && as_str(&u.nodename) == "rseq-os"
            && as_str(&u.machine) == "aarch64",
        format_args!("{r} {:?} {:?}", as_str(&u.sysname), as_str(&u.release)),
    );
    let r = syscall3(nr::UNAME, USER_UNMAPPED, 0, 0);
    all &= check("uname-efault", r == -errno::EFAULT, format_args!("{r}"));
    let ids = [
        nr::GETUID,
        nr::GETEUID,
        nr::GETGID,
        nr::GETEGID,
        nr::GETPPID,
    ]
    .map(|n| syscall3(n, 0, 0, 0));
    all &= check("ids", ids == [0; 5], format_args!("{ids:?}"));
    let r = syscall3(nr::CLONE3, 0, 0, 0);
    all &= check("clone3-enosys", r == -errno::ENOSYS, format_args!("{r}"));

    let s = [0, 1, -1i64 as u64, 9999].map(|pid| syscall3(nr::SCHED_GETSCHEDULER, pid, 0, 0));
    all &= check(
        "sched_getscheduler",
        s == [0, 0, -errno::EINVAL, -errno::ESRCH],
        format_args!("{s:?}"),
    );
    let mut sp = SchedParam { sched_priority: 7 };
    let r = [
        syscall3(nr::SCHED_GETPARAM, 0, pm(&mut sp), 0),
        syscall3(nr::SCHED_GETPARAM, 0, 0, 0),
        syscall3(nr::SCHED_GETPARAM, 9999, pm(&mut sp), 0),
        syscall3(nr::SCHED_GETPARAM, -3i64 as u64, pm(&mut sp), 0),
        syscall3(nr::SCHED_GETPARAM, 1, USER_UNMAPPED, 0),
    ];
    all &= check(
        "sched_getparam",
        r == [
            0,
            -errno::EINVAL,
            -errno::ESRCH,
            -errno::EINVAL,
            -errno::EFAULT,
        ] && sp.sched_priority == 0,
        format_args!("{r:?} prio {}", sp.sched_priority),
    );

    static HEAD: [u64; 3] = [0; 3];
    let (mut h, mut l) = (0u64, 0u64);
    let r = [
        syscall3(nr::SET_ROBUST_LIST, p(&HEAD), 16, 0),
        syscall3(nr::SET_ROBUST_LIST, p(&HEAD), 24, 0),
        syscall3(nr::GET_ROBUST_LIST, 0, pm(&mut h), pm(&mut l)),
        syscall3(nr::GET_ROBUST_LIST, 9999, pm(&mut h), pm(&mut l)),
        syscall3(nr::GET_ROBUST_LIST, 1, pm(&mut h), USER_UNMAPPED),
    ];
    all &= check(
        "robust_list",
        r == [-errno::EINVAL, 0, 0, -errno::ESRCH, -errno::EFAULT] && h == p(&HEAD) && l == 24,
        format_args!("{r:?} head {h:#x} len {l}"),
    );
    all
}

fn io(kernel: u64) -> bool {
    let mut all = true;
    let mut term = [0u8; 64];
    let r = [
        syscall3(nr::IOCTL, 0, u64::from(TCGETS), pm(&mut term)),
        syscall3(nr::IOCTL, 1, u64::from(TCGETS), pm(&mut term)),
        syscall3(nr::IOCTL, 2, 0x1234, 0),
        syscall3(nr::IOCTL, 5, u64::from(TCGETS), pm(&mut term)),
    ];
    all &= check(
        "ioctl",
        r == [
            -errno::ENOTTY,
            -errno::ENOTTY,
            -errno::ENOTTY,
            -errno::EBADF,
        ],
        format_args!("{r:?}"),
    );

    let (a, b) = (b"writev-a ", b"writev-b\n");
    let iov = [
        Iovec {
            iov_base: a.as_ptr() as u64,
            iov_len: a.len() as u64,
        },
        Iovec {
            iov_base: b.as_ptr() as u64,
            iov_len: b.len() as u64,
        },
    ];
    let r = syscall3(nr::WRITEV, 1, p(&iov), 2);
    all &= check("writev", r == 18, format_args!("{r}"));
    let part = b"writev-partial\n";
    let partial = [
        Iovec {
            iov_base: part.as_ptr() as u64,
            iov_len: part.len() as u64,
        },
        Iovec {
            iov_base: USER_UNMAPPED,
            iov_len: 8,
        },
    ];
    let bad_len = [
        Iovec {
            iov_base: USER_UNMAPPED,
            iov_len: 8,
        },
        Iovec {
            iov_base: 0,
            iov_len: 1 << 63,
        },
    ];
    let kern = [
        Iovec {
            iov_base: part.as_ptr() as u64,
            iov_len: 1,
        },
        Iovec {
            iov_base: kernel,
            iov_len: 8,
        },
    ];
    let empty = [Iovec {
        iov_base: 0,
        iov_len: 0,
    }];
    let r = [
        syscall3(nr::WRITEV, 1, p(&partial), 2),
        syscall3(nr::WRITEV, 1, p(&iov), IOV_MAX as u64 + 1),
        syscall3(nr::WRITEV, 1, p(&iov), 0),
        syscall3(nr::WRITEV, 1, USER_UNMAPPED, 1),
        syscall3(nr::WRITEV, 1, p(&bad_len), 2),
        syscall3(nr::WRITEV, 1, p(&kern), 2),
        syscall3(nr::WRITEV, 5, p(&iov), 2),
        syscall3(nr::WRITEV, 2, p(&empty), 1),
        syscall3(nr::WRITEV, 1, p(&partial[1]), 1),
    ];
    all &= check(
        "writev-errors",
        r == [
            part.len() as i64,
            -errno::EINVAL,
            0,
            -errno::EFAULT,
            -errno::EINVAL,
            -errno::EFAULT,
            -errno::EBADF,
            0,
            -errno::EFAULT,
        ],
        format_args!("{r:?}"),
    );

    let mut buf = [0u8; 16];
    let riov = [Iovec {
        iov_base: pm(&mut buf),
        iov_len: 16,
    }];
    let r = [
        syscall3(nr::READ, 0, pm(&mut buf), 16),
        syscall3(nr::READ, 0, 0, 0),
        syscall3(nr::READ, 0, kernel, 16),
        syscall3(nr::READ, 1, pm(&mut buf), 16),
        syscall3(nr::READ, 7, pm(&mut buf), 16),
        syscall3(nr::READV, 0, p(&riov), 1),
        syscall3(nr::READV, 0, p(&riov), IOV_MAX as u64 + 1),
        syscall3(nr::READV, 0, USER_UNMAPPED, 1),
        syscall3(nr::READV, 2, p(&riov), 1),
    ];
    all &= check(
        "read-eof",
        r == [
            0,
            0,
            -errno::EFAULT,
            -errno::EBADF,
            -errno::EBADF,
            0,
            -errno::EINVAL,
            -errno::EFAULT,
            -errno::EBADF,
        ],
        format_args!("{r:?}"),
    );
    all
}

fn getrlimit(pid: u64, res: u32) -> (i64, Rlimit64) {
    let mut old = Rlimit64::default();
    let r = syscall6(nr::PRLIMIT64, [pid, u64::from(res), 0, pm(&mut old), 0, 0]);
    (r, old)
}

fn limits() -> bool {
    let mut all = true;
    let stack = getrlimit(0, RLIMIT_STACK);
    let nofile = getrlimit(1, RLIMIT_NOFILE);
    let cpu = getrlimit(0, RLIMIT_CPU);
    all &= check(
        "prlimit64-get",
        stack
            == (
                0,
                Rlimit64 {
                    rlim_cur: 8 << 20,
                    rlim_max: RLIM_INFINITY,
                },
            )
            && nofile
                == (
                    0,
                    Rlimit64 {
                        rlim_cur: 1024,
                        rlim_max: 4096,
                    },
                )
            && cpu
                == (
                    0,
                    Rlimit64 {
                        rlim_cur: RLIM_INFINITY,
                        rlim_max: RLIM_INFINITY,
                    },
                ),
        format_args!("{stack:?} {nofile:?} {cpu:?}"),
    );
    let set = |pid: u64, res: u32, cur: u64, max: u64| {
        let new = Rlimit64 {
            rlim_cur: cur,
            rlim_max: max,
        };
        syscall6(nr::PRLIMIT64, [pid, u64::from(res), p(&new), 0, 0, 0])
    };
    let r = [
        getrlimit(0, RLIM_NLIMITS).0,
        getrlimit(9999, RLIMIT_STACK).0,
        getrlimit(-1i64 as u64, RLIMIT_STACK).0,
        syscall6(
            nr::PRLIMIT64,
            [0, u64::from(RLIMIT_STACK), 0, USER_UNMAPPED, 0, 0],
        ),
        syscall6(
            nr::PRLIMIT64,
            [0, u64::from(RLIMIT_STACK), USER_UNMAPPED, 0, 0, 0],
        ),
        set(0, RLIMIT_NOFILE, 10, 5),
        set(0, RLIMIT_NOFILE, 10, 1 << 21),
        set(0, RLIMIT_NOFILE, 512, 2048),
    ];
    let after = getrlimit(0, RLIMIT_NOFILE);
    all &= check(
        "prlimit64-errors",
        r == [
            -errno::EINVAL,
            -errno::ESRCH,
            -errno::ESRCH,
            -errno::EFAULT,
            -errno::EFAULT,
            -errno::EINVAL,
            -errno::EPERM,
            0,
        ] && after
            == (
                0,
                Rlimit64 {
                    rlim_cur: 512,
                    rlim_max: 2048,
                },
            ),
        format_args!("{r:?} then {after:?}"),
    );
    all
}

fn random() -> bool {
    let (mut a, mut b) = ([0u8; 100], [0u8; 100]);
    let ra = syscall3(nr::GETRANDOM, pm(&mut a), 100, 0);
    let rb = syscall3(
        nr::GETRANDOM,
        pm(&mut b),
        100,
        u64::from(GRND_NONBLOCK | GRND_RANDOM),
    );
    let ri = syscall3(nr::GETRANDOM, pm(&mut b), 7, u64::from(GRND_INSECURE));
    let zeros = a.iter().filter(|&&x| x == 0).count();
    let mut all = check(
        "getrandom",
        ra == 100 && rb == 100 && ri == 7 && a != b && zeros < 10,
        format_args!("{ra} {rb} {ri} zeros {zeros}"),
    );
    let r = [
        syscall3(nr::GETRANDOM, pm(&mut a), 8, 8),
        syscall3(
            nr::GETRANDOM,
            pm(&mut a),
            8,
            u64::from(GRND_INSECURE | GRND_RANDOM),
        ),
        syscall3(nr::GETRANDOM, USER_UNMAPPED, 8, 0),
        syscall3(nr::GETRANDOM, 0, 0, 0),
    ];
    all &= check(
        "getrandom-errors",
        r == [-errno::EINVAL, -errno::EINVAL, -errno::EFAULT, 0],
        format_args!("{r:?}"),
    );
    all
}

fn gettime(clock: u64) -> Timespec {
    let mut t = Timespec::default();
    sys::clock_gettime_raw(clock, pm(&mut t));
    t
}

fn clocks() -> bool {
    let mut all = true;
    let res = |c: u64| {
        let mut t = Timespec {
            tv_sec: 9,
            tv_nsec: 9,
        };
        (syscall3(nr::CLOCK_GETRES, c, pm(&mut t), 0), t.as_nanos())
    };
    let r = [
        res(CLOCK_REALTIME),
        res(CLOCK_MONOTONIC),
        res(CLOCK_BOOTTIME),
        res(CLOCK_MONOTONIC_COARSE),
        res(CLOCK_PROCESS_CPUTIME_ID),
        (syscall3(nr::CLOCK_GETRES, CLOCK_MONOTONIC, 0, 0), 0),
        (
            syscall3(nr::CLOCK_GETRES, CLOCK_MONOTONIC, USER_UNMAPPED, 0),
            0,
        ),
    ];
    all &= check(
        "clock_getres",
        r == [
            (0, 1),
            (0, 1),
            (0, 1),
            (0, 10 * MS),
            (-errno::EINVAL, 9_000_000_009),
            (0, 0),
            (-errno::EFAULT, 0),
        ],
        format_args!("{r:?}"),
    );
    let m0 = gettime(CLOCK_MONOTONIC).as_nanos();
    let rt = gettime(CLOCK_REALTIME).as_nanos();
    let m1 = gettime(CLOCK_MONOTONIC).as_nanos();
    all &= check(
        "clock-realtime",
        m0 <= rt && rt <= m1 && rt > 0,
        format_args!("{m0} {rt} {m1}"),
    );
    let until = Timespec::from_nanos(gettime(CLOCK_REALTIME).as_nanos() + 20 * MS);
    let r = syscall6(
        nr::CLOCK_NANOSLEEP,
        [CLOCK_REALTIME, TIMER_ABSTIME, p(&until), 0, 0, 0],
    );
    let woke = gettime(CLOCK_REALTIME).as_nanos();
    let coarse = syscall6(
        nr::CLOCK_NANOSLEEP,
        [CLOCK_MONOTONIC_COARSE, 0, p(&until), 0, 0, 0],
    );
    all &= check(
        "clock_nanosleep-realtime",
        r == 0 && woke >= until.as_nanos() && coarse == -errno::EOPNOTSUPP,
        format_args!("{r} woke {woke} for {} coarse {coarse}", until.as_nanos()),
    );
    all
}

/// What the SIGUSR1/2 handlers saw: the address of a local, and the
/// sigaltstack query and change results from inside.
static SEEN_SP: AtomicU64 = AtomicU64::new(0);
static SEEN_FLAGS: AtomicU64 = AtomicU64::new(0);
static SEEN_EPERM: AtomicU64 = AtomicU64::new(0);

extern "C" fn on_signal(_sig: i32, _info: *mut signal::SigInfo, _uc: *mut core::ffi::c_void) {
    let local = 0u8;
    SEEN_SP.store(core::ptr::addr_of!(local) as u64, Ordering::SeqCst);
    let mut q = StackT::default();
    syscall3(nr::SIGALTSTACK, 0, pm(&mut q), 0);
    SEEN_FLAGS.store(q.ss_flags as u32 as u64, Ordering::SeqCst);
    let other = StackT {
        ss_sp: 0,
        ss_flags: 0,
        _pad: 0,
        ss_size: 1 << 20,
    };
    let r = syscall3(nr::SIGALTSTACK, p(&other), 0, 0);
    SEEN_EPERM.store(r as u64, Ordering::SeqCst);
}

static mut ALT: [u8; 16384] = [0; 16384];

fn altstack() -> bool {
    let mut all = true;
    let alt = core::ptr::addr_of!(ALT) as u64;
    let size = 16384;
    let query = || {
        let mut q = StackT::default();
        let r = syscall3(nr::SIGALTSTACK, 0, pm(&mut q), 0);
        (r, q.ss_flags, q.ss_size)
    };
    let set = |flags: i32, sz: u64| {
        let s = StackT {
            ss_sp: alt,
            ss_flags: flags,
            _pad: 0,
            ss_size: sz,
        };
        syscall3(nr::SIGALTSTACK, p(&s), 0, 0)
    };
    let first = query();
    let r = [
        set(0, MINSIGSTKSZ - 1),
        set(5, size),
        syscall3(nr::SIGALTSTACK, USER_UNMAPPED, 0, 0),
        set(0, size),
        syscall3(nr::SIGALTSTACK, 0, USER_UNMAPPED, 0),
    ];
    let after = query();
    all &= check(
        "sigaltstack",
        first == (0, SS_DISABLE, 0)
            && r == [
                -errno::ENOMEM,
                -errno::EINVAL,
                -errno::EFAULT,
                0,
                -errno::EFAULT,
            ]
            && after == (0, 0, size),
        format_args!("{first:?} {r:?} {after:?}"),
    );
    let on_alt = |sp: u64| sp > alt && sp <= alt + size;
    let handled = signal::sigaction(SIGUSR1, on_signal, SA_ONSTACK).is_ok()
        && signal::sigaction(SIGUSR2, on_signal, 0).is_ok();
    let _ = signal::raise(SIGUSR1);
    let (sp1, fl1, eperm) = (
        SEEN_SP.load(Ordering::SeqCst),
        SEEN_FLAGS.load(Ordering::SeqCst) as i32,
        SEEN_EPERM.load(Ordering::SeqCst) as i64,
    );
    let _ = signal::raise(SIGUSR2);
    let sp2 = SEEN_SP.load(Ordering::SeqCst);
    let back = query();
    all &= check(
        "sa_onstack",
        handled
            && on_alt(sp1)
            && fl1 == SS_ONSTACK
            && eperm == -errno::EPERM
            && !on_alt(sp2)
            && back == (0, 0, size),
        format_args!(
            "sp {sp1:#x} flags {fl1} set {eperm}, no SA_ONSTACK sp {sp2:#x}, after {back:?}, stack {alt:#x}+{size}"
        ),
    );
    // SS_AUTODISARM: no alternate stack while the handler runs on it
    // (so it may take another signal there), back after rt_sigreturn.
    let r = set(SS_AUTODISARM, size);
    let _ = signal::raise(SIGUSR1);
    let (sp3, fl3, set3) = (
        SEEN_SP.load(Ordering::SeqCst),
        SEEN_FLAGS.load(Ordering::SeqCst) as i32,
        SEEN_EPERM.load(Ordering::SeqCst) as i64,
    );
    let back = query();
    let off = set(SS_DISABLE, 0);
    let _ = signal::raise(SIGUSR1);
    let sp4 = SEEN_SP.load(Ordering::SeqCst);
    let _ = signal::set_disposition(SIGUSR1, signal::SIG_DFL);
    let _ = signal::set_disposition(SIGUSR2, signal::SIG_DFL);
    all &= check(
        "ss_autodisarm",
        r == 0
            && on_alt(sp3)
            && fl3 == SS_DISABLE
            && set3 == 0
            && back == (0, SS_AUTODISARM, size)
            && off == 0
            && !on_alt(sp4),
        format_args!(
            "{r} sp {sp3:#x} flags {fl3} set {set3} after {back:?} disable {off} sp {sp4:#x}"
        ),
    );
    all
}

static WORD_A: AtomicU32 = AtomicU32::new(0);
static WORD_B: AtomicU32 = AtomicU32::new(0);

fn futex6(w: &AtomicU32, op: u64, val: u64, t: u64, w2: &AtomicU32, val3: u64) -> i64 {
    syscall6(
        nr::FUTEX,
        [w.as_ptr() as u64, op, val, t, w2.as_ptr() as u64, val3],
    )
}

/// Waiters on `w`, counted without waking them (a requeue onto itself).
fn waiters(w: &AtomicU32) -> i64 {
    futex6(w, FUTEX_REQUEUE | FUTEX_PRIVATE_FLAG, 0, 100, w, 0)
}

fn wait_for_waiters(w: &AtomicU32, n: i64) -> bool {
    for _ in 0..500 {
        if waiters(w) == n {
            return true;
        }
        let _ = sys::nanosleep(&Timespec::from_nanos(MS), None);
    }
    false
}

fn bitset_waiter(bits: usize) -> i32 {
    futex6(
        &WORD_A,
        FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG,
        0,
        0,
        &WORD_A,
        bits as u64,
    ) as i32
}

fn plain_waiter(_: usize) -> i32 {
    futex6(&WORD_A, FUTEX_WAIT_PRIVATE, 0, 0, &WORD_A, 0) as i32
}

fn futexes() -> bool {
    let mut all = true;
    let now = gettime(CLOCK_MONOTONIC).as_nanos();
    let past = Timespec::from_nanos(1);
    let soon = Timespec::from_nanos(gettime(CLOCK_REALTIME).as_nanos() + 20 * MS);
    let pf = FUTEX_PRIVATE_FLAG;
    let r = [
        futex6(&WORD_A, FUTEX_WAIT_BITSET | pf, 0, p(&past), &WORD_A, 0),
        futex6(&WORD_A, FUTEX_WAKE_BITSET | pf, 1, 0, &WORD_A, 0),
        futex6(
            &WORD_A,
            FUTEX_WAIT_BITSET | pf,
            0,
            p(&past),
            &WORD_A,
            u64::from(FUTEX_BITSET_MATCH_ANY),
        ),
        futex6(&WORD_A, FUTEX_WAIT_BITSET | pf, 1, p(&past), &WORD_A, 1),
        futex6(
            &WORD_A,
            FUTEX_WAIT | pf | FUTEX_CLOCK_REALTIME,
            0,
            p(&past),
            &WORD_A,
            0,
        ),
        futex6(&WORD_A, FUTEX_WAKE | FUTEX_CLOCK_REALTIME, 1, 0, &WORD_A, 0),
        futex6(
            &WORD_A,
            FUTEX_WAIT_BITSET | pf | FUTEX_CLOCK_REALTIME,
            0,
            p(&soon),
            &WORD_A,
            1,
        ),
        futex6(&WORD_A, FUTEX_CMP_REQUEUE | pf, 1, 1, &WORD_B, 5),
        futex6(&WORD_A, FUTEX_REQUEUE | pf, -1i64 as u64, 1, &WORD_B, 0),
        futex6(&WORD_A, 12, 0, 0, &WORD_B, 0),
    ];
    let later = gettime(CLOCK_REALTIME).as_nanos();
    all &= check(
        "futex-bitset-errors",
        r == [
            -errno::EINVAL,
            -errno::EINVAL,
            -errno::ETIMEDOUT,
            -errno::EAGAIN,
            -errno::ENOSYS,
            -errno::ENOSYS,
            -errno::ETIMEDOUT,
            -errno::EAGAIN,
            -errno::EINVAL,
            -errno::ENOSYS,
        ] && later >= soon.as_nanos()
            && later >= now,
        format_args!("{r:?} realtime deadline {} woke {later}", soon.as_nanos()),
    );

    // A waiter with bitset 0b10: a wake for 0b01 leaves it, one for 0b110 takes it.
    let t = rt::thread::spawn(bitset_waiter, 0b10);
    let blocked = wait_for_waiters(&WORD_A, 1);
    let miss = futex6(&WORD_A, FUTEX_WAKE_BITSET | pf, 1, 0, &WORD_A, 0b01);
    let hit = futex6(&WORD_A, FUTEX_WAKE_BITSET | pf, 1, 0, &WORD_A, 0b110);
    let joined = t.map(|t| t.join());
    all &= check(
        "futex-wake-bitset",
        blocked && miss == 0 && hit == 1 && joined == Ok(0),
        format_args!("blocked {blocked} miss {miss} hit {hit} joined {joined:?}"),
    );

    // Two waiters on A: CMP_REQUEUE wakes one and moves the other to B.
    let t1 = rt::thread::spawn(plain_waiter, 0);
    let t2 = rt::thread::spawn(plain_waiter, 0);
    let blocked = wait_for_waiters(&WORD_A, 2);
    let stale = futex6(&WORD_A, FUTEX_CMP_REQUEUE | pf, 1, 1, &WORD_B, 1);
    let moved = futex6(&WORD_A, FUTEX_CMP_REQUEUE | pf, 1, 1, &WORD_B, 0);
    let on_b = waiters(&WORD_B);
    let on_a = waiters(&WORD_A);
    let woke_b = futex6(&WORD_B, FUTEX_WAKE | pf, 1, 0, &WORD_B, 0);
    let joined = [t1.map(|t| t.join()), t2.map(|t| t.join())];
    all &= check(
        "futex-cmp-requeue",
        blocked
            && stale == -errno::EAGAIN
            && moved == 2
            && on_b == 1
            && on_a == 0
            && woke_b == 1
            && joined == [Ok(0), Ok(0)],
        format_args!(
            "blocked {blocked} stale {stale} moved {moved} on_b {on_b} on_a {on_a} woke_b {woke_b} joined {joined:?}"
        ),
    );
    all
}

/// Numbers the kernel does not implement: ENOSYS each time, logged once
/// (the runner counts the `[syscall]` lines).
fn unknown() -> bool {
    let r = [
        syscall3(nr::MOUNT, 0, 0, 0),
        syscall3(nr::MOUNT, 0, 0, 0),
        syscall3(5000, 0, 0, 0),
        syscall3(6000, 0, 0, 0),
    ];
    check(
        "unknown-enosys",
        r == [-errno::ENOSYS; 4],
        format_args!("{r:?}"),
    )
}

/// `strace=1`: calls whose lines the runner matches exactly.
pub fn strace() -> i32 {
    let r = [
        sys::getpid(),
        sys::write_raw(5, 0, 0),
        syscall3(nr::CLOCK_GETRES, CLOCK_MONOTONIC, 0, 0),
        syscall3(nr::SCHED_GETSCHEDULER, -1i64 as u64, 0, 0),
        syscall3(nr::MOUNT, 1, 2, 3),
    ];
    status(check(
        "strace-calls",
        r == [1, -errno::EBADF, 0, -errno::EINVAL, -errno::ENOSYS],
        format_args!("{r:?}"),
    ))
}
