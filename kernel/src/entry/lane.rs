//! The syscall fast lane: the identity syscalls, getpid (172), getppid,
//! getuid, geteuid, getgid, getegid and gettid (178), answered in the
//! exception vector when the calling task has no work to do on the way in
//! or out. Everything else, and these too when there is work, goes on to
//! `el0_sync` in `arch/src/vectors.s`, with every register as the
//! exception left it.
//!
//! Why in assembly: the Rust path must save and restore every register a
//! call may clobber (x0–x18, x30, SP_EL0, ELR, SPSR: 33 instructions),
//! which is half of a 64-instruction syscall before anything is done.
//! These seven read the task and nothing else, so two scratch registers
//! do: the lane stores x16 and x17, and x0, which the result overwrites.
//!
//! What the lane does is what the Rust path would do for them, in the
//! same order, each step either done here or a reason to leave:
//! - entry: only `svc` from AArch64 (EC 0x15; the immediate ignored, as
//!   Linux does); interrupts stay masked from the exception to the
//!   `eret`, so nothing on this CPU can change the task meanwhile, and a
//!   CPU that sets work on it sends an IPI, taken right after the `eret`;
//! - the task's TIF word must be 0 (no exit work; the Rust exit tests the
//!   same bits after the call, but with interrupts masked throughout
//!   there is no "after" that could differ), and its syscall work word
//!   0 (no `strace=1`, no `rseq_debug=1`, no slice extension enabled, so
//!   no grant to abort either);
//! - the syscall is counted on the task
//!   ([`Task::count_syscall`](crate::sched::task::Task::count_syscall));
//! - the answer: the values of `syscall::info`, the TID from the task;
//! - the exit to user mode: rseq's `exit` counter of this CPU, as every
//!   exit counts it. rseq's event bits need no clearing: every exit clears
//!   them, and only a switch, an interrupt or a migration sets them, none
//!   of which can happen between the exception and the `eret` here; the
//!   slice timer arms only for a grant, and there is none.
//!
//! No frame is built: nothing here can fault, block, signal or trace.

use crate::sched::percpu::{CPUS, PERCPU_SHIFT, RSEQ_EXIT_OFFSET};
use crate::sched::task::offsets;
use crate::syscall::info::{PID, PPID, ROOT_ID};
use abi::nr::{GETEGID, GETPID, GETPPID, GETTID};
use arch::esr::{EC_SHIFT, ExceptionClass};

// The lane answers 0 for everything between getpid and gettid.
const _: () = assert!(PPID == 0 && ROOT_ID == 0);
const _: () = assert!(GETPPID == GETPID + 1 && GETTID == GETEGID + 1);

core::arch::global_asm!(
    ".section .text.el0_sync_lane, \"ax\"",
    ".global el0_sync_lane",
    ".type el0_sync_lane, %function",
    "el0_sync_lane:",
    // Any other number (x8 of a fault is whatever it is): straight on.
    "cmp x8, #{first}",
    "b.lo el0_sync",
    "cmp x8, #{last}",
    "b.hi el0_sync",
    "stp x16, x17, [sp, #-16]!",
    "mrs x16, esr_el1",
    "lsr w16, w16, #{ec_shift}",
    "cmp w16, #{ec_svc64}",
    "b.ne 9f",
    "mrs x16, tpidr_el1",
    "ldr x17, [x16, #{task_flags}]",
    "cbnz x17, 9f",
    "ldr w17, [x16, #{task_syscall_work}]",
    "cbnz w17, 9f",
    // Taken: x0 is the result's from here on.
    "ldr x0, [x16, #{task_syscalls}]",
    "add x0, x0, #1",
    "str x0, [x16, #{task_syscalls}]",
    "mrs x0, mpidr_el1",
    "and x0, x0, #{cpu_mask}",
    "adrp x17, {cpus}",
    "add x17, x17, :lo12:{cpus}",
    "add x17, x17, x0, lsl #{percpu_shift}",
    "ldr x0, [x17, #{rseq_exit}]",
    "add x0, x0, #1",
    "str x0, [x17, #{rseq_exit}]",
    "cmp x8, #{last}",
    "b.eq 1f",
    "cmp x8, #{first}",
    "mov x0, #{pid}",
    "csel x0, x0, xzr, eq",
    "ldp x16, x17, [sp], #16",
    "eret",
    "1: ldr w0, [x16, #{task_tid}]",
    "ldp x16, x17, [sp], #16",
    "eret",
    // Not for the lane after all: as if it had never run.
    "9: ldp x16, x17, [sp], #16",
    "b el0_sync",
    ".size el0_sync_lane, . - el0_sync_lane",
    first = const GETPID,
    last = const GETTID,
    ec_shift = const EC_SHIFT,
    ec_svc64 = const ExceptionClass::Svc64.ec(),
    task_flags = const offsets::FLAGS,
    task_syscall_work = const offsets::SYSCALL_WORK,
    task_syscalls = const offsets::SYSCALLS,
    task_tid = const offsets::TID,
    cpu_mask = const arch::MAX_CPUS - 1,
    cpus = sym CPUS,
    percpu_shift = const PERCPU_SHIFT,
    rseq_exit = const RSEQ_EXIT_OFFSET,
    pid = const PID,
);
