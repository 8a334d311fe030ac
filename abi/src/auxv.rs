//! Auxiliary vector entry types (include/uapi/linux/auxvec.h and
//! arch/arm64/include/uapi/asm/auxvec.h): the `(type, value)` pairs above
//! `envp` on a new process's stack.

/// End of the auxiliary vector.
pub const AT_NULL: u64 = 0;
/// Address of the program headers (`Elf::phdr_vaddr`).
pub const AT_PHDR: u64 = 3;
/// Size of one program header (56).
pub const AT_PHENT: u64 = 4;
/// Number of program headers.
pub const AT_PHNUM: u64 = 5;
/// Page size (4096).
pub const AT_PAGESZ: u64 = 6;
/// Base address of the interpreter (0: none).
pub const AT_BASE: u64 = 7;
/// Flags (0).
pub const AT_FLAGS: u64 = 8;
/// The program's entry point.
pub const AT_ENTRY: u64 = 9;
/// Real user ID.
pub const AT_UID: u64 = 11;
/// Effective user ID.
pub const AT_EUID: u64 = 12;
/// Real group ID.
pub const AT_GID: u64 = 13;
/// Effective group ID.
pub const AT_EGID: u64 = 14;
/// Address of the platform string ("aarch64").
pub const AT_PLATFORM: u64 = 15;
/// CPU capabilities (`HWCAP_*` of arch/arm64/include/uapi/asm/hwcap.h).
pub const AT_HWCAP: u64 = 16;
/// Frequency of `times()` (100).
pub const AT_CLKTCK: u64 = 17;
/// Secure mode (setuid); 0.
pub const AT_SECURE: u64 = 23;
/// Address of 16 random bytes (stack protector and pointer guard seeds).
pub const AT_RANDOM: u64 = 25;
/// More CPU capabilities (`HWCAP2_*`).
pub const AT_HWCAP2: u64 = 26;
/// `offsetof(struct rseq, end)`: 33 (see [`crate::rseq::RSEQ_FEATURE_SIZE`]).
pub const AT_RSEQ_FEATURE_SIZE: u64 = 27;
/// Required alignment of a long rseq area: 64 ([`crate::rseq::RSEQ_ALIGN`]).
pub const AT_RSEQ_ALIGN: u64 = 28;
/// Address of the executable's path name.
pub const AT_EXECFN: u64 = 31;
/// Minimal signal stack size the kernel needs for a signal frame.
pub const AT_MINSIGSTKSZ: u64 = 51;
