//! The kernel side of the `rseq` crate's interfaces: user memory through the
//! checked user-access helpers, this CPU's statistics, the image's mode,
//! debug mode, and the verdict for an unusable rseq state.

use crate::process::verdict::Kill;
use crate::sched::percpu::{self, PerCpu};
use crate::sched::task::Task;
use arch::TrapFrame;
use arch::uaccess;
use core::sync::atomic::{AtomicBool, Ordering};
use rseq::{Ctx, Fault, Mode, RseqStats, TaskRseq, UserMem};

/// The mode this image was built for.
pub const MODE: Mode = rseq::MODE;

/// `rseq_debug=1`: Linux's CONFIG_RSEQ_DEBUG checks at run time.
static DEBUG: AtomicBool = AtomicBool::new(false);

/// Sets debug mode (from the command line), and with it every task's
/// `SYSCALL_WORK_RSEQ_DEBUG`, which sends its syscalls through the check.
pub fn set_debug(on: bool) {
    DEBUG.store(on, Ordering::Relaxed);
    crate::sched::task::set_boot_syscall_work(entry::syscall_work::SYSCALL_WORK_RSEQ_DEBUG, on);
}

/// User memory as the rseq crate sees it: LDTR/STTR with fault fixup.
pub struct KernelUserMem;

/// The fast path's user memory (Linux's accesses under
/// `pagefault_disable()`): a page without a frame fails the access instead
/// of being paged in, and the slow path does the work.
pub struct NoFaultUserMem;

/// `UserMem` for `$mem` over one family of `arch::uaccess` accessors.
macro_rules! user_mem {
    ($mem:ty, $get:path, $put:path $(; $($area:item)*)?) => {
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
            $($($area)*)?
        }
    };
}

user_mem!(KernelUserMem, uaccess::get_user, uaccess::put_user);
// The fast path's accesses to the registered area: inline, without
// `access_ok` (the area passed it at registration) and without a call.
const CPU_ID_START: i16 = rseq::uapi::Rseq::CPU_ID_START_OFFSET as i16;
const NODE_ID: i16 = rseq::uapi::Rseq::NODE_ID_OFFSET as i16;
const MM_CID: i16 = rseq::uapi::Rseq::MM_CID_OFFSET as i16;
const RSEQ_CS: i16 = rseq::uapi::Rseq::RSEQ_CS_OFFSET as i16;
user_mem!(
    NoFaultUserMem,
    uaccess::get_user_nofault,
    uaccess::put_user_nofault;
    #[inline(always)]
    fn area_set_ids(
        &mut self,
        area: u64,
        cpu_ids: u64,
        node_id: u32,
        mm_cid: u32,
    ) -> Result<(), Fault> {
        // SAFETY: `area` is the registered, 32-aligned rseq area, which
        // passed `access_ok` for at least 32 bytes (the trait's
        // contract); the fields are aligned to their size within it.
        // The stores are unprivileged and fault-fixed, so a wrong address
        // could only fail.
        unsafe {
            uaccess::unsafe_put_user_nofault_u64::<CPU_ID_START>(area, cpu_ids)
                .map_err(|_| Fault)?;
            uaccess::unsafe_put_user_nofault_u32::<NODE_ID>(area, node_id).map_err(|_| Fault)?;
            uaccess::unsafe_put_user_nofault_u32::<MM_CID>(area, mm_cid).map_err(|_| Fault)
        }
    }
    #[inline(always)]
    fn area_get_csaddr(&mut self, area: u64) -> Result<u64, Fault> {
        // SAFETY: as in `area_set_ids`; `rseq_cs` is 8-aligned.
        unsafe { uaccess::unsafe_get_user_nofault_u64::<RSEQ_CS>(area).map_err(|_| Fault) }
    }
);

/// As [`with`], for callers that already run with IRQs masked (the end of
/// the exit path) and know the CPU they run on, `cpu` (the exit path looks
/// it up once for its fast path and its last step): no DAIF save/restore
/// and no CPU lookup on the hot path. `f` also gets the CPU's number.
#[inline(always)]
pub fn with_irqs_off<R>(
    task: &Task,
    cpu: &PerCpu,
    f: impl FnOnce(&mut TaskRseq, &mut RseqStats, usize) -> R,
) -> R {
    // SAFETY: the task runs on `cpu`, the caller's, and IRQs are masked by
    // the caller, so nothing else touches the task's rseq state or the
    // CPU's statistics.
    unsafe { f(task.rseq_mut(), cpu.rseq_stats_mut(), cpu.id) }
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

/// A context for the paths: this CPU's IDs as `task`, the current task,
/// will see them.
pub fn ctx<'a, M: UserMem>(mem: &'a mut M, stats: &'a mut RseqStats, task: &Task) -> Ctx<'a, M> {
    ctx_on(arch::cpu::cpu_id(), mem, stats, task)
}

/// [`ctx`] for a caller that already knows this CPU's number `cpu`.
#[inline(always)]
pub fn ctx_on<'a, M: UserMem>(
    cpu: usize,
    mem: &'a mut M,
    stats: &'a mut RseqStats,
    task: &Task,
) -> Ctx<'a, M> {
    // Every caller acts for the current task, which holds a concurrency ID
    // from its switch-in (`mm_cid_get`) until its switch-out.
    let mm_cid = task.mm_cid.load(Ordering::Relaxed);
    debug_assert_ne!(mm_cid, crate::sched::task::NO_CID);
    Ctx {
        mem,
        stats,
        cpu_id: cpu as u32,
        mm_cid,
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

/// Debug mode, at syscall entry: no syscall from inside a critical section.
pub fn debug_syscall(task: &Task, tf: &TrapFrame) -> Result<(), rseq::Fatal> {
    with(task, |r, stats| {
        rseq::debug_syscall(r, &mut ctx(&mut KernelUserMem, stats, task), tf.pc)
    })
}
