//! Property test over random critical section descriptors and IPs, with a
//! deterministic xorshift: whatever the descriptor, the task is never sent
//! to an `abort_ip` without the signature before it, and its IP changes
//! only when it was inside the section.

use super::fake::*;
use crate::uapi::RSEQ_SIG;
use crate::{Fatal, Version};

/// Marsaglia's xorshift64.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }
}

/// `ip` is in the section `[start, start + len)`, computed without
/// wrapping in 128 bits; a section running past 2^64 continues at 0, which
/// is what Linux's unsigned `ip - start_ip < post_commit_offset` means.
fn inside(start: u64, len: u64, ip: u64) -> bool {
    let (s, e, ip) = (
        u128::from(start),
        u128::from(start) + u128::from(len),
        u128::from(ip),
    );
    (s <= ip && ip < e) || (e > 1 << 64 && ip + (1 << 64) < e)
}

#[test]
fn random_sections_never_misdirect() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut counts = [0u32; 4]; // aborted, cleared, fatal, fault
    for _ in 0..50_000 {
        let mode = ALL[rng.below(ALL.len() as u64) as usize];
        let mut b = Bench::registered(mode);
        b.debug = rng.one_in(3);
        let code = BASE + 0x400;

        let start = if rng.one_in(8) {
            rng.next()
        } else {
            code + rng.below(0x200)
        };
        let len = match rng.below(8) {
            0 => rng.next(),
            1 => 0,
            _ => rng.below(0x100),
        };
        let abort = match rng.below(8) {
            0 => rng.next(),
            1 => rng.below(8),
            _ => code + rng.below(0xb00),
        };
        // The word before abort_ip: the signature, mostly.
        if (BASE + 4..BASE + SIZE - 4).contains(&abort) && !rng.one_in(4) {
            b.mem.poke32(abort - 4, RSEQ_SIG);
        }
        b.set_cs(start, len, abort);
        if b.debug && rng.one_in(8) {
            b.mem.poke32(CS + 4 * rng.below(2), 1);
        }
        let ip = if rng.one_in(8) {
            rng.next()
        } else {
            start.wrapping_add(rng.below(0x140)).wrapping_sub(0x40)
        };
        if rng.one_in(16) {
            b.mem.fault(CS + 8 * rng.below(4), 1);
        }
        b.pc = ip;

        // Either path that checks a section: the signal hook, or the exit
        // after an interrupt and a switch.
        let irq = !b.debug || !rng.one_in(4);
        if irq {
            b.irq();
        }
        let result = if rng.one_in(2) && (irq || mode.version == Version::V1) {
            b.signal().map(|_| ())
        } else {
            b.switch_in(1 + rng.below(2) as u32, 3);
            if b.fast() {
                Ok(())
            } else if b.t.event.fatal {
                Err(b.t.last_fatal.unwrap())
            } else {
                Err(Fatal::Fault)
            }
        };

        if b.pc != ip {
            // Redirected: only to the descriptor's abort_ip, only with the
            // signature before it, only from inside the section.
            assert_eq!(b.pc, abort);
            assert!(abort >= 4);
            assert_eq!(b.mem.peek32(abort - 4), RSEQ_SIG, "abort {abort:#x}");
            assert!(inside(start, len, ip), "{start:#x}+{len:#x} ip {ip:#x}");
            assert!(result.is_ok());
            assert_eq!(b.rseq_cs(), 0);
            if b.debug {
                // Debug mode also guarantees a sane, non-wrapping section
                // that does not contain its abort_ip.
                assert!(start <= ip && ip - start < len);
                assert!(start.checked_add(len).is_some());
                assert!(!(start <= abort && abort - start < len));
                assert!(irq);
            }
            counts[0] += 1;
        } else {
            match result {
                Ok(()) if b.rseq_cs() == CS => {
                    // Not evaluated: v2 after neither an interrupt nor an
                    // ID change.
                    assert!(mode.version == Version::V2 && !irq);
                }
                Ok(()) => {
                    // Evaluated and cleared: the IP was outside (debug mode
                    // clears an IP below start_ip before it looks at the
                    // end, so a wrapping section is cleared there).
                    assert_eq!(b.rseq_cs(), 0);
                    assert!(
                        !inside(start, len, ip) || b.debug && ip < start,
                        "{start:#x}+{len:#x} ip {ip:#x}"
                    );
                    counts[1] += 1;
                }
                Err(Fatal::Fault) => counts[3] += 1,
                Err(_) => {
                    assert_eq!(b.rseq_cs(), CS, "a fatal verdict clears nothing");
                    counts[2] += 1;
                }
            }
        }
    }
    // Every outcome was exercised.
    assert!(counts.iter().all(|&c| c > 500), "{counts:?}");
}
