//! The kernel side of restartable sequences (rseq) for rseq-os.
//!
//! [`uapi`] is Linux's rseq user ABI (`include/uapi/linux/rseq.h` plus the
//! syscall, prctl, membarrier and auxv numbers an rseq user needs), byte for
//! byte, so an unmodified Linux program and our own runtime see the same
//! structures. The rest of the crate is the kernel's rseq logic, written
//! after Linux's `kernel/rseq.c`, `include/linux/rseq.h` and
//! `include/linux/rseq_entry.h` (DESIGN §2, §3), as pure functions over a
//! [`UserMem`] trait, so it runs unchanged in the kernel and in host tests:
//!
//! - [`sys_rseq`]: registration and unregistration (`register.rs`).
//! - [`sched_switch_event`], [`note_user_irq_entry`], [`membarrier_ipi`],
//!   [`fork`], [`execve`], [`exit_to_user_mode`]: the events that decide
//!   whether work is due on the way back to user mode (`events.rs`).
//! - [`exit_fastpath`] (TIF_RSEQ), [`slowpath`] (TIF_NOTIFY_RESUME),
//!   [`signal_deliver`], [`debug_syscall`]: the work itself (`exit.rs`),
//!   built on the ID update (`ids.rs`, after the read-only check in
//!   `ro_ids.rs`) and the critical section check (`cs.rs`).
//! - [`TaskRseq`], [`RseqStats`], [`Ctx`] (`state.rs`); [`Fatal`]
//!   (`fatal.rs`); [`UserMem`], [`Fault`] (`mem.rs`).
//!
//! # Modes
//!
//! A kernel image is built for one [`Mode`] (cargo feature `v1` or `v2`;
//! [`MODE`]). The code that only one mode runs lives in `v1.rs` and
//! `v2.rs`, in `#[inline(never)]` functions named `rseq_v1_*` / `rseq_v2_*`, and a
//! single-mode build compiles only its own module, so a v2 image provably
//! contains no v1 update code and the other way round (the kernel's test
//! greps the ELF symbols). Every function still takes the mode explicitly,
//! so host tests, which compile both, cover both.
#![no_std]

/// Dispatches on a [`Mode`], compiling only the arms of the modes this
/// build contains (see [`Mode::built`]). In a single-mode build the other
/// arm does not exist at all; `Mode::built` is then a constant, so the
/// fallback arm is dead code.
macro_rules! by_mode {
    ($mode:expr, v1 => $v1:expr, v2 => $v2:expr $(,)?) => {
        match $crate::Mode::built($mode) {
            #[cfg(any(test, feature = "v1", not(feature = "v2")))]
            $crate::Mode::V1 => $v1,
            #[cfg(any(test, feature = "v2", not(feature = "v1")))]
            $crate::Mode::V2 => $v2,
            #[cfg(not(any(
                test,
                all(feature = "v1", feature = "v2"),
                all(not(feature = "v1"), not(feature = "v2"))
            )))]
            _ => unreachable!(),
        }
    };
}

mod cs;
mod events;
mod exit;
mod fatal;
mod ids;
mod mem;
mod register;
mod ro_ids;
pub mod slice;
mod state;
/// Linux's rseq user ABI (`struct rseq`, `struct rseq_cs`, flags, sizes),
/// defined once in the `abi` crate.
pub use abi::rseq as uapi;
#[cfg(any(test, feature = "v1", not(feature = "v2")))]
mod v1;
#[cfg(any(test, feature = "v2", not(feature = "v1")))]
mod v2;

#[cfg(test)]
extern crate std;
#[cfg(test)]
mod tests;

pub use abi::kstats::RseqStats;
pub use events::{
    execve, exit_to_user_mode, fork, membarrier_ipi, note_user_irq_entry, sched_switch_event,
};
pub use exit::{debug_syscall, exit_fastpath, signal_deliver, slowpath};
pub use fatal::Fatal;
pub use mem::{Fault, UserMem};
pub use register::{RegError, sys_rseq};
pub use state::{Ctx, Ids, RseqEvent, TaskRseq};

/// The rseq behaviour a kernel image implements (DESIGN §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Legacy, TCMalloc-compatible: the ID fields are rewritten on every
    /// context switch, before every signal and on every membarrier-RSEQ
    /// IPI; the critical section is checked after every switch; 32-byte
    /// registrations only.
    V1,
    /// Optimized (Linux's "RSEQ ABI V2"): IDs written only when they
    /// change, read-only fields enforced, the critical section checked only
    /// when user mode was interrupted; registrations longer than 32 bytes
    /// only; time slice extension available.
    V2,
}

impl Mode {
    /// The value `TaskRseq::has_rseq` holds for a registration in this mode
    /// (Linux's `rseq_event::has_rseq` carries the ABI version).
    pub const fn version(self) -> u8 {
        match self {
            Mode::V1 => 1,
            Mode::V2 => 2,
        }
    }

    /// The registration length our runtime uses in this mode: 32
    /// (`ORIG_RSEQ_SIZE`) for v1, `sizeof(struct rseq)` = 64 for v2.
    #[allow(clippy::len_without_is_empty)]
    pub const fn len(self) -> u32 {
        match self {
            Mode::V1 => uapi::ORIG_RSEQ_SIZE,
            Mode::V2 => uapi::RSEQ_V2_SIZE,
        }
    }

    /// The mode this build runs when asked for `self`: `self` when both
    /// modes are compiled in (host builds, tests), otherwise the one mode
    /// the image was built for, whatever the caller passed, because the
    /// other mode's code is not there. Always inlined, so in a single-mode
    /// build every dispatch on it folds to a constant.
    #[inline(always)]
    pub const fn built(self) -> Mode {
        if cfg!(all(not(test), feature = "v1", not(feature = "v2"))) {
            Mode::V1
        } else if cfg!(all(not(test), feature = "v2", not(feature = "v1"))) {
            Mode::V2
        } else {
            self
        }
    }
}

/// The mode this image is built for: V1 with only the `v1` feature, V2
/// otherwise (only `v2`, or neither or both as in a host `cargo test` of
/// the workspace).
#[cfg(all(feature = "v1", not(feature = "v2")))]
pub const MODE: Mode = Mode::V1;
/// The mode this image is built for: V1 with only the `v1` feature, V2
/// otherwise (only `v2`, or neither or both as in a host `cargo test` of
/// the workspace).
#[cfg(not(all(feature = "v1", not(feature = "v2"))))]
pub const MODE: Mode = Mode::V2;
