//! Threads, the way pthreads make them on Linux: `clone(2)` with
//! `CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|
//! CLONE_SETTLS|CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID` (0x3d0f00).
//!
//! There is no allocator in apps, so a thread is a plain `fn(usize) -> i32`
//! and a word of argument. Each thread gets one anonymous `mmap` of
//! `stack_size + 4 KiB`: the stack grows down from the top of the first part,
//! and the last page holds the thread's [`ThreadBlock`]:
//!
//! ```text
//! base                                 base + stack_size        + 4 KiB
//! | stack (grows down) <-------------- | ThreadBlock | (rest)   |
//!                               initial sp = TPIDR_EL0 = block
//! ```
//!
//! - `TPIDR_EL0` (the EL0 thread pointer, set by the kernel from clone's
//!   `tls` argument) points at the thread's block, so [`current_tid`] is a
//!   register read and a load, no syscall. The main thread's `TPIDR_EL0` is
//!   0 at entry; the first use of [`current_tid`] (or [`init_main`]) points it
//!   at a static block. The runtime owns `TPIDR_EL0`: apps must not write it.
//! - The block's first word is both clone's `parent_tid` (the kernel stores
//!   the new tid there before the child runs) and its `child_tid` (zeroed and
//!   futex-woken by the kernel when the thread exits). [`JoinHandle::join`]
//!   sleeps on it with a shared `FUTEX_WAIT` (Linux wakes it with a shared
//!   `FUTEX_WAKE`, as glibc's pthread_join assumes), then unmaps the stack:
//!   once the word is 0 the thread never touches its stack again.
//! - The child starts in an asm trampoline on its new stack, which calls the
//!   function and then `exit(ret)` (which ends the thread only); the return
//!   value is also stored in the block for `join`.
//! - rseq: the block holds the thread's [`RseqTcb`](crate::rseq::RseqTcb)
//!   (its `struct rseq` and the app's slot before it). [`spawn`] and
//!   [`spawn_with_stack`] threads register it in the trampoline before their
//!   function runs, in the app's mode ([`crate::rseq`]); [`spawn_with`]
//!   threads (raw clones) start unregistered, as `clone(CLONE_VM)` children
//!   do on Linux. Like glibc's pthread_create, `spawn` blocks all signals
//!   around `clone` and the new thread restores the creator's mask only
//!   after registering, so no signal handler ever runs on a
//!   not-yet-registered thread.
//! - A panic in any thread ends the whole process (status 101), as in `rt`'s
//!   single-threaded world. A `JoinHandle` dropped without `join` detaches
//!   the thread and leaks its mapping. There is no guard page below a stack.

use core::ptr::NonNull;
use core::sync::atomic::{AtomicU32, Ordering};

use crate::sys::{self, Timespec, clone_flags, errno};
use crate::tcb::{MAIN_BLOCK, current_block, set_tpidr};
pub use crate::tcb::{ThreadBlock, init_main, tpidr};

/// The default stack size of a spawned thread.
pub const DEFAULT_STACK_SIZE: usize = 64 * 1024;

const PAGE_SIZE: usize = 4096;

// The block fills (part of) the mapping's last page.
const _: () = assert!(core::mem::size_of::<ThreadBlock>() <= PAGE_SIZE);

/// How many spawned threads found `TPIDR_EL0` not pointing at their block
/// (a kernel that ignored `CLONE_SETTLS`) and had to set it themselves.
static TLS_FIXUPS: AtomicU32 = AtomicU32::new(0);

/// See [`TLS_FIXUPS`]: 0 on a kernel that implements `CLONE_SETTLS`.
pub fn tls_fixups() -> u32 {
    TLS_FIXUPS.load(Ordering::SeqCst)
}

/// The calling thread's tid, read through `TPIDR_EL0` (no syscall once the
/// thread's block is initialised).
pub fn current_tid() -> i64 {
    current_block().tid.load(Ordering::Relaxed) as i64
}

/// True when called from the main thread (the one `_start` ran on).
pub fn is_main() -> bool {
    core::ptr::eq(current_block(), &MAIN_BLOCK)
}

/// The handle of a spawned thread.
#[must_use = "dropping a JoinHandle detaches the thread and leaks its stack"]
pub struct JoinHandle {
    block: NonNull<ThreadBlock>,
    tid: i64,
}

// SAFETY: the handle only refers to the thread's mapping, which stays valid
// until `join` (which consumes the handle) unmaps it; any thread may join.
unsafe impl Send for JoinHandle {}

impl JoinHandle {
    /// The thread's tid (clone's return value).
    pub fn tid(&self) -> i64 {
        self.tid
    }

    fn block(&self) -> &ThreadBlock {
        // SAFETY: the mapping lives until `join`/`try_join` consumes `self`.
        unsafe { self.block.as_ref() }
    }

    /// True once the kernel has cleared the tid word (the thread exited).
    pub fn is_finished(&self) -> bool {
        self.block().tid_word.load(Ordering::Acquire) == 0
    }

    /// Waits for the thread to exit, unmaps its stack, returns what its
    /// function returned.
    pub fn join(self) -> i32 {
        loop {
            let t = self.block().tid_word.load(Ordering::Acquire);
            if t == 0 {
                break;
            }
            sys::futex_wait_shared(&self.block().tid_word, t, None);
        }
        self.reap()
    }

    /// Like [`join`](Self::join) but gives up after `timeout_ns` of
    /// CLOCK_MONOTONIC, handing the handle back.
    pub fn try_join(self, timeout_ns: u64) -> Result<i32, JoinHandle> {
        let deadline = sys::monotonic().as_nanos().saturating_add(timeout_ns);
        loop {
            let t = self.block().tid_word.load(Ordering::Acquire);
            if t == 0 {
                return Ok(self.reap());
            }
            let now = sys::monotonic().as_nanos();
            if now >= deadline {
                return Err(self);
            }
            let left = Timespec::from_nanos(deadline - now);
            sys::futex_wait_shared(&self.block().tid_word, t, Some(&left));
        }
    }

    fn reap(self) -> i32 {
        let b = self.block();
        let ret = b.ret.load(Ordering::Acquire);
        let (base, len) = (b.map_base as u64, b.map_len as u64);
        sys::munmap(base, len);
        ret
    }
}

unsafe extern "C" {
    /// `clone(flags, stack, ptid, tls, ctid)`; the child calls
    /// `thread_start(block)` on `stack`. Returns the tid or -errno.
    fn __rt_clone(
        flags: u64,
        stack: u64,
        ptid: *mut u32,
        tls: u64,
        ctid: *mut u32,
        block: usize,
    ) -> i64;
}

// The parent stores `block` at the top of the child's stack and makes the
// syscall; clone returns 0 in the child, on that stack, with every other
// register as the parent had it. The child reloads `block` from its stack
// (not trusting x5), clears the frame pointer and link register (the
// outermost frame) and calls `thread_start`, which never returns.
core::arch::global_asm!(
    ".pushsection .text.__rt_clone, \"ax\", %progbits",
    ".global __rt_clone",
    ".type __rt_clone, %function",
    ".p2align 2",
    "__rt_clone:",
    "    and x1, x1, #-16",
    "    str x5, [x1, #-16]!",
    "    mov x8, #{clone}",
    "    svc #0",
    "    cbz x0, 1f",
    "    ret",
    "1:  ldr x0, [sp]",
    "    mov x29, xzr",
    "    mov x30, xzr",
    "    bl {start}",
    "    brk #0x1",
    ".size __rt_clone, . - __rt_clone",
    ".popsection",
    start = sym thread_start,
    clone = const sys::nr::CLONE,
);

/// The child's first Rust code, on its own stack.
extern "C" fn thread_start(block: usize) -> ! {
    let block = block as *const ThreadBlock;
    // SAFETY: `spawn_with` initialised the block before clone, and its
    // mapping lives until the thread's tid word is cleared (after exit).
    let b = unsafe { &*block };
    b.tid.store(sys::gettid() as u32, Ordering::Relaxed);
    if tpidr() != block as u64 {
        crate::eprintln!(
            "rt: thread {}: TPIDR_EL0 = {:#x}, expected {:#x} (CLONE_SETTLS ignored?)",
            b.tid.load(Ordering::Relaxed),
            tpidr(),
            block as u64
        );
        TLS_FIXUPS.fetch_add(1, Ordering::SeqCst);
        set_tpidr(block as u64);
    }
    if b.rseq_auto {
        crate::rseq::init_thread();
    }
    if let Some(mask) = b.sigmask {
        // The creator blocked every signal around clone (see `spawn_inner`).
        let _ = crate::signal::sigprocmask(crate::signal::SIG_SETMASK, Some(mask));
    }
    let ret = match b.f {
        Some(f) => f(b.arg),
        None => 0,
    };
    b.ret.store(ret, Ordering::Release);
    sys::exit(ret)
}

/// Starts a thread running `f(arg)` on a [`DEFAULT_STACK_SIZE`] stack.
/// Returns its handle or the (negative) errno of `mmap`/`clone`.
pub fn spawn(f: fn(usize) -> i32, arg: usize) -> Result<JoinHandle, i64> {
    spawn_inner(clone_flags::THREAD_FLAGS, DEFAULT_STACK_SIZE, f, arg, true)
}

/// [`spawn`] with a stack of `stack_size` bytes (rounded up to pages).
pub fn spawn_with_stack(
    stack_size: usize,
    f: fn(usize) -> i32,
    arg: usize,
) -> Result<JoinHandle, i64> {
    spawn_inner(clone_flags::THREAD_FLAGS, stack_size, f, arg, true)
}

/// [`spawn`] with explicit clone `flags`, passed to the kernel unchanged
/// (for tests of clone itself). Only [`clone_flags::THREAD_FLAGS`] gives a
/// thread that behaves as documented above: `join` needs
/// `CLONE_CHILD_CLEARTID`, and `TPIDR_EL0` needs `CLONE_SETTLS`.
///
/// The runtime does not register rseq for such a thread: like a raw
/// `clone(CLONE_VM)` child on Linux it starts unregistered.
pub fn spawn_with(
    flags: u64,
    stack_size: usize,
    f: fn(usize) -> i32,
    arg: usize,
) -> Result<JoinHandle, i64> {
    spawn_inner(flags, stack_size, f, arg, false)
}

fn spawn_inner(
    flags: u64,
    stack_size: usize,
    f: fn(usize) -> i32,
    arg: usize,
    rseq_auto: bool,
) -> Result<JoinHandle, i64> {
    let stack_size = stack_size
        .max(PAGE_SIZE)
        .checked_next_multiple_of(PAGE_SIZE)
        .ok_or(-errno::ENOMEM)?;
    let map_len = stack_size + PAGE_SIZE;
    let base = sys::mmap_anon(map_len)?;
    // A runtime thread starts with every signal blocked (the kernel copies
    // the mask at clone) until it has registered rseq, as with glibc.
    let sigmask = if rseq_auto {
        crate::signal::block(!0).ok()
    } else {
        None
    };
    // SAFETY: `base + stack_size` is the start of the mapping's last page,
    // inside the fresh mapping of `map_len` bytes.
    let block = unsafe { base.add(stack_size) } as *mut ThreadBlock;
    // SAFETY: the page is ours, writable, page-aligned and large enough.
    unsafe {
        block.write(ThreadBlock {
            rseq_auto,
            sigmask,
            f: Some(f),
            arg,
            map_base: base as usize,
            map_len,
            ..ThreadBlock::empty()
        });
    }
    // SAFETY: `block` is initialised; the child runs `thread_start` on the
    // stack below it, which is ours alone; the tid word is an AtomicU32 the
    // kernel may write at any time (PARENT_SETTID, CHILD_CLEARTID).
    let ret = unsafe {
        let tid_word = (*block).tid_word.as_ptr();
        __rt_clone(
            flags,
            block as u64,
            tid_word,
            block as u64,
            tid_word,
            block as usize,
        )
    };
    if let Some(mask) = sigmask {
        let _ = crate::signal::sigprocmask(crate::signal::SIG_SETMASK, Some(mask));
    }
    if ret < 0 {
        sys::munmap(base as u64, map_len as u64);
        return Err(ret);
    }
    Ok(JoinHandle {
        // SAFETY: derived from a successful mmap, never null.
        block: unsafe { NonNull::new_unchecked(block) },
        tid: ret,
    })
}
