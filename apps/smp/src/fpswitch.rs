//! `fp-switch`: EL0 FP/SIMD state survives context switches and migrations.
//!
//! Eight threads on four CPUs each load their own patterns into v0–v31 and
//! FPCR, then spin in EL0 (no syscalls) long enough to be preempted many
//! times by each other and moved between CPUs by the balancer, then store
//! the registers and compare. The kernel saves FP/SIMD state only on a
//! context switch, so any mistake there shows up here.

use core::sync::atomic::{AtomicU32, Ordering};

use rt::test::check;
use rt::{println, thread};

use crate::counter;

const THREADS: usize = 8;
static BAD: AtomicU32 = AtomicU32::new(0);

fn pattern(thread: usize, reg: usize) -> u128 {
    let t = thread as u128 + 1;
    let r = reg as u128;
    (t * 0x0101_0101_0101_0101_0101_0101_0101_0101) ^ (r << 64) ^ (r * 0x1_0000_0001) ^ (t << 120)
}

/// FPCR per thread: a rounding mode (bits 23:22) and flush-to-zero (bit 24)
/// that differ between threads.
fn fpcr(thread: usize) -> u64 {
    (((thread % 4) as u64) << 22) | (((thread / 4) as u64 & 1) << 24)
}

fn worker(i: usize) -> i32 {
    let mut src = [0u128; 32];
    for (r, v) in src.iter_mut().enumerate() {
        *v = pattern(i, r);
    }
    let (_, freq) = counter();
    let spin = freq / 4; // 250 ms of counter time: ~25 ticks
    let (dst, fpcr_out) = rt::fpsimd::roundtrip(&src, fpcr(i), 0, spin);
    if let Some(r) = (0..32).find(|&r| dst[r] != src[r]) {
        println!(
            "smp: fp-switch: thread {i}: v{r} = {:#034x}, expected {:#034x}",
            dst[r], src[r]
        );
        BAD.fetch_add(1, Ordering::Relaxed);
    } else if fpcr_out != fpcr(i) {
        println!(
            "smp: fp-switch: thread {i}: FPCR = {fpcr_out:#x}, expected {:#x}",
            fpcr(i)
        );
        BAD.fetch_add(1, Ordering::Relaxed);
    }
    0
}

/// Runs the eight threads and checks that every one kept its registers.
pub fn run() -> i32 {
    println!(
        "smp: fp-switch: {THREADS} threads on 4 CPUs spin 250 ms each with their own v0-v31/FPCR"
    );
    let before = rt::sys::kstats()
        .map(|k| k.context_switches.iter().sum::<u64>())
        .unwrap_or(0);
    let mut handles = [const { None }; THREADS];
    for (i, h) in handles.iter_mut().enumerate() {
        *h = thread::spawn(worker, i).ok();
    }
    let spawned = handles.iter().filter(|h| h.is_some()).count();
    for h in handles.into_iter().flatten() {
        h.join();
    }
    let after = rt::sys::kstats()
        .map(|k| k.context_switches.iter().sum::<u64>())
        .unwrap_or(0);
    println!(
        "smp: fp-switch: {} context switches meanwhile",
        after - before
    );
    let bad = BAD.load(Ordering::Relaxed);
    let ok = check(
        "fp-switch",
        spawned == THREADS && bad == 0,
        format_args!("{bad} threads lost FP state ({spawned} spawned)"),
    );
    // More threads than CPUs must have forced switches between them.
    let ok2 = check(
        "fp-switch-preempted",
        after - before >= THREADS as u64,
        format_args!("only {} switches", after - before),
    );
    if ok && ok2 { 0 } else { 1 }
}
