//! What a fuzzing thread does: the syscall generators, the weighted step
//! picker and the thread's loop (its state is [`Worker`]).
//!
//! Every implemented syscall (README's table) has its own generator, which
//! draws hostile arguments from the pools in [`crate::mem`] but never
//! does what would legitimately end, hang or corrupt the fuzzer itself:
//! no exit/exit_group/rt_sigreturn; sleeps and futex waits always bounded
//! (a tiny timeout we build, a mismatching value, or an argument that must
//! fail); signals sent are only those the fuzzer handles; dispositions and
//! the mask of the signals it relies on never change; munmap only of the
//! thread's own random mappings (or arguments that must fail); clone only
//! with flags that must fail (the rare steps that make threads,
//! [`crate::clonetid`] and [`crate::exhaust`], know what they made); the
//! runtime's rseq registration is never unregistered; set_tid_address is
//! restored at once; the robust list and the alternate signal stack are
//! reset at once (`linuxops`). Random syscall
//! numbers outside that set get random arguments, minus a deny list of
//! Linux numbers that could block, end or reshape the process were they
//! implemented one day.

use core::sync::atomic::Ordering;

use rt::rseq::RSEQ_SIG;
use rt::signal::{self, KSigaction, sigmask};
use rt::sys::{self, Timespec, clone_flags as cf, errno, mman, nr, syscall6};
use rt::{println, sched, thread};

use crate::faults::{self, FAULT_SIGNALS, FaultCtx};
use crate::mem::{
    self, KERNEL_IMAGE, MMAP_BASE, MMAP_END, Mem, PAGE, Region, TRAMPOLINE, USER_BASE,
    USER_UNMAPPED, WINDOW, any_flags, any_len, is_ok, page_up,
};
use crate::rng::Rng;
use crate::stats::{self, anomaly};
use crate::worker::Worker;
use crate::{clonetid, exhaust, gate, linuxops, pause, races, rseqfuzz};

/// Signals whose disposition the fuzzer relies on: never changed.
const RELIED: u64 = sigmask(signal::SIGILL)
    | sigmask(signal::SIGTRAP)
    | sigmask(signal::SIGBUS)
    | sigmask(signal::SIGFPE)
    | sigmask(signal::SIGUSR1)
    | sigmask(signal::SIGSEGV)
    | sigmask(signal::SIGUSR2);

/// Fault signals: never blocked (a blocked fault signal is fatal).
const FAULT_MASK: u64 = {
    let mut m = 0;
    let mut i = 0;
    while i < FAULT_SIGNALS.len() {
        m |= sigmask(FAULT_SIGNALS[i]);
        i += 1;
    }
    m
};

type Op = fn(&mut Worker) -> i64;

/// The steps, their names and weights (out of ~100).
pub const OPS: &[(&str, u32, Op)] = &[
    ("write", 3, op_write),
    ("set_tid_address", 1, op_set_tid_address),
    ("futex", 5, op_futex),
    ("sleep", 2, op_sleep),
    ("clock_gettime", 3, op_clock_gettime),
    ("setaffinity", 3, op_setaffinity),
    ("getaffinity", 3, op_getaffinity),
    ("yield", 3, op_yield),
    ("kill", 2, op_kill),
    ("tgkill", 3, op_tgkill),
    ("sigaction", 4, op_sigaction),
    ("sigprocmask", 4, op_sigprocmask),
    ("getcpu", 3, op_getcpu),
    ("getpid", 2, op_getpid),
    ("gettid", 2, op_gettid),
    ("mmap", 4, op_mmap),
    ("munmap", 3, op_munmap),
    ("clone", 2, op_clone),
    ("membarrier", 4, op_membarrier),
    ("rseq", 3, op_rseq),
    ("prctl", 3, op_prctl),
    ("slice_yield", 2, op_slice_yield),
    ("kstats", 2, op_kstats),
    ("read", 1, linuxops::op_read),
    ("writev", 2, linuxops::op_writev),
    ("ioctl", 1, linuxops::op_ioctl),
    ("identity", 1, linuxops::op_identity),
    ("prlimit64", 1, linuxops::op_prlimit),
    ("getrandom", 1, linuxops::op_getrandom),
    ("clock_getres", 1, linuxops::op_clock_getres),
    ("sched_get", 1, linuxops::op_sched_get),
    ("robust_list", 1, linuxops::op_robust),
    ("sigaltstack", 1, linuxops::op_sigaltstack),
    ("stat", 1, linuxops::op_stat),
    ("mprotect", 2, linuxops::op_mprotect),
    ("ppoll", 1, linuxops::op_ppoll),
    ("unimplemented", 6, op_unimplemented),
    ("cs_forged", 6, rseqfuzz::cs_forged),
    ("cs_real", 4, rseqfuzz::cs_real),
    ("slice_cycle", 5, rseqfuzz::slice_cycle),
    ("fault", 5, op_fault),
];

/// Names of the rare steps, numbered after [`OPS`] in the progress slots.
pub const RARE: [&str; 7] = [
    "deadly",
    "spawn_mini",
    "spawn_raw",
    "page_race",
    "clone_bad_tid",
    "exhaust_threads",
    "exhaust_mmap",
];

/// The rare steps after `deadly`: their odds (once in N steps) and code.
/// A default 20,000-call run makes ~33 page races, ~65 clones with bad
/// tid pointers, up to 8 thread exhaustions and up to 4 mmap exhaustions
/// on virt, 1 on rpi4 (see [`exhaust`]'s budgets).
const RARE_STEPS: [(u64, Op); 6] = [
    (700, rseqfuzz::spawn_mini),
    (900, rseqfuzz::spawn_raw),
    (600, races::page_race),
    (300, clonetid::clone_bad_tid),
    (exhaust::THREADS_ODDS, exhaust::threads),
    (exhaust::MMAP_ODDS, exhaust::mmap),
];

/// The name of step kind `i` (an index into [`OPS`], then [`RARE`]).
pub fn op_name(i: usize) -> &'static str {
    match OPS.get(i) {
        Some(op) => op.0,
        None => RARE.get(i - OPS.len()).copied().unwrap_or("?"),
    }
}

impl Worker {
    /// One fuzz step; its result (>= 0 or -errno).
    fn step(&mut self) -> i64 {
        let progress = &crate::PROGRESS[self.idx];
        // One kind picked (`deadly_kind=K`, a test of that kind's report):
        // soon, so the scenario is short.
        let deadly_odds = if crate::config().deadly_kind.is_some() {
            100
        } else {
            5000
        };
        if self.deadly && self.rng.one_in(deadly_odds) {
            progress.op.store(OPS.len() as u64, Ordering::Relaxed);
            return rseqfuzz::deadly(self);
        }
        for (k, &(odds, op)) in RARE_STEPS.iter().enumerate() {
            if self.rng.one_in(odds) {
                progress
                    .op
                    .store((OPS.len() + 1 + k) as u64, Ordering::Relaxed);
                return op(self);
            }
        }
        let i = self.rng.weighted(OPS.iter().map(|&(_, w, _)| w));
        progress.op.store(i as u64, Ordering::Relaxed);
        (OPS[i].2)(self)
    }
}

/// Runs worker `idx` (a runtime thread): its share of the calls, then
/// checks that the kernel left its registration and IDs intact.
pub fn worker(idx: usize) -> i32 {
    let cfg = crate::config();
    let quota = cfg.quota(idx);
    let mem = match Mem::new() {
        Ok(m) => m,
        Err(e) => {
            println!("fuzz: thread {idx}: mmap of its scratch failed: {e}");
            pause::start(idx);
            pause::finish(idx);
            return 1;
        }
    };
    let mut w = Worker::new(idx, &cfg, mem);
    w.fault.install();
    let progress = &crate::PROGRESS[idx];
    progress
        .ctx
        .store(&w.fault as *const FaultCtx as u64, Ordering::SeqCst);
    let _ = sched::set_affinity(w.home);
    if w.rng.coin() {
        let _ = rt::rseq::slice_enable(true);
    }
    let mut mark = 1;
    pause::start(idx);
    for n in 1..=quota {
        pause::checkpoint(idx);
        progress.step.store(n, Ordering::Relaxed);
        let ret = w.step();
        stats::record(ret);
        if n % 64 == 0 {
            let _ = sched::set_affinity(w.home);
        }
        if mark <= 10 && n * 10 >= quota * mark {
            println!("fuzz: thread {idx} at {n} calls");
            while mark <= 10 && n * 10 >= quota * mark {
                mark += 1;
            }
        }
    }
    pause::finish(idx);
    rseqfuzz::set_rseq_cs(0);
    let _ = signal::sigprocmask(signal::SIG_SETMASK, Some(0));
    let _ = rt::rseq::slice_enable(false);
    let mut status = 0;
    let r = rt::rseq::register(rt::rseq::mode_len(), 0);
    let cpu_id = rt::rseq::cpu_id();
    if r != -errno::EBUSY || cpu_id >= w.nr_cpus {
        anomaly(format_args!(
            "thread {idx} after fuzzing: re-register {r} (want -EBUSY: still registered), cpu_id {cpu_id}"
        ));
        status = 1;
    }
    w.mem.release();
    progress.ctx.store(0, Ordering::SeqCst);
    FaultCtx::uninstall();
    crate::MADE.add(quota);
    status
}

fn console_bad_ptr(w: &mut Worker) -> u64 {
    // Never the straddle: its readable bytes would be printed.
    match w.rng.below(6) {
        0 => 0,
        1 => KERNEL_IMAGE,
        2 => mem::KERNEL_VA,
        3 => USER_UNMAPPED + w.rng.below(4096),
        4 => u64::MAX - w.rng.below(16),
        _ => USER_BASE + WINDOW - 1 - w.rng.below(16),
    }
}

fn op_write(w: &mut Worker) -> i64 {
    let fd = pick!(w.rng, [0, 1, 1, 2, 2, 3, 42, u64::MAX, (1 << 32) | 1, 0]);
    let fd = if fd == 0 && w.rng.coin() {
        w.rng.next_u64()
    } else {
        fd
    };
    if matches!(fd as u32, 1 | 2) {
        if fd == 1 && w.mem.straddle_end != 0 && w.rng.one_in(150) {
            return short_write(w);
        }
        let (ptr, len) = if w.rng.one_in(4) {
            (w.mem.any_ptr(&mut w.rng), 0)
        } else {
            (console_bad_ptr(w), any_len(&mut w.rng).max(17))
        };
        return sys::write_raw(fd, ptr, len);
    }
    let (ptr, len) = (w.mem.any_ptr(&mut w.rng), any_len(&mut w.rng));
    sys::write_raw(fd, ptr, len)
}

/// A write whose buffer runs into the hole after 300 bytes: one line is
/// printed, then the count is short.
fn short_write(w: &mut Worker) -> i64 {
    let start = w.mem.straddle_end - 300;
    let mut line = [b' '; 300];
    let msg = b"fuzz: short-write probe (a 600-byte write running into a hole after 300)";
    line[..msg.len()].copy_from_slice(msg);
    line[255] = b'\n';
    line[299] = b'\n';
    // SAFETY: the last 300 bytes of the thread's own straddle page.
    unsafe { core::ptr::copy_nonoverlapping(line.as_ptr(), start as *mut u8, 300) };
    let r = sys::write_raw(1, start, 600);
    if !(1..=300).contains(&r) {
        anomaly(format_args!(
            "write of 600 bytes with 300 readable returned {r}"
        ));
    }
    r
}

fn op_set_tid_address(w: &mut Worker) -> i64 {
    let p = if w.rng.coin() {
        w.mem.any_ptr(&mut w.rng)
    } else {
        w.mem.bad_ptr(&mut w.rng, 4)
    };
    let r = sys::set_tid_address(p as *mut u32);
    // Back to the runtime's word (the thread block's first word), which
    // `join` waits on.
    sys::set_tid_address(thread::tpidr() as *mut u32);
    if r != w.tid {
        anomaly(format_args!("set_tid_address returned {r}, want {}", w.tid));
    }
    r
}

/// A tiny relative time, or an invalid one.
fn tiny_ts(rng: &mut Rng) -> Timespec {
    match rng.below(8) {
        0 => Timespec {
            tv_sec: 0,
            tv_nsec: -1,
        },
        1 => Timespec {
            tv_sec: 0,
            tv_nsec: 1_000_000_000,
        },
        2 => Timespec {
            tv_sec: -1,
            tv_nsec: 0,
        },
        _ => Timespec::from_nanos(pick!(
            rng,
            [0, 1, 1000, 50_000, 200_000, rng.below(1_000_000)]
        )),
    }
}

fn op_futex(w: &mut Worker) -> i64 {
    let r = &mut w.rng;
    let cmd = pick!(
        r,
        [
            0,
            0,
            0,
            1,
            1,
            1,
            2,
            3,
            4,
            5,
            6,
            7,
            8,
            9,
            10,
            11,
            12,
            13,
            14,
            15,
            100,
            r.below(128),
        ]
    );
    let op = cmd | pick!(r, [0, 128, 128, 256, 384, 1 << 20]);
    let waits = matches!(op & !(128 | 256), 0 | 6 | 9 | 11 | 13);
    w.word.store(
        pick!(r, [0, 1, u32::MAX, r.next_u64() as u32]),
        Ordering::Relaxed,
    );
    let own = w.word.as_ptr() as u64;
    let mut uaddr = match r.below(7) {
        0..=2 => own,
        3 => own + r.range(1, 3),
        4 => w.mem.any_ptr(r),
        5 => w.mem.bad_ptr(r, 4),
        _ => mem::shared_addr() + 4 * r.below(256),
    };
    let mut val = pick!(r, [0, 1, u32::MAX as u64, r.next_u64()]);
    let timeout = if waits {
        match r.below(5) {
            0 | 1 => {
                w.ts = tiny_ts(r);
                &w.ts as *const Timespec as u64
            }
            // A timeout the kernel cannot read (EFAULT). Never NULL: that
            // means no timeout at all, and a wait on readable memory
            // holding `val` would then block for good (with SIGUSR1/2
            // blocked by a fuzzed mask, nothing wakes it: the stall the
            // soak found, seed=31 calls=50000 thread 2 step 5536).
            2 => match w.mem.bad_ptr(r, 16) {
                0 => 8,
                p => p,
            },
            _ => {
                // No timeout: only on our own word with a value it cannot
                // hold, so the wait returns EAGAIN at once.
                uaddr = own;
                val = u64::from(w.word.load(Ordering::Relaxed) ^ 1);
                0
            }
        }
    } else {
        w.mem.any_ptr(r)
    };
    let uaddr2 = w.mem.any_ptr(r);
    syscall6(nr::FUTEX, [uaddr, op, val, timeout, uaddr2, r.next_u64()])
}

fn op_sleep(w: &mut Worker) -> i64 {
    let r = &mut w.rng;
    w.ts = tiny_ts(r);
    let req = if r.one_in(5) {
        w.mem.bad_ptr(r, 16)
    } else {
        &w.ts as *const Timespec as u64
    };
    let rem = w.mem.any_ptr(r);
    if r.coin() {
        sys::syscall3(nr::NANOSLEEP, req, rem, 0)
    } else {
        // TIMER_ABSTIME (1) with a tiny time is in the past: no sleep.
        let clock = pick!(r, [1, 1, 1, 0, 2, 7, u64::MAX]);
        let flags = pick!(r, [0, 0, 1, 2, u64::MAX]);
        syscall6(nr::CLOCK_NANOSLEEP, [clock, flags, req, rem, 0, 0])
    }
}

fn op_clock_gettime(w: &mut Worker) -> i64 {
    let clock = pick!(
        w.rng,
        [1, 1, 1, 0, 2, 3, 4, 5, 6, 7, u64::MAX, w.rng.next_u64()]
    );
    let ts = w.mem.any_ptr(&mut w.rng);
    sys::clock_gettime_raw(clock, ts)
}

fn op_setaffinity(w: &mut Worker) -> i64 {
    let pid = w.some_tid();
    let r = &mut w.rng;
    let len = pick!(r, [8, 8, 8, 0, 1, 4, 16, 4096, u64::MAX]);
    w.mask = pick!(
        r,
        [
            1 << r.below(u64::from(w.nr_cpus)),
            (1 << w.nr_cpus) - 1,
            0,
            1 << 10,
            0b0101,
            u64::MAX,
            r.next_u64(),
        ]
    );
    let ptr = if r.one_in(4) {
        w.mem.any_ptr(r)
    } else {
        &w.mask as *const u64 as u64
    };
    sys::syscall3(nr::SCHED_SETAFFINITY, pid, len, ptr)
}

fn op_getaffinity(w: &mut Worker) -> i64 {
    let pid = w.some_tid();
    let len = pick!(w.rng, [8, 8, 16, 0, 4, 7, 9, 1024, u64::MAX]);
    let ptr = w.mem.any_ptr(&mut w.rng);
    sys::syscall3(nr::SCHED_GETAFFINITY, pid, len, ptr)
}

fn op_yield(w: &mut Worker) -> i64 {
    let junk = w.rng.next_u64();
    sys::syscall3(nr::SCHED_YIELD, junk, !junk, 0)
}

/// A signal the fuzzer handles, 0, or an invalid number.
fn handled_or_invalid_sig(r: &mut Rng) -> u64 {
    pick!(
        r,
        [
            0,
            10,
            12,
            10,
            12,
            65,
            100,
            0x7fff_ffff,
            u64::MAX,
            (1 << 32) | 10,
            (1 << 32) | 12,
        ]
    )
}

fn op_kill(w: &mut Worker) -> i64 {
    let r = &mut w.rng;
    let pid = pick!(
        r,
        [
            0,
            1,
            u64::MAX,
            2,
            (-2i64) as u64,
            100_000,
            (1 << 32) | 1,
            i32::MIN as i64 as u64,
            r.next_u64(),
        ]
    );
    let sig = handled_or_invalid_sig(r);
    sys::syscall3(nr::KILL, pid, sig, 0)
}

fn op_tgkill(w: &mut Worker) -> i64 {
    let tid = match w.rng.below(4) {
        0 => w.tid as u64,
        _ => w.some_tid(),
    };
    let r = &mut w.rng;
    let tgid = pick!(r, [1, 1, 1, 0, u64::MAX, 2, (1 << 32) | 1, r.next_u64()]);
    let sig = handled_or_invalid_sig(r);
    sys::syscall3(nr::TGKILL, tgid, tid, sig)
}

fn op_sigaction(w: &mut Worker) -> i64 {
    let r = &mut w.rng;
    let sig = match r.below(6) {
        0 | 1 => r.range(1, 64),
        2 => pick!(r, [4, 5, 7, 8, 10, 11, 12]),
        3 => pick!(r, [9, 19]),
        4 => pick!(r, [0, 65, 1000, u64::MAX, (1 << 32) | 11]),
        _ => r.range(32, 64),
    };
    // Linux takes an int: judge by the low 32 bits.
    let low = sig as u32;
    let relied = (1..=64).contains(&low) && RELIED & sigmask(low as i32) != 0;
    let act = if relied || r.one_in(4) {
        if r.coin() { 0 } else { w.mem.bad_ptr(r, 32) }
    } else if r.coin() {
        w.act = KSigaction {
            handler: pick!(
                r,
                [
                    signal::SIG_DFL,
                    signal::SIG_IGN,
                    mem::text_addr(),
                    r.next_u64(),
                ]
            ),
            flags: any_flags(r),
            restorer: pick!(r, [signal::restorer(), 0, r.next_u64()]),
            mask: r.next_u64(),
        };
        &w.act as *const KSigaction as u64
    } else {
        w.mem.any_ptr(r)
    };
    let oact = w.mem.any_ptr(r);
    let size = pick!(r, [8, 8, 8, 8, 0, 4, 16, u64::MAX]);
    syscall6(nr::RT_SIGACTION, [sig, act, oact, size, 0, 0])
}

fn op_sigprocmask(w: &mut Worker) -> i64 {
    let r = &mut w.rng;
    let usr = sigmask(signal::SIGUSR1) | sigmask(signal::SIGUSR2);
    w.set = pick!(
        r,
        [0, 0, usr, sigmask(signal::SIGUSR1), u64::MAX, r.next_u64()]
    ) & !FAULT_MASK;
    let how = pick!(r, [0, 1, 2, 0, 1, 2, 3, u64::MAX, 1 << 32]);
    let set = match r.below(5) {
        0 => 0,
        1 => w.mem.bad_ptr(r, 8),
        _ => &w.set as *const u64 as u64,
    };
    let oset = w.mem.any_ptr(r);
    let size = pick!(r, [8, 8, 8, 0, 4, 16]);
    let ret = syscall6(nr::RT_SIGPROCMASK, [how, set, oset, size, 0, 0]);
    if let Ok(mask) = signal::sigprocmask(signal::SIG_BLOCK, None) {
        crate::PROGRESS[w.idx].mask.store(mask, Ordering::Relaxed);
        if mask & FAULT_MASK != 0 {
            anomaly(format_args!("signal mask {mask:#x} blocks a fault signal"));
        }
    }
    ret
}

fn op_getcpu(w: &mut Worker) -> i64 {
    if w.rng.one_in(3) {
        return match sys::getcpu() {
            Ok((cpu, node)) => {
                if cpu >= w.nr_cpus || node != 0 {
                    anomaly(format_args!("getcpu = ({cpu}, {node})"));
                }
                0
            }
            Err(e) => {
                anomaly(format_args!("getcpu with valid pointers: {e}"));
                e
            }
        };
    }
    let (a, b) = (w.mem.any_ptr(&mut w.rng), w.mem.any_ptr(&mut w.rng));
    sys::syscall3(nr::GETCPU, a, b, w.rng.next_u64())
}

fn junk_args(r: &mut Rng) -> [u64; 6] {
    [(); 6].map(|_| r.next_u64())
}

fn op_getpid(w: &mut Worker) -> i64 {
    let r = syscall6(nr::GETPID, junk_args(&mut w.rng));
    if r != 1 {
        anomaly(format_args!("getpid = {r}"));
    }
    r
}

fn op_gettid(w: &mut Worker) -> i64 {
    let r = syscall6(nr::GETTID, junk_args(&mut w.rng));
    if r != w.tid {
        anomaly(format_args!("gettid = {r}, want {}", w.tid));
    }
    r
}

/// The size of the RAM-exhausting mmaps.
const HUGE_MMAP: u64 = 200 << 20;

fn op_mmap(w: &mut Worker) -> i64 {
    let r = &mut w.rng;
    let area_pages = (MMAP_END - MMAP_BASE) / PAGE;
    let addr = match r.below(7) {
        0..=2 => 0,
        3 => MMAP_BASE + r.below(area_pages) * PAGE,
        4 => match w.mem.some_region(r) {
            Some(i) => w.mem.regions[i].addr,
            None => w.mem.scratch,
        },
        5 => pick!(
            r,
            [
                USER_BASE,
                USER_UNMAPPED,
                MMAP_END,
                MMAP_END - PAGE,
                KERNEL_IMAGE,
                !(PAGE - 1),
                MMAP_BASE - PAGE,
                TRAMPOLINE,
            ]
        ),
        _ => MMAP_BASE + (r.below(1 << 20) | 1),
    };
    let len = match r.below(8) {
        0..=3 => PAGE * r.range(1, 4),
        4 => r.below(3 * PAGE),
        5 => pick!(
            r,
            [
                0,
                u64::MAX,
                u64::MAX - PAGE + 2,
                1 << 40,
                MMAP_END - MMAP_BASE + PAGE
            ]
        ),
        6 => PAGE * r.range(1, 64),
        // About all of virt's RAM: fails (cleanly) or succeeds depending
        // on what else is mapped. Not more: every freed frame costs the
        // kernel 8 bytes of free list on its heap, which must stay bounded.
        _ if r.one_in(40) => {
            stats::HUGE_MMAPS.inc();
            HUGE_MMAP
        }
        _ => PAGE,
    };
    let rw = mman::PROT_READ | mman::PROT_WRITE;
    let prot = pick!(
        r,
        [
            rw,
            rw,
            rw,
            mman::PROT_READ,
            mman::PROT_READ | mman::PROT_EXEC,
            mman::PROT_EXEC,
            mman::PROT_NONE,
            mman::PROT_WRITE | mman::PROT_EXEC,
            rw | mman::PROT_EXEC,
            8,
            u64::MAX,
            r.below(8),
        ]
    );
    let pa = mman::MAP_PRIVATE | mman::MAP_ANONYMOUS;
    let flags = pick!(
        r,
        [
            pa,
            pa,
            pa,
            pa,
            pa | mman::MAP_FIXED,
            pa | mman::MAP_FIXED,
            pa | 0x4000,
            pa | 0x10_0000,
            mman::MAP_SHARED | mman::MAP_ANONYMOUS,
            mman::MAP_PRIVATE,
            mman::MAP_ANONYMOUS,
            r.next_u64(),
        ]
    );
    let fd = pick!(
        r,
        [u64::MAX, u64::MAX, u64::MAX, u64::MAX, 0, 3, r.next_u64()]
    );
    let off = pick!(r, [0, 0, 0, 0, PAGE, r.next_u64()]);
    let ret = {
        let _g = gate::shared();
        syscall6(nr::MMAP, [addr, len, prot, flags, fd, off])
    };
    if !is_ok(ret) {
        return ret;
    }
    let a = ret as u64;
    let l = page_up(len);
    stats::MMAPS.inc();
    if !a.is_multiple_of(PAGE)
        || a < MMAP_BASE
        || a.saturating_add(l) > MMAP_END
        || (flags & mman::MAP_FIXED != 0 && a != addr)
        || w.mem.overlaps_own(a, l)
    {
        anomaly(format_args!(
            "mmap({addr:#x}, {len:#x}, {prot:#x}, {flags:#x}, {fd:#x}, {off:#x}) = {a:#x}: outside the area, misplaced or over the thread's own memory"
        ));
        return ret;
    }
    if prot & (mman::PROT_READ | mman::PROT_WRITE) != 0 {
        mem::check_fresh_pages(a, l);
    }
    if l >= HUGE_MMAP || !w.mem.add_region(Region { addr: a, len: l }) {
        sys::munmap(a, l);
    }
    ret
}

fn op_munmap(w: &mut Worker) -> i64 {
    let r = &mut w.rng;
    if r.below(3) != 0
        && let Some(i) = w.mem.some_region(r)
    {
        let reg = w.mem.regions[i];
        let pages = reg.len / PAGE;
        let k = r.range(1, pages);
        let (addr, len) = match r.below(3) {
            0 => (reg.addr, reg.len),
            1 => (reg.addr, k * PAGE),
            _ => (reg.addr + reg.len - k * PAGE, k * PAGE),
        };
        // An unaligned length is rounded up to pages.
        let len_arg = if r.one_in(4) {
            len - r.below(PAGE)
        } else {
            len
        };
        let ret = sys::munmap(addr, len_arg);
        if ret != 0 {
            anomaly(format_args!(
                "munmap({addr:#x}, {len_arg:#x}) of the thread's own mapping: {ret}"
            ));
            return ret;
        }
        stats::MUNMAPS.inc();
        let slot = &mut w.mem.regions[i];
        if len == reg.len {
            *slot = Region::default();
        } else if addr == reg.addr {
            slot.addr += len;
            slot.len -= len;
        } else {
            slot.len -= len;
        }
        return ret;
    }
    // Arguments that must fail, whatever is mapped.
    let (addr, len) = match r.below(9) {
        0 => (MMAP_BASE + (r.below(1 << 20) | 1), PAGE),
        1 => (MMAP_BASE + r.below(64) * PAGE, 0),
        2 => (USER_BASE, PAGE),
        3 => (KERNEL_IMAGE, PAGE),
        4 => (0, PAGE * r.range(1, 4)),
        5 => (MMAP_END, PAGE),
        6 => (MMAP_END - PAGE, 2 * PAGE),
        7 => (!(PAGE - 1), PAGE),
        _ => (
            w.mem.scratch,
            pick!(r, [u64::MAX, 1 << 40, MMAP_END - MMAP_BASE]),
        ),
    };
    let ret = sys::munmap(addr, len);
    if ret >= 0 {
        anomaly(format_args!("munmap({addr:#x}, {len:#x}) succeeded"));
    }
    ret
}

/// clone(2) with flags the kernel must refuse. Should it create a child
/// anyway, the child exits at once without touching memory.
fn clone_must_fail(flags: u64, newsp: u64, ptid: u64, tls: u64, ctid: u64) -> i64 {
    let ret: i64;
    // SAFETY: a child (x0 = 0 on its side) only runs `exit(0)`, on no
    // stack; the parent gets the result in x0.
    unsafe {
        core::arch::asm!(
            "svc #0",
            "cbnz x0, 2f",
            "mov x8, #{exit}",
            "svc #0",
            "2:",
            exit = const nr::EXIT,
            inlateout("x0") flags => ret,
            in("x1") newsp,
            in("x2") ptid,
            in("x3") tls,
            in("x4") ctid,
            inlateout("x8") nr::CLONE => _,
            options(nostack),
        )
    };
    ret
}

fn op_clone(w: &mut Worker) -> i64 {
    let r = &mut w.rng;
    let required = cf::CLONE_VM | cf::CLONE_SIGHAND | cf::CLONE_THREAD;
    let optional = cf::CLONE_FS
        | cf::CLONE_FILES
        | cf::CLONE_SYSVSEM
        | cf::CLONE_SETTLS
        | cf::CLONE_PARENT_SETTID
        | cf::CLONE_CHILD_CLEARTID
        | cf::CLONE_CHILD_SETTID;
    let base = pick!(
        r,
        [cf::THREAD_FLAGS, required, 0, 0x11, r.next_u64(), u64::MAX]
    );
    let mut flags = match r.below(5) {
        0 => base & !cf::CLONE_VM,
        1 => base & !cf::CLONE_THREAD,
        2 => base & !cf::CLONE_SIGHAND,
        3 => {
            base | pick!(
                r,
                [
                    17,
                    cf::CLONE_VFORK,
                    cf::CLONE_NEWNS,
                    cf::CLONE_PTRACE,
                    cf::CLONE_PARENT,
                    cf::CLONE_PIDFD,
                    cf::CLONE_UNTRACED,
                    cf::CLONE_DETACHED,
                    1 << 32,
                    1 << 63,
                ]
            )
        }
        _ => r.next_u64(),
    };
    if flags & required == required && flags & !(required | optional) == 0 {
        flags |= 17; // an exit signal: never a thread
    }
    let newsp = match r.below(3) {
        0 => 0,
        1 => w.mem.bad_ptr(r, 16),
        _ => (w.mem.scratch_ptr(r) + 512) & !15,
    };
    let (ptid, tls, ctid) = (w.mem.any_ptr(r), r.next_u64(), w.mem.any_ptr(r));
    let ret = clone_must_fail(flags, newsp, ptid, tls, ctid);
    if ret >= 0 {
        anomaly(format_args!("clone({flags:#x}) created thread {ret}"));
    }
    ret
}

fn op_membarrier(w: &mut Worker) -> i64 {
    let r = &mut w.rng;
    let cmd = pick!(
        r,
        [
            0,
            1 << 3,
            1 << 3,
            1 << 4,
            1 << 4,
            1 << 7,
            1 << 7,
            1 << 7,
            1 << 8,
            1 << 8,
            1,
            2,
            4,
            1 << 5,
            1 << 6,
            1 << 9,
            3,
            1 << 10,
            u64::MAX,
            r.next_u64(),
        ]
    );
    let flags = pick!(r, [0, 0, 0, 1, 1, 2, u64::MAX]);
    let cpu = pick!(
        r,
        [0, 1, 2, 3, 4, u64::MAX, 1000, u32::MAX as u64, r.next_u64()]
    );
    sys::syscall3(nr::MEMBARRIER, cmd, flags, cpu)
}

fn op_rseq(w: &mut Worker) -> i64 {
    let r = &mut w.rng;
    let ptr = match r.below(8) {
        0..=2 => w.area,
        3 => w.area + pick!(r, [1, 8, 32, 64]),
        4 => w.mem.scratch,
        5 => w.mem.any_ptr(r),
        6 => w.mem.bad_ptr(r, 64),
        _ => 0,
    };
    let len = pick!(r, [64, 64, 32, 33, 0, 31, 128, 65, u32::MAX, 1 << 31]);
    let flags = pick!(r, [0, 0, 1, 1, 2, 3, 4, u32::MAX]);
    let mut sig = pick!(
        r,
        [RSEQ_SIG, RSEQ_SIG, RSEQ_SIG ^ 1, 0, r.next_u64() as u32]
    );
    if flags & 1 != 0 && ptr == w.area && sig == RSEQ_SIG {
        sig ^= 0x100; // never unregister the runtime's registration
    }
    let hi = |r: &mut Rng| if r.one_in(4) { r.next_u64() << 32 } else { 0 };
    let args = [
        ptr,
        u64::from(len) | hi(r),
        u64::from(flags) | hi(r),
        u64::from(sig) | hi(r),
        0,
        0,
    ];
    let ret = syscall6(nr::RSEQ, args);
    if ret == 0 {
        anomaly(format_args!(
            "rseq({ptr:#x}, {len}, {flags:#x}, {sig:#x}) succeeded on a registered thread"
        ));
    }
    ret
}

fn op_prctl(w: &mut Worker) -> i64 {
    let r = &mut w.rng;
    let option = pick!(
        r,
        [
            79,
            79,
            79,
            79,
            79,
            0,
            1000,
            0x7fff_ffff,
            u64::MAX,
            (1 << 32) | 79,
            r.range(100, 1 << 20),
        ]
    );
    let a2 = pick!(r, [1, 2, 2, 0, 3, u64::MAX, r.next_u64()]);
    let a3 = pick!(r, [0, 1, 1, 2, 3, u64::MAX]);
    let a4 = pick!(r, [0, 0, 0, 0, 1, r.next_u64()]);
    let a5 = pick!(r, [0, 0, 0, 0, 1]);
    syscall6(nr::PRCTL, [option, a2, a3, a4, a5, 0])
}

fn op_slice_yield(w: &mut Worker) -> i64 {
    let r = syscall6(nr::RSEQ_SLICE_YIELD, junk_args(&mut w.rng));
    if !(0..=1).contains(&r) {
        anomaly(format_args!("rseq_slice_yield = {r}"));
    }
    r
}

fn op_kstats(w: &mut Worker) -> i64 {
    let size = core::mem::size_of::<sys::KStats>() as u64;
    let buf = w.mem.any_ptr(&mut w.rng);
    let len = pick!(
        w.rng,
        [
            size,
            size,
            0,
            16,
            4096,
            u64::MAX,
            size - 1,
            w.rng.below(2048),
        ]
    );
    sys::syscall3(nr::KSTATS, buf, len, 0)
}

/// Linux numbers never tried at random: they could block, end the thread
/// or process, change signals, memory or descriptors, were they
/// implemented one day (and the implemented ones, which have generators).
const DENY: &[(u64, u64)] = &[
    (nr::IO_SETUP, nr::IO_GETEVENTS),
    (nr::EPOLL_CREATE1, nr::FCNTL),
    (nr::IOCTL, nr::IOCTL),
    (nr::OPENAT, nr::CLOSE),
    (nr::PIPE2, nr::PIPE2),
    (nr::READ, nr::VMSPLICE),
    (nr::READLINKAT, nr::FSTAT),
    (nr::EXIT, nr::SETITIMER),
    (nr::TIMER_CREATE, nr::RT_SIGRETURN),
    (nr::REBOOT, nr::REBOOT),
    (nr::SETRLIMIT, nr::SETRLIMIT),
    (nr::PRCTL, nr::GETCPU),
    (nr::UNAME, nr::UNAME),
    (nr::GETPID, nr::GETEGID),
    (nr::GETTID, nr::GETTID),
    (nr::MSGGET, nr::MREMAP),
    (nr::CLONE, nr::MMAP),
    (nr::MPROTECT, nr::MBIND),
    (nr::RT_TGSIGQUEUEINFO, nr::RECVMMSG),
    (nr::WAIT4, nr::PRLIMIT64),
    (nr::SECCOMP, nr::SECCOMP),
    (nr::EXECVEAT, nr::MEMBARRIER),
    (nr::IO_PGETEVENTS, nr::RSEQ),
    (nr::PIDFD_SEND_SIGNAL, nr::IO_URING_REGISTER),
    (nr::PIDFD_OPEN, nr::CLOSE_RANGE),
    (nr::EPOLL_PWAIT2, nr::EPOLL_PWAIT2),
    (nr::FUTEX_WAITV, nr::FUTEX_WAITV),
    (nr::FUTEX_WAKE, nr::STATMOUNT),
    (nr::MSEAL, nr::MSEAL),
    (nr::GETRANDOM, nr::GETRANDOM),
    (nr::RSEQ_SLICE_YIELD, nr::RSEQ_SLICE_YIELD),
    (nr::KSTATS, nr::KSTATS),
];

fn op_unimplemented(w: &mut Worker) -> i64 {
    let r = &mut w.rng;
    let nr = loop {
        let n = if r.one_in(10) {
            pick!(
                r,
                [
                    (1 << 32) | nr::GETPID,
                    (1 << 32) | nr::SCHED_YIELD,
                    u64::MAX,
                    1 << 63,
                    0xffff_ffff,
                    1001,
                    1099,
                    4096,
                ]
            )
        } else {
            r.below(1100)
        };
        if !DENY.iter().any(|&(lo, hi)| (lo..=hi).contains(&n)) {
            break n;
        }
    };
    let mut args = [0; 6];
    for a in args.iter_mut() {
        *a = match r.below(3) {
            0 => w.mem.any_ptr(r),
            1 => any_len(r),
            _ => any_flags(r),
        };
    }
    let ret = syscall6(nr, args);
    stats::UNIMPL.inc();
    if ret != -errno::ENOSYS {
        stats::UNIMPL_NOT_ENOSYS.inc();
        anomaly(format_args!("syscall {nr} returned {ret}, not -ENOSYS"));
    }
    ret
}

fn op_fault(w: &mut Worker) -> i64 {
    let kind = w.rng.below(faults::KINDS);
    let (want, got) = faults::fault(&w.fault, kind, w.mem.scratch, w.mem.straddle_end, w.tid);
    if got != want {
        anomaly(format_args!(
            "deliberate fault {kind}: signal {got}, want {want}"
        ));
        return -1;
    }
    0
}
