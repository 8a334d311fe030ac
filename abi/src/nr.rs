//! Syscall numbers: Linux aarch64 uses the generic table
//! (include/uapi/asm-generic/unistd.h as arm64 configures it: with
//! `renameat`, `getrlimit`/`setrlimit`, `newfstatat`/`fstat` and
//! `memfd_secret`, without the 32-bit-only calls), number in x8, arguments
//! in x0..x5, result in x0. Plus rseq-os's one private call, [`KSTATS`].
//!
//! Every number is written once, in the table below, which defines both the
//! constants and what [`name`] answers. The kernel implements a few of them;
//! the rest are here so that a number can be named wherever it is printed or
//! matched, and so that the apps never spell a number themselves.

/// Defines one `pub const` per entry and [`TABLE`], the numbers with their
/// Linux names, from one list.
macro_rules! syscalls {
    ($($(#[$attr:meta])* $name:ident: $nr_name:ident = $nr:literal,)*) => {
        $(
            $(#[$attr])*
            pub const $nr_name: u64 = $nr;
        )*

        /// Every syscall number with its Linux name, in increasing order.
        const TABLE: &[(u64, &str)] = &[$(($nr_name, stringify!($name)),)*];

        /// The constants' names, in [`TABLE`]'s order.
        #[cfg(test)]
        const CONST_NAMES: &[&str] = &[$(stringify!($nr_name),)*];
    };
}

syscalls! {
    io_setup: IO_SETUP = 0,
    io_destroy: IO_DESTROY = 1,
    io_submit: IO_SUBMIT = 2,
    io_cancel: IO_CANCEL = 3,
    io_getevents: IO_GETEVENTS = 4,
    setxattr: SETXATTR = 5,
    lsetxattr: LSETXATTR = 6,
    fsetxattr: FSETXATTR = 7,
    getxattr: GETXATTR = 8,
    lgetxattr: LGETXATTR = 9,
    fgetxattr: FGETXATTR = 10,
    listxattr: LISTXATTR = 11,
    llistxattr: LLISTXATTR = 12,
    flistxattr: FLISTXATTR = 13,
    removexattr: REMOVEXATTR = 14,
    lremovexattr: LREMOVEXATTR = 15,
    fremovexattr: FREMOVEXATTR = 16,
    getcwd: GETCWD = 17,
    lookup_dcookie: LOOKUP_DCOOKIE = 18,
    eventfd2: EVENTFD2 = 19,
    epoll_create1: EPOLL_CREATE1 = 20,
    epoll_ctl: EPOLL_CTL = 21,
    epoll_pwait: EPOLL_PWAIT = 22,
    dup: DUP = 23,
    dup3: DUP3 = 24,
    fcntl: FCNTL = 25,
    inotify_init1: INOTIFY_INIT1 = 26,
    inotify_add_watch: INOTIFY_ADD_WATCH = 27,
    inotify_rm_watch: INOTIFY_RM_WATCH = 28,
    ioctl: IOCTL = 29,
    ioprio_set: IOPRIO_SET = 30,
    ioprio_get: IOPRIO_GET = 31,
    flock: FLOCK = 32,
    mknodat: MKNODAT = 33,
    mkdirat: MKDIRAT = 34,
    unlinkat: UNLINKAT = 35,
    symlinkat: SYMLINKAT = 36,
    linkat: LINKAT = 37,
    renameat: RENAMEAT = 38,
    umount2: UMOUNT2 = 39,
    mount: MOUNT = 40,
    pivot_root: PIVOT_ROOT = 41,
    nfsservctl: NFSSERVCTL = 42,
    statfs: STATFS = 43,
    fstatfs: FSTATFS = 44,
    truncate: TRUNCATE = 45,
    ftruncate: FTRUNCATE = 46,
    fallocate: FALLOCATE = 47,
    faccessat: FACCESSAT = 48,
    chdir: CHDIR = 49,
    fchdir: FCHDIR = 50,
    chroot: CHROOT = 51,
    fchmod: FCHMOD = 52,
    fchmodat: FCHMODAT = 53,
    fchownat: FCHOWNAT = 54,
    fchown: FCHOWN = 55,
    openat: OPENAT = 56,
    close: CLOSE = 57,
    vhangup: VHANGUP = 58,
    pipe2: PIPE2 = 59,
    quotactl: QUOTACTL = 60,
    getdents64: GETDENTS64 = 61,
    lseek: LSEEK = 62,
    read: READ = 63,
    write: WRITE = 64,
    readv: READV = 65,
    writev: WRITEV = 66,
    pread64: PREAD64 = 67,
    pwrite64: PWRITE64 = 68,
    preadv: PREADV = 69,
    pwritev: PWRITEV = 70,
    sendfile: SENDFILE = 71,
    pselect6: PSELECT6 = 72,
    ppoll: PPOLL = 73,
    signalfd4: SIGNALFD4 = 74,
    vmsplice: VMSPLICE = 75,
    splice: SPLICE = 76,
    tee: TEE = 77,
    readlinkat: READLINKAT = 78,
    newfstatat: NEWFSTATAT = 79,
    fstat: FSTAT = 80,
    sync: SYNC = 81,
    fsync: FSYNC = 82,
    fdatasync: FDATASYNC = 83,
    sync_file_range: SYNC_FILE_RANGE = 84,
    timerfd_create: TIMERFD_CREATE = 85,
    timerfd_settime: TIMERFD_SETTIME = 86,
    timerfd_gettime: TIMERFD_GETTIME = 87,
    utimensat: UTIMENSAT = 88,
    acct: ACCT = 89,
    capget: CAPGET = 90,
    capset: CAPSET = 91,
    personality: PERSONALITY = 92,
    exit: EXIT = 93,
    exit_group: EXIT_GROUP = 94,
    waitid: WAITID = 95,
    set_tid_address: SET_TID_ADDRESS = 96,
    unshare: UNSHARE = 97,
    futex: FUTEX = 98,
    set_robust_list: SET_ROBUST_LIST = 99,
    get_robust_list: GET_ROBUST_LIST = 100,
    nanosleep: NANOSLEEP = 101,
    getitimer: GETITIMER = 102,
    setitimer: SETITIMER = 103,
    kexec_load: KEXEC_LOAD = 104,
    init_module: INIT_MODULE = 105,
    delete_module: DELETE_MODULE = 106,
    timer_create: TIMER_CREATE = 107,
    timer_gettime: TIMER_GETTIME = 108,
    timer_getoverrun: TIMER_GETOVERRUN = 109,
    timer_settime: TIMER_SETTIME = 110,
    timer_delete: TIMER_DELETE = 111,
    clock_settime: CLOCK_SETTIME = 112,
    clock_gettime: CLOCK_GETTIME = 113,
    clock_getres: CLOCK_GETRES = 114,
    clock_nanosleep: CLOCK_NANOSLEEP = 115,
    syslog: SYSLOG = 116,
    ptrace: PTRACE = 117,
    sched_setparam: SCHED_SETPARAM = 118,
    sched_setscheduler: SCHED_SETSCHEDULER = 119,
    sched_getscheduler: SCHED_GETSCHEDULER = 120,
    sched_getparam: SCHED_GETPARAM = 121,
    sched_setaffinity: SCHED_SETAFFINITY = 122,
    sched_getaffinity: SCHED_GETAFFINITY = 123,
    sched_yield: SCHED_YIELD = 124,
    sched_get_priority_max: SCHED_GET_PRIORITY_MAX = 125,
    sched_get_priority_min: SCHED_GET_PRIORITY_MIN = 126,
    sched_rr_get_interval: SCHED_RR_GET_INTERVAL = 127,
    restart_syscall: RESTART_SYSCALL = 128,
    kill: KILL = 129,
    tkill: TKILL = 130,
    tgkill: TGKILL = 131,
    sigaltstack: SIGALTSTACK = 132,
    rt_sigsuspend: RT_SIGSUSPEND = 133,
    rt_sigaction: RT_SIGACTION = 134,
    rt_sigprocmask: RT_SIGPROCMASK = 135,
    rt_sigpending: RT_SIGPENDING = 136,
    rt_sigtimedwait: RT_SIGTIMEDWAIT = 137,
    rt_sigqueueinfo: RT_SIGQUEUEINFO = 138,
    rt_sigreturn: RT_SIGRETURN = 139,
    setpriority: SETPRIORITY = 140,
    getpriority: GETPRIORITY = 141,
    reboot: REBOOT = 142,
    setregid: SETREGID = 143,
    setgid: SETGID = 144,
    setreuid: SETREUID = 145,
    setuid: SETUID = 146,
    setresuid: SETRESUID = 147,
    getresuid: GETRESUID = 148,
    setresgid: SETRESGID = 149,
    getresgid: GETRESGID = 150,
    setfsuid: SETFSUID = 151,
    setfsgid: SETFSGID = 152,
    times: TIMES = 153,
    setpgid: SETPGID = 154,
    getpgid: GETPGID = 155,
    getsid: GETSID = 156,
    setsid: SETSID = 157,
    getgroups: GETGROUPS = 158,
    setgroups: SETGROUPS = 159,
    uname: UNAME = 160,
    sethostname: SETHOSTNAME = 161,
    setdomainname: SETDOMAINNAME = 162,
    getrlimit: GETRLIMIT = 163,
    setrlimit: SETRLIMIT = 164,
    getrusage: GETRUSAGE = 165,
    umask: UMASK = 166,
    prctl: PRCTL = 167,
    getcpu: GETCPU = 168,
    gettimeofday: GETTIMEOFDAY = 169,
    settimeofday: SETTIMEOFDAY = 170,
    adjtimex: ADJTIMEX = 171,
    getpid: GETPID = 172,
    getppid: GETPPID = 173,
    getuid: GETUID = 174,
    geteuid: GETEUID = 175,
    getgid: GETGID = 176,
    getegid: GETEGID = 177,
    gettid: GETTID = 178,
    sysinfo: SYSINFO = 179,
    mq_open: MQ_OPEN = 180,
    mq_unlink: MQ_UNLINK = 181,
    mq_timedsend: MQ_TIMEDSEND = 182,
    mq_timedreceive: MQ_TIMEDRECEIVE = 183,
    mq_notify: MQ_NOTIFY = 184,
    mq_getsetattr: MQ_GETSETATTR = 185,
    msgget: MSGGET = 186,
    msgctl: MSGCTL = 187,
    msgrcv: MSGRCV = 188,
    msgsnd: MSGSND = 189,
    semget: SEMGET = 190,
    semctl: SEMCTL = 191,
    semtimedop: SEMTIMEDOP = 192,
    semop: SEMOP = 193,
    shmget: SHMGET = 194,
    shmctl: SHMCTL = 195,
    shmat: SHMAT = 196,
    shmdt: SHMDT = 197,
    socket: SOCKET = 198,
    socketpair: SOCKETPAIR = 199,
    bind: BIND = 200,
    listen: LISTEN = 201,
    accept: ACCEPT = 202,
    connect: CONNECT = 203,
    getsockname: GETSOCKNAME = 204,
    getpeername: GETPEERNAME = 205,
    sendto: SENDTO = 206,
    recvfrom: RECVFROM = 207,
    setsockopt: SETSOCKOPT = 208,
    getsockopt: GETSOCKOPT = 209,
    shutdown: SHUTDOWN = 210,
    sendmsg: SENDMSG = 211,
    recvmsg: RECVMSG = 212,
    readahead: READAHEAD = 213,
    brk: BRK = 214,
    munmap: MUNMAP = 215,
    mremap: MREMAP = 216,
    add_key: ADD_KEY = 217,
    request_key: REQUEST_KEY = 218,
    keyctl: KEYCTL = 219,
    clone: CLONE = 220,
    execve: EXECVE = 221,
    mmap: MMAP = 222,
    fadvise64: FADVISE64 = 223,
    swapon: SWAPON = 224,
    swapoff: SWAPOFF = 225,
    mprotect: MPROTECT = 226,
    msync: MSYNC = 227,
    mlock: MLOCK = 228,
    munlock: MUNLOCK = 229,
    mlockall: MLOCKALL = 230,
    munlockall: MUNLOCKALL = 231,
    mincore: MINCORE = 232,
    madvise: MADVISE = 233,
    remap_file_pages: REMAP_FILE_PAGES = 234,
    mbind: MBIND = 235,
    get_mempolicy: GET_MEMPOLICY = 236,
    set_mempolicy: SET_MEMPOLICY = 237,
    migrate_pages: MIGRATE_PAGES = 238,
    move_pages: MOVE_PAGES = 239,
    rt_tgsigqueueinfo: RT_TGSIGQUEUEINFO = 240,
    perf_event_open: PERF_EVENT_OPEN = 241,
    accept4: ACCEPT4 = 242,
    recvmmsg: RECVMMSG = 243,
    // 244..=259: reserved for architecture-specific calls; arm64 has none.
    wait4: WAIT4 = 260,
    prlimit64: PRLIMIT64 = 261,
    fanotify_init: FANOTIFY_INIT = 262,
    fanotify_mark: FANOTIFY_MARK = 263,
    name_to_handle_at: NAME_TO_HANDLE_AT = 264,
    open_by_handle_at: OPEN_BY_HANDLE_AT = 265,
    clock_adjtime: CLOCK_ADJTIME = 266,
    syncfs: SYNCFS = 267,
    setns: SETNS = 268,
    sendmmsg: SENDMMSG = 269,
    process_vm_readv: PROCESS_VM_READV = 270,
    process_vm_writev: PROCESS_VM_WRITEV = 271,
    kcmp: KCMP = 272,
    finit_module: FINIT_MODULE = 273,
    sched_setattr: SCHED_SETATTR = 274,
    sched_getattr: SCHED_GETATTR = 275,
    renameat2: RENAMEAT2 = 276,
    seccomp: SECCOMP = 277,
    getrandom: GETRANDOM = 278,
    memfd_create: MEMFD_CREATE = 279,
    bpf: BPF = 280,
    execveat: EXECVEAT = 281,
    userfaultfd: USERFAULTFD = 282,
    membarrier: MEMBARRIER = 283,
    mlock2: MLOCK2 = 284,
    copy_file_range: COPY_FILE_RANGE = 285,
    preadv2: PREADV2 = 286,
    pwritev2: PWRITEV2 = 287,
    pkey_mprotect: PKEY_MPROTECT = 288,
    pkey_alloc: PKEY_ALLOC = 289,
    pkey_free: PKEY_FREE = 290,
    statx: STATX = 291,
    io_pgetevents: IO_PGETEVENTS = 292,
    rseq: RSEQ = 293,
    kexec_file_load: KEXEC_FILE_LOAD = 294,
    // 295..=402: unassigned. 403..=423: the 64-bit-time variants of 32-bit
    // architectures' calls, absent on a 64-bit one.
    pidfd_send_signal: PIDFD_SEND_SIGNAL = 424,
    io_uring_setup: IO_URING_SETUP = 425,
    io_uring_enter: IO_URING_ENTER = 426,
    io_uring_register: IO_URING_REGISTER = 427,
    open_tree: OPEN_TREE = 428,
    move_mount: MOVE_MOUNT = 429,
    fsopen: FSOPEN = 430,
    fsconfig: FSCONFIG = 431,
    fsmount: FSMOUNT = 432,
    fspick: FSPICK = 433,
    pidfd_open: PIDFD_OPEN = 434,
    clone3: CLONE3 = 435,
    close_range: CLOSE_RANGE = 436,
    openat2: OPENAT2 = 437,
    pidfd_getfd: PIDFD_GETFD = 438,
    faccessat2: FACCESSAT2 = 439,
    process_madvise: PROCESS_MADVISE = 440,
    epoll_pwait2: EPOLL_PWAIT2 = 441,
    mount_setattr: MOUNT_SETATTR = 442,
    quotactl_fd: QUOTACTL_FD = 443,
    landlock_create_ruleset: LANDLOCK_CREATE_RULESET = 444,
    landlock_add_rule: LANDLOCK_ADD_RULE = 445,
    landlock_restrict_self: LANDLOCK_RESTRICT_SELF = 446,
    memfd_secret: MEMFD_SECRET = 447,
    process_mrelease: PROCESS_MRELEASE = 448,
    futex_waitv: FUTEX_WAITV = 449,
    set_mempolicy_home_node: SET_MEMPOLICY_HOME_NODE = 450,
    cachestat: CACHESTAT = 451,
    fchmodat2: FCHMODAT2 = 452,
    map_shadow_stack: MAP_SHADOW_STACK = 453,
    futex_wake: FUTEX_WAKE = 454,
    futex_wait: FUTEX_WAIT = 455,
    futex_requeue: FUTEX_REQUEUE = 456,
    statmount: STATMOUNT = 457,
    listmount: LISTMOUNT = 458,
    lsm_get_self_attr: LSM_GET_SELF_ATTR = 459,
    lsm_set_self_attr: LSM_SET_SELF_ATTR = 460,
    lsm_list_modules: LSM_LIST_MODULES = 461,
    mseal: MSEAL = 462,
    setxattrat: SETXATTRAT = 463,
    getxattrat: GETXATTRAT = 464,
    listxattrat: LISTXATTRAT = 465,
    removexattrat: REMOVEXATTRAT = 466,
    open_tree_attr: OPEN_TREE_ATTR = 467,
    file_getattr: FILE_GETATTR = 468,
    file_setattr: FILE_SETATTR = 469,
    listns: LISTNS = 470,
    /// `rseq_slice_yield()`: ends a granted time slice extension.
    rseq_slice_yield: RSEQ_SLICE_YIELD = 471,
    /// rseq-os private: `kstats(buf, len)`, see [`crate::kstats`].
    kstats: KSTATS = 1000,
}

// `name` searches the table by halving, which needs it sorted.
const _: () = {
    let mut i = 1;
    while i < TABLE.len() {
        assert!(TABLE[i - 1].0 < TABLE[i].0, "syscall table out of order");
        i += 1;
    }
};

/// The Linux name of syscall `nr` (`"rseq"` for 293), `None` for a number
/// no syscall has.
pub fn name(nr: u64) -> Option<&'static str> {
    TABLE
        .binary_search_by_key(&nr, |&(n, _)| n)
        .ok()
        .map(|i| TABLE[i].1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linux_numbers() {
        assert_eq!(WRITE, 64);
        assert_eq!(EXIT, 93);
        assert_eq!(EXIT_GROUP, 94);
        assert_eq!(RT_SIGRETURN, 139);
        assert_eq!(MPROTECT, 226);
        assert_eq!(MEMBARRIER, 283);
        assert_eq!(RSEQ, 293);
        assert_eq!(CLONE3, 435);
        assert_eq!(IO_SETUP, 0);
        assert_eq!(WRITEV, 66);
        assert_eq!(PPOLL, 73);
        assert_eq!(BRK, 214);
        assert_eq!(RSEQ_SLICE_YIELD, 471);
    }

    #[test]
    fn names() {
        assert_eq!(name(0), Some("io_setup"));
        assert_eq!(name(64), Some("write"));
        assert_eq!(name(79), Some("newfstatat"));
        assert_eq!(name(93), Some("exit"));
        assert_eq!(name(94), Some("exit_group"));
        assert_eq!(name(222), Some("mmap"));
        assert_eq!(name(293), Some("rseq"));
        assert_eq!(name(435), Some("clone3"));
        assert_eq!(name(471), Some("rseq_slice_yield"));
        assert_eq!(name(1000), Some("kstats"));
        for hole in [244, 259, 295, 402, 403, 423, 472, 999, 1001, u64::MAX] {
            assert_eq!(name(hole), None, "{hole}");
        }
    }

    #[test]
    fn table_is_sorted_unique_and_named_alike() {
        for w in TABLE.windows(2) {
            assert!(w[0].0 < w[1].0, "{} before {}", w[0].1, w[1].1);
        }
        for (i, (_, a)) in TABLE.iter().enumerate() {
            assert!(TABLE[i + 1..].iter().all(|(_, b)| a != b), "{a} twice");
        }
        assert_eq!(TABLE.len(), CONST_NAMES.len());
        for ((_, lower), upper) in TABLE.iter().zip(CONST_NAMES) {
            assert!(lower.eq_ignore_ascii_case(upper), "{lower} vs {upper}");
            assert!(!lower.bytes().any(|b| b.is_ascii_uppercase()), "{lower}");
        }
        // Below rseq-os's private call: Linux's numbers 0..=471 with no
        // gap other than the two reserved ranges.
        let linux = TABLE.iter().filter(|(n, _)| *n < KSTATS).count();
        assert_eq!(linux, 472 - (260 - 244) - (424 - 295));
    }
}
