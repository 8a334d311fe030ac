//! rseq(2): every errno, the order of the checks, the area contents.

use super::fake::*;
use crate::uapi::{
    RSEQ_CS_FLAG_SLICE_EXT_AVAILABLE, RSEQ_CS_FLAG_SLICE_EXT_ENABLED,
    RSEQ_FLAG_SLICE_EXT_DEFAULT_ON, RSEQ_FLAG_UNREGISTER, RSEQ_SIG,
};
use crate::{Ids, Mode, RseqEvent, Version};
use abi::errno::{EBUSY, EFAULT, EINVAL, EPERM};

const UNREG: u32 = RSEQ_FLAG_UNREGISTER;
const SLICE: u32 = RSEQ_FLAG_SLICE_EXT_DEFAULT_ON;

#[test]
fn registration_errnos() {
    for mode in ALL {
        let mut b = Bench::new(mode);
        let len = mode.len();
        assert_eq!(b.errno(AREA, len, 4, RSEQ_SIG), EINVAL, "unknown flag");
        assert_eq!(
            b.errno(AREA, len, 1 << 31, RSEQ_SIG),
            EINVAL,
            "unknown high flag"
        );
        assert_eq!(b.errno(0, 0, 0, 0), EINVAL, "rseq(NULL, 0, 0, 0)");
        assert_eq!(b.errno(AREA, 31, 0, RSEQ_SIG), EINVAL, "len < 32");
        assert_eq!(b.errno(AREA, 0, 0, RSEQ_SIG), EINVAL, "len 0");
        assert_eq!(
            b.errno(AREA + 16, 32, 0, RSEQ_SIG),
            EINVAL,
            "len 32, 16-aligned"
        );
        assert_eq!(
            b.errno(AREA + 32, 64, 0, RSEQ_SIG),
            EINVAL,
            "len 64, 32-aligned"
        );
        assert_eq!(
            b.errno(AREA + 32, 33, 0, RSEQ_SIG),
            EINVAL,
            "len 33, 32-aligned"
        );
        // Not user memory: below the window, or running past its end.
        assert_eq!(b.errno(0x40, len, 0, RSEQ_SIG), EFAULT, "below user space");
        assert_eq!(b.errno(TASK_SIZE, len, 0, RSEQ_SIG), EFAULT, "at TASK_SIZE");
        // User memory but unmapped: the first write faults.
        assert_eq!(
            b.errno(BASE + SIZE + 0x1000, len, 0, RSEQ_SIG),
            EFAULT,
            "unmapped"
        );
        assert!(!b.t.registered(), "a failed registration leaves no state");
        assert_eq!(
            b.mem.peek64(AREA),
            u64::from_le_bytes([FILL; 8]),
            "nothing written"
        );
    }
}

#[test]
fn unknown_flags_come_before_everything() {
    for mode in ALL {
        let mut b = Bench::registered(mode);
        // Registered, identical arguments: EBUSY, but a bad flag wins.
        assert_eq!(b.errno(AREA, mode.len(), 0, RSEQ_SIG), EBUSY);
        assert_eq!(b.errno(AREA, mode.len(), 8, RSEQ_SIG), EINVAL);
        // Unregistered, bad flag and bad everything else: EINVAL, not EFAULT.
        let mut b = Bench::new(mode);
        assert_eq!(b.errno(0x40, 7, 8, 0), EINVAL);
    }
}

#[test]
fn already_registered() {
    for mode in ALL {
        let len = mode.len();
        let mut b = Bench::registered(mode);
        assert_eq!(b.errno(AREA, len, 0, RSEQ_SIG), EBUSY, "identical");
        assert_eq!(
            b.errno(AREA, len, 0, RSEQ_SIG ^ 1),
            EPERM,
            "other signature"
        );
        assert_eq!(
            b.errno(AREA + 0x40, len, 0, RSEQ_SIG),
            EINVAL,
            "other pointer"
        );
        assert_eq!(b.errno(AREA, len + 64, 0, RSEQ_SIG), EINVAL, "other length");
        // Pointer before signature; registration state before length rules
        // and access_ok.
        assert_eq!(
            b.errno(AREA + 0x40, len, 0, 0),
            EINVAL,
            "other pointer and signature"
        );
        assert_eq!(
            b.errno(0x40, 7, 0, RSEQ_SIG),
            EINVAL,
            "bad length while registered"
        );
        assert_eq!(b.errno(AREA, len, 0, 0), EPERM);
        // The registration is untouched by all this.
        assert_eq!((b.t.usrptr, b.t.len, b.t.sig), (AREA, len, RSEQ_SIG));
    }
}

#[test]
fn length_checks_come_before_access_ok() {
    for mode in ALL {
        let mut b = Bench::new(mode);
        // Misaligned and outside user space: EINVAL.
        assert_eq!(b.errno(TASK_SIZE + 16, 32, 0, RSEQ_SIG), EINVAL);
        assert_eq!(b.errno(TASK_SIZE + 32, 64, 0, RSEQ_SIG), EINVAL);
        assert_eq!(b.errno(0x40, 20, 0, RSEQ_SIG), EINVAL);
    }
}

#[test]
fn mode_rule() {
    let mut b = Bench::new(V1);
    assert_eq!(
        b.rseq(AREA, 64, 0, RSEQ_SIG),
        Err((
            EINVAL,
            Some("64-byte (v2) registration refused: this kernel image is built for rseq v1")
        ))
    );
    let (errno, why) = b.rseq(AREA, 33, 0, RSEQ_SIG).unwrap_err();
    assert_eq!(errno, EINVAL);
    assert!(why.unwrap().contains("built for rseq v1"));
    // The mode rule is an EINVAL like the length rules: it beats EFAULT.
    assert_eq!(b.errno(TASK_SIZE, 64, 0, RSEQ_SIG), EINVAL);
    assert_eq!(b.rseq(AREA, 32, 0, RSEQ_SIG), Ok(true));

    let mut b = Bench::new(V2);
    assert_eq!(
        b.rseq(AREA, 32, 0, RSEQ_SIG),
        Err((
            EINVAL,
            Some("32-byte (v1) registration refused: this kernel image is built for rseq v2")
        ))
    );
    assert_eq!(b.errno(TASK_SIZE, 32, 0, RSEQ_SIG), EINVAL);
    // Any length of at least the feature size is v2.
    assert_eq!(b.rseq(AREA, 33, 0, RSEQ_SIG), Ok(true));
    let mut b = Bench::new(V2);
    assert_eq!(b.rseq(AREA, 128, 0, RSEQ_SIG), Ok(true));
}

/// A `linux` image: Linux's rule, the version each registration gets is
/// the one its length asks for, decided per registration.
#[test]
fn linux_mode_decides_per_registration() {
    for (len, version) in [
        (32, Version::V1),
        (33, Version::V2),
        (64, Version::V2),
        (128, Version::V2),
    ] {
        let mut b = Bench::new(LINUX_V2);
        assert_eq!(b.rseq(AREA, len, 0, RSEQ_SIG), Ok(true), "{len}");
        assert_eq!(b.t.has_rseq, version as u8, "{len}");
        assert_eq!(Mode::Linux.version_of(&b.t), version, "{len}");
    }
    // Linux's alignment rule per length: 32 bytes 32-aligned, longer 64.
    let mut b = Bench::new(LINUX_V1);
    assert_eq!(b.errno(AREA + 32, 33, 0, RSEQ_SIG), EINVAL);
    assert_eq!(b.errno(AREA + 32, 64, 0, RSEQ_SIG), EINVAL);
    assert_eq!(b.rseq(AREA + 32, 32, 0, RSEQ_SIG), Ok(true));
    assert_eq!(b.t.has_rseq, 1);
    // Registered: the other length is a re-registration (EINVAL), never a
    // change of version; after unregistering, the other length is taken.
    assert_eq!(b.errno(AREA + 32, 64, 0, RSEQ_SIG), EINVAL);
    assert_eq!(
        b.rseq(AREA + 32, 32, RSEQ_FLAG_UNREGISTER, RSEQ_SIG),
        Ok(false)
    );
    assert_eq!(b.rseq(AREA, 64, 0, RSEQ_SIG), Ok(true));
    assert_eq!(Mode::Linux.version_of(&b.t), Version::V2);
    // Nothing is refused by a mode rule.
    let mut b = Bench::new(LINUX_V1);
    assert_eq!(b.errno(AREA, 31, 0, RSEQ_SIG), EINVAL);
    assert!(!b.refused_by_mode_rule(AREA, 31, 0, RSEQ_SIG));
    // The single-mode images are constants whatever the task holds.
    let t = b.t;
    assert_eq!(Mode::V1.version_of(&t), Version::V1);
    assert_eq!(Mode::V2.version_of(&t), Version::V2);
    assert_eq!(
        (Version::for_len(32), Version::for_len(33)),
        (Version::V1, Version::V2)
    );
}

#[test]
fn only_the_mode_rule_is_marked_for_the_default_log() {
    let mut b = Bench::new(V2);
    assert!(b.refused_by_mode_rule(AREA, 32, 0, RSEQ_SIG));
    assert!(!b.refused_by_mode_rule(AREA, 31, 0, RSEQ_SIG));
    assert!(!b.refused_by_mode_rule(AREA + 1, 64, 0, RSEQ_SIG));
    assert!(!b.refused_by_mode_rule(AREA, 64, 8, RSEQ_SIG));
    // A 32-byte registration while registered is refused as a
    // re-registration (EINVAL too), not by the mode rule: not logged.
    let mut b = Bench::registered(V2);
    assert!(!b.refused_by_mode_rule(AREA + 64, 32, 0, RSEQ_SIG));
    let mut b = Bench::new(V1);
    assert!(b.refused_by_mode_rule(AREA, 64, 0, RSEQ_SIG));
    assert!(!b.refused_by_mode_rule(AREA, 32, 2, RSEQ_SIG));
}

#[test]
fn slice_flag() {
    // v1: no slice extension, so the flag is unknown.
    let mut b = Bench::new(V1);
    let (errno, why) = b.rseq(AREA, 32, SLICE, RSEQ_SIG).unwrap_err();
    assert_eq!(errno, EINVAL);
    assert!(why.unwrap().contains("v1"));

    // v2, available, asked for: AVAILABLE | ENABLED.
    let mut b = Bench::new(V2);
    assert_eq!(b.rseq(AREA, 64, SLICE, RSEQ_SIG), Ok(true));
    assert_eq!(
        b.field(FLAGS),
        RSEQ_CS_FLAG_SLICE_EXT_AVAILABLE | RSEQ_CS_FLAG_SLICE_EXT_ENABLED
    );
    assert!(b.t.slice_enabled);

    // v2, available, not asked for: AVAILABLE only.
    let mut b = Bench::new(V2);
    assert_eq!(b.rseq(AREA, 64, 0, RSEQ_SIG), Ok(true));
    assert_eq!(b.field(FLAGS), RSEQ_CS_FLAG_SLICE_EXT_AVAILABLE);
    assert!(!b.t.slice_enabled);

    // v2, not available: the flag is accepted and does nothing (Linux).
    let mut b = Bench::new(V2);
    assert_eq!(b.rseq_slice(AREA, 64, SLICE, RSEQ_SIG, false), Ok(true));
    assert_eq!(b.field(FLAGS), 0);
    assert!(!b.t.slice_enabled);

    // linux: a v2 registration as in a v2 image; a v1 registration takes
    // the flag as Linux does, and it has no effect (no slice extension
    // for legacy registrations).
    let mut b = Bench::new(LINUX_V2);
    assert_eq!(b.rseq(AREA, 64, SLICE, RSEQ_SIG), Ok(true));
    assert_eq!(
        b.field(FLAGS),
        RSEQ_CS_FLAG_SLICE_EXT_AVAILABLE | RSEQ_CS_FLAG_SLICE_EXT_ENABLED
    );
    assert!(b.t.slice_enabled);
    let mut b = Bench::new(LINUX_V1);
    assert_eq!(b.rseq(AREA, 32, SLICE, RSEQ_SIG), Ok(true));
    assert_eq!(b.field(FLAGS), 0);
    assert!(!b.t.slice_enabled);
    assert_eq!(&b.mem.bytes[0x100 + 28..0x100 + 32], &[FILL; 4]);
}

#[test]
fn v1_area_after_registration() {
    for s in AS_V1 {
        let mut b = Bench::new(s);
        b.mem.poke64(AREA + RSEQ_CS, CS);
        assert_eq!(b.rseq(AREA, 32, 0, RSEQ_SIG), Ok(true));
        assert_eq!(b.rseq_cs(), 0, "rseq_cs cleared");
        assert_eq!(b.field(FLAGS), 0);
        assert_eq!(b.ids(), [u32::MAX, u32::MAX, 0, 0]);
        assert_eq!(
            &b.mem.bytes[0x100 + 28..0x100 + 64],
            &[FILL; 36],
            "offset 28.. untouched"
        );
        assert_eq!(b.t.has_rseq, 1);
        assert_eq!((b.t.usrptr, b.t.len, b.t.sig), (AREA, 32, RSEQ_SIG));
        assert_eq!(b.t.ids, None);
        assert_eq!(
            b.t.event,
            RseqEvent {
                sched_switch: true,
                ids_changed: true,
                ..RseqEvent::default()
            }
        );
    }
}

#[test]
fn v2_area_after_registration() {
    for s in AS_V2 {
        let mut b = Bench::new(s);
        b.mem.poke64(AREA + RSEQ_CS, CS);
        assert_eq!(b.rseq(AREA, 64, 0, RSEQ_SIG), Ok(true));
        assert_eq!(b.rseq_cs(), 0);
        assert_eq!(b.ids(), [u32::MAX, u32::MAX, 0, 0]);
        assert_eq!(b.field(SLICE_CTRL), 0, "slice_ctrl cleared");
        assert_eq!(
            &b.mem.bytes[0x100 + 32..0x100 + 64],
            &[FILL; 32],
            "past slice_ctrl untouched"
        );
        assert_eq!(b.t.has_rseq, 2);
        assert_eq!(b.t.ids, None);
        assert!(b.t.event.sched_switch && b.t.event.ids_changed);
    }
}

#[test]
fn first_exit_writes_the_ids() {
    for mode in ALL {
        let mut b = Bench::new(mode);
        assert_eq!(b.rseq(AREA, mode.len(), 0, RSEQ_SIG), Ok(true));
        assert!(b.fast());
        assert_eq!(b.ids(), [1, 1, 0, 3]);
        let ids = Ids {
            cpu_id: 1,
            mm_cid: 3,
        };
        assert_eq!(b.t.ids, b.kept_ids(mode, ids));
        assert_eq!(b.stats.ids, 1);
        assert_eq!(b.t.event, RseqEvent::default());
    }
}

#[test]
fn unregistration_errnos() {
    for mode in ALL {
        let len = mode.len();
        let mut b = Bench::new(mode);
        assert_eq!(
            b.errno(AREA, len, UNREG, RSEQ_SIG),
            EINVAL,
            "not registered"
        );
        assert_eq!(b.errno(0, 0, UNREG, 0), EINVAL, "NULL, not registered");
        let mut b = Bench::registered(mode);
        assert_eq!(
            b.errno(AREA, len, UNREG | 4, RSEQ_SIG),
            EINVAL,
            "extra flag"
        );
        assert_eq!(
            b.errno(AREA, len, UNREG | SLICE, RSEQ_SIG),
            EINVAL,
            "slice flag"
        );
        assert_eq!(
            b.errno(AREA + 64, len, UNREG, RSEQ_SIG),
            EINVAL,
            "other pointer"
        );
        assert_eq!(
            b.errno(AREA, len + 64, UNREG, RSEQ_SIG),
            EINVAL,
            "other length"
        );
        assert_eq!(
            b.errno(AREA, len, UNREG, RSEQ_SIG ^ 1),
            EPERM,
            "other signature"
        );
        // Order: pointer, length, then signature.
        assert_eq!(b.errno(AREA + 64, len, UNREG, 0), EINVAL);
        assert_eq!(b.errno(AREA, len + 64, UNREG, 0), EINVAL);
        assert!(b.t.registered());
    }
}

#[test]
fn unregistration_resets_ids_and_state() {
    for mode in ALL {
        let len = mode.len();
        let mut b = Bench::registered(mode);
        b.irq();
        assert_eq!(b.rseq(AREA, len, UNREG, RSEQ_SIG), Ok(false));
        // Linux's rseq_reset_ids(): cpu_id_start 0 (always a possible CPU),
        // cpu_id UNINITIALIZED, node_id and mm_cid 0.
        assert_eq!(b.ids(), [0, u32::MAX, 0, 0]);
        assert!(!b.t.registered());
        assert_eq!(b.t.event, RseqEvent::default());
        assert_eq!(b.t.ids, None);
        // Nothing happens any more, and registering again works.
        assert!(!b.switch_in(2, 2));
        b.reset_counters();
        assert!(b.fast());
        assert_eq!(b.mem.accesses(), 0);
        assert_eq!(b.rseq(AREA, len, 0, RSEQ_SIG), Ok(true));
    }
}

#[test]
fn unregistration_write_fault() {
    for mode in ALL {
        let mut b = Bench::registered(mode);
        b.mem.fault(AREA + CPU_ID, u32::MAX);
        let (errno, why) = b.rseq(AREA, mode.len(), UNREG, RSEQ_SIG).unwrap_err();
        assert_eq!(errno, EFAULT);
        assert!(why.unwrap().contains("SIGSEGV"));
        assert!(b.t.registered(), "Linux keeps the registration");
    }
}

#[test]
fn registration_write_fault_leaves_task_unregistered() {
    for mode in ALL {
        let mut b = Bench::new(mode);
        b.mem.fault(AREA + MM_CID, u32::MAX);
        assert_eq!(b.errno(AREA, mode.len(), 0, RSEQ_SIG), EFAULT);
        assert!(!b.t.registered());
    }
}
