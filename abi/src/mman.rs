//! `mmap(2)` protections and flags and `madvise(2)` advice
//! (include/uapi/asm-generic/mman-common.h, include/uapi/linux/mman.h).

/// No access.
pub const PROT_NONE: u64 = 0;
/// Readable.
pub const PROT_READ: u64 = 1;
/// Writable.
pub const PROT_WRITE: u64 = 2;
/// Executable.
pub const PROT_EXEC: u64 = 4;
/// Shared mapping.
pub const MAP_SHARED: u64 = 0x01;
/// Private mapping.
pub const MAP_PRIVATE: u64 = 0x02;
/// Place exactly at `addr`.
pub const MAP_FIXED: u64 = 0x10;
/// Not backed by a file.
pub const MAP_ANONYMOUS: u64 = 0x20;
/// Place exactly at `addr`, or fail with EEXIST if something is there.
pub const MAP_FIXED_NOREPLACE: u64 = 0x10_0000;
/// Stack-like segment that grows down.
pub const MAP_GROWSDOWN: u64 = 0x0100;
/// Do not reserve swap.
pub const MAP_NORESERVE: u64 = 0x4000;
/// Populate page tables now.
pub const MAP_POPULATE: u64 = 0x8000;
/// The mapping is a thread stack.
pub const MAP_STACK: u64 = 0x20000;

/// No special treatment.
pub const MADV_NORMAL: u64 = 0;
/// Expect random page references.
pub const MADV_RANDOM: u64 = 1;
/// Expect sequential page references.
pub const MADV_SEQUENTIAL: u64 = 2;
/// Will need these pages.
pub const MADV_WILLNEED: u64 = 3;
/// Drop these pages: private anonymous memory reads as zeroes afterwards.
pub const MADV_DONTNEED: u64 = 4;
/// The pages may be freed lazily: afterwards they read as the old data or zeroes.
pub const MADV_FREE: u64 = 8;
/// The last advice in the run from MADV_DONTFORK (10) to
/// MADV_DONTNEED_LOCKED (24), every one of them about forking, merging,
/// huge pages, dumping, reclaim or prefaulting.
pub const MADV_DONTFORK: u64 = 10;
/// MADV_DONTNEED that also drops locked pages.
pub const MADV_DONTNEED_LOCKED: u64 = 24;
