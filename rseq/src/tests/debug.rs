//! Debug mode (`rseq_debug=1`): every descriptor check, and the syscall
//! check.

use super::fake::*;
use crate::Fatal;
use crate::uapi::{RSEQ_CS_FLAG_NO_RESTART_ON_PREEMPT, RSEQ_SIG};

/// After an interrupt at `pc`, with the descriptor `(start, len, abort)`
/// (signature at `abort - 4` when it is in the fake memory), in debug
/// mode: the fast path's verdict.
fn debug_fast(
    mode: Setup,
    start: u64,
    len: u64,
    abort: u64,
    pc: u64,
    tweak: impl FnOnce(&mut Bench),
) -> (Bench, bool) {
    let mut b = Bench::registered_debug(mode);
    if (BASE + 4..BASE + SIZE).contains(&abort) {
        b.mem.poke32(abort - 4, RSEQ_SIG);
    }
    b.set_cs(start, len, abort);
    tweak(&mut b);
    b.pc = pc;
    b.irq();
    assert!(b.switch_in(1, 3));
    let ok = b.fast();
    (b, ok)
}

fn debug_fatal(start: u64, len: u64, abort: u64, pc: u64, tweak: impl Fn(&mut Bench)) -> Fatal {
    let mut seen = None;
    for mode in ALL {
        let (b, ok) = debug_fast(mode, start, len, abort, pc, &tweak);
        assert!(!ok && b.t.event.fatal, "{mode:?}");
        assert_eq!(b.pc, pc, "{mode:?}: no jump");
        assert_eq!(b.rseq_cs(), CS, "{mode:?}: not cleared");
        let f = b.t.last_fatal.unwrap();
        assert!(seen.is_none_or(|s| s == f));
        seen = Some(f);
    }
    seen.unwrap()
}

#[test]
fn valid_section_aborts() {
    for mode in ALL {
        let (b, ok) = debug_fast(mode, START, LEN, ABORT, START + 4, |_| {});
        assert!(ok);
        assert_eq!(b.pc, ABORT);
        assert_eq!((b.stats.cs, b.stats.fixup), (1, 1));
    }
}

#[test]
fn start_ip_not_user() {
    let f = debug_fatal(0x10, 0x20, ABORT, 0x18, |_| {});
    assert_eq!(f, Fatal::DebugCs("start_ip is not a user address"));
    let f = debug_fatal(TASK_SIZE, 0x20, ABORT, TASK_SIZE + 8, |_| {});
    assert_eq!(f, Fatal::DebugCs("start_ip is not a user address"));
}

#[test]
fn end_overflows() {
    let f = debug_fatal(START, u64::MAX - START + 0x10, ABORT, START + 8, |_| {});
    assert_eq!(f, Fatal::DebugCs("start_ip + post_commit_offset overflows"));
    // Without debug mode Linux does not look: the unsigned compare puts the
    // IP inside and the abort happens.
    for s in AS_V2 {
        let mut b = Bench::registered(s);
        b.good_cs();
        b.set_cs(START, u64::MAX - START + 0x10, ABORT);
        b.pc = START + 8;
        b.irq();
        b.switch_in(1, 3);
        assert!(b.fast());
        assert_eq!(b.pc, ABORT);
    }
}

#[test]
fn end_not_user() {
    let f = debug_fatal(TASK_SIZE - 0x10, 0x10, ABORT, TASK_SIZE - 8, |_| {});
    assert_eq!(
        f,
        Fatal::DebugCs("start_ip + post_commit_offset is not a user address")
    );
}

#[test]
fn abort_ip_inside_section() {
    let f = debug_fatal(START, LEN, START + 8, START + 0x10, |_| {});
    assert_eq!(f, Fatal::DebugCs("abort_ip inside the critical section"));
    // Without debug mode only the signature matters.
    for s in AS_V1 {
        let mut b = Bench::registered(s);
        b.mem.poke32(START + 4, RSEQ_SIG);
        b.set_cs(START, LEN, START + 8);
        b.pc = START + 0x10;
        b.switch_in(1, 3);
        assert!(b.fast());
        assert_eq!(b.pc, START + 8);
    }
}

#[test]
fn version_and_flags_must_be_zero() {
    let f = debug_fatal(START, LEN, ABORT, START, |b| b.mem.poke32(CS, 1));
    assert_eq!(f, Fatal::DebugCs("version or flags not zero"));
    let f = debug_fatal(START, LEN, ABORT, START, |b| {
        b.mem.poke32(CS + 4, RSEQ_CS_FLAG_NO_RESTART_ON_PREEMPT)
    });
    assert_eq!(f, Fatal::DebugCs("version or flags not zero"));
}

#[test]
fn abort_ip_and_signature() {
    assert_eq!(
        debug_fatal(START, LEN, 2, START, |_| {}),
        Fatal::BadAbortIp(2)
    );
    assert_eq!(
        debug_fatal(START, LEN, TASK_SIZE, START, |_| {}),
        Fatal::BadAbortIp(TASK_SIZE)
    );
    assert_eq!(
        debug_fatal(START, LEN, ABORT, START, |b| b.mem.poke32(ABORT - 4, 7)),
        Fatal::BadSignature {
            abort_ip: ABORT,
            found: 7
        }
    );
}

#[test]
fn checks_are_lazy_outside_the_section() {
    for mode in ALL {
        // Before the start: the rest of the descriptor is not looked at.
        let (b, ok) = debug_fast(mode, START, LEN, 2, START - 4, |b| b.mem.poke32(CS, 1));
        assert!(ok);
        assert_eq!((b.pc, b.rseq_cs(), b.stats.clear), (START - 4, 0, 1));
        // At the end: neither is abort_ip.
        let (b, ok) = debug_fast(mode, START, LEN, 2, START + LEN, |_| {});
        assert!(ok);
        assert_eq!((b.pc, b.rseq_cs(), b.stats.clear), (START + LEN, 0, 1));
    }
}

#[test]
fn not_interrupted_inside_section_is_a_syscall_in_cs() {
    // v1 checks after every switch; debug v2 after every ID update. The
    // task blocked in a syscall issued from inside the section.
    for (mode, cpu) in [(V1, 1), (V2, 2), (LINUX_V1, 1), (LINUX_V2, 2)] {
        let mut b = Bench::registered_debug(mode);
        b.good_cs();
        b.pc = START + 4;
        assert!(b.switch_in(cpu, 3));
        assert!(!b.fast());
        assert_eq!(b.t.last_fatal, Some(Fatal::SyscallInCs { ip: START + 4 }));
        assert_eq!(b.stats.cs, 1);
    }
    // Debug v2 checks after an ID update even without an interrupt.
    for s in AS_V2 {
        let mut b = Bench::registered_debug(s);
        b.good_cs();
        b.pc = START + LEN;
        assert!(b.switch_in(2, 3));
        assert!(b.fast());
        assert_eq!((b.stats.cs, b.stats.clear, b.rseq_cs()), (1, 1, 0));
    }
}

#[test]
fn debug_syscall() {
    for mode in ALL {
        // Not in debug mode: nothing is looked at.
        let mut b = Bench::registered(mode);
        b.good_cs();
        b.pc = START;
        assert_eq!(b.syscall(), Ok(()));
        assert_eq!(b.mem.accesses(), 0);

        b.debug = true;
        assert_eq!(b.syscall(), Err(Fatal::SyscallInCs { ip: START }));
        assert_eq!(b.t.last_fatal, Some(Fatal::SyscallInCs { ip: START }));
        assert_eq!((b.pc, b.rseq_cs()), (START, CS));

        // Outside the section: cleared.
        b.pc = START + LEN;
        assert_eq!(b.syscall(), Ok(()));
        assert_eq!(b.rseq_cs(), 0);
        assert_eq!((b.stats.clear, b.stats.cs), (1, 0));
        // No section.
        assert_eq!(b.syscall(), Ok(()));

        // Invalid descriptor, bad rseq_cs, unreachable area.
        b.good_cs();
        b.mem.poke32(CS, 1);
        b.pc = START;
        assert_eq!(
            b.syscall(),
            Err(Fatal::DebugCs("version or flags not zero"))
        );
        b.mem.poke64(AREA + RSEQ_CS, u64::MAX - 8);
        assert_eq!(b.syscall(), Err(Fatal::BadCsAddr(u64::MAX - 8)));
        b.mem.fault(AREA + RSEQ_CS, 1);
        assert_eq!(b.syscall(), Err(Fatal::Fault));

        // Unregistered.
        let mut u = Bench::new(mode);
        u.debug = true;
        assert_eq!(u.syscall(), Ok(()));
        assert_eq!(u.mem.accesses(), 0);
    }
}
