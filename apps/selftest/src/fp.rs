//! FP/SIMD state survives syscalls and interrupts.
//!
//! All 32 vector registers and FPCR are loaded with distinct patterns in one
//! asm block, which then (a) makes syscalls and (b) spins in EL0 long enough
//! for several timer interrupts, and stores the registers back; any
//! difference means the kernel clobbered EL0 FP/SIMD state.

use rt::test::{check, status};

/// FPCR with round-towards-zero and flush-to-zero: unusual, so a kernel that
/// reset it would be caught.
const FPCR_PATTERN: u64 = (3 << 22) | (1 << 24);

fn patterns() -> [u128; 32] {
    let mut p = [0u128; 32];
    for (i, v) in p.iter_mut().enumerate() {
        let i = i as u128;
        *v = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210
            ^ (i * 0x0101_0101_0101_0101_0101_0101_0101_0101)
            ^ (i << 120);
    }
    p
}

fn compare(name: &str, (regs, fpcr): ([u128; 32], u64)) -> bool {
    let want = patterns();
    match (0..32).find(|&i| regs[i] != want[i]) {
        Some(i) => check(
            name,
            false,
            format_args!("v{i} = {:#034x}, expected {:#034x}", regs[i], want[i]),
        ),
        None => check(
            name,
            fpcr == FPCR_PATTERN,
            format_args!("FPCR = {fpcr:#x}, expected {FPCR_PATTERN:#x}"),
        ),
    }
}

/// Runs both checks.
pub fn run() -> i32 {
    let (_, freq) = rt::sys::counter();
    let a = compare(
        "fp-syscall",
        rt::fpsimd::roundtrip(&patterns(), FPCR_PATTERN, 1000, 0),
    );
    // 300 ms of spinning: ~30 ticks at the default HZ=100.
    let b = compare(
        "fp-irq",
        rt::fpsimd::roundtrip(&patterns(), FPCR_PATTERN, 0, freq * 3 / 10),
    );
    status(a && b)
}
