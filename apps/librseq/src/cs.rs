//! The critical-section frame every rseq section in inline asm shares
//! (after `rseq-arm64.h`'s `__RSEQ_ASM_DEFINE_TABLE`,
//! `RSEQ_ASM_STORE_RSEQ_CS` and `__RSEQ_ASM_DEFINE_ABORT`):
//!
//! ```text
//!         .pushsection __rseq_cs, "aw"      // the descriptor, 32-aligned
//! 90:     .long 0, 0                        // version, flags
//!         .quad 91f, 92f - 91f, 94f         // start_ip, post_commit_offset, abort_ip
//!         .popsection
//!         adrp/add tmp, 90b ; str tmp, [area, #8]   // rseq->rseq_cs = &descriptor
//! 91:     body                              // ends with the commit store
//! 92:     commit                            // post-commit: leave, skipping the abort path
//!         .inst RSEQ_SIG                    // the 4 bytes before abort_ip
//! 94:     abort                             // where the kernel restarts an interrupted section
//! ```
//!
//! [`rseq_cs_asm!`](crate::rseq_cs_asm) emits it around the caller's lines;
//! [`delay_loop_asm!`](crate::delay_loop_asm) is the in-section delay
//! (labels 95, 96). The librseq operations ([`crate::ops`]) and the test
//! apps' own sections (tcmalloc's cache, a syscall inside a section) are
//! all built from these, so every section in an image has the same
//! descriptor layout and signature placement, which the kernel checks.

/// One rseq critical section in `core::arch::asm!`, framed as in the
/// module docs:
///
/// ```ignore
/// librseq::rseq_cs_asm!(
///     body: ["ldr {tmp}, [{v}]", "add {tmp}, {tmp}, #1", "str {tmp}, [{v}]"],
///     commit: ["mov {ret:w}, #0", "b 99f"],
///     abort: ["mov {ret:w}, #-1", "99:"],
///     ret = out(reg) ret, tmp = out(reg) _, area = in(reg) area, v = in(reg) v,
///     options(nostack),
/// )
/// ```
///
/// `body` runs from `start_ip` (label 91) to the commit store inclusive;
/// `commit` follows label 92 (post-commit) and must branch past the abort
/// path; `abort` follows label 94, right after the signature. The caller
/// gives the operands `tmp` (a scratch register) and `area` (the thread's
/// rseq area) and its own; `sig` is supplied. Labels 90, 91, 92 and 94 are
/// the frame's, 95 and 96 [`delay_loop_asm!`](crate::delay_loop_asm)'s:
/// the caller's lines may use the others (93, 97, 99 by convention). It
/// expands to an `asm!`, so it must be used inside `unsafe`.
#[macro_export]
macro_rules! rseq_cs_asm {
    (
        body: [$($body:expr),* $(,)?],
        commit: [$($commit:expr),* $(,)?],
        abort: [$($abort:expr),* $(,)?],
        $($operands:tt)*
    ) => {
        ::core::arch::asm!(
            ".pushsection __rseq_cs, \"aw\"",
            ".balign 32",
            "90:",
            ".long 0, 0",
            ".quad 91f, 92f - 91f, 94f",
            ".popsection",
            "adrp {tmp}, 90b",
            "add {tmp}, {tmp}, :lo12:90b",
            "str {tmp}, [{area}, #8]",
            "91:",
            $($body,)*
            "92:",
            $($commit,)*
            ".inst {sig}",
            "94:",
            $($abort,)*
            sig = const $crate::RSEQ_SIG,
            $($operands)*
        )
    };
}

/// The injected delay, as one `asm!` template line for a section's body:
/// `{delay}` iterations (none if 0) of a countdown loop, labels 95 and 96.
/// The `delay` operand must be `inout(reg) n => _`.
#[macro_export]
macro_rules! delay_loop_asm {
    () => {
        "cbz {delay}, 96f\n95:\nsubs {delay}, {delay}, #1\nb.ne 95b\n96:"
    };
}
