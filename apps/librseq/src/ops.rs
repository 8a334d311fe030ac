//! The per-CPU operations: one rseq critical section each (aarch64).
//!
//! Every section is the common frame of [`crate::cs`] with, first in its
//! body, the index check and, after it, three ways out:
//!
//! ```text
//! 91:     ldr wtmp, [area + index] ; cmp wtmp, wcpu ; b.ne 94f   // still there?
//!         ... loads, compares (b.ne 93f), delay loop, commit store
//! 92:     (post-commit) ret = 0
//!         .inst RSEQ_SIG
//! 94:     ret = -1                          // abort
//! 93:     ret = 1                           // comparison failed
//! ```
//!
//! The kernel resumes an interrupted section at `94` (after checking the
//! signature); a section that ran to `92` committed. All operations take
//! the target [`Cpu`] (index kind, expected ID, delay).

use crate::Cpu;

/// One operation: the frame of [`crate::rseq_cs_asm!`] with the index
/// check before `body` (asm lines between the check and the post-commit
/// label) and the 0 / -1 / 1 results. The caller supplies the operands
/// `ret`, `tmp`, `area`, `idx`, `cpu`, `delay` and its own.
macro_rules! rseq_cs {
    ([$($body:expr),* $(,)?], $($operands:tt)*) => {
        $crate::rseq_cs_asm!(
            body: [
                "ldr {tmp:w}, [{idx}]",
                "cmp {tmp:w}, {cpu:w}",
                "b.ne 94f",
                $($body,)*
            ],
            commit: ["mov {ret:w}, #0", "b 99f"],
            abort: [
                "mov {ret:w}, #-1",
                "b 99f",
                "93:",
                "mov {ret:w}, #1",
                "99:",
            ],
            $($operands)*
        )
    };
}

/// The calling thread's area and the address of the index field.
#[inline(always)]
fn frame(cpu: &Cpu) -> (u64, u64, u64) {
    let area = rt::rseq::area() as u64;
    (
        area,
        area + cpu.index.field_offset() as u64,
        cpu.resolved_delay(),
    )
}

/// `if *v == expect { *v = newv }` on `cpu`: 0 committed, 1 `*v != expect`,
/// -1 aborted.
///
/// # Safety
///
/// `v` must be valid for aligned 8-byte reads and writes, and only ever
/// modified by rseq operations indexed by the same `cpu` (or not
/// concurrently).
#[inline]
pub unsafe fn cmpeqv_storev(v: *mut i64, expect: i64, newv: i64, cpu: Cpu) -> i32 {
    let (area, idx, delay) = frame(&cpu);
    let ret: i32;
    // SAFETY: the section reads the thread's own rseq area and `*v` and
    // writes `rseq_cs` and `*v`, all valid by the caller's contract; it
    // touches no stack and clobbers only the declared registers.
    unsafe {
        rseq_cs!(
            [
                "ldr {tmp}, [{v}]",
                "cmp {tmp}, {expect}",
                "b.ne 93f",
                crate::delay_loop_asm!(),
                "str {newv}, [{v}]",
            ],
            ret = out(reg) ret,
            tmp = out(reg) _,
            area = in(reg) area,
            idx = in(reg) idx,
            cpu = in(reg) cpu.id,
            delay = inout(reg) delay => _,
            v = in(reg) v,
            expect = in(reg) expect,
            newv = in(reg) newv,
            options(nostack),
        );
    }
    ret
}

/// `*v += count` on `cpu`: 0 committed, -1 aborted.
///
/// # Safety
///
/// As [`cmpeqv_storev`].
#[inline]
pub unsafe fn addv(v: *mut i64, count: i64, cpu: Cpu) -> i32 {
    let (area, idx, delay) = frame(&cpu);
    let ret: i32;
    // SAFETY: as in `cmpeqv_storev`.
    unsafe {
        rseq_cs!(
            [
                "ldr {tmp}, [{v}]",
                "add {tmp}, {tmp}, {count}",
                crate::delay_loop_asm!(),
                "str {tmp}, [{v}]",
            ],
            ret = out(reg) ret,
            tmp = out(reg) _,
            area = in(reg) area,
            idx = in(reg) idx,
            cpu = in(reg) cpu.id,
            delay = inout(reg) delay => _,
            v = in(reg) v,
            count = in(reg) count,
            options(nostack),
        );
    }
    ret
}

/// `if *v != expectnot { *load = *v; *v = *(*v + voffp) }` on `cpu` (a
/// list pop: `v` the head, `voffp` the offset of `next`): 0 committed, 1
/// `*v == expectnot`, -1 aborted.
///
/// # Safety
///
/// As [`cmpeqv_storev`]; `load` valid for an 8-byte write; when `*v !=
/// expectnot`, `*v + voffp` must be valid for an 8-byte read.
#[inline]
pub unsafe fn cmpnev_storeoffp_load(
    v: *mut i64,
    expectnot: i64,
    voffp: i64,
    load: *mut i64,
    cpu: Cpu,
) -> i32 {
    let (area, idx, delay) = frame(&cpu);
    let ret: i32;
    // SAFETY: as in `cmpeqv_storev`, plus the `load` and `*v + voffp`
    // accesses the caller vouches for.
    unsafe {
        rseq_cs!(
            [
                "ldr {tmp}, [{v}]",
                "cmp {tmp}, {expectnot}",
                "b.eq 93f",
                crate::delay_loop_asm!(),
                "str {tmp}, [{load}]",
                "ldr {tmp}, [{tmp}, {voffp}]",
                "str {tmp}, [{v}]",
            ],
            ret = out(reg) ret,
            tmp = out(reg) _,
            area = in(reg) area,
            idx = in(reg) idx,
            cpu = in(reg) cpu.id,
            delay = inout(reg) delay => _,
            v = in(reg) v,
            expectnot = in(reg) expectnot,
            voffp = in(reg) voffp,
            load = in(reg) load,
            options(nostack),
        );
    }
    ret
}

/// `if *v == expect { *v2 = newv2; *v = newv }` on `cpu` (the store to
/// `v2` is speculative, `v` commits): 0 committed, 1 `*v != expect`, -1
/// aborted.
///
/// # Safety
///
/// As [`cmpeqv_storev`], for `v` and `v2`.
#[inline]
pub unsafe fn cmpeqv_trystorev_storev(
    v: *mut i64,
    expect: i64,
    v2: *mut i64,
    newv2: i64,
    newv: i64,
    cpu: Cpu,
) -> i32 {
    let (area, idx, delay) = frame(&cpu);
    let ret: i32;
    // SAFETY: as in `cmpeqv_storev`, for `v` and `v2`.
    unsafe {
        rseq_cs!(
            [
                "ldr {tmp}, [{v}]",
                "cmp {tmp}, {expect}",
                "b.ne 93f",
                crate::delay_loop_asm!(),
                "str {newv2}, [{v2}]",
                "str {newv}, [{v}]",
            ],
            ret = out(reg) ret,
            tmp = out(reg) _,
            area = in(reg) area,
            idx = in(reg) idx,
            cpu = in(reg) cpu.id,
            delay = inout(reg) delay => _,
            v = in(reg) v,
            expect = in(reg) expect,
            v2 = in(reg) v2,
            newv2 = in(reg) newv2,
            newv = in(reg) newv,
            options(nostack),
        );
    }
    ret
}

/// `if *v == expect && *v2 == expect2 { *v = newv }` on `cpu`: 0
/// committed, 1 a comparison failed, -1 aborted.
///
/// # Safety
///
/// As [`cmpeqv_storev`]; `v2` valid for an 8-byte read.
#[inline]
pub unsafe fn cmpeqv_cmpeqv_storev(
    v: *mut i64,
    expect: i64,
    v2: *const i64,
    expect2: i64,
    newv: i64,
    cpu: Cpu,
) -> i32 {
    let (area, idx, delay) = frame(&cpu);
    let ret: i32;
    // SAFETY: as in `cmpeqv_storev`, plus the read of `v2`.
    unsafe {
        rseq_cs!(
            [
                "ldr {tmp}, [{v}]",
                "cmp {tmp}, {expect}",
                "b.ne 93f",
                "ldr {tmp}, [{v2}]",
                "cmp {tmp}, {expect2}",
                "b.ne 93f",
                crate::delay_loop_asm!(),
                "str {newv}, [{v}]",
            ],
            ret = out(reg) ret,
            tmp = out(reg) _,
            area = in(reg) area,
            idx = in(reg) idx,
            cpu = in(reg) cpu.id,
            delay = inout(reg) delay => _,
            v = in(reg) v,
            expect = in(reg) expect,
            v2 = in(reg) v2,
            expect2 = in(reg) expect2,
            newv = in(reg) newv,
            options(nostack),
        );
    }
    ret
}

/// `if *v == expect { memcpy(dst, src, len); *v = newv }` on `cpu` (the
/// copy is speculative, byte by byte from the end): 0 committed, 1 `*v !=
/// expect`, -1 aborted.
///
/// # Safety
///
/// As [`cmpeqv_storev`]; `src` valid for `len` bytes of reads, `dst` for
/// `len` bytes of writes.
#[inline]
pub unsafe fn cmpeqv_trymemcpy_storev(
    v: *mut i64,
    expect: i64,
    dst: *mut u8,
    src: *const u8,
    len: usize,
    newv: i64,
    cpu: Cpu,
) -> i32 {
    let (area, idx, delay) = frame(&cpu);
    let ret: i32;
    // SAFETY: as in `cmpeqv_storev`, plus the copy the caller vouches for.
    unsafe {
        rseq_cs!(
            [
                "ldr {tmp}, [{v}]",
                "cmp {tmp}, {expect}",
                "b.ne 93f",
                "cbz {len}, 98f",
                "mov {tmp2}, {len}",
                "97:",
                "sub {tmp2}, {tmp2}, #1",
                "ldrb {tmp:w}, [{src}, {tmp2}]",
                "strb {tmp:w}, [{dst}, {tmp2}]",
                "cbnz {tmp2}, 97b",
                "98:",
                crate::delay_loop_asm!(),
                "str {newv}, [{v}]",
            ],
            ret = out(reg) ret,
            tmp = out(reg) _,
            tmp2 = out(reg) _,
            area = in(reg) area,
            idx = in(reg) idx,
            cpu = in(reg) cpu.id,
            delay = inout(reg) delay => _,
            v = in(reg) v,
            expect = in(reg) expect,
            dst = in(reg) dst,
            src = in(reg) src,
            len = in(reg) len,
            newv = in(reg) newv,
            options(nostack),
        );
    }
    ret
}

/// `**(*ptr + off) += inc` on `cpu`: loads the pointer `*ptr`, adds `off`,
/// loads the pointer there and adds `inc` to the word it points at (the
/// membarrier test's "increment the head node of my CPU's entry in the
/// active list"). The delay runs between loading `*ptr` and the commit, so
/// a membarrier IPI that switches `*ptr` meanwhile restarts the section.
/// 0 committed, -1 aborted.
///
/// # Safety
///
/// `ptr` valid for an 8-byte read; `*ptr + off` and the pointer stored
/// there valid for 8-byte reads, the latter also for writes, modified only
/// by operations indexed by the same `cpu`.
#[inline]
pub unsafe fn offset_deref_addv(ptr: *const i64, off: i64, inc: i64, cpu: Cpu) -> i32 {
    let (area, idx, delay) = frame(&cpu);
    let ret: i32;
    // SAFETY: the accesses the caller vouches for, as in `cmpeqv_storev`.
    unsafe {
        rseq_cs!(
            [
                "ldr {tmp}, [{ptr}]",
                "add {tmp}, {tmp}, {off}",
                "ldr {tmp}, [{tmp}]",
                crate::delay_loop_asm!(),
                "ldr {tmp2}, [{tmp}]",
                "add {tmp2}, {tmp2}, {inc}",
                "str {tmp2}, [{tmp}]",
            ],
            ret = out(reg) ret,
            tmp = out(reg) _,
            tmp2 = out(reg) _,
            area = in(reg) area,
            idx = in(reg) idx,
            cpu = in(reg) cpu.id,
            delay = inout(reg) delay => _,
            ptr = in(reg) ptr,
            off = in(reg) off,
            inc = in(reg) inc,
            options(nostack),
        );
    }
    ret
}
