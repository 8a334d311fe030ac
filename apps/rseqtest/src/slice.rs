//! The rseq time slice extension (DESIGN §4, v2 images; after Linux's
//! `Documentation/userspace-api/rseq.rst` and
//! `tools/testing/selftests/rseq/slice_test.c`).
//!
//! - `slice-prctl [disabled]`: `prctl(PR_RSEQ_SLICE_EXTENSION)` GET/SET,
//!   its EINVAL/ENXIO cases, the `flags` bits 4 (AVAILABLE) and 5
//!   (ENABLED), and registration with `RSEQ_FLAG_SLICE_EXT_DEFAULT_ON`
//!   (TEST slice-prctl). A v1 registration gets ENOTSUPP for SET and never
//!   the bits (TEST slice-v1-enotsupp), in a v1 image and, as on Linux, in
//!   a `linux` image, where an unregistered thread gets ENXIO, a 32-byte
//!   registration takes `RSEQ_FLAG_SLICE_EXT_DEFAULT_ON` without effect
//!   and a 64-byte one in the same app gets the extension; a v2 kernel
//!   booted with `rseq_slice_ext=0` answers ENOTSUPP too (`slice-prctl
//!   disabled`, TEST slice-disabled-enotsupp).
//! - `slice-test [yield|getpid] [CS_US]`: a worker and a noise thread pinned
//!   to one CPU. The noise thread sleeps ~1 ms at a time (the kernel rounds
//!   up to its tick); each wakeup makes the kernel want to preempt the
//!   worker. The worker spends almost all of its time in short critical
//!   sections (CS_US µs, default 3, spinning on the counter, no syscalls)
//!   with `slice_ctrl.request` set, then follows the required code flow:
//!   request still set → clear it; granted → `rseq_slice_yield()` (`yield`)
//!   or any other syscall, `getpid()` (`getpid`), which aborts the grant.
//!   The kernel's counters must agree with what the worker saw (TEST
//!   slice-test-yield / slice-test-getpid) and every grant must have ended
//!   exactly one way (TEST slice-accounting).
//! - `slice-expire [SLICE_US] [SLACK_US]`: the worker requests and never
//!   yields; the kernel's enforcement timer must end each grant within the
//!   slice length (SLICE_US, default 5, Linux's default `rseq_slice_us`)
//!   plus SLACK_US (default 20,000: QEMU's timer latency on the host's
//!   clock; on QEMU's instruction clock the latency is the switch's own
//!   instructions, and a slack of 100 µs holds): measured from the worker
//!   seeing `granted` to the noise thread running (TEST slice-expire).
//! - `slice-forge`: the thread sets `granted` itself and calls
//!   `rseq_slice_yield()`: the kernel kills it with SIGSEGV (status 139). A
//!   v1 kernel never looks at `slice_ctrl` and has no `rseq_slice_yield`
//!   (ENOSYS; TEST slice-forge-v1).

use core::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

use rt::rseq::{
    ORIG_RSEQ_SIZE, RSEQ_CS_FLAG_SLICE_EXT_AVAILABLE, RSEQ_CS_FLAG_SLICE_EXT_ENABLED,
    RSEQ_FLAG_SLICE_EXT_DEFAULT_ON, RSEQ_V2_SIZE,
};
use rt::sched::cpu_bit;
use rt::sys::{
    self, KStats, PR_RSEQ_SLICE_EXTENSION, PR_RSEQ_SLICE_EXTENSION_GET,
    PR_RSEQ_SLICE_EXTENSION_SET, RseqStats, clone_flags, errno,
};
use rt::test::{MS, SEC, check, status};
use rt::{println, sched, thread};

use crate::{is_linux, is_v1};

const AVAIL: u32 = RSEQ_CS_FLAG_SLICE_EXT_AVAILABLE;
const ENABLED: u32 = RSEQ_CS_FLAG_SLICE_EXT_ENABLED;
const BOTH: u32 = AVAIL | ENABLED;
const ENOTSUPP: i64 = -errno::ENOTSUPP;
const EINVAL: i64 = -errno::EINVAL;
const ENXIO: i64 = -errno::ENXIO;

/// The counter now (ticks) and its frequency (0 taken as 1 GHz).
#[inline(always)]
pub(crate) fn counter() -> u64 {
    sys::counter().0
}

/// The counter frequency in Hz.
pub(crate) fn freq() -> u64 {
    match sys::counter().1 {
        0 => SEC,
        f => f,
    }
}

/// Counter ticks to nanoseconds.
pub(crate) fn ticks_ns(ticks: u64) -> u64 {
    sched::ticks_to_ns(ticks, freq())
}

/// Nanoseconds to counter ticks (at least 1).
pub(crate) fn ns_ticks(ns: u64) -> u64 {
    sched::ns_to_ticks(ns, freq()).max(1)
}

/// Spins in EL0 (no syscalls) for `ticks` counter ticks from `from`.
#[inline(always)]
pub(crate) fn spin_ticks(from: u64, ticks: u64) {
    while counter().wrapping_sub(from) < ticks {
        core::hint::spin_loop();
    }
}

/// Nanoseconds shown as microseconds with one decimal.
pub(crate) struct Us(pub u64);

impl core::fmt::Display for Us {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}.{}", self.0 / 1000, (self.0 % 1000) / 100)
    }
}

/// The slice extension counters of `s` on one line.
pub(crate) fn print_slice_stats(what: &str, s: &RseqStats) {
    println!(
        "rseqtest: {what}: s_granted={} s_expired={} s_revoked={} s_yielded={} s_aborted={}",
        s.s_granted, s.s_expired, s.s_revoked, s.s_yielded, s.s_aborted
    );
}

/// The rseq counters (summed over CPUs) between two kstats reads.
pub(crate) fn stats_delta(
    before: &Result<KStats, i64>,
    after: &Result<KStats, i64>,
) -> Option<RseqStats> {
    match (before, after) {
        (Ok(b), Ok(a)) => Some(a.rseq_total().delta(&b.rseq_total())),
        _ => {
            println!("rseqtest: kstats failed: {before:?} / {after:?}");
            None
        }
    }
}

/// `s_granted == s_yielded + s_aborted + s_revoked`: every grant ended
/// exactly one way (holds once no grant is outstanding).
pub(crate) fn grants_balance(d: &RseqStats) -> bool {
    d.s_granted == d.s_yielded + d.s_aborted + d.s_revoked
}

/// The number of CPUs, whatever the caller's affinity
/// ([`sched::online_cpus`]), capped to librseq's slots.
pub(crate) fn online_cpus() -> u32 {
    sched::online_cpus().min(librseq::MAX_CPUS as u32)
}

/// The CPU the pinned scenarios use: 1 if there is one (Linux's test
/// avoids CPU 0 too), else 0.
fn test_cpu() -> u32 {
    if online_cpus() > 1 { 1 } else { 0 }
}

fn spawn_join(f: fn(usize) -> i32, arg: usize) -> i32 {
    match thread::spawn(f, arg) {
        Ok(h) => h.join(),
        Err(e) => {
            println!("rseqtest: spawn: {e}");
            -1
        }
    }
}

fn raw_spawn_join(f: fn(usize) -> i32, arg: usize) -> i32 {
    match thread::spawn_with(
        clone_flags::THREAD_FLAGS,
        thread::DEFAULT_STACK_SIZE,
        f,
        arg,
    ) {
        Ok(h) => h.join(),
        Err(e) => {
            println!("rseqtest: spawn_with: {e}");
            -1
        }
    }
}

// ---------------------------------------------------------------------------
// slice-prctl
// ---------------------------------------------------------------------------

fn pr(a2: u64, a3: u64, a4: u64, a5: u64) -> i64 {
    sys::prctl(PR_RSEQ_SLICE_EXTENSION, a2, a3, a4, a5)
}

/// Counts mismatches of one prctl case and prints it.
struct Cases {
    who: &'static str,
    bad: u32,
}

impl Cases {
    fn new(who: &'static str) -> Cases {
        Cases { who, bad: 0 }
    }

    fn eq(&mut self, what: &str, got: i64, want: i64) {
        let ok = got == want;
        println!(
            "rseqtest: {}: {what} = {got} (want {want}){}",
            self.who,
            if ok { "" } else { "  <-- wrong" }
        );
        self.bad += !ok as u32;
    }

    /// `flags & BOTH` must be `want`.
    fn flags(&mut self, what: &str, want: u32) {
        let f = rt::rseq::flags();
        let ok = f & BOTH == want;
        println!(
            "rseqtest: {}: {what}: flags {f:#x} (want bits 4/5 = {want:#x}){}",
            self.who,
            if ok { "" } else { "  <-- wrong" }
        );
        self.bad += !ok as u32;
    }
}

/// A raw clone (never registered): SET must fail with `want`.
fn unregistered_thread(want: usize) -> i32 {
    let mut c = Cases::new("unregistered thread");
    c.eq("SET enable", rt::rseq::slice_enable(true), want as i64);
    println!(
        "rseqtest: unregistered thread: GET = {} (registered {})",
        rt::rseq::slice_get(),
        rt::rseq::registered()
    );
    c.bad as i32
}

/// A raw clone that registers its own 32-byte area with
/// `RSEQ_FLAG_SLICE_EXT_DEFAULT_ON` in a `linux` image: taken, as Linux
/// takes it, and without effect (a v1 registration has no extension).
fn default_on_v1_thread(_: usize) -> i32 {
    let mut c = Cases::new("32-byte DEFAULT_ON thread");
    let r = rt::rseq::register(ORIG_RSEQ_SIZE, RSEQ_FLAG_SLICE_EXT_DEFAULT_ON);
    c.eq("rseq(32, RSEQ_FLAG_SLICE_EXT_DEFAULT_ON)", r, 0);
    if r != 0 {
        return c.bad as i32;
    }
    c.flags("after registration", 0);
    c.eq("GET", rt::rseq::slice_get(), 0);
    c.eq("SET enable", rt::rseq::slice_enable(true), ENOTSUPP);
    c.eq("unregister", rt::rseq::unregister(), 0);
    c.bad as i32
}

/// A raw clone that registers its own 64-byte area with
/// `RSEQ_FLAG_SLICE_EXT_DEFAULT_ON`.
fn default_on_thread(_: usize) -> i32 {
    let mut c = Cases::new("DEFAULT_ON thread");
    let r = rt::rseq::register(RSEQ_V2_SIZE, RSEQ_FLAG_SLICE_EXT_DEFAULT_ON);
    c.eq("rseq(64, RSEQ_FLAG_SLICE_EXT_DEFAULT_ON)", r, 0);
    if r != 0 {
        return c.bad as i32;
    }
    c.flags("after registration", BOTH);
    c.eq("GET", rt::rseq::slice_get(), 1);
    c.eq("SET disable", rt::rseq::slice_enable(false), 0);
    c.flags("after disable", AVAIL);
    c.eq("GET", rt::rseq::slice_get(), 0);
    c.eq("unregister", rt::rseq::unregister(), 0);
    c.eq(
        "SET enable after unregister",
        rt::rseq::slice_enable(true),
        ENXIO,
    );
    c.bad as i32
}

/// `slice-prctl [disabled]`.
pub fn prctl(disabled: bool) -> i32 {
    let f0 = rt::rseq::flags();
    if is_v1() {
        println!(
            "rseqtest: slice-prctl (v1): SET must be ENOTSUPP ({ENOTSUPP}); flags bits 4/5 stay clear"
        );
        let mut c = Cases::new("v1 main thread");
        c.flags("after registration", 0);
        c.eq("SET enable", rt::rseq::slice_enable(true), ENOTSUPP);
        c.flags("after SET", 0);
        // A v1 image has no extension at all (GET too is ENOTSUPP, as on a
        // Linux built without it); a `linux` image reports it disabled.
        c.eq(
            "GET",
            rt::rseq::slice_get(),
            if is_linux() { 0 } else { ENOTSUPP },
        );
        // In a `linux` image the registration, not the image, says no:
        // Linux checks for a registration (ENXIO) before its version, takes
        // DEFAULT_ON from a 32-byte registration without effect, and gives
        // a 64-byte registration of the same app the extension.
        let linux = if is_linux() {
            raw_spawn_join(unregistered_thread, ENXIO as usize)
                + raw_spawn_join(default_on_v1_thread, 0)
                + raw_spawn_join(default_on_thread, 0)
        } else {
            0
        };
        return status(check(
            "slice-v1-enotsupp",
            c.bad == 0 && linux == 0,
            format_args!(
                "{} wrong answers on the main thread, {linux} on the linux-image threads (flags at start {f0:#x})",
                c.bad
            ),
        ));
    }
    if disabled {
        println!(
            "rseqtest: slice-prctl disabled (v2, rseq_slice_ext=0): arg checks still EINVAL, then SET ENOTSUPP ({ENOTSUPP}) even unregistered; no flags bits"
        );
        let mut c = Cases::new("disabled");
        c.flags("after registration", 0);
        c.eq("SET enable", rt::rseq::slice_enable(true), ENOTSUPP);
        c.eq("SET disable", rt::rseq::slice_enable(false), ENOTSUPP);
        c.flags("after SET", 0);
        c.eq("arg2=3", pr(3, 0, 0, 0), EINVAL);
        c.eq(
            "SET arg4=1",
            pr(PR_RSEQ_SLICE_EXTENSION_SET, 1, 1, 0),
            EINVAL,
        );
        println!("rseqtest: disabled: GET = {}", rt::rseq::slice_get());
        let raw = raw_spawn_join(unregistered_thread, ENOTSUPP as usize);
        return status(check(
            "slice-disabled-enotsupp",
            c.bad == 0 && raw == 0,
            format_args!(
                "{} wrong answers on the main thread, unregistered thread {raw} (flags at start {f0:#x})",
                c.bad
            ),
        ));
    }
    println!(
        "rseqtest: slice-prctl (v2): GET/SET on the main thread, flags bits 4/5, EINVAL cases, ENXIO unregistered, RSEQ_FLAG_SLICE_EXT_DEFAULT_ON"
    );
    let mut c = Cases::new("main thread");
    c.flags("after registration", AVAIL);
    c.eq("GET", rt::rseq::slice_get(), 0);
    c.eq("SET enable", rt::rseq::slice_enable(true), 0);
    c.flags("after enable", BOTH);
    c.eq("GET", rt::rseq::slice_get(), 1);
    c.eq("SET enable again", rt::rseq::slice_enable(true), 0);
    c.eq("SET disable", rt::rseq::slice_enable(false), 0);
    c.flags("after disable", AVAIL);
    c.eq("GET", rt::rseq::slice_get(), 0);
    let set = PR_RSEQ_SLICE_EXTENSION_SET;
    let get = PR_RSEQ_SLICE_EXTENSION_GET;
    c.eq("arg2=3", pr(3, 0, 0, 0), EINVAL);
    c.eq("arg2=0", pr(0, 0, 0, 0), EINVAL);
    c.eq("SET arg3=2", pr(set, 2, 0, 0), EINVAL);
    c.eq("SET arg3=3", pr(set, 3, 0, 0), EINVAL);
    c.eq("GET arg3=1", pr(get, 1, 0, 0), EINVAL);
    c.eq("GET arg4=1", pr(get, 0, 1, 0), EINVAL);
    c.eq("GET arg5=1", pr(get, 0, 0, 1), EINVAL);
    c.eq("SET arg4=1", pr(set, 1, 1, 0), EINVAL);
    c.eq("SET arg5=1", pr(set, 1, 0, 1), EINVAL);
    c.flags("after the EINVAL cases", AVAIL);
    c.eq("GET", rt::rseq::slice_get(), 0);
    let raw = raw_spawn_join(unregistered_thread, ENXIO as usize);
    let def = raw_spawn_join(default_on_thread, 0);
    c.flags("main thread at the end", AVAIL);
    status(check(
        "slice-prctl",
        c.bad == 0 && raw == 0 && def == 0,
        format_args!(
            "{} wrong answers on the main thread, unregistered thread {raw}, DEFAULT_ON thread {def} (flags at start {f0:#x})",
            c.bad
        ),
    ))
}

// ---------------------------------------------------------------------------
// slice-test
// ---------------------------------------------------------------------------

static STOP: AtomicBool = AtomicBool::new(false);
static NOISE_READY: AtomicBool = AtomicBool::new(false);
static NOISE_WAKEUPS: AtomicU64 = AtomicU64::new(0);
/// Counter value of the noise thread's latest return from its sleep.
static NOISE_LAST_RUN: AtomicU64 = AtomicU64::new(0);
static NOISE_PINNED: AtomicBool = AtomicBool::new(false);

/// Sleeps ~1 ms at a time (after a 2 µs spin, like Linux's noise thread)
/// until [`STOP`]; records when it runs.
fn noise(cpu: usize) -> i32 {
    NOISE_PINNED.store(sched::pin(cpu as u32), Ordering::SeqCst);
    NOISE_READY.store(true, Ordering::SeqCst);
    let spin = ns_ticks(2_000);
    while !STOP.load(Ordering::SeqCst) {
        spin_ticks(counter(), spin);
        sched::sleep_ns(MS);
        NOISE_LAST_RUN.store(counter(), Ordering::SeqCst);
        NOISE_WAKEUPS.fetch_add(1, Ordering::SeqCst);
    }
    0
}

fn reset_noise() {
    STOP.store(false, Ordering::SeqCst);
    NOISE_READY.store(false, Ordering::SeqCst);
    NOISE_PINNED.store(false, Ordering::SeqCst);
    NOISE_WAKEUPS.store(0, Ordering::SeqCst);
    NOISE_LAST_RUN.store(0, Ordering::SeqCst);
}

/// What the slice-test worker saw.
#[derive(Default)]
struct Seen {
    total: AtomicU64,
    not_granted: AtomicU64,
    granted_seen: AtomicU64,
    revoked_seen: AtomicU64,
    yielded: AtomicU64,
    yield_late: AtomicU64,
    yield_err: AtomicU64,
    aborted_by_me: AtomicU64,
    enable: AtomicI64,
    pinned: AtomicBool,
}

static SEEN: Seen = Seen {
    total: AtomicU64::new(0),
    not_granted: AtomicU64::new(0),
    granted_seen: AtomicU64::new(0),
    revoked_seen: AtomicU64::new(0),
    yielded: AtomicU64::new(0),
    yield_late: AtomicU64::new(0),
    yield_err: AtomicU64::new(0),
    aborted_by_me: AtomicU64::new(0),
    enable: AtomicI64::new(0),
    pinned: AtomicBool::new(false),
};

/// `arg` = (use_getpid << 32) | cs_ns.
fn slice_worker(arg: usize) -> i32 {
    let getpid = arg >> 32 != 0;
    let cs = ns_ticks((arg & 0xffff_ffff) as u64);
    SEEN.pinned.store(sched::pin(test_cpu()), Ordering::SeqCst);
    let r = rt::rseq::slice_enable(true);
    SEEN.enable.store(r, Ordering::SeqCst);
    if r != 0 {
        STOP.store(true, Ordering::SeqCst);
        return 1;
    }
    while !NOISE_READY.load(Ordering::SeqCst) {
        sched::yield_now();
    }
    let (mut total, mut not_granted, mut granted, mut revoked) = (0u64, 0u64, 0u64, 0u64);
    let (mut yielded, mut late, mut err, mut aborted) = (0u64, 0u64, 0u64, 0u64);
    let deadline = counter() + ns_ticks(SEC);
    loop {
        let t = counter();
        if t >= deadline {
            break;
        }
        total += 1;
        rt::rseq::slice_request();
        spin_ticks(t, cs);
        if rt::rseq::slice_test_and_clear_request() {
            not_granted += 1;
        } else if rt::rseq::slice_granted() {
            granted += 1;
            if getpid {
                sys::getpid();
                aborted += 1;
            } else {
                match sys::rseq_slice_yield() {
                    1 => yielded += 1,
                    0 => late += 1,
                    _ => err += 1,
                }
            }
        } else {
            revoked += 1;
        }
    }
    let _ = rt::rseq::slice_enable(false);
    STOP.store(true, Ordering::SeqCst);
    let s = &SEEN;
    s.total.store(total, Ordering::SeqCst);
    s.not_granted.store(not_granted, Ordering::SeqCst);
    s.granted_seen.store(granted, Ordering::SeqCst);
    s.revoked_seen.store(revoked, Ordering::SeqCst);
    s.yielded.store(yielded, Ordering::SeqCst);
    s.yield_late.store(late, Ordering::SeqCst);
    s.yield_err.store(err, Ordering::SeqCst);
    s.aborted_by_me.store(aborted, Ordering::SeqCst);
    0
}

/// `slice-test [yield|getpid] [CS_US]`.
pub fn test(variant: &str, cs_us: Option<u64>) -> i32 {
    let getpid = match variant {
        "" | "yield" => false,
        "getpid" => true,
        other => {
            println!("rseqtest: slice-test: unknown variant `{other}` (yield | getpid)");
            return 2;
        }
    };
    let name = if getpid {
        "slice-test-getpid"
    } else {
        "slice-test-yield"
    };
    let cs_ns = cs_us.unwrap_or(3).clamp(1, 1000) * 1000;
    let cpu = test_cpu();
    println!(
        "rseqtest: {name} ({}): worker + noise pinned to CPU {cpu}; 1 s of {}.{} µs critical sections with slice_ctrl.request set; noise sleeps 1 ms; after each: {}",
        rt::rseq::mode_name(),
        cs_ns / 1000,
        (cs_ns % 1000) / 100,
        if getpid {
            "granted -> getpid() (aborts the grant)"
        } else {
            "granted -> rseq_slice_yield()"
        }
    );
    reset_noise();
    let _ = sched::set_affinity(cpu_bit(0));
    let before = sys::kstats();
    let n = thread::spawn(noise, cpu as usize);
    let w = thread::spawn(slice_worker, ((getpid as usize) << 32) | cs_ns as usize);
    let wret = match w {
        Ok(h) => h.join(),
        Err(e) => {
            println!("rseqtest: spawn: {e}");
            STOP.store(true, Ordering::SeqCst);
            -1
        }
    };
    let nret = n.map(|h| h.join());
    let after = sys::kstats();
    let s = &SEEN;
    let ld = |a: &AtomicU64| a.load(Ordering::SeqCst);
    let (total, not_granted, granted, revoked) = (
        ld(&s.total),
        ld(&s.not_granted),
        ld(&s.granted_seen),
        ld(&s.revoked_seen),
    );
    let (yielded, late, err, aborted) = (
        ld(&s.yielded),
        ld(&s.yield_late),
        ld(&s.yield_err),
        ld(&s.aborted_by_me),
    );
    let enable = s.enable.load(Ordering::SeqCst);
    let pinned = s.pinned.load(Ordering::SeqCst) && NOISE_PINNED.load(Ordering::SeqCst);
    println!(
        "rseqtest: worker -> {wret} (prctl enable {enable}), noise -> {nret:?} ({} wakeups), pinned {pinned}",
        ld(&NOISE_WAKEUPS)
    );
    println!(
        "rseqtest: total={total} not_granted={not_granted} granted_seen={granted} revoked_seen={revoked} yielded={yielded} yield_late={late} yield_err={err} aborted_by_me={aborted}"
    );
    let Some(d) = stats_delta(&before, &after) else {
        check(name, false, format_args!("kstats failed"));
        return 1;
    };
    print_slice_stats("kernel delta", &d);
    let setup = wret == 0 && enable == 0 && nret == Ok(0);
    // getpid: every getpid made inside a grant ends it as an abort, except
    // when the enforcement timer revoked the grant between our read of
    // `granted` and the syscall (an unavoidable race, seed 002): so the
    // aborts are at least one and at most our getpids, and nothing yielded.
    let variant_ok = if getpid {
        d.s_aborted >= 1 && d.s_aborted <= aborted && d.s_yielded == 0
    } else {
        d.s_yielded == yielded && err == 0
    };
    let mut ok = check(
        name,
        setup && granted >= 1 && variant_ok,
        format_args!(
            "worker {wret} (prctl {enable}), noise {nret:?}, granted_seen {granted} (want >= 1), {}",
            if getpid {
                "want 1 <= s_aborted <= aborted_by_me and s_yielded == 0"
            } else {
                "want s_yielded == yielded and no yield errors"
            }
        ),
    );
    ok &= check(
        "slice-accounting",
        setup && grants_balance(&d) && d.s_granted >= granted,
        format_args!(
            "s_granted {} vs s_yielded {} + s_aborted {} + s_revoked {}, granted_seen {granted}",
            d.s_granted, d.s_yielded, d.s_aborted, d.s_revoked
        ),
    );
    status(ok)
}

// ---------------------------------------------------------------------------
// slice-expire
// ---------------------------------------------------------------------------

const EXPIRE_ROUNDS: usize = 10;
/// Rounds that must show enforcement: a measured latency within the bound,
/// or a grant already revoked (the timer fired) before the worker's first
/// poll, which under emulation happens with short slices. Two are enough.
const MIN_MEASURED: u64 = 2;

/// Grant-to-noise-run latencies (ns) of the rounds, 0 = no measurement.
static LATENCY: [AtomicU64; EXPIRE_ROUNDS] = [const { AtomicU64::new(0) }; EXPIRE_ROUNDS];
static MEASURED: AtomicU64 = AtomicU64::new(0);
static NO_GRANT: AtomicU64 = AtomicU64::new(0);
static MISSED: AtomicU64 = AtomicU64::new(0);
static STILL_GRANTED: AtomicU64 = AtomicU64::new(0);
static EXP_ENABLE: AtomicI64 = AtomicI64::new(0);

fn expire_worker(_: usize) -> i32 {
    let pinned = sched::pin(test_cpu());
    let r = rt::rseq::slice_enable(true);
    EXP_ENABLE.store(r, Ordering::SeqCst);
    if r != 0 {
        STOP.store(true, Ordering::SeqCst);
        return 1;
    }
    while !NOISE_READY.load(Ordering::SeqCst) {
        sched::yield_now();
    }
    let budget = ns_ticks(800 * MS);
    let wait_grant = ns_ticks(60 * MS);
    let wait_run = ns_ticks(100 * MS);
    let start = counter();
    let (mut measured, mut no_grant, mut missed, mut still) = (0u64, 0u64, 0u64, 0u64);
    for lat in LATENCY.iter() {
        if counter() - start > budget {
            break;
        }
        rt::rseq::slice_request();
        // Poll (no syscalls) until the kernel grants.
        let t0 = counter();
        let mut granted = false;
        while counter() - t0 < wait_grant {
            if rt::rseq::slice_granted() {
                granted = true;
                break;
            }
            if !rt::rseq::slice_requested() {
                break;
            }
            core::hint::spin_loop();
        }
        if !granted {
            if rt::rseq::slice_test_and_clear_request() {
                no_grant += 1;
            } else {
                // Granted and revoked before we looked.
                missed += 1;
            }
            continue;
        }
        let t_grant = counter();
        // Never yield: keep spinning until the noise thread has run.
        while counter() - t_grant < wait_run && NOISE_LAST_RUN.load(Ordering::SeqCst) <= t_grant {
            core::hint::spin_loop();
        }
        let t_run = NOISE_LAST_RUN.load(Ordering::SeqCst);
        if rt::rseq::slice_granted() {
            still += 1;
        }
        let _ = rt::rseq::slice_test_and_clear_request();
        if t_run > t_grant {
            lat.store(ticks_ns(t_run - t_grant).max(1), Ordering::SeqCst);
            measured += 1;
        } else {
            // The noise thread never ran within 100 ms: the grant was not
            // enforced.
            lat.store(ticks_ns(counter() - t_grant).max(1), Ordering::SeqCst);
            measured += 1;
        }
    }
    let _ = rt::rseq::slice_enable(false);
    STOP.store(true, Ordering::SeqCst);
    MEASURED.store(measured, Ordering::SeqCst);
    NO_GRANT.store(no_grant, Ordering::SeqCst);
    MISSED.store(missed, Ordering::SeqCst);
    STILL_GRANTED.store(still, Ordering::SeqCst);
    if pinned { 0 } else { 2 }
}

/// `slice-expire [SLICE_US] [SLACK_US]`.
pub fn expire(slice_us: Option<u64>, slack_us: Option<u64>) -> i32 {
    let slice_ns = slice_us.unwrap_or(5).clamp(1, 1000) * 1000;
    let slack_ns = slack_us.unwrap_or(20_000).clamp(1, 1_000_000) * 1000;
    let bound = slice_ns + slack_ns;
    let cpu = test_cpu();
    println!(
        "rseqtest: slice-expire ({}): worker + noise pinned to CPU {cpu}; the worker requests and never yields; up to {EXPIRE_ROUNDS} rounds: latency from seeing `granted` to the noise thread running must be <= {} µs (slice) + {} µs; s_expired >= 1",
        rt::rseq::mode_name(),
        slice_ns / 1000,
        slack_ns / 1000
    );
    reset_noise();
    for l in LATENCY.iter() {
        l.store(0, Ordering::SeqCst);
    }
    let _ = sched::set_affinity(cpu_bit(0));
    let before = sys::kstats();
    let n = thread::spawn(noise, cpu as usize);
    let wret = spawn_join(expire_worker, 0);
    STOP.store(true, Ordering::SeqCst);
    let nret = n.map(|h| h.join());
    let after = sys::kstats();
    let ld = |a: &AtomicU64| a.load(Ordering::SeqCst);
    let (measured, no_grant, missed, still) = (
        ld(&MEASURED),
        ld(&NO_GRANT),
        ld(&MISSED),
        ld(&STILL_GRANTED),
    );
    let enable = EXP_ENABLE.load(Ordering::SeqCst);
    let mut max = 0;
    let mut over = 0;
    for (i, l) in LATENCY.iter().enumerate() {
        let ns = ld(l);
        if ns == 0 {
            continue;
        }
        println!(
            "rseqtest: round {i}: grant -> noise ran after {} µs{}",
            Us(ns),
            if ns > bound {
                "  <-- over the bound"
            } else {
                ""
            }
        );
        max = max.max(ns);
        over += (ns > bound) as u64;
    }
    println!(
        "rseqtest: worker -> {wret} (prctl enable {enable}), noise -> {nret:?} ({} wakeups, pinned {}); {measured} rounds measured, {no_grant} without a grant, {missed} revoked before seen, {still} still granted after the noise ran; max latency {} µs (bound {} µs)",
        ld(&NOISE_WAKEUPS),
        NOISE_PINNED.load(Ordering::SeqCst),
        Us(max),
        Us(bound)
    );
    let Some(d) = stats_delta(&before, &after) else {
        check("slice-expire", false, format_args!("kstats failed"));
        return 1;
    };
    print_slice_stats("kernel delta", &d);
    status(check(
        "slice-expire",
        wret == 0
            && nret == Ok(0)
            && measured + missed >= MIN_MEASURED
            && over == 0
            && still == 0
            && d.s_expired >= 1
            && grants_balance(&d),
        format_args!(
            "worker {wret} (prctl {enable}), noise {nret:?}, {measured} rounds measured + {missed} revoked before seen (want >= {}), {over} over the bound, max {} µs, {still} still granted, s_expired {} (want >= 1), s_granted {} vs yielded {} + aborted {} + revoked {}",
            MIN_MEASURED,
            Us(max),
            d.s_expired,
            d.s_granted,
            d.s_yielded,
            d.s_aborted,
            d.s_revoked
        ),
    ))
}

// ---------------------------------------------------------------------------
// slice-forge
// ---------------------------------------------------------------------------

/// `slice-forge`: expected to be killed (139) in a v2 image.
pub fn forge() -> i32 {
    let r = rt::rseq::slice_enable(true);
    if is_v1() {
        println!(
            "rseqtest: slice-forge (v1): prctl SET = {r} (want {ENOTSUPP}); a v1 kernel never reads slice_ctrl: forging it is harmless"
        );
    } else {
        println!(
            "rseqtest: slice-forge (v2): prctl SET = {r}, flags {:#x}; setting granted = 1 without a grant, then rseq_slice_yield(): expect SIGSEGV",
            rt::rseq::flags()
        );
        if r != 0 {
            return status(check(
                "slice-forge",
                false,
                format_args!("prctl SET enable = {r}"),
            ));
        }
    }
    println!("rseqtest: forging slice_ctrl.granted");
    let ctrl = rt::rseq::slice_ctrl_ptr();
    // SAFETY: the thread's own slice_ctrl word; forging it is the test.
    unsafe { core::ptr::write_volatile(ctrl, 0x100) };
    core::sync::atomic::compiler_fence(Ordering::SeqCst);
    let y = sys::rseq_slice_yield();
    let after = rt::rseq::slice_ctrl();
    // SAFETY: as above; clean up for the v1 case.
    unsafe { core::ptr::write_volatile(ctrl, 0) };
    if is_v1() {
        println!("rseqtest: survived: rseq_slice_yield = {y}, slice_ctrl {after:#x}");
        // No rseq_slice_yield in a v1 image (ENOSYS, as on a Linux built
        // without the extension); in a `linux` image it ignores a v1
        // registration.
        let want_y = if is_linux() { 0 } else { -errno::ENOSYS };
        return status(check(
            "slice-forge-v1",
            r == ENOTSUPP && y == want_y,
            format_args!(
                "prctl SET = {r} (want {ENOTSUPP}), rseq_slice_yield = {y} (want {want_y})"
            ),
        ));
    }
    status(check(
        "slice-forge",
        false,
        format_args!(
            "survived a forged grant: rseq_slice_yield = {y}, slice_ctrl afterwards {after:#x}"
        ),
    ))
}
