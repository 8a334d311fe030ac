//! Exception handlers called by the vectors (arch/src/vectors.s): a thin
//! layer that classifies the exception and hands it to safe code, then takes
//! the one exit path back to EL0.

use crate::fault::{El0Sync, classify_el0_sync};
use crate::signal::{SigInfo, force_sig_fault};
use aarch64_cpu::registers::{ESR_EL1, FAR_EL1, Readable};
use arch::TrapFrame;
use arch::esr::Esr;
use core::sync::atomic::Ordering;

/// Synchronous exception from EL0: a syscall or a fault.
#[unsafe(no_mangle)]
extern "C" fn el0_sync_handler(tf: &mut TrapFrame) {
    let esr = Esr(ESR_EL1.get());
    // The syscall is the hot case: test its class directly (Linux's el0_sync
    // switch) before the full classification faults need.
    if esr.ec() == SVC64 {
        el0_svc(tf);
        return;
    }
    match classify_el0_sync(esr) {
        El0Sync::Syscall => el0_svc(tf),
        El0Sync::Fault { signal } => {
            crate::rseq_hooks::note_user_irq_entry(crate::task::current());
            let info = SigInfo {
                signal,
                esr,
                far: FAR_EL1.get(),
                elr: tf.pc,
            };
            force_sig_fault(crate::task::current(), info);
            crate::exit::irqentry_exit_to_user_mode(tf);
        }
    }
}

/// ESR_EL1.EC of `SVC` from AArch64.
const SVC64: u8 = 0x15;

/// A syscall (Linux's `el0_svc`): interrupts enabled while it runs.
#[inline(always)]
fn el0_svc(tf: &mut TrapFrame) {
    arch::cpu::local_irq_enable();
    let task = crate::task::current();
    crate::rseq_hooks::debug_syscall(task, tf);
    if tf.regs[8] != abi::nr::RSEQ_SLICE_YIELD {
        crate::rseq_hooks::slice_syscall_entry(task);
    }
    crate::syscall::invoke(tf);
    crate::exit::syscall_exit_to_user_mode(tf);
}

/// IRQ from EL0.
#[unsafe(no_mangle)]
extern "C" fn el0_irq_handler(tf: &mut TrapFrame) {
    crate::percpu::this_cpu()
        .stats
        .irqs_el0
        .fetch_add(1, Ordering::Relaxed);
    crate::rseq_hooks::note_user_irq_entry(crate::task::current());
    crate::irq::handle();
    crate::exit::irqentry_exit_to_user_mode(tf);
}

/// FIQ or SError from EL0, or anything from AArch32: not expected on these
/// boards; the app cannot be trusted to continue, the kernel can.
#[unsafe(no_mangle)]
extern "C" fn el0_bad_handler(tf: &mut TrapFrame) {
    let esr = Esr(ESR_EL1.get());
    let info = SigInfo {
        signal: crate::fault::Signal::SIGBUS,
        esr,
        far: FAR_EL1.get(),
        elr: tf.pc,
    };
    force_sig_fault(crate::task::current(), info);
    crate::exit::irqentry_exit_to_user_mode(tf);
}

/// Synchronous exception in the kernel: a user access that faulted (fixed
/// up through the exception table), or a kernel bug.
#[unsafe(no_mangle)]
extern "C" fn el1_sync_handler(tf: &mut TrapFrame) {
    if let Some(fixup) = arch::uaccess::search_exception_tables(tf.pc) {
        tf.pc = fixup;
        return;
    }
    kernel_fault("kernel fault", tf)
}

/// IRQ while the kernel ran (in a syscall, in the exit loop's work, or idle).
#[unsafe(no_mangle)]
extern "C" fn el1_irq_handler(_tf: &mut TrapFrame) {
    crate::irq::handle();
}

/// Exceptions the kernel never expects (SP_EL0 mode, FIQ, SError).
#[unsafe(no_mangle)]
extern "C" fn el1_bad_handler(tf: &mut TrapFrame) {
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
