//! `munmap-race`: a freed frame must be unreachable before anyone can get
//! it, or write into it.
//!
//! The mapper (the main thread, on CPU 0) maps a region, fills every u64
//! of each page with `page address ^ TAG` and publishes it; reader
//! threads pinned to the other CPUs sweep it, loading (and now and then
//! storing back) those patterns, and keep doing so while the mapper
//! unmaps the whole region under them. Until the kernel's TLB
//! invalidation reaches a reader's CPU, the reader still reaches the
//! physical frames through its stale TLB entries; after it, its accesses
//! fault and the SIGSEGV handler skips them ([`crate::probe`]). So a
//! reader may see its page's pattern, or 0, and nothing else: anything
//! else is what the kernel put into a frame it already considered free
//! (e.g. a free-list link, a physical address), and a store that lands
//! there would forge it. Then the mapper maps a new region, which must
//! read all zero, and checks that none of its pages aliases another one
//! or a page of a region that stays mapped (the witness), and goes on.
//!
//! A big region widens the window between the first frame freed and the
//! invalidation. The rounds are bounded in number and in time.
//!
//! The handshake: `SEQ` is even while a region is published (2 × round)
//! and odd otherwise. A reader acknowledges the `SEQ` it saw at the top
//! of each sweep and rechecks it before each page, so once every reader
//! acknowledged an odd `SEQ`, none touches the old addresses any more,
//! and the next region (often at the same addresses) is the mapper's
//! alone until it is published.

use core::fmt;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering, fence};

use rt::sched::{now_ns, nr_cpus};
use rt::test::{MS, SEC, check, verdict, wait_for};
use rt::{println, sched, sys, thread};

use crate::{PAGE, probe};

/// Pages per region by default (`munmap-race [pages]`).
const DEFAULT_PAGES: u64 = 256;
const WORDS: u64 = PAGE / 8;
/// Every u64 of a published page holds `page address ^ TAG`: never a
/// physical address, never 0.
const TAG: u64 = 0xc0de_0000_0000_0000;
/// The alias check's value: `page address ^ ALIAS_TAG` in the first word.
const ALIAS_TAG: u64 = 0xa11a_0000_0000_0000;
/// Pages of the region that stays mapped all along.
const WITNESS_PAGES: u64 = 16;
const MAX_ROUNDS: u64 = 400;
const BUDGET_NS: u64 = 12 * SEC;
const MAX_READERS: usize = 3;

/// Even: a region is published (2 × round); odd: it is not.
static SEQ: AtomicU64 = AtomicU64::new(1);
/// Pages per region, set once before the readers start.
static PAGES: AtomicU64 = AtomicU64::new(DEFAULT_PAGES);
/// The published region.
static BASE: AtomicU64 = AtomicU64::new(0);
/// Set from before the munmap until every reader left the region: a
/// fault outside that window means a mapping vanished by itself.
static UNMAPPING: AtomicBool = AtomicBool::new(false);
static STOP: AtomicBool = AtomicBool::new(false);
static FAILED: AtomicBool = AtomicBool::new(false);
/// The `SEQ` each reader saw last at the top of its loop.
static ACK: [AtomicU64; MAX_READERS] = [const { AtomicU64::new(0) }; MAX_READERS];
/// Loads that completed while `UNMAPPING` was set: how often the readers
/// really were in the window.
static OVERLAP: AtomicU64 = AtomicU64::new(0);
/// Complete sweeps of a published region, per reader.
static SWEEPS: [AtomicU64; MAX_READERS] = [const { AtomicU64::new(0) }; MAX_READERS];

fn pattern(va: u64) -> u64 {
    va ^ TAG
}

/// Reports the first failure (one line) and stops everyone.
fn fail(why: fmt::Arguments) {
    if !FAILED.swap(true, Ordering::SeqCst) {
        check("munmap-race", false, why);
    }
    STOP.store(true, Ordering::SeqCst);
}

pub fn run(pages: u64) -> i32 {
    let pages = if pages == 0 { DEFAULT_PAGES } else { pages };
    PAGES.store(pages, Ordering::SeqCst);
    let cpus = nr_cpus();
    let readers = (cpus as usize - 1).clamp(1, MAX_READERS);
    println!(
        "isolation: munmap-race: {readers} threads on other CPUs read and write a {pages}-page region while CPU 0 unmaps it; up to {MAX_ROUNDS} rounds"
    );
    if let Err(e) = probe::install() {
        return verdict("munmap-race", Some(format_args!("sigaction = {e}")));
    }
    let _ = sched::set_affinity(1);
    let witness = match sys::mmap_anon((WITNESS_PAGES * PAGE) as usize) {
        Ok(p) => p as u64,
        Err(e) => return verdict("munmap-race", Some(format_args!("witness mmap = {e}"))),
    };
    for p in 0..WITNESS_PAGES {
        let va = witness + p * PAGE;
        // SAFETY: a page of our fresh witness mapping.
        unsafe { (va as *mut u64).write_volatile(va ^ ALIAS_TAG) };
    }
    let mut handles = [const { None }; MAX_READERS];
    for (id, h) in handles.iter_mut().enumerate().take(readers) {
        // Reader `id` pins itself to CPU id + 1. (`cpus` was read before
        // this thread pinned itself to CPU 0: threads inherit the mask.)
        let cpu = (id as u32 + 1) % cpus;
        match thread::spawn(reader, id | (cpu as usize) << 8) {
            Ok(j) => *h = Some(j),
            Err(e) => {
                fail(format_args!("spawn = {e}"));
                break;
            }
        }
    }
    let start = now_ns();
    let mut rounds = 0;
    while rounds < MAX_ROUNDS && !STOP.load(Ordering::SeqCst) && now_ns() - start < BUDGET_NS {
        rounds += 1;
        round(rounds, witness, readers);
    }
    STOP.store(true, Ordering::SeqCst);
    for j in handles.into_iter().flatten() {
        j.join();
    }
    let sweeps: u64 = SWEEPS.iter().map(|s| s.load(Ordering::SeqCst)).sum();
    println!(
        "isolation: munmap-race: {rounds} rounds in {} ms, {sweeps} sweeps; during munmap {} loads, {} faults recovered",
        (now_ns() - start) / MS,
        OVERLAP.load(Ordering::SeqCst),
        probe::FAULTS.load(Ordering::SeqCst)
    );
    if FAILED.load(Ordering::SeqCst) {
        1
    } else {
        verdict("munmap-race", None)
    }
}

/// One round: map, check, fill, publish, let the readers sweep, unmap
/// under them, wait until they left.
fn round(r: u64, witness: u64, readers: usize) {
    let len = PAGES.load(Ordering::Relaxed) * PAGE;
    let base = match sys::mmap_anon(len as usize) {
        Ok(p) => p as u64,
        Err(e) => return fail(format_args!("mmap = {e} round {r}")),
    };
    for a in (base..base + len).step_by(8) {
        // SAFETY: inside our fresh mapping, which no reader knows of yet.
        let v = unsafe { (a as *const u64).read_volatile() };
        if v != 0 {
            return fail(format_args!(
                "new page reads {v:#x} at {a:#x} round {r} (not zero)"
            ));
        }
    }
    for va in (base..base + len).step_by(PAGE as usize) {
        // SAFETY: as above.
        unsafe { (va as *mut u64).write_volatile(va ^ ALIAS_TAG) };
    }
    let pages = (base..base + len).step_by(PAGE as usize);
    let witnesses = (witness..witness + WITNESS_PAGES * PAGE).step_by(PAGE as usize);
    for va in pages.chain(witnesses) {
        // SAFETY: a page of the new region or of the witness, both ours.
        let v = unsafe { (va as *const u64).read_volatile() };
        if v != va ^ ALIAS_TAG {
            return fail(format_args!(
                "page {va:#x} reads {v:#x}, written as {:#x} for page {:#x}: two pages share a frame, round {r}",
                va ^ ALIAS_TAG,
                v ^ ALIAS_TAG
            ));
        }
    }
    for a in (base..base + len).step_by(8) {
        // SAFETY: as above.
        unsafe { (a as *mut u64).write_volatile(pattern(a & !(PAGE - 1))) };
    }

    let before: [u64; MAX_READERS] = core::array::from_fn(|i| SWEEPS[i].load(Ordering::SeqCst));
    BASE.store(base, Ordering::Relaxed);
    SEQ.store(2 * r, Ordering::Release);
    // Unmap while every reader is in the middle of a sweep (a starved
    // reader just misses this round).
    wait_for(500 * MS, || {
        STOP.load(Ordering::Relaxed)
            || (0..readers).all(|i| SWEEPS[i].load(Ordering::Acquire) > before[i])
    });
    UNMAPPING.store(true, Ordering::SeqCst);
    // The flag must be visible before any page table entry goes.
    fence(Ordering::SeqCst);
    let ret = sys::munmap(base, len);
    SEQ.store(2 * r + 1, Ordering::Release);
    if ret != 0 {
        return fail(format_args!("munmap = {ret} round {r}"));
    }
    let left = wait_for(5 * SEC, || {
        STOP.load(Ordering::Relaxed)
            || (0..readers).all(|i| ACK[i].load(Ordering::Acquire) == 2 * r + 1)
    });
    if !left {
        return fail(format_args!("a reader did not leave round {r} within 5 s"));
    }
    UNMAPPING.store(false, Ordering::SeqCst);
}

/// A reader (`arg`: its index, and its CPU in bits 8..): sweeps the
/// published region until told to stop.
fn reader(arg: usize) -> i32 {
    let (id, cpu) = (arg & 0xff, arg >> 8);
    let _ = sched::set_affinity(1 << cpu);
    let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ id as u64;
    let mut idle = 0u32;
    while !STOP.load(Ordering::Relaxed) {
        let s = SEQ.load(Ordering::Acquire);
        ACK[id].store(s, Ordering::Release);
        if s & 1 == 1 {
            idle = idle.wrapping_add(1);
            if idle.is_multiple_of(64) {
                sched::yield_now();
            } else {
                core::hint::spin_loop();
            }
            continue;
        }
        let base = BASE.load(Ordering::Relaxed);
        let mut complete = true;
        for p in 0..PAGES.load(Ordering::Relaxed) {
            if SEQ.load(Ordering::Acquire) != s {
                complete = false;
                break;
            }
            let va = base + p * PAGE;
            // xorshift64: which other word of the page to read.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // The first word is where a free-list link would be.
            for addr in [va, va + (x % WORDS) * 8] {
                let got = probe::load(addr);
                if got.ok == 0 {
                    if !UNMAPPING.load(Ordering::SeqCst) {
                        fail(format_args!(
                            "fault at {addr:#x} round {} while the region was mapped",
                            s / 2
                        ));
                        return 1;
                    }
                } else if UNMAPPING.load(Ordering::Relaxed) {
                    OVERLAP.fetch_add(1, Ordering::Relaxed);
                }
                if got.ok != 0 && got.value != 0 && got.value != pattern(va) {
                    fail(format_args!(
                        "value {:#x} at {addr:#x} round {}",
                        got.value,
                        s / 2
                    ));
                    return 1;
                }
            }
            if (p as usize + id).is_multiple_of(8) {
                // SAFETY: a page of the published region, which holds
                // only patterns; storing its own pattern back changes
                // nothing while it is mapped.
                unsafe { probe::store(va, pattern(va)) };
            }
        }
        if complete {
            SWEEPS[id].fetch_add(1, Ordering::Release);
        }
    }
    0
}
