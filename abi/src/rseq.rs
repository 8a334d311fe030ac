//! Linux's rseq user ABI, byte for byte (the layout is checked against Linux's offsets by the tests below).
//!
//! Mirrors `include/uapi/linux/rseq.h` as of the time slice extension
//! (Linux 7.0: `struct rseq_slice_ctrl`, the `__reserved` byte that makes the
//! feature size 33, and `rseq_alloc_align()`). The syscall numbers,
//! `prctl` and `membarrier` commands and auxiliary vector entries a user of
//! rseq needs are in [`crate::nr`], [`crate::prctl`], [`crate::membarrier`]
//! and [`crate::auxv`]. Everything here is plain data: the kernel reads and
//! writes these structures in user memory through its user-access helpers,
//! and the EL0 runtime places them in its thread areas.
//!
//! Only little-endian aarch64 is supported (as by every aarch64 Linux
//! distribution); the [`SliceCtrl`] union view depends on it.
//!
//! # Sizes and alignment
//!
//! Three numbers describe `struct rseq`, and they are not the same:
//!
//! - [`ORIG_RSEQ_SIZE`] = 32: the original (v1) registration length. Before
//!   rseq became extensible the structure was 32 bytes aligned 32, even
//!   though only 20 bytes were in use. Registering exactly 32 bytes at a
//!   32-byte aligned address is still accepted forever (TCMalloc does it),
//!   and picks v1 behaviour here (DESIGN §3).
//! - [`RSEQ_FEATURE_SIZE`] = 33: `offsetof(struct rseq, end)`, handed to user
//!   space as `AT_RSEQ_FEATURE_SIZE`. Linux added the one-byte `__reserved`
//!   field after `slice_ctrl` so that the feature size is never 32, a value
//!   glibc 2.35..2.39 already used with another meaning.
//! - [`RSEQ_ALIGN`] = 64: `rseq_alloc_align()`, the feature size rounded up
//!   to a power of two, handed out as `AT_RSEQ_ALIGN`. A registration longer
//!   than 32 bytes must be aligned this much and be at least 33 bytes long.
//!
//! [`Rseq`] itself keeps Linux's `__attribute__((aligned(32)))`, so its size
//! is 64 (33 rounded up to the alignment): one registration of
//! `size_of::<Rseq>()` bytes covers every feature. Because a v2 area must
//! also sit on a 64-byte boundary, which `Rseq`'s own alignment does not
//! promise, [`RseqArea`] wraps it with `align(64)`: size 64, alignment 64,
//! exactly what a v2 registration of [`RSEQ_V2_SIZE`] bytes needs.

use core::mem::{align_of, offset_of, size_of};

// ---------------------------------------------------------------------------
// Sizes (include/uapi/linux/rseq.h, include/linux/rseq.h, kernel/rseq.c)
// ---------------------------------------------------------------------------

/// `ORIG_RSEQ_SIZE`: the v1 registration length and alignment. A registration
/// of exactly this length selects the legacy (TCMalloc-compatible) mode.
pub const ORIG_RSEQ_SIZE: u32 = 32;

/// `offsetof(struct rseq, end)`: the size of the active rseq area, given to
/// user space as `AT_RSEQ_FEATURE_SIZE`. The minimum length of a registration
/// longer than [`ORIG_RSEQ_SIZE`].
pub const RSEQ_FEATURE_SIZE: u32 = 33;

/// `rseq_alloc_align()`: [`RSEQ_FEATURE_SIZE`] rounded up to a power of two,
/// given to user space as `AT_RSEQ_ALIGN`; the alignment a registration
/// longer than [`ORIG_RSEQ_SIZE`] must have.
pub const RSEQ_ALIGN: u32 = RSEQ_FEATURE_SIZE.next_power_of_two();

/// `sizeof(struct rseq)`: the length our runtime registers for v2, and the
/// size of [`RseqArea`].
pub const RSEQ_V2_SIZE: u32 = size_of::<Rseq>() as u32;

// ---------------------------------------------------------------------------
// Signature, registration flags, cpu_id states
// ---------------------------------------------------------------------------

/// `RSEQ_SIG` for aarch64 (tools/testing/selftests/rseq/rseq-arm64.h): the
/// 4 bytes before every `abort_ip` must equal the signature registered with
/// `rseq()`, so the kernel only ever jumps to intended abort handlers.
///
/// It is the encoding of `brk #0x45e0`, so executing the signature word by
/// accident traps instead of running on.
pub const RSEQ_SIG: u32 = 0xd428_bc00;

/// `RSEQ_FLAG_UNREGISTER` (`enum rseq_flags`): `rseq()` unregisters.
pub const RSEQ_FLAG_UNREGISTER: u32 = 1 << 0;

/// `RSEQ_FLAG_SLICE_EXT_DEFAULT_ON` (`enum rseq_flags`): enable the time slice
/// extension at registration, as if `prctl(PR_RSEQ_SLICE_EXTENSION_SET)`
/// followed.
pub const RSEQ_FLAG_SLICE_EXT_DEFAULT_ON: u32 = 1 << 1;

/// `RSEQ_CPU_ID_UNINITIALIZED` (`enum rseq_cpu_id_state`): what `cpu_id`
/// holds before registration (user-initialised) and right after it, until
/// the kernel writes the real CPU on return to user space.
pub const RSEQ_CPU_ID_UNINITIALIZED: i32 = -1;

/// [`RSEQ_CPU_ID_UNINITIALIZED`] as stored in the `u32` field.
pub const RSEQ_CPU_ID_UNINITIALIZED_U32: u32 = RSEQ_CPU_ID_UNINITIALIZED.cast_unsigned();

/// `RSEQ_CPU_ID_REGISTRATION_FAILED` (`enum rseq_cpu_id_state`): a user
/// library stores this in `cpu_id` when its `rseq()` call failed, so readers
/// fall back to `getcpu()`.
pub const RSEQ_CPU_ID_REGISTRATION_FAILED: i32 = -2;

/// [`RSEQ_CPU_ID_REGISTRATION_FAILED`] as stored in the `u32` field.
pub const RSEQ_CPU_ID_REGISTRATION_FAILED_U32: u32 =
    RSEQ_CPU_ID_REGISTRATION_FAILED.cast_unsigned();

// ---------------------------------------------------------------------------
// enum rseq_cs_flags: bits of rseq_cs.flags (historical) and rseq.flags
// ---------------------------------------------------------------------------

/// `RSEQ_CS_FLAG_NO_RESTART_ON_PREEMPT` (bit 0). Historical, deprecated:
/// Linux rejects a critical section carrying it (debug mode) and ignores it
/// otherwise.
pub const RSEQ_CS_FLAG_NO_RESTART_ON_PREEMPT: u32 = 1 << 0;

/// `RSEQ_CS_FLAG_NO_RESTART_ON_SIGNAL` (bit 1). Historical, deprecated.
pub const RSEQ_CS_FLAG_NO_RESTART_ON_SIGNAL: u32 = 1 << 1;

/// `RSEQ_CS_FLAG_NO_RESTART_ON_MIGRATE` (bit 2). Historical, deprecated.
pub const RSEQ_CS_FLAG_NO_RESTART_ON_MIGRATE: u32 = 1 << 2;

/// `RSEQ_CS_FLAG_SLICE_EXT_AVAILABLE` (bit 4, after an intentional gap at
/// bit 3): kernel-written into `rseq.flags` of a v2 registration when the
/// time slice extension is available. Read-only for user space.
pub const RSEQ_CS_FLAG_SLICE_EXT_AVAILABLE: u32 = 1 << 4;

/// `RSEQ_CS_FLAG_SLICE_EXT_ENABLED` (bit 5): kernel-written into
/// `rseq.flags` while the extension is enabled for the thread. Read-only for
/// user space.
pub const RSEQ_CS_FLAG_SLICE_EXT_ENABLED: u32 = 1 << 5;

// ---------------------------------------------------------------------------
// Structures
// ---------------------------------------------------------------------------

/// `struct rseq_slice_ctrl`: the time slice extension handshake word at
/// offset 28 of [`Rseq`].
///
/// Linux declares it as a union of `__u32 all` with the three fields below;
/// [`SliceCtrl::all`] and [`SliceCtrl::from_all`] are that union view (little
/// endian: `request` is the low byte). User space sets `request`; the kernel
/// answers with `request = 0, granted = 1` when it grants an extension and
/// clears the whole word on revocation and on every v2 ID update.
#[repr(C, align(4))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SliceCtrl {
    /// User-written: 1 asks for an extension if preempted.
    pub request: u8,
    /// Kernel-written: 1 while an extension is granted.
    pub granted: u8,
    /// `__reserved`: zero.
    pub reserved: u16,
}

impl SliceCtrl {
    /// The `all` member of Linux's union: the whole word as one `u32`.
    pub const fn all(self) -> u32 {
        let r = self.reserved.to_le_bytes();
        u32::from_le_bytes([self.request, self.granted, r[0], r[1]])
    }

    /// The fields viewed through a `u32` read of the whole word.
    pub const fn from_all(all: u32) -> Self {
        let b = all.to_le_bytes();
        SliceCtrl {
            request: b[0],
            granted: b[1],
            reserved: u16::from_le_bytes([b[2], b[3]]),
        }
    }
}

/// `struct rseq`: the per-thread area a thread registers with `rseq()`.
///
/// The kernel writes `cpu_id_start`, `cpu_id`, `node_id`, `mm_cid` and
/// `flags`; user space writes `rseq_cs` (the address of the current
/// [`RseqCs`] or 0) and `slice_ctrl.request`. Aligned 32 like Linux's
/// declaration, hence 64 bytes long (see the module docs). A v1 (32-byte)
/// registration covers bytes 0..32, `slice_ctrl` included, but the kernel
/// never writes `slice_ctrl` or `reserved` for it: TCMalloc keeps its own
/// data at offset 28 (DESIGN §3).
#[repr(C, align(32))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rseq {
    /// Always a valid CPU number, even before registration succeeded.
    pub cpu_id_start: u32,
    /// The current CPU, or [`RSEQ_CPU_ID_UNINITIALIZED_U32`] /
    /// [`RSEQ_CPU_ID_REGISTRATION_FAILED_U32`].
    pub cpu_id: u32,
    /// User address of the active [`RseqCs`], or 0 outside critical sections.
    /// The kernel clears it when it finds the IP outside the section or aborts
    /// it.
    pub rseq_cs: u64,
    /// Kernel-written feature status ([`RSEQ_CS_FLAG_SLICE_EXT_AVAILABLE`],
    /// [`RSEQ_CS_FLAG_SLICE_EXT_ENABLED`]).
    pub flags: u32,
    /// The current NUMA node (always 0 on our boards).
    pub node_id: u32,
    /// The concurrency ID: a small number unique among the threads of the
    /// process running at the same time.
    pub mm_cid: u32,
    /// Time slice extension handshake (v2 only).
    pub slice_ctrl: SliceCtrl,
    /// `__reserved`: the byte that makes the feature size 33; the next field
    /// Linux adds will replace it.
    pub reserved: u8,
}

impl Rseq {
    /// Byte offset of `cpu_id_start`, for single-field user writes.
    pub const CPU_ID_START_OFFSET: usize = offset_of!(Rseq, cpu_id_start);
    /// Byte offset of `cpu_id`.
    pub const CPU_ID_OFFSET: usize = offset_of!(Rseq, cpu_id);
    /// Byte offset of `rseq_cs`.
    pub const RSEQ_CS_OFFSET: usize = offset_of!(Rseq, rseq_cs);
    /// Byte offset of `flags`.
    pub const FLAGS_OFFSET: usize = offset_of!(Rseq, flags);
    /// Byte offset of `node_id`.
    pub const NODE_ID_OFFSET: usize = offset_of!(Rseq, node_id);
    /// Byte offset of `mm_cid`.
    pub const MM_CID_OFFSET: usize = offset_of!(Rseq, mm_cid);
    /// Byte offset of `slice_ctrl` (the whole word).
    pub const SLICE_CTRL_OFFSET: usize = offset_of!(Rseq, slice_ctrl);
    /// Byte offset of `slice_ctrl.request`.
    pub const SLICE_CTRL_REQUEST_OFFSET: usize =
        Self::SLICE_CTRL_OFFSET + offset_of!(SliceCtrl, request);
    /// Byte offset of `slice_ctrl.granted`.
    pub const SLICE_CTRL_GRANTED_OFFSET: usize =
        Self::SLICE_CTRL_OFFSET + offset_of!(SliceCtrl, granted);

    /// An unregistered area as user space should initialise it before
    /// calling `rseq()`: `cpu_id` = [`RSEQ_CPU_ID_UNINITIALIZED`], the rest
    /// zero (what glibc does for its thread areas).
    pub const fn new() -> Self {
        Rseq {
            cpu_id_start: 0,
            cpu_id: RSEQ_CPU_ID_UNINITIALIZED_U32,
            rseq_cs: 0,
            flags: 0,
            node_id: 0,
            mm_cid: 0,
            slice_ctrl: SliceCtrl {
                request: 0,
                granted: 0,
                reserved: 0,
            },
            reserved: 0,
        }
    }
}

impl Default for Rseq {
    fn default() -> Self {
        Self::new()
    }
}

/// A v2 registration area: one [`Rseq`] on a [`RSEQ_ALIGN`] (64-byte)
/// boundary, [`RSEQ_V2_SIZE`] (64) bytes long, so that `rseq(&area, 64, ..)`
/// passes Linux's checks for registrations longer than 32 bytes
/// (`sys_rseq()`: aligned to `rseq_alloc_align()`, length at least
/// `offsetof(struct rseq, end)`).
#[repr(C, align(64))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RseqArea(pub Rseq);

impl RseqArea {
    /// An unregistered area (see [`Rseq::new`]).
    pub const fn new() -> Self {
        RseqArea(Rseq::new())
    }
}

/// `struct rseq_cs`: a critical section descriptor, normally a link-time
/// constant that user space points `rseq.rseq_cs` at before entering the
/// section.
///
/// The section is `[start_ip, start_ip + post_commit_offset)`; if the kernel
/// preempts, migrates or signals the thread with its IP inside, it resumes
/// it at `abort_ip`, after checking that the 4 bytes before `abort_ip` are
/// the registered signature.
#[repr(C, align(32))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RseqCs {
    /// Must be 0.
    pub version: u32,
    /// Historical `RSEQ_CS_FLAG_NO_RESTART_*` bits; must be 0 (debug mode
    /// rejects anything else).
    pub flags: u32,
    /// First instruction of the critical section.
    pub start_ip: u64,
    /// Length of the section in bytes: the commit instruction is the last
    /// one inside it.
    pub post_commit_offset: u64,
    /// Where to resume an interrupted section; must lie outside it.
    pub abort_ip: u64,
}

// The layout is ABI: fail the build (for every target) if it ever drifts.
const _: () = {
    assert!(size_of::<Rseq>() == 64);
    assert!(align_of::<Rseq>() == 32);
    assert!(offset_of!(Rseq, reserved) + 1 == RSEQ_FEATURE_SIZE as usize);
    assert!(size_of::<RseqArea>() == RSEQ_ALIGN as usize);
    assert!(align_of::<RseqArea>() == RSEQ_ALIGN as usize);
    assert!(size_of::<RseqCs>() == 32);
    assert!(align_of::<RseqCs>() == 32);
    assert!(size_of::<SliceCtrl>() == 4);
};

#[cfg(test)]
mod tests {
    use super::*;

    /// The A64 encoding of `BRK #imm16`: `0xd4200000 | imm16 << 5`.
    const fn brk(imm16: u16) -> u32 {
        0xd420_0000 | (imm16 as u32) << 5
    }

    #[test]
    fn rseq_layout_matches_design_section_2() {
        assert_eq!(offset_of!(Rseq, cpu_id_start), 0);
        assert_eq!(offset_of!(Rseq, cpu_id), 4);
        assert_eq!(offset_of!(Rseq, rseq_cs), 8);
        assert_eq!(offset_of!(Rseq, flags), 16);
        assert_eq!(offset_of!(Rseq, node_id), 20);
        assert_eq!(offset_of!(Rseq, mm_cid), 24);
        assert_eq!(offset_of!(Rseq, slice_ctrl), 28);
        assert_eq!(offset_of!(Rseq, reserved), 32);
        assert_eq!(Rseq::SLICE_CTRL_REQUEST_OFFSET, 28);
        assert_eq!(Rseq::SLICE_CTRL_GRANTED_OFFSET, 29);
        assert_eq!(offset_of!(SliceCtrl, reserved), 2);
        assert_eq!(size_of::<Rseq>(), 64, "sizeof(struct rseq)");
        assert_eq!(align_of::<Rseq>(), 32, "aligned(32)");
        assert_eq!(align_of::<SliceCtrl>(), 4, "union with __u32 all");
    }

    #[test]
    fn rseq_sizes_follow_linux() {
        assert_eq!(ORIG_RSEQ_SIZE, 32);
        // offsetof(struct rseq, end): the byte after __reserved.
        assert_eq!(RSEQ_FEATURE_SIZE as usize, offset_of!(Rseq, reserved) + 1);
        assert_eq!(RSEQ_FEATURE_SIZE, 33);
        // rseq_alloc_align(): 1 << get_count_order(33).
        assert_eq!(RSEQ_ALIGN, 64);
        assert_eq!(RSEQ_V2_SIZE, 64);
        assert_eq!(size_of::<RseqArea>(), 64);
        assert_eq!(align_of::<RseqArea>(), 64);
        // Everything a v1 registration covers lies within its 32 bytes.
        assert_eq!(
            offset_of!(Rseq, slice_ctrl) + size_of::<SliceCtrl>(),
            ORIG_RSEQ_SIZE as usize
        );
    }

    #[test]
    fn rseq_cs_layout() {
        assert_eq!(offset_of!(RseqCs, version), 0);
        assert_eq!(offset_of!(RseqCs, flags), 4);
        assert_eq!(offset_of!(RseqCs, start_ip), 8);
        assert_eq!(offset_of!(RseqCs, post_commit_offset), 16);
        assert_eq!(offset_of!(RseqCs, abort_ip), 24);
        assert_eq!(size_of::<RseqCs>(), 32);
        assert_eq!(align_of::<RseqCs>(), 32);
    }

    #[test]
    fn signature_is_brk_0x45e0() {
        assert_eq!(brk(0x45e0), RSEQ_SIG);
        assert_eq!((RSEQ_SIG >> 5) & 0xffff, 0x45e0);
        // In memory (little endian) the word before abort_ip reads back.
        assert_eq!(u32::from_le_bytes(RSEQ_SIG.to_le_bytes()), 0xd428_bc00);
    }

    #[test]
    fn cpu_id_states() {
        assert_eq!(RSEQ_CPU_ID_UNINITIALIZED_U32, 0xffff_ffff);
        assert_eq!(RSEQ_CPU_ID_REGISTRATION_FAILED_U32, 0xffff_fffe);
        let r = Rseq::new();
        assert_eq!(r.cpu_id, RSEQ_CPU_ID_UNINITIALIZED_U32);
        assert_eq!(r.rseq_cs, 0);
        assert_eq!(Rseq::default(), r);
        assert_eq!(RseqArea::default().0, r);
    }

    #[test]
    fn flag_bits() {
        assert_eq!(RSEQ_FLAG_UNREGISTER, 1);
        assert_eq!(RSEQ_FLAG_SLICE_EXT_DEFAULT_ON, 2);
        assert_eq!(RSEQ_CS_FLAG_NO_RESTART_ON_PREEMPT, 1);
        assert_eq!(RSEQ_CS_FLAG_NO_RESTART_ON_SIGNAL, 2);
        assert_eq!(RSEQ_CS_FLAG_NO_RESTART_ON_MIGRATE, 4);
        assert_eq!(RSEQ_CS_FLAG_SLICE_EXT_AVAILABLE, 0x10);
        assert_eq!(RSEQ_CS_FLAG_SLICE_EXT_ENABLED, 0x20);
    }

    #[test]
    fn slice_ctrl_union_view_is_little_endian() {
        let granted = SliceCtrl {
            request: 0,
            granted: 1,
            reserved: 0,
        };
        assert_eq!(granted.all(), 0x100);
        assert_eq!(SliceCtrl::from_all(1).request, 1);
        assert_eq!(SliceCtrl::from_all(0x100), granted);
        let odd = SliceCtrl::from_all(0xabcd_0201);
        assert_eq!((odd.request, odd.granted, odd.reserved), (1, 2, 0xabcd));
        assert_eq!(odd.all(), 0xabcd_0201);
    }

    #[test]
    fn abi_numbers_are_linuxs() {
        use crate::{auxv::*, membarrier::*, nr, prctl::*};
        assert_eq!(
            [
                nr::SCHED_YIELD,
                nr::PRCTL,
                nr::GETPID,
                nr::GETTID,
                nr::MEMBARRIER,
                nr::RSEQ,
                nr::RSEQ_SLICE_YIELD
            ],
            [124, 167, 172, 178, 283, 293, 471]
        );
        assert_eq!(PR_RSEQ_SLICE_EXTENSION, 79);
        assert_eq!(
            (PR_RSEQ_SLICE_EXTENSION_GET, PR_RSEQ_SLICE_EXTENSION_SET),
            (1, 2)
        );
        assert_eq!(PR_RSEQ_SLICE_EXT_ENABLE, 1);
        assert_eq!(MEMBARRIER_CMD_QUERY, 0);
        assert_eq!(MEMBARRIER_CMD_PRIVATE_EXPEDITED, 8);
        assert_eq!(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 16);
        assert_eq!(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ, 128);
        assert_eq!(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ, 256);
        assert_eq!(MEMBARRIER_CMD_FLAG_CPU, 1);
        assert_eq!((AT_RSEQ_FEATURE_SIZE, AT_RSEQ_ALIGN), (27, 28));
    }
}
