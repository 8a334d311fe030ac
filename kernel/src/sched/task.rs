//! Tasks: the threads of the one app, and one idle thread per CPU.
//!
//! `current()` lives in TPIDR_EL1, which EL0 cannot read, as Linux keeps it
//! in a per-CPU register. Tasks are never freed (a thread's kernel stack may
//! still be in use while it exits); the app is short-lived by design.

use crate::process::signal::state::SigState;
use crate::sync::SpinLock;
use aarch64_cpu::registers::{Readable, TPIDR_EL1, Writeable};
use alloc::boxed::Box;
use alloc::vec::Vec;
use arch::TrapFrame;
use arch::context::{CpuContext, FpState};
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicPtr, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use entry::syscall_work::SyscallWork;
use entry::tif::ThreadFlags;

/// Kernel stack per user thread: exceptions from EL0 start at its top.
pub const KERNEL_STACK_SIZE: usize = 32 * 1024;

/// Linux's task states, reduced to what we need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum TaskState {
    /// On a CPU.
    Running = 0,
    /// In a run queue.
    Runnable = 1,
    /// Waiting (futex, sleep); woken by `sched::wake_up`.
    Blocked = 2,
    /// Exited; never runs again.
    Dead = 3,
}

/// Why a blocked task was woken (read by the code that blocked).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum WakeReason {
    /// Not woken yet.
    None = 0,
    /// The event it waited for (futex wake).
    Event = 1,
    /// Its timeout expired.
    Timeout = 2,
    /// A signal arrived.
    Signal = 3,
}

/// No concurrency ID held.
pub const NO_CID: u32 = u32::MAX;

/// One thread (Linux's `task_struct`, the parts we need).
pub struct Task {
    /// Thread ID (the main thread's equals the PID, 1).
    tid: AtomicU32,
    /// The TIF word the exit loop works from.
    pub flags: ThreadFlags,
    /// What its syscalls must do besides the call (`SYSCALL_WORK_*`).
    pub syscall_work: SyscallWork,
    /// Syscalls it made ([`sum_syscalls`]). Written only by the task
    /// itself, on its CPU (the syscall entry, and the fast lane in
    /// `entry::lane`), so a load and a store count one: no atomic
    /// read-modify-write on the null syscall, no line shared between
    /// CPUs. Kept when a reaped task is reused, so that the sum stays the
    /// count since boot.
    syscalls: AtomicU64,
    /// A [`TaskState`]. Changed under `sched_lock` (except by the running
    /// task itself going Runnable→Running when picked).
    pub state: AtomicU8,
    /// Serialises sleeping and waking; holds "deactivated": the task blocked
    /// and `schedule()` took it off its CPU, so a waker must enqueue it.
    pub sched_lock: SpinLock<bool>,
    /// 1 while a CPU runs it (or is still saving it): another CPU must not
    /// switch to it until this is 0 (Linux's `on_cpu`).
    pub on_cpu: AtomicU32,
    /// The CPU it runs on, or last ran on.
    pub cpu: AtomicUsize,
    /// CPUs it may run on (bit n = CPU n).
    pub cpus_allowed: AtomicU64,
    /// An idle thread (kernel only, never in a run queue).
    pub is_idle: bool,
    /// A [`WakeReason`].
    pub wake_reason: AtomicU8,
    /// `set_tid_address` / CLONE_CHILD_CLEARTID: zeroed and futex-woken at exit.
    pub clear_child_tid: AtomicU64,
    /// TPIDR_EL0 while the thread is not running.
    pub tpidr_el0: AtomicU64,
    /// `set_robust_list`: the head of the thread's robust futex list,
    /// walked when it exits (`process::robust`).
    pub robust_list: AtomicU64,
    /// Blocked and pending signals, and the fault that raised one.
    pub sig: SpinLock<SigState>,
    /// The mm_cid it holds while running (`NO_CID` when not running).
    pub mm_cid: AtomicU32,
    /// The mm_cid it held last; a new, different value is a change rseq v2 reports.
    pub last_mm_cid: AtomicU32,
    /// How often its mm_cid changed.
    pub mm_cid_changes: AtomicU64,
    /// How often it changed CPU.
    pub migrations: AtomicU64,
    /// rseq state (registration, events, cached IDs): touched only by the
    /// CPU running or switching in the task, IRQs masked (`rseq_hooks`).
    rseq: UnsafeCell<rseq::TaskRseq>,
    /// Saved kernel registers while switched out. Touched only by the CPU
    /// switching it, under the `on_cpu` protocol.
    ctx: UnsafeCell<CpuContext>,
    /// Saved EL0 FP/SIMD state while switched out (same protocol).
    fp: UnsafeCell<FpState>,
    /// Bottom of its kernel stack (null for idle threads, which use the boot
    /// stack, and for reaped dead threads).
    kstack: AtomicPtr<u8>,
}

// SAFETY: `ctx`, `fp` and `kstack` are only touched by the one CPU that runs
// or switches the task (serialised by `on_cpu`); everything else is atomic or locked.
unsafe impl Sync for Task {}
// SAFETY: as above.
unsafe impl Send for Task {}

/// Reaped dead threads waiting to be reused.
static REAPED: SpinLock<Vec<&'static Task>> = SpinLock::new(Vec::new());

/// Every user thread ever created (for kill, membarrier, exit_group).
static THREADS: SpinLock<Vec<&'static Task>> = SpinLock::new(Vec::new());
/// Threads not yet exited; the app ends when this drops to 0.
pub static LIVE_THREADS: AtomicU32 = AtomicU32::new(0);
/// Threads that exited and still hold their kernel stack until their CPU
/// has switched away from them (`free_kstack`): `kstats` reports them so
/// that a count of free frames can be compared exactly.
pub static DYING_THREADS: AtomicU32 = AtomicU32::new(0);
static NEXT_TID: AtomicU32 = AtomicU32::new(1);
/// Where the syscall fast lane (`entry::lane`) finds a task's fields.
pub mod offsets {
    use super::Task;
    use core::mem::offset_of;

    /// The TIF word.
    pub const FLAGS: usize = offset_of!(Task, flags);
    /// The syscall work word.
    pub const SYSCALL_WORK: usize = offset_of!(Task, syscall_work);
    /// The syscall counter.
    pub const SYSCALLS: usize = offset_of!(Task, syscalls);
    /// The TID.
    pub const TID: usize = offset_of!(Task, tid);
}

/// The syscall work bits every task starts with: the boot options that
/// concern every syscall (`strace=1`, `rseq_debug=1`).
static BOOT_SYSCALL_WORK: AtomicU32 = AtomicU32::new(0);

/// Sets (`on`) or clears the syscall work bits `mask` in every task, and
/// in every task made from now on (a boot option).
pub fn set_boot_syscall_work(mask: u32, on: bool) {
    let threads = THREADS.lock();
    if on {
        BOOT_SYSCALL_WORK.fetch_or(mask, Ordering::Relaxed);
    } else {
        BOOT_SYSCALL_WORK.fetch_and(!mask, Ordering::Relaxed);
    }
    for t in threads.iter() {
        t.syscall_work.update(mask, on);
    }
}

/// Syscalls made since boot, by every thread (exited ones included).
pub fn sum_syscalls() -> u64 {
    THREADS
        .lock()
        .iter()
        .map(|t| t.syscalls.load(Ordering::Relaxed))
        .sum()
}

/// Why `clone` could not make a thread (its errno).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NewTaskError {
    /// `threads_max` threads are alive (Linux's `copy_process()`: EAGAIN).
    Limit,
    /// No memory for the kernel stack or the task (ENOMEM).
    NoMemory,
}

impl Task {
    fn alloc(tid: u32, is_idle: bool, cpus_allowed: u64, kstack: *mut u8) -> Task {
        Task {
            tid: AtomicU32::new(tid),
            flags: ThreadFlags::new(),
            syscall_work: SyscallWork::new(BOOT_SYSCALL_WORK.load(Ordering::Relaxed)),
            syscalls: AtomicU64::new(0),
            state: AtomicU8::new(TaskState::Runnable as u8),
            sched_lock: SpinLock::new(false),
            on_cpu: AtomicU32::new(0),
            cpu: AtomicUsize::new(0),
            cpus_allowed: AtomicU64::new(cpus_allowed),
            is_idle,
            wake_reason: AtomicU8::new(WakeReason::None as u8),
            clear_child_tid: AtomicU64::new(0),
            tpidr_el0: AtomicU64::new(0),
            robust_list: AtomicU64::new(0),
            sig: SpinLock::new(SigState::default()),
            mm_cid: AtomicU32::new(NO_CID),
            last_mm_cid: AtomicU32::new(NO_CID),
            mm_cid_changes: AtomicU64::new(0),
            migrations: AtomicU64::new(0),
            rseq: UnsafeCell::new(rseq::TaskRseq::default()),
            ctx: UnsafeCell::new(CpuContext::default()),
            fp: UnsafeCell::new(FpState::default()),
            kstack: AtomicPtr::new(kstack),
        }
    }

    /// A new user thread that will start at EL0 with `frame`, on any CPU,
    /// or why there is none. Reuses a reaped dead thread's Task when there
    /// is one, so thread churn does not grow the kernel heap. Everything
    /// a thread will need from the kernel heap for its life (its slots in
    /// the run queues, the futex and timer lists) is reserved here, so
    /// that no later allocation on its behalf can fail; `reserve(n)` makes
    /// room for `n` tasks in the lists of the layers above the scheduler
    /// (the futex waiters), under the same lock. On an error nothing is
    /// left behind.
    pub fn new_user(
        frame: TrapFrame,
        tpidr_el0: u64,
        reserve: fn(usize) -> bool,
    ) -> Result<&'static Task, NewTaskError> {
        let max = threads_max().min(u64::from(u32::MAX)) as u32;
        LIVE_THREADS
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < max).then_some(n + 1)
            })
            .map_err(|_| NewTaskError::Limit)?;
        let task = Self::new_user_slot(reserve).inspect_err(|_| {
            LIVE_THREADS.fetch_sub(1, Ordering::SeqCst);
        })?;
        task.tpidr_el0.store(tpidr_el0, Ordering::Relaxed);
        let top = task.user_frame();
        // SAFETY: the frame slot at the top of the task's fresh kernel stack.
        unsafe { top.write(frame) };
        let ctx = arch::context::new_thread_context(top);
        // SAFETY: the task is not visible to any scheduler yet.
        unsafe { *task.ctx.get() = ctx };
        Ok(task)
    }

    /// A Task with a fresh kernel stack and TID: recycled, or allocated
    /// with every list slot it needs reserved.
    fn new_user_slot(reserve: fn(usize) -> bool) -> Result<&'static Task, NewTaskError> {
        let kstack =
            crate::mm::alloc_kernel_stack(KERNEL_STACK_SIZE).ok_or(NewTaskError::NoMemory)?;
        let free_stack = || {
            // SAFETY: allocated just above and never used.
            unsafe { crate::mm::free_kernel_stack(kstack, KERNEL_STACK_SIZE) }
        };
        let tid = NEXT_TID.fetch_add(1, Ordering::Relaxed);
        if let Some(t) = REAPED.lock().pop() {
            t.reset_for_reuse(tid, kstack);
            return Ok(t);
        }
        let mut threads = THREADS.lock();
        let tasks = threads.len() + 1;
        let reserved = threads.try_reserve(1).is_ok()
            && REAPED.lock().try_reserve(tasks).is_ok()
            && crate::sched::reserve_task_slots(tasks)
            && reserve(tasks);
        let task = if reserved {
            try_leak(Task::alloc(tid, false, u64::MAX, kstack))
        } else {
            None
        };
        let Some(task) = task else {
            drop(threads);
            free_stack();
            return Err(NewTaskError::NoMemory);
        };
        threads.push(task);
        Ok(task)
    }

    /// Makes a reaped task (dead, off every CPU, stack freed) a fresh thread
    /// with TID `tid` and a new kernel stack. Every field is interior-mutable,
    /// so stale `&Task` from a TID lookup stay valid references (they now see
    /// the new thread, whose TID they can check).
    fn reset_for_reuse(&self, tid: u32, kstack: *mut u8) {
        self.tid.store(tid, Ordering::Release);
        self.flags.clear_all();
        self.syscall_work
            .store(BOOT_SYSCALL_WORK.load(Ordering::Relaxed));
        *self.sched_lock.lock() = false;
        self.on_cpu.store(0, Ordering::Relaxed);
        self.cpu.store(0, Ordering::Relaxed);
        self.cpus_allowed.store(u64::MAX, Ordering::Relaxed);
        self.wake_reason
            .store(WakeReason::None as u8, Ordering::Relaxed);
        self.clear_child_tid.store(0, Ordering::Relaxed);
        self.tpidr_el0.store(0, Ordering::Relaxed);
        self.robust_list.store(0, Ordering::Relaxed);
        *self.sig.lock() = SigState::default();
        self.mm_cid.store(NO_CID, Ordering::Relaxed);
        self.last_mm_cid.store(NO_CID, Ordering::Relaxed);
        self.mm_cid_changes.store(0, Ordering::Relaxed);
        self.migrations.store(0, Ordering::Relaxed);
        // SAFETY: the task is dead and off every CPU (reaped), so nothing
        // else touches its switch state or rseq state.
        unsafe {
            *self.rseq.get() = rseq::TaskRseq::default();
            *self.ctx.get() = CpuContext::default();
            *self.fp.get() = FpState::default();
        }
        self.kstack.store(kstack, Ordering::Release);
        self.set_state(TaskState::Runnable);
    }

    /// The thread ID (the main thread's equals the PID, 1).
    pub fn tid(&self) -> u32 {
        self.tid.load(Ordering::Acquire)
    }

    /// Counts a syscall of this task, which must be the current one.
    #[inline(always)]
    pub fn count_syscall(&self) {
        let n = self.syscalls.load(Ordering::Relaxed);
        self.syscalls.store(n + 1, Ordering::Relaxed);
    }

    /// Hands a reaped task (dead, switched out, stack freed) to the pool
    /// `new_user` recycles from.
    pub fn recycle(&'static self) {
        REAPED.lock().push(self);
    }

    /// CPU `cpu`'s idle thread; it adopts the running boot stack.
    pub fn new_idle(cpu: usize) -> &'static Task {
        // At boot: nothing to fall back on without an idle thread.
        let task: &'static Task = Box::leak(Box::new(Task::alloc(
            0,
            true,
            1 << cpu,
            core::ptr::null_mut(),
        )));
        task.cpu.store(cpu, Ordering::Relaxed);
        task.state
            .store(TaskState::Running as u8, Ordering::Relaxed);
        task.on_cpu.store(1, Ordering::Relaxed);
        task
    }

    /// Where the user TrapFrame of this task sits: the top of its kernel
    /// stack, so that every exception from EL0 lands exactly there.
    pub fn user_frame(&self) -> *mut TrapFrame {
        debug_assert!(!self.is_idle);
        let kstack = self.kstack.load(Ordering::Relaxed);
        // SAFETY: in bounds of the stack allocation (size > TrapFrame).
        unsafe {
            kstack
                .add(KERNEL_STACK_SIZE - core::mem::size_of::<TrapFrame>())
                .cast()
        }
    }

    /// The task's rseq state.
    ///
    /// # Safety
    ///
    /// Only on the CPU running the task (or switching it in), with IRQs
    /// masked, and no other reference alive.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn rseq_mut(&self) -> &mut rseq::TaskRseq {
        // SAFETY: exclusive by the caller's contract.
        unsafe { &mut *self.rseq.get() }
    }

    /// Frees the kernel stack of a dead thread (Linux's `put_task_stack`).
    /// The small Task itself stays, so stale TID lookups stay safe.
    ///
    /// # Safety
    ///
    /// The task is Dead and off every CPU (its last switch completed).
    pub unsafe fn free_kstack(&self) {
        let p = self.kstack.swap(core::ptr::null_mut(), Ordering::AcqRel);
        if !p.is_null() {
            // SAFETY: from `mm::alloc_kernel_stack` with this size, and no
            // longer used (caller's contract).
            unsafe { crate::mm::free_kernel_stack(p, KERNEL_STACK_SIZE) };
            DYING_THREADS.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// The task's [`TaskState`].
    pub fn state(&self) -> TaskState {
        match self.state.load(Ordering::Acquire) {
            0 => TaskState::Running,
            1 => TaskState::Runnable,
            2 => TaskState::Blocked,
            _ => TaskState::Dead,
        }
    }

    /// Sets the state unconditionally.
    pub fn set_state(&self, to: TaskState) {
        self.state.store(to as u8, Ordering::Release);
    }

    /// May it run on `cpu`?
    pub fn allowed_on(&self, cpu: usize) -> bool {
        self.cpus_allowed.load(Ordering::Relaxed) & (1 << cpu) != 0
    }

    /// Raw pointers to the switch state, for `sched::context_switch`.
    ///
    /// # Safety
    ///
    /// Only the CPU switching this task away from or to itself may use them.
    pub unsafe fn switch_state(&self) -> (*mut CpuContext, *mut FpState) {
        (self.ctx.get(), self.fp.get())
    }
}

/// Kernel heap a thread may need beyond its Task: its slots in the four
/// run queues, the futex and timer lists and the thread lists.
const HEAP_PER_THREAD: usize = 256;

/// Linux's `threads-max` (`set_max_threads()`): at most RAM / (8 ×
/// kernel stack size) threads, so kernel stacks can never take more than
/// an eighth of memory; and at most what half the kernel heap holds, so
/// the heap cannot run out first.
pub fn threads_max() -> u64 {
    let (frames, _) = crate::mm::frame_counts();
    let by_ram = frames * arch::PAGE_SIZE as u64 / (8 * KERNEL_STACK_SIZE as u64);
    let by_heap =
        (crate::mm::HEAP_SIZE / 2 / (core::mem::size_of::<Task>() + HEAP_PER_THREAD)) as u64;
    by_ram.min(by_heap)
}

/// `Box::leak(Box::new(value))`, or `None` when the heap is exhausted.
fn try_leak<T>(value: T) -> Option<&'static T> {
    let layout = core::alloc::Layout::new::<T>();
    // SAFETY: `T` (a Task) is not zero-sized.
    let p = unsafe { alloc::alloc::alloc(layout) }.cast::<T>();
    if p.is_null() {
        return None;
    }
    // SAFETY: `p` is fresh, aligned and big enough for a `T`; it is never
    // freed, so the reference is `'static`.
    unsafe {
        p.write(value);
        Some(&*p)
    }
}

/// The first thread (exited ones included) that `pred` accepts.
pub fn find_thread(mut pred: impl FnMut(&Task) -> bool) -> Option<&'static Task> {
    THREADS.lock().iter().copied().find(|t| pred(t))
}

/// Looks a thread up by TID.
pub fn find(tid: u32) -> Option<&'static Task> {
    THREADS.lock().iter().copied().find(|t| t.tid() == tid)
}

/// Whether `pid` names a thread of the app that has not exited (a pid as
/// Linux's `find_task_by_vpid` takes it: a TID, the main thread's being
/// the PID 1).
pub fn is_live_thread(pid: i32) -> bool {
    pid > 0 && find(pid as u32).is_some_and(|t| t.state() != TaskState::Dead)
}

/// Makes `task` the one running on this CPU.
#[inline(always)]
pub fn set_current(task: &'static Task) {
    TPIDR_EL1.set(task as *const Task as u64);
}

/// The task running on this CPU, if any.
#[inline(always)]
pub fn try_current() -> Option<&'static Task> {
    let p = TPIDR_EL1.get() as *const Task;
    // SAFETY: TPIDR_EL1 is 0 at boot or holds a leaked, never-freed Task.
    unsafe { p.as_ref() }
}

/// The task running on this CPU.
#[inline(always)]
pub fn current() -> &'static Task {
    try_current().expect("no current task")
}
