//! The scheduler: per-CPU run queues, round-robin with a one-tick slice,
//! preemption only through TIF_NEED_RESCHED in the exit loop, wakeups with
//! Linux's `on_cpu` protocol, affinity, load balancing, sleeping with a
//! deadline, and mm_cid.
//!
//! Rules that keep it deadlock-free (the same ones Linux follows):
//! - a task in a run queue may still be finishing its switch-out on another
//!   CPU (`on_cpu == 1`); whoever switches *to* it waits for `on_cpu == 0`;
//! - a waker enqueues a task only once it is off its CPU (`on_cpu == 0`),
//!   and never from inside `schedule()`;
//! - a running task that must leave its CPU (affinity) is handed to the
//!   target run queue only after the switch, in [`finish_task_switch`];
//! - load balancing never takes a task that is on a CPU.

use crate::sched::percpu::{self, PerCpu};
use crate::sched::task::{NO_CID, Task, TaskState, WakeReason, current, set_current};
use crate::sync::SpinLock;
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use entry::tif::{TIF_NEED_RESCHED, TIF_NEED_RESCHED_LAZY};

/// One CPU's queue of runnable tasks (the running one is not in it).
pub struct RunQueue {
    queue: VecDeque<&'static Task>,
    /// The running task is a user thread (counts towards the load).
    curr_is_user: bool,
}

impl RunQueue {
    /// Empty.
    pub const fn new() -> RunQueue {
        RunQueue {
            queue: VecDeque::new(),
            curr_is_user: false,
        }
    }

    /// Is a user thread running on this CPU?
    pub fn running_user(&self) -> bool {
        self.curr_is_user
    }

    /// Runnable user threads on this CPU, the running one included.
    fn nr_running(&self) -> usize {
        self.queue.len() + self.curr_is_user as usize
    }
}

/// Tasks to hand to another CPU after the current switch (one per CPU).
static PENDING_MIGRATION: [AtomicPtr<Task>; arch::MAX_CPUS] =
    [const { AtomicPtr::new(core::ptr::null_mut()) }; arch::MAX_CPUS];

/// Dead threads whose kernel stack can be freed after the current switch.
static PENDING_REAP: [AtomicPtr<Task>; arch::MAX_CPUS] =
    [const { AtomicPtr::new(core::ptr::null_mut()) }; arch::MAX_CPUS];

/// Thread migrations between CPUs.
pub static MIGRATIONS: AtomicU64 = AtomicU64::new(0);

/// Linux's `schedule()`: picks the next task for this CPU and switches to it.
/// Returns when the calling task runs again.
pub fn schedule() {
    let flags = arch::cpu::local_irq_save();
    let cpu = percpu::this_cpu();
    let prev = current();
    prev.flags.clear(TIF_NEED_RESCHED);
    prev.flags.clear(TIF_NEED_RESCHED_LAZY);

    // Tasks whose affinity changed while queued, moved after the run
    // queue lock is dropped; a bounded batch (no allocation in schedule).
    let mut misplaced = TaskBatch::new();
    let next = {
        let mut rq = cpu.rq.lock();
        if !prev.is_idle {
            let mut deactivated = prev.sched_lock.lock();
            match prev.state() {
                TaskState::Running => {
                    prev.set_state(TaskState::Runnable);
                    if prev.allowed_on(cpu.id) {
                        rq.queue.push_back(prev);
                    } else {
                        PENDING_MIGRATION[cpu.id]
                            .store(prev as *const Task as *mut Task, Ordering::Release);
                    }
                }
                // Off the CPU until a waker queues it.
                TaskState::Blocked => *deactivated = true,
                TaskState::Dead => {
                    *deactivated = true;
                    PENDING_REAP[cpu.id].store(prev as *const Task as *mut Task, Ordering::Release);
                }
                TaskState::Runnable => {}
            }
        }
        let next = loop {
            match rq.queue.pop_front() {
                Some(t) if !t.allowed_on(cpu.id) && misplaced.push(t) => {}
                Some(t) if !t.allowed_on(cpu.id) => {
                    // The batch is full: leave it for the next schedule,
                    // which the idle task runs at once.
                    rq.queue.push_front(t);
                    cpu.idle().flags.set(TIF_NEED_RESCHED);
                    break cpu.idle();
                }
                Some(t) => break t,
                None => break cpu.idle(),
            }
        };
        next.set_state(TaskState::Running);
        rq.curr_is_user = !next.is_idle;
        next
    };
    for t in misplaced.iter() {
        // Affinity changed while queued: these are not on any CPU.
        enqueue(t, select_cpu(t));
    }

    if !core::ptr::eq(prev, next) {
        context_switch(cpu, prev, next);
        finish_task_switch();
    } else {
        // Not switching: nothing may be left pending on this CPU.
        finish_task_switch();
    }
    arch::cpu::local_irq_restore(flags);
}

/// Saves `prev`'s EL0 state and kernel registers, loads `next`'s.
fn context_switch(cpu: &PerCpu, prev: &'static Task, next: &'static Task) {
    while next.on_cpu.load(Ordering::Acquire) != 0 {
        arch::cpu::cpu_relax();
    }
    next.on_cpu.store(1, Ordering::Relaxed);
    if next.cpu.swap(cpu.id, Ordering::Relaxed) != cpu.id && !next.is_idle {
        next.migrations.fetch_add(1, Ordering::Relaxed);
        MIGRATIONS.fetch_add(1, Ordering::Relaxed);
        // Linux's `rseq_sched_set_ids_changed()` from `__set_task_cpu()`.
        // SAFETY: `next` is off every CPU and claimed by this one.
        rseq::sched_set_ids_changed(unsafe { next.rseq_mut() });
    }
    // SAFETY: this CPU owns both tasks' switch state: `prev` is running here
    // and `next` is off every CPU (on_cpu was 0) and now claimed by us.
    let ((prev_ctx, prev_fp), (next_ctx, next_fp)) =
        unsafe { (prev.switch_state(), next.switch_state()) };
    if !prev.is_idle {
        // SAFETY: as above.
        arch::context::fpsimd_save(unsafe { &mut *prev_fp });
        prev.tpidr_el0
            .store(arch::cpu::read_tpidr_el0(), Ordering::Relaxed);
        mm_cid_put(prev);
        // Its grant, if any, is over (Linux's `rseq_slice_sched_out`).
        // SAFETY: the outgoing task, IRQs masked, owned by this CPU.
        rseq::slice::sched_out(unsafe { prev.rseq_mut() });
        crate::rseq_hooks::timer::cancel();
    }
    if !next.is_idle {
        // SAFETY: as above.
        arch::context::fpsimd_load(unsafe { &*next_fp });
        arch::cpu::write_tpidr_el0(next.tpidr_el0.load(Ordering::Relaxed));
        mm_cid_get(next);
        // Linux's `rseq_sched_switch_event`: new IDs (reported above and
        // by `mm_cid_get`) or an interrupted critical section; the exit
        // path does the work (TIF_RSEQ).
        // SAFETY: the task this CPU is about to run, IRQs masked, owned by
        // this CPU under `on_cpu`.
        let raise = unsafe { rseq::sched_switch_event(next.rseq_mut(), rseq::MODE) };
        if raise {
            next.flags.set(entry::tif::TIF_RSEQ);
        }
    }
    set_current(next);
    cpu.stats.context_switches.fetch_add(1, Ordering::Relaxed);
    // SAFETY: IRQs are masked; `next_ctx` was saved by a previous switch or
    // prepared by `Task::new_user`; its stack is free (on_cpu was 0).
    unsafe { arch::context::cpu_switch_to(prev_ctx, next_ctx, &prev.on_cpu) };
}

/// Linux's `finish_task_switch()`, the part we need: hands a task that had to
/// leave this CPU to its new run queue, now that its registers are saved.
pub fn finish_task_switch() {
    let cpu = arch::cpu::cpu_id();
    let t = PENDING_MIGRATION[cpu].swap(core::ptr::null_mut(), Ordering::AcqRel);
    // SAFETY: a leaked Task stored by `schedule` on this CPU.
    if let Some(t) = unsafe { t.as_ref() } {
        enqueue(t, select_cpu(t));
    }
    let dead = PENDING_REAP[cpu].swap(core::ptr::null_mut(), Ordering::AcqRel);
    // SAFETY: a leaked Task that died on this CPU; we run on another stack now.
    if let Some(t) = unsafe { dead.as_ref() } {
        while t.on_cpu.load(Ordering::Acquire) != 0 {
            arch::cpu::cpu_relax();
        }
        // SAFETY: dead and its switch-out complete (on_cpu == 0).
        unsafe { t.free_kstack() };
        t.recycle();
    }
}

/// Picks a CPU for a task that becomes runnable: its last CPU if allowed
/// and idle, else the allowed online CPU with the fewest runnable tasks.
pub fn select_cpu(t: &Task) -> usize {
    let prev = t.cpu.load(Ordering::Relaxed);
    // An idle last CPU is what the scan below would pick too (no load is
    // lower, and ties go to it): the common wakeup looks at one queue.
    let last = percpu::cpu(prev);
    if t.allowed_on(prev) && last.online.load(Ordering::Acquire) && last.rq.lock().nr_running() == 0
    {
        return prev;
    }
    let mut best: Option<(usize, usize)> = None;
    for c in percpu::online() {
        if !t.allowed_on(c.id) {
            continue;
        }
        let load = c.rq.lock().nr_running();
        let better = match best {
            None => true,
            Some((id, l)) => load < l || (load == l && c.id == prev && id != prev),
        };
        if better {
            best = Some((c.id, load));
        }
    }
    best.map_or(0, |(id, _)| id)
}

/// Puts a runnable task (off every CPU, or about to be) on `cpu`'s queue and
/// pokes that CPU.
pub fn enqueue(t: &'static Task, cpu: usize) {
    let target = percpu::cpu(cpu);
    let was_idle = {
        let mut rq = target.rq.lock();
        rq.queue.push_back(t);
        !rq.curr_is_user
    };
    if cpu == arch::cpu::cpu_id() {
        current().flags.set(TIF_NEED_RESCHED);
    } else if was_idle || !target.rq.lock().queue.is_empty() {
        crate::sched::ipi::send_reschedule(cpu);
    }
}

/// A new thread's first run (Linux's `wake_up_new_task`).
pub fn wake_up_new_task(t: &'static Task) {
    t.set_state(TaskState::Runnable);
    enqueue(t, select_cpu(t));
}

/// Linux's `try_to_wake_up()`: wakes `t` if it is blocked; `reason` tells
/// the sleeper why. Returns whether it was blocked.
///
/// A sleeper that has not left its CPU yet just becomes Running again (its
/// `schedule()` then keeps it runnable); one that left is queued once its
/// registers are saved (`on_cpu == 0`). That wait is short and never happens
/// on the sleeper's own CPU: a task there between "deactivated" and "saved"
/// is inside `schedule()` with interrupts masked.
pub fn wake_up(t: &'static Task, reason: WakeReason) -> bool {
    {
        let mut deactivated = t.sched_lock.lock();
        if t.state() != TaskState::Blocked {
            return false;
        }
        t.wake_reason.store(reason as u8, Ordering::Release);
        if !*deactivated {
            t.set_state(TaskState::Running);
            return true;
        }
        *deactivated = false;
        t.set_state(TaskState::Runnable);
    }
    while t.on_cpu.load(Ordering::Acquire) != 0 {
        arch::cpu::cpu_relax();
    }
    enqueue(t, select_cpu(t));
    true
}

/// Blocks the current task until [`wake_up`] (or a timeout/signal) and
/// returns the reason. The caller published the task somewhere a waker
/// finds it *before* calling this, with the state already `Blocked` (see
/// [`prepare_to_wait`]).
pub fn wait() -> WakeReason {
    schedule();
    match current()
        .wake_reason
        .swap(WakeReason::None as u8, Ordering::AcqRel)
    {
        1 => WakeReason::Event,
        2 => WakeReason::Timeout,
        3 => WakeReason::Signal,
        _ => WakeReason::None,
    }
}

/// Marks the current task as about to block (Linux's `set_current_state`).
pub fn prepare_to_wait() {
    let t = current();
    let _guard = t.sched_lock.lock();
    t.wake_reason
        .store(WakeReason::None as u8, Ordering::Relaxed);
    t.set_state(TaskState::Blocked);
}

/// Cancels [`prepare_to_wait`] when the condition was already met (a waker
/// may have done so too; either way the task keeps running).
pub fn finish_wait() {
    let t = current();
    let _guard = t.sched_lock.lock();
    t.set_state(TaskState::Running);
}

/// `sched_yield()`: to the back of the queue.
pub fn yield_now() {
    schedule();
}

/// Asks for a reschedule of the current task (from the tick).
pub fn resched_curr() {
    if let Some(task) = crate::sched::task::try_current() {
        task.flags.set(TIF_NEED_RESCHED);
    }
}

/// The tick's scheduling work on this CPU: end the slice if someone waits,
/// balance now and then.
pub fn scheduler_tick(cpu: &PerCpu, ticks: u64) {
    let waiting = !cpu.rq.lock().queue.is_empty();
    if waiting {
        resched_curr();
    }
    if ticks.is_multiple_of(4) {
        balance(cpu);
    }
}

/// Pulls one queued task from the busiest CPU when it has at least two more
/// runnable tasks than this one (or when this one is idle and it has any
/// queued). Never takes a task that is still on a CPU.
pub fn balance(cpu: &PerCpu) {
    let mine = cpu.rq.lock().nr_running();
    let mut busiest: Option<(&PerCpu, usize)> = None;
    for c in percpu::online().filter(|c| c.id != cpu.id) {
        let rq = c.rq.lock();
        let (load, queued) = (rq.nr_running(), rq.queue.len());
        if queued > 0 && busiest.is_none_or(|(_, l)| load > l) {
            busiest = Some((c, load));
        }
    }
    let Some((victim, load)) = busiest else {
        return;
    };
    if !(load >= mine + 2 || (mine == 0 && load >= 1)) {
        return;
    }
    let stolen = {
        let mut rq = victim.rq.lock();
        let pos = rq
            .queue
            .iter()
            .position(|t| t.allowed_on(cpu.id) && t.on_cpu.load(Ordering::Acquire) == 0);
        pos.and_then(|p| rq.queue.remove(p))
    };
    if let Some(t) = stolen {
        enqueue(t, cpu.id);
    }
}

/// The idle loop of every CPU: run what is queued, else balance, else wait
/// for an interrupt.
pub fn cpu_idle() -> ! {
    loop {
        arch::cpu::local_irq_disable();
        let cpu = percpu::this_cpu();
        if cpu.rq.lock().queue.is_empty() {
            balance(cpu);
        }
        if !cpu.rq.lock().queue.is_empty() || current().flags.test(TIF_NEED_RESCHED) {
            schedule();
            continue;
        }
        arch::cpu::wfi();
        arch::cpu::local_irq_enable();
    }
}

/// Sleepers with a deadline (system counter value).
static TIMERS: SpinLock<Vec<(u64, &'static Task)>> = SpinLock::new(Vec::new());

/// Reserves room for `tasks` threads in every run queue and in the timer
/// list, so that queueing a thread never allocates (a failed allocation
/// in the scheduler could only panic). False when the heap is exhausted.
pub fn reserve_task_slots(tasks: usize) -> bool {
    let rqs_ok = (0..arch::MAX_CPUS).all(|c| {
        let mut rq = percpu::cpu(c).rq.lock();
        let more = tasks.saturating_sub(rq.queue.len());
        rq.queue.try_reserve(more).is_ok()
    });
    let mut timers = TIMERS.lock();
    let more = tasks.saturating_sub(timers.len());
    rqs_ok && timers.try_reserve(more).is_ok()
}

/// Arms a wakeup of the current task at counter value `deadline`: queued,
/// and this CPU's timer brought forward to it if needed.
pub fn timer_add(deadline: u64) {
    TIMERS.lock().push((deadline, current()));
    super::clockevent::arm_timer(deadline);
}

/// Disarms the current task's wakeup, if still armed.
pub fn timer_del() {
    let me = current();
    TIMERS.lock().retain(|&(_, t)| !core::ptr::eq(t, me));
}

/// Wakes every sleeper whose deadline is at or before `now`, a batch at a
/// time: they are taken off the list under its lock and woken outside it.
/// Returns the earliest deadline still queued, for the timer event.
pub fn run_timers(now: u64) -> Option<u64> {
    loop {
        let mut batch = TaskBatch::new();
        let mut next = None::<u64>;
        {
            let mut timers = TIMERS.lock();
            timers.retain(|&(d, t)| {
                if d <= now && batch.push(t) {
                    false
                } else {
                    next = Some(next.map_or(d, |e| e.min(d)));
                    true
                }
            });
        }
        for t in batch.iter() {
            wake_up(t, WakeReason::Timeout);
        }
        if !batch.is_full() {
            return next;
        }
    }
}

/// Tasks woken per batch by the timer and futex wake paths (an array on the
/// stack rather than a heap allocation that could fail).
pub const WAKE_BATCH: usize = 16;

/// Up to [`WAKE_BATCH`] tasks taken off a list under its lock, to be acted
/// on once the lock is dropped: on the stack, never allocating, and left
/// uninitialised past its length, so that making one costs nothing and
/// walking it visits only the tasks it holds (these paths run on every
/// futex wake and every `schedule()`).
pub struct TaskBatch {
    len: usize,
    tasks: [MaybeUninit<&'static Task>; WAKE_BATCH],
}

impl TaskBatch {
    /// Empty.
    #[inline(always)]
    pub const fn new() -> TaskBatch {
        TaskBatch {
            len: 0,
            tasks: [MaybeUninit::uninit(); WAKE_BATCH],
        }
    }

    /// Adds `t`; false (and nothing added) when the batch is full.
    #[inline(always)]
    pub fn push(&mut self, t: &'static Task) -> bool {
        match self.tasks.get_mut(self.len) {
            Some(slot) => {
                slot.write(t);
                self.len += 1;
                true
            }
            None => false,
        }
    }

    /// How many tasks it holds.
    #[inline(always)]
    pub fn len(&self) -> usize {
        self.len
    }

    /// It holds [`WAKE_BATCH`] tasks.
    #[inline(always)]
    pub fn is_full(&self) -> bool {
        self.len == WAKE_BATCH
    }

    /// The tasks, in the order they were added.
    #[inline(always)]
    pub fn iter(&self) -> impl Iterator<Item = &'static Task> + '_ {
        // SAFETY: `push` wrote every slot below `len` before counting it.
        self.tasks[..self.len]
            .iter()
            .map(|slot| unsafe { slot.assume_init() })
    }
}

/// Sleeps until counter value `deadline`; returns early on a signal.
pub fn sleep_until(deadline: u64) -> WakeReason {
    loop {
        if arch::timer::counter() >= deadline {
            return WakeReason::Timeout;
        }
        prepare_to_wait();
        if current().flags.test(entry::tif::TIF_SIGPENDING) {
            finish_wait();
            return WakeReason::Signal;
        }
        timer_add(deadline);
        let why = wait();
        timer_del();
        if why == WakeReason::Signal {
            return why;
        }
    }
}

/// Bitmap of concurrency IDs held by running threads of the app.
static CID_MASK: AtomicU64 = AtomicU64::new(0);

/// Gives `t` a concurrency ID as it starts running (Linux's `mm_cid_get`):
/// its previous one if free, else the lowest free. IDs stay below the number
/// of CPUs because each running thread holds exactly one.
fn mm_cid_get(t: &Task) {
    let last = t.last_mm_cid.load(Ordering::Relaxed);
    let try_take = |cid: u32| CID_MASK.fetch_or(1 << cid, Ordering::AcqRel) & (1 << cid) == 0;
    let cid = if last != NO_CID && try_take(last) {
        last
    } else {
        loop {
            let mask = CID_MASK.load(Ordering::Acquire);
            let cid = (!mask).trailing_zeros();
            if try_take(cid) {
                break cid;
            }
        }
    };
    t.mm_cid.store(cid, Ordering::Relaxed);
    if cid != last {
        t.last_mm_cid.store(cid, Ordering::Relaxed);
        t.mm_cid_changes.fetch_add(1, Ordering::Relaxed);
        // Linux's `rseq_sched_set_ids_changed()` from the mm_cid code.
        // SAFETY: `t` is being switched in by this CPU, IRQs masked.
        rseq::sched_set_ids_changed(unsafe { t.rseq_mut() });
    }
}

/// Releases `t`'s concurrency ID as it stops running.
fn mm_cid_put(t: &Task) {
    let cid = t.mm_cid.swap(NO_CID, Ordering::Relaxed);
    if cid != NO_CID {
        CID_MASK.fetch_and(!(1 << cid), Ordering::AcqRel);
    }
}
