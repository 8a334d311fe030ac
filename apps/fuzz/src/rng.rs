//! Deterministic random streams: xorshift64* (Vigna), one stream per
//! thread, seeded from `(seed, stream)` through splitmix64 so neighbouring
//! streams are unrelated.

/// One of the listed values, chosen by `$rng` (all of them are evaluated
/// first, so they may draw from `$rng` too).
macro_rules! pick {
    ($rng:expr, [$($x:expr),* $(,)?]) => {{
        let xs = [$($x),*];
        $rng.pick(&xs)
    }};
}

/// A xorshift64* generator.
pub struct Rng(u64);

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Rng {
    /// The stream `stream` of `seed` (never the all-zero state).
    pub fn new(seed: u64, stream: u64) -> Rng {
        let z = splitmix64(splitmix64(seed) ^ splitmix64(stream.wrapping_add(0x5eed)));
        Rng(if z == 0 { 0x2545_f491_4f6c_dd1d } else { z })
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True once in `n` times on average.
    pub fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }

    pub fn coin(&mut self) -> bool {
        self.next_u64() >> 63 != 0
    }

    /// One element of `xs` (non-empty).
    pub fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }

    /// An index into `weights`, chosen with probability proportional to
    /// its weight.
    pub fn weighted(&mut self, weights: impl Iterator<Item = u32> + Clone) -> usize {
        let total: u64 = weights.clone().map(u64::from).sum();
        let mut x = self.below(total);
        for (i, w) in weights.enumerate() {
            if x < u64::from(w) {
                return i;
            }
            x -= u64::from(w);
        }
        0
    }
}
