//! rseq abuse: forged `rseq_cs` descriptors, real critical sections (with
//! odd but survivable descriptors, interrupts and faults inside), time
//! slice extension cycles (runaway ones included), registration chaos on
//! raw threads, and the deadly cases (`deadly=1`) the kernel must answer
//! with a `[kill]`.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicU64, Ordering};

use rt::rseq::{RSEQ_FLAG_UNREGISTER, RSEQ_SIG, Rseq};
use rt::sys::{self, clone_flags, errno};
use rt::{println, sched, signal, thread};

use crate::faults::FaultCtx;
use crate::mem::{self, KERNEL_IMAGE, KERNEL_VA, USER_BASE, USER_UNMAPPED, WINDOW};
use crate::rng::Rng;
use crate::spin_us;
use crate::stats::{self, anomaly};
use crate::worker::Worker;

/// `rseq_cs` of the calling thread's area.
fn rseq_cs_ptr() -> *mut u64 {
    // SAFETY: an in-bounds field of the thread's own area.
    unsafe { (rt::rseq::area() as *mut u8).add(Rseq::RSEQ_CS_OFFSET) as *mut u64 }
}

/// Sets `rseq_cs` (volatile: the kernel reads it at any interrupt).
pub fn set_rseq_cs(v: u64) {
    // SAFETY: the thread's own area; the kernel only accesses it on this
    // thread's exits to user mode.
    unsafe { rseq_cs_ptr().write_volatile(v) };
    core::sync::atomic::compiler_fence(Ordering::SeqCst);
}

/// Reads `rseq_cs`.
pub fn get_rseq_cs() -> u64 {
    core::sync::atomic::compiler_fence(Ordering::SeqCst);
    // SAFETY: as in `set_rseq_cs`.
    unsafe { rseq_cs_ptr().read_volatile() }
}

/// Writes a descriptor (`struct rseq_cs`: version, flags, start_ip,
/// post_commit_offset, abort_ip) at `at` (fuzzer-owned, maybe unaligned).
fn write_desc(at: u64, version: u32, flags: u32, start: u64, off: u64, abort: u64) {
    let p = at as *mut u8;
    // SAFETY: `at` lies in the thread's descriptor page with 32 bytes to
    // spare; unaligned writes are fine at EL0 (SCTLR_EL1.A = 0).
    unsafe {
        (p as *mut u32).write_unaligned(version);
        (p.add(4) as *mut u32).write_unaligned(flags);
        (p.add(8) as *mut u64).write_unaligned(start);
        (p.add(16) as *mut u64).write_unaligned(off);
        (p.add(24) as *mut u64).write_unaligned(abort);
    }
}

/// Where user code runs: the app image, below the never-mapped hole (the
/// fuzzer's handlers all return through the runtime's restorer, never the
/// kernel's trampoline page).
const CODE_LEN: u64 = USER_UNMAPPED - USER_BASE;

/// Shrinks `off` so that `[start, start + off)` (mod 2^64, as the kernel
/// compares) contains no code address: no user IP can then be inside the
/// section, and the kernel must just clear `rseq_cs`.
fn outside_code(start: u64, off: u64) -> u64 {
    let d = USER_BASE.wrapping_sub(start);
    if d > u64::MAX - (CODE_LEN - 1) {
        0 // start is inside the code: only an empty section
    } else {
        off.min(d)
    }
}

/// Makes the kernel evaluate `rseq_cs` soon, one way or another.
fn provoke(w: &mut Worker) {
    match w.rng.below(6) {
        0 => spin_us(w.rng.range(1, 300)),
        1 => {
            sys::sched_yield();
        }
        2 => {
            let _ = signal::tgkill(1, w.tid, signal::SIGUSR1);
        }
        3 => {
            // An exception from EL0 always makes the kernel look.
            let (want, got) = crate::faults::fault(&w.fault, 6, w.mem.scratch, 0, w.tid);
            if got != want {
                anomaly(format_args!(
                    "brk with rseq_cs set: signal {got}, want {want}"
                ));
            }
        }
        4 => {
            sys::getpid();
        }
        _ => {
            let _ = sys::membarrier(sys::membarrier_cmd::PRIVATE_EXPEDITED_RSEQ, 0, 0);
        }
    }
}

/// A forged descriptor whose section holds no user IP: the kernel must
/// clear `rseq_cs` and nothing else. Returns 1 if it was cleared.
pub fn cs_forged(w: &mut Worker) -> i64 {
    let r = &mut w.rng;
    let at = w.mem.desc + 64 * r.range(1, 30) + if r.one_in(4) { r.below(32) } else { 0 };
    let version = pick!(r, [0, 0, 0, 1, u32::MAX, r.next_u64() as u32]);
    let flags = pick!(r, [0, 0, 0, 1, 2, 4, 7, u32::MAX]);
    let text = mem::text_addr();
    let start = match r.below(9) {
        0 => 0,
        1 => r.next_u64(),
        2 => KERNEL_VA + r.below(1 << 20),
        3 => USER_BASE - r.range(1, 4096),
        4 => USER_BASE + WINDOW + r.below(4096),
        5 => u64::MAX - r.below(4096),
        6 => text.wrapping_add(r.next_u64() | (1 << 40)),
        7 => KERNEL_IMAGE,
        _ => USER_UNMAPPED,
    };
    // strict=1 (for rseq_debug=1, which kills for a start_ip outside user
    // space even when the IP is not in the section): a user address above
    // every instruction, so the IP is below start_ip and the section is
    // cleared before anything else is checked.
    let start = if w.strict {
        pick!(
            r,
            [
                USER_UNMAPPED + r.below(1 << 20),
                mem::MMAP_BASE + r.below(1 << 20),
                USER_BASE + WINDOW - 1 - r.below(4096),
            ]
        )
    } else {
        start
    };
    let off = match r.below(7) {
        0 => 0,
        1 => r.range(1, 64),
        2 => 4096,
        3 => u64::MAX,
        4 => 1 << 63,
        5 => r.next_u64(),
        _ => 0u64.wrapping_sub(start).wrapping_add(r.below(1 << 20)), // overflowing end
    };
    let off = outside_code(start, off);
    let abort = match r.below(6) {
        0 => 0,
        1 => 3,
        2 => text + 4,
        3 => KERNEL_VA,
        4 => start,
        _ => r.next_u64(),
    };
    write_desc(at, version, flags, start, off, abort);
    stats::CS_FORGED.inc();
    set_rseq_cs(at);
    provoke(w);
    let after = get_rseq_cs();
    set_rseq_cs(0);
    if after == 0 {
        stats::CS_CLEARED.inc();
        1
    } else if after != at {
        anomaly(format_args!(
            "rseq_cs changed from {at:#x} to {after:#x} by the kernel"
        ));
        -1
    } else {
        0
    }
}

/// A real critical section: the descriptor is written in `desc` by the
/// asm (start, post_commit_offset, abort_ip; the caller writes version and
/// flags), `rseq_cs` set, then `spins` loop iterations inside. Options:
/// `cover`: the section extends over its own abort handler; `brk`: a `brk`
/// inside the section (the signal must arrive at the abort handler);
/// `bad`: 1 = abort_ip without the signature before it, 2 = abort_ip 2
/// (both fatal when the kernel aborts). Returns 1 if it was aborted.
///
/// # Safety
///
/// `area` must be the calling thread's registered area and `ctx` its
/// installed fault context; `desc` 32 writable bytes. With `bad` != 0 the
/// kernel kills the app if it aborts the section.
unsafe fn critical_section(
    area: u64,
    desc: u64,
    ctx: &FaultCtx,
    spins: u64,
    cover: bool,
    brk: bool,
    bad: u64,
) -> u64 {
    let res: u64;
    // SAFETY: the caller's contract; the section only spins (and maybe
    // traps at `5:`, which the fault handler resumes at `8:`, or which
    // arrives at the abort handler `6:` unchanged); `rseq_cs` is cleared
    // on both exits.
    unsafe {
        core::arch::asm!(
            // start_ip
            "adr {t1}, 3f",
            "str {t1}, [{desc}, #8]",
            // post_commit_offset: to 4f, or over the abort handler to 7f
            "adr {t2}, 4f",
            "adr {t3}, 7f",
            "cmp {cover}, #0",
            "csel {t2}, {t2}, {t3}, eq",
            "sub {t2}, {t2}, {t1}",
            "str {t2}, [{desc}, #16]",
            // abort_ip: 6f, or 7f (no signature before it), or 2
            "adr {t1}, 6f",
            "adr {t2}, 7f",
            "cmp {bad}, #1",
            "csel {t1}, {t2}, {t1}, eq",
            "mov {t2}, #2",
            "cmp {bad}, #2",
            "csel {t1}, {t2}, {t1}, eq",
            "str {t1}, [{desc}, #24]",
            // fault expectations: the brk at 5f resumes at 8f; or the
            // signal arrives at the abort handler
            "adr {t1}, 5f",
            "str {t1}, [{ctx}]",
            "adr {t1}, 8f",
            "str {t1}, [{ctx}, #8]",
            "adr {t1}, 6f",
            "str {t1}, [{ctx}, #16]",
            "str {desc}, [{area}, #{cs}]",
            "3:",
            "cbz {brk}, 8f",
            "5:",
            "brk #0",
            "8:",
            "subs {n}, {n}, #1",
            "b.ne 8b",
            "4:",
            "mov {res}, #0",
            "b 7f",
            ".inst {sig}",
            "6:",
            "mov {res}, #1",
            "7:",
            "str xzr, [{area}, #{cs}]",
            area = in(reg) area,
            desc = in(reg) desc,
            ctx = in(reg) ctx as *const FaultCtx as u64,
            cover = in(reg) cover as u64,
            brk = in(reg) brk as u64,
            bad = in(reg) bad,
            n = inout(reg) spins.max(1) => _,
            res = out(reg) res,
            t1 = out(reg) _,
            t2 = out(reg) _,
            t3 = out(reg) _,
            cs = const Rseq::RSEQ_CS_OFFSET,
            sig = const RSEQ_SIG,
        );
    }
    res
}

/// A real critical section with survivable oddities (any version/flags,
/// abort handler inside the section, a trap inside). Returns 1 if aborted.
pub fn cs_real(w: &mut Worker) -> i64 {
    let r = &mut w.rng;
    let desc = w.mem.desc + 32 * r.below(2);
    let version = pick!(r, [0, 0, 0, 1, r.next_u64() as u32]);
    let flags = pick!(r, [0, 0, 0, 1, 2, 4, u32::MAX]);
    // strict=1: only what rseq_debug=1 accepts.
    let (version, flags) = if w.strict { (0, 0) } else { (version, flags) };
    write_desc(desc, version, flags, 0, 0, 0);
    let spins = pick!(r, [1, 10, 100, 1000, 10_000, 100_000, r.range(1, 300_000)]);
    let cover = r.one_in(4) && !w.strict;
    let brk = r.one_in(4);
    w.fault.arm();
    // SAFETY: the worker's registered area, installed context and own
    // descriptor page; the descriptor is valid (bad = 0).
    let aborted = unsafe { critical_section(w.area, desc, &w.fault, spins, cover, brk, 0) };
    w.fault.disarm();
    stats::CS_LEGIT.inc();
    if aborted != 0 {
        stats::CS_ABORTED.inc();
    }
    if brk {
        stats::CS_FAULT_IN.inc();
        let (sig, how) = (
            w.fault.sig.load(Ordering::SeqCst),
            w.fault.how.load(Ordering::SeqCst),
        );
        // No signal at all is fine if the section was aborted (by an
        // interrupt) before reaching the brk.
        let fine = if sig == 0 {
            aborted != 0
        } else {
            sig == signal::SIGTRAP as u64 && how == 2 && aborted != 0
        };
        if !fine {
            anomaly(format_args!(
                "brk inside a critical section: signal {sig} delivered at {} (want SIGTRAP at the abort handler), aborted {aborted}",
                match how {
                    1 => "the brk",
                    2 => "the abort handler",
                    _ => "nowhere",
                }
            ));
        }
    }
    if get_rseq_cs() != 0 {
        anomaly(format_args!("rseq_cs not cleared after a critical section"));
        set_rseq_cs(0);
    }
    aborted as i64
}

/// One slice extension cycle: request, spin (sometimes far past the
/// slice, never yielding: the kernel must preempt), maybe a syscall
/// inside, then Linux's required end sequence. Returns how it ended:
/// 0 not granted, 1 yielded, 2 revoked.
pub fn slice_cycle(w: &mut Worker) -> i64 {
    let r = &mut w.rng;
    if r.one_in(8) {
        let _ = rt::rseq::slice_enable(!r.one_in(5));
    }
    let us = match r.below(10) {
        0..=3 => r.range(0, 5),
        4..=6 => r.range(5, 50),
        7 | 8 => r.range(50, 500),
        _ => {
            stats::SLICE_RUNAWAY.inc();
            r.range(1000, 4000)
        }
    };
    let mid_syscall = r.one_in(8);
    stats::SLICE_CYCLES.inc();
    rt::rseq::slice_request();
    spin_us(us);
    if mid_syscall {
        sys::getpid();
    }
    match rt::rseq::slice_end() {
        rt::rseq::SliceEnd::NotGranted => {
            stats::SLICE_NOT_GRANTED.inc();
            0
        }
        rt::rseq::SliceEnd::Yielded(y) => {
            stats::SLICE_YIELDED.inc();
            if !(0..=1).contains(&y) {
                anomaly(format_args!("rseq_slice_yield in a grant returned {y}"));
            }
            1
        }
        rt::rseq::SliceEnd::Revoked => {
            stats::SLICE_REVOKED.inc();
            2
        }
    }
}

// ---------------------------------------------------------------------------
// Other threads
// ---------------------------------------------------------------------------

/// What a short-lived runtime thread returns.
const MINI_RET: i32 = 42;

/// A descriptor no IP is ever inside (start above every instruction,
/// length 0; valid for `rseq_debug=1` too), never written.
static EMPTY_CS: [u64; 4] = [0, USER_UNMAPPED, 0, 0];

/// What a mini thread gets from its creator (who outlives it).
struct MiniArg {
    seed: u64,
    /// Mode 3: the thread's control block (`TPIDR_EL0`), so the creator
    /// can unmap its stack once it is dead.
    block: AtomicU64,
}

/// A runtime thread (registered by `rt`) making a few checked calls, then
/// exiting in one of several states (`seed % 8`): 1 with a slice request
/// pending, 2 with `rseq_cs` set, 3 with its clear-child-tid pointer
/// replaced by a bad one. `arg` points at a [`MiniArg`].
fn mini(arg: usize) -> i32 {
    // SAFETY: `spawn_mini` passes a MiniArg that lives until this thread
    // is dead.
    let arg = unsafe { &*(arg as *const MiniArg) };
    let mut rng = Rng::new(arg.seed, 0x313);
    let tid = thread::current_tid();
    for _ in 0..rng.range(4, 24) {
        match rng.below(7) {
            0 => {
                if sys::getpid() != 1 {
                    anomaly(format_args!("getpid != 1 in a new thread"));
                }
            }
            1 => {
                if sys::gettid() != tid {
                    anomaly(format_args!("gettid != {tid} in a new thread"));
                }
            }
            2 => {
                sys::sched_yield();
            }
            3 => {
                let _ = signal::tgkill(1, tid, signal::SIGUSR2);
            }
            4 => {
                let r = rt::rseq::register(rt::rseq::mode_len(), 0);
                if r != -errno::EBUSY {
                    anomaly(format_args!(
                        "re-registering a runtime thread gave {r}, want -EBUSY"
                    ));
                }
            }
            5 => {
                let _ = rt::rseq::slice_enable(rng.coin());
            }
            _ => spin_us(rng.below(50)),
        }
    }
    match arg.seed % 8 {
        1 => {
            let _ = rt::rseq::slice_enable(true);
            rt::rseq::slice_request();
            spin_us(rng.below(30));
        }
        2 => set_rseq_cs(EMPTY_CS.as_ptr() as u64),
        3 => {
            let bad = pick!(
                rng,
                [0, 8, KERNEL_IMAGE, USER_UNMAPPED, mem::shared_addr() + 64]
            );
            arg.block.store(thread::tpidr(), Ordering::SeqCst);
            sys::set_tid_address(bad as *mut u32);
        }
        _ => {}
    }
    MINI_RET
}

/// Spawns a runtime thread, pokes it (signals, affinity) while it runs
/// and exits, and joins it; 0 or the spawn's -errno.
pub fn spawn_mini(w: &mut Worker) -> i64 {
    let arg = MiniArg {
        seed: w.rng.next_u64(),
        block: AtomicU64::new(0),
    };
    let spawned = {
        let _g = crate::gate::shared();
        thread::spawn(mini, &arg as *const MiniArg as usize)
    };
    let h = match spawned {
        Ok(h) => h,
        Err(e) => return e,
    };
    stats::SPAWNED.inc();
    let tid = h.tid();
    for _ in 0..w.rng.below(16) {
        match w.rng.below(4) {
            0 => {
                let sig = pick!(w.rng, [signal::SIGUSR1, signal::SIGUSR2]);
                let _ = signal::tgkill(1, tid, sig);
            }
            1 => {
                let _ = sched::set_affinity_of(tid, 1 << w.rng.below(u64::from(w.nr_cpus)));
            }
            2 => {
                let _ = sched::get_affinity_of(tid);
            }
            _ => {
                sys::sched_yield();
            }
        }
    }
    w.dead_tid = tid;
    if arg.seed % 8 == 3 {
        // Nobody clears the runtime's tid word: wait for the death itself.
        let (start, freq) = sys::counter();
        while sys::tgkill(1, tid, 0) != -errno::ESRCH {
            if sched::ticks_to_ns(sys::counter().0 - start, freq) > 10_000_000_000 {
                anomaly(format_args!("thread {tid} did not die within 10 s"));
                // Leak its stack: it may still run.
                return 0;
            }
            sys::sched_yield();
        }
        // `join` would wait for the word forever: unmap the dead thread's
        // stack ourselves (rt's layout: DEFAULT_STACK_SIZE of stack, then
        // the page of the control block).
        let block = arg.block.load(Ordering::SeqCst);
        if block != 0 {
            let size = thread::DEFAULT_STACK_SIZE as u64;
            sys::munmap(block - size, size + mem::PAGE);
        }
        drop(h);
        return 0;
    }
    let r = crate::pause::join(h);
    if r != MINI_RET {
        anomaly(format_args!("a thread returned {r}, want {MINI_RET}"));
    }
    0
}

/// Room for test areas on a raw thread's stack.
#[repr(C, align(64))]
struct Areas(UnsafeCell<[u8; 256]>);

/// A raw clone (not registered by the runtime) that registers and
/// unregisters test areas on its own stack (never the runtime's workers'
/// areas), with every bad argument too, uses the slice extension, and
/// sometimes exits while registered.
fn raw_rseq(arg: usize) -> i32 {
    let mut rng = Rng::new(arg as u64, 0xa5ea);
    let areas = Areas(UnsafeCell::new([0; 256]));
    let base = areas.0.get() as u64;
    let own = rt::rseq::area() as u64;
    let len = rt::rseq::mode_len();
    let nr_cpus = crate::nr_cpus();
    // The registration: area, length, signature.
    let mut reg: Option<(u64, u32, u32)> = None;
    for _ in 0..rng.range(8, 40) {
        match rng.below(8) {
            0..=2 => {
                let ptr = match rng.below(10) {
                    0 | 1 => base,
                    2 => base + 64 * rng.range(1, 3),
                    3 => base + pick!(rng, [1, 8, 32]),
                    4 | 5 => own,
                    6 => 0,
                    7 => KERNEL_IMAGE,
                    8 => USER_UNMAPPED,
                    _ => mem::rodata_addr() & !63,
                };
                let l = pick!(rng, [len, len, len, 32, 33, 0, 31, 128, 65, u32::MAX]);
                let flags = pick!(rng, [0, 0, 0, 1, 1, 2, 3, 4, u32::MAX]);
                let sig = pick!(rng, [RSEQ_SIG, RSEQ_SIG, RSEQ_SIG, RSEQ_SIG ^ 1, 0]);
                let r = rt::rseq::sys_rseq(ptr, l, flags, sig);
                if r == 0 {
                    if flags & RSEQ_FLAG_UNREGISTER != 0 {
                        if reg != Some((ptr, l, sig)) {
                            anomaly(format_args!(
                                "unregistered {ptr:#x}/{l} while registered as {reg:x?}"
                            ));
                        }
                        reg = None;
                    } else {
                        if reg.is_some() {
                            anomaly(format_args!("registered {ptr:#x}/{l} over {reg:x?}"));
                        }
                        reg = Some((ptr, l, sig));
                        check_ids(ptr, nr_cpus);
                    }
                }
            }
            3 => {
                let _ = sys::prctl(
                    sys::PR_RSEQ_SLICE_EXTENSION,
                    pick!(rng, [1, 2, 2, 0, 3]),
                    pick!(rng, [0, 1, 1, 2]),
                    pick!(rng, [0, 0, 0, 1]),
                    0,
                );
            }
            4 if reg.is_some_and(|(p, _, _)| p == own) => {
                rt::rseq::slice_request();
                spin_us(rng.below(60));
                let _ = rt::rseq::slice_end();
            }
            5 => {
                sys::sched_yield();
            }
            6 => {
                let _ = sched::set_affinity(1 << rng.below(u64::from(nr_cpus)));
            }
            _ => {
                spin_us(rng.below(100));
                if let Some((p, _, _)) = reg {
                    check_ids(p, nr_cpus);
                }
            }
        }
    }
    if let Some((p, l, sig)) = reg
        && rng.coin()
    {
        let r = rt::rseq::sys_rseq(p, l, RSEQ_FLAG_UNREGISTER, sig);
        if r != 0 {
            anomaly(format_args!("unregistering {p:#x}/{l} failed: {r}"));
        }
    }
    // Otherwise: exit while registered, with the area on the stack that
    // `join` unmaps.
    0
}

/// The IDs of a registered area must be valid once back in user mode.
fn check_ids(area: u64, nr_cpus: u32) {
    // SAFETY: a registered area on the caller's stack; the kernel writes
    // it, we only read (volatile).
    let (cpu_id, mm_cid) = unsafe {
        (
            ((area + Rseq::CPU_ID_OFFSET as u64) as *const u32).read_volatile(),
            ((area + Rseq::MM_CID_OFFSET as u64) as *const u32).read_volatile(),
        )
    };
    if cpu_id >= nr_cpus || mm_cid >= 64 {
        anomaly(format_args!(
            "registered area {area:#x}: cpu_id {cpu_id}, mm_cid {mm_cid}"
        ));
    }
}

/// Spawns a raw registration-chaos thread and joins it.
pub fn spawn_raw(w: &mut Worker) -> i64 {
    let arg = w.rng.next_u64() as usize;
    let spawned = {
        let _g = crate::gate::shared();
        thread::spawn_with(clone_flags::THREAD_FLAGS, 64 * 1024, raw_rseq, arg)
    };
    match spawned {
        Ok(h) => {
            stats::RAW_THREADS.inc();
            let r = crate::pause::join(h);
            if r != 0 {
                anomaly(format_args!("raw rseq thread returned {r}"));
            }
            0
        }
        Err(e) => e,
    }
}

// ---------------------------------------------------------------------------
// deadly=1
// ---------------------------------------------------------------------------

/// A raw thread registering an area on a page it then unmaps, then
/// migrating: the kernel's ID update faults and must kill the app.
fn area_fault(_: usize) -> i32 {
    let Ok(page) = sys::mmap_anon(4096) else {
        return 1;
    };
    let page = page as u64;
    let r = rt::rseq::sys_rseq(page, rt::rseq::mode_len(), 0, RSEQ_SIG);
    sys::munmap(page, 4096);
    let here = sched::getcpu();
    let _ = sched::set_affinity(1 << ((here + 1) % crate::nr_cpus()));
    sys::sched_yield();
    spin_us(20_000);
    println!("fuzz: deadly: survived an unmapped rseq area (register {r})");
    0
}

/// How many kinds of deadly action there are.
pub const DEADLY_KINDS: u64 = 9;

/// One of the actions the kernel must answer by killing the app.
pub fn deadly(w: &mut Worker) -> i64 {
    let kind = match crate::config().deadly_kind {
        Some(k) => k,
        None => w.rng.below(DEADLY_KINDS),
    };
    println!(
        "fuzz: deadly action {kind} in thread {} (tid {})",
        w.idx, w.tid
    );
    match kind {
        0..=2 => {
            // rseq_cs unreachable: kernel, unmapped, straddling; then a
            // trap so the kernel looks at once.
            let at = match kind {
                0 => KERNEL_VA + 64,
                1 => USER_UNMAPPED,
                _ => w.mem.straddle(&mut w.rng, 32),
            };
            set_rseq_cs(at);
            let _ = crate::faults::fault(&w.fault, 6, w.mem.scratch, 0, w.tid);
            set_rseq_cs(0);
            println!("fuzz: deadly: survived rseq_cs = {at:#x}");
        }
        3 | 4 => {
            // A trap inside a section whose abort is invalid.
            write_desc(w.mem.desc, 0, 0, 0, 0, 0);
            w.fault.arm();
            // SAFETY: deliberately fatal (bad = 1 or 2): the kernel kills
            // the app when it aborts the section at the trap.
            unsafe { critical_section(w.area, w.mem.desc, &w.fault, 1, false, true, kind - 2) };
            w.fault.disarm();
            println!("fuzz: deadly: survived an abort without a valid abort_ip");
        }
        5 => {
            // Forge `granted` without a grant.
            let _ = rt::rseq::slice_enable(true);
            // SAFETY: the thread's own slice_ctrl word; forging it is the point.
            unsafe { rt::rseq::slice_ctrl_ptr().write_volatile(0x100) };
            let y = sys::rseq_slice_yield();
            // SAFETY: as above, undo.
            unsafe { rt::rseq::slice_ctrl_ptr().write_volatile(0) };
            println!("fuzz: deadly: survived a forged slice grant (rseq_slice_yield {y})");
        }
        6 => {
            let _ = thread::spawn_with(clone_flags::THREAD_FLAGS, 64 * 1024, area_fault, 0)
                .map(|h| h.join());
        }
        _ => {
            // A signal frame returning to EL1h, or without its FP/SIMD
            // record: rt_sigreturn must kill.
            w.fault.arm();
            w.fault.corrupt.store(kind - 6, Ordering::SeqCst);
            crate::faults::redirect(&w.fault, w.tid, KERNEL_IMAGE);
            w.fault.disarm();
            println!(
                "fuzz: deadly: survived a corrupt signal frame (fault signal {})",
                w.fault.sig.load(Ordering::SeqCst)
            );
        }
    }
    0
}
