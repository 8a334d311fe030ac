//! The QEMU scenarios that `cargo xtask test` runs: pure data.
//!
//! A scenario is one boot of one image with one set of QEMU options and kernel
//! command line, plus what its serial log and exit status must show. Adding a
//! case is adding an entry to [`SCENARIOS`]; what a [`Check`] means is defined
//! in `check.rs`, and the checks every scenario gets for free (no failed TEST,
//! no unexpected panic, a `[shutdown]` line, the exit status) are listed there
//! too.

use std::time::Duration;

use crate::boards;
use Check::*;

/// One scenario-specific expectation on the serial log.
///
/// Field checks look at the first `[boot]`, the first `[exit]`, the first
/// `[kill]` and the last `[shutdown]` line: a second kill or exit would be a
/// kernel bug that the first one already describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// The `[boot]` banner has `key=value`.
    Banner(&'static str, &'static str),
    /// The `[exit]` line has `key=value`.
    Exit(&'static str, &'static str),
    /// The `[kill]` line has `key=value`.
    Kill(&'static str, &'static str),
    /// The `[shutdown]` line has the number `key >= n`.
    ShutdownAtLeast(&'static str, u64),
    /// A `TEST <name> ok` line is present. (A `FAIL` for it is reported by the
    /// generic rule, so this only reports the case being missing.)
    TestOk(&'static str),
    /// Some line contains this text.
    LineContains(&'static str),
    /// Some line contains one of these texts (a race decides which).
    LineContainsAny(&'static [&'static str]),
    /// Some line starts with this text.
    LineStartsWith(&'static str),
    /// Exactly this many lines start with this text (e.g. one kernel
    /// explanation, not a flood).
    LinesStartingWith(&'static str, usize),
    /// At least this many lines start with this text.
    LinesStartingWithAtLeast(&'static str, usize),
    /// The kernel panics in this scenario; without it any `[panic]` fails.
    Panics,
    /// Kernel heap growth over the app's life (`[shutdown]` heap_used minus
    /// `[heap] start heap_used`) is at most this many bytes; reported as not
    /// judged when the app failed with threads alive
    /// ([`HeapGrowth`](crate::log::HeapGrowth)).
    HeapGrowthAtMost(u64),
}

/// One boot under QEMU and what it must show.
#[derive(Debug, Clone, Copy)]
pub struct Scenario {
    /// Unique within its board; names the log file.
    pub name: &'static str,
    /// A name from `boards::BOARDS`.
    pub board: &'static str,
    /// The EL0 app linked into the image.
    pub app: &'static str,
    /// Enter the kernel at EL2 (`virtualization=on` on virt).
    pub el2: bool,
    /// GIC version, 2 or 3.
    pub gic: u8,
    /// QEMU `-cpu` model.
    pub cpu: &'static str,
    /// Kernel command line (`-append`); app arguments follow ` -- `.
    pub append: &'static str,
    /// The QEMU exit status the kernel must report through semihosting.
    pub status: i32,
    /// Scenario-specific checks, on top of the generic ones.
    pub checks: &'static [Check],
    /// Board-independent: also run on every board with fixed hardware
    /// (rpi4), with `el2`/`gic`/`cpu` left to that board. `{kernel}` in
    /// `append` becomes each board's kernel base address.
    pub shared: bool,
    /// Boot the loader kernel with this program as its initrd, the way
    /// `just qemu elf=... mode=...` does, instead of an image embedding
    /// `app`.
    pub program: Option<Program>,
    /// How long this scenario may take when that is longer than the run's
    /// `timeout` (the 200-thread selftests take minutes under QEMU).
    pub timeout: Option<Duration>,
    /// Boot with QEMU's vCPUs on one host thread
    /// ([`qemu::Options::round_robin`](crate::qemu::Options::round_robin)).
    pub round_robin: bool,
    /// Boot with QEMU's instruction-counting clock
    /// ([`qemu::Options::icount`](crate::qemu::Options::icount)).
    pub icount: bool,
}

/// A program booted from the initrd (see [`Scenario::program`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Program {
    /// The loader kernel's rseq mode, `v1`, `v2` or `linux` (`mode=`).
    pub mode: &'static str,
    /// What QEMU is given as `-initrd`.
    pub initrd: Initrd,
    /// The program's environment (`env=`), `K=V` words.
    pub env: &'static str,
}

/// The initrd of a [`Program`] scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Initrd {
    /// The built ELF of `apps/NAME`.
    App(&'static str),
    /// A C program of `apps/linux`, as built into `target/linux/NAME`
    /// (`hello`, `hello-pie`).
    Linux(&'static str),
    /// A program of Linux's rseq selftests, as built into
    /// `target/rseq-selftests/bin/NAME` (`cargo xtask selftests`).
    Selftest(&'static str),
    /// A file that is not an ELF: the kernel must refuse it.
    Garbage,
    /// No `-initrd` at all.
    Absent,
}

impl Scenario {
    /// `board/name`, as printed in PASS/FAIL lines and matched by `--filter`.
    pub fn id(&self) -> String {
        format!("{}/{}", self.board, self.name)
    }

    /// The name of the image it boots (`target/images/<board>-<image>.img`):
    /// its app, or `loader-<mode>` for a program from the initrd.
    pub fn image(&self) -> &'static str {
        match self.program {
            None => self.app,
            Some(Program { mode: "v1", .. }) => "loader-v1",
            Some(Program { mode: "linux", .. }) => "loader-linux",
            Some(_) => "loader-v2",
        }
    }
}

/// The defaults every entry starts from: virt, Cortex-A72 (no FEAT_PAN),
/// GICv2, entered at EL1, empty command line, clean exit.
const HELLO: Scenario = Scenario {
    name: "",
    board: "virt",
    app: "hello",
    el2: false,
    gic: 2,
    cpu: "cortex-a72",
    append: "",
    status: 0,
    checks: &[],
    shared: false,
    program: None,
    timeout: None,
    round_robin: false,
    icount: false,
};

/// What `apps/linux/robust.c` must print, in every mode and on every CPU.
const ROBUST_CHECKS: &[Check] = &[
    LineStartsWith(
        "robust: owner exited: word 0x40000000, lock EOWNERDEAD, consistent 0, unlock 0, relock 0",
    ),
    LineStartsWith("robust: waiter woken: lock EOWNERDEAD, consistent 0"),
    LineStartsWith(
        "robust: list: 0x40000000 0x3039 0xc0000000 0x40000000, pending 0x40000000, waiter 0",
    ),
    LineStartsWith("robust: released pending: word 0, waiter 0"),
    LineStartsWith("robust: 2100-entry list: 2048 marked, 52 left, pending 0x40000000"),
    LineStartsWith("robust: circular list: 0x40000000, pending 0x40000000"),
    LineStartsWith("robust: faulting list: 0x40000000 0x40000000, pending left"),
    LineStartsWith("robust: read-only word: left, next left, pending left"),
    LineStartsWith("robust: 28 checks, 0 failed"),
    Exit("status", "0"),
];

/// As [`HELLO`], running the threads/SMP test app, on both boards.
const SMP: Scenario = Scenario {
    app: "smp",
    shared: true,
    ..HELLO
};

/// As [`HELLO`], running the selftest app.
const SELFTEST: Scenario = Scenario {
    app: "selftest",
    shared: true,
    ..HELLO
};

/// As [`HELLO`], running the isolation app (apps/isolation), on both boards.
const ISOLATION: Scenario = Scenario {
    app: "isolation",
    shared: true,
    ..HELLO
};

/// Every scenario, in the order they are started.
pub static SCENARIOS: &[Scenario] = &[
    // --- boot matrix: entry level x GIC version x PAN -------------------------
    Scenario {
        name: "hello-el1-gicv2",
        checks: &[
            Banner("el", "EL1"),
            Banner("gic", "GICv2"),
            Banner("app", "hello"),
            Banner("cpus", "4"),
            // Cortex-A72 has no FEAT_PAN: the banner must not claim it.
            Banner("pan", "off"),
            LineContains("hello from EL0"),
            Exit("app", "hello"),
            Exit("status", "0"),
        ],
        ..HELLO
    },
    Scenario {
        name: "hello-el2-gicv2",
        el2: true,
        checks: &[
            Banner("el", "EL2"),
            Banner("gic", "GICv2"),
            LineContains("hello from EL0"),
            Exit("app", "hello"),
            Exit("status", "0"),
        ],
        ..HELLO
    },
    Scenario {
        name: "hello-el1-gicv3",
        gic: 3,
        checks: &[
            Banner("el", "EL1"),
            Banner("gic", "GICv3"),
            LineContains("hello from EL0"),
            Exit("app", "hello"),
            Exit("status", "0"),
        ],
        ..HELLO
    },
    Scenario {
        name: "hello-el2-gicv3",
        el2: true,
        gic: 3,
        checks: &[
            Banner("el", "EL2"),
            Banner("gic", "GICv3"),
            LineContains("hello from EL0"),
            Exit("app", "hello"),
            Exit("status", "0"),
        ],
        ..HELLO
    },
    Scenario {
        name: "pan-cortex-a76",
        cpu: "cortex-a76",
        checks: &[
            Banner("pan", "on"),
            LineContains("hello from EL0"),
            Exit("app", "hello"),
            Exit("status", "0"),
        ],
        ..HELLO
    },
    Scenario {
        name: "hello",
        board: "rpi4",
        checks: &[
            Banner("board", "rpi4"),
            // The firmware (and QEMU raspi4b) enter the kernel at EL2.
            Banner("el", "EL2"),
            Banner("gic", "GICv2"),
            Banner("cpus", "4"),
            Banner("pan", "off"),
            LineContains("hello from EL0"),
            Exit("status", "0"),
        ],
        ..HELLO
    },
    Scenario {
        name: "ticks-el2-gicv3",
        el2: true,
        gic: 3,
        append: "-- ticks",
        checks: &[
            Banner("gic", "GICv3"),
            TestOk("ticks"),
            ShutdownAtLeast("irqs_el0", 5),
        ],
        shared: false,
        ..SELFTEST
    },
    Scenario {
        name: "loglevel-debug",
        append: "loglevel=8",
        checks: &[
            LineStartsWith("[debug] dtb="),
            LineStartsWith("[mm] kernel W^X verified"),
        ],
        shared: true,
        ..HELLO
    },
    // --- selftest: syscalls, FP state, the tick -------------------------------
    Scenario {
        name: "syscalls",
        append: "-- syscalls {kernel}",
        checks: &[
            TestOk("getpid"),
            TestOk("gettid"),
            TestOk("clock_gettime"),
            TestOk("clock_gettime-efault"),
            TestOk("enosys"),
            TestOk("write-stdout"),
            TestOk("write-badfd"),
            TestOk("write-efault-unmapped"),
            TestOk("write-efault-kernel"),
            TestOk("write-efault-null"),
            TestOk("write-efault-straddle"),
            Exit("app", "selftest"),
            Exit("status", "0"),
        ],
        ..SELFTEST
    },
    Scenario {
        name: "linuxabi",
        append: "-- linuxabi {kernel}",
        checks: &[
            TestOk("uname"),
            TestOk("uname-efault"),
            TestOk("ids"),
            TestOk("clone3-enosys"),
            TestOk("sched_getscheduler"),
            TestOk("sched_getparam"),
            TestOk("robust_list"),
            TestOk("ioctl"),
            TestOk("writev"),
            TestOk("writev-errors"),
            TestOk("read-eof"),
            TestOk("prlimit64-get"),
            TestOk("prlimit64-errors"),
            TestOk("getrandom"),
            TestOk("getrandom-errors"),
            TestOk("clock_getres"),
            TestOk("clock-realtime"),
            TestOk("clock_nanosleep-realtime"),
            TestOk("sigaltstack"),
            TestOk("sa_onstack"),
            TestOk("ss_autodisarm"),
            TestOk("futex-bitset-errors"),
            TestOk("futex-wake-bitset"),
            TestOk("futex-cmp-requeue"),
            TestOk("unknown-enosys"),
            // writev's two buffers form one line; the partial writev
            // printed its first buffer before the fault.
            LineStartsWith("writev-a writev-b"),
            LineStartsWith("writev-partial"),
            // Each unknown number once, however often it is called; all
            // numbers past 2047 share one line.
            LinesStartingWith("[syscall] tid=1 unknown syscall 40 (mount)", 1),
            LinesStartingWith("[syscall] tid=1 unknown syscall 5000 (unknown)", 1),
            LinesStartingWith("[syscall] tid=1 unknown syscall 6000", 0),
            LinesStartingWith("[strace]", 0),
            Exit("status", "0"),
        ],
        ..SELFTEST
    },
    Scenario {
        name: "svc-regs",
        append: "-- svc-regs",
        checks: &[
            TestOk("svc-regs"),
            TestOk("svc-regs-counted"),
            Exit("status", "0"),
        ],
        ..SELFTEST
    },
    Scenario {
        name: "svc-regs-strace",
        append: "strace=1 -- svc-regs",
        checks: &[
            TestOk("svc-regs"),
            TestOk("svc-regs-counted"),
            LineStartsWith("[strace] tid=1 gettid() = 1"),
            Exit("status", "0"),
        ],
        ..SELFTEST
    },
    Scenario {
        name: "strace",
        append: "strace=1 -- strace",
        checks: &[
            TestOk("strace-calls"),
            LineStartsWith("[strace] tid=1 getpid() = 1"),
            LineStartsWith("[strace] tid=1 write(5, NULL, 0) = -1 EBADF (Bad file descriptor)"),
            LineStartsWith("[strace] tid=1 clock_getres(0x1, NULL) = 0"),
            LineStartsWith("[strace] tid=1 sched_getscheduler(-1) = -1 EINVAL (Invalid argument)"),
            LineStartsWith("[strace] tid=1 mount(0x1, 0x2, 0x3, "),
            LineContains(") = -1 ENOSYS (Function not implemented)"),
            LinesStartingWith("[syscall] tid=1 unknown syscall 40 (mount)", 1),
            LineStartsWith("[strace] tid=1 exit_group(0) = ?"),
            Exit("status", "0"),
        ],
        ..SELFTEST
    },
    Scenario {
        name: "fp-survives",
        append: "-- fp",
        checks: &[
            TestOk("fp-syscall"),
            TestOk("fp-irq"),
            // fp-irq proves nothing unless an interrupt really hit EL0.
            ShutdownAtLeast("irqs_el0", 1),
        ],
        ..SELFTEST
    },
    Scenario {
        name: "ticks",
        append: "-- ticks",
        checks: &[TestOk("ticks"), ShutdownAtLeast("irqs_el0", 5)],
        ..SELFTEST
    },
    Scenario {
        name: "hz-250",
        append: "hz=250 -- ticks",
        checks: &[
            Banner("hz", "250"),
            TestOk("ticks"),
            ShutdownAtLeast("irqs_el0", 10),
        ],
        ..SELFTEST
    },
    // --- faults at EL0 kill the app with Linux's signal and status 128+sig ----
    Scenario {
        name: "data-abort",
        append: "-- data-abort",
        status: 128 + 11,
        checks: &[
            Kill("app", "selftest"),
            Kill("signal", "SIGSEGV"),
            Kill("ec", "0x24"),
        ],
        ..SELFTEST
    },
    Scenario {
        name: "undef",
        append: "-- undef",
        status: 128 + 4,
        checks: &[Kill("signal", "SIGILL"), Kill("ec", "0x00")],
        ..SELFTEST
    },
    Scenario {
        name: "brk",
        append: "-- brk",
        status: 128 + 5,
        checks: &[Kill("signal", "SIGTRAP"), Kill("ec", "0x3c")],
        ..SELFTEST
    },
    Scenario {
        name: "alignment",
        append: "-- alignment",
        status: 128 + 7,
        checks: &[Kill("signal", "SIGBUS"), Kill("ec", "0x24")],
        ..SELFTEST
    },
    Scenario {
        name: "inst-abort",
        append: "-- inst-abort",
        status: 128 + 11,
        checks: &[Kill("signal", "SIGSEGV"), Kill("ec", "0x20")],
        ..SELFTEST
    },
    // --- W^X and EL1-only kernel pages, seen from EL0 ---------------------------
    Scenario {
        name: "write-text",
        append: "-- write-text",
        status: 128 + 11,
        checks: &[
            Kill("signal", "SIGSEGV"),
            Kill("ec", "0x24"),
            LineContains("permission fault"),
        ],
        ..SELFTEST
    },
    Scenario {
        name: "exec-data",
        append: "-- exec-data",
        status: 128 + 11,
        checks: &[
            Kill("signal", "SIGSEGV"),
            Kill("ec", "0x20"),
            LineContains("permission fault"),
        ],
        ..SELFTEST
    },
    Scenario {
        name: "read-kernel",
        append: "-- read-kernel {kernel}",
        status: 128 + 11,
        checks: &[
            Kill("signal", "SIGSEGV"),
            Kill("ec", "0x24"),
            LineContains("permission fault"),
        ],
        ..SELFTEST
    },
    // --- threads on 4 CPUs (apps/smp) -------------------------------------------
    Scenario {
        name: "smp-progress",
        append: "-- progress",
        checks: &[
            TestOk("progress"),
            TestOk("tls"),
            TestOk("spread"),
            Banner("cpus", "4"),
        ],
        ..SMP
    },
    Scenario {
        name: "smp-preempt",
        append: "-- preempt",
        checks: &[TestOk("preempt")],
        ..SMP
    },
    Scenario {
        name: "smp-affinity",
        append: "-- affinity",
        checks: &[
            TestOk("affinity-self"),
            TestOk("affinity-other"),
            TestOk("getaffinity"),
        ],
        ..SMP
    },
    Scenario {
        name: "smp-signal-regs",
        append: "-- signal-regs",
        checks: &[
            TestOk("signal-regs"),
            TestOk("signal-info"),
            TestOk("signal-tid"),
            TestOk("signal-frame"),
        ],
        ..SMP
    },
    Scenario {
        name: "smp-sigsegv-thread",
        append: "-- sigsegv-thread",
        status: 128 + 11,
        checks: &[
            Kill("app", "smp"),
            Kill("signal", "SIGSEGV"),
            Kill("ec", "0x24"),
        ],
        ..SMP
    },
    Scenario {
        name: "smp-membarrier",
        append: "-- membarrier",
        checks: &[
            TestOk("membarrier-all"),
            TestOk("membarrier-cpu"),
            TestOk("membarrier-query"),
        ],
        ..SMP
    },
    Scenario {
        name: "smp-futex-sum",
        append: "-- futex-sum",
        checks: &[
            TestOk("futex-sum"),
            TestOk("futex-eagain"),
            TestOk("futex-timeout"),
        ],
        ..SMP
    },
    Scenario {
        name: "smp-sleep",
        // A slow tick (each CPU ticks at its own phase: 4 CPUs at hz=10
        // tick every 25 ms on average), so that a sleep ending at a tick
        // cannot pass nanosleep-fine.
        append: "hz=10 -- sleep",
        checks: &[TestOk("nanosleep"), TestOk("nanosleep-fine")],
        ..SMP
    },
    Scenario {
        name: "smp-clone-errors",
        append: "-- clone-errors",
        checks: &[TestOk("clone-einval")],
        ..SMP
    },
    Scenario {
        name: "smp-fp-switch",
        append: "-- fp-switch",
        checks: &[TestOk("fp-switch"), TestOk("fp-switch-preempted")],
        ..SMP
    },
    Scenario {
        name: "smp-churn",
        append: "-- churn 600",
        // 600 threads come and go: reaped tasks are recycled, so the kernel
        // heap ends where it started, give or take the live ones.
        checks: &[TestOk("churn"), HeapGrowthAtMost(64 * 1024)],
        ..SMP
    },
    // The short soak (the long one is `just soak`): SMP stress with exact
    // sums, and a bounded kernel heap.
    Scenario {
        name: "soak-short-stress",
        append: "-- stress 3",
        checks: &[TestOk("stress"), HeapGrowthAtMost(128 * 1024)],
        ..SMP
    },
    Scenario {
        name: "smp-gicv3-el2",
        el2: true,
        gic: 3,
        append: "-- membarrier",
        checks: &[
            Banner("gic", "GICv3"),
            TestOk("membarrier-all"),
            TestOk("membarrier-cpu"),
        ],
        shared: false,
        ..SMP
    },
    // --- isolation holds against a hostile app (apps/isolation) ----------------
    Scenario {
        name: "isolation-munmap-race",
        append: "-- munmap-race",
        checks: &[TestOk("munmap-race")],
        ..ISOLATION
    },
    Scenario {
        name: "isolation-threads",
        append: "-- threads",
        checks: &[
            TestOk("threads"),
            LineStartsWith("isolation: threads round 2:"),
        ],
        ..ISOLATION
    },
    Scenario {
        name: "isolation-clone-bad-tid",
        append: "-- clone-bad-tid {kernel}",
        checks: &[TestOk("clone-bad-tid"), Exit("status", "0")],
        ..ISOLATION
    },
    Scenario {
        name: "isolation-mmap-fill",
        append: "overcommit=2 -- mmap-fill",
        checks: &[
            TestOk("mmap-fill"),
            LineStartsWith("isolation: mmap-fill mapped "),
        ],
        ..ISOLATION
    },
    // A thousand refused registrations, one of them a mode mismatch: only
    // that one is explained at the default log level, all at loglevel=8.
    Scenario {
        name: "isolation-rseq-refusals",
        append: "-- rseq-refusals",
        checks: &[
            TestOk("rseq-refusals"),
            LinesStartingWith("[rseq] tid ", 1),
            LineContains(
                "32-byte (v1) registration refused: this kernel image is built for rseq v2",
            ),
        ],
        ..ISOLATION
    },
    Scenario {
        name: "isolation-rseq-refusals-debug",
        append: "loglevel=8 -- rseq-refusals",
        checks: &[
            TestOk("rseq-refusals"),
            LinesStartingWithAtLeast("[rseq] tid ", 2),
        ],
        ..ISOLATION
    },
    Scenario {
        name: "isolation-nanosleep-huge",
        append: "-- nanosleep-huge",
        checks: &[TestOk("nanosleep-huge")],
        ..ISOLATION
    },
    // --- the benchmark apps finish and pass their self-checks (figures: just bench),
    // on the benchmarks' clock: icount makes each boot 2 s of host CPU
    // instead of 31, as the timed benchmarks wait no host time.
    Scenario {
        name: "bench-none",
        app: "bench-none",
        icount: true,
        checks: &[
            LineStartsWith("BENCH name=getpid"),
            LineStartsWith("BENCH-DONE mode=none"),
        ],
        ..HELLO
    },
    Scenario {
        name: "bench-v1",
        app: "bench-v1",
        icount: true,
        checks: &[
            LineStartsWith("BENCH name=slice_lock"),
            LineStartsWith("BENCH-DONE mode=v1"),
        ],
        ..HELLO
    },
    Scenario {
        name: "bench-v2",
        app: "bench-v2",
        icount: true,
        checks: &[
            LineStartsWith("BENCH name=slice_lock"),
            LineStartsWith("BENCH-DONE mode=v2"),
        ],
        ..HELLO
    },
    Scenario {
        name: "bench-linux",
        app: "bench-linux",
        icount: true,
        checks: &[
            Banner("rseq", "linux"),
            LineStartsWith("BENCH name=slice_lock"),
            // 64 bytes registered: v2, so the slice extension is used.
            LineContains(" kind=ext"),
            LineStartsWith("BENCH-DONE mode=linux"),
        ],
        ..HELLO
    },
    // --- the app `just new-app` copies (apps/template) -------------------------
    // 8 threads x 200000 rseq adds on per-CPU counters: the sum is exact.
    Scenario {
        name: "template",
        app: "template",
        shared: true,
        checks: &[
            Banner("rseq", "v2"),
            LineStartsWith("template: rseq v2 registered (64 bytes), main thread on cpu_id "),
            LineStartsWith("template: counted 1600000 of 1600000 increments, on "),
            Exit("app", "template"),
            Exit("status", "0"),
        ],
        ..HELLO
    },
    // --- mmap, mprotect, madvise (apps/mman) -----------------------------------
    Scenario {
        name: "mman-checks",
        app: "mman",
        shared: true,
        append: "-- checks",
        checks: &[
            TestOk("mprotect-misaligned"),
            TestOk("mprotect-bad-prot"),
            TestOk("mprotect-unmapped"),
            TestOk("mprotect-past-the-end"),
            TestOk("mprotect-wx-refused"),
            TestOk("mprotect-empty"),
            TestOk("mprotect-wraps"),
            TestOk("mprotect-ro-keeps-data"),
            TestOk("mprotect-rw-again"),
            TestOk("mprotect-opens-reservation"),
            TestOk("mprotect-over-reservation"),
            TestOk("madvise-dontneed-zeroes"),
            TestOk("madvise-willneed"),
            TestOk("madvise-bad-advice"),
            TestOk("madvise-misaligned"),
            TestOk("madvise-unmapped"),
            TestOk("madvise-wraps"),
            TestOk("mprotect-empty-ignores-prot"),
            TestOk("mmap-shared-anonymous"),
            TestOk("mmap-shared-and-private"),
            TestOk("demand-mmap-takes-no-frame"),
            TestOk("demand-first-touch-zeroed"),
            TestOk("demand-syscall-writes-untouched"),
            TestOk("demand-syscall-reads-untouched"),
            TestOk("demand-syscall-prot-none-efault"),
            TestOk("demand-dontneed-frees"),
            TestOk("demand-munmap-returns-all"),
            TestOk("demand-larger-than-ram-refused"),
            TestOk("demand-noreserve-larger-than-ram"),
            TestOk("demand-map-populate"),
            Exit("status", "0"),
        ],
        ..HELLO
    },
    Scenario {
        name: "mman-untouched-ro-write",
        app: "mman",
        shared: true,
        append: "-- untouched-ro-write",
        status: 128 + 11,
        checks: &[
            LineStartsWith("mman: writing an untouched PROT_READ page"),
            Kill("signal", "SIGSEGV"),
            LineContains("translation fault"),
        ],
        ..HELLO
    },
    Scenario {
        name: "mman-oom",
        app: "mman",
        shared: true,
        append: "-- oom",
        status: 128 + 9,
        checks: &[
            LineStartsWith("mman: mmap of "),
            Kill("signal", "SIGKILL"),
            LineContains("what=\"out of memory: no frame for the page\""),
            LinesStartingWith("mman: touched more than RAM holds", 0),
        ],
        ..HELLO
    },
    Scenario {
        name: "mman-ro-write",
        app: "mman",
        shared: true,
        append: "-- ro-write",
        status: 128 + 11,
        checks: &[
            LineStartsWith("mman: mprotect(PROT_READ) = 0, writing"),
            Kill("signal", "SIGSEGV"),
            LineContains("permission fault"),
        ],
        ..HELLO
    },
    Scenario {
        name: "mman-none-read",
        app: "mman",
        shared: true,
        append: "-- none-read",
        status: 128 + 11,
        checks: &[
            LineStartsWith("mman: mprotect(PROT_NONE) = 0, reading"),
            Kill("signal", "SIGSEGV"),
            LineContains("permission fault"),
        ],
        ..HELLO
    },
    // --- how runs end ----------------------------------------------------------
    Scenario {
        name: "exit-status",
        append: "-- exit 42",
        status: 42,
        checks: &[Exit("app", "selftest"), Exit("status", "42")],
        ..SELFTEST
    },
    Scenario {
        name: "app-panic",
        append: "-- panic",
        // Rust's conventional panic exit status.
        status: 101,
        checks: &[LineContains("panicked"), Exit("status", "101")],
        ..SELFTEST
    },
    Scenario {
        name: "kernel-fault",
        shared: true,
        append: "selftest=kernel-fault",
        status: 255,
        checks: &[Panics, LineContains("ELR")],
        ..HELLO
    },
    // A kernel fault with a lock held that the panic path needs must still
    // end in the report and the power-off, not in a deadlock.
    Scenario {
        name: "fault-under-mm-lock",
        shared: true,
        append: "selftest=fault-under-mm-lock",
        status: 255,
        checks: &[
            LineStartsWith("[selftest] provoking a kernel data abort"),
            Panics,
        ],
        ..HELLO
    },
    Scenario {
        name: "fault-under-console-lock",
        shared: true,
        append: "selftest=fault-under-console-lock",
        status: 255,
        checks: &[
            LineStartsWith("[selftest] provoking a kernel data abort"),
            Panics,
        ],
        ..HELLO
    },
    Scenario {
        name: "bad-cmdline",
        shared: true,
        append: "hz=abc",
        status: 2,
        checks: &[LineStartsWith("[boot-error]")],
        ..HELLO
    },
    Scenario {
        name: "bad-slice-length",
        append: "rseq_slice_us=100",
        status: 2,
        checks: &[LineContains(
            "[boot-error] boot option `rseq_slice_us=100`: expected an integer 5..=50",
        )],
        shared: true,
        ..HELLO
    },
    Scenario {
        name: "unknown-option",
        shared: true,
        append: "frobnicate=1",
        status: 2,
        checks: &[LineStartsWith("[boot-error]")],
        ..HELLO
    },
    // --- programs from the initrd: the loader kernel (`elf=`, `mode=`) -------
    Scenario {
        name: "initrd-app-v2",
        shared: true,
        append: "-- one two",
        program: Some(Program {
            mode: "v2",
            initrd: Initrd::App("hello"),
            env: "GLIBC_TUNABLES=glibc.pthread.rseq=1 EMPTY=",
        }),
        checks: &[
            Banner("rseq", "v2"),
            Banner("app", "hello"),
            LineStartsWith("[exec] hello: "),
            LineContains("from the initrd, ET_EXEC at 0x4000000000, entry 0x40"),
            LineContains("hello from EL0: hello (pid 1, tid 1)"),
            LineContains(
                "hello: argv=[\"hello\", \"one\", \"two\"] \
                 envp=[\"RSEQ_OS=1\", \"GLIBC_TUNABLES=glibc.pthread.rseq=1\", \"EMPTY=\"]",
            ),
            Exit("app", "hello"),
            Exit("status", "0"),
        ],
        ..HELLO
    },
    Scenario {
        name: "initrd-app-v1",
        shared: true,
        append: "hz=250 --",
        program: Some(Program {
            mode: "v1",
            initrd: Initrd::App("hello"),
            env: "",
        }),
        checks: &[
            Banner("rseq", "v1"),
            Banner("hz", "250"),
            LineContains("hello: argv=[\"hello\"] envp=[\"RSEQ_OS=1\"]"),
            Exit("app", "hello"),
            Exit("status", "0"),
        ],
        ..HELLO
    },
    // --- unmodified static glibc programs (apps/linux) from the initrd --------
    // glibc 2.36 registers a 32-byte rseq area at startup: a v1 kernel takes
    // it (and keeps glibc's sched_getcpu on the rseq fast path), a v2 kernel
    // refuses it by the mode rules and glibc runs without rseq.
    Scenario {
        name: "linux-hello-v2",
        shared: true,
        append: "-- a b",
        status: 3,
        program: Some(Program {
            mode: "v2",
            initrd: Initrd::Linux("hello"),
            env: "X=1 HELLO_STATUS=3",
        }),
        checks: &[
            LineContains("from the initrd, ET_EXEC at 0x400000, entry 0x4"),
            LineStartsWith(
                "[rseq] tid 1: 32-byte (v1) registration refused: this kernel image is built for rseq v2",
            ),
            LineStartsWith("hello from a static Linux program: hello"),
            LineStartsWith("argv[1] = a"),
            LineStartsWith("argv[2] = b"),
            LineStartsWith("env X=1"),
            Exit("app", "hello"),
            Exit("status", "3"),
        ],
        ..HELLO
    },
    Scenario {
        name: "linux-hello-pie-v1",
        shared: true,
        program: Some(Program {
            mode: "v1",
            initrd: Initrd::Linux("hello-pie"),
            env: "",
        }),
        checks: &[
            LineContains("from the initrd, static PIE at 0x4000000000"),
            LineStartsWith("hello from a static Linux program: hello-pie"),
            // v1 takes glibc's 32-byte registration: no refusal line.
            LinesStartingWith("[rseq] tid ", 0),
            Exit("status", "0"),
        ],
        ..HELLO
    },
    Scenario {
        name: "linux-auxv-v1",
        shared: true,
        program: Some(Program {
            mode: "v1",
            initrd: Initrd::Linux("auxv"),
            env: "",
        }),
        checks: &[
            LineStartsWith("auxv: AT_RSEQ_FEATURE_SIZE=33 AT_RSEQ_ALIGN=64 AT_PAGESZ=4096"),
            LineStartsWith("auxv: glibc rseq area 32 bytes, platform aarch64"),
            Exit("status", "0"),
        ],
        ..HELLO
    },
    Scenario {
        name: "linux-auxv-v2",
        shared: true,
        program: Some(Program {
            mode: "v2",
            initrd: Initrd::Linux("auxv"),
            env: "",
        }),
        checks: &[
            LineStartsWith("auxv: AT_RSEQ_FEATURE_SIZE=33 AT_RSEQ_ALIGN=64 AT_PAGESZ=4096"),
            LineStartsWith("auxv: glibc rseq area 0 bytes, platform aarch64"),
            Exit("status", "0"),
        ],
        ..HELLO
    },
    Scenario {
        name: "linux-getcpu-v1",
        shared: true,
        program: Some(Program {
            mode: "v1",
            initrd: Initrd::Linux("getcpu"),
            env: "",
        }),
        checks: &[
            LineStartsWith("getcpu: pinned to 0, sched_getcpu() = 0"),
            LineStartsWith("getcpu: pinned to 3, sched_getcpu() = 3"),
            LinesStartingWith("[rseq] tid ", 0),
            Exit("status", "0"),
        ],
        ..HELLO
    },
    Scenario {
        name: "linux-signals-v2",
        shared: true,
        program: Some(Program {
            mode: "v2",
            initrd: Initrd::Linux("signals"),
            env: "",
        }),
        checks: &[
            LineStartsWith("signals: usr1=1 usr2=1 (while blocked 0) segv handled=1"),
            Exit("status", "0"),
        ],
        ..HELLO
    },
    Scenario {
        name: "linux-pthreads-v1",
        shared: true,
        program: Some(Program {
            mode: "v1",
            initrd: Initrd::Linux("pthreads"),
            env: "",
        }),
        checks: &[
            LineStartsWith("pthreads: 800000 of 800000 increments"),
            Exit("status", "0"),
        ],
        ..HELLO
    },
    Scenario {
        name: "linux-pthreads-pie-v2",
        shared: true,
        program: Some(Program {
            mode: "v2",
            initrd: Initrd::Linux("pthreads-pie"),
            env: "",
        }),
        checks: &[
            LineStartsWith("pthreads: 800000 of 800000 increments"),
            Exit("status", "0"),
        ],
        ..HELLO
    },
    Scenario {
        name: "linux-poll-v2",
        shared: true,
        program: Some(Program {
            mode: "v2",
            initrd: Initrd::Linux("poll"),
            env: "",
        }),
        checks: &[
            LineStartsWith("poll: sleep = 0 after >= 30 ms"),
            LineStartsWith("poll: 2 ready, revents 0x4 0x20 0"),
            LineStartsWith("ppoll: -1 (EINTR), handler ran 1, SIGUSR1 blocked again 1"),
            Exit("status", "0"),
        ],
        ..HELLO
    },
    Scenario {
        name: "linux-clock-v2",
        shared: true,
        program: Some(Program {
            mode: "v2",
            initrd: Initrd::Linux("clock"),
            env: "",
        }),
        checks: &[LineStartsWith("clock: slept "), Exit("status", "0")],
        ..HELLO
    },
    // 512 MiB malloc'd, 64 MiB of it touched: demand paging gives frames
    // to the touched pages only. On the Pi 4 model (1 GiB) the default
    // policy allows the mapping; on virt (256 MiB) it is larger than RAM,
    // which Linux's heuristic refuses too, and `overcommit=1` allows.
    Scenario {
        name: "linux-sparse-always-v2",
        board: "virt",
        append: "overcommit=1",
        program: Some(Program {
            mode: "v2",
            initrd: Initrd::Linux("sparse"),
            env: "",
        }),
        checks: &[
            LineStartsWith("sparse: touched 16385 pages of a 512 MiB allocation"),
            Exit("status", "0"),
        ],
        ..HELLO
    },
    Scenario {
        name: "linux-sparse-refused-v2",
        board: "virt",
        status: 1,
        program: Some(Program {
            mode: "v2",
            initrd: Initrd::Linux("sparse"),
            env: "",
        }),
        checks: &[
            LineStartsWith("sparse: malloc(512 MiB) failed"),
            Exit("status", "1"),
        ],
        ..HELLO
    },
    // The descriptor table: dup/dup3/fcntl/close and RLIMIT_NOFILE.
    Scenario {
        name: "linux-fds-pie-v1",
        shared: true,
        program: Some(Program {
            mode: "v1",
            initrd: Initrd::Linux("fds-pie"),
            env: "",
        }),
        checks: &[
            LineStartsWith("fds: RLIMIT_STACK 8388608/unlimited, RLIMIT_NOFILE 1024/4096"),
            LineStartsWith("fds: written through fd 3"),
            LineStartsWith("fds: written through fd 2 after close and dup"),
            LineStartsWith(
                "fds: 11 dups under RLIMIT_NOFILE 16 (fd 0 first, last 15), then EMFILE",
            ),
            LineStartsWith("fds: written through fd 100 above the limit"),
            LineStartsWith("fds: written through fd 1500"),
            LineStartsWith("fds: RLIMIT_NOFILE now 2000/8192"),
            LineStartsWith("fds: 85 checks, 0 failed"),
            Exit("status", "0"),
        ],
        ..HELLO
    },
    // Robust futexes: the dead owner's locks marked by the exit walk.
    Scenario {
        name: "linux-robust-v1",
        shared: true,
        program: Some(Program {
            mode: "v1",
            initrd: Initrd::Linux("robust"),
            env: "",
        }),
        checks: ROBUST_CHECKS,
        ..HELLO
    },
    // The same with PAN: the kernel's atomic update of a futex word is a
    // privileged access, PAN lifted around it.
    Scenario {
        name: "linux-robust-pan-v2",
        cpu: "cortex-a76",
        program: Some(Program {
            mode: "v2",
            initrd: Initrd::Linux("robust"),
            env: "",
        }),
        checks: ROBUST_CHECKS,
        ..HELLO
    },
    // Syscall restart after signals, and restart_syscall.
    Scenario {
        name: "linux-restart-v2",
        shared: true,
        program: Some(Program {
            mode: "v2",
            initrd: Initrd::Linux("restart"),
            env: "",
        }),
        checks: &[
            LineStartsWith("restart: futex wait, SA_RESTART handler: 0, handler ran 1, woken 1"),
            LineStartsWith("restart: futex wait, handler without SA_RESTART: EINTR, handler ran 1"),
            LineStartsWith(
                "restart: futex wait, ignored SIGUSR2 and SIGWINCH: 0, still waiting 1, woken 1",
            ),
            LineStartsWith(
                "restart: futex wait with timeout, SA_RESTART handler: EINTR, handler ran 1",
            ),
            LineStartsWith(
                "restart: nanosleep, SA_RESTART handler: EINTR, handler ran 1, time left in (0, 2 s) 1",
            ),
            LineStartsWith(
                "restart: clock_nanosleep TIMER_ABSTIME, SA_RESTART handler: EINTR, handler ran 1",
            ),
            LineStartsWith(
                "restart: ppoll, SA_RESTART handler: EINTR, handler ran 1, time left in (0, 5 s) 1",
            ),
            LineStartsWith(
                "restart: ppoll, ignored signal pending: 0 after >= 50 ms, was pending 1, now pending 0, blocked again 1",
            ),
            LineStartsWith("restart: nanosleep, ignored signal: 0 after >= 100 ms"),
            LineStartsWith(
                "restart: nanosleep, signal then ignored: restarted through restart_syscall yes (x8 128), 0 wrong results",
            ),
            LineStartsWith("restart: restart_syscall with nothing to restart: EINTR"),
            LineStartsWith("restart: 28 checks, 0 failed"),
            Exit("status", "0"),
        ],
        ..HELLO
    },
    Scenario {
        name: "linux-sparse-v1",
        board: "rpi4",
        program: Some(Program {
            mode: "v1",
            initrd: Initrd::Linux("sparse"),
            env: "",
        }),
        checks: &[
            LineStartsWith("sparse: touched 16385 pages of a 512 MiB allocation"),
            Exit("status", "0"),
        ],
        ..HELLO
    },
    // The same programs on the `linux` kernel, Linux's own rule: glibc
    // 2.36's 32-byte registration is taken and runs v1, as on Linux.
    Scenario {
        name: "linux-hello-linux",
        shared: true,
        append: "-- a b",
        status: 3,
        program: Some(Program {
            mode: "linux",
            initrd: Initrd::Linux("hello"),
            env: "X=1 HELLO_STATUS=3",
        }),
        checks: &[
            Banner("rseq", "linux"),
            // glibc's 32-byte registration is taken (and runs v1).
            LinesStartingWith("[rseq] tid ", 0),
            LineStartsWith("hello from a static Linux program: hello"),
            LineStartsWith("argv[1] = a"),
            LineStartsWith("env X=1"),
            Exit("status", "3"),
        ],
        ..HELLO
    },
    Scenario {
        name: "linux-hello-pie-linux",
        shared: true,
        program: Some(Program {
            mode: "linux",
            initrd: Initrd::Linux("hello-pie"),
            env: "",
        }),
        checks: &[
            Banner("rseq", "linux"),
            // glibc's 32-byte registration is taken (and runs v1).
            LinesStartingWith("[rseq] tid ", 0),
            LineContains("from the initrd, static PIE at 0x4000000000"),
            LineStartsWith("hello from a static Linux program: hello-pie"),
            Exit("status", "0"),
        ],
        ..HELLO
    },
    Scenario {
        name: "linux-auxv-linux",
        shared: true,
        program: Some(Program {
            mode: "linux",
            initrd: Initrd::Linux("auxv"),
            env: "",
        }),
        checks: &[
            Banner("rseq", "linux"),
            // glibc's 32-byte registration is taken (and runs v1).
            LinesStartingWith("[rseq] tid ", 0),
            LineStartsWith("auxv: AT_RSEQ_FEATURE_SIZE=33 AT_RSEQ_ALIGN=64 AT_PAGESZ=4096"),
            LineStartsWith("auxv: glibc rseq area 32 bytes, platform aarch64"),
            Exit("status", "0"),
        ],
        ..HELLO
    },
    Scenario {
        name: "linux-getcpu-linux",
        shared: true,
        program: Some(Program {
            mode: "linux",
            initrd: Initrd::Linux("getcpu"),
            env: "",
        }),
        checks: &[
            Banner("rseq", "linux"),
            // glibc's 32-byte registration is taken (and runs v1).
            LinesStartingWith("[rseq] tid ", 0),
            LineStartsWith("getcpu: pinned to 0, sched_getcpu() = 0"),
            LineStartsWith("getcpu: pinned to 3, sched_getcpu() = 3"),
            Exit("status", "0"),
        ],
        ..HELLO
    },
    Scenario {
        name: "linux-signals-linux",
        shared: true,
        program: Some(Program {
            mode: "linux",
            initrd: Initrd::Linux("signals"),
            env: "",
        }),
        checks: &[
            Banner("rseq", "linux"),
            // glibc's 32-byte registration is taken (and runs v1).
            LinesStartingWith("[rseq] tid ", 0),
            LineStartsWith("signals: usr1=1 usr2=1 (while blocked 0) segv handled=1"),
            Exit("status", "0"),
        ],
        ..HELLO
    },
    Scenario {
        name: "linux-pthreads-linux",
        shared: true,
        program: Some(Program {
            mode: "linux",
            initrd: Initrd::Linux("pthreads"),
            env: "",
        }),
        checks: &[
            Banner("rseq", "linux"),
            // glibc's 32-byte registration is taken (and runs v1).
            LinesStartingWith("[rseq] tid ", 0),
            LineStartsWith("pthreads: 800000 of 800000 increments"),
            Exit("status", "0"),
        ],
        ..HELLO
    },
    Scenario {
        name: "linux-pthreads-pie-linux",
        shared: true,
        program: Some(Program {
            mode: "linux",
            initrd: Initrd::Linux("pthreads-pie"),
            env: "",
        }),
        checks: &[
            Banner("rseq", "linux"),
            // glibc's 32-byte registration is taken (and runs v1).
            LinesStartingWith("[rseq] tid ", 0),
            LineStartsWith("pthreads: 800000 of 800000 increments"),
            Exit("status", "0"),
        ],
        ..HELLO
    },
    Scenario {
        name: "linux-poll-linux",
        shared: true,
        program: Some(Program {
            mode: "linux",
            initrd: Initrd::Linux("poll"),
            env: "",
        }),
        checks: &[
            Banner("rseq", "linux"),
            // glibc's 32-byte registration is taken (and runs v1).
            LinesStartingWith("[rseq] tid ", 0),
            LineStartsWith("poll: sleep = 0 after >= 30 ms"),
            LineStartsWith("ppoll: -1 (EINTR), handler ran 1, SIGUSR1 blocked again 1"),
            Exit("status", "0"),
        ],
        ..HELLO
    },
    Scenario {
        name: "linux-clock-linux",
        shared: true,
        program: Some(Program {
            mode: "linux",
            initrd: Initrd::Linux("clock"),
            env: "",
        }),
        checks: &[
            Banner("rseq", "linux"),
            // glibc's 32-byte registration is taken (and runs v1).
            LinesStartingWith("[rseq] tid ", 0),
            LineStartsWith("clock: slept "),
            Exit("status", "0"),
        ],
        ..HELLO
    },
    Scenario {
        name: "linux-sparse-linux",
        board: "rpi4",
        program: Some(Program {
            mode: "linux",
            initrd: Initrd::Linux("sparse"),
            env: "",
        }),
        checks: &[
            Banner("rseq", "linux"),
            // glibc's 32-byte registration is taken (and runs v1).
            LinesStartingWith("[rseq] tid ", 0),
            LineStartsWith("sparse: touched 16385 pages of a 512 MiB allocation"),
            Exit("status", "0"),
        ],
        ..HELLO
    },
    Scenario {
        name: "initrd-app-linux",
        shared: true,
        append: "-- x",
        program: Some(Program {
            mode: "linux",
            initrd: Initrd::App("hello"),
            env: "",
        }),
        checks: &[
            Banner("rseq", "linux"),
            LineContains("hello: argv=[\"hello\", \"x\"] envp=[\"RSEQ_OS=1\"]"),
            Exit("status", "0"),
        ],
        ..HELLO
    },
    Scenario {
        name: "initrd-absent",
        shared: true,
        status: 2,
        program: Some(Program {
            mode: "v2",
            initrd: Initrd::Absent,
            env: "",
        }),
        checks: &[LineStartsWith(
            "[boot-error] no program: this kernel loads its program from an initrd, and none was passed",
        )],
        ..HELLO
    },
    Scenario {
        name: "initrd-garbage",
        shared: true,
        status: 2,
        program: Some(Program {
            mode: "v1",
            initrd: Initrd::Garbage,
            env: "",
        }),
        checks: &[LineContains(
            "[boot-error] the initrd is not a program this kernel runs: not an ELF file (bad magic)",
        )],
        ..HELLO
    },
];

/// Every scenario to run: the table and the rseq matrix, plus a copy of
/// each shared scenario for each fixed-hardware board, with `{kernel}`
/// filled in per board. (Leaked: the list lives for the whole run.)
pub fn all() -> Vec<&'static Scenario> {
    let table: Vec<&'static Scenario> = SCENARIOS
        .iter()
        .chain(rseq_matrix())
        .chain(fuzz_matrix())
        .collect();
    let mut out = Vec::new();
    for s in &table {
        out.push(for_board(s, s.board));
    }
    for board in boards::BOARDS.iter().filter(|b| b.knobs.is_none()) {
        for s in table.iter().filter(|s| s.shared && s.board != board.name) {
            out.push(for_board(s, board.name));
        }
    }
    out
}

/// The param_test tests and injections (apps/rseqtest `param`).
const PARAM_TESTS: &[&str] = &[
    "spinlock",
    "list",
    "buffer",
    "memcpy",
    "increment",
    "membarrier",
];
const PARAM_INJECT: &[&str] = &["none", "yield", "signal", "sleep", "delay"];

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

fn leak_checks(c: Vec<Check>) -> &'static [Check] {
    Box::leak(c.into_boxed_slice())
}

/// What the kernel's `[kill]` report says for each of the fuzz app's deadly
/// actions (`deadly_kind=K`, apps/fuzz/src/rseqfuzz.rs `deadly`).
const FUZZ_DEADLY: [&[&str]; 9] = [
    &["what=\"rseq: rseq_cs 0xffff000000000040 is not a user address"],
    &[UNREACHABLE],
    &[UNREACHABLE],
    &["what=\"rseq: bad signature before abort_ip"],
    &["what=\"rseq: abort_ip 0x2 is not a user address"],
    &["what=\"rseq: inconsistent slice_ctrl"],
    // An area on a page unmapped after registration: the kernel's ID
    // write faults, unless another fuzz thread's mmap got the page first;
    // then the v2 read-only check finds one of the kernel's fields gone.
    &[UNREACHABLE, "what=\"rseq: read-only field "],
    &["what=\"rt_sigreturn: signal frame returns to a mode other than EL0t"],
    &["what=\"rt_sigreturn: unreadable signal frame or bad FP/SIMD record"],
];
const UNREACHABLE: &str = "what=\"rseq: rseq area or critical section descriptor unreachable";

/// How much a fuzz run may grow the kernel heap: a thread exhaustion step
/// leaves `threads_max` tasks behind for reuse, which the kernel bounds to
/// half its 8 MiB heap (`task::threads_max`); beyond that, a leak.
const FUZZ_HEAP_GROWTH: u64 = (4 << 20) + (256 << 10);

/// The short fuzz runs (the long ones: `just soak`), shared by
/// both boards, with `overcommit=2` because the fuzzer's exhaustion steps
/// map memory until ENOMEM, the errno contract of that policy (under the
/// default policy exhaustion ends the app: `mman-oom`): seeded random
/// syscalls from 4 threads on 4 CPUs must end in
/// `FUZZ-DONE` with the kernel heap bounded, also with `rseq_debug=1`; and
/// each deadly action must end the app with exactly its `[kill]` report
/// (one verdict, one shutdown: `check::evaluate`), never a panic.
fn fuzz_matrix() -> &'static [Scenario] {
    let base = Scenario {
        app: "fuzz",
        shared: true,
        ..SMP
    };
    let mut out = vec![
        Scenario {
            name: "fuzz-short",
            append: "overcommit=2 -- seed=1 calls=20000 threads=4",
            checks: &[
                LineStartsWith("fuzz: seed=1 "),
                LineStartsWith("FUZZ-DONE"),
                LineContains("fuzz: 0 anomalies, 0 failed workers"),
                HeapGrowthAtMost(FUZZ_HEAP_GROWTH),
            ],
            ..base
        },
        Scenario {
            name: "fuzz-short-debug",
            append: "overcommit=2 rseq_debug=1 -- seed=2 calls=20000 threads=4 strict=1",
            checks: &[
                LineStartsWith("fuzz: seed=2 "),
                LineStartsWith("FUZZ-DONE"),
                LineContains("fuzz: 0 anomalies, 0 failed workers"),
                HeapGrowthAtMost(FUZZ_HEAP_GROWTH),
            ],
            ..base
        },
    ];
    for (kind, what) in FUZZ_DEADLY.iter().enumerate() {
        out.push(Scenario {
            name: leak(format!("fuzz-deadly-{kind}")),
            append: leak(format!(
                "overcommit=2 -- seed=3 calls=20000 deadly=1 deadly_kind={kind}"
            )),
            status: 128 + 11,
            checks: leak_checks(vec![
                LineContains(leak(format!("fuzz: deadly action {kind} in thread"))),
                Kill("signal", "SIGSEGV"),
                LineContainsAny(what),
            ]),
            ..base
        });
    }
    Box::leak(out.into_boxed_slice())
}

/// What one rseq scenario must show in one mode: its exit status and
/// checks.
#[derive(Clone, Copy)]
struct RseqExpect {
    status: i32,
    checks: &'static [Check],
}

/// One rseq scenario: its name (after `rseq-v1-`, `rseq-v2-`,
/// `rseq-linux-32-` / `rseq-linux-64-`), its command line, and what it
/// must show in each mode (`None`: not run in that mode).
struct RseqCase {
    name: &'static str,
    append: &'static str,
    v1: Option<RseqExpect>,
    v2: Option<RseqExpect>,
    /// The `linux` image (app `rseq-linux`), with a 32-byte registration
    /// (`RT_RSEQ_LEN=32`, runs v1) and a 64-byte one (runs v2).
    linux: [Option<RseqExpect>; 2],
    /// Boot on QEMU's instruction clock ([`Scenario::icount`]): the case
    /// bounds a latency in counter time, which on the host's clock a
    /// loaded host stretches while the vCPU is not running.
    icount: bool,
}

impl RseqCase {
    /// This case on the instruction clock (see [`RseqCase::icount`]).
    const fn on_icount(self) -> RseqCase {
        RseqCase {
            icount: true,
            ..self
        }
    }
}

/// A case whose `linux` column is the version columns: a 32-byte
/// registration must show what the v1 image shows, a 64-byte one what the
/// v2 image shows.
const fn case(
    name: &'static str,
    append: &'static str,
    v1: Option<RseqExpect>,
    v2: Option<RseqExpect>,
) -> RseqCase {
    RseqCase {
        name,
        append,
        v1,
        v2,
        linux: [v1, v2],
        icount: false,
    }
}

/// A case whose `linux` column differs from the version columns (where the
/// images' mode rules differ from Linux's).
const fn case_linux(
    name: &'static str,
    append: &'static str,
    v1: Option<RseqExpect>,
    v2: Option<RseqExpect>,
    linux: [Option<RseqExpect>; 2],
) -> RseqCase {
    RseqCase {
        name,
        append,
        v1,
        v2,
        linux,
        icount: false,
    }
}

/// The app exits 0 and the log shows `checks`.
const fn passes(checks: &'static [Check]) -> Option<RseqExpect> {
    Some(RseqExpect { status: 0, checks })
}

/// The kernel kills the app with SIGSEGV (`checks` name the report).
const fn segv(checks: &'static [Check]) -> Option<RseqExpect> {
    Some(RseqExpect {
        status: 128 + 11,
        checks,
    })
}

const SIGSEGV: Check = Kill("signal", "SIGSEGV");
/// v2's read-only check catching a rewritten `cpu_id_start`.
const CPU_ID_START_FORGED: Check = LineContains("rseq: read-only field cpu_id_start overwritten");
const PERCPU_OPS: &[Check] = &[
    TestOk("percpu-spinlock"),
    TestOk("percpu-list"),
    TestOk("percpu-spinlock-mmcid"),
];

/// The rseq scenarios (apps/rseqtest) besides the param_test matrix, one
/// row per case with what each mode must show. The modes differ where v1
/// rewrites `cpu_id_start` (legacy-check, tcmalloc), in the registration
/// length each refuses, and in time slice extension (v2 only; v1 images
/// refuse it). A `linux` image runs each case with the registration
/// length whose version the case is written for, and must then show that
/// version's column, except where it differs by the mode rule.
const RSEQ_CASES: &[RseqCase] = &[
    case(
        "basic",
        "-- basic",
        passes(&[TestOk("basic"), TestOk("basic-thread")]),
        passes(&[TestOk("basic"), TestOk("basic-thread")]),
    ),
    case(
        "percpu-ops",
        "-- percpu-ops",
        passes(PERCPU_OPS),
        passes(PERCPU_OPS),
    ),
    // The mode-length refusal is logged with its reason; a linux image
    // refuses neither length.
    case_linux(
        "syscall-errors",
        "-- syscall-errors",
        passes(&[
            TestOk("syscall-errors"),
            LineContains(
                "64-byte (v2) registration refused: this kernel image is built for rseq v1",
            ),
        ]),
        passes(&[
            TestOk("syscall-errors"),
            LineContains(
                "32-byte (v1) registration refused: this kernel image is built for rseq v2",
            ),
        ]),
        [
            passes(&[
                TestOk("syscall-errors"),
                TestOk("syscall-errors-other-len"),
                LinesStartingWith("[rseq] tid ", 0),
            ]),
            passes(&[
                TestOk("syscall-errors"),
                TestOk("syscall-errors-other-len"),
                LinesStartingWith("[rseq] tid ", 0),
            ]),
        ],
    ),
    case(
        "legacy-check",
        "-- legacy-check",
        passes(&[
            TestOk("legacy-sleep"),
            TestOk("legacy-signal"),
            TestOk("legacy-membarrier"),
        ]),
        segv(&[TestOk("v2-no-rewrite"), SIGSEGV, CPU_ID_START_FORGED]),
    ),
    case(
        "tcmalloc",
        "-- tcmalloc",
        passes(&[TestOk("tcmalloc-v1-resize"), TestOk("tcmalloc-v1")]),
        segv(&[TestOk("tcmalloc-v2-stale"), SIGSEGV, CPU_ID_START_FORGED]),
    ),
    case(
        "stats-pingpong",
        "-- stats-pingpong",
        passes(&[TestOk("pingpong-v1-ids")]),
        passes(&[TestOk("pingpong-v2-ids")]),
    ),
    case(
        "inherit",
        "-- inherit",
        passes(&[TestOk("inherit")]),
        passes(&[TestOk("inherit")]),
    ),
    case(
        "stats",
        "-- stats",
        passes(&[TestOk("stats"), LineStartsWith("[rseq] mode=")]),
        passes(&[TestOk("stats"), LineStartsWith("[rseq] mode=")]),
    ),
    case(
        "asm-ops",
        "-- asm-ops",
        passes(&[TestOk("asm-ops-cpu_id"), TestOk("asm-ops-mm_cid")]),
        passes(&[TestOk("asm-ops-cpu_id"), TestOk("asm-ops-mm_cid")]),
    ),
    case(
        "area-fault",
        "-- area-fault",
        segv(&[SIGSEGV, LineContains(UNREACHABLE)]),
        segv(&[SIGSEGV, LineContains(UNREACHABLE)]),
    ),
    case(
        "area-unpopulated",
        "-- area-unpopulated",
        passes(&[TestOk("area-unpopulated-slowpath")]),
        passes(&[TestOk("area-unpopulated-slowpath")]),
    ),
    case(
        "syscall-in-cs",
        "-- syscall-in-cs",
        passes(&[TestOk("syscall-in-cs-nodebug")]),
        passes(&[TestOk("syscall-in-cs-nodebug")]),
    ),
    case(
        "debug-syscall-in-cs",
        "rseq_debug=1 -- syscall-in-cs debug",
        segv(&[SIGSEGV, LineContains("syscall inside a critical section")]),
        segv(&[SIGSEGV, LineContains("syscall inside a critical section")]),
    ),
    case(
        "debug-percpu-ops",
        "rseq_debug=1 -- percpu-ops",
        passes(PERCPU_OPS),
        passes(PERCPU_OPS),
    ),
    case(
        "slice-prctl",
        "-- slice-prctl",
        passes(&[TestOk("slice-v1-enotsupp")]),
        passes(&[TestOk("slice-prctl")]),
    ),
    case(
        "slice-prctl-disabled",
        "rseq_slice_ext=0 -- slice-prctl disabled",
        None,
        passes(&[TestOk("slice-disabled-enotsupp")]),
    ),
    case(
        "slice-test-yield",
        "-- slice-test yield",
        None,
        passes(&[TestOk("slice-test-yield"), TestOk("slice-accounting")]),
    ),
    case(
        "slice-test-getpid",
        "-- slice-test getpid",
        None,
        passes(&[TestOk("slice-test-getpid"), TestOk("slice-accounting")]),
    ),
    case(
        "slice-expire",
        "rseq_slice_us=20 -- slice-expire 20 100",
        None,
        passes(&[TestOk("slice-expire")]),
    )
    .on_icount(),
    case(
        "slice-forge",
        "-- slice-forge",
        passes(&[TestOk("slice-forge-v1")]),
        segv(&[SIGSEGV, LineContains("rseq: inconsistent slice_ctrl")]),
    ),
    case(
        "lhp-compare",
        "hz=1000 rseq_slice_us=20 -- lhp-compare",
        None,
        passes(&[
            TestOk("lhp-noext"),
            TestOk("lhp-ext"),
            TestOk("lhp-compare"),
        ]),
    ),
];

/// The param_test injections run in the `linux` image, with both
/// registration lengths (the v1 and v2 images run all of them): a signal
/// delivery and a preemption inside the section, the two events whose
/// handling differs by version.
const PARAM_INJECT_LINUX: &[&str] = &["signal", "delay"];

/// One column of the rseq matrix: an app, the prefix of its scenarios'
/// names, the kernel options it needs, and the checks every scenario of it
/// gets.
struct RseqColumn {
    app: &'static str,
    prefix: &'static str,
    /// Before the case's own command line (kernel options).
    options: &'static str,
    /// Checked in every scenario of the column.
    checks: &'static [Check],
}

/// The columns of the rseq matrix: the v1 and v2 images, and the `linux`
/// image with 32- and 64-byte registrations.
const RSEQ_COLUMNS: [RseqColumn; 4] = [
    RseqColumn {
        app: "rseq-v1",
        prefix: "rseq-v1",
        options: "",
        checks: &[Banner("rseq", "v1")],
    },
    RseqColumn {
        app: "rseq-v2",
        prefix: "rseq-v2",
        options: "",
        checks: &[Banner("rseq", "v2")],
    },
    RseqColumn {
        app: "rseq-linux",
        prefix: "rseq-linux-32",
        options: "env=RT_RSEQ_LEN=32 ",
        checks: &[
            Banner("rseq", "linux"),
            LineStartsWith("rseqtest: rseq mode linux (registration length 32)"),
        ],
    },
    RseqColumn {
        app: "rseq-linux",
        prefix: "rseq-linux-64",
        options: "env=RT_RSEQ_LEN=64 ",
        checks: &[
            Banner("rseq", "linux"),
            LineStartsWith("rseqtest: rseq mode linux (registration length 64)"),
        ],
    },
];

/// The rseq scenarios in every mode (apps `rseq-v1`, `rseq-v2`,
/// `rseq-linux`: the same code, each image's kernel built for its mode),
/// all shared by both boards: [`RSEQ_CASES`] in the columns they list,
/// then the param_test matrix, which passes in every column.
fn rseq_matrix() -> &'static [Scenario] {
    let mut out = Vec::new();
    for (col, column) in RSEQ_COLUMNS.iter().enumerate() {
        let base = Scenario {
            app: column.app,
            shared: true,
            ..HELLO
        };
        let name = |case: &str| leak(format!("{}-{case}", column.prefix));
        let append = |a: &str| leak(format!("{}{a}", column.options));
        let checks = |c: &[Check]| leak_checks([column.checks, c].concat());
        for case in RSEQ_CASES {
            let expect = match col {
                0 => case.v1,
                1 => case.v2,
                _ => case.linux[col - 2],
            };
            if let Some(RseqExpect { status, checks: c }) = expect {
                out.push(Scenario {
                    name: name(case.name),
                    append: append(case.append),
                    status,
                    checks: checks(c),
                    icount: case.icount,
                    ..base
                });
            }
        }
        let inject = if col < 2 {
            PARAM_INJECT
        } else {
            PARAM_INJECT_LINUX
        };
        for t in PARAM_TESTS {
            for i in inject {
                let test = format!("param-{t}-{i}");
                out.push(Scenario {
                    name: name(&test),
                    append: append(&format!("-- param {t} {i}")),
                    checks: checks(&[TestOk(leak(test))]),
                    ..base
                });
            }
        }
    }
    Box::leak(out.into_boxed_slice())
}

/// `s` as run on `board`.
fn for_board(s: &'static Scenario, board: &'static str) -> &'static Scenario {
    let kernel = boards::find(board).map_or(0, |b| arch::mmu::phys_to_virt(b.kernel_base));
    let append = s.append.replace("{kernel}", &format!("{kernel:#x}"));
    if board == s.board && append == s.append {
        return s;
    }
    let append: &'static str = Box::leak(append.into_boxed_str());
    let fixed = board != s.board;
    Box::leak(Box::new(Scenario {
        board,
        append,
        el2: if fixed { false } else { s.el2 },
        gic: if fixed { 2 } else { s.gic },
        cpu: if fixed { "" } else { s.cpu },
        ..*s
    }))
}

/// The long SMP stress run (`cargo xtask stress`, not in `just test`):
/// futex-mutex sums, thread churn, yields and migrations for `seconds` of
/// counter time, every round's total exact.
pub fn stress(board: &'static str, seconds: u64) -> &'static Scenario {
    let fixed = boards::find(board).is_ok_and(|b| b.knobs.is_none());
    Box::leak(Box::new(Scenario {
        name: "stress",
        board,
        append: Box::leak(format!("-- stress {seconds}").into_boxed_str()),
        checks: &[TestOk("stress")],
        cpu: if fixed { "" } else { SMP.cpu },
        ..SMP
    }))
}

/// How many runs [`soak`] puts in one round.
pub const SOAK_RUNS_PER_ROUND: usize = 4;

/// The soak's runs (`cargo xtask soak`, crate::soak): `rounds` rounds, each
/// the SMP stress (exact futex sums, thread churn, migrations), the fuzz app
/// with a new seed (`calls` calls), and rseq per-CPU stress in both modes
/// (exact per-CPU sums with delays inside the sections), on `board`. Every
/// run must also keep the kernel heap bounded.
pub fn soak(board: &'static str, rounds: u64, fuzz_calls: u64) -> Vec<&'static Scenario> {
    let fixed = boards::find(board).is_ok_and(|b| b.knobs.is_none());
    let cpu = if fixed { "" } else { SMP.cpu };
    let mut out = Vec::new();
    for r in 0..rounds {
        let mut add = |name: String, app: &'static str, append: String, checks: Vec<Check>| {
            out.push(&*Box::leak(Box::new(Scenario {
                name: leak(name),
                board,
                app,
                append: leak(append),
                checks: leak_checks(checks),
                cpu,
                ..SMP
            })));
        };
        add(
            format!("soak-{r}-stress"),
            "smp",
            "-- stress 60".into(),
            vec![TestOk("stress"), HeapGrowthAtMost(256 * 1024)],
        );
        add(
            format!("soak-{r}-fuzz"),
            "fuzz",
            format!(
                "overcommit=2 -- seed={} calls={fuzz_calls} threads=4",
                1000 + r
            ),
            vec![
                LineStartsWith("FUZZ-DONE"),
                LineContains("fuzz: 0 anomalies, 0 failed workers"),
                HeapGrowthAtMost(FUZZ_HEAP_GROWTH),
            ],
        );
        add(
            format!("soak-{r}-percpu"),
            "rseq-v2",
            "-- param spinlock delay".into(),
            vec![TestOk("param-spinlock-delay"), HeapGrowthAtMost(256 * 1024)],
        );
        add(
            format!("soak-{r}-percpu-v1"),
            "rseq-v1",
            "-- percpu-ops".into(),
            vec![
                TestOk("percpu-spinlock"),
                TestOk("percpu-list"),
                HeapGrowthAtMost(256 * 1024),
            ],
        );
    }
    out
}

/// The scenarios whose `board/name` contains `filter` (all when `None`).
pub fn select(filter: Option<&str>) -> Vec<&'static Scenario> {
    all()
        .into_iter()
        .filter(|s| filter.is_none_or(|f| s.id().contains(f)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::boards;
    use std::collections::HashSet;

    #[test]
    fn ids_are_unique_and_named() {
        let mut seen = HashSet::new();
        for s in SCENARIOS {
            assert!(!s.name.is_empty());
            assert!(seen.insert(s.id()), "duplicate scenario {}", s.id());
        }
    }

    #[test]
    fn options_are_valid() {
        for s in SCENARIOS {
            let board = boards::find(s.board).expect("known board");
            assert!(matches!(s.gic, 2 | 3), "{}: gic {}", s.id(), s.gic);
            assert!((0..=255).contains(&s.status), "{}: status", s.id());
            assert!(board.name == s.board);
        }
    }

    /// The exit status of a killed app is 128 + the signal number (Linux's
    /// shell convention, which the kernel follows): keep the table honest.
    #[test]
    fn kill_status_matches_signal() {
        let number = |sig: &str| match sig {
            "SIGILL" => 4,
            "SIGTRAP" => 5,
            "SIGBUS" => 7,
            "SIGKILL" => 9,
            "SIGSEGV" => 11,
            other => panic!("add {other} to this test"),
        };
        for s in all() {
            for c in s.checks {
                if let Kill("signal", sig) = c {
                    assert_eq!(s.status, 128 + number(sig), "{}", s.id());
                }
            }
        }
    }

    #[test]
    fn shared_scenarios_run_on_rpi4_with_its_kernel_address() {
        let all = all();
        let table: Vec<_> = SCENARIOS
            .iter()
            .chain(rseq_matrix())
            .chain(fuzz_matrix())
            .collect();
        let shared = table.iter().filter(|s| s.shared).count();
        assert_eq!(all.len(), table.len() + shared);
        // Both rseq modes, the full param_test matrix, on both boards.
        for id in [
            "virt/rseq-v1-param-membarrier-signal",
            "rpi4/rseq-v2-tcmalloc",
            "rpi4/fuzz-short",
            "rpi4/fuzz-deadly-8",
        ] {
            assert!(all.iter().any(|s| s.id() == id), "{id}");
        }
        let rpi = all
            .iter()
            .find(|s| s.id() == "rpi4/read-kernel")
            .expect("rpi4 copy");
        assert_eq!(rpi.append, "-- read-kernel 0xffffff8000080000");
        assert_eq!((rpi.el2, rpi.gic, rpi.cpu), (false, 2, ""));
        let virt = all.iter().find(|s| s.id() == "virt/read-kernel").unwrap();
        assert_eq!(virt.append, "-- read-kernel 0xffffff8040080000");
        let ids: HashSet<_> = all.iter().map(|s| s.id()).collect();
        assert_eq!(ids.len(), all.len(), "ids unique across boards");
    }

    /// Each row of the rseq table becomes one scenario per column it
    /// lists, with that column's expectations, and nothing else but the
    /// param_test matrix is added.
    #[test]
    fn rseq_table_expands_per_mode() {
        let matrix = rseq_matrix();
        for c in RSEQ_CASES {
            assert!(c.v1.is_some() || c.v2.is_some(), "{}: no mode", c.name);
            let columns = [c.v1, c.v2, c.linux[0], c.linux[1]];
            for (column, expect) in RSEQ_COLUMNS.iter().zip(columns) {
                let name = format!("{}-{}", column.prefix, c.name);
                let found = matrix.iter().find(|s| s.name == name);
                match (expect, found) {
                    (Some(e), Some(s)) => {
                        assert_eq!(s.app, column.app, "{name}");
                        let append = format!("{}{}", column.options, c.append);
                        assert_eq!((s.append, s.status), (&*append, e.status), "{name}");
                        assert_eq!(s.checks, [column.checks, e.checks].concat(), "{name}");
                    }
                    (None, None) => {}
                    _ => panic!("{name}: table and matrix disagree"),
                }
            }
        }
        let count = |f: fn(&RseqCase) -> bool| RSEQ_CASES.iter().filter(|c| f(c)).count();
        let (v1, v2) = (count(|c| c.v1.is_some()), count(|c| c.v2.is_some()));
        let linux = count(|c| c.linux[0].is_some()) + count(|c| c.linux[1].is_some());
        assert_eq!((v1, v2, linux), (16, 21, 37));
        let params = PARAM_TESTS.len() * PARAM_INJECT.len();
        let params_linux = PARAM_TESTS.len() * PARAM_INJECT_LINUX.len();
        assert_eq!(
            matrix.len(),
            v1 + v2 + linux + 2 * params + 2 * params_linux
        );
        let status = |name: &str| matrix.iter().find(|s| s.name == name).unwrap().status;
        assert_eq!(status("rseq-v1-tcmalloc"), 0);
        assert_eq!(status("rseq-v2-tcmalloc"), 128 + 11);
        // A linux image's 32-byte registration is v1, a 64-byte one v2.
        assert_eq!(status("rseq-linux-32-tcmalloc"), 0);
        assert_eq!(status("rseq-linux-64-tcmalloc"), 128 + 11);
        let s = matrix
            .iter()
            .find(|s| s.name == "rseq-linux-32-debug-syscall-in-cs")
            .unwrap();
        assert_eq!(
            s.append,
            "env=RT_RSEQ_LEN=32 rseq_debug=1 -- syscall-in-cs debug"
        );
        assert!(
            !matrix
                .iter()
                .any(|s| s.name == "rseq-linux-32-slice-expire")
        );
    }

    #[test]
    fn filter_selects_by_substring() {
        assert_eq!(select(None).len(), all().len());
        let hello: Vec<_> = select(Some("/hello-")).iter().map(|s| s.name).collect();
        assert_eq!(
            hello,
            [
                "hello-el1-gicv2",
                "hello-el2-gicv2",
                "hello-el1-gicv3",
                "hello-el2-gicv3"
            ]
        );
        assert_eq!(select(Some("virt/ticks")).len(), 2);
        assert_eq!(select(Some("rpi4/ticks")).len(), 1);
        assert!(select(Some("no-such-scenario")).is_empty());
    }
}
