//! Isolation scenarios, one per boot: `isolation -- <scenario> [arg]`.
//!
//! Each scenario is an app doing something hostile (or merely greedy) that
//! a kernel must survive without leaking its own data, losing memory,
//! hanging or flooding its console. Each prints `TEST <name> ok` or one
//! `TEST <name> FAIL <why>` line and returns 0 when it passed:
//!
//! - `munmap-race`: threads on other CPUs keep reading and writing a
//!   region while it is unmapped; they must never see a freed frame's
//!   contents (the kernel's free-list link) nor change it.
//! - `threads`: clone until refused; the refusal is `EAGAIN` at
//!   `threads_max` (or `ENOMEM`), never a kernel panic, and twice in a row
//!   with all memory given back.
//! - `clone-bad-tid [kernel-address]`: `CLONE_PARENT_SETTID` and
//!   `CLONE_CHILD_SETTID` with unwritable pointers still make a thread
//!   that runs, can be signalled and exits, as on Linux; then the main
//!   thread exits alone and the app must end with it.
//! - `mmap-fill`: all of RAM can be mapped, and all of it comes back.
//! - `rseq-refusals`: a thousand refused rseq registrations log exactly
//!   one kernel line, the one a user cannot guess from the errno.
//! - `nanosleep-huge`: an interrupted sleep of 2^40 s reports the time
//!   left without overflowing.
//!
//! The app is a v2 image (rseq-refusals needs the mode; the rest do not
//! care): every runtime thread registers 64 bytes.
#![no_std]
#![no_main]

mod clone_tid;
mod mmap_fill;
mod munmap_race;
mod nanosleep;
mod probe;
mod rseq_refusals;
mod threads;

use rt::{Args, println, sys};

rt::main!(main);
rt::rseq_mode!(v2);

fn main(args: Args) -> i32 {
    rt::thread::init_main();
    match args.get(1) {
        "munmap-race" => munmap_race::run(parse_u64(args.get(2))),
        "threads" => threads::run(),
        // The main thread ends alone (exit, not exit_group): the app must
        // end with its last thread, which a ghost thread would prevent.
        "clone-bad-tid" => sys::exit(clone_tid::run(parse_u64(args.get(2)))),
        "mmap-fill" => mmap_fill::run(),
        "rseq-refusals" => rseq_refusals::run(),
        "nanosleep-huge" => nanosleep::run(),
        other => {
            println!("isolation: unknown scenario `{other}`");
            println!("scenarios: munmap-race [PAGES] threads clone-bad-tid [ADDR] mmap-fill");
            println!("           rseq-refusals nanosleep-huge");
            2
        }
    }
}

pub const PAGE: u64 = 4096;

/// `kstats()`, or a zeroed one when the kernel has none (the checks that
/// use it then fail and say so).
pub fn kstats() -> sys::KStats {
    sys::kstats().unwrap_or_default()
}

/// Parses `0x..` or decimal; 0 for anything else.
fn parse_u64(s: &str) -> u64 {
    match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).unwrap_or(0),
        None => s.parse().unwrap_or(0),
    }
}

/// The name of a (negative) errno the scenarios meet.
pub fn errno_name(e: i64) -> &'static str {
    use sys::errno::*;
    match -e {
        EAGAIN => "EAGAIN",
        ENOMEM => "ENOMEM",
        EFAULT => "EFAULT",
        EINVAL => "EINVAL",
        EINTR => "EINTR",
        ESRCH => "ESRCH",
        EPERM => "EPERM",
        EBUSY => "EBUSY",
        _ => "?",
    }
}
