//! The kernel's glue to the `rseq` crate: user memory through the checked
//! user-access helpers, this CPU's statistics, debug mode, and the hooks the
//! scheduler, the exit loop, signal delivery, membarrier and the syscall
//! table call. The rseq semantics themselves live in `rseq/`.
//!
//! The image is built for one mode (`rseq::MODE`, cargo feature `rseq-v1`
//! or `rseq-v2` of this crate, chosen by the app's declaration at image
//! build time).
//!
//! A task's rseq state is touched only by the CPU running it (or switching
//! it in, under the `on_cpu` protocol), with IRQs masked, so that a
//! membarrier IPI on the same CPU cannot interleave.

use crate::percpu;
use crate::task::{Task, current};
use arch::TrapFrame;
use arch::uaccess;
use core::sync::atomic::{AtomicBool, Ordering};
use entry::tif::TIF_RSEQ;
use rseq::{Ctx, Fault, Mode, RseqStats, TaskRseq, UserMem};

/// The mode this image was built for.
pub const MODE: Mode = rseq::MODE;

/// `rseq_debug=1`: Linux's CONFIG_RSEQ_DEBUG checks at run time.
static DEBUG: AtomicBool = AtomicBool::new(false);

/// Sets debug mode (from the command line).
pub fn set_debug(on: bool) {
    DEBUG.store(on, Ordering::Relaxed);
}

/// User memory as the rseq crate sees it: LDTR/STTR with fault fixup.
struct KernelUserMem;

impl UserMem for KernelUserMem {
    fn read_u32(&mut self, addr: u64) -> Result<u32, Fault> {
        uaccess::get_user(addr).map_err(|_| Fault)
    }
    fn read_u64(&mut self, addr: u64) -> Result<u64, Fault> {
        uaccess::get_user(addr).map_err(|_| Fault)
    }
    fn write_u32(&mut self, addr: u64, v: u32) -> Result<(), Fault> {
        uaccess::put_user(addr, v).map_err(|_| Fault)
    }
    fn write_u64(&mut self, addr: u64, v: u64) -> Result<(), Fault> {
        uaccess::put_user(addr, v).map_err(|_| Fault)
    }
    fn access_ok(&self, addr: u64, len: u64) -> bool {
        uaccess::access_ok(addr, len as usize)
    }
}

/// As [`with`], for callers that already run with IRQs masked (the end of
/// the exit path): no DAIF save/restore on the hot path.
#[inline(always)]
fn with_irqs_off<R>(task: &Task, f: impl FnOnce(&mut TaskRseq, &mut RseqStats) -> R) -> R {
    // SAFETY: the task runs on this CPU and IRQs are masked by the caller.
    unsafe { f(task.rseq_mut(), percpu::this_cpu().rseq_stats_mut()) }
}

/// Runs `f` on `task`'s rseq state and this CPU's statistics with IRQs masked.
fn with<R>(task: &Task, f: impl FnOnce(&mut TaskRseq, &mut RseqStats) -> R) -> R {
    let flags = arch::cpu::local_irq_save();
    // SAFETY: the task runs (or is being switched in) on this CPU, IRQs are
    // masked, and only this CPU touches its own statistics.
    let r = unsafe { f(task.rseq_mut(), percpu::this_cpu().rseq_stats_mut()) };
    arch::cpu::local_irq_restore(flags);
    r
}

/// A context for the paths: this CPU's IDs as `task` will see them.
fn ctx<'a>(
    mem: &'a mut KernelUserMem,
    stats: &'a mut RseqStats,
    task: &Task,
) -> Ctx<'a, KernelUserMem> {
    let mm_cid = task.mm_cid.load(Ordering::Relaxed);
    Ctx {
        mem,
        stats,
        cpu_id: arch::cpu::cpu_id() as u32,
        mm_cid: if mm_cid == crate::task::NO_CID {
            0
        } else {
            mm_cid
        },
        node_id: 0,
        debug: DEBUG.load(Ordering::Relaxed),
        mode: MODE,
    }
}

/// Ends the app: an rseq area or critical section was unusable or forged.
pub fn die(task: &Task, why: &dyn core::fmt::Display) -> ! {
    crate::signal::fatal_report(task, crate::fault::Signal::SIGSEGV, why)
}

/// IRQ or exception entry from EL0 (Linux's `rseq_note_user_irq_entry`).
#[inline(always)]
pub fn note_user_irq_entry(task: &Task) {
    with(task, |r, _| rseq::note_user_irq_entry(r));
}

/// `task` is being switched in on this CPU with these IDs.
pub fn sched_switch_in(task: &Task, cpu: usize, mm_cid: u32) {
    // SAFETY: called from the context switch with IRQs masked, for the task
    // this CPU is about to run (owned by this CPU under on_cpu).
    let raise = unsafe { rseq::sched_switch_event(task.rseq_mut(), cpu as u32, mm_cid, MODE) };
    if raise {
        task.flags.set(TIF_RSEQ);
    }
}

/// The TIF_RSEQ fast path (IRQs masked, from the exit loop).
pub fn fastpath(task: &Task, tf: &mut TrapFrame) -> bool {
    with_irqs_off(task, |r, stats| {
        rseq::exit_fastpath(r, &mut ctx(&mut KernelUserMem, stats, task), &mut tf.pc)
    })
}

/// The TIF_NOTIFY_RESUME slow path; an unrecoverable state kills the app.
pub fn slowpath(task: &Task, tf: &mut TrapFrame) {
    let result = with(task, |r, stats| {
        rseq::slowpath(r, &mut ctx(&mut KernelUserMem, stats, task), &mut tf.pc)
    });
    if let Err(fatal) = result {
        die(task, &fatal);
    }
}

/// Before a signal frame is built: abort an interrupted critical section
/// (the frame then records the abort address) and, in v1, force the IDs.
/// A time slice grant ends here too (other work: revoked).
pub fn signal_deliver(task: &Task, tf: &mut TrapFrame) {
    grant(task, false, true);
    match with(task, |r, stats| {
        rseq::signal_deliver(r, &mut ctx(&mut KernelUserMem, stats, task), &mut tf.pc)
    }) {
        Ok(true) => task.flags.set(TIF_RSEQ),
        Ok(false) => {}
        Err(fatal) => die(task, &fatal),
    }
}

/// The last step of every exit to EL0 (IRQs masked): events cleared, and
/// the enforcement timer armed if a grant is on.
#[inline(always)]
pub fn exit_to_user_mode(task: &Task) {
    with_irqs_off(task, rseq::exit_to_user_mode);
    slice_arm(task);
}

/// The membarrier-RSEQ IPI on this CPU: acts on the thread it interrupted.
pub fn membarrier_ipi() {
    let Some(task) = crate::task::try_current().filter(|t| !t.is_idle) else {
        return;
    };
    let cid = task.mm_cid.load(Ordering::Relaxed);
    let cpu = arch::cpu::cpu_id() as u32;
    if with(task, |r, _| rseq::membarrier_ipi(r, cpu, cid, MODE)) {
        task.flags.set(TIF_RSEQ);
    }
}

/// `rseq_debug=1`: the syscall entry check runs.
#[inline(always)]
pub fn debug_enabled() -> bool {
    DEBUG.load(Ordering::Relaxed)
}

/// Debug mode, at syscall entry: no syscall from inside a critical section.
pub fn debug_syscall(task: &Task, tf: &TrapFrame) -> Result<(), rseq::Fatal> {
    with(task, |r, stats| {
        rseq::debug_syscall(r, &mut ctx(&mut KernelUserMem, stats, task), tf.pc)
    })
}

/// rseq(rseq, len, flags, sig) — syscall 293.
pub fn sys_rseq(tf: &mut TrapFrame) -> i64 {
    let task = current();
    let (ptr, len, flags, sig) = (
        tf.regs[0],
        tf.regs[1] as u32,
        tf.regs[2] as u32,
        tf.regs[3] as u32,
    );
    let slice_available = slice_available();
    let result = with(task, |r, stats| {
        rseq::sys_rseq(
            r,
            &mut ctx(&mut KernelUserMem, stats, task),
            ptr,
            len,
            flags,
            sig,
            slice_available,
        )
    });
    match result {
        Ok(raise) => {
            if raise {
                task.flags.set(TIF_RSEQ);
            }
            0
        }
        Err(e) => {
            // A length that contradicts the image's mode is the one refusal
            // a user cannot guess from the errno: always say why. Others
            // (bad flags, pointers, re-registration, ...) only at
            // loglevel=8, so that a fuzzer cannot flood the console.
            if let Some(why) = e.why {
                if e.mode_rule {
                    println!("[rseq] tid {}: {why}", task.tid());
                } else {
                    pr_debug!("[rseq] tid {}: {why}", task.tid());
                }
            }
            -e.errno
        }
    }
}

/// Slice extension configuration: `rseq_slice_ext=` and `rseq_slice_us=`.
static SLICE_EXT: AtomicBool = AtomicBool::new(true);
static SLICE_TICKS: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);
/// Per CPU: the enforcement timer is armed.
static SLICE_TIMER_ARMED: [AtomicBool; arch::MAX_CPUS] =
    [const { AtomicBool::new(false) }; arch::MAX_CPUS];

/// Sets up the time slice extension from the command line.
pub fn slice_init(enabled: bool, slice_us: u32) {
    SLICE_EXT.store(enabled, Ordering::Relaxed);
    let ticks = arch::timer::cntfrq() * slice_us as u64 / 1_000_000;
    SLICE_TICKS.store(ticks.max(1), Ordering::Relaxed);
}

/// The extension is offered: a v2 image with `rseq_slice_ext=1`.
pub fn slice_available() -> bool {
    MODE == Mode::V2 && SLICE_EXT.load(Ordering::Relaxed)
}

/// The exit loop's reschedule step, `from_irq` when returning from an
/// interrupt/exception: grant an extension instead of scheduling?
pub fn grant(task: &Task, from_irq: bool, other_work: bool) -> bool {
    use rseq::slice::Grant;
    let r = with(task, |r, stats| {
        rseq::slice::grant_slice_extension(
            r,
            &mut ctx(&mut KernelUserMem, stats, task),
            from_irq,
            other_work,
        )
    });
    match r {
        Ok(Grant::Granted) => true,
        Ok(Grant::Schedule | Grant::Revoked) => false,
        Err(fatal) => die(task, &fatal),
    }
}

/// Arms the enforcement timer right before returning to EL0 with a grant.
fn slice_arm(task: &Task) {
    // SAFETY: current task, IRQs masked (the end of the exit path).
    let granted = unsafe { task.rseq_mut().slice_granted };
    let cpu = arch::cpu::cpu_id();
    if granted && !SLICE_TIMER_ARMED[cpu].swap(true, Ordering::Relaxed) {
        arch::timer::arm_virt_timer_at(
            arch::timer::virt_counter() + SLICE_TICKS.load(Ordering::Relaxed),
        );
    }
}

/// Cancels this CPU's enforcement timer (yield, syscall, switch).
pub fn slice_cancel_timer() {
    if SLICE_TIMER_ARMED[arch::cpu::cpu_id()].swap(false, Ordering::Relaxed) {
        arch::timer::cancel_virt_timer();
    }
}

/// The enforcement timer fired (its IRQ): the grant, if still on, is over;
/// the exit path then revokes it and schedules.
pub fn slice_timer_expired() {
    slice_cancel_timer();
    arch::timer::cancel_virt_timer();
    let Some(task) = crate::task::try_current().filter(|t| !t.is_idle) else {
        return;
    };
    if with(task, |r, stats| rseq::slice::timer_expired(r, stats)) {
        task.flags.set(entry::tif::TIF_NEED_RESCHED);
    }
}

/// `task` enabled the time slice extension.
#[inline(always)]
pub fn slice_enabled(task: &Task) -> bool {
    // SAFETY: current task; a plain read of a flag only this CPU writes.
    unsafe { task.rseq_mut().slice_enabled }
}

/// Syscall entry (not rseq_slice_yield): a syscall during a grant aborts
/// it; true when one was on.
#[inline(always)]
pub fn slice_syscall_entry(task: &Task) -> Result<bool, rseq::Fatal> {
    with(task, |r, stats| {
        rseq::slice::syscall_entry(r, &mut ctx(&mut KernelUserMem, stats, task))
    })
}

/// rseq_slice_yield() — syscall 471: 1 when it yielded inside a grant.
pub fn sys_rseq_slice_yield(_tf: &mut TrapFrame) -> i64 {
    let task = current();
    match with(task, |r, stats| {
        rseq::slice::slice_yield(r, &mut ctx(&mut KernelUserMem, stats, task))
    }) {
        Ok(1) => {
            slice_cancel_timer();
            crate::sched::yield_now();
            1
        }
        Ok(v) => v,
        Err(fatal) => die(task, &fatal),
    }
}

/// prctl(PR_RSEQ_SLICE_EXTENSION, ...).
pub fn slice_prctl(args: [u64; 4]) -> i64 {
    let task = current();
    let available = slice_available();
    match with(task, |r, stats| {
        rseq::slice::prctl(
            r,
            &mut ctx(&mut KernelUserMem, stats, task),
            args,
            available,
        )
    }) {
        Ok(v) => v,
        Err(rseq::slice::PrctlError::Errno(e)) => -e,
        Err(rseq::slice::PrctlError::Fatal(fatal)) => die(task, &fatal),
    }
}

/// `task` stops running on this CPU: its grant, if any, is over.
pub fn slice_sched_out(task: &Task) {
    // SAFETY: called from the context switch for the outgoing task, IRQs masked.
    rseq::slice::sched_out(unsafe { task.rseq_mut() });
    slice_cancel_timer();
}

/// The mode's name as the logs and tests spell it.
pub fn mode_name() -> &'static str {
    match MODE {
        Mode::V1 => "v1",
        Mode::V2 => "v2",
    }
}

/// Statistics summed over CPUs.
pub fn stats_sum() -> RseqStats {
    (0..arch::MAX_CPUS).fold(RseqStats::default(), |sum, c| {
        sum.add(&percpu::cpu(c).rseq_stats_snapshot())
    })
}

/// The statistics printed at app exit: one `[rseq]` line with the sums
/// (what tests parse), then one `[rseq-cpu]` line per online CPU.
pub fn print_stats() {
    print!("[rseq] mode={}", mode_name());
    for (name, v) in RseqStats::NAMES.iter().zip(stats_sum().as_array()) {
        print!(" {name}={v}");
    }
    println!();
    for c in percpu::online() {
        print!("[rseq-cpu] cpu={}", c.id);
        for (name, v) in RseqStats::NAMES
            .iter()
            .zip(c.rseq_stats_snapshot().as_array())
        {
            print!(" {name}={v}");
        }
        println!();
    }
}
