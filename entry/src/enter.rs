//! The entry half: what runs when EL0 enters the kernel, after the vector
//! saved the registers and before the syscall or interrupt handler
//! (Linux's `syscall_enter_from_user_mode()` in `include/linux/entry-common.h`
//! and `irqentry_enter_from_user_mode()` in
//! `include/linux/irq-entry-common.h`).
//!
//! Linux's `enter_from_user_mode()` (lockdep, context tracking, RCU) has no
//! counterpart: this kernel has no tracing and no nohz_full. What is left
//! are the rseq steps, in Linux's order:
//!
//! - interrupt or exception: `rseq_note_user_irq_entry()`, so that the exit
//!   path checks an interrupted critical section;
//! - syscall: interrupts on, then the `rseq_debug=1` check (no syscall from
//!   inside a critical section), then the time slice extension check (any
//!   syscall but `rseq_slice_yield()` during a grant aborts it: the
//!   enforcement timer is cancelled and the task rescheduled on its way
//!   out, Linux's `rseq_syscall_enter_work()`).
//!
//! The checks themselves read user memory and live in the `rseq` crate; the
//! kernel reaches them through the [`EnterWork`] hooks.

use crate::syscall_work::{SYSCALL_WORK_RSEQ_DEBUG, SYSCALL_WORK_SYSCALL_RSEQ_SLICE};
use crate::tif::TIF_NEED_RESCHED;

/// What the entry functions ask of the kernel, for the current task.
pub trait EnterWork {
    /// The saved user register state (arm64 `pt_regs`).
    type Regs;
    /// Why a task broke its rseq contract and must die.
    type Fatal;
    /// `__NR_rseq_slice_yield`: the one syscall that ends a grant without
    /// aborting it (it does its own accounting).
    const NR_RSEQ_SLICE_YIELD: u64;

    /// `local_irq_enable()`: syscalls run with interrupts on.
    fn local_irq_enable(&mut self);
    /// `set_thread_flag()` on the current task.
    fn set_thread_flag(&self, bit: u32);
    /// Linux's `rseq_note_user_irq_entry()`: EL0 was interrupted, so the
    /// exit path must check for an interrupted critical section
    /// (`rseq_event.user_irq`).
    fn rseq_note_user_irq_entry(&mut self);
    /// The task's syscall work word (`SYSCALL_WORK_*` bits,
    /// [`crate::syscall_work`]).
    fn syscall_work(&self) -> u32;
    /// The debug check at syscall entry: `Err` when the syscall came from
    /// inside the task's current critical section (or the section's
    /// descriptor is unusable).
    fn rseq_debug_syscall(&mut self, regs: &Self::Regs) -> Result<(), Self::Fatal>;
    /// Ends a grant at syscall entry, in the kernel and in user memory,
    /// counting `s_aborted`: `Ok(true)` when one was on. `Err` when the
    /// task forged `slice_ctrl.granted`.
    fn rseq_slice_syscall_entry(&mut self) -> Result<bool, Self::Fatal>;
    /// `rseq_cancel_slice_extension_timer()`: this CPU's enforcement timer.
    fn rseq_cancel_slice_extension_timer(&mut self);
    /// Ends the task with SIGSEGV and a report of `why`; never returns.
    fn force_sigsegv(&mut self, why: Self::Fatal) -> !;
}

/// Linux's `syscall_enter_from_user_mode()`: the steps between the `svc`
/// trap and the syscall table, for syscall number `syscall` (x8). Runs the
/// debug check before the slice check, so a syscall inside a critical
/// section dies before it could end a grant. Returns the syscall work
/// word it read, for the dispatch (`SYSCALL_WORK_SYSCALL_TRACE`).
#[inline(always)]
pub fn syscall_enter_from_user_mode<W: EnterWork>(w: &mut W, regs: &W::Regs, syscall: u64) -> u32 {
    w.local_irq_enable();
    // The common syscall pays one load and branch; the checks are out of
    // line, so that their results' stack slots and saved registers are
    // not the common syscall's cost too.
    let work = w.syscall_work();
    if work != 0 {
        syscall_enter_work(w, regs, syscall, work);
    }
    work
}

/// The rseq checks of [`syscall_enter_from_user_mode`], for a task whose
/// syscall work word is not 0.
#[cold]
#[inline(never)]
fn syscall_enter_work<W: EnterWork>(w: &mut W, regs: &W::Regs, syscall: u64, work: u32) {
    if work & SYSCALL_WORK_RSEQ_DEBUG != 0
        && let Err(why) = w.rseq_debug_syscall(regs)
    {
        w.force_sigsegv(why);
    }
    // The task's own bit first, the syscall number only for the few tasks
    // that enabled the extension (the number is tested inside Linux's
    // `rseq_syscall_enter_work()`).
    if work & SYSCALL_WORK_SYSCALL_RSEQ_SLICE != 0 && syscall != W::NR_RSEQ_SLICE_YIELD {
        rseq_syscall_enter_work(w);
    }
}

/// Linux's `rseq_syscall_enter_work()` for any syscall but
/// `rseq_slice_yield()`: a syscall during a grant aborts it; the task is
/// then rescheduled on its way out instead of running on.
#[inline(always)]
fn rseq_syscall_enter_work<W: EnterWork>(w: &mut W) {
    match w.rseq_slice_syscall_entry() {
        Ok(true) => {
            w.rseq_cancel_slice_extension_timer();
            w.set_thread_flag(TIF_NEED_RESCHED);
        }
        Ok(false) => {}
        Err(why) => w.force_sigsegv(why),
    }
}

/// Linux's `irqentry_enter_from_user_mode()`: an interrupt or exception
/// was taken from EL0. Interrupts stay masked.
#[inline(always)]
pub fn irqentry_enter_from_user_mode<W: EnterWork>(w: &mut W) {
    w.rseq_note_user_irq_entry();
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::tif::_TIF_NEED_RESCHED;
    use core::cell::Cell;
    use std::panic::{AssertUnwindSafe, catch_unwind, panic_any};
    use std::vec::Vec;

    const GETPID: u64 = abi::nr::GETPID;
    const SLICE_YIELD: u64 = abi::nr::RSEQ_SLICE_YIELD;
    /// The frame's pc in the fake; inside the critical section below.
    const PC_IN_CS: u64 = 0x4000;

    /// A fake kernel: a task with an rseq critical section `cs` and maybe a
    /// slice extension; records every hook in order.
    #[derive(Default)]
    struct Fake {
        log: Vec<&'static str>,
        flags: Cell<usize>,
        irqs_on: bool,
        debug: bool,
        /// The task's current critical section, `[start, end)`.
        cs: Option<(u64, u64)>,
        slice_enabled: bool,
        granted: bool,
        /// The task wrote `granted` itself.
        forged: bool,
        user_irq: bool,
        timer_armed: bool,
    }

    #[derive(Debug, PartialEq)]
    enum Why {
        SyscallInCs,
        SliceCtrl,
    }

    /// The payload of the fake's `force_sigsegv`.
    struct Killed(Why);

    impl EnterWork for Fake {
        type Regs = u64;
        type Fatal = Why;
        const NR_RSEQ_SLICE_YIELD: u64 = SLICE_YIELD;

        fn local_irq_enable(&mut self) {
            self.log.push("irq_enable");
            self.irqs_on = true;
        }
        fn set_thread_flag(&self, bit: u32) {
            self.flags.set(self.flags.get() | 1 << bit);
        }
        fn rseq_note_user_irq_entry(&mut self) {
            self.log.push("note_user_irq");
            self.user_irq = true;
        }
        fn syscall_work(&self) -> u32 {
            let bit = |on: bool, bit: u32| if on { bit } else { 0 };
            bit(self.debug, SYSCALL_WORK_RSEQ_DEBUG)
                | bit(self.slice_enabled, SYSCALL_WORK_SYSCALL_RSEQ_SLICE)
        }
        fn rseq_debug_syscall(&mut self, pc: &u64) -> Result<(), Why> {
            assert!(self.irqs_on, "checks run with interrupts on");
            self.log.push("debug_check");
            match self.cs {
                Some((start, end)) if (start..end).contains(pc) => Err(Why::SyscallInCs),
                _ => Ok(()),
            }
        }
        fn rseq_slice_syscall_entry(&mut self) -> Result<bool, Why> {
            assert!(self.slice_enabled, "only for tasks that enabled it");
            self.log.push("slice_check");
            if self.forged {
                return Err(Why::SliceCtrl);
            }
            Ok(core::mem::take(&mut self.granted))
        }
        fn rseq_cancel_slice_extension_timer(&mut self) {
            self.log.push("cancel_timer");
            self.timer_armed = false;
        }
        fn force_sigsegv(&mut self, why: Why) -> ! {
            self.log.push("sigsegv");
            panic_any(Killed(why))
        }
    }

    /// Runs a syscall entry with the frame's pc at [`PC_IN_CS`]: the log
    /// and, if the task was killed, why.
    fn syscall(f: &mut Fake, nr: u64) -> (Vec<&'static str>, Option<Why>) {
        let killed = catch_unwind(AssertUnwindSafe(|| {
            syscall_enter_from_user_mode(f, &PC_IN_CS, nr)
        }))
        .err()
        .map(|p| p.downcast::<Killed>().expect("killed by the fake").0);
        (f.log.clone(), killed)
    }

    #[test]
    fn a_plain_syscall_only_enables_interrupts() {
        let mut f = Fake::default();
        assert_eq!(syscall(&mut f, GETPID), (std::vec!["irq_enable"], None));
        assert_eq!(f.flags.get(), 0);
        assert!(!f.user_irq, "a syscall is no interrupt");
    }

    #[test]
    fn debug_kills_a_syscall_inside_a_critical_section() {
        let mut f = Fake {
            debug: true,
            cs: Some((0x3000, 0x5000)),
            ..Default::default()
        };
        assert_eq!(
            syscall(&mut f, GETPID),
            (
                std::vec!["irq_enable", "debug_check", "sigsegv"],
                Some(Why::SyscallInCs)
            )
        );
    }

    #[test]
    fn debug_lets_a_syscall_outside_the_section_through() {
        let mut f = Fake {
            debug: true,
            cs: Some((0x5000, 0x6000)),
            ..Default::default()
        };
        assert_eq!(
            syscall(&mut f, GETPID),
            (std::vec!["irq_enable", "debug_check"], None)
        );
    }

    #[test]
    fn without_debug_the_section_is_not_checked() {
        let mut f = Fake {
            cs: Some((0x3000, 0x5000)),
            ..Default::default()
        };
        assert_eq!(syscall(&mut f, GETPID), (std::vec!["irq_enable"], None));
    }

    #[test]
    fn a_syscall_during_a_grant_aborts_it_and_reschedules() {
        let mut f = Fake {
            slice_enabled: true,
            granted: true,
            timer_armed: true,
            ..Default::default()
        };
        assert_eq!(
            syscall(&mut f, GETPID),
            (std::vec!["irq_enable", "slice_check", "cancel_timer"], None)
        );
        assert!(!f.granted && !f.timer_armed);
        assert_eq!(f.flags.get(), _TIF_NEED_RESCHED);
    }

    #[test]
    fn rseq_slice_yield_is_not_an_abort() {
        let mut f = Fake {
            slice_enabled: true,
            granted: true,
            timer_armed: true,
            ..Default::default()
        };
        assert_eq!(
            syscall(&mut f, SLICE_YIELD),
            (std::vec!["irq_enable"], None)
        );
        assert!(
            f.granted && f.timer_armed,
            "the syscall itself ends the grant"
        );
        assert_eq!(f.flags.get(), 0);
    }

    #[test]
    fn without_a_grant_nothing_is_cancelled() {
        let mut f = Fake {
            slice_enabled: true,
            ..Default::default()
        };
        assert_eq!(
            syscall(&mut f, GETPID),
            (std::vec!["irq_enable", "slice_check"], None)
        );
        assert_eq!(f.flags.get(), 0);
    }

    #[test]
    fn a_forged_grant_kills() {
        let mut f = Fake {
            slice_enabled: true,
            forged: true,
            ..Default::default()
        };
        assert_eq!(
            syscall(&mut f, GETPID),
            (
                std::vec!["irq_enable", "slice_check", "sigsegv"],
                Some(Why::SliceCtrl)
            )
        );
    }

    #[test]
    fn the_debug_check_comes_before_the_slice_check() {
        let mut f = Fake {
            debug: true,
            cs: Some((0x3000, 0x5000)),
            slice_enabled: true,
            granted: true,
            ..Default::default()
        };
        let (log, killed) = syscall(&mut f, GETPID);
        assert_eq!(log, ["irq_enable", "debug_check", "sigsegv"]);
        assert_eq!(killed, Some(Why::SyscallInCs));
        assert!(f.granted, "a dying task's grant is not aborted first");
        let mut f = Fake {
            debug: true,
            cs: Some((0x5000, 0x6000)),
            slice_enabled: true,
            granted: true,
            ..Default::default()
        };
        assert_eq!(
            syscall(&mut f, GETPID).0,
            ["irq_enable", "debug_check", "slice_check", "cancel_timer"]
        );
    }

    #[test]
    fn irq_entry_notes_user_irq_with_interrupts_masked() {
        let mut f = Fake {
            slice_enabled: true,
            granted: true,
            debug: true,
            cs: Some((0x3000, 0x5000)),
            ..Default::default()
        };
        irqentry_enter_from_user_mode(&mut f);
        assert_eq!(f.log, ["note_user_irq"]);
        assert!(f.user_irq && !f.irqs_on);
        assert!(f.granted, "an interrupt does not end a grant on entry");
    }
}
