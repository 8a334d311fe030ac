//! rseq(2): registration and unregistration (Linux's
//! `SYSCALL_DEFINE4(rseq)` with `rseq_register()`, `rseq_unregister()`,
//! `rseq_reregister()` and `rseq_length_valid()` of kernel/rseq.c), plus
//! the image's mode rule and Linux's per-registration version (DESIGN §2,
//! §3).

use crate::events::{force_update, reset};
use crate::mem::{Fault, UserMem, rseq_off};
use crate::state::{Ctx, RseqEvent, TaskRseq};
use crate::uapi::{
    ORIG_RSEQ_SIZE, RSEQ_ALIGN, RSEQ_CPU_ID_UNINITIALIZED_U32, RSEQ_FEATURE_SIZE,
    RSEQ_FLAG_SLICE_EXT_DEFAULT_ON, RSEQ_FLAG_UNREGISTER,
};
use crate::{Mode, Version};

// EPERM: the signature does not match the registration; EFAULT: the area
// is not user memory, or writing it failed; EBUSY: the same registration
// again; EINVAL: bad flags, length, alignment, or registration state.
use abi::errno::{EBUSY, EFAULT, EINVAL, EPERM};

/// The rseq syscall's verdict: Ok(0) or an errno (positive number, the kernel negates) plus an optional reason to log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegError {
    /// Positive errno; the syscall returns `-errno`.
    pub errno: i64,
    /// Why, for the kernel log (Linux logs nothing; we explain refusals
    /// that are ours, like the mode rule).
    pub why: Option<&'static str>,
    /// The refusal is the image's mode rule, which a user cannot guess from
    /// the errno: the kernel logs it at the default level (the others only
    /// at debug level, so a fuzzer cannot flood the console).
    pub mode_rule: bool,
}

/// An error with a reason.
const fn err(errno: i64, why: &'static str) -> RegError {
    RegError {
        errno,
        why: Some(why),
        mode_rule: false,
    }
}

/// rseq(2): registration/unregistration with Linux's exact checks and
/// errnos, in Linux's order, so inputs with several faults get Linux's
/// errno:
///
/// 1. `RSEQ_FLAG_UNREGISTER` in `flags`: unregister (Linux's `rseq_unregister()`:
///    extra flags, not registered, other pointer or length → EINVAL; other
///    signature → EPERM; a faulting ID reset → EFAULT).
/// 2. Any flag other than `RSEQ_FLAG_SLICE_EXT_DEFAULT_ON` → EINVAL; that
///    one too on a v1 image (no slice extension in v1). A `linux` image
///    takes it with any length, as Linux does, and it only has an effect
///    on a v2 registration.
/// 3. Already registered: other pointer or length → EINVAL, same but other
///    signature → EPERM, identical → EBUSY.
/// 4. Length and alignment (`rseq_length_valid()`): `len < 32`, `len == 32`
///    not 32-aligned, `len > 32` not 64-aligned (`RSEQ_ALIGN`) or shorter
///    than 33 (`RSEQ_FEATURE_SIZE`) → EINVAL. `rseq(NULL, 0, 0, 0)` is
///    EINVAL here.
/// 5. The mode rule (ours): a 32-byte registration on a v2 image, or a
///    longer one on a v1 image, → EINVAL with a reason. A `linux` image
///    takes both and gives each the version its length asks for
///    ([`Version::for_len`]).
/// 6. Not user memory (`access_ok`) → EFAULT.
///
/// On success it writes the area as Linux does: `rseq_cs` = 0, `flags`
/// (v2: `SLICE_EXT_AVAILABLE` when `slice_available`, plus
/// `SLICE_EXT_ENABLED` with `RSEQ_FLAG_SLICE_EXT_DEFAULT_ON`), `cpu_id_start`
/// = `cpu_id` = `RSEQ_CPU_ID_UNINITIALIZED`, `node_id` = `mm_cid` = 0, and
/// `slice_ctrl` = 0 only in v2 (v1 never writes offset 28..32). A faulting
/// write → EFAULT, the task stays unregistered. Then it records the
/// registration (`has_rseq` = its version, `ids` = None) and forces
/// an update so the IDs are written on the way out: `Ok(true)` means
/// "raise TIF_RSEQ". Unregistration returns `Ok(false)`.
pub fn sys_rseq<M: UserMem>(
    t: &mut TaskRseq,
    ctx: &mut Ctx<'_, M>,
    rseq: u64,
    len: u32,
    flags: u32,
    sig: u32,
    slice_available: bool,
) -> Result<bool, RegError> {
    if flags & RSEQ_FLAG_UNREGISTER != 0 {
        return unregister(t, ctx.mem, rseq, len, flags, sig).map(|()| false);
    }
    if flags & !RSEQ_FLAG_SLICE_EXT_DEFAULT_ON != 0 {
        return Err(err(EINVAL, "unknown flags"));
    }
    let mode = ctx.mode.built();
    if flags != 0 && mode == Mode::V1 {
        return Err(err(
            EINVAL,
            "RSEQ_FLAG_SLICE_EXT_DEFAULT_ON refused: this kernel image is built for rseq v1 (no time slice extension)",
        ));
    }
    if t.registered() {
        return Err(reregister(t, rseq, len, sig));
    }
    if !length_valid(rseq, len) {
        return Err(err(EINVAL, "bad length or alignment"));
    }
    let version = check_mode(mode, len)?;
    if !ctx.mem.access_ok(rseq, u64::from(len)) {
        return Err(err(EFAULT, "area not in user space"));
    }
    let (rseqfl, slice_enabled) = by_version!(version,
        v1 => {
            let _ = slice_available; // no slice extension in v1
            (0, false)
        },
        v2 => crate::v2::rseq_v2_registration_flags(flags, slice_available),
    );
    write_registration(ctx.mem, version, rseq, rseqfl)
        .map_err(|Fault| err(EFAULT, "writing the rseq area faulted"))?;
    *t = TaskRseq {
        usrptr: rseq,
        len,
        sig,
        has_rseq: version as u8,
        event: RseqEvent::default(),
        ids: None,
        node_id: 0,
        slice_enabled,
        slice_granted: false,
        last_fatal: None,
    };
    force_update(t);
    Ok(true)
}

/// Linux's `rseq_unregister()`: extra flags, not registered, other pointer
/// or other length → EINVAL; other signature → EPERM. Then the IDs are
/// reset in user memory as `rseq_reset_ids()` does (`cpu_id_start` = 0,
/// a possible CPU number as the ABI promises even when unregistered;
/// `cpu_id` = `RSEQ_CPU_ID_UNINITIALIZED`, so a library can tell it must
/// register again; `node_id` = `mm_cid` = 0), and the state is reset.
///
/// A faulting reset write → EFAULT with the registration kept (Linux then
/// also sends SIGSEGV, as the next exit would fault again; the reason says
/// so for the kernel to act on).
fn unregister<M: UserMem>(
    t: &mut TaskRseq,
    mem: &mut M,
    rseq: u64,
    len: u32,
    flags: u32,
    sig: u32,
) -> Result<(), RegError> {
    if flags & !RSEQ_FLAG_UNREGISTER != 0 {
        return Err(err(EINVAL, "unregister: unknown flags"));
    }
    if !t.registered() || t.usrptr != rseq {
        return Err(err(EINVAL, "unregister: not registered at this address"));
    }
    if len != t.len {
        return Err(err(
            EINVAL,
            "unregister: length differs from the registration",
        ));
    }
    if sig != t.sig {
        return Err(err(
            EPERM,
            "unregister: signature differs from the registration",
        ));
    }
    let reset_ids = |mem: &mut M| -> Result<(), Fault> {
        mem.write_u32(rseq + rseq_off::CPU_ID_START, 0)?;
        mem.write_u32(rseq + rseq_off::CPU_ID, RSEQ_CPU_ID_UNINITIALIZED_U32)?;
        mem.write_u32(rseq + rseq_off::NODE_ID, 0)?;
        mem.write_u32(rseq + rseq_off::MM_CID, 0)
    };
    reset_ids(mem).map_err(|Fault| {
        err(
            EFAULT,
            "unregister: rseq area unwritable (Linux also sends SIGSEGV)",
        )
    })?;
    reset(t);
    Ok(())
}

/// Linux's `rseq_reregister()`: a registration while registered.
fn reregister(t: &TaskRseq, rseq: u64, len: u32, sig: u32) -> RegError {
    if t.usrptr != rseq || t.len != len {
        err(EINVAL, "already registered with another area or length")
    } else if t.sig != sig {
        err(EPERM, "already registered with another signature")
    } else {
        err(EBUSY, "already registered")
    }
}

/// Linux's `rseq_length_valid()`: exactly 32 bytes aligned 32 (the original
/// size), or at least the feature size (33, `AT_RSEQ_FEATURE_SIZE`) aligned
/// `AT_RSEQ_ALIGN` (64).
fn length_valid(rseq: u64, len: u32) -> bool {
    if len < ORIG_RSEQ_SIZE {
        return false;
    }
    if len == ORIG_RSEQ_SIZE {
        return rseq.is_multiple_of(u64::from(ORIG_RSEQ_SIZE));
    }
    rseq.is_multiple_of(u64::from(RSEQ_ALIGN)) && len >= RSEQ_FEATURE_SIZE
}

/// The version a (valid) registration of `len` bytes gets, and the mode
/// rule: Linux picks v1 for a 32-byte registration and v2 for a longer
/// one. A `linux` image does the same; a v1 or v2 image implements one
/// version, so a registration asking for the other is refused rather than
/// silently given the wrong behaviour.
fn check_mode(mode: Mode, len: u32) -> Result<Version, RegError> {
    match mode {
        Mode::V1 if len > ORIG_RSEQ_SIZE => Err(mode_rule(
            EINVAL,
            if len == Version::V2.len() {
                "64-byte (v2) registration refused: this kernel image is built for rseq v1"
            } else {
                "registration longer than 32 bytes (v2) refused: this kernel image is built for rseq v1"
            },
        )),
        Mode::V2 if len == ORIG_RSEQ_SIZE => Err(mode_rule(
            EINVAL,
            "32-byte (v1) registration refused: this kernel image is built for rseq v2",
        )),
        Mode::V1 => Ok(Version::V1),
        Mode::V2 => Ok(Version::V2),
        Mode::Linux => Ok(Version::for_len(len)),
    }
}

/// A refusal by the image's mode rule (always logged).
const fn mode_rule(errno: i64, why: &'static str) -> RegError {
    RegError {
        mode_rule: true,
        ..err(errno, why)
    }
}

/// The user writes of Linux's `rseq_register()`, in its order. `rseq_cs`
/// is cleared rather than checked, as Linux does: older libcs reuse areas
/// for new threads without clearing it. Nothing past `mm_cid` is written
/// for a v1 registration.
fn write_registration<M: UserMem>(
    mem: &mut M,
    version: Version,
    rseq: u64,
    rseqfl: u32,
) -> Result<(), Fault> {
    mem.write_u64(rseq + rseq_off::RSEQ_CS, 0)?;
    mem.write_u32(rseq + rseq_off::FLAGS, rseqfl)?;
    mem.write_u32(rseq + rseq_off::CPU_ID_START, RSEQ_CPU_ID_UNINITIALIZED_U32)?;
    mem.write_u32(rseq + rseq_off::CPU_ID, RSEQ_CPU_ID_UNINITIALIZED_U32)?;
    mem.write_u32(rseq + rseq_off::NODE_ID, 0)?;
    mem.write_u32(rseq + rseq_off::MM_CID, 0)?;
    by_version!(version,
        v1 => Ok(()),
        v2 => crate::v2::rseq_v2_clear_slice_ctrl(rseq, mem),
    )
}
