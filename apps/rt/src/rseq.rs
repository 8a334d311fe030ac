//! Per-thread rseq registration, done by the runtime as glibc does it.
//!
//! Every app declares the rseq mode it was written for with
//! [`rseq_mode!`](crate::rseq_mode) (`v1`, `v2` or `none`); the image build
//! reads the `.rseq_mode` section to build the kernel for that mode, and the
//! runtime reads `__rt_rseq_mode` to know what to register:
//!
//! - `v1`: a 32-byte registration (`ORIG_RSEQ_SIZE`, the TCMalloc way);
//! - `v2`: a 64-byte registration (`sizeof(struct rseq)`, 64-byte aligned);
//! - `linux`: the kernel gives each registration the version its length
//!   asks for, as Linux does; the runtime registers 64 bytes (v2), or 32
//!   (v1) when the environment has `RT_RSEQ_LEN=32` (read once at start,
//!   as glibc reads its tunables; `RT_RSEQ_LEN=64` is the default);
//! - `none`: no registration; `cpu_id` reads
//!   `RSEQ_CPU_ID_REGISTRATION_FAILED`, so readers fall back to `getcpu`.
//!
//! The main thread registers in `_start` before `main`; every thread made
//! by [`thread::spawn`](crate::thread::spawn) registers in its trampoline
//! before its function runs. A thread made with
//! [`thread::spawn_with`](crate::thread::spawn_with) (a raw clone) starts
//! unregistered, as a `clone(CLONE_VM)` child does on Linux. On failure the
//! runtime stores `RSEQ_CPU_ID_REGISTRATION_FAILED` in `cpu_id` and keeps
//! the errno ([`registration_errno`]).
//!
//! # Where the area lives
//!
//! In the thread's control block (`TPIDR_EL0`), the main thread's in a
//! static, as an [`RseqTcb`]:
//!
//! ```text
//! offset  0   runtime bookkeeping (registered length, errno), padding
//! offset 56   slot: 8 app-owned bytes right before the area
//! offset 64   area: struct rseq (64-byte aligned, 64 bytes)
//! ```
//!
//! The `slot` is free for the app. TCMalloc keeps its per-CPU slab pointer
//! cache in the 8-byte word at `area - 4`, whose low half is the top half of
//! `slot` and whose top half *is* `cpu_id_start` (little endian): a kernel
//! that rewrites `cpu_id_start` (v1) clears bit 63 of that word and so
//! invalidates the cache (DESIGN §3).

use core::sync::atomic::{AtomicU8, AtomicU32, Ordering, compiler_fence};

pub use rseq::uapi::{
    ORIG_RSEQ_SIZE, RSEQ_CPU_ID_REGISTRATION_FAILED_U32, RSEQ_CPU_ID_UNINITIALIZED_U32,
    RSEQ_CS_FLAG_SLICE_EXT_AVAILABLE, RSEQ_CS_FLAG_SLICE_EXT_ENABLED,
    RSEQ_FLAG_SLICE_EXT_DEFAULT_ON, RSEQ_FLAG_UNREGISTER, RSEQ_SIG, RSEQ_V2_SIZE, Rseq, RseqCs,
};

use crate::sys;
pub use crate::tcb::RseqTcb;

/// [`mode`]: the app registers nothing.
pub const MODE_NONE: u8 = 0;
/// [`mode`]: legacy, TCMalloc-compatible (32-byte registration).
pub const MODE_V1: u8 = 1;
/// [`mode`]: optimized (64-byte registration).
pub const MODE_V2: u8 = 2;
/// [`mode`]: the kernel decides per registration by its length (Linux's
/// rule); the runtime registers [`mode_len`] bytes.
pub const MODE_LINUX: u8 = 3;

/// The environment variable that picks the registration length in
/// [`MODE_LINUX`]: `32` (v1) or `64` (v2, the default).
pub const LEN_ENV: &str = "RT_RSEQ_LEN";

/// The length the runtime registers in [`MODE_LINUX`] ([`LEN_ENV`]).
static LINUX_LEN: AtomicU32 = AtomicU32::new(RSEQ_V2_SIZE);

#[cfg(target_os = "none")]
unsafe extern "C" {
    /// Defined by the app's `rt::rseq_mode!`: 0 none, 1 v1, 2 v2, 3 linux.
    static __rt_rseq_mode: u8;
    /// The app's `.rseq_mode` section contents (kept alive by this use).
    static __RT_RSEQ_MODE_TAG: [u8; 8];
}

/// The rseq mode the app declared: [`MODE_NONE`], [`MODE_V1`],
/// [`MODE_V2`] or [`MODE_LINUX`].
#[inline]
pub fn mode() -> u8 {
    #[cfg(target_os = "none")]
    {
        // SAFETY: a plain byte the app's `rseq_mode!` defines; never written.
        unsafe { core::ptr::read_volatile(&raw const __rt_rseq_mode) }
    }
    #[cfg(not(target_os = "none"))]
    MODE_NONE
}

/// The mode's name as in `rseq_mode!`: "v1", "v2", "linux" or "none".
pub fn mode_name() -> &'static str {
    match mode() {
        MODE_V1 => "v1",
        MODE_V2 => "v2",
        MODE_LINUX => "linux",
        _ => "none",
    }
}

/// The length the runtime registers every thread with: 32 (v1), 64 (v2),
/// in `linux` mode 32 or 64 as [`LEN_ENV`] chose, 0 (none).
pub fn mode_len() -> u32 {
    match mode() {
        MODE_V1 => ORIG_RSEQ_SIZE,
        MODE_V2 => RSEQ_V2_SIZE,
        MODE_LINUX => LINUX_LEN.load(Ordering::Relaxed),
        _ => 0,
    }
}

/// The rseq ABI version the runtime's registrations run: 1 (legacy) or 2
/// (optimized), in `linux` mode the one [`mode_len`] asks for (32 bytes:
/// 1, longer: 2, Linux's rule); 0 without registration (`none`).
pub fn version() -> u8 {
    match mode_len() {
        0 => 0,
        len if len > ORIG_RSEQ_SIZE => 2,
        _ => 1,
    }
}

/// Reads [`LEN_ENV`] from the environment in `linux` mode, before the main
/// thread registers. Any value but `32` or `64` is reported on stderr and
/// the default (64) kept.
pub(crate) fn init_process(args: &crate::Args) {
    if mode() != MODE_LINUX {
        return;
    }
    let Some(value) = args
        .env()
        .find_map(|e| e.strip_prefix(LEN_ENV)?.strip_prefix('='))
    else {
        return;
    };
    match value {
        "32" => LINUX_LEN.store(ORIG_RSEQ_SIZE, Ordering::Relaxed),
        "64" => LINUX_LEN.store(RSEQ_V2_SIZE, Ordering::Relaxed),
        _ => crate::eprintln!(
            "rt: {LEN_ENV}={value}: expected 32 or 64; registering {RSEQ_V2_SIZE} bytes"
        ),
    }
}

/// The `.rseq_mode` section as linked (the mode's name, NUL-padded to 8
/// bytes).
pub fn mode_tag() -> [u8; 8] {
    #[cfg(target_os = "none")]
    {
        // SAFETY: a 4-byte static the app's `rseq_mode!` defines.
        unsafe { core::ptr::read_volatile(&raw const __RT_RSEQ_MODE_TAG) }
    }
    #[cfg(not(target_os = "none"))]
    *b"none\0\0\0\0"
}

#[inline]
fn tcb() -> &'static RseqTcb {
    crate::tcb::current_rseq_tcb()
}

/// The calling thread's `struct rseq`.
#[inline]
pub fn area() -> *mut Rseq {
    tcb().area.get()
}

/// The calling thread's app-owned 8 bytes right before its area.
#[inline]
pub fn slot() -> *mut u64 {
    tcb().slot.get()
}

/// True if the calling thread is registered (by the runtime or
/// [`register`]).
#[inline]
pub fn registered() -> bool {
    tcb().len.load(Ordering::Relaxed) != 0
}

/// The length the calling thread is registered with (0: not registered).
pub fn registered_len() -> u32 {
    tcb().len.load(Ordering::Relaxed)
}

/// The positive errno of the calling thread's last failed registration by
/// the runtime or [`register`] (0 if it succeeded or was not attempted).
pub fn registration_errno() -> i64 {
    tcb().errno.load(Ordering::Relaxed) as i64
}

/// Volatile read of a `u32` field of the calling thread's area.
#[inline]
fn read_field(offset: usize) -> u32 {
    // SAFETY: `offset` is a field offset inside the thread's own area,
    // which lives as long as the thread; the kernel writes it concurrently,
    // hence the volatile aligned 32-bit read (single-copy atomic).
    unsafe { core::ptr::read_volatile((area() as *const u8).add(offset) as *const u32) }
}

/// `cpu_id` of the calling thread's area (volatile read):
/// `RSEQ_CPU_ID_UNINITIALIZED` / `RSEQ_CPU_ID_REGISTRATION_FAILED` when not
/// registered.
#[inline]
pub fn cpu_id() -> u32 {
    read_field(Rseq::CPU_ID_OFFSET)
}

/// `cpu_id_start` of the calling thread's area (volatile read).
#[inline]
pub fn cpu_id_start() -> u32 {
    read_field(Rseq::CPU_ID_START_OFFSET)
}

/// `mm_cid` of the calling thread's area (volatile read).
#[inline]
pub fn mm_cid() -> u32 {
    read_field(Rseq::MM_CID_OFFSET)
}

/// `node_id` of the calling thread's area (volatile read).
#[inline]
pub fn node_id() -> u32 {
    read_field(Rseq::NODE_ID_OFFSET)
}

/// `flags` of the calling thread's area (volatile read).
#[inline]
pub fn flags() -> u32 {
    read_field(Rseq::FLAGS_OFFSET)
}

/// The raw `rseq(rseq, rseq_len, flags, sig)` syscall: 0 or -errno.
pub fn sys_rseq(rseq: u64, len: u32, flags: u32, sig: u32) -> i64 {
    sys::rseq(rseq, len, flags, sig)
}

/// Registers the calling thread's area with `len` and `flags` and
/// [`RSEQ_SIG`]; 0 or -errno. On success the runtime records `len`; on
/// failure nothing changes except [`registration_errno`] (for errno tests,
/// so a failing call on a registered thread leaves it registered).
pub fn register(len: u32, flags: u32) -> i64 {
    let t = tcb();
    let r = sys_rseq(t.area.get() as u64, len, flags, RSEQ_SIG);
    if r == 0 {
        t.len.store(len, Ordering::Relaxed);
        t.errno.store(0, Ordering::Relaxed);
    } else {
        t.errno.store((-r) as i32, Ordering::Relaxed);
    }
    r
}

/// Unregisters the calling thread's area (`RSEQ_FLAG_UNREGISTER`, the
/// registered length, or the mode's length if not registered, and
/// [`RSEQ_SIG`]); 0 or -errno.
pub fn unregister() -> i64 {
    let t = tcb();
    let len = match t.len.load(Ordering::Relaxed) {
        0 => mode_len().max(ORIG_RSEQ_SIZE),
        l => l,
    };
    let r = sys_rseq(t.area.get() as u64, len, RSEQ_FLAG_UNREGISTER, RSEQ_SIG);
    if r == 0 {
        t.len.store(0, Ordering::Relaxed);
    }
    r
}

/// The runtime's registration of the calling thread: the mode's length,
/// no flags, [`RSEQ_SIG`]. Like glibc, a failure stores
/// `RSEQ_CPU_ID_REGISTRATION_FAILED` in `cpu_id` (so does mode `none`).
pub(crate) fn init_thread() {
    let len = mode_len();
    let t = tcb();
    if len != 0 && register(len, 0) == 0 {
        return;
    }
    // SAFETY: the thread's own, unregistered area: no one else writes it.
    unsafe {
        core::ptr::write_volatile(
            &raw mut (*t.area.get()).cpu_id,
            RSEQ_CPU_ID_REGISTRATION_FAILED_U32,
        );
    }
}

// ---------------------------------------------------------------------------
// Time slice extension (v2 registrations; DESIGN §4)
// ---------------------------------------------------------------------------

/// The calling thread's `slice_ctrl` word (offset 28 of its area):
/// `request` is its low byte, `granted` the next one.
#[inline]
pub fn slice_ctrl_ptr() -> *mut u32 {
    // SAFETY: an in-bounds field offset of the thread's own area.
    unsafe { (area() as *mut u8).add(Rseq::SLICE_CTRL_OFFSET) as *mut u32 }
}

#[inline]
fn slice_byte(offset: usize) -> *mut u8 {
    // SAFETY: an in-bounds field offset of the thread's own area.
    unsafe { (area() as *mut u8).add(offset) }
}

/// The whole `slice_ctrl` word (volatile read).
#[inline]
pub fn slice_ctrl() -> u32 {
    read_field(Rseq::SLICE_CTRL_OFFSET)
}

/// Asks for a time slice extension: `slice_ctrl.request = 1`, before a
/// critical section. A compiler fence keeps the section's memory accesses
/// after the store; an interrupt (the only thing that reads it, on this
/// CPU) sees program order.
#[inline]
pub fn slice_request() {
    // SAFETY: the thread's own area; the kernel only touches it on this
    // CPU while the thread is interrupted, so a plain byte store is enough
    // (Linux: "Setting REQUEST has no atomicity requirements").
    unsafe { core::ptr::write_volatile(slice_byte(Rseq::SLICE_CTRL_REQUEST_OFFSET), 1) };
    compiler_fence(Ordering::SeqCst);
}

/// `slice_ctrl.request` (volatile read): still set means no grant
/// happened since [`slice_request`].
#[inline]
pub fn slice_requested() -> bool {
    compiler_fence(Ordering::SeqCst);
    // SAFETY: see `slice_request`.
    unsafe { core::ptr::read_volatile(slice_byte(Rseq::SLICE_CTRL_REQUEST_OFFSET)) != 0 }
}

/// `slice_ctrl.granted` (volatile read): the kernel granted an extension
/// that is still running.
#[inline]
pub fn slice_granted() -> bool {
    compiler_fence(Ordering::SeqCst);
    // SAFETY: see `slice_request`.
    unsafe { core::ptr::read_volatile(slice_byte(Rseq::SLICE_CTRL_GRANTED_OFFSET)) != 0 }
}

/// Clears `slice_ctrl.request` atomically with respect to an interrupt
/// (Linux's `local_test_and_clear_bit`; here an exclusive-access swap) and
/// returns whether it was still set.
#[inline]
pub fn slice_test_and_clear_request() -> bool {
    compiler_fence(Ordering::SeqCst);
    // SAFETY: an aligned byte of the thread's own area, alive as long as
    // the thread; only this thread and the kernel (on this CPU) access it.
    let req = unsafe { AtomicU8::from_ptr(slice_byte(Rseq::SLICE_CTRL_REQUEST_OFFSET)) };
    req.swap(0, Ordering::Relaxed) != 0
}

/// How a [`slice_end`] found the extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SliceEnd {
    /// `request` was still set: no grant happened; it is now cleared.
    NotGranted,
    /// A grant was running: `rseq_slice_yield()` returned this (1: yielded
    /// inside the grant, 0: the grant was already gone).
    Yielded(i64),
    /// Neither bit set: a grant happened and was revoked (the thread was
    /// rescheduled), nothing to do.
    Revoked,
}

/// The required code flow after a critical section (Linux's
/// `Documentation/userspace-api/rseq.rst`): if `request` is still set,
/// clear it; else if `granted`, call `rseq_slice_yield()`.
#[inline]
pub fn slice_end() -> SliceEnd {
    if slice_test_and_clear_request() {
        SliceEnd::NotGranted
    } else if slice_granted() {
        SliceEnd::Yielded(sys::rseq_slice_yield())
    } else {
        SliceEnd::Revoked
    }
}

/// How a thread's [`slice_end`]s went, counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SliceEnds {
    /// [`SliceEnd::NotGranted`].
    pub not_granted: u64,
    /// [`SliceEnd::Yielded`] with 1: yielded inside the grant.
    pub yielded: u64,
    /// [`SliceEnd::Yielded`] otherwise: the grant was gone by the yield.
    pub late: u64,
    /// [`SliceEnd::Revoked`].
    pub revoked: u64,
}

impl SliceEnds {
    #[inline(always)]
    pub fn note(&mut self, e: SliceEnd) {
        match e {
            SliceEnd::NotGranted => self.not_granted += 1,
            SliceEnd::Yielded(1) => self.yielded += 1,
            SliceEnd::Yielded(_) => self.late += 1,
            SliceEnd::Revoked => self.revoked += 1,
        }
    }
}

/// One thread's use of the time slice extension around its critical
/// sections: whether the extension is on for it, and how the
/// [`slice_end`]s went. Without the extension, [`request`](Self::request)
/// and [`end`](Self::end) do nothing, so `slice_ctrl` (in a v1 area, bytes
/// the app owns) is never touched.
pub struct SliceExt {
    on: bool,
    ends: SliceEnds,
}

impl SliceExt {
    /// Enables the extension for the calling thread if `want` ([`slice_enable`]);
    /// returns the state and prctl's result (0 when not wanted). The
    /// extension is on only if prctl succeeded.
    pub fn enable(want: bool) -> (SliceExt, i64) {
        let r = if want { slice_enable(true) } else { 0 };
        let ext = SliceExt {
            on: want && r == 0,
            ends: SliceEnds::default(),
        };
        (ext, r)
    }

    /// Whether the extension is on for this thread.
    pub fn on(&self) -> bool {
        self.on
    }

    /// [`slice_request`], before a critical section.
    #[inline(always)]
    pub fn request(&self) {
        if self.on {
            slice_request();
        }
    }

    /// [`slice_end`], after a critical section or a failed attempt to enter
    /// one; counts how it went.
    #[inline(always)]
    pub fn end(&mut self) {
        if self.on {
            self.ends.note(slice_end());
        }
    }

    /// Clears any request left and disables the extension again; returns
    /// the counts.
    pub fn disable(self) -> SliceEnds {
        if self.on {
            let _ = slice_test_and_clear_request();
            let _ = slice_enable(false);
        }
        self.ends
    }
}

/// A userspace test-and-set spinlock taken with the time slice extension's
/// code flow around it: the request is set before each attempt, and the
/// extension is ended after a failed attempt and after the release (see
/// [`SliceExt`]). A holder that a tick would preempt is granted its
/// extension instead, which is what lock-holder preemption measurements
/// compare.
pub struct SliceLock(AtomicU32);

impl Default for SliceLock {
    fn default() -> Self {
        Self::new()
    }
}

impl SliceLock {
    pub const fn new() -> SliceLock {
        SliceLock(AtomicU32::new(0))
    }

    /// Takes the lock. After each failed attempt `wait` runs: it returns
    /// true to try again (typically once [`is_held`](Self::is_held) turned
    /// false) or false to give up, and then `lock` returns false without
    /// the lock.
    #[inline(always)]
    pub fn lock(&self, ext: &mut SliceExt, mut wait: impl FnMut() -> bool) -> bool {
        loop {
            ext.request();
            if self
                .0
                .compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return true;
            }
            ext.end();
            if !wait() {
                return false;
            }
        }
    }

    /// Releases the lock and ends the extension.
    #[inline(always)]
    pub fn unlock(&self, ext: &mut SliceExt) {
        self.0.store(0, Ordering::Release);
        ext.end();
    }

    /// Whether someone holds the lock (a relaxed load, for spinning on).
    #[inline(always)]
    pub fn is_held(&self) -> bool {
        self.0.load(Ordering::Relaxed) != 0
    }

    /// Frees the lock between runs, when no thread uses it.
    pub fn reset(&self) {
        self.0.store(0, Ordering::SeqCst);
    }
}

/// `prctl(PR_RSEQ_SLICE_EXTENSION, SET, enable, 0, 0)`: 0 or -errno
/// (`-ENOTSUPP` when unavailable, `-ENXIO` when not registered).
pub fn slice_enable(enable: bool) -> i64 {
    sys::prctl(
        sys::PR_RSEQ_SLICE_EXTENSION,
        sys::PR_RSEQ_SLICE_EXTENSION_SET,
        if enable {
            sys::PR_RSEQ_SLICE_EXT_ENABLE
        } else {
            0
        },
        0,
        0,
    )
}

/// `prctl(PR_RSEQ_SLICE_EXTENSION, GET, 0, 0, 0)` raw: the enable flags or
/// -errno.
pub fn slice_get() -> i64 {
    sys::prctl(
        sys::PR_RSEQ_SLICE_EXTENSION,
        sys::PR_RSEQ_SLICE_EXTENSION_GET,
        0,
        0,
        0,
    )
}

/// Whether the extension is enabled for the calling thread (prctl GET).
pub fn slice_enabled() -> bool {
    slice_get() == sys::PR_RSEQ_SLICE_EXT_ENABLE as i64
}
