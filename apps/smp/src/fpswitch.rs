//! `fp-switch`: EL0 FP/SIMD state survives context switches and migrations.
//!
//! Eight threads on four CPUs each load their own patterns into v0–v31 and
//! FPCR, then spin in EL0 (no syscalls) long enough to be preempted many
//! times by each other and moved between CPUs by the balancer, then store
//! the registers and compare. The kernel saves FP/SIMD state only on a
//! context switch, so any mistake there shows up here.

use core::sync::atomic::{AtomicU32, Ordering};

use rt::{println, thread};

use crate::{check, counter};

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
    let mut dst = [0u128; 32];
    let (_, freq) = counter();
    let spin = freq / 4; // 250 ms of counter time: ~25 ticks
    let fpcr_out: u64;
    // SAFETY: reads `src`, writes `dst` (512 bytes each); every FP/SIMD
    // register and FPCR is declared clobbered and FPCR is restored.
    unsafe {
        core::arch::asm!(
            "mrs {saved}, fpcr",
            "msr fpcr, {fpcr_in}",
            "ldp q0, q1, [{src}, #0]", "ldp q2, q3, [{src}, #32]",
            "ldp q4, q5, [{src}, #64]", "ldp q6, q7, [{src}, #96]",
            "ldp q8, q9, [{src}, #128]", "ldp q10, q11, [{src}, #160]",
            "ldp q12, q13, [{src}, #192]", "ldp q14, q15, [{src}, #224]",
            "ldp q16, q17, [{src}, #256]", "ldp q18, q19, [{src}, #288]",
            "ldp q20, q21, [{src}, #320]", "ldp q22, q23, [{src}, #352]",
            "ldp q24, q25, [{src}, #384]", "ldp q26, q27, [{src}, #416]",
            "ldp q28, q29, [{src}, #448]", "ldp q30, q31, [{src}, #480]",
            "isb",
            "mrs {t}, cntvct_el0",
            "add {end}, {t}, {spin}",
            "2: mrs {t}, cntvct_el0",
            "cmp {t}, {end}",
            "b.lo 2b",
            "stp q0, q1, [{dst}, #0]", "stp q2, q3, [{dst}, #32]",
            "stp q4, q5, [{dst}, #64]", "stp q6, q7, [{dst}, #96]",
            "stp q8, q9, [{dst}, #128]", "stp q10, q11, [{dst}, #160]",
            "stp q12, q13, [{dst}, #192]", "stp q14, q15, [{dst}, #224]",
            "stp q16, q17, [{dst}, #256]", "stp q18, q19, [{dst}, #288]",
            "stp q20, q21, [{dst}, #320]", "stp q22, q23, [{dst}, #352]",
            "stp q24, q25, [{dst}, #384]", "stp q26, q27, [{dst}, #416]",
            "stp q28, q29, [{dst}, #448]", "stp q30, q31, [{dst}, #480]",
            "mrs {fpcr_out}, fpcr",
            "msr fpcr, {saved}",
            src = in(reg) src.as_ptr(),
            dst = in(reg) dst.as_mut_ptr(),
            fpcr_in = in(reg) fpcr(i),
            fpcr_out = out(reg) fpcr_out,
            saved = out(reg) _,
            spin = in(reg) spin,
            t = out(reg) _,
            end = out(reg) _,
            out("v0") _, out("v1") _, out("v2") _, out("v3") _, out("v4") _, out("v5") _, out("v6") _, out("v7") _,
            out("v8") _, out("v9") _, out("v10") _, out("v11") _, out("v12") _, out("v13") _, out("v14") _, out("v15") _,
            out("v16") _, out("v17") _, out("v18") _, out("v19") _, out("v20") _, out("v21") _, out("v22") _, out("v23") _,
            out("v24") _, out("v25") _, out("v26") _, out("v27") _, out("v28") _, out("v29") _, out("v30") _, out("v31") _,
            options(nostack),
        );
    }
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
