//! getrandom(2) from a kernel PRNG. Not cryptographic: splitmix64 over a
//! shared 64-bit state, each 256-byte fill offset by the system counter. Enough
//! for what a static glibc asks at startup (malloc's and the stack
//! protector's canaries, hash seeds), not for keys.

use super::error::Errno;
use super::user::UserPtr;
use abi::errno::EINVAL;
use abi::random::{GRND_INSECURE, GRND_NONBLOCK, GRND_RANDOM};
use core::sync::atomic::{AtomicU64, Ordering};

/// Linux caps one read at MAX_RW_COUNT; so do we, as `write` does.
const MAX_READ: usize = 1 << 20;

/// The generator's state (splitmix64's counter).
static STATE: AtomicU64 = AtomicU64::new(0);

const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// splitmix64's output function.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Fills `buf` (at most 256 bytes): reserves its words of the shared
/// sequence at once, offset by the counter read once per fill.
fn fill(buf: &mut [u8]) {
    let words = buf.len().div_ceil(8) as u64;
    let mut s = STATE.fetch_add(GAMMA.wrapping_mul(words), Ordering::Relaxed)
        ^ arch::timer::counter().rotate_left(29);
    for word in buf.chunks_mut(8) {
        s = s.wrapping_add(GAMMA);
        word.copy_from_slice(&mix(s).to_le_bytes()[..word.len()]);
    }
}

/// getrandom(buf, count, flags): Linux's flag checks (unknown bits, or
/// GRND_INSECURE with GRND_RANDOM, `-EINVAL`); the pool is always ready,
/// so nothing blocks. A fault after some bytes is a short count, a fault
/// before any `-EFAULT`, as in Linux.
pub fn sys_getrandom(buf: UserPtr<u8>, count: usize, flags: u32) -> Result<usize, Errno> {
    if flags & !(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE) != 0
        || flags & (GRND_INSECURE | GRND_RANDOM) == GRND_INSECURE | GRND_RANDOM
    {
        return Err(Errno(EINVAL));
    }
    let count = count.min(MAX_READ);
    if !buf.range_ok(count) {
        return Err(Errno(abi::errno::EFAULT));
    }
    let mut chunk = [0u8; 256];
    let mut done = 0;
    while done < count {
        let n = (count - done).min(chunk.len());
        fill(&mut chunk[..n]);
        if let Err(e) = buf.write_bytes(done as u64, &chunk[..n]) {
            return if done > 0 { Ok(done) } else { Err(e) };
        }
        done += n;
    }
    Ok(done)
}
