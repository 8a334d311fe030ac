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
//! - [`sched_set_ids_changed`], [`sched_switch_event`], [`ids_event`],
//!   [`note_user_irq_entry`], [`membarrier_ipi`],
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
//! A kernel image is built for one [`Mode`] (cargo feature `v1`, `v2` or
//! `linux`; [`MODE`]). Each registration runs one [`Version`] of the ABI,
//! the value `has_rseq` holds: in a `v1` or `v2` image the image's, in a
//! `linux` image the one the registration's length asks for, as Linux
//! decides it (32 bytes, `ORIG_RSEQ_SIZE`: v1; longer: v2). Every path
//! dispatches on [`Mode::version_of`] the task, Linux's `rseq_v2(t)`.
//!
//! The code that only one version runs lives in `v1.rs` and `v2.rs`, in
//! `#[inline(never)]` functions named `rseq_v1_*` / `rseq_v2_*`. A
//! single-mode build compiles only its own module and `version_of` is a
//! constant there, so a v2 image provably contains no v1 update code and
//! the other way round (the kernel's test greps the ELF symbols); a
//! `linux` build compiles both and decides per task at run time. Host
//! tests compile everything and pass the mode explicitly, so they cover
//! all three.
#![no_std]

/// Dispatches on a [`Version`], compiling only the arms of the versions
/// this build contains: in a single-mode build the other arm does not
/// exist at all, and [`Mode::version_of`] is then a constant, so the
/// fallback arm is dead code.
macro_rules! by_version {
    ($version:expr, v1 => $v1:expr, v2 => $v2:expr $(,)?) => {
        match $version {
            #[cfg(any(test, feature = "v1", feature = "linux", not(feature = "v2")))]
            $crate::Version::V1 => $v1,
            #[cfg(any(test, feature = "v2", feature = "linux", not(feature = "v1")))]
            $crate::Version::V2 => $v2,
            #[cfg(not(any(
                test,
                feature = "linux",
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
#[cfg(any(test, feature = "v1", feature = "linux", not(feature = "v2")))]
mod v1;
#[cfg(any(test, feature = "v2", feature = "linux", not(feature = "v1")))]
mod v2;

#[cfg(test)]
extern crate std;
#[cfg(test)]
mod tests;

pub use abi::kstats::RseqStats;
pub use events::{
    execve, exit_to_user_mode, fork, ids_event, membarrier_ipi, note_user_irq_entry,
    sched_set_ids_changed, sched_switch_event,
};
pub use exit::{
    FastPath, debug_syscall, exit_fastpath, exit_fastpath_cs, exit_fastpath_general,
    exit_fastpath_inline, signal_deliver, slowpath,
};
pub use fatal::Fatal;
pub use mem::{Fault, UserMem};
pub use register::{RegError, sys_rseq};
pub use state::{Ctx, Ids, RseqEvent, TaskRseq};

/// The rseq behaviour a kernel image implements (DESIGN §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Legacy, TCMalloc-compatible, for every registration: the ID fields
    /// are rewritten on every context switch, before every signal and on
    /// every membarrier-RSEQ IPI; the critical section is checked after
    /// every switch; 32-byte registrations only.
    V1,
    /// Optimized (Linux's "RSEQ ABI V2") for every registration: IDs
    /// written only when they change, read-only fields enforced, the
    /// critical section checked only when user mode was interrupted;
    /// registrations longer than 32 bytes only; time slice extension
    /// available.
    V2,
    /// Linux's rule: each registration gets the version its length asks
    /// for (32 bytes: [`Version::V1`]; longer: [`Version::V2`]), decided
    /// at run time from `has_rseq`; the slice extension for v2
    /// registrations only.
    Linux,
}

impl Mode {
    /// The mode's name as the banner, the logs and `rt::rseq_mode!` spell
    /// it.
    pub const fn name(self) -> &'static str {
        match self {
            Mode::V1 => "v1",
            Mode::V2 => "v2",
            Mode::Linux => "linux",
        }
    }

    /// The mode as `kstats` reports it (`rseq_mode`): 1, 2 or 3.
    pub const fn number(self) -> u64 {
        match self {
            Mode::V1 => 1,
            Mode::V2 => 2,
            Mode::Linux => 3,
        }
    }

    /// The mode this build runs when asked for `self`: `self` when every
    /// mode is compiled in (host builds, tests), otherwise the one mode
    /// the image was built for, whatever the caller passed, because the
    /// other modes' code is not there. Always inlined, so in an image
    /// every dispatch on it folds to a constant.
    #[inline(always)]
    pub const fn built(self) -> Mode {
        if cfg!(all(
            not(test),
            feature = "v1",
            not(feature = "v2"),
            not(feature = "linux")
        )) {
            Mode::V1
        } else if cfg!(all(
            not(test),
            feature = "v2",
            not(feature = "v1"),
            not(feature = "linux")
        )) {
            Mode::V2
        } else if cfg!(all(
            not(test),
            feature = "linux",
            not(feature = "v1"),
            not(feature = "v2")
        )) {
            Mode::Linux
        } else {
            self
        }
    }

    /// Whether an image of this mode has the time slice extension at all.
    /// A v1 image has not, as a Linux built without
    /// CONFIG_RSEQ_SLICE_EXTENSION (arm64's today): `prctl(79, ...)` is
    /// `ENOTSUPP` and syscall 471 `ENOSYS` there.
    #[inline(always)]
    pub const fn has_slice_extension(self) -> bool {
        !matches!(self.built(), Mode::V1)
    }

    /// The version a registered task runs in this mode (Linux's
    /// `rseq_v2(t)`: v2 when `has_rseq > 1`). In a v1 or v2 image a
    /// constant; in a `linux` image the task's own. Meaningless for an
    /// unregistered task (every path checks the registration first).
    #[inline(always)]
    pub fn version_of(self, t: &TaskRseq) -> Version {
        match self.built() {
            Mode::V1 => Version::V1,
            Mode::V2 => Version::V2,
            Mode::Linux => {
                if t.has_rseq > 1 {
                    Version::V2
                } else {
                    Version::V1
                }
            }
        }
    }
}

/// The rseq ABI version one registration runs: what `TaskRseq::has_rseq`
/// holds (Linux's `rseq_event::has_rseq` carries it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// Legacy (TCMalloc-compatible) behaviour.
    V1 = 1,
    /// Optimized behaviour.
    V2 = 2,
}

impl Version {
    /// The version Linux gives a (valid) registration of `len` bytes:
    /// exactly `ORIG_RSEQ_SIZE` (32) is v1, anything longer v2.
    pub const fn for_len(len: u32) -> Version {
        if len > uapi::ORIG_RSEQ_SIZE {
            Version::V2
        } else {
            Version::V1
        }
    }

    /// The registration length our runtime uses for this version: 32
    /// (`ORIG_RSEQ_SIZE`) for v1, `sizeof(struct rseq)` = 64 for v2.
    #[allow(clippy::len_without_is_empty)]
    pub const fn len(self) -> u32 {
        match self {
            Version::V1 => uapi::ORIG_RSEQ_SIZE,
            Version::V2 => uapi::RSEQ_V2_SIZE,
        }
    }
}

/// The mode this image is built for: V1 with only the `v1` feature, Linux
/// with only `linux`, V2 otherwise (only `v2`, or none or several as in a
/// host `cargo test` of the workspace).
pub const MODE: Mode = if cfg!(all(
    feature = "v1",
    not(feature = "v2"),
    not(feature = "linux")
)) {
    Mode::V1
} else if cfg!(all(
    feature = "linux",
    not(feature = "v1"),
    not(feature = "v2")
)) {
    Mode::Linux
} else {
    Mode::V2
};
