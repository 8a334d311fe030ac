//! Signal delivery, membarrier IPI, fork, execve, exit to user mode.

use super::fake::*;
use crate::uapi::RSEQ_SIG;
use crate::{Fatal, RseqEvent, RseqStats, TaskRseq};

#[test]
fn v1_signal_always_checks_and_forces_ids() {
    for s in AS_V1 {
        let mut b = Bench::registered(s);
        b.good_cs();
        b.pc = START;
        // No interrupt: the signal came from a syscall (e.g. kill()).
        assert_eq!(b.signal(), Ok(true));
        assert_eq!(b.pc, ABORT);
        assert_eq!((b.stats.signal, b.stats.cs, b.stats.fixup), (1, 1, 1));
        assert!(b.t.event.sched_switch && b.t.event.ids_changed);
        // Then the exit path rewrites the IDs.
        b.mem.poke32(AREA + CPU_ID_START, 0x8000_0000);
        assert!(b.fast());
        assert_eq!(b.ids(), [1, 1, 0, 3]);

        // rseq_cs = 0: nothing to check, IDs still forced.
        let mut b = Bench::registered(s);
        assert_eq!(b.signal(), Ok(true));
        assert_eq!((b.stats.signal, b.stats.cs), (1, 0));
    }
}

#[test]
fn v2_signal_only_after_irq() {
    for s in AS_V2 {
        let mut b = Bench::registered(s);
        b.good_cs();
        b.pc = START;
        assert_eq!(b.signal(), Ok(false));
        assert_eq!((b.pc, b.stats.signal, b.mem.accesses()), (START, 0, 0));

        b.irq();
        assert_eq!(b.signal(), Ok(false), "v2 never forces IDs");
        assert_eq!(b.pc, ABORT);
        assert_eq!((b.stats.signal, b.stats.cs, b.stats.fixup), (1, 1, 1));
        assert!(!b.t.event.ids_changed && !b.t.event.sched_switch);
    }
}

#[test]
fn signal_errors() {
    for mode in ALL {
        let mut b = Bench::registered(mode);
        b.good_cs();
        b.mem.poke32(ABORT - 4, 0);
        b.pc = START;
        b.irq();
        assert_eq!(
            b.signal(),
            Err(Fatal::BadSignature {
                abort_ip: ABORT,
                found: 0
            })
        );
        assert_eq!(b.pc, START);

        let mut b = Bench::registered(mode);
        b.irq();
        b.mem.fault(AREA + RSEQ_CS, u32::MAX);
        assert_eq!(b.signal(), Err(Fatal::Fault));

        let mut u = Bench::new(mode);
        u.irq();
        assert_eq!(u.signal(), Ok(false), "unregistered");
        assert_eq!(u.stats.signal, 0);
    }
}

#[test]
fn membarrier_v1_forces_ids() {
    for s in AS_V1 {
        let mut b = Bench::registered(s);
        assert!(crate::membarrier_ipi(&mut b.t, 1, 3, b.mode));
        assert!(b.t.event.ids_changed && b.t.event.sched_switch);
        b.mem.poke32(AREA + CPU_ID_START, 0x8000_0000);
        assert!(b.fast());
        assert_eq!(b.stats.ids, 1);
        assert_eq!(b.ids(), [1, 1, 0, 3]);
    }
}

#[test]
fn membarrier_v2_does_not_force_ids() {
    for s in AS_V2 {
        let mut b = Bench::registered(s);
        // The IPI did not interrupt user mode and nothing changed: no work.
        assert!(!crate::membarrier_ipi(&mut b.t, 1, 3, b.mode));
        // It interrupted user mode: the section is checked, IDs are not written.
        b.good_cs();
        b.pc = START;
        b.irq();
        assert!(crate::membarrier_ipi(&mut b.t, 1, 3, b.mode));
        assert!(!b.t.event.ids_changed);
        assert!(b.fast());
        assert_eq!((b.stats.ids, b.stats.fixup), (0, 1));
        assert_eq!(b.pc, ABORT);
        // IDs that did change are written.
        assert!(crate::membarrier_ipi(&mut b.t, 1, 9, b.mode));
        assert!(b.t.event.ids_changed);
    }
}

#[test]
fn events_need_a_registration() {
    for mode in ALL {
        let mut t = TaskRseq::default();
        crate::note_user_irq_entry(&mut t);
        crate::sched_set_ids_changed(&mut t);
        assert!(!crate::sched_switch_event(&mut t, mode.mode));
        assert!(!crate::ids_event(&mut t, 1, 1, mode.mode));
        assert!(!crate::membarrier_ipi(&mut t, 1, 1, mode.mode));
        assert!(!t.event.sched_switch);
    }
}

#[test]
fn fork_and_execve() {
    for mode in ALL {
        let b = Bench::registered(mode);
        let mut child = TaskRseq::default();
        child.event.user_irq = true;
        crate::fork(&mut child, &b.t, true);
        assert!(!child.registered());
        assert_eq!(child.event, RseqEvent::default());
        assert_eq!(child.ids, None);
        assert!(!crate::ids_event(&mut child, 0, 0, mode.mode));

        crate::fork(&mut child, &b.t, false);
        assert!(child.registered());
        assert_eq!(
            (child.usrptr, child.len, child.sig),
            (AREA, mode.len(), RSEQ_SIG)
        );
        assert_eq!(child.ids, b.t.ids);

        crate::execve(&mut child);
        assert!(!child.registered());
    }
}

#[test]
fn exit_to_user_mode_clears_events() {
    for s in AS_V2 {
        let mut b = Bench::registered(s);
        b.irq();
        b.switch_in(4, 4);
        crate::exit_to_user_mode(&mut b.t, &mut b.stats);
        assert_eq!(b.t.event, RseqEvent::default());
        assert_eq!(b.t.has_rseq, 2);
        assert_eq!(
            b.stats,
            RseqStats {
                exit: 1,
                ..RseqStats::default()
            }
        );
        // Counted without registration too (Linux counts every exit).
        let mut t = TaskRseq::default();
        crate::exit_to_user_mode(&mut t, &mut b.stats);
        assert_eq!(b.stats.exit, 2);
    }
}

#[test]
fn v2_switch_event_raises_only_for_reported_ids_or_irq() {
    for s in AS_V2 {
        let mut b = Bench::registered(s);
        assert!(!crate::sched_switch_event(&mut b.t, b.mode), "nothing new");
        assert_eq!(b.t.event, RseqEvent::default());

        crate::sched_set_ids_changed(&mut b.t);
        assert!(crate::sched_switch_event(&mut b.t, b.mode));
        assert!(b.t.event.sched_switch && b.t.event.ids_changed && !b.t.event.user_irq);
        // A second switch before the exit keeps the report.
        assert!(crate::sched_switch_event(&mut b.t, b.mode));
        assert!(b.t.event.ids_changed);
        b.exit();
        assert_eq!(b.t.event, RseqEvent::default());

        b.irq();
        assert!(crate::sched_switch_event(&mut b.t, b.mode));
        assert!(b.t.event.sched_switch && !b.t.event.ids_changed);
    }
}

#[test]
fn v1_switch_event_always_forces_ids() {
    for s in AS_V1 {
        let mut b = Bench::registered(s);
        assert!(crate::sched_switch_event(&mut b.t, b.mode));
        assert!(b.t.event.sched_switch && b.t.event.ids_changed);
    }
}
