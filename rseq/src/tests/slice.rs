//! Time slice extension: grant, revoke, expiry, yield, abort, forgery,
//! prctl, and the accounting invariant.

use super::fake::*;
use crate::Fatal;
use crate::slice::{self, Grant, PrctlError};
use crate::uapi::{
    RSEQ_CS_FLAG_SLICE_EXT_AVAILABLE, RSEQ_CS_FLAG_SLICE_EXT_ENABLED,
    RSEQ_FLAG_SLICE_EXT_DEFAULT_ON, RSEQ_SIG,
};
use abi::errno::{EINVAL, ENOTSUPP, ENXIO};
use std::format;

const REQUEST: u32 = 1;
const GRANTED: u32 = 1 << 8;

/// A task with the extension enabled at registration, in a v2 image or
/// with a 64-byte registration in a `linux` image.
fn enabled_in(setup: Setup) -> Bench {
    let mut b = Bench::new(setup);
    assert_eq!(
        b.rseq(AREA, 64, RSEQ_FLAG_SLICE_EXT_DEFAULT_ON, RSEQ_SIG),
        Ok(true)
    );
    assert!(b.fast());
    b.exit();
    b.reset_counters();
    assert!(b.t.slice_enabled);
    b
}

fn grant(b: &mut Bench, from_irq: bool, other: bool) -> Result<Grant, Fatal> {
    b.with(|t, ctx, _| slice::grant_slice_extension(t, ctx, from_irq, other))
}

fn invariant(b: &Bench) {
    let s = &b.stats;
    assert_eq!(
        s.s_granted,
        s.s_yielded + s.s_aborted + s.s_revoked + b.t.slice_granted as u64
    );
}

#[test]
fn grant_only_from_irq_with_request_and_no_other_work() {
    for s in AS_V2 {
        let mut b = enabled_in(s);
        assert_eq!(
            grant(&mut b, true, false),
            Ok(Grant::Schedule),
            "no request"
        );
        b.mem.poke32(AREA + SLICE_CTRL, REQUEST);
        assert_eq!(
            grant(&mut b, false, false),
            Ok(Grant::Schedule),
            "syscall exit never grants"
        );
        assert_eq!(
            grant(&mut b, true, true),
            Ok(Grant::Schedule),
            "other work pending"
        );
        assert_eq!(b.mem.peek32(AREA + SLICE_CTRL), REQUEST, "untouched");
        assert_eq!(grant(&mut b, true, false), Ok(Grant::Granted));
        assert_eq!(
            b.mem.peek32(AREA + SLICE_CTRL),
            GRANTED,
            "request cleared, granted set"
        );
        assert!(b.t.slice_granted);
        assert_eq!(b.stats.s_granted, 1);
        invariant(&b);
    }
}

#[test]
fn second_need_resched_revokes_and_expiry_counts() {
    for s in AS_V2 {
        let mut b = enabled_in(s);
        b.mem.poke32(AREA + SLICE_CTRL, REQUEST);
        assert_eq!(grant(&mut b, true, false), Ok(Grant::Granted));
        assert!(slice::timer_expired(&b.t, &mut b.stats));
        assert_eq!(b.stats.s_expired, 1);
        assert_eq!(grant(&mut b, true, false), Ok(Grant::Revoked));
        assert_eq!(b.mem.peek32(AREA + SLICE_CTRL), 0);
        assert!(!b.t.slice_granted);
        assert!(
            !slice::timer_expired(&b.t, &mut b.stats),
            "no grant, no expiry"
        );
        assert_eq!((b.stats.s_revoked, b.stats.s_expired), (1, 1));
        invariant(&b);
    }
}

#[test]
fn yield_inside_a_grant_returns_1_else_0() {
    for s in AS_V2 {
        let mut b = enabled_in(s);
        assert_eq!(b.with(|t, ctx, _| slice::slice_yield(t, ctx)), Ok(0));
        b.mem.poke32(AREA + SLICE_CTRL, REQUEST);
        assert_eq!(grant(&mut b, true, false), Ok(Grant::Granted));
        assert_eq!(b.with(|t, ctx, _| slice::slice_yield(t, ctx)), Ok(1));
        assert_eq!(b.mem.peek32(AREA + SLICE_CTRL), 0);
        assert_eq!(b.stats.s_yielded, 1);
        invariant(&b);
    }
}

#[test]
fn any_other_syscall_aborts_a_grant() {
    for s in AS_V2 {
        let mut b = enabled_in(s);
        assert_eq!(b.with(|t, ctx, _| slice::syscall_entry(t, ctx)), Ok(false));
        b.mem.poke32(AREA + SLICE_CTRL, REQUEST);
        assert_eq!(grant(&mut b, true, false), Ok(Grant::Granted));
        assert_eq!(b.with(|t, ctx, _| slice::syscall_entry(t, ctx)), Ok(true));
        assert_eq!(b.stats.s_aborted, 1);
        assert!(!b.t.slice_granted);
        invariant(&b);
    }
}

#[test]
fn forged_granted_is_fatal_everywhere() {
    for s in AS_V2 {
        let forged = |b: &mut Bench| b.mem.poke32(AREA + SLICE_CTRL, GRANTED | REQUEST);
        let mut b = enabled_in(s);
        forged(&mut b);
        assert!(matches!(
            grant(&mut b, true, false),
            Err(Fatal::SliceCtrl { .. })
        ));
        let mut b = enabled_in(s);
        forged(&mut b);
        assert!(matches!(
            b.with(|t, ctx, _| slice::slice_yield(t, ctx)),
            Err(Fatal::SliceCtrl { .. })
        ));
        let mut b = enabled_in(s);
        forged(&mut b);
        assert!(matches!(
            b.with(|t, ctx, _| slice::syscall_entry(t, ctx)),
            Err(Fatal::SliceCtrl { .. })
        ));
        let text = format!(
            "{}",
            Fatal::SliceCtrl {
                why: "granted set without a grant",
                found: 0x101
            }
        );
        assert!(text.starts_with("rseq: inconsistent slice_ctrl"), "{text}");
    }
}

#[test]
fn disabled_threads_and_v1_never_grant() {
    for s in AS_V2 {
        let mut b = Bench::registered(s);
        b.mem.poke32(AREA + SLICE_CTRL, REQUEST);
        assert_eq!(grant(&mut b, true, false), Ok(Grant::Schedule));
    }
    for s in AS_V1 {
        let mut b = Bench::registered(s);
        b.mem.poke32(AREA + SLICE_CTRL, REQUEST);
        assert_eq!(grant(&mut b, true, false), Ok(Grant::Schedule));
        assert_eq!(
            b.mem.peek32(AREA + SLICE_CTRL),
            REQUEST,
            "v1 never touches offset 28"
        );
        // Whatever a v1 registration keeps at offset 28 (TCMalloc's data
        // in place of `granted`): neither a syscall nor rseq_slice_yield
        // looks at it.
        b.mem.poke32(AREA + SLICE_CTRL, GRANTED | REQUEST);
        b.reset_counters();
        assert_eq!(b.with(|t, ctx, _| slice::syscall_entry(t, ctx)), Ok(false));
        assert_eq!(b.with(|t, ctx, _| slice::slice_yield(t, ctx)), Ok(0));
        assert_eq!(b.mem.accesses(), 0, "{s:?}");
    }
}

/// SET on a v1 registration: ENOTSUPP, in a v1 image before anything else
/// (the extension is not there: GET and unknown commands too, after
/// sys_prctl's arg4/arg5 EINVAL), in a `linux` image after ENXIO, as
/// Linux's `rseq_v2()` check comes after the registration check; GET there
/// reports it disabled.
#[test]
fn prctl_refuses_v1_registrations() {
    for s in AS_V1 {
        let mut b = Bench::registered(s);
        assert_eq!(
            prctl(&mut b, [2, 1, 0, 0], true),
            Err(PrctlError::Errno(ENOTSUPP)),
            "{s:?}"
        );
        let get = prctl(&mut b, [1, 0, 0, 0], true);
        if !s.mode.has_slice_extension() {
            assert_eq!(get, Err(PrctlError::Errno(ENOTSUPP)), "GET: no extension");
            assert_eq!(
                prctl(&mut b, [3, 0, 0, 0], true),
                Err(PrctlError::Errno(ENOTSUPP))
            );
        } else {
            assert_eq!(get, Ok(0), "GET: disabled");
        }
        assert_eq!(
            prctl(&mut b, [1, 0, 1, 0], true),
            Err(PrctlError::Errno(EINVAL)),
            "{s:?}: arg4 first"
        );
        assert_eq!(b.mem.accesses(), 0, "{s:?}: the area is not read");
        assert!(!b.t.slice_enabled);
    }
    let mut none = Bench::new(V1);
    assert_eq!(
        prctl(&mut none, [2, 1, 0, 0], true),
        Err(PrctlError::Errno(ENOTSUPP))
    );
    let mut none = Bench::new(LINUX_V1);
    assert_eq!(
        prctl(&mut none, [2, 1, 0, 0], true),
        Err(PrctlError::Errno(ENXIO))
    );
    assert_eq!(
        prctl(&mut none, [2, 1, 0, 0], false),
        Err(PrctlError::Errno(ENOTSUPP)),
        "not available comes first"
    );
}

#[test]
fn sched_out_ends_the_grant() {
    for s in AS_V2 {
        let mut b = enabled_in(s);
        b.mem.poke32(AREA + SLICE_CTRL, REQUEST);
        assert_eq!(grant(&mut b, true, false), Ok(Grant::Granted));
        slice::sched_out(&mut b.t);
        assert!(!b.t.slice_granted);
    }
}

fn prctl(b: &mut Bench, a: [u64; 4], available: bool) -> Result<i64, PrctlError> {
    b.with(|t, ctx, _| slice::prctl(t, ctx, a, available))
}

#[test]
fn prctl_get_set_and_errnos() {
    for s in AS_V2 {
        let mut b = Bench::registered(s);
        let flags = |b: &Bench| b.mem.peek32(AREA + FLAGS);
        assert_eq!(
            flags(&b) & RSEQ_CS_FLAG_SLICE_EXT_AVAILABLE,
            RSEQ_CS_FLAG_SLICE_EXT_AVAILABLE
        );
        assert_eq!(prctl(&mut b, [1, 0, 0, 0], true), Ok(0));
        assert_eq!(prctl(&mut b, [2, 1, 0, 0], true), Ok(0));
        assert_eq!(
            flags(&b) & RSEQ_CS_FLAG_SLICE_EXT_ENABLED,
            RSEQ_CS_FLAG_SLICE_EXT_ENABLED
        );
        assert_eq!(prctl(&mut b, [1, 0, 0, 0], true), Ok(1));
        assert_eq!(prctl(&mut b, [2, 1, 0, 0], true), Ok(0), "no change");
        assert_eq!(prctl(&mut b, [2, 0, 0, 0], true), Ok(0));
        assert_eq!(flags(&b) & RSEQ_CS_FLAG_SLICE_EXT_ENABLED, 0);
        for bad in [
            [3, 0, 0, 0],
            [2, 2, 0, 0],
            [1, 1, 0, 0],
            [1, 0, 1, 0],
            [2, 1, 0, 1],
        ] {
            assert_eq!(
                prctl(&mut b, bad, true),
                Err(PrctlError::Errno(EINVAL)),
                "{bad:?}"
            );
        }
        assert_eq!(
            prctl(&mut b, [2, 1, 0, 0], false),
            Err(PrctlError::Errno(ENOTSUPP))
        );
        let mut none = Bench::new(s);
        assert_eq!(
            prctl(&mut none, [2, 1, 0, 0], true),
            Err(PrctlError::Errno(ENXIO))
        );
        // A task that cleared the read-only AVAILABLE bit is killed on SET.
        b.mem.poke32(AREA + FLAGS, 0);
        assert!(matches!(
            prctl(&mut b, [2, 1, 0, 0], true),
            Err(PrctlError::Fatal(_))
        ));
    }
}
