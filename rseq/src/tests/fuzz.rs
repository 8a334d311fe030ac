//! Host fuzzing (proptest) of the registration checks and the exit paths
//! with arbitrary user memory contents: only Linux's errnos come back, and
//! nothing panics.

use super::fake::*;
use crate::uapi::RSEQ_SIG;
use proptest::prelude::*;

proptest! {
    #[test]
    fn registration_returns_only_linux_errnos(
        setup in 0..ALL.len(), registered in any::<bool>(),
        ptr in prop_oneof![Just(AREA), Just(0u64), any::<u64>(), (BASE..BASE + SIZE)],
        len in prop_oneof![Just(32u32), Just(64u32), any::<u32>()],
        flags in prop_oneof![Just(0u32), Just(1u32), Just(2u32), any::<u32>()],
        sig in prop_oneof![Just(RSEQ_SIG), any::<u32>()],
    ) {
        let mut b = if registered { Bench::registered(ALL[setup]) } else { Bench::new(ALL[setup]) };
        match b.rseq(ptr, len, flags, sig) {
            Ok(_) => {}
            Err((errno, _)) => prop_assert!([1, 14, 16, 22].contains(&errno), "errno {}", errno),
        }
    }

    #[test]
    fn exit_paths_survive_any_area_contents(
        setup in 0..ALL.len(),
        words in proptest::collection::vec(any::<u64>(), 4),
        irq in any::<bool>(), migrate in any::<bool>(), pc in BASE..BASE + SIZE,
    ) {
        let mut b = Bench::registered(ALL[setup]);
        for (i, w) in words.iter().enumerate() {
            b.mem.poke64(AREA + 8 * i as u64, *w);
        }
        b.pc = pc;
        if irq {
            b.irq();
        }
        if migrate {
            b.cpu = 2;
        }
        let (cpu, cid) = (b.cpu, b.cid);
        let raise = b.with(|t, ctx, _| crate::ids_event(t, cpu, cid, ctx.mode));
        if raise && !b.fast() {
            let _ = b.with(crate::slowpath);
        }
        b.exit();
    }
}
