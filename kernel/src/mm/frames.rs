//! The physical frame allocator: one bit per 4 KiB frame of RAM.
//!
//! The bitmap lives in kernel memory carved out at boot (see [`carve`]),
//! never in the frames it manages. An allocator that keeps its metadata
//! inside free frames (an intrusive free list) hands a hostile app the
//! kernel's pointers the moment any CPU still maps a freed frame; here a
//! stale user mapping can only ever see user data or zeroes.
//!
//! Pure logic over a borrowed bitmap, so it is unit-tested on the host.

/// Bytes per frame.
pub const FRAME: u64 = 4096;

/// A bitmap over the frames `[base, base + frames × 4 KiB)`: a set bit is
/// a frame in use (or never RAM: the kernel image, the heap, firmware
/// reservations), a clear bit a free one.
pub struct FrameMap<'a> {
    bits: &'a mut [u64],
    base: u64,
    frames: u64,
    /// Frames the allocator hands out at run time (released at boot).
    total: u64,
    free: u64,
    /// Where the next single-frame search starts (a word index): allocation
    /// is next-fit, so it does not rescan the full words at the bottom.
    hint: usize,
}

impl<'a> FrameMap<'a> {
    /// Bitmap words needed for `frames` frames.
    pub const fn words_for(frames: u64) -> usize {
        frames.div_ceil(64) as usize
    }

    /// A map of `frames` frames from `base` (4 KiB aligned), all in use
    /// until [`FrameMap::release`] frees some. `bits` must hold
    /// [`FrameMap::words_for`]`(frames)` words.
    pub fn new(bits: &'a mut [u64], base: u64, frames: u64) -> Self {
        assert!(bits.len() >= Self::words_for(frames) && base.is_multiple_of(FRAME));
        bits.fill(u64::MAX);
        FrameMap {
            bits,
            base,
            frames,
            total: 0,
            free: 0,
            hint: 0,
        }
    }

    /// At boot: makes the frames wholly inside `[start, end)` available.
    /// Frames already free are not counted twice.
    pub fn release(&mut self, start: u64, end: u64) {
        for f in self.frame_range(start.next_multiple_of(FRAME), end & !(FRAME - 1)) {
            if self.test(f) {
                self.clear(f);
                self.total += 1;
                self.free += 1;
            }
        }
    }

    /// At boot: takes the frames touching `[start, end)` out of the
    /// allocator for good (the heap, the bitmap, the DTB).
    pub fn reserve(&mut self, start: u64, end: u64) {
        for f in self.frame_range(start & !(FRAME - 1), end.next_multiple_of(FRAME)) {
            if !self.test(f) {
                self.set(f);
                self.total -= 1;
                self.free -= 1;
            }
        }
    }

    /// One free frame (its contents are whatever they were: the caller
    /// zeroes), or `None` when RAM is exhausted.
    pub fn alloc(&mut self) -> Option<u64> {
        if self.free == 0 {
            return None;
        }
        let words = self.bits.len();
        for i in 0..words {
            let w = (self.hint + i) % words;
            let word = self.bits[w];
            if word == u64::MAX {
                continue;
            }
            let f = w as u64 * 64 + u64::from((!word).trailing_zeros());
            if f >= self.frames {
                continue;
            }
            self.set(f);
            self.free -= 1;
            self.hint = w;
            return Some(self.base + f * FRAME);
        }
        None
    }

    /// `n` physically contiguous free frames (first fit), for the
    /// kernel stacks and the boot-time image, or `None`.
    pub fn alloc_contig(&mut self, n: u64) -> Option<u64> {
        if n == 0 || n > self.free {
            return None;
        }
        let mut run = 0;
        let mut f = 0;
        while f < self.frames {
            if self.bits[(f / 64) as usize] == u64::MAX {
                run = 0;
                f = (f / 64 + 1) * 64;
                continue;
            }
            if self.test(f) {
                run = 0;
            } else {
                run += 1;
                if run == n {
                    let first = f + 1 - n;
                    for g in first..=f {
                        self.set(g);
                    }
                    self.free -= n;
                    return Some(self.base + first * FRAME);
                }
            }
            f += 1;
        }
        None
    }

    /// Gives `n` frames from `pa` back.
    ///
    /// # Panics
    ///
    /// If one of them is not an allocated frame of this map: a double free
    /// is a kernel bug that would hand one frame to two owners.
    pub fn free(&mut self, pa: u64, n: u64) {
        assert!(
            pa.is_multiple_of(FRAME) && pa >= self.base,
            "freeing {pa:#x}: not a frame"
        );
        let first = (pa - self.base) / FRAME;
        for f in first..first + n {
            assert!(
                f < self.frames && self.test(f),
                "double free of frame {pa:#x}"
            );
            self.clear(f);
        }
        self.free += n;
        self.hint = self.hint.min((first / 64) as usize);
    }

    /// Frames handed out at run time, used or not.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Frames free now.
    pub fn free_count(&self) -> u64 {
        self.free
    }

    /// Frame indices of whole frames in `[start, end)`, clipped to the map.
    fn frame_range(&self, start: u64, end: u64) -> core::ops::Range<u64> {
        let end_all = self.base + self.frames * FRAME;
        let (start, end) = (
            start.clamp(self.base, end_all),
            end.clamp(self.base, end_all),
        );
        if start >= end {
            return 0..0;
        }
        (start - self.base) / FRAME..(end - self.base) / FRAME
    }

    fn test(&self, f: u64) -> bool {
        self.bits[(f / 64) as usize] & (1 << (f % 64)) != 0
    }
    fn set(&mut self, f: u64) {
        self.bits[(f / 64) as usize] |= 1 << (f % 64);
    }
    fn clear(&mut self, f: u64) {
        self.bits[(f / 64) as usize] &= !(1 << (f % 64));
    }
}

/// The lowest 4 KiB-aligned `[a, a + size)` inside `[start, end)` that
/// overlaps none of `avoid` (start, end pairs): where boot puts the kernel
/// heap and the bitmap, so that RAM on both sides of a firmware
/// reservation (the DTB) stays usable.
pub fn carve(start: u64, end: u64, size: u64, avoid: &[(u64, u64)]) -> Option<u64> {
    let mut a = start.next_multiple_of(FRAME);
    loop {
        let e = a.checked_add(size)?;
        if e > end {
            return None;
        }
        match avoid
            .iter()
            .filter(|&&(s, t)| s < e && a < t)
            .map(|&(_, t)| t)
            .max()
        {
            Some(t) => a = t.next_multiple_of(FRAME),
            None => return Some(a),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: u64 = 0x4000_0000;

    fn map(bits: &mut Vec<u64>, frames: u64) -> FrameMap<'_> {
        bits.resize(FrameMap::words_for(frames), 0);
        FrameMap::new(bits, BASE, frames)
    }

    #[test]
    fn nothing_is_free_until_released() {
        let mut bits = Vec::new();
        let mut m = map(&mut bits, 100);
        assert_eq!(m.alloc(), None);
        m.release(BASE + 10 * FRAME, BASE + 12 * FRAME);
        assert_eq!((m.total(), m.free_count()), (2, 2));
        assert_eq!(m.alloc(), Some(BASE + 10 * FRAME));
        assert_eq!(m.alloc(), Some(BASE + 11 * FRAME));
        assert_eq!(m.alloc(), None);
        assert_eq!(m.free_count(), 0);
    }

    #[test]
    fn release_and_reserve_round_partial_frames_safely() {
        let mut bits = Vec::new();
        let mut m = map(&mut bits, 100);
        // Only whole frames become free...
        m.release(BASE + 1, BASE + 3 * FRAME + 5);
        assert_eq!(m.total(), 2);
        // ...and a reservation takes every frame it touches.
        m.reserve(BASE + 2 * FRAME + 100, BASE + 2 * FRAME + 200);
        assert_eq!((m.total(), m.free_count()), (1, 1));
        assert_eq!(m.alloc(), Some(BASE + FRAME));
        // Outside the map: ignored.
        m.release(0, BASE);
        m.release(BASE + 200 * FRAME, BASE + 300 * FRAME);
        assert_eq!(m.total(), 1);
    }

    #[test]
    fn every_frame_is_handed_out_once_and_comes_back() {
        let mut bits = Vec::new();
        let frames = 300; // not a multiple of 64: the tail word is partial
        let mut m = map(&mut bits, frames);
        m.release(BASE, BASE + frames * FRAME);
        let mut got: Vec<u64> = core::iter::from_fn(|| m.alloc()).collect();
        assert_eq!(got.len() as u64, frames);
        got.sort();
        got.dedup();
        assert_eq!(got.len() as u64, frames, "a frame was handed out twice");
        assert!(
            got.iter()
                .all(|&pa| pa >= BASE && pa < BASE + frames * FRAME)
        );
        for &pa in &got {
            m.free(pa, 1);
        }
        assert_eq!(m.free_count(), frames);
        assert_eq!(core::iter::from_fn(|| m.alloc()).count() as u64, frames);
    }

    #[test]
    fn contiguous_runs_skip_holes() {
        let mut bits = Vec::new();
        let mut m = map(&mut bits, 256);
        m.release(BASE, BASE + 256 * FRAME);
        m.reserve(BASE + 5 * FRAME, BASE + 6 * FRAME);
        m.reserve(BASE + 70 * FRAME, BASE + 71 * FRAME);
        assert_eq!(m.alloc_contig(8), Some(BASE + 6 * FRAME));
        assert_eq!(m.alloc_contig(64), Some(BASE + 71 * FRAME));
        assert_eq!(m.alloc_contig(5), Some(BASE));
        assert_eq!(m.alloc_contig(1000), None);
        m.free(BASE + 6 * FRAME, 8);
        assert_eq!(m.alloc_contig(8), Some(BASE + 6 * FRAME));
        assert_eq!(m.alloc_contig(0), None);
    }

    #[test]
    #[should_panic(expected = "double free")]
    fn double_free_is_caught() {
        let mut bits = Vec::new();
        let mut m = map(&mut bits, 64);
        m.release(BASE, BASE + 64 * FRAME);
        let pa = m.alloc().unwrap();
        m.free(pa, 1);
        m.free(pa, 1);
    }

    #[test]
    fn carve_uses_ram_on_both_sides_of_a_reservation() {
        let dtb = (0x4800_0000, 0x4810_0000);
        // Room below the DTB: taken there.
        assert_eq!(
            carve(0x4020_0000, 0x5000_0000, 8 << 20, &[dtb]),
            Some(0x4020_0000)
        );
        // Not enough room below: placed right after it.
        assert_eq!(
            carve(0x47f0_0000, 0x5000_0000, 8 << 20, &[dtb]),
            Some(0x4810_0000)
        );
        // Several obstacles, unaligned start.
        assert_eq!(
            carve(
                0x4000_0123,
                0x5000_0000,
                0x3000,
                &[(0x4000_1000, 0x4000_2000), (0x4000_3000, 0x4000_4000)]
            ),
            Some(0x4000_4000)
        );
        assert_eq!(carve(0x4000_0000, 0x4000_2000, 0x3000, &[]), None);
        assert_eq!(carve(1, u64::MAX, u64::MAX, &[]), None);
    }
}
