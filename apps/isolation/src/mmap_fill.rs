//! `mmap-fill`: all of RAM the kernel hands out must be mappable by the
//! app, and all of it must come back. Run with `overcommit=2`, the policy
//! under which running out of memory is mmap's ENOMEM (under the default
//! policy it ends the app instead: `mman -- oom`).
//!
//! Anonymous read-write mappings, first 1 MiB at a time, then page by
//! page, until `ENOMEM`; every page is touched. Then `frames_free` must be
//! (nearly) 0: the last, failing mmap may have needed a page table it
//! could not get, hence a slack of [`SLACK`] frames. After unmapping
//! everything, `frames_free` must be exactly what it was.

use rt::println;
use rt::sync::Mutex;
use rt::sys::{self, errno};
use rt::test::verdict;

use crate::{PAGE, kstats};

const CHUNK: u64 = 1 << 20;
/// Frames that may stay free once mmap says ENOMEM.
const SLACK: u64 = 2;
/// At most this many mappings (8 GiB in chunks).
const MAX_REGIONS: usize = 8192;

/// The mappings made, `(address, length)`.
static REGIONS: Mutex<[(u64, u64); MAX_REGIONS]> = Mutex::new([(0, 0); MAX_REGIONS]);

pub fn run() -> i32 {
    let start = kstats();
    println!(
        "isolation: mmap-fill: map 1 MiB chunks, then pages, until ENOMEM; frames_free {} of {}",
        start.frames_free, start.frames_total
    );
    let mut regions = REGIONS.lock();
    let mut n = 0;
    let mut mapped = 0u64;
    let mut refusals = [0i64; 2];
    for (len, refusal) in [CHUNK, PAGE].into_iter().zip(refusals.iter_mut()) {
        while n < MAX_REGIONS {
            match sys::mmap_anon(len as usize) {
                Ok(p) => {
                    regions[n] = (p as u64, len);
                    n += 1;
                    mapped += len;
                }
                Err(e) => {
                    *refusal = e;
                    break;
                }
            }
        }
    }
    for &(addr, len) in &regions[..n] {
        for page in (addr..addr + len).step_by(PAGE as usize) {
            // SAFETY: a page of one of our fresh read-write mappings.
            unsafe { (page as *mut u64).write_volatile(page) };
        }
    }
    let full = kstats();
    println!(
        "isolation: mmap-fill mapped {} KiB of frames_total {} KiB in {n} mappings; then mmap = {} / {}; frames_free {}",
        mapped / 1024,
        full.frames_total * PAGE / 1024,
        refusals[0],
        refusals[1],
        full.frames_free
    );
    for &(addr, len) in &regions[..n] {
        sys::munmap(addr, len);
    }
    let end = kstats();
    println!(
        "isolation: mmap-fill: after munmap frames_free {} (was {})",
        end.frames_free, start.frames_free
    );
    if n == MAX_REGIONS {
        return verdict(
            "mmap-fill",
            Some(format_args!("more than {MAX_REGIONS} mappings")),
        );
    }
    if refusals != [-errno::ENOMEM; 2] {
        return verdict(
            "mmap-fill",
            Some(format_args!(
                "mmap refused with {} / {}, expected ENOMEM",
                refusals[0], refusals[1]
            )),
        );
    }
    if full.frames_free > SLACK {
        return verdict(
            "mmap-fill",
            Some(format_args!(
                "mmap said ENOMEM after {} KiB with {} frames ({} KiB) still free",
                mapped / 1024,
                full.frames_free,
                full.frames_free * PAGE / 1024
            )),
        );
    }
    if end.frames_free != start.frames_free {
        return verdict(
            "mmap-fill",
            Some(format_args!(
                "frames_free {} after unmapping everything, {} before ({} frames missing; the mappings spanned {} 2 MiB ranges, each needing a last-level page table)",
                end.frames_free,
                start.frames_free,
                start.frames_free as i64 - end.frames_free as i64,
                table_ranges(&mut regions[..n])
            )),
        );
    }
    verdict("mmap-fill", None)
}

/// How many 2 MiB-aligned ranges (one last-level page table each) the
/// mappings touch.
fn table_ranges(regions: &mut [(u64, u64)]) -> u64 {
    const RANGE: u64 = 2 << 20;
    regions.sort_unstable();
    let mut count = 0;
    let mut last = u64::MAX;
    for &(addr, len) in regions.iter() {
        for range in addr / RANGE..=(addr + len - 1) / RANGE {
            if range != last {
                count += 1;
                last = range;
            }
        }
    }
    count
}
