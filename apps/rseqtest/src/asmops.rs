//! `asm-ops`: every librseq operation once, single-threaded, for its
//! results and memory effects (commit, compare failure, abort on a wrong
//! index, the in-section delay), and the `struct rseq_cs` descriptor it
//! publishes (version 0, flags 0, abort_ip outside the section, the
//! signature in the 4 bytes before abort_ip).
//!
//! Without a registration (e.g. under qemu-user, which has no rseq) it
//! writes `cpu_id` and `mm_cid` of the thread's area itself and runs the
//! same checks: nothing then preempts a section, so the asm is exercised
//! alone.

use librseq::{ABORTED, CMPFAIL, COMMITTED, Cpu, Index, ListNode, RSEQ_SIG, RseqCs, ops};
use rt::println;
use rt::test::{check, status};

/// The expected index as the area holds it now (no getcpu fallback).
fn here(index: Index) -> Cpu {
    let id = match index {
        Index::CpuId => rt::rseq::cpu_id(),
        Index::MmCid => rt::rseq::mm_cid(),
    };
    Cpu::new(index, id).with_delay(0)
}

/// Runs `op` for the current index until it is not aborted (a preemption
/// inside the section aborts it), at most 1000 times.
fn retry(index: Index, mut op: impl FnMut(Cpu) -> i32) -> i32 {
    for _ in 0..1000 {
        let r = op(here(index));
        if r != ABORTED {
            return r;
        }
    }
    ABORTED
}

/// Validates the descriptor `rseq_cs` points at (if the kernel has not
/// cleared it yet).
fn descriptor_ok() -> Result<(), &'static str> {
    let area = rt::rseq::area();
    // SAFETY: the thread's own area; volatile because the kernel may clear
    // the field at any time.
    let cs = unsafe { core::ptr::read_volatile(&raw const (*area).rseq_cs) };
    if cs == 0 {
        return Ok(());
    }
    if cs % 32 != 0 {
        return Err("descriptor not 32-byte aligned");
    }
    // SAFETY: a non-zero rseq_cs was stored by a librseq section and
    // points at its descriptor in the __rseq_cs section.
    let d: RseqCs = unsafe { core::ptr::read_volatile(cs as *const RseqCs) };
    let end = d.start_ip + d.post_commit_offset;
    if d.version != 0 || d.flags != 0 {
        return Err("version/flags not 0");
    }
    if d.post_commit_offset == 0 || (d.start_ip..end).contains(&d.abort_ip) {
        return Err("empty section or abort_ip inside it");
    }
    // SAFETY: abort_ip - 4 is in the app's text (readable at EL0).
    let sig = unsafe { core::ptr::read_volatile((d.abort_ip - 4) as *const u32) };
    if sig != RSEQ_SIG {
        return Err("no RSEQ_SIG before abort_ip");
    }
    Ok(())
}

pub fn run() -> i32 {
    println!(
        "rseqtest: asm-ops: each librseq operation once on this thread: commit, compare failure, abort on a wrong index, delay; descriptors"
    );
    if !rt::rseq::registered() {
        println!(
            "rseqtest: not registered (errno {}): writing cpu_id = mm_cid = 0 ourselves (nothing will abort the sections)",
            rt::rseq::registration_errno()
        );
        let area = rt::rseq::area();
        // SAFETY: the thread's own unregistered area: no one else writes it.
        unsafe {
            core::ptr::write_volatile(&raw mut (*area).cpu_id, 0);
            core::ptr::write_volatile(&raw mut (*area).mm_cid, 0);
        }
    }
    let mut ok = true;
    for index in [Index::CpuId, Index::MmCid] {
        let name = index.name();
        let mut fails: [&str; 16] = [""; 16];
        let mut nf = 0;
        let mut fail = |what: &'static str| {
            if nf < fails.len() {
                fails[nf] = what;
            }
            nf += 1;
        };

        // SAFETY: every operation below gets pointers to locals of this
        // block, which outlive the calls and no other thread sees.
        unsafe {
            // cmpeqv_storev
            let mut v: i64 = 5;
            let pv = &raw mut v;
            let r = retry(index, |c| ops::cmpeqv_storev(pv, 5, 7, c));
            if r != COMMITTED || v != 7 {
                fail("cmpeqv_storev commit");
            }
            if let Err(e) = descriptor_ok() {
                fail(e);
            }
            let r = retry(index, |c| ops::cmpeqv_storev(pv, 5, 9, c));
            if r != CMPFAIL || v != 7 {
                fail("cmpeqv_storev cmpfail");
            }
            let wrong = Cpu::new(index, 0xffff_ff00).with_delay(0);
            let r = ops::cmpeqv_storev(pv, 7, 9, wrong);
            if r != ABORTED || v != 7 {
                fail("cmpeqv_storev wrong index must abort");
            }

            // addv, with and without the delay
            let r = retry(index, |c| ops::addv(pv, 3, c));
            if r != COMMITTED || v != 10 {
                fail("addv");
            }
            let r = retry(index, |c| ops::addv(pv, -4, c.with_delay(1000)));
            if r != COMMITTED || v != 6 {
                fail("addv with delay");
            }
            let r = ops::addv(pv, 1, wrong);
            if r != ABORTED || v != 6 {
                fail("addv wrong index must abort");
            }

            // cmpnev_storeoffp_load: pop two nodes, then fail on empty.
            let mut n2 = ListNode::new(2);
            let mut n1 = ListNode::new(1);
            n1.next = &raw mut n2;
            let mut head: i64 = &raw mut n1 as i64;
            let ph = &raw mut head;
            let off = core::mem::offset_of!(ListNode, next) as i64;
            let mut load: i64 = 0;
            let pl = &raw mut load;
            let r = retry(index, |c| ops::cmpnev_storeoffp_load(ph, 0, off, pl, c));
            if r != COMMITTED || load != &raw mut n1 as i64 || head != &raw mut n2 as i64 {
                fail("cmpnev_storeoffp_load pop");
            }
            let r = retry(index, |c| ops::cmpnev_storeoffp_load(ph, 0, off, pl, c));
            if r != COMMITTED || load != &raw mut n2 as i64 || head != 0 {
                fail("cmpnev_storeoffp_load pop 2");
            }
            let r = retry(index, |c| ops::cmpnev_storeoffp_load(ph, 0, off, pl, c));
            if r != CMPFAIL || head != 0 {
                fail("cmpnev_storeoffp_load empty");
            }

            // cmpeqv_trystorev_storev: buffer push.
            let mut offset: i64 = 0;
            let mut slots = [0i64; 2];
            let po = &raw mut offset;
            let ps = slots.as_mut_ptr();
            let r = retry(index, |c| ops::cmpeqv_trystorev_storev(po, 0, ps, 42, 1, c));
            if r != COMMITTED || offset != 1 || slots[0] != 42 {
                fail("cmpeqv_trystorev_storev");
            }
            let r = retry(index, |c| {
                ops::cmpeqv_trystorev_storev(po, 0, ps.add(1), 43, 1, c)
            });
            if r != CMPFAIL || offset != 1 || slots[1] != 0 {
                fail("cmpeqv_trystorev_storev cmpfail");
            }

            // cmpeqv_cmpeqv_storev: buffer pop.
            let r = retry(index, |c| ops::cmpeqv_cmpeqv_storev(po, 1, ps, 41, 0, c));
            if r != CMPFAIL || offset != 1 {
                fail("cmpeqv_cmpeqv_storev second compare");
            }
            let r = retry(index, |c| ops::cmpeqv_cmpeqv_storev(po, 1, ps, 42, 0, c));
            if r != COMMITTED || offset != 0 {
                fail("cmpeqv_cmpeqv_storev");
            }

            // cmpeqv_trymemcpy_storev: 16 bytes, then 0 bytes.
            let src = *b"0123456789abcdef";
            let mut dst = [0u8; 16];
            let pd = dst.as_mut_ptr();
            let r = retry(index, |c| {
                ops::cmpeqv_trymemcpy_storev(po, 0, pd, src.as_ptr(), 16, 1, c.with_delay(100))
            });
            if r != COMMITTED || offset != 1 || dst != src {
                fail("cmpeqv_trymemcpy_storev");
            }
            let r = retry(index, |c| {
                ops::cmpeqv_trymemcpy_storev(po, 1, pd, src.as_ptr(), 0, 2, c)
            });
            if r != COMMITTED || offset != 2 {
                fail("cmpeqv_trymemcpy_storev len 0");
            }
            let r = retry(index, |c| {
                ops::cmpeqv_trymemcpy_storev(po, 7, pd, src.as_ptr(), 16, 3, c)
            });
            if r != CMPFAIL || offset != 2 {
                fail("cmpeqv_trymemcpy_storev cmpfail");
            }

            // offset_deref_addv: table[1] points at `target`.
            let mut target: i64 = 100;
            let table: [i64; 2] = [0, &raw mut target as i64];
            let ptr: i64 = table.as_ptr() as i64;
            let pp = &raw const ptr;
            let r = retry(index, |c| ops::offset_deref_addv(pp, 8, 5, c));
            if r != COMMITTED || target != 105 {
                fail("offset_deref_addv");
            }
            if let Err(e) = descriptor_ok() {
                fail(e);
            }
        }

        let passed = nf == 0;
        ok &= check(
            match index {
                Index::CpuId => "asm-ops-cpu_id",
                Index::MmCid => "asm-ops-mm_cid",
            },
            passed,
            format_args!("{name}: {nf} failures: {:?}", &fails[..nf.min(fails.len())]),
        );
    }
    status(ok)
}
