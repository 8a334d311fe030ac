//! The user window's landmarks, each thread's own memory, and the pools of
//! pointers, lengths and flags the syscall arguments are drawn from.
//!
//! A pool pointer is either invalid (null, kernel, unmapped, straddling the
//! end of a mapping, overflowing, read-only) or points into fuzzer-owned
//! scratch memory with at least [`SLACK`] bytes after it, more than any
//! syscall writes (`kstats` is the largest, ~650 bytes), so whatever the
//! kernel writes there can never reach memory the fuzzer relies on: stacks,
//! thread blocks, the constructed arguments, the rseq descriptors.

use core::cell::UnsafeCell;

use rt::sys::{self, mman};

use crate::rng::Rng;
use crate::stats;

pub const PAGE: u64 = 4096;
/// The user window (kernel/src/mm/space.rs).
pub const USER_BASE: u64 = 0x40_0000_0000;
pub const WINDOW: u64 = 0x1_0000_0000;
/// Never mapped: `[USER_BASE + 0x2000_0000, MMAP_BASE)`.
pub use rt::test::USER_UNMAPPED;
/// The anonymous mmap area.
pub const MMAP_BASE: u64 = USER_BASE + 0x2400_0000;
pub const MMAP_END: u64 = USER_BASE + 0xfc00_0000;
/// The kernel's signal-return trampoline page (EL0 RX).
pub const TRAMPOLINE: u64 = USER_BASE + 0xfe00_0000;
/// The kernel image on virt, in the kernel's linear map (the high half,
/// EL1 only; on the Pi 4 the same address is kernel RAM).
pub const KERNEL_IMAGE: u64 = 0xffff_ff80_4008_0000;
/// Between the halves: no table reaches it.
pub const KERNEL_VA: u64 = 0xffff_0000_0000_0000;

/// Scratch bytes per thread (pool memory).
pub const SCRATCH_LEN: u64 = 2 * PAGE;
/// What a valid pool pointer leaves after itself.
pub const SLACK: u64 = 1024;
/// Regions a thread keeps from its own random mmaps.
pub const MAX_REGIONS: usize = 8;

/// Read-only bytes in `.rodata` (a readable, never writable target).
static RODATA: [u8; 4096] = [0xa5; 4096];

/// Pool memory every thread may hand to the kernel (cross-CPU writes).
#[repr(C, align(4096))]
struct Shared(UnsafeCell<[u8; 4096]>);
// SAFETY: only its address is used (the kernel writes it; nothing reads it).
unsafe impl Sync for Shared {}
static SHARED: Shared = Shared(UnsafeCell::new([0; 4096]));

/// An address in the app's text (EL0 RX).
pub fn text_addr() -> u64 {
    text_addr as fn() -> u64 as usize as u64
}

/// An address in the app's read-only data.
pub fn rodata_addr() -> u64 {
    RODATA.as_ptr() as u64
}

/// The shared pool page.
pub fn shared_addr() -> u64 {
    SHARED.0.get() as u64
}

/// `len` rounded up to pages (saturating).
pub fn page_up(len: u64) -> u64 {
    len.saturating_add(PAGE - 1) & !(PAGE - 1)
}

/// True for a raw syscall return that is a value, not `-errno`.
pub fn is_ok(ret: i64) -> bool {
    !(-4095..0).contains(&ret)
}

/// One of the thread's own mappings (len 0: free slot).
#[derive(Clone, Copy, Default)]
pub struct Region {
    pub addr: u64,
    pub len: u64,
}

/// A thread's memory.
pub struct Mem {
    /// [`SCRATCH_LEN`] bytes, RW: pool memory.
    pub scratch: u64,
    /// One RW page for rseq descriptors (never in the pool).
    pub desc: u64,
    /// The end of an RW page whose next page is reserved and unmapped
    /// (PROT_NONE), so a buffer ending there straddles into a hole; 0 if
    /// it could not be set up.
    pub straddle_end: u64,
    /// The thread's random mmaps that succeeded.
    pub regions: [Region; MAX_REGIONS],
}

impl Mem {
    /// Maps the thread's scratch, descriptor and straddle pages.
    pub fn new() -> Result<Mem, i64> {
        let scratch = sys::mmap_anon(SCRATCH_LEN as usize)? as u64;
        let desc = match sys::mmap_anon(PAGE as usize) {
            Ok(p) => p as u64,
            Err(e) => {
                sys::munmap(scratch, SCRATCH_LEN);
                return Err(e);
            }
        };
        Ok(Mem {
            scratch,
            desc,
            straddle_end: make_straddle(),
            regions: [Region::default(); MAX_REGIONS],
        })
    }

    /// Unmaps everything the thread mapped.
    pub fn release(&mut self) {
        for r in self.regions.iter_mut().filter(|r| r.len != 0) {
            sys::munmap(r.addr, r.len);
            *r = Region::default();
        }
        if self.straddle_end != 0 {
            sys::munmap(self.straddle_end - PAGE, 2 * PAGE);
            self.straddle_end = 0;
        }
        sys::munmap(self.desc, PAGE);
        sys::munmap(self.scratch, SCRATCH_LEN);
    }

    /// A random live region's index.
    pub fn some_region(&self, rng: &mut Rng) -> Option<usize> {
        let n = self.regions.iter().filter(|r| r.len != 0).count() as u64;
        if n == 0 {
            return None;
        }
        let k = rng.below(n) as usize;
        self.regions
            .iter()
            .enumerate()
            .filter(|(_, r)| r.len != 0)
            .nth(k)
            .map(|(i, _)| i)
    }

    /// Keeps `r`; false if the table is full.
    pub fn add_region(&mut self, r: Region) -> bool {
        match self.regions.iter_mut().find(|s| s.len == 0) {
            Some(slot) => {
                *slot = r;
                true
            }
            None => false,
        }
    }

    /// Whether `[addr, addr + len)` overlaps memory this thread owns.
    pub fn overlaps_own(&self, addr: u64, len: u64) -> bool {
        let hit = |a: u64, l: u64| a < addr.saturating_add(len) && addr < a + l;
        hit(self.scratch, SCRATCH_LEN)
            || hit(self.desc, PAGE)
            || (self.straddle_end != 0 && hit(self.straddle_end - PAGE, 2 * PAGE))
            || self
                .regions
                .iter()
                .any(|r| r.len != 0 && hit(r.addr, r.len))
    }

    /// A pointer from the full pool: invalid ones and valid fuzzer-owned
    /// scratch (with [`SLACK`] bytes after it).
    pub fn any_ptr(&self, rng: &mut Rng) -> u64 {
        match rng.below(20) {
            0 => 0,
            1 => pick!(rng, [4, 0xfff, 0x1000, 0x8000_0000]),
            2 => KERNEL_IMAGE + rng.below(64) * 8,
            3 => KERNEL_VA | rng.below(1 << 30),
            4 => USER_UNMAPPED + rng.below(0x400_0000),
            5 => self.straddle(rng, 16),
            6 => u64::MAX - rng.below(16),
            7 => text_addr() + rng.below(64),
            8 => rodata_addr() + rng.below(4096 - SLACK),
            9 => TRAMPOLINE + rng.below(64),
            10 => USER_BASE + WINDOW - 1 - rng.below(64),
            11 => rng.next_u64(),
            12 | 13 => match self.some_region(rng) {
                Some(i) => {
                    let r = self.regions[i];
                    r.addr + rng.below(r.len - SLACK)
                }
                None => self.scratch_ptr(rng),
            },
            14 => shared_addr() + rng.below(4096 - SLACK),
            _ => self.scratch_ptr(rng),
        }
    }

    /// A valid pointer into the thread's scratch (often aligned).
    pub fn scratch_ptr(&self, rng: &mut Rng) -> u64 {
        let off = rng.below(SCRATCH_LEN - SLACK);
        self.scratch + if rng.coin() { off & !7 } else { off }
    }

    /// A pointer from which reading `size` bytes must fail.
    pub fn bad_ptr(&self, rng: &mut Rng, size: u64) -> u64 {
        match rng.below(9) {
            0 => 0,
            1 => KERNEL_IMAGE,
            2 => KERNEL_VA + rng.below(4096),
            3 => USER_UNMAPPED + rng.below(4096) * 8,
            4 => self.straddle(rng, size),
            5 => u64::MAX - rng.below(size.max(1)),
            6 => USER_BASE + WINDOW - 1 - rng.below(size.max(1)),
            7 => 8,
            _ => USER_BASE - 8,
        }
    }

    /// The last `1..size` bytes before the straddle point (reads of
    /// `size` bytes cross into the hole); the unmapped hole without one.
    pub fn straddle(&self, rng: &mut Rng, size: u64) -> u64 {
        if self.straddle_end == 0 {
            return USER_UNMAPPED;
        }
        self.straddle_end - 1 - rng.below(size.clamp(2, 4096) - 1)
    }
}

/// Maps two pages, unmaps the second and reserves it with PROT_NONE (so
/// no later mmap can fill the hole); returns the end of the first page.
fn make_straddle() -> u64 {
    for _ in 0..8 {
        let Ok(a) = sys::mmap_anon(2 * PAGE as usize) else {
            return 0;
        };
        let a = a as u64;
        sys::munmap(a + PAGE, PAGE);
        let r = sys::mmap(
            a + PAGE,
            PAGE,
            mman::PROT_NONE,
            mman::MAP_PRIVATE | mman::MAP_ANONYMOUS | mman::MAP_FIXED,
            -1,
            0,
        );
        if r == (a + PAGE) as i64 {
            return a + PAGE;
        }
        // Another thread's mmap took the page in between: try elsewhere.
        sys::munmap(a, PAGE);
        if is_ok(r) {
            stats::anomaly(format_args!("MAP_FIXED at {:#x} returned {r:#x}", a + PAGE));
        }
    }
    0
}

/// Checks that a fresh readable mapping reads zero at the first word of
/// every page, where a recycled frame would still hold the kernel's
/// free-list link (or an earlier owner's data) had it not been cleared.
pub fn check_fresh_pages(addr: u64, len: u64) {
    for a in (addr..addr + len).step_by(PAGE as usize) {
        // SAFETY: a readable mapping the calling thread just made.
        let v = unsafe { (a as *const u64).read_volatile() };
        if v != 0 {
            stats::anomaly(format_args!(
                "fresh mmap at {addr:#x} (+{len:#x}) reads {v:#x} at {a:#x}"
            ));
            return;
        }
    }
}

/// A length from the pool.
pub fn any_len(rng: &mut Rng) -> u64 {
    match rng.below(4) {
        0 => rng.below(512),
        _ => pick!(
            rng,
            [
                0,
                1,
                7,
                8,
                16,
                31,
                32,
                33,
                63,
                64,
                65,
                128,
                255,
                256,
                4095,
                4096,
                4097,
                65536,
                1 << 20,
                1 << 31,
                u32::MAX as u64,
                1 << 32,
                i64::MAX as u64,
                u64::MAX,
            ]
        ),
    }
}

/// A flags word from the pool.
pub fn any_flags(rng: &mut Rng) -> u64 {
    match rng.below(4) {
        0 => 1 << rng.below(64),
        1 => rng.next_u64(),
        _ => pick!(
            rng,
            [
                0,
                0,
                1,
                2,
                3,
                4,
                0x80,
                0x100,
                1 << 31,
                u32::MAX as u64,
                u64::MAX
            ]
        ),
    }
}
