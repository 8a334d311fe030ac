//! User memory as the rseq logic sees it: Linux's `get_user()`,
//! `put_user()` and `access_ok()`, behind a trait so the kernel plugs in its
//! checked user-access helpers and host tests a fake.
//!
//! Also the addresses of the fields the kernel touches, computed from the
//! [`uapi`](crate::uapi) layout, and the crate's internal error type that
//! tells a fault (retry in the slow path) from a fatal condition (kill).

use crate::fatal::Fatal;
use crate::uapi::{Rseq, RseqCs};
use core::mem::{offset_of, size_of};

/// A user access failed: the address is not mapped (or not writable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault;

/// The current task's user memory.
///
/// In the kernel the accesses run with page faults handled by the fixup
/// table and never sleep (the fast path runs with IRQs off, Linux's
/// `pagefault_disable()`); any failure is a [`Fault`].
pub trait UserMem {
    /// `get_user()` of a `u32`.
    fn read_u32(&mut self, addr: u64) -> Result<u32, Fault>;
    /// `get_user()` of a `u64`.
    fn read_u64(&mut self, addr: u64) -> Result<u64, Fault>;
    /// `put_user()` of a `u32`.
    fn write_u32(&mut self, addr: u64, v: u32) -> Result<(), Fault>;
    /// `put_user()` of a `u64`.
    fn write_u64(&mut self, addr: u64, v: u64) -> Result<(), Fault>;
    /// Linux's access_ok(): the whole range is user memory (says nothing about it being mapped).
    fn access_ok(&self, addr: u64, len: u64) -> bool;

    /// The ID stores of one update of the registered rseq area at `area`
    /// (Linux's `rseq_set_ids_get_csaddr()`, in its
    /// `scoped_user_rw_access()` section): `cpu_ids` as the 8-byte word
    /// `cpu_id_start`/`cpu_id`, then `node_id`, then `mm_cid`. Stops at
    /// the first failure.
    ///
    /// `area` passed `access_ok` for its (at least 32) registered bytes
    /// and is 32-aligned, so an implementation may skip the per-access
    /// checks (the kernel's fast path does: three inline stores); the
    /// default is the checked accesses.
    fn area_set_ids(
        &mut self,
        area: u64,
        cpu_ids: u64,
        node_id: u32,
        mm_cid: u32,
    ) -> Result<(), Fault> {
        self.write_u64(area + rseq_off::CPU_ID_START, cpu_ids)?;
        self.write_u32(area + rseq_off::NODE_ID, node_id)?;
        self.write_u32(area + rseq_off::MM_CID, mm_cid)
    }

    /// The load of `rseq_cs` from the registered rseq area at `area`, in
    /// the same section (see [`UserMem::area_set_ids`]).
    fn area_get_csaddr(&mut self, area: u64) -> Result<u64, Fault> {
        self.read_u64(area + rseq_off::RSEQ_CS)
    }
}

/// Why a path stopped before finishing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Error {
    /// A user access faulted: the fast path hands over to the slow path,
    /// the slow path kills (Linux's `efault:` labels).
    Fault,
    /// User space broke the contract (Linux's `die:` labels, which set
    /// `rseq_event::fatal`).
    Fatal(Fatal),
}

impl From<Fault> for Error {
    fn from(_: Fault) -> Self {
        Error::Fault
    }
}

impl From<Fatal> for Error {
    fn from(f: Fatal) -> Self {
        Error::Fatal(f)
    }
}

impl Error {
    /// The reason to kill with, when the slow path cannot recover.
    pub(crate) fn fatal(self) -> Fatal {
        match self {
            Error::Fault => Fatal::Fault,
            Error::Fatal(f) => f,
        }
    }
}

/// Byte offsets of `struct rseq` fields, as `u64` for address arithmetic.
pub(crate) mod rseq_off {
    use super::*;
    /// `cpu_id_start`.
    pub const CPU_ID_START: u64 = Rseq::CPU_ID_START_OFFSET as u64;
    /// `cpu_id`.
    pub const CPU_ID: u64 = Rseq::CPU_ID_OFFSET as u64;
    /// `rseq_cs`.
    pub const RSEQ_CS: u64 = Rseq::RSEQ_CS_OFFSET as u64;
    /// `flags`.
    pub const FLAGS: u64 = Rseq::FLAGS_OFFSET as u64;
    /// `node_id`.
    pub const NODE_ID: u64 = Rseq::NODE_ID_OFFSET as u64;
    /// `mm_cid`.
    pub const MM_CID: u64 = Rseq::MM_CID_OFFSET as u64;
    // `slice_ctrl` (offset 28) is v2's alone: see `v2.rs`.
}

/// Byte offsets of `struct rseq_cs` fields.
pub(crate) mod cs_off {
    use super::*;
    /// `version` and `flags` read as one `u64` (Linux's `uc_head`).
    pub const HEAD: u64 = offset_of!(RseqCs, version) as u64;
    /// `start_ip`.
    pub const START_IP: u64 = offset_of!(RseqCs, start_ip) as u64;
    /// `post_commit_offset`.
    pub const POST_COMMIT_OFFSET: u64 = offset_of!(RseqCs, post_commit_offset) as u64;
    /// `abort_ip`.
    pub const ABORT_IP: u64 = offset_of!(RseqCs, abort_ip) as u64;
    /// `sizeof(struct rseq_cs)`.
    pub const SIZE: u64 = size_of::<RseqCs>() as u64;
}

/// `sizeof(u32)`: the signature word before `abort_ip`, and the size of one
/// A64 instruction.
pub(crate) const SIG_LEN: u64 = 4;
