//! Holding EL0 FP/SIMD state across kernel entries, for tests that the
//! kernel preserves it (syscalls, interrupts, context switches).

/// In one asm block: loads `src` into v0–v31 and `fpcr` into FPCR, makes
/// `svcs` getpid syscalls, spins `spin_ticks` of the virtual counter in EL0
/// (interrupts, switches and migrations may happen), then stores v0–v31
/// back. Returns them and the FPCR read at the end; FPCR is restored.
pub fn roundtrip(src: &[u128; 32], fpcr: u64, svcs: u64, spin_ticks: u64) -> ([u128; 32], u64) {
    let mut dst = [0u128; 32];
    let fpcr_out: u64;
    // SAFETY: reads `src`, writes `dst` (both 512 bytes); every FP/SIMD
    // register and FPCR is declared clobbered; x0/x8 are syscall registers.
    unsafe {
        core::arch::asm!(
            "mrs {saved_fpcr}, fpcr",
            "msr fpcr, {fpcr_in}",
            "ldp q0, q1, [{src}, #0]", "ldp q2, q3, [{src}, #32]",
            "ldp q4, q5, [{src}, #64]", "ldp q6, q7, [{src}, #96]",
            "ldp q8, q9, [{src}, #128]", "ldp q10, q11, [{src}, #160]",
            "ldp q12, q13, [{src}, #192]", "ldp q14, q15, [{src}, #224]",
            "ldp q16, q17, [{src}, #256]", "ldp q18, q19, [{src}, #288]",
            "ldp q20, q21, [{src}, #320]", "ldp q22, q23, [{src}, #352]",
            "ldp q24, q25, [{src}, #384]", "ldp q26, q27, [{src}, #416]",
            "ldp q28, q29, [{src}, #448]", "ldp q30, q31, [{src}, #480]",
            // (a) syscalls
            "cbz {svcs}, 2f",
            "1: mov x8, #{getpid}",
            "svc #0",
            "subs {svcs}, {svcs}, #1",
            "b.ne 1b",
            "2:",
            // (b) spin in EL0 with no syscall
            "isb",
            "mrs {t}, cntvct_el0",
            "add {end}, {t}, {spin}",
            "3: mrs {t}, cntvct_el0",
            "cmp {t}, {end}",
            "b.lo 3b",
            "stp q0, q1, [{dst}, #0]", "stp q2, q3, [{dst}, #32]",
            "stp q4, q5, [{dst}, #64]", "stp q6, q7, [{dst}, #96]",
            "stp q8, q9, [{dst}, #128]", "stp q10, q11, [{dst}, #160]",
            "stp q12, q13, [{dst}, #192]", "stp q14, q15, [{dst}, #224]",
            "stp q16, q17, [{dst}, #256]", "stp q18, q19, [{dst}, #288]",
            "stp q20, q21, [{dst}, #320]", "stp q22, q23, [{dst}, #352]",
            "stp q24, q25, [{dst}, #384]", "stp q26, q27, [{dst}, #416]",
            "stp q28, q29, [{dst}, #448]", "stp q30, q31, [{dst}, #480]",
            "mrs {fpcr_out}, fpcr",
            "msr fpcr, {saved_fpcr}",
            src = in(reg) src.as_ptr(),
            dst = in(reg) dst.as_mut_ptr(),
            fpcr_in = in(reg) fpcr,
            fpcr_out = out(reg) fpcr_out,
            saved_fpcr = out(reg) _,
            svcs = inout(reg) svcs => _,
            spin = in(reg) spin_ticks,
            t = out(reg) _,
            end = out(reg) _,
            getpid = const crate::sys::nr::GETPID,
            out("x0") _, out("x8") _,
            out("v0") _, out("v1") _, out("v2") _, out("v3") _, out("v4") _, out("v5") _, out("v6") _, out("v7") _,
            out("v8") _, out("v9") _, out("v10") _, out("v11") _, out("v12") _, out("v13") _, out("v14") _, out("v15") _,
            out("v16") _, out("v17") _, out("v18") _, out("v19") _, out("v20") _, out("v21") _, out("v22") _, out("v23") _,
            out("v24") _, out("v25") _, out("v26") _, out("v27") _, out("v28") _, out("v29") _, out("v30") _, out("v31") _,
            options(nostack),
        );
    }
    (dst, fpcr_out)
}
