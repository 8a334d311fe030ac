//! Memory-management calls a Linux program relies on (glibc's static
//! startup mprotects its RELRO segment; malloc reserves arenas with
//! PROT_NONE and opens them with mprotect; free gives pages back with
//! MADV_DONTNEED), checked against Linux's answers.
//!
//! `mman -- checks` reports one `TEST` line per case (demand paging's
//! among them: frames counted exactly as pages are touched and dropped);
//! `-- ro-write`, `-- none-read`, `-- untouched-ro-write` and `-- oom` end
//! with the fault they provoke (the scenario checks the `[kill]` line).
#![no_std]
#![no_main]

use rt::sys::{self, errno, mman, nr};
use rt::test::{check, status};
use rt::{Args, println};

rt::main!(main);
rt::rseq_mode!(none);

const PAGE: u64 = 4096;
use rt::test::USER_UNMAPPED;

fn mprotect(addr: u64, len: u64, prot: u64) -> i64 {
    sys::syscall3(nr::MPROTECT, addr, len, prot)
}

fn madvise(addr: u64, len: u64, advice: u64) -> i64 {
    sys::syscall3(nr::MADVISE, addr, len, advice)
}

fn map(len: u64, prot: u64, flags: u64) -> i64 {
    sys::mmap(0, len, prot, flags, -1, 0)
}

const RW: u64 = mman::PROT_READ | mman::PROT_WRITE;
const ANON: u64 = mman::MAP_PRIVATE | mman::MAP_ANONYMOUS;

fn read(addr: u64) -> u64 {
    // SAFETY: the callers pass an address of a readable mapping of theirs.
    unsafe { (addr as *const u64).read_volatile() }
}

fn write(addr: u64, v: u64) {
    // SAFETY: the callers pass an address of a writable mapping of theirs.
    unsafe { (addr as *mut u64).write_volatile(v) }
}

fn checks() -> i32 {
    let mut ok = true;
    let rw = map(3 * PAGE, RW, ANON);
    ok &= check("mmap-rw", rw > 0, format_args!("mmap = {rw}"));
    let rw = rw as u64;

    // Errnos in Linux's order.
    let r = mprotect(rw + 8, PAGE, mman::PROT_READ);
    ok &= check(
        "mprotect-misaligned",
        r == -errno::EINVAL,
        format_args!("got {r}"),
    );
    let r = mprotect(rw, PAGE, 0x100);
    ok &= check(
        "mprotect-bad-prot",
        r == -errno::EINVAL,
        format_args!("got {r}"),
    );
    let r = mprotect(USER_UNMAPPED, PAGE, mman::PROT_READ);
    ok &= check(
        "mprotect-unmapped",
        r == -errno::ENOMEM,
        format_args!("got {r}"),
    );
    let r = mprotect(rw + 2 * PAGE, 2 * PAGE, mman::PROT_READ);
    ok &= check(
        "mprotect-past-the-end",
        r == -errno::ENOMEM,
        format_args!("got {r}"),
    );
    let r = mprotect(rw, PAGE, RW | mman::PROT_EXEC);
    ok &= check(
        "mprotect-wx-refused",
        r == -errno::EINVAL,
        format_args!("got {r}"),
    );
    let r = mprotect(rw, 0, mman::PROT_READ);
    ok &= check("mprotect-empty", r == 0, format_args!("got {r}"));
    let r = mprotect(!(PAGE - 1), 2 * PAGE, mman::PROT_READ);
    ok &= check(
        "mprotect-wraps",
        r == -errno::ENOMEM,
        format_args!("got {r}"),
    );

    // Read-only keeps the data; back to read-write keeps it too.
    write(rw, 0x1234_5678);
    let r = mprotect(rw, PAGE, mman::PROT_READ);
    let v = read(rw);
    ok &= check(
        "mprotect-ro-keeps-data",
        r == 0 && v == 0x1234_5678,
        format_args!("mprotect = {r}, value {v:#x}"),
    );
    let r = mprotect(rw, PAGE, RW);
    write(rw + 8, 7);
    ok &= check(
        "mprotect-rw-again",
        r == 0 && read(rw) == 0x1234_5678 && read(rw + 8) == 7,
        format_args!("mprotect = {r}"),
    );

    // A PROT_NONE reservation (malloc's arena) opened page by page.
    let none = map(4 * PAGE, mman::PROT_NONE, ANON | mman::MAP_NORESERVE);
    ok &= check("mmap-prot-none", none > 0, format_args!("mmap = {none}"));
    let none = none as u64;
    let r = mprotect(none + PAGE, PAGE, RW);
    let before = frames_free();
    write(none + PAGE, 42);
    let after = frames_free();
    ok &= check(
        "mprotect-opens-reservation",
        r == 0 && read(none + PAGE) == 42 && before > after,
        format_args!("mprotect = {r}, frames_free {before} -> {after} on the first write"),
    );
    let r = mprotect(none, 4 * PAGE, mman::PROT_READ);
    ok &= check(
        "mprotect-over-reservation",
        r == 0 && read(none) == 0 && read(none + PAGE) == 42,
        format_args!("mprotect = {r}"),
    );

    // MADV_DONTNEED: private anonymous pages read as zeroes afterwards.
    write(rw + PAGE, 99);
    let r = madvise(rw, 2 * PAGE, mman::MADV_DONTNEED);
    ok &= check(
        "madvise-dontneed-zeroes",
        r == 0 && read(rw) == 0 && read(rw + 8) == 0 && read(rw + PAGE) == 0,
        format_args!(
            "madvise = {r}, values {:#x} {:#x}",
            read(rw),
            read(rw + PAGE)
        ),
    );
    write(rw, 5);
    let r = madvise(rw, PAGE, mman::MADV_WILLNEED);
    ok &= check(
        "madvise-willneed",
        r == 0 && read(rw) == 5,
        format_args!("madvise = {r}"),
    );
    let r = madvise(rw, PAGE, 99);
    ok &= check(
        "madvise-bad-advice",
        r == -errno::EINVAL,
        format_args!("got {r}"),
    );
    let r = madvise(rw + 1, PAGE, mman::MADV_DONTNEED);
    ok &= check(
        "madvise-misaligned",
        r == -errno::EINVAL,
        format_args!("got {r}"),
    );
    let r = madvise(!(PAGE - 1), 2 * PAGE, mman::MADV_DONTNEED);
    ok &= check(
        "madvise-wraps",
        r == -errno::EINVAL,
        format_args!("got {r}"),
    );
    let r = mprotect(rw, 0, 0x100);
    ok &= check(
        "mprotect-empty-ignores-prot",
        r == 0,
        format_args!("got {r}"),
    );
    let r = madvise(USER_UNMAPPED, PAGE, mman::MADV_DONTNEED);
    ok &= check(
        "madvise-unmapped",
        r == -errno::ENOMEM,
        format_args!("got {r}"),
    );

    // One process: shared anonymous memory is private memory.
    let shared = map(PAGE, RW, mman::MAP_SHARED | mman::MAP_ANONYMOUS);
    if shared > 0 {
        write(shared as u64, 3);
    }
    ok &= check(
        "mmap-shared-anonymous",
        shared > 0 && read(shared as u64) == 3,
        format_args!("mmap = {shared}"),
    );
    let r = map(
        PAGE,
        RW,
        mman::MAP_SHARED | mman::MAP_PRIVATE | mman::MAP_ANONYMOUS,
    );
    ok &= check(
        "mmap-shared-and-private",
        r == -errno::EINVAL,
        format_args!("got {r}"),
    );
    ok &= demand_paging();
    status(ok)
}

fn frames_free() -> u64 {
    sys::kstats().map(|k| k.frames_free).unwrap_or(0)
}

/// Pages of the demand-paging checks' mapping.
const PAGES: u64 = 64;

/// Anonymous memory gets its frames on first touch (the default
/// `overcommit=0`): counted exactly by `frames_free`.
fn demand_paging() -> bool {
    let mut ok = true;
    let total = sys::kstats().map(|k| k.frames_total).unwrap_or(0);
    let start = frames_free();
    let p = map(PAGES * PAGE, RW, ANON);
    let mapped = frames_free();
    ok &= check(
        "demand-mmap-takes-no-frame",
        p > 0 && mapped == start,
        format_args!("mmap = {p}, frames_free {start} -> {mapped}"),
    );
    let p = p as u64;
    let zero = (0..PAGES).all(|i| read(p + i * PAGE + 8 * i) == 0);
    let read_all = frames_free();
    for i in 0..PAGES {
        write(p + i * PAGE, i + 1);
    }
    let touched = frames_free();
    // Every page once, plus at most a last-level table per 2 MiB range
    // the mapping spans (2 for 64 pages) and the levels above them.
    ok &= check(
        "demand-first-touch-zeroed",
        zero && mapped - read_all >= PAGES && mapped - read_all <= PAGES + 4 && touched == read_all,
        format_args!(
            "zeroed {zero}; frames_free {mapped} -> {read_all} after reading every page -> {touched} after writing"
        ),
    );
    // The kernel's own accesses fault pages in too: a syscall writing to
    // an untouched page, and one reading from it.
    let q = map(2 * PAGE, RW, ANON) as u64;
    let r = sys::clock_gettime_raw(1, q + PAGE - 16);
    let (secs, nsecs) = (read(q + PAGE - 16), read(q + PAGE - 8));
    ok &= check(
        "demand-syscall-writes-untouched",
        r == 0 && secs + nsecs > 0 && nsecs < 1_000_000_000,
        format_args!("clock_gettime = {r}, {secs}.{nsecs:09}"),
    );
    // nanosleep reads a zero timespec from the untouched second page.
    let n = sys::syscall3(nr::NANOSLEEP, q + PAGE, 0, 0);
    ok &= check(
        "demand-syscall-reads-untouched",
        n == 0,
        format_args!("nanosleep = {n}"),
    );
    let none = map(PAGE, mman::PROT_NONE, ANON) as u64;
    let r = sys::clock_gettime_raw(1, none);
    ok &= check(
        "demand-syscall-prot-none-efault",
        r == -errno::EFAULT,
        format_args!("clock_gettime into PROT_NONE = {r}"),
    );
    sys::munmap(q, 2 * PAGE);
    sys::munmap(none, PAGE);
    // MADV_DONTNEED gives the frames back; the pages read zero again.
    let before = frames_free();
    let r = madvise(p, PAGES * PAGE, mman::MADV_DONTNEED);
    let after = frames_free();
    ok &= check(
        "demand-dontneed-frees",
        r == 0 && after - before >= PAGES && read(p + PAGE) == 0,
        format_args!("madvise = {r}, frames_free {before} -> {after}"),
    );
    let r = sys::munmap(p, PAGES * PAGE);
    let end = frames_free();
    ok &= check(
        "demand-munmap-returns-all",
        r == 0 && end == start,
        format_args!("munmap = {r}, frames_free {end}, {start} before the mmap"),
    );
    // Linux's heuristic: one mapping larger than RAM is refused, unless
    // MAP_NORESERVE; a mapping of RAM's size is fine untouched.
    let huge = (total + 1) * PAGE;
    let r = map(huge, RW, ANON);
    ok &= check(
        "demand-larger-than-ram-refused",
        r == -errno::ENOMEM,
        format_args!("mmap of {huge:#x} bytes = {r}"),
    );
    let r = map(huge, RW, ANON | mman::MAP_NORESERVE);
    let free = frames_free();
    ok &= check(
        "demand-noreserve-larger-than-ram",
        r > 0 && free == start && sys::munmap(r as u64, huge) == 0,
        format_args!("mmap MAP_NORESERVE of {huge:#x} bytes = {r}, frames_free {free}"),
    );
    // MAP_POPULATE allocates at once.
    let r = map(4 * PAGE, RW, ANON | mman::MAP_POPULATE);
    let free = frames_free();
    ok &= check(
        "demand-map-populate",
        r > 0 && start - free >= 4 && sys::munmap(r as u64, 4 * PAGE) == 0,
        format_args!("mmap MAP_POPULATE = {r}, frames_free {start} -> {free}"),
    );
    ok
}

/// Touches one page more than RAM holds: the kernel ends the app with
/// SIGKILL and an out-of-memory report, as Linux's OOM killer ends the
/// only process.
fn oom() -> i32 {
    let total = sys::kstats().map(|k| k.frames_total).unwrap_or(0);
    let len = (total + 1) * PAGE;
    let p = map(len, RW, ANON | mman::MAP_NORESERVE);
    println!(
        "mman: mmap of {} MiB (RAM's frames + 1) = {p:#x}, touching every page",
        len >> 20
    );
    if p < 0 {
        return 1;
    }
    for page in (p as u64..p as u64 + len).step_by(PAGE as usize) {
        write(page, page);
    }
    println!("mman: touched more than RAM holds");
    1
}

/// Writes to a page made read-only: a permission fault, SIGSEGV.
fn ro_write() -> i32 {
    let p = map(PAGE, RW, ANON) as u64;
    write(p, 0);
    let r = mprotect(p, PAGE, mman::PROT_READ);
    println!("mman: mprotect(PROT_READ) = {r}, writing");
    write(p, 1);
    println!("mman: the write went through");
    1
}

/// Writes to a read-only page that has no frame yet: the area forbids the
/// write, so demand paging does not satisfy it: SIGSEGV.
fn untouched_ro_write() -> i32 {
    let p = map(PAGE, mman::PROT_READ, ANON) as u64;
    println!("mman: writing an untouched PROT_READ page");
    write(p, 1);
    println!("mman: the write went through");
    1
}

/// Reads a page made PROT_NONE: SIGSEGV.
fn none_read() -> i32 {
    let p = map(PAGE, RW, ANON) as u64;
    write(p, 0);
    let r = mprotect(p, PAGE, mman::PROT_NONE);
    println!("mman: mprotect(PROT_NONE) = {r}, reading");
    let v = read(p);
    println!("mman: the read went through ({v})");
    1
}

fn main(args: Args) -> i32 {
    match args.get(1) {
        "checks" => checks(),
        "ro-write" => ro_write(),
        "none-read" => none_read(),
        "untouched-ro-write" => untouched_ro_write(),
        "oom" => oom(),
        other => {
            println!(
                "mman: unknown test {other:?} (checks, ro-write, none-read, untouched-ro-write, oom)"
            );
            2
        }
    }
}
