//! The kernel's rseq state: per task ([`TaskRseq`], Linux's
//! `task_struct::rseq`), per CPU ([`RseqStats`]), and what one call needs
//! besides the task ([`Ctx`]).

use crate::Mode;
use crate::fatal::Fatal;
use crate::mem::UserMem;
use crate::uapi::RSEQ_CPU_ID_UNINITIALIZED_U32;
use abi::kstats::RseqStats;

/// Linux's struct rseq_event.
///
/// `sched_switch`: work is due on the way to user mode (TIF_RSEQ).
/// `ids_changed`: the ID fields must be written. `user_irq`: the task
/// entered the kernel by an interrupt or exception from user mode (so its
/// IP may be inside a critical section). `slowpath`: the fast path hit a
/// fault and the slow path must retry. `fatal`: user space data is invalid;
/// the reason is in [`TaskRseq::last_fatal`].
///
/// `ids_changed` and `user_irq` come first and side by side, 2-aligned
/// (`repr(C, align(2))`), so that the switch-in test of both
/// ([`RseqEvent::pending_on_switch`]) is one 16-bit load.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(C, align(2))]
pub struct RseqEvent {
    /// Linux's `rseq_event::ids_changed`.
    pub ids_changed: bool,
    /// Linux's `rseq_event::user_irq`.
    pub user_irq: bool,
    /// Linux's `rseq_event::sched_switch`.
    pub sched_switch: bool,
    /// Linux's `rseq_event::slowpath`.
    pub slowpath: bool,
    /// Linux's `rseq_event::fatal`.
    pub fatal: bool,
}

impl RseqEvent {
    /// `ids_changed || user_irq`: a switch-in has work to raise (Linux's
    /// `ev->user_irq | ev->ids_changed`).
    #[inline(always)]
    pub fn pending_on_switch(&self) -> bool {
        const _: () = assert!(
            core::mem::offset_of!(RseqEvent, ids_changed) == 0
                && core::mem::offset_of!(RseqEvent, user_irq) == 1
        );
        // One 16-bit load of both flags: a bool is the byte 0 or 1, so the
        // pair is non-zero exactly when either is set. (Written as `a | b`,
        // the compiler loads and tests each byte.)
        // SAFETY: the two bytes at the start of `self` are the initialised
        // bools `ids_changed` and `user_irq` (`repr(C)`, checked above),
        // and `self` is 2-aligned (`align(2)`).
        let both = unsafe { (self as *const Self).cast::<u16>().read() };
        both != 0
    }
}

/// The IDs the kernel last wrote to a task's rseq area (Linux's
/// `struct rseq_ids`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ids {
    /// Written to `cpu_id_start` and `cpu_id`.
    pub cpu_id: u32,
    /// Written to `mm_cid`.
    pub mm_cid: u32,
}

impl Ids {
    /// What registration writes (`cpu_id_start` = `cpu_id` =
    /// `RSEQ_CPU_ID_UNINITIALIZED`, `mm_cid` = 0), and so what the area
    /// holds while [`TaskRseq::ids`] is `None` (Linux's `rseq_reset()`
    /// value of `rseq.ids`).
    pub const REGISTERED: Ids = Ids {
        cpu_id: RSEQ_CPU_ID_UNINITIALIZED_U32,
        mm_cid: 0,
    };
}

/// Per-task kernel rseq state (Linux's task_struct::rseq).
#[derive(Debug, Clone, Copy, Default)]
pub struct TaskRseq {
    /// User address of the registered `struct rseq`.
    pub usrptr: u64,
    /// Registered length.
    pub len: u32,
    /// Registered signature.
    pub sig: u32,
    /// 0 none, else the registration's [`Version`](crate::Version): 1 v1,
    /// 2 v2.
    pub has_rseq: u8,
    /// Pending events.
    pub event: RseqEvent,
    /// The IDs last written to user space (None: must write; the area
    /// then holds [`Ids::REGISTERED`]). A v1 registration keeps it only in
    /// debug mode, where the read-only check reads it.
    pub ids: Option<Ids>,
    /// The `node_id` last written to user space (0 until the first write,
    /// as registration writes 0). Kept with `ids` so that v2 can check the
    /// read-only `node_id` field.
    pub node_id: u32,
    /// Time slice extension enabled (prctl, or `RSEQ_FLAG_SLICE_EXT_DEFAULT_ON`
    /// at registration).
    pub slice_enabled: bool,
    /// A time slice extension is granted and not yet ended (yield, abort,
    /// revoke, or the task being scheduled).
    pub slice_granted: bool,
    /// Why the task was last found broken (the kill report), set together
    /// with `event.fatal`.
    pub last_fatal: Option<Fatal>,
}

impl TaskRseq {
    /// The task has a registration.
    pub const fn registered(&self) -> bool {
        self.has_rseq != 0
    }
}

const _: () = assert!(core::mem::size_of::<RseqStats>() == 13 * 8);

/// Everything a path needs besides the task: user memory, this CPU's stats, the IDs to publish, debug mode.
pub struct Ctx<'a, M: UserMem> {
    /// The current task's user memory.
    pub mem: &'a mut M,
    /// This CPU's statistics.
    pub stats: &'a mut RseqStats,
    /// The CPU the task runs on (written to `cpu_id_start`, `cpu_id`).
    pub cpu_id: u32,
    /// The task's concurrency ID (written to `mm_cid`).
    pub mm_cid: u32,
    /// The CPU's NUMA node (written to `node_id`).
    pub node_id: u32,
    /// `rseq_debug=1`: Linux's `rseq_debug_enabled` static key.
    pub debug: bool,
    /// The image's mode; with the task's `has_rseq` it decides the version
    /// each path runs ([`Mode::version_of`]).
    pub mode: Mode,
}

impl<M: UserMem> Ctx<'_, M> {
    /// The IDs to publish.
    pub(crate) fn ids(&self) -> Ids {
        Ids {
            cpu_id: self.cpu_id,
            mm_cid: self.mm_cid,
        }
    }
}
