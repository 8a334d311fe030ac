//! SMP scenarios, one per boot: `smp -- <scenario> [arg]`.
//!
//! Written against Linux's aarch64 syscall ABI and semantics (threads by
//! `clone`, futexes, affinity, signals, membarrier), plus rseq-os's private
//! `kstats` syscall for the membarrier IPI counts. Each scenario says what
//! it does, prints `TEST <name> ok|FAIL <why>` lines and returns 0 when all
//! passed; `sigsegv-thread` must instead be killed by the kernel (139).
#![no_std]
#![no_main]

mod affinity;
mod fpswitch;
mod futex;
mod membarrier;
mod misc;
mod preempt;
mod progress;
mod sigregs;
mod stress;

use rt::test::SEC;
use rt::{Args, println, sys};

rt::main!(main);
rt::rseq_mode!(none);

fn main(args: Args) -> i32 {
    rt::thread::init_main();
    let arg2 = args.get(2);
    match args.get(1) {
        "progress" => progress::run(),
        "preempt" => preempt::run(),
        "affinity" => affinity::run(),
        "signal-regs" => sigregs::run(),
        "sigsegv-thread" => misc::sigsegv_thread(),
        "membarrier" => membarrier::run(),
        "futex-sum" => futex::run(arg2.parse().unwrap_or(100_000)),
        "sleep" => misc::sleep(),
        "stress" => stress::run(arg2.parse().unwrap_or(60)),
        "clone-errors" => misc::clone_errors(),
        "fp-switch" => fpswitch::run(),
        "churn" => misc::churn(arg2.parse().unwrap_or(600)),
        other => {
            println!("smp: unknown scenario `{other}`");
            println!("scenarios: progress preempt affinity signal-regs sigsegv-thread membarrier");
            println!("           futex-sum [N] sleep stress [SECONDS] clone-errors");
            2
        }
    }
}

/// The virtual counter and its frequency ([`sys::counter`]). A frequency
/// of 0 is taken as 1 GHz: qemu-user (`qemu-aarch64`, handy for running
/// these scenarios on a Linux host) reads CNTFRQ_EL0 as 0 and counts ns.
pub fn counter() -> (u64, u64) {
    let (cnt, freq) = sys::counter();
    (cnt, if freq == 0 { SEC } else { freq })
}
