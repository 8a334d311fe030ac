//! The exit half: Linux's `exit_to_user_mode_loop()` and the functions
//! that end every return to EL0 with it (`kernel/entry/common.c`,
//! `include/linux/irq-entry-common.h`).
//!
//! Everything that must happen before a thread returns to EL0 is a bit in
//! its TIF word ([`crate::tif`]), handled here in one loop in a fixed order.
//! The syscall path and the interrupt path both end in
//! [`exit_to_user_mode_prepare`]; there is no other way back to user mode.
//! The work itself (scheduling, signal delivery, rseq) is done by the kernel
//! through the [`ExitWork`] hooks.

use crate::tif::*;

/// What the exit loop asks of the kernel. Mirrors the functions
/// `exit_to_user_mode_loop()` calls in Linux.
pub trait ExitWork {
    /// The saved user register state (arm64 `pt_regs`).
    type Regs;

    /// TIF_RSEQ alone is common and its fast path short (every v1 context
    /// switch): [`exit_to_user_mode_loop`] then runs it straight, outside
    /// the loop. Where it is rare and long (only v2 registrations), the
    /// loop runs it, as one function.
    const RSEQ_ALONE_STRAIGHT: bool = false;

    /// `read_thread_flags()`: the current task's TIF word.
    fn read_thread_flags(&self) -> usize;
    /// `clear_thread_flag()` on the current task.
    fn clear_thread_flag(&self, bit: u32);
    /// `set_thread_flag()` on the current task.
    fn set_thread_flag(&self, bit: u32);
    /// `local_irq_enable_exit_to_user()`: work runs with interrupts on.
    fn local_irq_enable(&mut self);
    /// `local_irq_disable_exit_to_user()`: the final checks run with them off.
    fn local_irq_disable(&mut self);
    /// `schedule()` for TIF_NEED_RESCHED(_LAZY); clears those bits.
    fn schedule(&mut self);
    /// Linux's `rseq_grant_slice_extension()`: instead of scheduling, grant
    /// the task a time slice extension (then clear NEED_RESCHED and return
    /// true). `other_work`: work besides NEED_RESCHED(_LAZY) is pending
    /// (TIF_SLICE_EXT_DENY), which forbids a grant (and revokes one).
    fn grant_slice_extension(&mut self, other_work: bool) -> bool;
    /// `arch_do_signal_or_restart()` for TIF_SIGPENDING / TIF_NOTIFY_SIGNAL.
    fn do_signal(&mut self, regs: &mut Self::Regs);
    /// `resume_user_mode_work()` for TIF_NOTIFY_RESUME (the rseq slow path);
    /// the bit is already cleared when this runs.
    fn notify_resume(&mut self, regs: &mut Self::Regs);
    /// The rseq exit fast path (`__rseq_exit_to_user_mode_restart()`), run
    /// with interrupts disabled when TIF_RSEQ is the only work left. Returns
    /// `false` when it could not finish (a user-memory fault): the loop then
    /// raises TIF_NOTIFY_RESUME and runs the slow path.
    fn rseq_fastpath(&mut self, regs: &mut Self::Regs) -> bool;
    /// Linux's `rseq_exit_to_user_mode()`: the last step of every exit to
    /// user mode, after all work (clears the per-exit rseq events).
    fn exit_to_user_mode(&mut self);
}

/// Linux's `exit_to_user_mode_loop()`: handles work bits until none but
/// possibly TIF_RSEQ remain, then the rseq fast path, which may send the
/// loop round again through the slow path. Returns the final TIF word.
///
/// With [`ExitWork::RSEQ_ALONE_STRAIGHT`], the case of every v1 context
/// switch, TIF_RSEQ alone, goes to [`exit_to_user_mode_rseq`], straight code without the loop: in the
/// loop the compiler keeps constants in callee-saved registers, which the
/// function would save and restore on every exit. Any other work goes to
/// the loop directly (one function, one frame).
#[inline(always)]
pub fn exit_to_user_mode_loop<W: ExitWork>(w: &mut W, regs: &mut W::Regs, ti_work: usize) -> usize {
    if W::RSEQ_ALONE_STRAIGHT && ti_work & EXIT_TO_USER_MODE_WORK_LOOP == 0 {
        exit_to_user_mode_rseq(w, regs, ti_work)
    } else {
        exit_to_user_mode_loop_work(w, regs, ti_work)
    }
}

/// [`exit_to_user_mode_loop`] with TIF_RSEQ the only work: the fast
/// path; if it cannot finish, TIF_NOTIFY_RESUME and the loop.
#[inline(never)]
fn exit_to_user_mode_rseq<W: ExitWork>(w: &mut W, regs: &mut W::Regs, ti_work: usize) -> usize {
    if rseq_alone(w, regs) {
        return ti_work & !_TIF_RSEQ;
    }
    let ti_work = w.read_thread_flags();
    exit_to_user_mode_loop_work(w, regs, ti_work)
}

/// TIF_RSEQ as the only work: the fast path, which clears it, or, if the
/// fast path cannot finish, TIF_NOTIFY_RESUME set for the loop's slow
/// path. The fast path reads and may rewrite only the pc in `regs`.
#[inline(always)]
fn rseq_alone<W: ExitWork>(w: &mut W, regs: &mut W::Regs) -> bool {
    if w.rseq_fastpath(regs) {
        w.clear_thread_flag(TIF_RSEQ);
        return true;
    }
    w.set_thread_flag(TIF_NOTIFY_RESUME);
    false
}

/// The loop of [`exit_to_user_mode_loop`], from its start or after a
/// fast path that could not finish.
#[inline(never)]
fn exit_to_user_mode_loop_work<W: ExitWork>(
    w: &mut W,
    regs: &mut W::Regs,
    mut ti_work: usize,
) -> usize {
    loop {
        if ti_work & EXIT_TO_USER_MODE_WORK_LOOP != 0 {
            ti_work = exit_to_user_mode_work(w, regs, ti_work);
        }
        // Only TIF_RSEQ can be left: `rseq_exit_to_user_mode_work()` with a
        // separate TIF_RSEQ (CHECK_TIF_RSEQ), interrupts disabled.
        if ti_work & _TIF_RSEQ == 0 {
            return ti_work;
        }
        if w.rseq_fastpath(regs) {
            w.clear_thread_flag(TIF_RSEQ);
            return ti_work & !_TIF_RSEQ;
        }
        w.set_thread_flag(TIF_NOTIFY_RESUME);
        ti_work = w.read_thread_flags();
    }
}

/// The work half of [`exit_to_user_mode_loop`] (Linux's
/// `__exit_to_user_mode_loop()`): runs the work bits' hooks, interrupts
/// enabled, until only TIF_RSEQ may be left; returns the TIF word then.
///
/// Out of line, as the functions it calls are in Linux (`schedule()`,
/// `arch_do_signal_or_restart()`): inlined, their constants are hoisted
/// into registers the rseq fast path's user-access calls clobber, and
/// every exit that only has TIF_RSEQ (one per context switch in v1) pays
/// for reloading them after each call.
#[inline(never)]
fn exit_to_user_mode_work<W: ExitWork>(w: &mut W, regs: &mut W::Regs, mut ti_work: usize) -> usize {
    while ti_work & EXIT_TO_USER_MODE_WORK_LOOP != 0 {
        w.local_irq_enable();
        if ti_work & (_TIF_NEED_RESCHED | _TIF_NEED_RESCHED_LAZY) != 0
            && !w.grant_slice_extension(ti_work & TIF_SLICE_EXT_DENY != 0)
        {
            w.schedule();
        }
        if ti_work & (_TIF_SIGPENDING | _TIF_NOTIFY_SIGNAL) != 0 {
            w.do_signal(regs);
        }
        if ti_work & _TIF_NOTIFY_RESUME != 0 {
            w.clear_thread_flag(TIF_NOTIFY_RESUME);
            w.notify_resume(regs);
        }
        w.local_irq_disable();
        ti_work = w.read_thread_flags();
    }
    ti_work
}

/// Linux's `exit_to_user_mode_prepare()`: the last thing before `eret` to
/// EL0, with interrupts disabled. The common case is one load and one branch.
#[inline(always)]
pub fn exit_to_user_mode_prepare<W: ExitWork>(w: &mut W, regs: &mut W::Regs) {
    let ti_work = w.read_thread_flags();
    if ti_work & EXIT_TO_USER_MODE_WORK != 0 {
        exit_to_user_mode_loop(w, regs, ti_work);
    }
    w.exit_to_user_mode();
}

/// Linux's `syscall_exit_to_user_mode()`.
#[inline(always)]
pub fn syscall_exit_to_user_mode<W: ExitWork>(w: &mut W, regs: &mut W::Regs) {
    w.local_irq_disable();
    exit_to_user_mode_prepare(w, regs);
}

/// [`syscall_exit_to_user_mode`] when no work is pending: interrupts
/// masked, then `true` after the last step if the TIF word has no work,
/// or `false` with the work left. The caller then runs
/// [`syscall_exit_to_user_mode`], on a register set complete enough for
/// the work (signal delivery saves and rewrites all of it); a caller that
/// saved only part of the registers keeps the rest live until then.
///
/// With [`ExitWork::RSEQ_ALONE_STRAIGHT`] (every v1 context switch),
/// TIF_RSEQ alone is no reason to leave: its fast path needs only the pc,
/// and when it finishes, so does this exit.
#[inline(always)]
pub fn syscall_exit_to_user_mode_without_work<W: ExitWork>(w: &mut W, regs: &mut W::Regs) -> bool {
    w.local_irq_disable();
    let work = w.read_thread_flags() & EXIT_TO_USER_MODE_WORK;
    // The last step on each path that ends here, so that it is compiled
    // knowing what the path left (the hooks may cache the CPU for it).
    if W::RSEQ_ALONE_STRAIGHT && work == _TIF_RSEQ {
        if !rseq_alone(w, regs) {
            return false;
        }
        w.exit_to_user_mode();
        return true;
    }
    if work != 0 {
        return false;
    }
    w.exit_to_user_mode();
    true
}

/// Linux's `irqentry_exit_to_user_mode()`.
#[inline(always)]
pub fn irqentry_exit_to_user_mode<W: ExitWork>(w: &mut W, regs: &mut W::Regs) {
    exit_to_user_mode_prepare(w, regs);
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use core::cell::{Cell, RefCell};
    use std::vec::Vec;

    /// A fake kernel: records calls; `on_schedule` etc. may raise more work.
    /// `STRAIGHT` is its [`ExitWork::RSEQ_ALONE_STRAIGHT`].
    #[derive(Default)]
    struct FakeOf<const STRAIGHT: bool> {
        flags: Cell<usize>,
        log: RefCell<Vec<&'static str>>,
        irqs_on: Cell<bool>,
        fastpath_failures: Cell<u32>,
        signal_raises_resume: bool,
        grant: bool,
    }

    /// The fake of a kernel whose loop runs TIF_RSEQ (a v2 image).
    type Fake = FakeOf<false>;

    impl<const STRAIGHT: bool> ExitWork for FakeOf<STRAIGHT> {
        const RSEQ_ALONE_STRAIGHT: bool = STRAIGHT;
        type Regs = u64;
        fn read_thread_flags(&self) -> usize {
            self.flags.get()
        }
        fn clear_thread_flag(&self, bit: u32) {
            self.flags.set(self.flags.get() & !(1 << bit));
        }
        fn set_thread_flag(&self, bit: u32) {
            self.flags.set(self.flags.get() | (1 << bit));
        }
        fn local_irq_enable(&mut self) {
            self.irqs_on.set(true);
        }
        fn local_irq_disable(&mut self) {
            self.irqs_on.set(false);
        }
        fn grant_slice_extension(&mut self, other_work: bool) -> bool {
            if self.grant && !other_work {
                self.log.borrow_mut().push("grant");
                self.clear_thread_flag(TIF_NEED_RESCHED);
                self.clear_thread_flag(TIF_NEED_RESCHED_LAZY);
                return true;
            }
            false
        }
        fn schedule(&mut self) {
            assert!(self.irqs_on.get());
            self.log.borrow_mut().push("schedule");
            self.clear_thread_flag(TIF_NEED_RESCHED);
            self.clear_thread_flag(TIF_NEED_RESCHED_LAZY);
            // A context switch raises TIF_RSEQ, as rseq_sched_switch_event() does.
            self.set_thread_flag(TIF_RSEQ);
        }
        fn do_signal(&mut self, regs: &mut u64) {
            self.log.borrow_mut().push("signal");
            *regs += 1;
            self.clear_thread_flag(TIF_SIGPENDING);
            if self.signal_raises_resume {
                self.set_thread_flag(TIF_NOTIFY_RESUME);
            }
        }
        fn notify_resume(&mut self, _regs: &mut u64) {
            assert_eq!(
                self.flags.get() & _TIF_NOTIFY_RESUME,
                0,
                "cleared before the hook"
            );
            self.log.borrow_mut().push("resume");
        }
        fn exit_to_user_mode(&mut self) {
            self.log.borrow_mut().push("exit");
        }
        fn rseq_fastpath(&mut self, _regs: &mut u64) -> bool {
            assert!(!self.irqs_on.get(), "fast path runs with interrupts off");
            self.log.borrow_mut().push("fastpath");
            if self.fastpath_failures.get() > 0 {
                self.fastpath_failures.set(self.fastpath_failures.get() - 1);
                return false;
            }
            true
        }
    }

    fn run(fake: &mut Fake) -> Vec<&'static str> {
        let mut regs = 0;
        exit_to_user_mode_prepare(fake, &mut regs);
        assert_eq!(
            fake.flags.get() & EXIT_TO_USER_MODE_WORK,
            0,
            "no work left on return"
        );
        let mut log = fake.log.borrow().clone();
        assert_eq!(
            log.pop(),
            Some("exit"),
            "every exit ends with exit_to_user_mode"
        );
        log
    }

    #[test]
    fn nothing_to_do_calls_nothing() {
        let mut f = Fake::default();
        assert!(run(&mut f).is_empty());
    }

    #[test]
    fn work_runs_in_linux_order() {
        let mut f = Fake::default();
        f.flags
            .set(_TIF_NOTIFY_RESUME | _TIF_SIGPENDING | _TIF_NEED_RESCHED);
        assert_eq!(run(&mut f), ["schedule", "signal", "resume", "fastpath"]);
    }

    #[test]
    fn rseq_alone_takes_only_the_fast_path() {
        let mut f = Fake::default();
        f.flags.set(_TIF_RSEQ);
        assert_eq!(run(&mut f), ["fastpath"]);
    }

    #[test]
    fn fast_path_failure_falls_back_to_the_slow_path() {
        let mut f = Fake {
            fastpath_failures: Cell::new(1),
            ..Default::default()
        };
        f.flags.set(_TIF_RSEQ);
        // Fast path fails: NOTIFY_RESUME is raised, the slow path runs, TIF_RSEQ is
        // still set, so the fast path runs once more and succeeds.
        assert_eq!(run(&mut f), ["fastpath", "resume", "fastpath"]);
    }

    #[test]
    fn work_raised_by_work_is_handled_before_return() {
        let mut f = Fake {
            signal_raises_resume: true,
            ..Default::default()
        };
        f.flags.set(_TIF_SIGPENDING);
        assert_eq!(run(&mut f), ["signal", "resume"]);
    }

    #[test]
    fn a_grant_replaces_the_schedule_only_without_other_work() {
        let mut f = Fake {
            grant: true,
            ..Default::default()
        };
        f.flags.set(_TIF_NEED_RESCHED);
        assert_eq!(run(&mut f), ["grant"]);
        let mut f = Fake {
            grant: true,
            ..Default::default()
        };
        f.flags.set(_TIF_NEED_RESCHED | _TIF_SIGPENDING);
        assert_eq!(run(&mut f), ["schedule", "signal", "fastpath"]);
    }

    #[test]
    fn architecture_bits_are_not_work() {
        let mut f = Fake::default();
        f.flags.set(1 << 16 | 1 << 20);
        assert!(run(&mut f).is_empty());
        assert_eq!(f.flags.get(), 1 << 16 | 1 << 20);
    }

    #[test]
    fn without_work_the_short_exit_ends_like_the_full_one() {
        let mut f = Fake::default();
        f.irqs_on.set(true);
        f.flags.set(1 << 16);
        assert!(syscall_exit_to_user_mode_without_work(&mut f, &mut 0));
        assert!(!f.irqs_on.get(), "returns with interrupts off");
        assert_eq!(*f.log.borrow(), ["exit"]);
    }

    #[test]
    fn any_work_bit_leaves_the_short_exit_to_the_full_one() {
        for bit in [
            TIF_NOTIFY_RESUME,
            TIF_SIGPENDING,
            TIF_NOTIFY_SIGNAL,
            TIF_NEED_RESCHED,
            TIF_NEED_RESCHED_LAZY,
            TIF_RSEQ,
        ] {
            let mut f = Fake::default();
            f.irqs_on.set(true);
            f.flags.set(1 << bit);
            assert!(
                !syscall_exit_to_user_mode_without_work(&mut f, &mut 0),
                "bit {bit}"
            );
            assert!(!f.irqs_on.get(), "bit {bit}: interrupts off");
            assert!(f.log.borrow().is_empty(), "bit {bit}: nothing done");
            assert_eq!(f.flags.get(), 1 << bit, "bit {bit}: the work is left");
            // The full exit then does it all, ending as usual (the fake
            // has no task work to clear TIF_NOTIFY_SIGNAL with).
            if bit == TIF_NOTIFY_SIGNAL {
                continue;
            }
            let mut regs = 0;
            syscall_exit_to_user_mode(&mut f, &mut regs);
            assert_eq!(f.log.borrow().last(), Some(&"exit"), "bit {bit}");
            assert_eq!(f.flags.get() & EXIT_TO_USER_MODE_WORK, 0, "bit {bit}");
        }
    }

    #[test]
    fn where_rseq_alone_is_straight_the_short_exit_runs_its_fast_path() {
        // The fast path finishes: the exit is done, TIF_RSEQ cleared.
        let mut f = FakeOf::<true>::default();
        f.flags.set(_TIF_RSEQ);
        assert!(syscall_exit_to_user_mode_without_work(&mut f, &mut 0));
        assert_eq!(*f.log.borrow(), ["fastpath", "exit"]);
        assert_eq!(f.flags.get(), 0);

        // It cannot: TIF_NOTIFY_RESUME for the full exit's slow path, which
        // does not try the fast path a second time.
        let mut f = FakeOf::<true>::default();
        f.flags.set(_TIF_RSEQ);
        f.fastpath_failures.set(1);
        assert!(!syscall_exit_to_user_mode_without_work(&mut f, &mut 0));
        assert_eq!(f.flags.get(), _TIF_RSEQ | _TIF_NOTIFY_RESUME);
        syscall_exit_to_user_mode(&mut f, &mut 0);
        assert_eq!(f.flags.get() & EXIT_TO_USER_MODE_WORK, 0);
        assert_eq!(
            f.log.borrow().iter().filter(|e| **e == "fastpath").count(),
            2,
            "the failed try and the one after the slow path"
        );
        assert!(f.log.borrow().contains(&"resume"));

        // With other work as well, the full exit does all of it.
        let mut f = FakeOf::<true>::default();
        f.flags.set(_TIF_RSEQ | _TIF_SIGPENDING);
        assert!(!syscall_exit_to_user_mode_without_work(&mut f, &mut 0));
        assert!(f.log.borrow().is_empty());
    }
}
