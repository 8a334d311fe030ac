//! `rseq-refusals`: refused rseq registrations must not flood the
//! kernel's console.
//!
//! The kernel explains one refusal at the default log level, the one whose
//! errno says nothing a user could act on: a registration length that
//! contradicts the image's rseq mode. Every other refusal (bad flags,
//! length or alignment, already registered, wrong signature, ...) is
//! Linux's and only logged at `loglevel=8`. So about a thousand such
//! refusals, many of them with the 32-byte length of the other mode, plus
//! exactly one real mode mismatch (a fresh, unregistered thread asking for
//! 32 bytes on this v2 image) must give exactly one `[rseq] tid` line,
//! which the scenario counts. Each refusal must also return Linux's errno.

use core::sync::atomic::{AtomicU64, Ordering};

use rt::println;
use rt::rseq::{self as rr, RSEQ_FLAG_UNREGISTER, RSEQ_SIG};
use rt::sys::errno::{EBUSY, EFAULT, EINVAL, EPERM};
use rt::test::verdict;
use rt::thread;

/// Refusals to make in all, about.
const TOTAL: u64 = 1000;

/// A second, never registered area.
#[repr(C, align(64))]
struct Area([u8; 64]);
static OTHER: Area = Area([0; 64]);

/// Refusals made so far, and the first one that returned the wrong errno
/// (its case number + 1; 0 if none).
static MADE: AtomicU64 = AtomicU64::new(0);
static WRONG: AtomicU64 = AtomicU64::new(0);
static WRONG_GOT: AtomicU64 = AtomicU64::new(0);

/// One case: `rseq(ptr, len, flags, sig)` must return `-errno`.
struct Case {
    ptr: u64,
    len: u32,
    flags: u32,
    sig: u32,
    errno: i64,
}

/// A [`Case`], positionally.
const fn case(ptr: u64, len: u32, flags: u32, sig: u32, errno: i64) -> Case {
    Case {
        ptr,
        len,
        flags,
        sig,
        errno,
    }
}

fn refuse(case_no: u64, c: &Case) {
    let got = rr::sys_rseq(c.ptr, c.len, c.flags, c.sig);
    MADE.fetch_add(1, Ordering::Relaxed);
    if got != -c.errno && WRONG.load(Ordering::Relaxed) == 0 {
        WRONG.store(case_no + 1, Ordering::Relaxed);
        WRONG_GOT.store(got as u64, Ordering::Relaxed);
    }
}

/// Bad flags: bits 2..31 (bit 0 is UNREGISTER, bit 1 SLICE_EXT_DEFAULT_ON).
fn bad_flag(i: u64) -> u32 {
    1 << (2 + i % 30)
}

/// The registered main thread's refusals.
fn registered_cases(i: u64) -> [Case; 9] {
    let a = rr::area() as u64;
    let other = OTHER.0.as_ptr() as u64;
    [
        case(a, 64, bad_flag(i), RSEQ_SIG, EINVAL),
        case(a, 32, 0, RSEQ_SIG, EINVAL),
        case(other, 32, 0, RSEQ_SIG, EINVAL),
        case(a + 8, 32, 0, RSEQ_SIG, EINVAL),
        case(a, 31, 0, RSEQ_SIG, EINVAL),
        case(a, 64, 0, RSEQ_SIG ^ 1, EPERM),
        case(a, 64, 0, RSEQ_SIG, EBUSY),
        case(a, 32, RSEQ_FLAG_UNREGISTER, RSEQ_SIG, EINVAL),
        case(other, 64, RSEQ_FLAG_UNREGISTER, RSEQ_SIG, EINVAL),
    ]
}

/// An unregistered thread's refusals (none of them a mode mismatch).
fn unregistered_cases(i: u64) -> [Case; 7] {
    let a = rr::area() as u64;
    [
        case(a + 8, 32, 0, RSEQ_SIG, EINVAL),
        case(a, 31, 0, RSEQ_SIG, EINVAL),
        case(a, 32, bad_flag(i), RSEQ_SIG, EINVAL),
        case(a + 32, 64, 0, RSEQ_SIG, EINVAL),
        case(a, 0, 0, 0, EINVAL),
        case(a, 32, RSEQ_FLAG_UNREGISTER, RSEQ_SIG, EINVAL),
        case(0, 64, 0, RSEQ_SIG, EFAULT),
    ]
}

/// The unregistered thread: its share of the refusals, then the one mode
/// mismatch. Returns the mismatch's result.
fn fresh_thread(rounds: usize) -> i32 {
    for i in 0..rounds as u64 {
        for (k, c) in unregistered_cases(i).iter().enumerate() {
            refuse(100 + k as u64, c);
        }
    }
    let area = rr::area() as u64;
    rr::sys_rseq(area, 32, 0, RSEQ_SIG) as i32
}

pub fn run() -> i32 {
    println!(
        "isolation: rseq-refusals: about {TOTAL} refused registrations, one of them a mode mismatch"
    );
    if rr::registered_len() != 64 {
        return verdict(
            "rseq-refusals",
            Some(format_args!(
                "the main thread is not registered with 64 bytes (errno {})",
                rr::registration_errno()
            )),
        );
    }
    let main_rounds = TOTAL / 2 / 9;
    for i in 0..main_rounds {
        for (k, c) in registered_cases(i).iter().enumerate() {
            refuse(k as u64, c);
        }
    }
    let thread_rounds = (TOTAL - MADE.load(Ordering::Relaxed)) / 7;
    let mismatch = match thread::spawn_with(
        rt::sys::clone_flags::THREAD_FLAGS,
        thread::DEFAULT_STACK_SIZE,
        fresh_thread,
        thread_rounds as usize,
    ) {
        Ok(h) => h.join() as i64,
        Err(e) => return verdict("rseq-refusals", Some(format_args!("spawn = {e}"))),
    };
    let made = MADE.load(Ordering::Relaxed) + 1;
    println!(
        "isolation: rseq-refusals: {made} refusals; the 32-byte registration of an unregistered thread = {mismatch}"
    );
    let wrong = WRONG.load(Ordering::Relaxed);
    if wrong != 0 {
        return verdict(
            "rseq-refusals",
            Some(format_args!(
                "case {} returned {}",
                wrong - 1,
                WRONG_GOT.load(Ordering::Relaxed) as i64
            )),
        );
    }
    if mismatch != -EINVAL {
        return verdict(
            "rseq-refusals",
            Some(format_args!(
                "the mode mismatch returned {mismatch}, expected {}",
                -EINVAL
            )),
        );
    }
    if rr::registered_len() != 64 || rr::cpu_id() >= 64 {
        return verdict(
            "rseq-refusals",
            Some(format_args!("the main thread lost its registration")),
        );
    }
    verdict("rseq-refusals", None)
}
