//! The kernel side of the `rseq` crate's interfaces: user memory through the
//! checked user-access helpers, this CPU's statistics, the image's mode,
//! debug mode, and the verdict for an unusable rseq state.

use crate::process::verdict::Kill;
use crate::sched::percpu;
use crate::sched::task::Task;
use arch::TrapFrame;
use arch::uaccess;
use core::sync::atomic::{AtomicBool, Ordering};
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
pub struct KernelUserMem;

/// The fast path's user memory (Linux's accesses under
/// `pagefault_disable()`): a page without a frame fails the access instead
/// of being paged in, and the slow path does the work.
pub struct NoFaultUserMem;

/// `UserMem` for `$mem` over one family of `arch::uaccess` accessors.
macro_rules! user_mem {
    ($mem:ty, $get:path, $put:path) => {
        impl UserMem for $mem {
            fn read_u32(&mut self, addr: u64) -> Result<u32, Fault> {
                $get(addr).map_err(|_| Fault)
            }
            fn read_u64(&mut self, addr: u64) -> Result<u64, Fault> {
                $get(addr).map_err(|_| Fault)
            }
            fn write_u32(&mut self, addr: u64, v: u32) -> Result<(), Fault> {
                $put(addr, v).map_err(|_| Fault)
            }
            fn write_u64(&mut self, addr: u64, v: u64) -> Result<(), Fault> {
                $put(addr, v).map_err(|_| Fault)
            }
            fn access_ok(&self, addr: u64, len: u64) -> bool {
                uaccess::access_ok(addr, len as usize)
            }
        }
    };
}

user_mem!(KernelUserMem, uaccess::get_user, uaccess::put_user);
user_mem!(
    NoFaultUserMem,
    uaccess::get_user_nofault,
    uaccess::put_user_nofault
);

/// As [`with`], for callers that already run with IRQs masked (the end of
/// the exit path): no DAIF save/restore on the hot path.
#[inline(always)]
pub fn with_irqs_off<R>(task: &Task, f: impl FnOnce(&mut TaskRseq, &mut RseqStats) -> R) -> R {
    // SAFETY: the task runs on this CPU and IRQs are masked by the caller.
    unsafe { f(task.rseq_mut(), percpu::this_cpu().rseq_stats_mut()) }
}

/// Runs `f` on `task`'s rseq state and this CPU's statistics with IRQs masked.
pub fn with<R>(task: &Task, f: impl FnOnce(&mut TaskRseq, &mut RseqStats) -> R) -> R {
    let flags = arch::cpu::local_irq_save();
    // SAFETY: the task runs (or is being switched in) on this CPU, IRQs are
    // masked, and only this CPU touches its own statistics.
    let r = unsafe { f(task.rseq_mut(), percpu::this_cpu().rseq_stats_mut()) };
    arch::cpu::local_irq_restore(flags);
    r
}

/// A context for the paths: this CPU's IDs as `task` will see them.
pub fn ctx<'a, M: UserMem>(mem: &'a mut M, stats: &'a mut RseqStats, task: &Task) -> Ctx<'a, M> {
    let mm_cid = task.mm_cid.load(Ordering::Relaxed);
    Ctx {
        mem,
        stats,
        cpu_id: arch::cpu::cpu_id() as u32,
        mm_cid: if mm_cid == crate::sched::task::NO_CID {
            0
        } else {
            mm_cid
        },
        node_id: 0,
        debug: DEBUG.load(Ordering::Relaxed),
        mode: MODE,
    }
}

/// The verdict for an rseq area or critical section that was unusable or
/// forged: SIGSEGV, as Linux forces.
pub fn die(task: &Task, fatal: rseq::Fatal) -> Kill {
    Kill::rseq(task.tid(), fatal)
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
