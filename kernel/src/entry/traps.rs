//! Exception handlers called by the vectors (arch/src/vectors.s, through
//! the symbols `arch::handlers!` defines): a thin layer that classifies the
//! exception, runs `entry`'s entry half, hands the exception to safe code,
//! then takes the one exit path back to EL0.

use super::enter::KernelEnter;
use crate::entry::fault::{El0Sync, Signal, classify_el0_sync, demand_fault};
use crate::mm::{self, fault::FaultError};
use crate::process::signal::queue::{SigInfo, force_sig_fault};
use aarch64_cpu::registers::{ESR_EL1, FAR_EL1, Readable};
use arch::TrapFrame;
use arch::esr::Esr;
use core::sync::atomic::Ordering;

/// [`el0_sync_fast`] left the whole exception to [`el0_sync_slow`].
const SLOW_ENTRY: u64 = 1;
/// [`el0_sync_fast`] ran the syscall; exit work is pending.
const SLOW_EXIT: u64 = 2;

/// Synchronous exception from EL0, first part (`vectors.s` saved x0..x19,
/// x30, sp, pc and pstate only; see `arch::handlers::TrapFastHandler`):
/// a syscall that needs nothing but its arguments runs to the end here,
/// and returns 0 when no exit work is due. Everything that reads or
/// rewrites the callee-saved slots of the frame (a fault's signal, signal
/// delivery in the exit work, rt_sigreturn, clone) runs in
/// [`el0_sync_slow`] instead, after the stub completed the frame. Returns
/// before doing anything the slow handler does again.
#[inline(always)]
pub fn el0_sync_fast(tf: &mut TrapFrame) -> u64 {
    let esr = Esr(ESR_EL1.get());
    if esr.ec() == SVC64 {
        let nr = tf.regs[8];
        if let Some(call) = crate::syscall::args_only(nr) {
            let task = crate::sched::task::current();
            let work = entry::syscall_enter_from_user_mode(&mut KernelEnter::of(task), tf, nr);
            crate::syscall::invoke_args_only(task, tf, nr, call, work);
            return if super::exit::syscall_exit_without_work(task, tf) {
                0
            } else {
                SLOW_EXIT
            };
        }
    }
    // What the frame says before a syscall is dispatched (Linux's
    // `pt_regs.orig_x0` and `syscallno` of an exception that is none yet).
    tf.orig_x0 = 0;
    tf.syscallno = -1;
    SLOW_ENTRY
}

/// Synchronous exception from EL0, the part [`el0_sync_fast`] left, on the
/// complete frame: all of it, or the exit work after a syscall.
#[inline(never)]
pub fn el0_sync_slow(tf: &mut TrapFrame, why: u64) {
    if why == SLOW_EXIT {
        super::exit::syscall_exit_to_user_mode(tf);
    } else {
        el0_sync(tf);
    }
}

/// Synchronous exception from EL0 on the complete frame: a fault, or a
/// syscall the fast path left whole (one that takes `&mut regs`, or any
/// number past the table).
#[inline(always)]
fn el0_sync(tf: &mut TrapFrame) {
    let esr = Esr(ESR_EL1.get());
    match classify_el0_sync(esr) {
        El0Sync::Syscall => el0_svc(tf),
        El0Sync::Fault { signal } => el0_fault(tf, esr, signal),
    }
}

/// A fault from EL0 (Linux's `el0_da`, `el0_ia` and the others, and
/// `do_mem_abort()`): demand paging, or the signal. Out of line, as
/// `do_mem_abort()` is in Linux: inlined into [`el0_sync`], the registers
/// the fault handling needs would be saved and restored around the slow
/// path's syscalls too.
#[inline(never)]
fn el0_fault(tf: &mut TrapFrame, esr: Esr, signal: Signal) {
    entry::irqentry_enter_from_user_mode(&mut KernelEnter::current());
    let far = FAR_EL1.get();
    let paged = demand_fault(esr).map(|access| mm::fault::handle_mm_fault(far, access));
    if paged != Some(Ok(())) {
        let out_of_memory = paged == Some(Err(FaultError::OutOfMemory));
        let info = SigInfo {
            signal: if out_of_memory {
                Signal::SIGKILL
            } else {
                signal
            },
            esr,
            far,
            elr: tf.pc,
            out_of_memory,
        };
        force_sig_fault(crate::sched::task::current(), info);
    }
    super::exit::irqentry_exit_to_user_mode(tf);
}

/// ESR_EL1.EC of `SVC` from AArch64.
const SVC64: u8 = arch::esr::ExceptionClass::Svc64.ec();

/// A syscall (Linux's `el0_svc`): interrupts enabled while it runs.
#[inline(always)]
fn el0_svc(tf: &mut TrapFrame) {
    let nr = tf.regs[8];
    let task = crate::sched::task::current();
    let work = entry::syscall_enter_from_user_mode(&mut KernelEnter::of(task), tf, nr);
    crate::syscall::invoke(task, tf, nr, work);
    super::exit::syscall_exit_to_user_mode(tf);
}

/// IRQ from EL0.
#[inline(always)]
pub fn el0_irq(tf: &mut TrapFrame) {
    crate::sched::percpu::this_cpu()
        .stats
        .irqs_el0
        .fetch_add(1, Ordering::Relaxed);
    entry::irqentry_enter_from_user_mode(&mut KernelEnter::current());
    super::irq::handle();
    super::exit::irqentry_exit_to_user_mode(tf);
}

/// FIQ or SError from EL0, or anything from AArch32: not expected on these
/// boards; the app cannot be trusted to continue, the kernel can.
#[inline(always)]
pub fn el0_bad(tf: &mut TrapFrame) {
    let esr = Esr(ESR_EL1.get());
    let info = SigInfo {
        signal: Signal::SIGBUS,
        esr,
        far: FAR_EL1.get(),
        elr: tf.pc,
        out_of_memory: false,
    };
    force_sig_fault(crate::sched::task::current(), info);
    super::exit::irqentry_exit_to_user_mode(tf);
}

/// Synchronous exception in the kernel: a user access that faulted (a
/// page demand paging gives it, and the access is retried; otherwise
/// fixed up through the exception table: EFAULT), or a kernel bug.
#[inline(always)]
pub fn el1_sync(tf: &mut TrapFrame) {
    if let Some(fixup) = arch::uaccess::search_exception_tables(tf.pc) {
        let esr = Esr(ESR_EL1.get());
        let far = FAR_EL1.get();
        if let Some(access) = demand_fault(esr)
            && far < mm::TASK_SIZE
            && !arch::uaccess::in_nofault(tf.pc)
        {
            match mm::fault::handle_mm_fault(far, access) {
                Ok(()) => return,
                Err(FaultError::OutOfMemory) => {
                    // The syscall fails with EFAULT and the app ends on
                    // its way out, as under Linux's OOM killer.
                    let info = SigInfo {
                        signal: Signal::SIGKILL,
                        esr,
                        far,
                        elr: tf.pc,
                        out_of_memory: true,
                    };
                    force_sig_fault(crate::sched::task::current(), info);
                }
                Err(FaultError::Segv) => {}
            }
        }
        tf.pc = fixup;
        return;
    }
    kernel_fault("kernel fault", tf)
}

/// IRQ while the kernel ran (in a syscall, in the exit loop's work, or idle).
#[inline(always)]
pub fn el1_irq(_tf: &mut TrapFrame) {
    super::irq::handle();
}

/// Exceptions the kernel never expects (SP_EL0 mode, FIQ, SError).
#[inline(always)]
pub fn el1_bad(tf: &mut TrapFrame) {
    kernel_fault("unexpected exception in the kernel", tf)
}

/// Prints a panic report with the registers and powers off with status 255.
fn kernel_fault(what: &str, tf: &TrapFrame) -> ! {
    arch::cpu::local_irq_disable();
    crate::console::bust_spinlocks();
    let esr = Esr(ESR_EL1.get());
    println!(
        "[panic] {what}: {esr} (ESR {:#x}, EC {:#04x})",
        esr.0,
        esr.ec()
    );
    println!(
        "  ELR {:#018x}  FAR {:#018x}  SPSR {:#010x}  SP {:#018x}",
        tf.pc,
        FAR_EL1.get(),
        tf.pstate,
        tf.sp
    );
    for (i, pair) in tf.regs.chunks(4).enumerate() {
        print!(" ");
        for (j, r) in pair.iter().enumerate() {
            print!(" x{:<2} {:#018x}", i * 4 + j, r);
        }
        println!();
    }
    crate::power::panic_shutdown()
}
