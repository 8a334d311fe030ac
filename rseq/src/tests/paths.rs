//! The fast path (TIF_RSEQ), the critical section check, the slow path.

use super::fake::*;
use crate::uapi::RSEQ_SIG;
use crate::{Fatal, Ids, RseqEvent};

#[test]
fn nothing_to_do_touches_nothing() {
    for mode in ALL {
        let mut b = Bench::registered(mode);
        b.good_cs();
        b.pc = START;
        b.irq();
        assert!(b.fast());
        assert_eq!(b.mem.accesses(), 0);
        assert_eq!(b.stats, crate::RseqStats::default());
        assert_eq!(b.pc, START);
        assert!(!b.t.event.user_irq, "events cleared");
    }
}

#[test]
fn v1_switch_always_rewrites_ids_and_checks_cs() {
    for s in AS_V1 {
        let mut b = Bench::registered(s);
        b.good_cs();
        // Same CPU, same cid, no interrupt (the task blocked in a syscall).
        assert!(b.switch_in(1, 3));
        assert!(b.fast());
        assert_eq!(
            (b.stats.fastpath, b.stats.ids, b.stats.cs, b.stats.clear),
            (1, 1, 1, 1)
        );
        assert_eq!(b.rseq_cs(), 0, "outside: cleared");
        assert_eq!(b.t.event, RseqEvent::default());
    }
}

#[test]
fn v1_overwritten_cpu_id_start_is_rewritten() {
    for s in AS_V1 {
        // TCMalloc's trick: it stores its own value in cpu_id_start and relies
        // on the kernel overwriting it on every switch.
        let mut b = Bench::registered(s);
        b.mem.poke32(AREA + CPU_ID_START, 0x8000_1234);
        b.mem.poke32(AREA + MM_CID, 77);
        assert!(b.switch_in(1, 3));
        assert!(b.fast());
        assert_eq!(b.ids(), [1, 1, 0, 3]);
        assert!(!b.t.event.fatal);
    }
}

#[test]
fn v1_never_writes_offset_28() {
    for s in AS_V1 {
        let mut b = Bench::new(s);
        assert_eq!(b.rseq(AREA, 32, 0, RSEQ_SIG), Ok(true));
        assert!(b.fast());
        b.good_cs();
        for i in 0..4 {
            b.pc = if i % 2 == 0 { START } else { START + LEN };
            b.irq();
            assert!(b.switch_in(i, i));
            assert!(b.fast());
            b.good_cs();
            assert!(crate::membarrier_ipi(&mut b.t, i, i, b.mode));
            assert!(b.fast());
            b.good_cs();
            b.pc = START;
            assert_eq!(b.signal(), Ok(true));
            b.mem.fault(AREA, 1);
            assert!(!b.fast());
            assert_eq!(b.slow(), Ok(()));
            b.exit();
        }
        assert_eq!(&b.mem.bytes[0x100 + 28..0x100 + 32], &[FILL; 4]);
    }
}

#[test]
fn v2_same_ids_without_irq_does_nothing() {
    for s in AS_V2 {
        let mut b = Bench::registered(s);
        b.good_cs();
        b.pc = START;
        assert!(!b.switch_in(1, 3), "no TIF_RSEQ");
        // Even if TIF_RSEQ was set for another reason, there is nothing to do.
        assert!(b.fast());
        assert_eq!((b.stats.ids, b.stats.cs, b.stats.fastpath), (0, 0, 0));
        assert_eq!(b.mem.accesses(), 0);
        assert_eq!(b.rseq_cs(), CS, "not checked");
        assert_eq!(b.pc, START);
    }
}

#[test]
fn v2_irq_checks_cs_without_writing_ids() {
    for s in AS_V2 {
        let mut b = Bench::registered(s);
        b.good_cs();
        b.mem.poke32(AREA + SLICE_CTRL, 0x0101);
        b.pc = START + 4;
        b.irq();
        assert!(b.switch_in(1, 3));
        assert!(!b.t.event.ids_changed);
        assert!(b.fast());
        assert_eq!((b.stats.ids, b.stats.cs, b.stats.fixup), (0, 1, 1));
        assert_eq!(b.pc, ABORT);
        assert_eq!(b.rseq_cs(), 0);
        assert_eq!(b.field(SLICE_CTRL), 0, "v2 clears slice_ctrl");
    }
}

#[test]
fn v2_migration_writes_ids_but_checks_cs_only_after_irq() {
    for s in AS_V2 {
        let mut b = Bench::registered(s);
        b.good_cs();
        b.pc = START;
        b.mem.poke32(AREA + SLICE_CTRL, 1);
        assert!(b.switch_in(2, 3));
        assert!(b.fast());
        assert_eq!(b.ids(), [2, 2, 0, 3]);
        assert_eq!((b.stats.ids, b.stats.cs), (1, 0));
        assert_eq!(b.field(SLICE_CTRL), 0);
        assert_eq!(b.pc, START, "a syscall cannot be inside a section");
        b.exit();

        b.irq();
        assert!(b.switch_in(2, 5), "cid change");
        assert!(b.fast());
        assert_eq!(b.ids(), [2, 2, 0, 5]);
        assert_eq!(
            b.t.ids,
            Some(Ids {
                cpu_id: 2,
                mm_cid: 5
            })
        );
        assert_eq!((b.stats.ids, b.stats.cs, b.stats.fixup), (2, 1, 1));
        assert_eq!(b.pc, ABORT);
    }
}

#[test]
fn cs_boundaries() {
    for mode in ALL {
        for (pc, inside) in [
            (START - 1, false),
            (START, true),
            (START + LEN - 1, true),
            (START + LEN, false),
            (0, false),
            (u64::MAX, false),
        ] {
            let mut b = Bench::registered(mode);
            b.good_cs();
            b.pc = pc;
            b.irq();
            assert!(b.switch_in(1, 3));
            assert!(b.fast());
            assert_eq!(b.rseq_cs(), 0);
            assert_eq!(b.stats.cs, 1);
            if inside {
                assert_eq!(
                    (b.pc, b.stats.fixup, b.stats.clear),
                    (ABORT, 1, 0),
                    "{mode:?} {pc:#x}"
                );
            } else {
                assert_eq!(
                    (b.pc, b.stats.fixup, b.stats.clear),
                    (pc, 0, 1),
                    "{mode:?} {pc:#x}"
                );
            }
        }
    }
}

/// Runs the fast path after an interrupt with the IP inside the section
/// `[START, START + LEN)` whose descriptor is `(START, LEN, abort)`.
fn fast_with(mode: Setup, abort: u64, prepare: impl FnOnce(&mut Bench)) -> Bench {
    let mut b = Bench::registered(mode);
    b.good_cs();
    b.set_cs(START, LEN, abort);
    prepare(&mut b);
    b.pc = START + 8;
    b.irq();
    assert!(b.switch_in(1, 3));
    assert!(!b.fast());
    assert!(b.t.event.fatal && !b.t.event.slowpath);
    assert_eq!(b.pc, START + 8, "no jump");
    assert_eq!(b.rseq_cs(), CS, "not cleared");
    b
}

#[test]
fn bad_signature_is_fatal() {
    for mode in ALL {
        let b = fast_with(mode, ABORT, |b| b.mem.poke32(ABORT - 4, RSEQ_SIG ^ 0x10));
        let f = Fatal::BadSignature {
            abort_ip: ABORT,
            found: RSEQ_SIG ^ 0x10,
        };
        assert_eq!(b.t.last_fatal, Some(f));
        // A signature registered differently does not match either.
        let mut b = Bench::new(mode);
        assert_eq!(b.rseq(AREA, mode.len(), 0, 0x1234_5678), Ok(true));
        assert!(b.fast());
        b.good_cs();
        b.pc = START;
        b.irq();
        b.switch_in(1, 3);
        assert!(!b.fast());
        assert!(matches!(
            b.t.last_fatal,
            Some(Fatal::BadSignature {
                found: RSEQ_SIG,
                ..
            })
        ));
    }
}

#[test]
fn bad_abort_ip_is_fatal() {
    for mode in ALL {
        for abort in [0, 2, 3, TASK_SIZE, TASK_SIZE + 0x100, u64::MAX, 0x800] {
            let b = fast_with(mode, abort, |_| {});
            assert_eq!(b.t.last_fatal, Some(Fatal::BadAbortIp(abort)), "{abort:#x}");
        }
    }
}

#[test]
fn cs_outside_user_space_is_fatal() {
    for mode in ALL {
        let mut b = Bench::registered(mode);
        b.mem.poke64(AREA + RSEQ_CS, TASK_SIZE);
        b.irq();
        b.switch_in(1, 3);
        assert!(!b.fast());
        assert_eq!(b.t.last_fatal, Some(Fatal::BadCsAddr(TASK_SIZE)));
        assert_eq!(b.slow(), Err(Fatal::BadCsAddr(TASK_SIZE)));
    }
}

#[test]
fn v2_read_only_violation_is_fatal() {
    for s in AS_V2 {
        for (off, field) in [
            (CPU_ID_START, "cpu_id_start"),
            (CPU_ID, "cpu_id"),
            (NODE_ID, "node_id"),
            (MM_CID, "mm_cid"),
        ] {
            let mut b = Bench::registered(s);
            let expected = b.field(off);
            b.mem.poke32(AREA + off, 0xdead);
            // Between updates nothing looks:
            b.irq();
            assert!(b.switch_in(1, 3));
            assert!(b.fast());
            b.exit();
            // ... but the next ID update does.
            assert!(b.switch_in(2, 3));
            assert!(!b.fast());
            let f = Fatal::ReadOnlyOverwritten {
                field,
                found: 0xdead,
                expected,
            };
            assert!(b.t.event.fatal);
            assert_eq!(b.t.last_fatal, Some(f));
            assert_eq!(b.field(off), 0xdead, "nothing rewritten");
            assert_eq!(b.slow(), Err(f));
            assert_eq!(b.stats.slowpath, 1);
        }
    }
}

#[test]
fn v2_read_only_check_right_after_registration() {
    for s in AS_V2 {
        // Registration wrote UNINITIALIZED/0; the first update expects them.
        let mut b = Bench::new(s);
        assert_eq!(b.rseq(AREA, 64, 0, RSEQ_SIG), Ok(true));
        b.mem.poke32(AREA + CPU_ID, 0);
        assert!(!b.fast());
        assert_eq!(
            b.t.last_fatal,
            Some(Fatal::ReadOnlyOverwritten {
                field: "cpu_id",
                found: 0,
                expected: u32::MAX
            })
        );
    }
}

#[test]
fn v1_debug_checks_read_only_fields_as_linux_does() {
    for s in AS_V1 {
        let mut b = Bench::registered_debug(s);
        b.mem.poke32(AREA + CPU_ID_START, 0x8000_0000);
        assert!(b.switch_in(1, 3));
        assert!(!b.fast());
        assert!(matches!(
            b.t.last_fatal,
            Some(Fatal::ReadOnlyOverwritten {
                field: "cpu_id_start",
                ..
            })
        ));
    }
}

#[test]
fn fault_in_fast_path_then_persistent_fault_kills() {
    for mode in ALL {
        let mut b = Bench::registered(mode);
        b.good_cs();
        b.mem.fault(AREA + RSEQ_CS, u32::MAX);
        b.irq();
        assert!(b.switch_in(2, 3));
        assert!(!b.fast());
        assert!(b.t.event.slowpath && !b.t.event.fatal);
        assert!(b.t.event.sched_switch, "work still pending");
        assert_eq!(b.slow(), Err(Fatal::Fault));
        assert_eq!(b.stats.slowpath, 1);
        assert_eq!(b.t.last_fatal, Some(Fatal::Fault));
    }
}

#[test]
fn transient_fault_recovers_in_slow_path() {
    for mode in ALL {
        let mut b = Bench::registered(mode);
        b.good_cs();
        b.pc = START;
        // The first access of the update (v2: the read-only check, v1: the
        // first ID write) faults once.
        b.mem.fault(AREA + CPU_ID_START, 1);
        b.irq();
        assert!(b.switch_in(2, 4));
        assert!(!b.fast());
        assert_eq!(b.ids(), [1, 1, 0, 3], "nothing written yet");
        assert_eq!(b.slow(), Ok(()));
        assert_eq!(b.ids(), [2, 2, 0, 4]);
        let ids = Ids {
            cpu_id: 2,
            mm_cid: 4,
        };
        assert_eq!(b.t.ids, b.kept_ids(mode, ids));
        assert_eq!(b.pc, ABORT, "the section was checked");
        assert_eq!((b.stats.slowpath, b.stats.ids, b.stats.fixup), (1, 1, 1));
        assert_eq!(
            b.t.event,
            RseqEvent {
                user_irq: true,
                ..RseqEvent::default()
            },
            "user_irq kept, as Linux does"
        );
        // The entry loop then runs the fast path again: nothing to do.
        b.reset_counters();
        assert!(b.fast());
        assert_eq!(b.mem.accesses(), 0);
    }
}

#[test]
fn transient_fault_after_ids_written() {
    for mode in ALL {
        let mut b = Bench::registered(mode);
        b.mem.fault(AREA + RSEQ_CS, 1);
        assert!(b.switch_in(2, 3));
        assert!(!b.fast());
        assert_eq!(b.slow(), Ok(()));
        assert_eq!(b.ids(), [2, 2, 0, 3]);
    }
}

#[test]
fn slow_path_runs_only_when_asked() {
    for mode in ALL {
        let mut b = Bench::registered(mode);
        assert!(b.switch_in(2, 3));
        assert_eq!(b.slow(), Ok(()));
        assert_eq!((b.stats.slowpath, b.mem.accesses()), (0, 0));
        let mut u = Bench::new(mode);
        u.t.event.slowpath = true;
        assert_eq!(u.slow(), Ok(()), "unregistered");
        assert_eq!(u.mem.accesses(), 0);
    }
}

#[test]
fn fault_reading_the_descriptor() {
    for mode in ALL {
        let mut b = Bench::registered(mode);
        b.good_cs();
        b.pc = START;
        b.mem.fault(CS + 16, 1);
        b.irq();
        b.switch_in(1, 3);
        assert!(!b.fast());
        assert!(b.t.event.slowpath);
        assert_eq!(b.pc, START);
        assert_eq!(b.slow(), Ok(()));
        assert_eq!(b.pc, ABORT);
    }
}
