//! `nanosleep-huge`: a sleep of 2^40 seconds, interrupted by a signal
//! after ~50 ms, must return `EINTR` with the time left: the request minus
//! the time slept, not a value wrapped or saturated somewhere in the
//! kernel's arithmetic (2^40 s is more nanoseconds, and more counter
//! ticks, than a u64 holds).

use core::ffi::c_void;
use core::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

use rt::sched::now_ns;
use rt::signal::{self, SigInfo};
use rt::sys::{self, Timespec, errno};
use rt::test::{MS, SEC, verdict, wait_for};
use rt::{println, sched, thread};

const REQ: Timespec = Timespec {
    tv_sec: 1 << 40,
    tv_nsec: 5,
};
/// How far `rem` may be from the request minus the time slept.
const TOLERANCE_NS: i128 = 2 * SEC as i128;

static SLEEPING: AtomicBool = AtomicBool::new(false);
static RESULT: AtomicI64 = AtomicI64::new(0);
static REM_SEC: AtomicI64 = AtomicI64::new(0);
static REM_NSEC: AtomicI64 = AtomicI64::new(0);
static SLEPT_NS: AtomicU64 = AtomicU64::new(0);

extern "C" fn on_usr1(_: i32, _: *mut SigInfo, _: *mut c_void) {}

fn sleeper(_: usize) -> i32 {
    let mut rem = Timespec {
        tv_sec: -1,
        tv_nsec: -1,
    };
    SLEEPING.store(true, Ordering::SeqCst);
    let t0 = now_ns();
    let r = sys::nanosleep(&REQ, Some(&mut rem));
    SLEPT_NS.store(now_ns() - t0, Ordering::SeqCst);
    REM_SEC.store(rem.tv_sec, Ordering::SeqCst);
    REM_NSEC.store(rem.tv_nsec, Ordering::SeqCst);
    RESULT.store(r, Ordering::SeqCst);
    0
}

pub fn run() -> i32 {
    println!(
        "isolation: nanosleep-huge: nanosleep({{{} s, {} ns}}) interrupted by SIGUSR1 after 50 ms",
        REQ.tv_sec, REQ.tv_nsec
    );
    // No SA_RESTART: the sleep must end with EINTR.
    if let Err(e) = signal::sigaction(signal::SIGUSR1, on_usr1, 0) {
        return verdict("nanosleep-huge", Some(format_args!("sigaction = {e}")));
    }
    let h = match thread::spawn(sleeper, 0) {
        Ok(h) => h,
        Err(e) => return verdict("nanosleep-huge", Some(format_args!("spawn = {e}"))),
    };
    wait_for(5 * SEC, || SLEEPING.load(Ordering::SeqCst));
    // A signal that lands before the sleeper enters nanosleep only runs
    // the handler; the next one interrupts the sleep.
    let mut sent = 0;
    for _ in 0..40 {
        sched::sleep_ns(50 * MS);
        let _ = signal::thread_kill(h.tid(), signal::SIGUSR1);
        sent += 1;
        if wait_for(50 * MS, || h.is_finished()) {
            break;
        }
    }
    if h.try_join(5 * SEC).is_err() {
        return verdict(
            "nanosleep-huge",
            Some(format_args!(
                "the sleeper was not interrupted by {sent} signals"
            )),
        );
    }
    let r = RESULT.load(Ordering::SeqCst);
    let rem = Timespec {
        tv_sec: REM_SEC.load(Ordering::SeqCst),
        tv_nsec: REM_NSEC.load(Ordering::SeqCst),
    };
    let slept = SLEPT_NS.load(Ordering::SeqCst);
    let ns = |t: &Timespec| t.tv_sec as i128 * SEC as i128 + t.tv_nsec as i128;
    let expected = ns(&REQ) - slept as i128;
    let off = ns(&rem) - expected;
    println!(
        "isolation: nanosleep = {r} after {} ms ({sent} signals); rem = {{{} s, {} ns}}, request minus time slept = {}.{:09} s",
        slept / MS,
        rem.tv_sec,
        rem.tv_nsec,
        expected / SEC as i128,
        expected % SEC as i128
    );
    if r != -errno::EINTR {
        return verdict(
            "nanosleep-huge",
            Some(format_args!("nanosleep = {r}, expected {}", -errno::EINTR)),
        );
    }
    let fields_ok = (REQ.tv_sec - 2..=REQ.tv_sec).contains(&rem.tv_sec)
        && (0..SEC as i64).contains(&rem.tv_nsec);
    if !fields_ok || off.abs() > TOLERANCE_NS {
        return verdict(
            "nanosleep-huge",
            Some(format_args!(
                "rem = {{{} s, {} ns}}, expected the request minus {} ms within 2 s",
                rem.tv_sec,
                rem.tv_nsec,
                slept / MS
            )),
        );
    }
    verdict("nanosleep-huge", None)
}
