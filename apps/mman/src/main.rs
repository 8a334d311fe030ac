//! Memory-management calls a Linux program relies on (glibc's static
//! startup mprotects its RELRO segment; malloc reserves arenas with
//! PROT_NONE and opens them with mprotect; free gives pages back with
//! MADV_DONTNEED), checked against Linux's answers.
//!
//! `mman -- checks` reports one `TEST` line per case; `-- ro-write` and
//! `-- none-read` end with the fault they provoke (the scenario checks the
//! `[kill]` line).
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
    let before = sys::kstats().map(|k| k.frames_free).unwrap_or(0);
    let r = mprotect(none + PAGE, PAGE, RW);
    let after = sys::kstats().map(|k| k.frames_free).unwrap_or(0);
    write(none + PAGE, 42);
    ok &= check(
        "mprotect-opens-reservation",
        r == 0 && read(none + PAGE) == 42 && before > after,
        format_args!("mprotect = {r}, frames_free {before} -> {after}"),
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
    status(ok)
}

/// Writes to a page made read-only: a permission fault, SIGSEGV.
fn ro_write() -> i32 {
    let p = map(PAGE, RW, ANON) as u64;
    let r = mprotect(p, PAGE, mman::PROT_READ);
    println!("mman: mprotect(PROT_READ) = {r}, writing");
    write(p, 1);
    println!("mman: the write went through");
    1
}

/// Reads a page made PROT_NONE: SIGSEGV.
fn none_read() -> i32 {
    let p = map(PAGE, RW, ANON) as u64;
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
        other => {
            println!("mman: unknown test {other:?} (checks, ro-write, none-read)");
            2
        }
    }
}
