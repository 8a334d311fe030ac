//! The app's virtual memory areas (Linux's `vm_area_struct`s): which
//! ranges of the user half belong to the app and with what protection.
//! The page tables say which pages have a frame; this list says which
//! pages may get one, so a fault on an unpopulated page of an area is
//! satisfied with a fresh zeroed frame (demand paging) and any other
//! fault is the app's bug.
//!
//! Pure logic over a sorted list, generic over the protection, so it is
//! unit-tested on the host. Every operation that may grow the list
//! reserves room first and changes nothing when it cannot: a syscall
//! that runs out of kernel heap fails with ENOMEM and loses nothing.

use alloc::collections::TryReserveError;
use alloc::vec::Vec;

/// Linux's default `vm.max_map_count`: more areas than this and mmap,
/// munmap (splitting one) and mprotect say ENOMEM. Bounds the kernel heap
/// one app can hold in area records.
pub const MAX_MAP_COUNT: usize = 65530;

/// One area: `[start, end)`, page-aligned, with protection `prot`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vma<P> {
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
    /// What the app may do there.
    pub prot: P,
}

/// Why the list could not change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmaError {
    /// The kernel heap is exhausted or `MAX_MAP_COUNT` reached (ENOMEM).
    NoMemory,
}

impl From<TryReserveError> for VmaError {
    fn from(_: TryReserveError) -> Self {
        VmaError::NoMemory
    }
}

/// The areas, sorted by address, never overlapping; neighbours with equal
/// protection are merged, as Linux's `vma_merge()` keeps the count low.
pub struct VmaList<P> {
    areas: Vec<Vma<P>>,
}

impl<P: Copy + PartialEq> VmaList<P> {
    /// No areas.
    pub const fn new() -> Self {
        VmaList { areas: Vec::new() }
    }

    /// Every area, in address order.
    pub fn iter(&self) -> impl Iterator<Item = &Vma<P>> {
        self.areas.iter()
    }

    /// How many areas there are.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.areas.len()
    }

    /// Whether there are none.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.areas.is_empty()
    }

    /// Forgets every area (a new program image).
    pub fn clear(&mut self) {
        self.areas.clear();
    }

    /// The area holding `addr` (Linux's `vma_lookup()`).
    pub fn find(&self, addr: u64) -> Option<&Vma<P>> {
        let i = self.areas.partition_point(|v| v.end <= addr);
        self.areas.get(i).filter(|v| v.start <= addr)
    }

    /// Whether any area overlaps `[start, end)`.
    pub fn overlaps(&self, start: u64, end: u64) -> bool {
        let i = self.areas.partition_point(|v| v.end <= start);
        self.areas.get(i).is_some_and(|v| v.start < end)
    }

    /// Whether areas cover every byte of `[start, end)` without a hole
    /// (mprotect's and madvise's ENOMEM check).
    pub fn covers(&self, start: u64, end: u64) -> bool {
        let mut at = start;
        let i = self.areas.partition_point(|v| v.end <= start);
        for v in &self.areas[i..] {
            if at >= end {
                break;
            }
            if v.start > at {
                return false;
            }
            at = v.end;
        }
        at >= end
    }

    /// Room for `extra` more areas, within `MAX_MAP_COUNT`.
    fn reserve(&mut self, extra: usize) -> Result<(), VmaError> {
        self.reserve_splits(extra, extra)
    }

    /// Room for `splits` insertions, of which `growth` stay when the
    /// operation is over (`MAX_MAP_COUNT` bounds only those).
    fn reserve_splits(&mut self, splits: usize, growth: usize) -> Result<(), VmaError> {
        if self.areas.len() + growth > MAX_MAP_COUNT {
            return Err(VmaError::NoMemory);
        }
        Ok(self.areas.try_reserve(splits)?)
    }

    /// Adds `[start, end)` with `prot`, where no area is (the caller has
    /// checked or unmapped the range first).
    pub fn insert(&mut self, start: u64, end: u64, prot: P) -> Result<(), VmaError> {
        debug_assert!(start < end && !self.overlaps(start, end));
        self.reserve(1)?;
        let i = self.areas.partition_point(|v| v.start < start);
        self.areas.insert(i, Vma { start, end, prot });
        self.merge_around(i);
        Ok(())
    }

    /// Removes `[start, end)` from the areas, splitting those it cuts
    /// (munmap). Returns the parts removed, in address order, to the
    /// callback before they are forgotten.
    pub fn remove(
        &mut self,
        start: u64,
        end: u64,
        mut removed: impl FnMut(u64, u64),
    ) -> Result<(), VmaError> {
        if !self.overlaps(start, end) {
            return Ok(());
        }
        // Only a hole inside one area adds one; cutting two areas at the
        // ends of the range splits two and removes at least two.
        let splits = usize::from(self.cuts(start)) + usize::from(self.cuts(end));
        let one_area = self.find(start).is_some_and(|v| v.end > end);
        self.reserve_splits(splits, usize::from(one_area && splits == 2))?;
        self.split_at(start);
        self.split_at(end);
        let first = self.areas.partition_point(|v| v.start < start);
        let last = self.areas.partition_point(|v| v.start < end);
        for v in &self.areas[first..last] {
            removed(v.start, v.end);
        }
        self.areas.drain(first..last);
        Ok(())
    }

    /// Gives each area of `[start, end)`, which areas must cover, the
    /// protection `change` makes of its own (mprotect), splitting the areas
    /// the range cuts and merging equal neighbours afterwards.
    pub fn protect(
        &mut self,
        start: u64,
        end: u64,
        change: impl Fn(P) -> P,
    ) -> Result<(), VmaError> {
        debug_assert!(self.covers(start, end));
        let splits = usize::from(self.cuts(start)) + usize::from(self.cuts(end));
        self.reserve_splits(splits, splits)?;
        self.split_at(start);
        self.split_at(end);
        let first = self.areas.partition_point(|v| v.start < start);
        let last = self.areas.partition_point(|v| v.start < end);
        for v in &mut self.areas[first..last] {
            v.prot = change(v.prot);
        }
        for i in (first.saturating_sub(1)..=last.min(self.areas.len() - 1)).rev() {
            self.merge_around(i);
        }
        Ok(())
    }

    /// Moves the end of the area ending at `old_end` to `new_end` (brk),
    /// or adds `[start, new_end)` when there is none yet.
    pub fn set_end(
        &mut self,
        start: u64,
        old_end: u64,
        new_end: u64,
        prot: P,
    ) -> Result<(), VmaError> {
        if new_end < old_end {
            return self.remove(new_end, old_end, |_, _| ());
        }
        if new_end == old_end {
            return Ok(());
        }
        match self
            .areas
            .iter()
            .position(|v| v.end == old_end && v.start < old_end)
        {
            Some(i) if old_end > start && self.areas[i].prot == prot => {
                if self.areas.get(i + 1).is_some_and(|n| n.start < new_end) {
                    return Err(VmaError::NoMemory);
                }
                self.areas[i].end = new_end;
                self.merge_around(i);
                Ok(())
            }
            _ => self.insert(old_end, new_end, prot),
        }
    }

    /// The highest `len`-byte gap in `[low, high)` (Linux's top-down
    /// `unmapped_area_topdown()`), or None.
    pub fn gap_top_down(&self, len: u64, low: u64, high: u64) -> Option<u64> {
        if len == 0 {
            return None;
        }
        let mut top = high;
        for v in self.areas.iter().rev() {
            if v.start >= top {
                continue;
            }
            let bottom = v.end.max(low);
            if top >= bottom && top - bottom >= len {
                return Some(top - len);
            }
            top = v.start;
            if top <= low {
                return None;
            }
        }
        (top.checked_sub(low)? >= len).then(|| top - len)
    }

    /// Whether `addr` falls strictly inside an area (a split point).
    fn cuts(&self, addr: u64) -> bool {
        self.find(addr).is_some_and(|v| v.start < addr)
    }

    /// Splits the area holding `addr` (not at its start) in two at `addr`.
    /// The caller has reserved room for one more area.
    fn split_at(&mut self, addr: u64) {
        let i = self.areas.partition_point(|v| v.end <= addr);
        if let Some(&v) = self.areas.get(i)
            && v.start < addr
            && addr < v.end
        {
            self.areas[i].end = addr;
            self.areas.insert(
                i + 1,
                Vma {
                    start: addr,
                    end: v.end,
                    prot: v.prot,
                },
            );
        }
    }

    /// Merges area `i` with its neighbours when they touch it and have its
    /// protection.
    fn merge_around(&mut self, i: usize) {
        if i + 1 < self.areas.len() {
            let (a, b) = (self.areas[i], self.areas[i + 1]);
            if a.end == b.start && a.prot == b.prot {
                self.areas[i].end = b.end;
                self.areas.remove(i + 1);
            }
        }
        if i > 0 && i < self.areas.len() {
            let (a, b) = (self.areas[i - 1], self.areas[i]);
            if a.end == b.start && a.prot == b.prot {
                self.areas[i - 1].end = b.end;
                self.areas.remove(i);
            }
        }
    }
}

impl<P: Copy + PartialEq> Default for VmaList<P> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn list(areas: &[(u64, u64, u8)]) -> VmaList<u8> {
        let mut l = VmaList::new();
        for &(s, e, p) in areas {
            l.insert(s, e, p).unwrap();
        }
        l
    }

    fn dump(l: &VmaList<u8>) -> Vec<(u64, u64, u8)> {
        l.iter().map(|v| (v.start, v.end, v.prot)).collect()
    }

    #[test]
    fn find_and_cover() {
        let l = list(&[(0x1000, 0x3000, 1), (0x5000, 0x6000, 2)]);
        assert_eq!(l.find(0x1000).unwrap().prot, 1);
        assert_eq!(l.find(0x2fff).unwrap().prot, 1);
        assert!(l.find(0x3000).is_none());
        assert!(l.find(0xfff).is_none());
        assert_eq!(l.find(0x5800).unwrap().prot, 2);
        assert!(l.covers(0x1000, 0x3000));
        assert!(l.covers(0x2000, 0x2000 + 1));
        assert!(!l.covers(0x1000, 0x4000));
        assert!(!l.covers(0x2000, 0x6000));
        assert!(l.overlaps(0x2fff, 0x5001));
        assert!(!l.overlaps(0x3000, 0x5000));
    }

    #[test]
    fn adjacent_equal_areas_merge() {
        let l = list(&[
            (0x1000, 0x2000, 1),
            (0x3000, 0x4000, 1),
            (0x2000, 0x3000, 1),
        ]);
        assert_eq!(dump(&l), vec![(0x1000, 0x4000, 1)]);
        let l = list(&[(0x1000, 0x2000, 1), (0x2000, 0x3000, 2)]);
        assert_eq!(l.len(), 2);
    }

    #[test]
    fn remove_splits_and_reports() {
        let mut l = list(&[(0x1000, 0x9000, 1), (0xa000, 0xb000, 2)]);
        let mut gone = vec![];
        l.remove(0x3000, 0x5000, |s, e| gone.push((s, e))).unwrap();
        assert_eq!(gone, vec![(0x3000, 0x5000)]);
        assert_eq!(
            dump(&l),
            vec![
                (0x1000, 0x3000, 1),
                (0x5000, 0x9000, 1),
                (0xa000, 0xb000, 2)
            ]
        );
        gone.clear();
        l.remove(0x0, 0x100_0000, |s, e| gone.push((s, e))).unwrap();
        assert_eq!(
            gone,
            vec![(0x1000, 0x3000), (0x5000, 0x9000), (0xa000, 0xb000)]
        );
        assert!(l.is_empty());
    }

    #[test]
    fn protect_splits_then_merges_back() {
        let mut l = list(&[(0x1000, 0x9000, 1)]);
        l.protect(0x3000, 0x4000, |_| 0).unwrap();
        assert_eq!(
            dump(&l),
            vec![
                (0x1000, 0x3000, 1),
                (0x3000, 0x4000, 0),
                (0x4000, 0x9000, 1)
            ]
        );
        l.protect(0x3000, 0x4000, |_| 1).unwrap();
        assert_eq!(dump(&l), vec![(0x1000, 0x9000, 1)]);
        // Across two areas.
        let mut l = list(&[(0x1000, 0x3000, 1), (0x3000, 0x5000, 2)]);
        l.protect(0x2000, 0x4000, |p| p + 2).unwrap();
        assert_eq!(
            dump(&l),
            vec![
                (0x1000, 0x2000, 1),
                (0x2000, 0x3000, 3),
                (0x3000, 0x4000, 4),
                (0x4000, 0x5000, 2)
            ]
        );
    }

    #[test]
    fn set_end_grows_and_shrinks_the_break() {
        let mut l = list(&[(0x1000, 0x2000, 5)]);
        l.set_end(0x2000, 0x2000, 0x4000, 1).unwrap();
        assert_eq!(dump(&l), vec![(0x1000, 0x2000, 5), (0x2000, 0x4000, 1)]);
        l.set_end(0x2000, 0x4000, 0x6000, 1).unwrap();
        assert_eq!(dump(&l), vec![(0x1000, 0x2000, 5), (0x2000, 0x6000, 1)]);
        l.set_end(0x2000, 0x6000, 0x3000, 1).unwrap();
        assert_eq!(dump(&l), vec![(0x1000, 0x2000, 5), (0x2000, 0x3000, 1)]);
        l.set_end(0x2000, 0x3000, 0x2000, 1).unwrap();
        assert_eq!(dump(&l), vec![(0x1000, 0x2000, 5)]);
        // Growing into another area is refused.
        let mut l = list(&[(0x2000, 0x3000, 1), (0x4000, 0x5000, 2)]);
        assert_eq!(
            l.set_end(0x2000, 0x3000, 0x5000, 1),
            Err(VmaError::NoMemory)
        );
    }

    #[test]
    fn gaps_are_found_from_the_top() {
        let l: VmaList<u8> = VmaList::new();
        assert_eq!(
            l.gap_top_down(0x1000, 0x10_0000, 0x20_0000),
            Some(0x1f_f000)
        );
        let l = list(&[(0x1f_0000, 0x20_0000, 1), (0x1e_0000, 0x1e_f000, 1)]);
        assert_eq!(
            l.gap_top_down(0x1000, 0x10_0000, 0x20_0000),
            Some(0x1e_f000)
        );
        assert_eq!(
            l.gap_top_down(0x2000, 0x10_0000, 0x20_0000),
            Some(0x1d_e000)
        );
        assert_eq!(l.gap_top_down(0x10_0000, 0x10_0000, 0x20_0000), None);
        assert_eq!(
            l.gap_top_down(0xe_0000, 0x10_0000, 0x20_0000),
            Some(0x10_0000)
        );
        // Areas above `high` or below `low` do not matter.
        let l = list(&[(0x30_0000, 0x40_0000, 1), (0x1000, 0x2000, 1)]);
        assert_eq!(
            l.gap_top_down(0x1000, 0x10_0000, 0x20_0000),
            Some(0x1f_f000)
        );
    }

    #[test]
    fn the_map_count_is_bounded() {
        let mut l: VmaList<u8> = VmaList::new();
        for i in 0..MAX_MAP_COUNT as u64 {
            l.insert(i * 0x2000, i * 0x2000 + 0x1000, 0).unwrap();
        }
        let top = MAX_MAP_COUNT as u64 * 0x2000;
        assert_eq!(l.insert(top, top + 0x1000, 0), Err(VmaError::NoMemory));
        // A hole inside an area needs one more; nothing changed on refusal.
        assert_eq!(l.remove(0x200, 0x800, |_, _| ()), Err(VmaError::NoMemory));
        assert_eq!(l.protect(0x200, 0x800, |_| 1), Err(VmaError::NoMemory));
        assert_eq!(l.len(), MAX_MAP_COUNT);
        assert_eq!(l.find(0x0).unwrap().end, 0x1000);
        // Cutting off an area's head or removing areas still works.
        l.remove(0x0, 0x800, |_, _| ()).unwrap();
        l.remove(0x2000, 0x5000, |_, _| ()).unwrap();
        assert_eq!(l.len(), MAX_MAP_COUNT - 2);
        assert_eq!(l.find(0x800).unwrap().start, 0x800);
    }
}
