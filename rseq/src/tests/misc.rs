//! Mode, statistics layout, kill report lines.

use crate::{Fatal, MODE, Mode, RseqStats, Version};
use std::format;

#[test]
fn mode_numbers() {
    assert_eq!((Version::V1 as u8, Version::V2 as u8), (1, 2));
    assert_eq!((Version::V1.len(), Version::V2.len()), (32, 64));
    assert_eq!(
        [Mode::V1, Mode::V2, Mode::Linux].map(|m| (m.name(), m.number())),
        [("v1", 1), ("v2", 2), ("linux", 3)]
    );
    // Tests compile every mode: every mode runs as asked.
    assert_eq!(
        [Mode::V1, Mode::V2, Mode::Linux].map(Mode::built),
        [Mode::V1, Mode::V2, Mode::Linux]
    );
    // A host build (no feature, or several) compiles every mode's code;
    // which mode a kernel image runs is checked where it shows: each
    // image's `[boot] ... rseq=` line in the QEMU scenarios, and
    // virt/rseq-mode-symbols for the code each holds.
    assert_eq!(MODE, Mode::V2);
}

#[test]
fn stats_layout() {
    assert_eq!(core::mem::size_of::<RseqStats>(), 13 * 8);
    let s = RseqStats {
        exit: 1,
        signal: 2,
        slowpath: 3,
        fastpath: 4,
        ids: 5,
        cs: 6,
        clear: 7,
        fixup: 8,
        s_granted: 9,
        s_expired: 10,
        s_revoked: 11,
        s_yielded: 12,
        s_aborted: 13,
    };
    assert_eq!(s.as_array(), core::array::from_fn(|i| i as u64 + 1));
    assert_eq!(RseqStats::NAMES[0], "exit");
    assert_eq!(RseqStats::NAMES[7], "fixup");
    assert_eq!(RseqStats::NAMES[12], "s_aborted");
}

#[test]
fn kill_report_lines() {
    assert_eq!(
        format!(
            "{}",
            Fatal::ReadOnlyOverwritten {
                field: "cpu_id_start",
                found: 0x8000_0000,
                expected: 1
            }
        ),
        "rseq: read-only field cpu_id_start overwritten (found 0x80000000, kernel wrote 0x1)"
    );
    assert_eq!(
        format!(
            "{}",
            Fatal::BadSignature {
                abort_ip: 0x4000,
                found: 0
            }
        ),
        "rseq: bad signature before abort_ip 0x4000 (found 0x00000000)"
    );
    for f in [
        Fatal::Fault,
        Fatal::BadAbortIp(2),
        Fatal::BadCsAddr(1 << 60),
        Fatal::DebugCs("abort_ip inside the critical section"),
        Fatal::SyscallInCs { ip: 0x1234 },
    ] {
        let s = format!("{f}");
        assert!(s.starts_with("rseq") && !s.contains('\n'), "{s}");
    }
}
