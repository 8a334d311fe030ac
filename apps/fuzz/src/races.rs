//! Page races: reader threads on other CPUs keep reading and writing a
//! region while its owner munmaps and re-mmaps parts of it.
//!
//! Every u64 of the region holds its own address XOR a tag, and the tag
//! names a generation: `tag(g) = base ^ g * MUL`. The owner (the worker
//! making the step, the "mapper") fills the region with generation 1;
//! each round it unmaps an inner range, sometimes maps a decoy that takes
//! the frames just freed, maps the range again at the same address
//! (`MAP_FIXED`) and fills it with the next generation. So whatever a
//! reader loads at address `a` must be 0 (a fresh page) or `a ^ tag(g)`
//! for a generation `g` already begun: a reader's late write may leave an
//! older generation behind, which is fine, but any other value is memory
//! the region does not own showing through — a physical address (the
//! kernel's free-frame link, if a frame is freed before the TLB flush),
//! another page's or the decoy's pattern (aliasing) — and is an anomaly.
//! The readers aim at the pages of the round under way, half the time at
//! their first word, and the mapper unmaps only once it has seen a reader
//! load (waiting up to 2 ms), so that the munmap meets a reader running
//! on another CPU; such munmaps are the "races tried" (`races=` in
//! `FUZZ-DONE`).
//!
//! A reader's load may fault only while the mapper is changing that page:
//! each page has a sequence number, odd while its round runs. Fresh pages
//! (the region, the decoys) must read all zero. The first and last page
//! are never unmapped, so a round's hole always lies between mapped pages
//! and a decoy (one page longer than the hole) cannot land in it; the
//! mapper holds the [`gate`] while the hole is open, so no other mmap of
//! the fuzzer's can either (the readers' late writes could corrupt it).

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering, fence};

use rt::sys::{self, errno, mman};
use rt::{sched, thread};

use crate::faults::{self, FaultCtx};
use crate::gate;
use crate::mem::PAGE;
use crate::rng::Rng;
use crate::stats::{self, anomaly};
use crate::worker::Worker;

/// Pages of a race region, at most; readers per race, at most.
const MAX_PAGES: usize = 40;
const MAX_READERS: usize = 3;
const WORDS: u64 = PAGE / 8;

/// Odd, so `g * MUL` is a bijection and [`MUL_INV`] undoes it.
const MUL: u64 = 0x9e37_79b9_7f4a_7c15;
const MUL_INV: u64 = {
    // Newton's iteration for the inverse mod 2^64: each step doubles the
    // correct low bits (MUL is its own inverse mod 8).
    let mut x = MUL;
    let mut i = 0;
    while i < 5 {
        x = x.wrapping_mul(2u64.wrapping_sub(MUL.wrapping_mul(x)));
        i += 1;
    }
    x
};
const _: () = assert!(MUL.wrapping_mul(MUL_INV) == 1);
/// Decoy generations start here: far above any real one.
const DECOY_GEN: u64 = 1 << 40;

/// One race, on the mapper's stack; the readers get a reference and are
/// joined before it goes.
struct Race {
    addr: u64,
    pages: u64,
    base: u64,
    seed: u64,
    /// The newest generation begun.
    generation: AtomicU64,
    /// Per page: odd while the mapper changes it (for ever if its
    /// re-mmap failed: the readers then stop writing it).
    seq: [AtomicU64; MAX_PAGES],
    /// The current decoy (0: none) and its length, for reports.
    decoy: AtomicU64,
    decoy_len: AtomicU64,
    stop: AtomicBool,
    /// The pages of the round under way, `i << 32 | j` for `[i, j)` (0:
    /// none): the readers aim at them.
    target: AtomicU64,
    /// Loads made, by all readers (the mapper sees them move).
    loads: AtomicU64,
    /// Readers in their loop, and where each is pinned.
    active: AtomicU32,
    next_reader: AtomicU32,
    cpus: [u64; MAX_READERS],
}

impl Race {
    fn tag(&self, g: u64) -> u64 {
        self.base ^ g.wrapping_mul(MUL)
    }

    fn pattern(&self, a: u64, g: u64) -> u64 {
        a ^ self.tag(g)
    }

    /// The generation `v` would be a pattern of, if it is one of `a`'s.
    fn gen_of(&self, a: u64, v: u64) -> u64 {
        (v ^ a ^ self.base).wrapping_mul(MUL_INV)
    }

    fn page_addr(&self, p: u64) -> u64 {
        self.addr + p * PAGE
    }

    /// Checks a value loaded at `a` (see the module docs).
    fn check(&self, a: u64, v: u64, who: &str) {
        if v == 0 {
            return;
        }
        let g = self.gen_of(a, v);
        if (1..=self.generation.load(Ordering::Acquire)).contains(&g) {
            return;
        }
        anomaly(format_args!(
            "page race ({who}): read {v:#x} at {a:#x} (region {:#x}, {} pages, generation {}): not 0 nor this page's pattern: {}",
            self.addr,
            self.pages,
            self.generation.load(Ordering::Relaxed),
            self.explain(a, v)
        ));
    }

    /// What a wrong value looks like.
    fn explain(&self, a: u64, v: u64) -> &'static str {
        let end = self.addr + self.pages * PAGE;
        let newest = self.generation.load(Ordering::Relaxed);
        let other = (1..=newest.min(4096)).any(|g| {
            let b = v ^ self.tag(g);
            b != a && (self.addr..end).contains(&b)
        });
        if other {
            return "another page's pattern (aliasing)";
        }
        let (d, dl) = (
            self.decoy.load(Ordering::Relaxed),
            self.decoy_len.load(Ordering::Relaxed),
        );
        let decoy = (DECOY_GEN..DECOY_GEN + 64).any(|g| (d..d + dl).contains(&(v ^ self.tag(g))));
        if d != 0 && decoy {
            return "the decoy mapping's pattern (a freed frame still reachable)";
        }
        if v < 1 << 40 && v.is_multiple_of(PAGE) {
            return "a page-aligned physical address (the kernel's free-frame link?)";
        }
        if v < 1 << 40 {
            return "a physical address?";
        }
        "not any pattern the fuzzer wrote"
    }
}

/// Fills `[addr, addr + len)` with `a ^ tag` in every u64.
///
/// # Safety
///
/// The range is mapped writable and nobody relies on its contents.
unsafe fn fill(addr: u64, len: u64, tag: u64) {
    for a in (addr..addr + len).step_by(8) {
        // SAFETY: the caller's contract.
        unsafe { (a as *mut u64).write_volatile(a ^ tag) };
    }
}

/// Checks that a fresh mapping only nobody else knows about reads zero.
fn check_fresh(addr: u64, len: u64, what: &str) {
    for a in (addr..addr + len).step_by(8) {
        // SAFETY: a mapping the caller just made.
        let v = unsafe { (a as *const u64).read_volatile() };
        if v != 0 {
            anomaly(format_args!(
                "fresh mmap ({what}) at {addr:#x} reads {v:#x} at {a:#x}"
            ));
            return;
        }
    }
}

/// A reader: loads (and now and then stores a valid pattern) across the
/// region until told to stop.
fn reader(arg: usize) -> i32 {
    // SAFETY: `page_race` passes its Race and joins this thread before
    // the Race goes away.
    let race = unsafe { &*(arg as *const Race) };
    let me = race.next_reader.fetch_add(1, Ordering::SeqCst) as usize;
    let _ = sched::set_affinity(1 << race.cpus[me]);
    let ctx = FaultCtx::new();
    ctx.install();
    let mut rng = Rng::new(race.seed, me as u64);
    race.active.fetch_add(1, Ordering::SeqCst);
    let mut n = 0u64;
    while !race.stop.load(Ordering::Relaxed) {
        let target = race.target.load(Ordering::Relaxed);
        let (i, j) = (target >> 32, target & 0xffff_ffff);
        let p = if target != 0 && !rng.one_in(4) {
            i + rng.below(j - i)
        } else if rng.one_in(4) {
            rng.below(race.pages)
        } else {
            n % race.pages
        };
        // Word 0 is where a freed frame's free-list link would be.
        let off = if rng.coin() { 0 } else { rng.below(WORDS) * 8 };
        let a = race.page_addr(p) + off;
        let seq = &race.seq[p as usize];
        let s1 = seq.load(Ordering::Acquire);
        match faults::probe_load(&ctx, a) {
            Ok(v) => {
                fence(Ordering::Acquire);
                race.check(a, v, "reader");
            }
            Err(sig) => fault_seen(race, p, a, s1, sig),
        }
        if s1 % 2 == 0 && rng.one_in(8) {
            let v = race.pattern(a, race.generation.load(Ordering::Acquire));
            // SAFETY: `a` is in the race region, whose every word may hold
            // any generation's pattern; if the page is gone, the gate keeps
            // other mappings out of it until this thread is joined.
            if let Err(sig) = unsafe { faults::probe_store(&ctx, a, v) } {
                fault_seen(race, p, a, s1, sig);
            }
        }
        n += 1;
        race.loads.fetch_add(1, Ordering::Relaxed);
        if n.is_multiple_of(256) {
            sys::sched_yield();
        }
    }
    race.active.fetch_sub(1, Ordering::SeqCst);
    FaultCtx::uninstall();
    0
}

/// A reader's access to page `p` faulted: fine if the mapper was at that
/// page (its sequence odd or moved), else an anomaly.
fn fault_seen(race: &Race, p: u64, a: u64, s1: u64, sig: u64) {
    stats::RACE_FAULTS.inc();
    let seq = &race.seq[p as usize];
    if s1 % 2 == 1 || seq.load(Ordering::Acquire) != s1 {
        return;
    }
    // The mapper's increment may not be visible yet if its munmap's
    // effect was seen first: look again a little later.
    sys::sched_yield();
    crate::spin_us(100);
    if seq.load(Ordering::SeqCst) != s1 {
        return;
    }
    anomaly(format_args!(
        "page race: signal {sig} at {a:#x}, page {p} of region {:#x}, which is mapped and was not being changed (seq {s1})",
        race.addr
    ));
}

/// One round on the inner pages `[i, j)`. Returns false if the range
/// could not be mapped again (the caller stops the readers while still
/// holding the gate).
fn round(race: &Race, rng: &mut Rng, i: u64, j: u64) -> bool {
    let (a, len) = (race.page_addr(i), (j - i) * PAGE);
    for p in i..j {
        race.seq[p as usize].fetch_add(1, Ordering::SeqCst);
    }
    race.target.store(i << 32 | j, Ordering::SeqCst);
    let running = readers_running(race);
    let r = sys::munmap(a, len);
    if r != 0 {
        anomaly(format_args!("page race: munmap({a:#x}, {len:#x}) = {r}"));
    }
    stats::RACE_MUNMAPS.inc();
    if running {
        stats::RACES.inc();
    }
    // The decoy takes the frames just freed (a kernel reuses them first),
    // so a reader still reaching one would see the decoy's pattern.
    let decoy = if rng.coin() {
        let dlen = len + PAGE;
        sys::mmap_anon(dlen as usize).ok().map(|d| {
            let d = d as u64;
            check_fresh(d, dlen, "decoy");
            let g = DECOY_GEN + rng.below(64);
            // SAFETY: our fresh mapping, known to nobody else.
            unsafe { fill(d, dlen, race.tag(g)) };
            race.decoy_len.store(dlen, Ordering::Relaxed);
            race.decoy.store(d, Ordering::Release);
            (d, dlen)
        })
    } else {
        None
    };
    let rw = mman::PROT_READ | mman::PROT_WRITE;
    let fixed = mman::MAP_PRIVATE | mman::MAP_ANONYMOUS | mman::MAP_FIXED;
    let mut tries = 0;
    let mapped = loop {
        let r = sys::mmap(a, len, rw, fixed, -1, 0);
        if r == a as i64 {
            break true;
        }
        // Another worker's big mapping may hold the memory for a moment.
        if r == -errno::ENOMEM && tries < 50 {
            tries += 1;
            sched::sleep_ns(1_000_000);
            continue;
        }
        if r != -errno::ENOMEM {
            anomaly(format_args!(
                "page race: MAP_FIXED of the range just unmapped at {a:#x} (+{len:#x}) = {r:#x}"
            ));
        }
        break false;
    };
    if let Some((d, dlen)) = decoy {
        race.decoy.store(0, Ordering::Release);
        sys::munmap(d, dlen);
    }
    if !mapped {
        return false;
    }
    // Fresh pages: zero, or a late reader's write of a valid pattern.
    for w in (a..a + len).step_by(8) {
        // SAFETY: the range just mapped.
        let v = unsafe { (w as *const u64).read_volatile() };
        race.check(w, v, "fresh re-mmap");
    }
    let g = race.generation.fetch_add(1, Ordering::SeqCst) + 1;
    fence(Ordering::SeqCst);
    // SAFETY: the range just mapped; the readers accept any generation.
    unsafe { fill(a, len, race.tag(g)) };
    fence(Ordering::SeqCst);
    for p in i..j {
        race.seq[p as usize].fetch_add(1, Ordering::SeqCst);
    }
    race.target.store(0, Ordering::SeqCst);
    true
}

/// Waits up to 2 ms for a reader's load, so the munmap that follows
/// meets a reader on its CPU (one descheduled would not race); false if
/// none came.
fn readers_running(race: &Race) -> bool {
    let seen = race.loads.load(Ordering::SeqCst);
    let (t0, freq) = sys::counter();
    let limit = sched::ns_to_ticks(2_000_000, freq.max(1));
    while sys::counter().0.wrapping_sub(t0) < limit {
        if race.loads.load(Ordering::SeqCst) != seen {
            return true;
        }
        core::hint::spin_loop();
    }
    false
}

/// Stops and joins the readers.
fn stop_readers(race: &Race, handles: &mut [Option<thread::JoinHandle>]) {
    race.stop.store(true, Ordering::SeqCst);
    for h in handles.iter_mut().filter_map(Option::take) {
        let r = crate::pause::join(h);
        if r != 0 {
            anomaly(format_args!("page race reader returned {r}"));
        }
    }
}

/// The step: a region, 1..=3 readers pinned to the other CPUs, a few
/// rounds. Returns 0, or the errno of the region's mmap.
pub fn page_race(w: &mut Worker) -> i64 {
    let pages = w.rng.range(3, MAX_PAGES as u64);
    let others = u64::from(w.nr_cpus.max(2) - 1).min(MAX_READERS as u64);
    let nreaders = w.rng.range(1, others);
    let rounds = w.rng.range(2, 12);
    let len = pages * PAGE;
    let addr = {
        let _g = gate::shared();
        match sys::mmap_anon(len as usize) {
            Ok(p) => p as u64,
            Err(e) => return e,
        }
    };
    check_fresh(addr, len, "race region");
    let home = u64::from(w.idx as u32 % w.nr_cpus);
    let n = u64::from(w.nr_cpus);
    let race = Race {
        addr,
        pages,
        base: w.rng.next_u64(),
        seed: w.rng.next_u64(),
        generation: AtomicU64::new(1),
        seq: [const { AtomicU64::new(0) }; MAX_PAGES],
        decoy: AtomicU64::new(0),
        decoy_len: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        target: AtomicU64::new(0),
        loads: AtomicU64::new(0),
        active: AtomicU32::new(0),
        next_reader: AtomicU32::new(0),
        cpus: [(home + 1) % n, (home + 2) % n, (home + 3) % n],
    };
    // SAFETY: our fresh mapping; no reader runs yet.
    unsafe { fill(addr, len, race.tag(1)) };
    stats::RACE_STEPS.inc();
    let _ = sched::set_affinity(1 << home);
    let mut handles: [Option<thread::JoinHandle>; MAX_READERS] = [const { None }; MAX_READERS];
    let mut started = 0;
    for h in handles.iter_mut().take(nreaders as usize) {
        let _g = gate::shared();
        if let Ok(j) = thread::spawn(reader, &race as *const Race as usize) {
            *h = Some(j);
            started += 1;
        }
    }
    // Let the readers reach their CPUs before the first munmap.
    let t0 = sys::monotonic().as_nanos();
    while race.active.load(Ordering::SeqCst) < started
        && sys::monotonic().as_nanos() - t0 < 1_000_000_000
    {
        sys::sched_yield();
    }
    for _ in 0..rounds {
        let i = w.rng.range(1, pages - 2);
        let j = w.rng.range(i + 1, pages - 1);
        let held = gate::exclusive();
        if !round(&race, &mut w.rng, i, j) {
            stop_readers(&race, &mut handles);
            drop(held);
            break;
        }
        drop(held);
        match w.rng.below(3) {
            0 => crate::spin_us(w.rng.below(300)),
            1 => {
                sys::sched_yield();
            }
            _ => {}
        }
    }
    stop_readers(&race, &mut handles);
    stats::RACE_READS.add(race.loads.load(Ordering::Relaxed));
    sys::munmap(addr, len);
    0
}
