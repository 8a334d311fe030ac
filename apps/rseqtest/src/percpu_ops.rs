//! `percpu-ops [N]`: Linux's `basic_percpu_ops_test.c`.
//!
//! - `percpu-spinlock`: 8 threads × N (default 100000) increments of a
//!   per-CPU counter, each under the per-CPU spinlock of the CPU the thread
//!   runs on (indexed by `cpu_id`); the total is exact.
//! - `percpu-list`: 100 nodes per CPU on per-CPU lists; 8 threads × N/20
//!   times pop a node from their CPU's list, `sched_yield`, push it on the
//!   (new) current CPU's list; every node is accounted for at the end.
//! - `percpu-spinlock-mmcid`: the spinlock test indexed by `mm_cid`.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use librseq::{Index, ListNode, MAX_CPUS, PerCpuList, PerCpuSpinlock};
use rt::test::{check, status};
use rt::{println, sched, thread};

use crate::nr_cpus;

const THREADS: usize = 8;
const NODES_PER_CPU: usize = 100;

static LOCK: PerCpuSpinlock = PerCpuSpinlock::new();
/// Counters protected by `LOCK` (plain load + store: the lock makes it
/// right, not the atomics).
static COUNT: [AtomicI64; MAX_CPUS] = [const { AtomicI64::new(0) }; MAX_CPUS];
static REPS: AtomicU64 = AtomicU64::new(0);
static INDEX_MMCID: AtomicU64 = AtomicU64::new(0);

static LIST: PerCpuList = PerCpuList::new();

/// The list nodes (no allocator): `NODES_PER_CPU` per possible CPU.
struct Nodes(UnsafeCell<[ListNode; MAX_CPUS * NODES_PER_CPU]>);

// SAFETY: a node is touched only by whoever popped it (or by the list
// operations while it is listed).
unsafe impl Sync for Nodes {}

static NODES: Nodes = Nodes(UnsafeCell::new(
    [const { ListNode::new(0) }; MAX_CPUS * NODES_PER_CPU],
));

fn node(i: usize) -> *mut ListNode {
    assert!(i < MAX_CPUS * NODES_PER_CPU);
    // SAFETY: in bounds of the static array.
    unsafe { (NODES.0.get() as *mut ListNode).add(i) }
}

fn index() -> Index {
    if INDEX_MMCID.load(Ordering::Relaxed) != 0 {
        Index::MmCid
    } else {
        Index::CpuId
    }
}

fn spinlock_thread(_: usize) -> i32 {
    let index = index();
    for _ in 0..REPS.load(Ordering::Relaxed) {
        let cpu = LOCK.lock(index);
        let c = &COUNT[cpu as usize];
        c.store(c.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        LOCK.unlock(cpu);
    }
    0
}

fn run_threads(f: fn(usize) -> i32) -> Result<(), i64> {
    let mut handles = [const { None }; THREADS];
    let mut err = Ok(());
    for (i, h) in handles.iter_mut().enumerate() {
        match thread::spawn(f, i) {
            Ok(j) => *h = Some(j),
            Err(e) => err = Err(e),
        }
    }
    for h in handles.iter_mut() {
        if let Some(j) = h.take() {
            j.join();
        }
    }
    err
}

/// The spinlock test with `index`; returns whether it passed.
pub fn spinlock(name: &str, index: Index, reps: u64) -> bool {
    for c in &COUNT {
        c.store(0, Ordering::Relaxed);
    }
    REPS.store(reps, Ordering::Relaxed);
    INDEX_MMCID.store((index == Index::MmCid) as u64, Ordering::Relaxed);
    let aborts = librseq::aborts();
    let spawned = run_threads(spinlock_thread);
    let sum: i64 = COUNT.iter().map(|c| c.load(Ordering::Relaxed)).sum();
    let want = (THREADS as u64 * reps) as i64;
    let per: [i64; MAX_CPUS] = core::array::from_fn(|i| COUNT[i].load(Ordering::Relaxed));
    println!(
        "rseqtest: {name}: {THREADS} threads x {reps} locked increments by {}: sum {sum} (want {want}), per slot {per:?}, {} aborts",
        index.name(),
        librseq::aborts() - aborts
    );
    check(
        name,
        spawned.is_ok() && sum == want,
        format_args!("spawn {spawned:?}, sum {sum}, want {want}"),
    )
}

fn list_thread(_: usize) -> i32 {
    let mut missing = 0;
    for _ in 0..REPS.load(Ordering::Relaxed) {
        let n = LIST.pop(Index::CpuId);
        sched::yield_now(); // encourage shuffling
        match n {
            // SAFETY: the node came off the list: ours until pushed back.
            Some((node, _)) => unsafe {
                LIST.push(node, Index::CpuId);
            },
            None => missing += 1,
        }
    }
    missing
}

/// The list test; returns whether it passed.
pub fn list(name: &str, reps: u64) -> bool {
    let nr = nr_cpus();
    let mut expected = 0i64;
    let mut total = 0;
    for cpu in 0..nr {
        for j in 1..=NODES_PER_CPU {
            let n = node(cpu as usize * NODES_PER_CPU + j - 1);
            // SAFETY: setup: no other thread runs; the node is not listed.
            unsafe {
                (*n).data = j as i64;
                LIST.push_unsync(cpu, n);
            }
            expected += j as i64;
            total += 1;
        }
    }
    REPS.store(reps, Ordering::Relaxed);
    let aborts = librseq::aborts();
    let spawned = run_threads(list_thread);
    let (mut sum, mut count) = (0i64, 0usize);
    for cpu in 0..MAX_CPUS as u32 {
        // SAFETY: every thread has been joined; listed nodes are valid.
        while let Some(n) = unsafe { LIST.pop_unsync(cpu) } {
            // SAFETY: a listed node is valid.
            sum += unsafe { (*n).data };
            count += 1;
        }
    }
    println!(
        "rseqtest: {name}: {THREADS} threads x {reps} pop/yield/push on {nr} per-CPU lists: {count} nodes (want {total}), sum {sum} (want {expected}), {} aborts",
        librseq::aborts() - aborts
    );
    check(
        name,
        spawned.is_ok() && count == total && sum == expected,
        format_args!(
            "spawn {spawned:?}, {count} nodes (want {total}), sum {sum} (want {expected})"
        ),
    )
}

pub fn run(n: Option<u64>) -> i32 {
    let n = n.unwrap_or(100_000).max(1);
    println!(
        "rseqtest: percpu-ops: per-CPU spinlock ({THREADS} x {n}, by cpu_id), per-CPU list ({THREADS} x {} with sched_yield), spinlock by mm_cid",
        (n / 20).max(1)
    );
    let mut ok = spinlock("percpu-spinlock", Index::CpuId, n);
    ok &= list("percpu-list", (n / 20).max(1));
    ok &= spinlock("percpu-spinlock-mmcid", Index::MmCid, n);
    status(ok)
}
