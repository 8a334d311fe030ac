//! `tcmalloc [ITERS]`: a TCMalloc-style per-CPU object cache and the trick
//! that makes it depend on v1 (DESIGN §3).
//!
//! # Layout
//!
//! TCMalloc caches "the slab of my CPU" in a thread-local 64-bit word
//! placed 4 bytes before the rseq area (`TCMALLOC_RSEQ_SLABS_OFFSET = -4`),
//! so that on little-endian aarch64 its top half *is* `cpu_id_start`. We do
//! the same: the word at `area - 4` — its low half is the upper half of
//! the runtime's 8-byte app slot (`area - 8 .. area`), its top half is
//! `cpu_id_start`. A cached value is `slab address | 1 << 63`; a kernel
//! that rewrites `cpu_id_start` with a (small) CPU number clears bit 63 and
//! so invalidates the cache. v1 does that on every context switch, before
//! every signal handler and on every membarrier-RSEQ IPI; v2 only when the
//! IDs change.
//!
//! # The cache
//!
//! Per CPU a slab (a bounded stack of object pointers) in a region; a
//! central list holds the rest. The fast paths pop and push in one rseq
//! critical section *through the cached word*, with no CPU check (the
//! cached pointer is the CPU's identity, as in TCMalloc); an uncached word
//! sends them to the slow path, which caches `SLAB[cpu_id] | bit 63` with
//! `cmpeqv_storev` on `cpu_id` and re-checks the slab was not stopped. A
//! remote "resize" moves a CPU's slab to a new region: stop it, fence that
//! CPU with `membarrier(PRIVATE_EXPEDITED_RSEQ, FLAG_CPU)` (v1: every
//! thread's cache of it is now invalid), copy, publish. Every object handed
//! out is marked; handing out a marked one is a double allocation.
//!
//! # Scenario
//!
//! Phase 1 (both modes): the main thread, pinned to CPU 1, caches CPU 1's
//! slab and spins in EL0; a manager pinned to CPU 0 resizes CPU 1's slab
//! (with the fence) and hands out everything in the new region. The main
//! thread then allocates. v1: the IPI invalidated its cache, the slow path
//! finds the new (empty) slab, no double (`tcmalloc-v1-resize`). v2: the
//! cache is still valid, the pop comes from the old region and returns an
//! object the manager already handed out (`tcmalloc-v2-stale`: the break
//! is demonstrated).
//!
//! v1 then runs a stress (`tcmalloc-v1`, ITERS iterations per worker,
//! default 10000, or 700 ms): 4 workers allocate and free with
//! yields, migrations and SIGUSR1s (whose handler also allocates), while
//! the manager keeps resizing slabs; no object is ever handed out twice and
//! all are accounted for at the end. Exit 0.
//!
//! v2 phase 2: the main thread migrates to CPU 2; the kernel must update
//! the IDs, finds `cpu_id_start` overwritten by the cache word and kills
//! the app (exit 139, `what="rseq: read-only ...`).

use core::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, AtomicU64, AtomicUsize, Ordering};

use librseq::{Cpu, Index, MAX_CPUS};
use rt::sched::{all_cpus, cpu_bit, now_ns};
use rt::signal::{self, SigInfo};
use rt::sync::Mutex;
use rt::sys::{self, membarrier_cmd as mb};
use rt::test::{MS, SEC, check, spin_until, status};
use rt::{println, sched, thread};

use crate::{Rng, SignalInjector, is_v1, nr_cpus};

const NOBJ: usize = 256;
const SLAB_CAP: usize = 32;
const INITIAL_FILL: usize = 8;
const NR_REGIONS: usize = 32;
const CACHED: u64 = 1 << 63;
const WORKERS: usize = 4;

/// One slab region: `count` objects in `items[..count]`.
#[repr(C, align(64))]
struct Slab {
    count: AtomicU64,
    items: [AtomicU64; SLAB_CAP],
}

impl Slab {
    const fn new() -> Slab {
        Slab {
            count: AtomicU64::new(0),
            items: [const { AtomicU64::new(0) }; SLAB_CAP],
        }
    }

    fn addr(&self) -> u64 {
        self as *const Slab as u64
    }
}

static REGIONS: [Slab; NR_REGIONS] = [const { Slab::new() }; NR_REGIONS];
/// Region index of each CPU's current slab.
static SLAB: [AtomicUsize; MAX_CPUS] = [const { AtomicUsize::new(0) }; MAX_CPUS];
static STOPPED: [AtomicBool; MAX_CPUS] = [const { AtomicBool::new(false) }; MAX_CPUS];
/// Regions not in use (only the manager takes and returns them).
static FREE_REGIONS: Mutex<([usize; NR_REGIONS], usize)> = Mutex::new(([0; NR_REGIONS], 0));

/// The objects: their addresses are what the cache hands out.
static OBJS: [AtomicU64; NOBJ] = [const { AtomicU64::new(0) }; NOBJ];
/// 1 while an object is handed out.
static MARK: [AtomicU8; NOBJ] = [const { AtomicU8::new(0) }; NOBJ];
static DOUBLES: AtomicU64 = AtomicU64::new(0);
static FIRST_DOUBLE: AtomicI64 = AtomicI64::new(-1);
/// Frees of objects not handed out, or addresses that are no object.
static BAD_OBJECTS: AtomicU64 = AtomicU64::new(0);

struct Central {
    items: [u64; NOBJ],
    n: usize,
}

static CENTRAL: Mutex<Central> = Mutex::new(Central {
    items: [0; NOBJ],
    n: 0,
});

/// Objects a signal handler could not put back (no locks in handlers).
static STASH: [AtomicU64; 64] = [const { AtomicU64::new(0) }; 64];
static LOST: AtomicU64 = AtomicU64::new(0);

/// Slow-path cachings (cache misses).
static MISSES: AtomicU64 = AtomicU64::new(0);
static RESIZES: AtomicU64 = AtomicU64::new(0);
/// In-section delay of the fast paths.
static DELAY: AtomicU64 = AtomicU64::new(0);

static HANDLER_RUNS: AtomicU64 = AtomicU64::new(0);
/// Handler entries that found a *valid* cache word (v1: must stay 0, the
/// kernel rewrote cpu_id_start before the handler).
static HANDLER_SAW_VALID: AtomicU64 = AtomicU64::new(0);

// --- the cache word --------------------------------------------------------

/// The TCMalloc word: 8 bytes at `area - 4` (top half = `cpu_id_start`).
fn word_ptr() -> *mut u64 {
    (rt::rseq::area() as *mut u8).wrapping_sub(4) as *mut u64
}

fn load_word() -> u64 {
    let v: u64;
    // SAFETY: `area - 4 .. area + 4` lies in the thread's RseqTcb (slot and
    // cpu_id_start); a plain 8-byte load at a 4-aligned address (EL0
    // alignment checking is off; only this thread and the kernel on its
    // behalf write these bytes).
    unsafe {
        core::arch::asm!("ldr {v}, [{p}]", v = out(reg) v, p = in(reg) word_ptr(), options(nostack, readonly, preserves_flags))
    };
    v
}

fn store_word(v: u64) {
    // SAFETY: as in `load_word`, a store to the thread's own slot and
    // cpu_id_start (exactly what TCMalloc does).
    unsafe {
        core::arch::asm!("str {v}, [{p}]", v = in(reg) v, p = in(reg) word_ptr(), options(nostack, preserves_flags))
    };
}

/// The fast pops and pushes report these (besides 0 = done, -1 = aborted).
const UNCACHED: i32 = 1;
const EMPTY_OR_FULL: i32 = 2;

/// One fast-path section through the cached word (TCMalloc's
/// `TcmallocSlab_Internal_Pop/Push`): load the word at `area - 4`; if bit
/// 63 is clear, leave with `UNCACHED`; else `{word}` is the slab and
/// `{cnt}` its count, `body` (which jumps to `97f` for `EMPTY_OR_FULL`)
/// does the work and computes the new count, and after the injected delay
/// the count store commits. 0 committed, -1 aborted. The caller supplies
/// `ret`, `tmp`, `word`, `cnt`, `area`, `delay` and its own operands.
macro_rules! slab_cs {
    ([$($body:expr),* $(,)?], $($operands:tt)*) => {
        librseq::rseq_cs_asm!(
            body: [
                "ldur {word}, [{area}, #-4]",
                "tbz {word}, #63, 93f",
                "and {word}, {word}, #0xffffffffffff",
                "ldr {cnt}, [{word}]",
                $($body,)*
                librseq::delay_loop_asm!(),
                "str {cnt}, [{word}]",
            ],
            commit: ["mov {ret:w}, #0", "b 99f"],
            abort: [
                "mov {ret:w}, #-1",
                "b 99f",
                "93:",
                "mov {ret:w}, #{uncached}",
                "b 99f",
                "97:",
                "mov {ret:w}, #{empty_or_full}",
                "99:",
            ],
            uncached = const UNCACHED,
            empty_or_full = const EMPTY_OR_FULL,
            $($operands)*
        )
    };
}

/// Pops an object from the slab the cached word points at, in one
/// critical section: `(0, obj)`, `(UNCACHED, _)`, `(EMPTY_OR_FULL, _)` or
/// `(-1, _)` (aborted).
fn fast_pop() -> (i32, u64) {
    let area = rt::rseq::area() as u64;
    let delay = DELAY.load(Ordering::Relaxed);
    let (ret, obj): (i32, u64);
    // SAFETY: reads the thread's own rseq area and cache word, and the
    // slab the word points at (a static region, or garbage never
    // dereferenced when bit 63 is clear); writes rseq_cs and the slab count.
    unsafe {
        slab_cs!(
            [
                "cbz {cnt}, 97f",
                "sub {cnt}, {cnt}, #1",
                "add {tmp}, {word}, #8",
                "ldr {obj}, [{tmp}, {cnt}, lsl #3]",
            ],
            ret = out(reg) ret,
            obj = out(reg) obj,
            tmp = out(reg) _,
            word = out(reg) _,
            cnt = out(reg) _,
            area = in(reg) area,
            delay = inout(reg) delay => _,
            options(nostack),
        );
    }
    (ret, obj)
}

/// Pushes `obj` on the slab the cached word points at: 0, `UNCACHED`,
/// `EMPTY_OR_FULL` (full) or -1 (aborted).
fn fast_push(obj: u64) -> i32 {
    let area = rt::rseq::area() as u64;
    let delay = DELAY.load(Ordering::Relaxed);
    let ret: i32;
    // SAFETY: as in `fast_pop`; the item store is speculative (beyond the
    // count until the commit).
    unsafe {
        slab_cs!(
            [
                "cmp {cnt}, #{cap}",
                "b.hs 97f",
                "add {tmp}, {word}, #8",
                "str {obj}, [{tmp}, {cnt}, lsl #3]",
                "add {cnt}, {cnt}, #1",
            ],
            cap = const SLAB_CAP,
            ret = out(reg) ret,
            tmp = out(reg) _,
            word = out(reg) _,
            cnt = out(reg) _,
            area = in(reg) area,
            obj = in(reg) obj,
            delay = inout(reg) delay => _,
            options(nostack),
        );
    }
    ret
}

/// Clears bit 63 of the cache word (TCMalloc's UncacheCpuSlab).
fn uncache() {
    store_word(load_word() & !CACHED);
}

/// The slow path: caches `SLAB[cpu_id] | bit 63` in the word, with an rseq
/// compare-and-store on `cpu_id`, then re-checks that the slab was not
/// stopped or replaced meanwhile. False if the CPU's slab is stopped.
fn cache_slab() -> bool {
    loop {
        let old = load_word();
        if old & CACHED != 0 {
            return true;
        }
        let cpu = rt::rseq::cpu_id();
        if cpu as usize >= MAX_CPUS {
            panic!("tcmalloc: cpu_id {} (not registered?)", cpu as i32);
        }
        if STOPPED[cpu as usize].load(Ordering::SeqCst) {
            return false;
        }
        let region = SLAB[cpu as usize].load(Ordering::SeqCst);
        let new = REGIONS[region].addr() | CACHED;
        let target = Cpu::new(Index::CpuId, cpu).with_delay(0);
        // SAFETY: the word is this thread's own (see `load_word`); only this
        // thread and the kernel touch it.
        let r = unsafe {
            librseq::cmpeqv_storev(word_ptr() as *mut i64, old as i64, new as i64, target)
        };
        if r != 0 {
            continue;
        }
        core::sync::atomic::fence(Ordering::SeqCst);
        if STOPPED[cpu as usize].load(Ordering::SeqCst)
            || SLAB[cpu as usize].load(Ordering::SeqCst) != region
        {
            uncache();
            return false;
        }
        MISSES.fetch_add(1, Ordering::Relaxed);
        return true;
    }
}

fn obj_index(obj: u64) -> Option<usize> {
    let base = OBJS.as_ptr() as u64;
    let off = obj.wrapping_sub(base);
    if off.is_multiple_of(8) && ((off / 8) as usize) < NOBJ {
        Some((off / 8) as usize)
    } else {
        None
    }
}

/// Marks `obj` handed out; counts a double hand-out. Returns false on a
/// double or a bogus address.
fn hand_out(obj: u64) -> bool {
    match obj_index(obj) {
        Some(i) => {
            if MARK[i].swap(1, Ordering::SeqCst) != 0 {
                if DOUBLES.fetch_add(1, Ordering::SeqCst) == 0 {
                    FIRST_DOUBLE.store(i as i64, Ordering::SeqCst);
                }
                return false;
            }
            true
        }
        None => {
            BAD_OBJECTS.fetch_add(1, Ordering::SeqCst);
            false
        }
    }
}

fn take_back(obj: u64) {
    match obj_index(obj) {
        Some(i) if MARK[i].swap(0, Ordering::SeqCst) == 1 => {}
        _ => {
            BAD_OBJECTS.fetch_add(1, Ordering::SeqCst);
        }
    }
}

fn central_pop() -> Option<u64> {
    let mut c = CENTRAL.lock();
    if c.n == 0 {
        return None;
    }
    c.n -= 1;
    Some(c.items[c.n])
}

fn central_push(obj: u64) {
    let mut c = CENTRAL.lock();
    let n = c.n;
    if n < NOBJ {
        c.items[n] = obj;
        c.n += 1;
    } else {
        LOST.fetch_add(1, Ordering::SeqCst);
    }
}

/// malloc: the per-CPU cache, else the central list. None when everything
/// is handed out.
fn alloc() -> Option<u64> {
    loop {
        match fast_pop() {
            (0, obj) => {
                hand_out(obj);
                return Some(obj);
            }
            // Not cached and the slab is stopped: the central list.
            (UNCACHED, _) if !cache_slab() => {
                let obj = central_pop()?;
                hand_out(obj);
                return Some(obj);
            }
            (EMPTY_OR_FULL, _) => {
                let obj = central_pop()?;
                hand_out(obj);
                return Some(obj);
            }
            _ => {}
        }
    }
}

/// free: the per-CPU cache, else the central list.
fn free(obj: u64) {
    take_back(obj);
    loop {
        match fast_push(obj) {
            0 => return,
            UNCACHED if !cache_slab() => {
                central_push(obj);
                return;
            }
            EMPTY_OR_FULL => {
                central_push(obj);
                return;
            }
            _ => {}
        }
    }
}

/// The signal handler's malloc + free: lock-free (fast paths and caching
/// only; an object that does not fit back goes to the stash).
extern "C" fn on_usr1(_sig: i32, _info: *mut SigInfo, _uc: *mut core::ffi::c_void) {
    if !rt::rseq::registered() {
        return;
    }
    HANDLER_RUNS.fetch_add(1, Ordering::Relaxed);
    if load_word() & CACHED != 0 {
        HANDLER_SAW_VALID.fetch_add(1, Ordering::Relaxed);
    }
    let mut obj = None;
    for _ in 0..100 {
        match fast_pop() {
            (0, o) => {
                hand_out(o);
                obj = Some(o);
                break;
            }
            (UNCACHED, _) if !cache_slab() => break,
            (EMPTY_OR_FULL, _) => break,
            _ => {}
        }
    }
    let Some(obj) = obj else { return };
    take_back(obj);
    for _ in 0..100 {
        match fast_push(obj) {
            0 => return,
            UNCACHED if cache_slab() => {}
            -1 => {}
            _ => break,
        }
    }
    for s in &STASH {
        if s.compare_exchange(0, obj, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            return;
        }
    }
    LOST.fetch_add(1, Ordering::SeqCst);
}

// --- setup, resize, accounting -----------------------------------------------

/// Every CPU's slab in region `cpu` with `INITIAL_FILL` objects, the rest
/// central; all other regions free; nothing handed out.
fn reset_pool(nr: usize) {
    for r in &REGIONS {
        r.count.store(0, Ordering::SeqCst);
    }
    let mut next = 0;
    for cpu in 0..MAX_CPUS {
        SLAB[cpu].store(cpu, Ordering::SeqCst);
        STOPPED[cpu].store(false, Ordering::SeqCst);
        if cpu < nr {
            for k in 0..INITIAL_FILL {
                REGIONS[cpu].items[k].store(OBJS[next].as_ptr() as u64, Ordering::SeqCst);
                next += 1;
            }
            REGIONS[cpu]
                .count
                .store(INITIAL_FILL as u64, Ordering::SeqCst);
        }
    }
    {
        let mut c = CENTRAL.lock();
        c.n = 0;
        for o in &OBJS[next..] {
            let n = c.n;
            c.items[n] = o.as_ptr() as u64;
            c.n += 1;
        }
    }
    {
        let mut f = FREE_REGIONS.lock();
        f.1 = 0;
        for r in MAX_CPUS..NR_REGIONS {
            let n = f.1;
            f.0[n] = r;
            f.1 += 1;
        }
    }
    for m in &MARK {
        m.store(0, Ordering::SeqCst);
    }
    for s in &STASH {
        s.store(0, Ordering::SeqCst);
    }
    for c in [&DOUBLES, &BAD_OBJECTS, &LOST, &MISSES, &RESIZES] {
        c.store(0, Ordering::SeqCst);
    }
    FIRST_DOUBLE.store(-1, Ordering::SeqCst);
}

/// Stops `cpu`'s slab and fences the CPU: in v1 no thread holds a valid
/// cache of it afterwards and no section on it is in flight.
fn stop_and_fence(cpu: usize) -> i64 {
    STOPPED[cpu].store(true, Ordering::SeqCst);
    core::sync::atomic::fence(Ordering::SeqCst);
    let r = sys::membarrier(mb::PRIVATE_EXPEDITED_RSEQ, mb::FLAG_CPU, cpu as i32);
    if r == -sys::errno::ENXIO { 0 } else { r }
}

/// Moves `cpu`'s slab to a free region (TCMalloc's ResizeSlabs for one
/// CPU). Leaves the slab stopped; returns the new region or None.
fn resize_stopped(cpu: usize) -> Result<usize, i64> {
    let new = {
        let mut f = FREE_REGIONS.lock();
        if f.1 == 0 {
            return Err(0);
        }
        f.1 -= 1;
        f.0[f.1]
    };
    let r = stop_and_fence(cpu);
    if r != 0 {
        return Err(r);
    }
    let old = SLAB[cpu].load(Ordering::SeqCst);
    let n = REGIONS[old].count.load(Ordering::SeqCst);
    for k in 0..n as usize {
        let v = REGIONS[old].items[k].load(Ordering::SeqCst);
        REGIONS[new].items[k].store(v, Ordering::SeqCst);
    }
    REGIONS[new].count.store(n, Ordering::SeqCst);
    SLAB[cpu].store(new, Ordering::SeqCst);
    {
        // The old region is retired (reusable: in v1 nothing can reach it).
        let mut f = FREE_REGIONS.lock();
        let k = f.1;
        f.0[k] = old;
        f.1 += 1;
    }
    RESIZES.fetch_add(1, Ordering::SeqCst);
    Ok(new)
}

/// Every object exactly once in a slab, the central list or the stash, and
/// nothing handed out: (objects found, duplicates, still marked).
fn account(nr: usize) -> (usize, usize, usize) {
    let mut seen = [0u8; NOBJ];
    let mut found = 0;
    let mut dup = 0;
    let mut note = |obj: u64| match obj_index(obj) {
        Some(i) => {
            found += 1;
            if seen[i] != 0 {
                dup += 1;
            }
            seen[i] = 1;
        }
        None => dup += 1,
    };
    for cpu in 0..nr {
        let r = &REGIONS[SLAB[cpu].load(Ordering::SeqCst)];
        for k in 0..r.count.load(Ordering::SeqCst) as usize {
            note(r.items[k].load(Ordering::SeqCst));
        }
    }
    {
        let c = CENTRAL.lock();
        for &o in &c.items[..c.n] {
            note(o);
        }
    }
    for s in &STASH {
        let o = s.load(Ordering::SeqCst);
        if o != 0 {
            note(o);
        }
    }
    let marked = MARK
        .iter()
        .filter(|m| m.load(Ordering::SeqCst) != 0)
        .count();
    (found, dup, marked)
}

// --- phase 1: the stale cache ---------------------------------------------------

static STEP: AtomicU64 = AtomicU64::new(0);
static MANAGER_ERR: AtomicI64 = AtomicI64::new(0);
static DRAINED: AtomicU64 = AtomicU64::new(0);

/// Pinned to CPU 0: waits for step 1, resizes CPU 1's slab (stop, fence,
/// copy), hands out everything in the new region ("other threads' mallocs")
/// and publishes step 2.
fn phase1_manager(target: usize) -> i32 {
    if sched::set_affinity(cpu_bit(0)).is_err() {
        MANAGER_ERR.store(-1, Ordering::SeqCst);
    }
    while STEP.load(Ordering::SeqCst) < 1 {
        sched::yield_now();
    }
    match resize_stopped(target) {
        Ok(new) => {
            let r = &REGIONS[new];
            let n = r.count.load(Ordering::SeqCst) as usize;
            for k in 0..n {
                hand_out(r.items[k].load(Ordering::SeqCst));
            }
            r.count.store(0, Ordering::SeqCst);
            DRAINED.store(n as u64, Ordering::SeqCst);
        }
        Err(e) => MANAGER_ERR.store(if e == 0 { -2 } else { e }, Ordering::SeqCst),
    }
    STOPPED[target].store(false, Ordering::SeqCst);
    STEP.store(2, Ordering::SeqCst);
    0
}

/// Returns (double observed, cache word valid after the fence, slow-path
/// cachings by the final alloc, manager error, objects drained, alloc ok).
fn phase1(nr: usize) -> (bool, bool, u64, i64, u64, bool) {
    let cpu = 1usize.min(nr - 1);
    reset_pool(nr);
    STEP.store(0, Ordering::SeqCst);
    MANAGER_ERR.store(0, Ordering::SeqCst);
    uncache();
    let _ = sched::set_affinity(cpu_bit(cpu as u32));
    let manager = thread::spawn(phase1_manager, cpu).ok();
    // Let the manager reach CPU 0 before we cache anything.
    sched::sleep_ns(10 * MS);
    // Cache CPU 1's slab: one malloc/free through the slow path.
    let warm = alloc();
    if let Some(o) = warm {
        free(o);
    }
    let cached = load_word();
    println!(
        "rseqtest: phase 1: main on CPU {} cached word {cached:#018x} (slab region {} at {:#x}); manager on CPU 0 resizes CPU {cpu}'s slab",
        rt::rseq::cpu_id(),
        SLAB[cpu].load(Ordering::SeqCst),
        REGIONS[SLAB[cpu].load(Ordering::SeqCst)].addr()
    );
    // Spin in EL0 (no syscalls, no switches) while the manager works.
    STEP.store(1, Ordering::SeqCst);
    spin_until(5 * SEC, || STEP.load(Ordering::SeqCst) >= 2);
    let word_after = load_word();
    let valid_after = word_after & CACHED != 0;
    let misses = MISSES.load(Ordering::SeqCst);
    let obj = alloc();
    let misses = MISSES.load(Ordering::SeqCst) - misses;
    let double = DOUBLES.load(Ordering::SeqCst) > 0;
    if let Some(m) = manager {
        m.join();
    }
    println!(
        "rseqtest: phase 1: after the resize and fence the word is {word_after:#018x} ({}); the manager handed out the {} objects of the new region; main's malloc returned {obj:#x?} after {misses} slow-path cachings: {}",
        if valid_after {
            "still cached"
        } else {
            "invalidated by the kernel"
        },
        DRAINED.load(Ordering::SeqCst),
        if double {
            "an object already handed out (double allocation)"
        } else {
            "a fresh object"
        }
    );
    (
        double,
        valid_after,
        misses,
        MANAGER_ERR.load(Ordering::SeqCst),
        DRAINED.load(Ordering::SeqCst),
        obj.is_some(),
    )
}

// --- v1 stress ------------------------------------------------------------------

static STOP: AtomicBool = AtomicBool::new(false);
static ITERS: AtomicU64 = AtomicU64::new(0);
/// The stress ends at ITERS iterations per worker or at this time.
static DEADLINE: AtomicU64 = AtomicU64::new(0);
const STRESS_BUDGET_NS: u64 = 700 * MS;
static ITERS_DONE: AtomicU64 = AtomicU64::new(0);
static SIGNALLER: SignalInjector<WORKERS> = SignalInjector::new();
static ALLOCS: AtomicU64 = AtomicU64::new(0);

fn worker(i: usize) -> i32 {
    let nr = nr_cpus();
    let mut rng = Rng::new(now_ns() ^ (i as u64) << 32);
    let mut held = [0u64; 4];
    let mut allocs = 0;
    let deadline = DEADLINE.load(Ordering::Relaxed);
    let mut done = 0;
    for it in 0..ITERS.load(Ordering::Relaxed) {
        if it.is_multiple_of(64) && now_ns() >= deadline {
            break;
        }
        done += 1;
        let k = 1 + rng.below(4) as usize;
        let mut n = 0;
        for h in held.iter_mut().take(k) {
            if let Some(o) = alloc() {
                *h = o;
                n += 1;
            }
        }
        allocs += n as u64;
        if rng.below(4) == 0 {
            sched::yield_now();
        }
        for &o in held.iter().take(n) {
            free(o);
        }
        if it % 64 == 63 {
            let _ = sched::set_affinity(cpu_bit(rng.below(nr as u64) as u32));
        } else if it % 64 == 31 {
            let _ = sched::set_affinity(all_cpus(nr));
        }
    }
    ALLOCS.fetch_add(allocs, Ordering::Relaxed);
    ITERS_DONE.fetch_add(done, Ordering::Relaxed);
    0
}

fn signaller(_: usize) -> i32 {
    SIGNALLER.run(300_000);
    0
}

/// Resizes a random CPU's slab every ~3 ms until stopped.
fn manager(_: usize) -> i32 {
    let nr = nr_cpus() as u64;
    let mut rng = Rng::new(now_ns());
    while !STOP.load(Ordering::Relaxed) {
        let cpu = rng.below(nr) as usize;
        if let Err(e) = resize_stopped(cpu)
            && e != 0
        {
            MANAGER_ERR.store(e, Ordering::SeqCst);
        }
        STOPPED[cpu].store(false, Ordering::SeqCst);
        sched::sleep_ns(3 * MS);
    }
    0
}

fn stress(nr: usize, iters: u64) -> bool {
    reset_pool(nr);
    uncache();
    let _ = sched::set_affinity(all_cpus(nr as u32));
    STOP.store(false, Ordering::SeqCst);
    SIGNALLER.arm();
    ITERS.store(iters, Ordering::SeqCst);
    MANAGER_ERR.store(0, Ordering::SeqCst);
    DELAY.store(50, Ordering::SeqCst);
    HANDLER_RUNS.store(0, Ordering::SeqCst);
    HANDLER_SAW_VALID.store(0, Ordering::SeqCst);
    if signal::sigaction(signal::SIGUSR1, on_usr1, signal::SA_RESTART).is_err() {
        return check("tcmalloc-v1", false, format_args!("sigaction failed"));
    }
    let t0 = now_ns();
    DEADLINE.store(t0 + STRESS_BUDGET_NS, Ordering::SeqCst);
    ITERS_DONE.store(0, Ordering::SeqCst);
    ALLOCS.store(0, Ordering::SeqCst);
    let mut ws = [const { None }; WORKERS];
    for (i, w) in ws.iter_mut().enumerate() {
        if let Ok(h) = thread::spawn(worker, i) {
            SIGNALLER.set_worker(i, h.tid());
            *w = Some(h);
        }
    }
    let sig = thread::spawn(signaller, 0).ok();
    let mgr = thread::spawn(manager, 0).ok();
    let started = ws.iter().filter(|w| w.is_some()).count();
    for (i, w) in ws.iter_mut().enumerate() {
        if let Some(h) = w.take() {
            h.join();
            SIGNALLER.set_worker(i, 0);
        }
    }
    STOP.store(true, Ordering::SeqCst);
    SIGNALLER.stop();
    if let Some(h) = sig {
        h.join();
    }
    if let Some(h) = mgr {
        h.join();
    }
    let _ = signal::set_disposition(signal::SIGUSR1, signal::SIG_IGN);
    DELAY.store(0, Ordering::SeqCst);
    let (found, dup, marked) = account(nr);
    let doubles = DOUBLES.load(Ordering::SeqCst);
    let bad = BAD_OBJECTS.load(Ordering::SeqCst);
    let lost = LOST.load(Ordering::SeqCst);
    let saw_valid = HANDLER_SAW_VALID.load(Ordering::SeqCst);
    println!(
        "rseqtest: stress: {started} workers, {} iterations (at most {iters} each, {} ms budget) in {} ms: {} mallocs, {} slow-path cachings, {} resizes (error {}), {} SIGUSR1 sent, {} handled ({} found a valid cache); {found}/{NOBJ} objects accounted, {dup} duplicates, {marked} still marked, {doubles} double hand-outs, {bad} bad frees, {lost} lost",
        ITERS_DONE.load(Ordering::Relaxed),
        STRESS_BUDGET_NS / MS,
        (now_ns() - t0) / MS,
        ALLOCS.load(Ordering::Relaxed),
        MISSES.load(Ordering::SeqCst),
        RESIZES.load(Ordering::SeqCst),
        MANAGER_ERR.load(Ordering::SeqCst),
        SIGNALLER.sent(),
        HANDLER_RUNS.load(Ordering::SeqCst),
        saw_valid,
    );
    check(
        "tcmalloc-v1",
        started == WORKERS
            && doubles == 0
            && bad == 0
            && lost == 0
            && found == NOBJ
            && dup == 0
            && marked == 0
            && saw_valid == 0
            && MANAGER_ERR.load(Ordering::SeqCst) == 0,
        format_args!(
            "{started} workers, {doubles} double hand-outs (first object {}), {bad} bad frees, {lost} lost, {found}/{NOBJ} accounted with {dup} duplicates, {marked} still marked, {saw_valid} handlers saw a valid cache, manager error {}",
            FIRST_DOUBLE.load(Ordering::SeqCst),
            MANAGER_ERR.load(Ordering::SeqCst)
        ),
    )
}

pub fn run(iters: Option<u64>) -> i32 {
    let nr = nr_cpus() as usize;
    let v1 = is_v1();
    println!(
        "rseqtest: tcmalloc ({}): per-CPU slabs cached TCMalloc-style in the 8-byte word at area-4 (top half = cpu_id_start, bit 63 = cached); {NOBJ} objects, {nr} CPUs",
        rt::rseq::mode_name()
    );
    if nr < 3 || !rt::rseq::registered() {
        check(
            "tcmalloc",
            false,
            format_args!(
                "needs >= 3 CPUs and rseq (cpus {nr}, registered {})",
                rt::rseq::registered()
            ),
        );
        return 1;
    }
    if sys::membarrier(mb::REGISTER_PRIVATE_EXPEDITED_RSEQ, 0, 0) != 0 {
        check(
            "tcmalloc",
            false,
            format_args!("membarrier register failed"),
        );
        return 1;
    }
    let (double, valid_after, misses, merr, drained, got) = phase1(nr);
    if v1 {
        let mut ok = check(
            "tcmalloc-v1-resize",
            !double && !valid_after && misses >= 1 && merr == 0 && drained > 0 && got,
            format_args!(
                "double {double}, cache still valid after the fence {valid_after}, {misses} slow-path cachings (want >= 1), manager error {merr}, drained {drained}, malloc ok {got}"
            ),
        );
        ok &= stress(nr, iters.unwrap_or(10_000).max(1));
        return status(ok);
    }
    let ok = check(
        "tcmalloc-v2-stale",
        double && valid_after && merr == 0,
        format_args!(
            "want a double hand-out through the stale cache: double {double}, cache valid after the fence {valid_after}, manager error {merr}"
        ),
    );
    if ok {
        println!(
            "rseqtest: v2: object {} handed out twice: the kernel did not rewrite cpu_id_start on the membarrier IPI, so the stale slab pointer was used",
            FIRST_DOUBLE.load(Ordering::SeqCst)
        );
    }
    // Phase 2: the cache word still sits on cpu_id_start; migrating makes
    // the kernel update the IDs, and it must find the field overwritten.
    if load_word() & CACHED == 0 {
        // Make sure cpu_id_start is forged even if phase 1 went wrong.
        store_word(load_word() | CACHED);
    }
    println!("rseqtest: migrating with a forged cpu_id_start");
    let r = sched::set_affinity(cpu_bit(2));
    sched::yield_now();
    check(
        "tcmalloc-v2-kill",
        false,
        format_args!(
            "still alive after migrating (set_affinity {r:?}, getcpu {}, cpu_id_start {:#x}): the kernel must kill the app",
            sched::getcpu(),
            rt::rseq::cpu_id_start()
        ),
    );
    1
}
