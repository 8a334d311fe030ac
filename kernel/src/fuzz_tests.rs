//! Host fuzzing (proptest) of the pure code that reads untrusted input:
//! the command line (firmware/QEMU), ELF images (the app), the DTB
//! (firmware), the initial stack builder and clone flags. The property is
//! always the same: any input gives a value or a clean error, never a panic,
//! and accepted results keep their invariants. (`cargo test -p kernel`
//! runs them; PROPTEST_CASES raises the case count.)

use crate::boot::fdt;
use crate::loader::{elf, user_stack};
use crate::process::clone_flags;
use abi::cmdline;
use proptest::prelude::*;

const USER: core::ops::Range<u64> = 0x40_0000..0x1_0000_0000;

/// A small valid ELF (one RX segment) to mutate.
fn valid_elf() -> Vec<u8> {
    let mut e = vec![0u8; 0x2000];
    e[..4].copy_from_slice(b"\x7fELF");
    e[4] = 2; // ELFCLASS64
    e[5] = 1; // little endian
    e[6] = 1;
    e[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    e[18..20].copy_from_slice(&183u16.to_le_bytes()); // EM_AARCH64
    e[20..24].copy_from_slice(&1u32.to_le_bytes());
    e[24..32].copy_from_slice(&0x40_1000u64.to_le_bytes()); // entry
    e[32..40].copy_from_slice(&64u64.to_le_bytes()); // phoff
    e[52..54].copy_from_slice(&64u16.to_le_bytes());
    e[54..56].copy_from_slice(&56u16.to_le_bytes());
    e[56..58].copy_from_slice(&1u16.to_le_bytes());
    let ph = 64;
    e[ph..ph + 4].copy_from_slice(&1u32.to_le_bytes()); // PT_LOAD
    e[ph + 4..ph + 8].copy_from_slice(&5u32.to_le_bytes()); // R X
    e[ph + 8..ph + 16].copy_from_slice(&0x1000u64.to_le_bytes()); // offset
    e[ph + 16..ph + 24].copy_from_slice(&0x40_1000u64.to_le_bytes()); // vaddr
    e[ph + 32..ph + 40].copy_from_slice(&0x1000u64.to_le_bytes()); // filesz
    e[ph + 40..ph + 48].copy_from_slice(&0x1000u64.to_le_bytes()); // memsz
    e[ph + 48..ph + 56].copy_from_slice(&0x1000u64.to_le_bytes()); // align
    e
}

proptest! {
    #[test]
    fn the_valid_elf_is_valid(_x in 0..1u8) {
        prop_assert!(elf::parse(&valid_elf(), USER, USER.start).is_ok());
    }

    #[test]
    fn cmdline_never_panics(s in "\\PC{0,200}") {
        let _ = cmdline::parse(&s);
    }

    #[test]
    fn cmdline_accepts_every_valid_combination(
        hz in 10u32..=1000, loglevel in 0u8..=8, us in 5u32..=50, debug in any::<bool>(),
        args in "[a-z0-9 ]{0,40}",
    ) {
        let line = format!("hz={hz} loglevel={loglevel} rseq_slice_us={us} rseq_debug={} -- {args}", debug as u8);
        let c = cmdline::parse(&line).unwrap();
        prop_assert_eq!((c.hz, c.loglevel, c.rseq_slice_us, c.rseq_debug), (hz, loglevel, us, debug));
        prop_assert_eq!(c.app_args, args.trim());
    }

    #[test]
    fn elf_never_panics_on_random_bytes(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = elf::parse(&data, USER, USER.start);
    }

    #[test]
    fn elf_mutations_are_rejected_or_stay_inside_the_window(
        flips in proptest::collection::vec((0usize..0x200, any::<u8>()), 1..8),
    ) {
        let mut e = valid_elf();
        for (at, v) in flips {
            e[at] = v;
        }
        if let Ok(image) = elf::parse(&e, USER, USER.start + 0x10_0000) {
            for seg in image.load_segments() {
                prop_assert!(seg.vaddr >= USER.start && seg.vaddr + seg.memsz <= USER.end);
                prop_assert!(!(seg.perm.write && seg.perm.exec), "W^X");
                prop_assert!(seg.filesz <= seg.memsz);
                let _ = image.segment_bytes(&seg);
            }
        }
    }

    #[test]
    fn dtb_never_panics(data in proptest::collection::vec(any::<u8>(), 0..1024)) {
        if let Ok(f) = fdt::Fdt::new(&data) {
            let _ = (f.memory(), f.cpu_count(), f.bootargs(), f.initrd(), f.find_node("/psci"));
            let _ = f.find_compatible(&["arm,gic-400"]).map(|n| n.reg().count());
        }
        let _ = fdt::Fdt::header_total_size(&data);
    }

    #[test]
    fn initial_stack_fits_or_errors(
        argv in proptest::collection::vec("[a-z]{0,20}", 0..8),
        size in 0usize..2048,
    ) {
        let mut stack = vec![0u8; size];
        let top = 0x40_4000_0000u64;
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        if let Ok(sp) = user_stack::build_initial_stack(&mut stack, top, &argv, &[], &[(6, 4096)], &[7; 16], Some("aarch64")) {
            prop_assert!(sp % 16 == 0 && sp < top && sp >= top - size as u64);
        }
    }

    #[test]
    fn clone_flags_accept_only_thread_sets(flags in any::<u64>()) {
        let ok = clone_flags::check_clone_flags(flags).is_ok();
        let required = abi::clone::CLONE_VM | abi::clone::CLONE_SIGHAND | abi::clone::CLONE_THREAD;
        prop_assert!(!ok || flags & required == required);
    }
}
