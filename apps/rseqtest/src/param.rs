//! `param <test> [inject] [REPS]`: Linux's `param_test.c`, indexed by
//! `cpu_id`, with exact totals.
//!
//! Tests (worker threads, each for 500 ms, or REPS operations if given):
//! - `spinlock`: increments under the per-CPU spinlock;
//! - `increment`: per-CPU counter `addv`;
//! - `list`: pop a node from the CPU's list, push it back (100 per CPU);
//! - `buffer`: pop/push of words on per-CPU bounded stacks;
//! - `memcpy`: pop/push of two-word items copied inside the section;
//! - `membarrier`: workers increment "their CPU's node of the active list"
//!   (`offset_deref_addv` through a pointer to the active list) while a
//!   manager thread switches the active list and calls
//!   `membarrier(PRIVATE_EXPEDITED_RSEQ, FLAG_CPU, cpu)`, after which the
//!   old list's node of that CPU must not change any more (a section that
//!   read the old pointer is restarted by the IPI).
//!
//! Injections: `none`; `yield` (sched_yield every 8 operations, or between
//! every pop and push); `signal` (a thread sends SIGUSR1 to the workers
//! continuously; the handler only counts); `sleep` (a 1 ms sleep every 32
//! operations); `delay` (a delay loop inside every section, before its
//! commit). Prints `TEST param-<test>-<inject>`.

use core::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering};

use librseq::{
    Cpu, Index, MAX_CPUS, MemcpyItem, PerCpuBuffer, PerCpuCounter, PerCpuMemcpyBuffer,
    PerCpuSpinlock, ops,
};
use rt::sched::now_ns;
use rt::sys::{self, errno, membarrier_cmd as mb};
use rt::test::{MS, check, status};
use rt::{println, sched, signal, thread};

use crate::{Rng, SIGNALS, SignalInjector, install_signal_counter, nr_cpus};

const THREADS: usize = 8;
const MEMBARRIER_WORKERS: usize = 4;
const ITEMS_PER_CPU: usize = 100;
/// Worst case: every item on one CPU.
const BUF_CAP: usize = 512;
/// In-section delay of the `delay` injection (loop iterations).
const DELAY: u64 = 500;
const YIELD_EVERY: u64 = 8;
const SLEEP_EVERY: u64 = 32;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u32)]
enum Inject {
    None = 0,
    Yield = 1,
    Signal = 2,
    Sleep = 3,
    Delay = 4,
}

static INJECT: AtomicU32 = AtomicU32::new(0);
/// Operations per worker; 0: as many as fit before `DEADLINE`.
static REPS: AtomicU64 = AtomicU64::new(0);
static DEADLINE: AtomicU64 = AtomicU64::new(0);
/// Operations each worker did.
static DONE: [AtomicU64; THREADS] = [const { AtomicU64::new(0) }; THREADS];
/// The default time budget of a test's workers.
const BUDGET_NS: u64 = 500 * MS;

/// Worker `w`'s operation numbers: `REPS` of them, or until `DEADLINE`
/// (checked every 32 operations); the count ends up in `DONE[w]`.
struct Ops {
    w: usize,
    i: u64,
    reps: u64,
    deadline: u64,
}

fn ops(w: usize) -> Ops {
    DONE[w].store(0, Ordering::Relaxed);
    Ops {
        w,
        i: 0,
        reps: REPS.load(Ordering::Relaxed),
        deadline: DEADLINE.load(Ordering::Relaxed),
    }
}

impl Iterator for Ops {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        let more = if self.reps != 0 {
            self.i < self.reps
        } else {
            !(self.i.is_multiple_of(32) && now_ns() >= self.deadline)
        };
        if !more {
            DONE[self.w].store(self.i, Ordering::Relaxed);
            return None;
        }
        self.i += 1;
        Some(self.i - 1)
    }
}

/// The operations the first `n` workers did.
fn done(n: usize) -> i64 {
    DONE[..n]
        .iter()
        .map(|d| d.load(Ordering::Relaxed) as i64)
        .sum()
}

fn inject() -> Inject {
    match INJECT.load(Ordering::Relaxed) {
        1 => Inject::Yield,
        2 => Inject::Signal,
        3 => Inject::Sleep,
        4 => Inject::Delay,
        _ => Inject::None,
    }
}

/// param_test's `RSEQ_INJECT_C(9)` with a modulo: between operations.
fn between_ops(i: u64) {
    match inject() {
        Inject::Yield if i.is_multiple_of(YIELD_EVERY) => sched::yield_now(),
        Inject::Sleep if i.is_multiple_of(SLEEP_EVERY) => {
            sched::sleep_ns(MS);
        }
        _ => {}
    }
}

/// param_test's `opt_yield` in the pop/push tests: between pop and push.
fn between_pop_push(i: u64) {
    match inject() {
        Inject::Yield => sched::yield_now(),
        Inject::Sleep if i.is_multiple_of(SLEEP_EVERY) => {
            sched::sleep_ns(MS);
        }
        _ => {}
    }
}

// --- the signal injector -------------------------------------------------

static SIGNALLER: SignalInjector<THREADS> = SignalInjector::new();

/// Sends SIGUSR1 to every live worker, round after round, until stopped.
fn signaller(_: usize) -> i32 {
    SIGNALLER.run(50_000);
    0
}

/// Spawns `n` workers running `f(i)` (plus the signaller for `signal`),
/// joins them; returns the sum of their return values or the spawn error.
fn run_workers(n: usize, f: fn(usize) -> i32) -> Result<i64, i64> {
    let mut handles = [const { None }; THREADS];
    let mut err = None;
    SIGNALLER.clear_workers();
    for (i, h) in handles.iter_mut().enumerate().take(n) {
        match thread::spawn(f, i) {
            Ok(j) => {
                SIGNALLER.set_worker(i, j.tid());
                *h = Some(j);
            }
            Err(e) => err = Some(e),
        }
    }
    SIGNALLER.arm();
    let sig = if inject() == Inject::Signal {
        thread::spawn(signaller, 0).ok()
    } else {
        None
    };
    let mut sum = 0i64;
    for (i, h) in handles.iter_mut().enumerate() {
        if let Some(j) = h.take() {
            sum += j.join() as i64;
            SIGNALLER.set_worker(i, 0);
        }
    }
    SIGNALLER.stop();
    if let Some(s) = sig {
        s.join();
    }
    match err {
        Some(e) => Err(e),
        None => Ok(sum),
    }
}

// --- spinlock, increment -------------------------------------------------

static LOCK: PerCpuSpinlock = PerCpuSpinlock::new();
static LOCKED: [AtomicI64; MAX_CPUS] = [const { AtomicI64::new(0) }; MAX_CPUS];
static COUNTER: PerCpuCounter = PerCpuCounter::new();

fn spinlock_worker(w: usize) -> i32 {
    for i in ops(w) {
        between_ops(i);
        let cpu = LOCK.lock(Index::CpuId);
        let c = &LOCKED[cpu as usize];
        c.store(c.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        LOCK.unlock(cpu);
    }
    0
}

fn increment_worker(w: usize) -> i32 {
    for i in ops(w) {
        between_ops(i);
        COUNTER.add(Index::CpuId, 1);
    }
    0
}

/// (got, want) for spinlock or increment.
fn counting(test: &str) -> (Result<i64, i64>, i64, i64) {
    if test == "spinlock" {
        for c in &LOCKED {
            c.store(0, Ordering::Relaxed);
        }
        let r = run_workers(THREADS, spinlock_worker);
        (
            r,
            LOCKED.iter().map(|c| c.load(Ordering::Relaxed)).sum(),
            done(THREADS),
        )
    } else {
        COUNTER.reset();
        let r = run_workers(THREADS, increment_worker);
        (r, COUNTER.sum(), done(THREADS))
    }
}

// --- list, buffer, memcpy ------------------------------------------------

static BUFFER: PerCpuBuffer<BUF_CAP> = PerCpuBuffer::new();
static MEMCPY: PerCpuMemcpyBuffer<BUF_CAP> = PerCpuMemcpyBuffer::new();
static LIST: librseq::PerCpuList = librseq::PerCpuList::new();

struct Nodes(core::cell::UnsafeCell<[librseq::ListNode; MAX_CPUS * ITEMS_PER_CPU]>);
// SAFETY: a node is touched only by whoever popped it, or by list
// operations while it is listed.
unsafe impl Sync for Nodes {}
static NODES: Nodes = Nodes(core::cell::UnsafeCell::new(
    [const { librseq::ListNode::new(0) }; MAX_CPUS * ITEMS_PER_CPU],
));

/// A pop/push worker: pops from the current CPU's structure and pushes
/// the item back (`push` false: the stack was full). Returns the number
/// of pops that found an empty stack, or -1000000 on a push that found its
/// stack full (cannot happen: the capacity holds all).
fn pop_push<T>(w: usize, pop: impl Fn() -> Option<T>, push: impl Fn(T) -> bool) -> i32 {
    let mut empty = 0;
    for i in ops(w) {
        let item = pop();
        between_pop_push(i);
        match item {
            Some(v) => {
                if !push(v) {
                    return -1_000_000;
                }
            }
            None => empty += 1,
        }
    }
    empty
}

fn list_worker(w: usize) -> i32 {
    pop_push(
        w,
        || LIST.pop(Index::CpuId).map(|(node, _)| node),
        |node| {
            // SAFETY: the node came off a list: ours until pushed.
            unsafe { LIST.push(node, Index::CpuId) };
            true
        },
    )
}

fn buffer_worker(w: usize) -> i32 {
    pop_push(
        w,
        || BUFFER.pop(Index::CpuId).map(|(v, _)| v),
        |v| BUFFER.push(v, Index::CpuId).is_some(),
    )
}

fn memcpy_worker(w: usize) -> i32 {
    pop_push(
        w,
        || MEMCPY.pop(Index::CpuId).map(|(v, _)| v),
        |v| MEMCPY.push(v, Index::CpuId).is_some(),
    )
}

/// (spawn result, (count, sum) found, (count, sum) wanted).
fn containers(test: &str) -> (Result<i64, i64>, (i64, i64), (i64, i64)) {
    let nr = nr_cpus();
    let (mut want_n, mut want_sum) = (0i64, 0i64);
    for cpu in 0..nr {
        for j in 1..=ITEMS_PER_CPU as i64 {
            want_n += 1;
            match test {
                "list" => {
                    let n = (NODES.0.get() as *mut librseq::ListNode)
                        .wrapping_add(cpu as usize * ITEMS_PER_CPU + j as usize - 1);
                    // SAFETY: setup, no other thread; in bounds; not listed.
                    unsafe {
                        (*n).data = j;
                        LIST.push_unsync(cpu, n);
                    }
                    want_sum += j;
                }
                "buffer" => {
                    BUFFER.push_unsync(cpu, j as u64);
                    want_sum += j;
                }
                _ => {
                    let item = MemcpyItem {
                        data1: j,
                        data2: j as u64 + 1,
                    };
                    // SAFETY: setup, no other thread.
                    unsafe { MEMCPY.push_unsync(cpu, item) };
                    want_sum += 2 * j + 1;
                }
            }
        }
    }
    let r = run_workers(
        THREADS,
        match test {
            "list" => list_worker,
            "buffer" => buffer_worker,
            _ => memcpy_worker,
        },
    );
    let (mut n, mut sum) = (0i64, 0i64);
    for cpu in 0..MAX_CPUS as u32 {
        loop {
            let v = match test {
                // SAFETY: all workers joined; listed nodes are valid.
                "list" => unsafe { LIST.pop_unsync(cpu) }.map(|p| unsafe { (*p).data }),
                "buffer" => BUFFER.pop_unsync(cpu).map(|v| v as i64),
                // SAFETY: all workers joined.
                _ => unsafe { MEMCPY.pop_unsync(cpu) }.map(|it| it.data1 + it.data2 as i64),
            };
            match v {
                Some(v) => {
                    n += 1;
                    sum += v;
                }
                None => break,
            }
        }
    }
    (r, (n, sum), (want_n, want_sum))
}

// --- membarrier ----------------------------------------------------------

/// One CPU's slot of a membarrier-test list (128 bytes apart, as Linux's
/// `struct percpu_list_entry`): a pointer to that CPU's node.
#[repr(C, align(128))]
struct Entry {
    head: AtomicI64,
}

struct MbList {
    c: [Entry; MAX_CPUS],
    nodes: [AtomicI64; MAX_CPUS],
}

impl MbList {
    const fn new() -> MbList {
        MbList {
            c: [const {
                Entry {
                    head: AtomicI64::new(0),
                }
            }; MAX_CPUS],
            nodes: [const { AtomicI64::new(0) }; MAX_CPUS],
        }
    }

    fn init(&self) {
        for (e, n) in self.c.iter().zip(&self.nodes) {
            n.store(0, Ordering::Relaxed);
            e.head.store(n.as_ptr() as i64, Ordering::Relaxed);
        }
    }

    fn data(&self, cpu: usize) -> i64 {
        self.nodes[cpu].load(Ordering::Acquire)
    }

    fn addr(&self) -> i64 {
        self as *const MbList as i64
    }
}

static LIST_A: MbList = MbList::new();
static LIST_B: MbList = MbList::new();
/// The active list: the address of `LIST_A` or `LIST_B` (0: not yet).
static ACTIVE: AtomicI64 = AtomicI64::new(0);
static MB_STOP: AtomicBool = AtomicBool::new(false);
static MB_ROUNDS: AtomicU64 = AtomicU64::new(0);

fn membarrier_worker(w: usize) -> i32 {
    while ACTIVE.load(Ordering::Acquire) == 0 {
        core::hint::spin_loop();
    }
    for i in ops(w) {
        between_ops(i);
        loop {
            let cpu = Cpu::current(Index::CpuId);
            let off = (cpu.id as usize * core::mem::size_of::<Entry>()) as i64;
            assert!((cpu.id as usize) < MAX_CPUS);
            // SAFETY: ACTIVE holds the address of a static MbList whose
            // entry `cpu` points at its node of `cpu`, which only sections
            // on `cpu` modify.
            if unsafe { ops::offset_deref_addv(ACTIVE.as_ptr(), off, 1, cpu) } == 0 {
                break;
            }
        }
    }
    0
}

/// Waits a little so a late write by a section that was not restarted
/// would show.
fn settle() {
    for _ in 0..2000 {
        core::hint::spin_loop();
    }
}

/// Returns the number of violations (or 1000 + errno on a failed call).
fn membarrier_manager(_: usize) -> i32 {
    let nr = nr_cpus() as u64;
    let mut rng = Rng::new(now_ns());
    // Half k of a round starts with list k active and ends with the other
    // one active; `cpu[k]` and `expect[k]` are the node of list k watched
    // while it is not.
    let lists = [&LIST_A, &LIST_B];
    let (mut cpu, mut expect) = ([0usize; 2], [0i64; 2]);
    let mut bad = 0;
    let fence = |cpu: usize| {
        let r = sys::membarrier(mb::PRIVATE_EXPEDITED_RSEQ, mb::FLAG_CPU, cpu as i32);
        if r == 0 || r == -errno::ENXIO { 0 } else { r }
    };
    ACTIVE.store(LIST_A.addr(), Ordering::Release);
    while !MB_STOP.load(Ordering::Acquire) {
        for (k, list) in lists.iter().enumerate() {
            let other = 1 - k;
            // List k is active; the other one must not change.
            cpu[k] = rng.below(nr) as usize;
            if expect[other] != lists[other].data(cpu[other]) {
                bad += 1;
            }
            ACTIVE.store(lists[other].addr(), Ordering::Release);
            let r = fence(cpu[k]);
            if r != 0 {
                return 1000 + (-r) as i32;
            }
            // That CPU now only modifies the other list: list k's node of
            // it is stable.
            expect[k] = list.data(cpu[k]);
            settle();
        }
        MB_ROUNDS.fetch_add(1, Ordering::Relaxed);
    }
    bad
}

/// (setup/spawn error, violations, total found, total wanted, rounds).
fn membarrier() -> (Result<(), i64>, i64, i64, i64, u64) {
    let reg = sys::membarrier(mb::REGISTER_PRIVATE_EXPEDITED_RSEQ, 0, 0);
    if reg != 0 {
        return (Err(reg), 0, 0, 0, 0);
    }
    LIST_A.init();
    LIST_B.init();
    ACTIVE.store(0, Ordering::Release);
    MB_STOP.store(false, Ordering::Release);
    MB_ROUNDS.store(0, Ordering::Relaxed);
    let manager = match thread::spawn(membarrier_manager, 0) {
        Ok(h) => h,
        Err(e) => return (Err(e), 0, 0, 0, 0),
    };
    let r = run_workers(MEMBARRIER_WORKERS, membarrier_worker);
    MB_STOP.store(true, Ordering::Release);
    let bad = manager.join() as i64;
    let total: i64 = (0..MAX_CPUS).map(|c| LIST_A.data(c) + LIST_B.data(c)).sum();
    let want = done(MEMBARRIER_WORKERS);
    (
        r.map(|_| ()),
        bad,
        total,
        want,
        MB_ROUNDS.load(Ordering::Relaxed),
    )
}

// --- driver --------------------------------------------------------------

pub fn run(test: &str, inject_arg: &str, reps: Option<u64>) -> i32 {
    let inject = match inject_arg {
        "" | "none" => Inject::None,
        "yield" => Inject::Yield,
        "signal" => Inject::Signal,
        "sleep" => Inject::Sleep,
        "delay" => Inject::Delay,
        other => {
            println!(
                "rseqtest: param: unknown injection `{other}` (none|yield|signal|sleep|delay)"
            );
            return 2;
        }
    };
    let inj_name = match inject {
        Inject::None => "none",
        Inject::Yield => "yield",
        Inject::Signal => "signal",
        Inject::Sleep => "sleep",
        Inject::Delay => "delay",
    };
    if !matches!(
        test,
        "spinlock" | "list" | "buffer" | "memcpy" | "increment" | "membarrier"
    ) {
        println!(
            "rseqtest: param: unknown test `{test}` (spinlock|list|buffer|memcpy|increment|membarrier)"
        );
        return 2;
    }
    let reps = reps.unwrap_or(0);
    let name_buf = NameBuf::new("param-", test, "-", inj_name);
    let name = name_buf.as_str();
    let workers = if test == "membarrier" {
        MEMBARRIER_WORKERS
    } else {
        THREADS
    };
    if reps == 0 {
        println!(
            "rseqtest: param: test {test}, injection {inj_name}, {workers} workers for {} ms each, indexed by cpu_id on {} CPUs",
            BUDGET_NS / MS,
            nr_cpus()
        );
    } else {
        println!(
            "rseqtest: param: test {test}, injection {inj_name}, {workers} workers x {reps} operations, indexed by cpu_id on {} CPUs",
            nr_cpus()
        );
    }
    INJECT.store(inject as u32, Ordering::Relaxed);
    REPS.store(reps, Ordering::Relaxed);
    librseq::set_inject_delay(if inject == Inject::Delay { DELAY } else { 0 });
    SIGNALS.store(0, Ordering::Relaxed);
    SIGNALLER.clear_sent();
    if inject == Inject::Signal && !install_signal_counter() {
        check(name, false, format_args!("sigaction(SIGUSR1) failed"));
        return 1;
    }
    let aborts = librseq::aborts();
    let k0 = sys::kstats().ok();
    let t0 = now_ns();
    DEADLINE.store(t0 + BUDGET_NS, Ordering::Relaxed);

    let ok = match test {
        "spinlock" | "increment" => {
            let (r, got, want) = counting(test);
            println!("rseqtest: {name}: total {got} (want {want}), workers {r:?}");
            check(
                name,
                r.is_ok() && got == want,
                format_args!("total {got}, want {want}, workers {r:?}"),
            )
        }
        "membarrier" => {
            let (r, bad, got, want, rounds) = membarrier();
            println!(
                "rseqtest: {name}: {rounds} manager rounds, {bad} violations, total {got} (want {want}), setup {r:?}"
            );
            check(
                name,
                r.is_ok() && bad == 0 && got == want && rounds > 0,
                format_args!(
                    "setup {r:?}, {bad} violations (1000+errno: membarrier failed), total {got} want {want}, {rounds} rounds"
                ),
            )
        }
        _ => {
            let (r, got, want) = containers(test);
            println!(
                "rseqtest: {name}: (items, sum) {got:?} (want {want:?}), workers {r:?} (sum of empty pops)"
            );
            check(
                name,
                matches!(r, Ok(x) if x >= 0) && got == want,
                format_args!("(items, sum) {got:?}, want {want:?}, workers {r:?}"),
            )
        }
    };

    let dt = now_ns() - t0;
    let k1 = sys::kstats().ok();
    println!(
        "rseqtest: {name}: {} ms, {} operations, {} librseq aborts, {} signals sent / {} handled",
        dt / MS,
        done(workers),
        librseq::aborts() - aborts,
        SIGNALLER.sent(),
        SIGNALS.load(Ordering::Relaxed)
    );
    if let (Some(a), Some(b)) = (k0, k1) {
        crate::print_rseq_stats(
            "kernel rseq counters during the test",
            &b.rseq_total().delta(&a.rseq_total()),
        );
    }
    if inject == Inject::Signal {
        let _ = signal::set_disposition(signal::SIGUSR1, signal::SIG_IGN);
    }
    librseq::set_inject_delay(0);
    status(ok)
}

/// A TEST name built without an allocator.
struct NameBuf {
    buf: [u8; 64],
    len: usize,
}

impl NameBuf {
    fn new(a: &str, b: &str, c: &str, d: &str) -> NameBuf {
        let mut n = NameBuf {
            buf: [0; 64],
            len: 0,
        };
        for s in [a, b, c, d] {
            for &byte in s.as_bytes() {
                if n.len < n.buf.len() {
                    n.buf[n.len] = byte;
                    n.len += 1;
                }
            }
        }
        n
    }

    fn as_str(&self) -> &str {
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("param")
    }
}
