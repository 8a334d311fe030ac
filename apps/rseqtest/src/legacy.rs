//! `legacy-check`: what the kernel does with a `cpu_id_start` the thread
//! overwrote itself (0xDEADBEEF, what TCMalloc does with its slab cache).
//!
//! v1 (legacy): the kernel rewrites the IDs on every context switch, before
//! every signal handler and on every membarrier-RSEQ IPI, so pinned to one
//! CPU the forged value is replaced by the CPU number after a 10 ms sleep
//! (`legacy-sleep`), inside a signal handler (`legacy-signal`), and while
//! the thread spins in EL0 and another thread sends
//! `membarrier(PRIVATE_EXPEDITED_RSEQ, FLAG_CPU, our CPU)`
//! (`legacy-membarrier`). Exit 0.
//!
//! v2 (optimized): IDs are written only when they change, so after the
//! sleep, in the handler and after membarrier IPIs the forged value is
//! still there (`v2-no-rewrite`); then the thread migrates, the kernel
//! must update the IDs, finds the read-only field overwritten and kills
//! the app: `[kill] ... signal=SIGSEGV ... what="rseq: read-only field
//! cpu_id_start overwritten..."`, exit 139.

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use rt::sched::cpu_bit;
use rt::signal::{self, SigInfo};
use rt::sys::{self, membarrier_cmd as mb};
use rt::test::{MS, SEC, check, spin_until, status};
use rt::{println, sched, thread};

use crate::{is_v1, nr_cpus};

const FORGED: u32 = 0xDEAD_BEEF;

static HANDLER_SAW: AtomicU32 = AtomicU32::new(0);
static HELPER_READY: AtomicBool = AtomicBool::new(false);
static FORGE_DONE: AtomicBool = AtomicBool::new(false);
static HELPER_STOP: AtomicBool = AtomicBool::new(false);
static IPIS_SENT: AtomicU64 = AtomicU64::new(0);
static HELPER_ERR: AtomicU64 = AtomicU64::new(0);

fn write_cpu_id_start(v: u32) {
    let area = rt::rseq::area();
    // SAFETY: the thread's own area; a volatile aligned 32-bit store, as
    // TCMalloc's store into the word overlapping cpu_id_start.
    unsafe { core::ptr::write_volatile(&raw mut (*area).cpu_id_start, v) };
}

fn forge() {
    write_cpu_id_start(FORGED);
}

extern "C" fn on_usr1(_sig: i32, _info: *mut SigInfo, _uc: *mut core::ffi::c_void) {
    HANDLER_SAW.store(rt::rseq::cpu_id_start(), Ordering::SeqCst);
}

/// Pinned to CPU `arg`: once the main thread has forged its value, sends
/// membarrier(PRIVATE_EXPEDITED_RSEQ, FLAG_CPU, target) every ~2 ms until
/// told to stop. `target` is in the upper half of `arg`.
fn helper(arg: usize) -> i32 {
    let (own, target) = ((arg & 0xffff) as u32, (arg >> 16) as i32);
    if sched::set_affinity(cpu_bit(own)).is_err() {
        HELPER_ERR.store(1, Ordering::SeqCst);
    }
    HELPER_READY.store(true, Ordering::SeqCst);
    while !FORGE_DONE.load(Ordering::SeqCst) && !HELPER_STOP.load(Ordering::SeqCst) {
        sched::yield_now();
    }
    while !HELPER_STOP.load(Ordering::SeqCst) {
        let r = sys::membarrier(mb::PRIVATE_EXPEDITED_RSEQ, mb::FLAG_CPU, target);
        if r == 0 {
            IPIS_SENT.fetch_add(1, Ordering::SeqCst);
        } else {
            HELPER_ERR.store(r.unsigned_abs(), Ordering::SeqCst);
        }
        sched::sleep_ns(2 * MS);
    }
    0
}

/// Forges, lets the (already running) helper send membarrier IPIs to `cpu`
/// while this thread spins in EL0; returns (value seen, IPIs to `cpu` by
/// kstats, context switches on `cpu` by kstats, IPIs the helper sent). In
/// v1 stops at the first rewrite; in v2 waits for at least 3 IPIs.
fn membarrier_round(cpu: u32) -> (u32, Option<u64>, Option<u64>, u64) {
    let k0 = sys::kstats().ok();
    forge();
    FORGE_DONE.store(true, Ordering::SeqCst);
    // EL0 only from here to the end of the wait: no syscalls.
    if is_v1() {
        spin_until(2 * SEC, || rt::rseq::cpu_id_start() != FORGED);
        // The helper counts its call only once membarrier has returned.
        spin_until(SEC, || IPIS_SENT.load(Ordering::SeqCst) >= 1);
    } else {
        spin_until(2 * SEC, || IPIS_SENT.load(Ordering::SeqCst) >= 3);
        spin_until(5 * MS, || false);
    }
    let seen = rt::rseq::cpu_id_start();
    let k1 = sys::kstats().ok();
    HELPER_STOP.store(true, Ordering::SeqCst);
    let (ipis, switches) = match (k0, k1) {
        (Some(a), Some(b)) => (
            Some(b.membarrier_ipis[cpu as usize] - a.membarrier_ipis[cpu as usize]),
            Some(b.context_switches[cpu as usize] - a.context_switches[cpu as usize]),
        ),
        _ => (None, None),
    };
    (seen, ipis, switches, IPIS_SENT.load(Ordering::SeqCst))
}

pub fn run() -> i32 {
    let nr = nr_cpus();
    let cpu = if nr > 1 { 1 } else { 0 };
    let other = if nr > 2 { 2 } else { 0 };
    let v1 = is_v1();
    println!(
        "rseqtest: legacy-check ({}): pinned to CPU {cpu}, cpu_id_start forged to {FORGED:#x}; after a 10 ms sleep, in a signal handler, during membarrier IPIs from CPU {other}: {}",
        rt::rseq::mode_name(),
        if v1 {
            "the kernel must have rewritten it each time"
        } else {
            "the kernel must leave it alone; then migrating must get the app killed"
        }
    );
    if let Err(e) = sched::set_affinity(cpu_bit(cpu)) {
        println!("rseqtest: set_affinity: {e}");
        return 1;
    }
    if signal::sigaction(signal::SIGUSR1, on_usr1, 0).is_err() {
        println!("rseqtest: sigaction failed");
        return 1;
    }
    let r = sys::membarrier(mb::REGISTER_PRIVATE_EXPEDITED_RSEQ, 0, 0);
    if r != 0 {
        println!("rseqtest: membarrier register = {r}");
    }
    // The membarrier helper starts first, so that thread creation (and any
    // mm_cid reshuffle it causes) happens before anything is forged.
    let helper_handle = thread::spawn(helper, other as usize | ((cpu as usize) << 16)).ok();
    rt::test::wait_for(2 * SEC, || HELPER_READY.load(Ordering::SeqCst));
    sched::sleep_ns(10 * MS);
    println!(
        "rseqtest: on CPU {}: cpu_id_start {} cpu_id {} mm_cid {}",
        sched::getcpu(),
        rt::rseq::cpu_id_start(),
        rt::rseq::cpu_id(),
        rt::rseq::mm_cid()
    );

    // 1. A sleep: switched out and back in.
    forge();
    sched::sleep_ns(10 * MS);
    let after_sleep = rt::rseq::cpu_id_start();
    println!("rseqtest: after a 10 ms sleep: cpu_id_start = {after_sleep:#x}");

    // 2. A signal to self.
    forge();
    HANDLER_SAW.store(0, Ordering::SeqCst);
    let raised = signal::raise(signal::SIGUSR1);
    let in_handler = HANDLER_SAW.load(Ordering::SeqCst);
    println!(
        "rseqtest: raise(SIGUSR1) = {raised:?}; in the handler cpu_id_start = {in_handler:#x}"
    );

    // 3. membarrier IPIs while we spin in EL0 (first putting back the value
    // the kernel wrote, so only this round's forgery is in place).
    write_cpu_id_start(cpu);
    let (after_ipi, ipis, switches, sent) = membarrier_round(cpu);
    if let Some(h) = helper_handle {
        h.join();
    }
    println!(
        "rseqtest: during membarrier(RSEQ, FLAG_CPU, {cpu}) from CPU {other}: cpu_id_start = {after_ipi:#x}; helper sent {sent} (error {}), kstats: {ipis:?} IPIs to CPU {cpu}, {switches:?} context switches there",
        HELPER_ERR.load(Ordering::SeqCst)
    );
    let ipi_seen = ipis.is_none_or(|n| n >= 1);

    if v1 {
        let mut ok = check(
            "legacy-sleep",
            after_sleep == cpu,
            format_args!("cpu_id_start {after_sleep:#x} after the sleep, want {cpu}"),
        );
        ok &= check(
            "legacy-signal",
            raised.is_ok() && in_handler == cpu,
            format_args!("raise {raised:?}, handler saw {in_handler:#x}, want {cpu}"),
        );
        ok &= check(
            "legacy-membarrier",
            after_ipi == cpu && sent >= 1 && ipi_seen,
            format_args!(
                "cpu_id_start {after_ipi:#x}, want {cpu}; {sent} membarriers sent, kstats IPIs {ipis:?}, switches {switches:?}"
            ),
        );
        return status(ok);
    }

    let ok = check(
        "v2-no-rewrite",
        after_sleep == FORGED
            && raised.is_ok()
            && in_handler == FORGED
            && after_ipi == FORGED
            && sent >= 1
            && ipi_seen,
        format_args!(
            "want {FORGED:#x} everywhere: after sleep {after_sleep:#x}, in handler {in_handler:#x} (raise {raised:?}), after {sent} membarrier IPIs {after_ipi:#x} (kstats {ipis:?})"
        ),
    );
    if !ok {
        return 1;
    }
    println!("rseqtest: migrating with a forged cpu_id_start");
    let r = sched::set_affinity(cpu_bit(other));
    sched::yield_now();
    check(
        "v2-kill",
        false,
        format_args!(
            "still alive after migrating to CPU {other} (set_affinity {r:?}, getcpu {}, cpu_id_start {:#x}): the kernel must kill the app",
            sched::getcpu(),
            rt::rseq::cpu_id_start()
        ),
    );
    1
}
