//! What the EL0 test apps (selftest, smp, rseqtest, isolation) share: how
//! a checked case is reported, how a scenario's exit status follows from
//! its checks, and how to wait for another thread with a timeout.
//!
//! Reporting is the serial protocol of `docs/serial-log.md`: one
//! `TEST <name> ok` or `TEST <name> FAIL <why>` line per case. xtask's
//! scenario checks (`xtask/src/check.rs`) look for exactly these lines, so
//! the words and spacing here are part of the test harness's contract.

use core::fmt::Arguments;

use crate::println;

/// One millisecond in nanoseconds.
pub const MS: u64 = 1_000_000;
/// One second in nanoseconds.
pub const SEC: u64 = 1_000_000_000;

/// An address the kernel never maps: the hole above the loaded image
/// (`kernel/src/mm/space.rs`, `IMAGE_LIMIT`), for cases that need a user
/// address with nothing behind it.
pub const USER_UNMAPPED: u64 = 0x40_2000_0000;

/// Prints one `TEST <name> ok` or `TEST <name> FAIL <detail>` line; returns
/// `ok`, so checks can be and-ed into a scenario's result.
pub fn check(name: &str, ok: bool, detail: Arguments) -> bool {
    if ok {
        println!("TEST {name} ok");
    } else {
        println!("TEST {name} FAIL {detail}");
    }
    ok
}

/// A scenario's exit status: 0 if every check passed, else 1.
pub fn status(ok: bool) -> i32 {
    if ok { 0 } else { 1 }
}

/// Reports a case that found at most one failure ([`check`] with the
/// failure as its detail); returns the scenario's exit status ([`status`]).
pub fn verdict(name: &str, failure: Option<Arguments>) -> i32 {
    let ok = match failure {
        None => check(name, true, format_args!("")),
        Some(why) => check(name, false, why),
    };
    status(ok)
}

/// Polls `cond`, yielding the CPU between polls, until it holds or
/// `timeout_ns` of counter time passed; returns whether it held. For
/// waiting on another thread that needs this CPU to make progress.
#[cfg(target_arch = "aarch64")]
pub fn wait_for(timeout_ns: u64, cond: impl FnMut() -> bool) -> bool {
    poll(timeout_ns, cond, crate::sched::yield_now)
}

/// Polls `cond` in EL0 without a syscall until it holds or `timeout_ns`
/// passed; returns whether it held. For waits that must not enter the
/// kernel (the caller is inside a window that only a tick, an IPI or
/// another CPU may end).
#[cfg(target_arch = "aarch64")]
pub fn spin_until(timeout_ns: u64, cond: impl FnMut() -> bool) -> bool {
    poll(timeout_ns, cond, core::hint::spin_loop)
}

/// The loop of [`wait_for`] and [`spin_until`]: `cond` is tried once more
/// after the deadline, so a condition that came true while the poller was
/// descheduled still counts.
#[cfg(target_arch = "aarch64")]
fn poll(timeout_ns: u64, mut cond: impl FnMut() -> bool, mut between: impl FnMut()) -> bool {
    let start = crate::sched::now_ns();
    loop {
        if cond() {
            return true;
        }
        if crate::sched::now_ns() - start > timeout_ns {
            return cond();
        }
        between();
    }
}
