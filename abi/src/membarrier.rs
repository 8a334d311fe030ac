//! `membarrier(2)` commands (include/uapi/linux/membarrier.h,
//! `enum membarrier_cmd` and `enum membarrier_cmd_flag`).

/// `MEMBARRIER_CMD_QUERY`: returns the bit mask of supported commands.
pub const MEMBARRIER_CMD_QUERY: u64 = 0;
/// `MEMBARRIER_CMD_GLOBAL`: barrier on every CPU (not implemented here).
pub const MEMBARRIER_CMD_GLOBAL: u64 = 1 << 0;
/// `MEMBARRIER_CMD_GLOBAL_EXPEDITED` (not implemented here).
pub const MEMBARRIER_CMD_GLOBAL_EXPEDITED: u64 = 1 << 1;
/// `MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED` (not implemented here).
pub const MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED: u64 = 1 << 2;
/// `MEMBARRIER_CMD_PRIVATE_EXPEDITED`: barrier on every CPU running a thread
/// of the caller's process.
pub const MEMBARRIER_CMD_PRIVATE_EXPEDITED: u64 = 1 << 3;
/// `MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED`: required once before
/// [`MEMBARRIER_CMD_PRIVATE_EXPEDITED`].
pub const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: u64 = 1 << 4;
/// `MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE` (not implemented here).
pub const MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE: u64 = 1 << 5;
/// `MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE` (not implemented here).
pub const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE: u64 = 1 << 6;
/// `MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ`: abort (restart) the rseq
/// critical sections of the caller's threads running on other CPUs; v1 also
/// rewrites their ID fields (see the rseq modes).
pub const MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ: u64 = 1 << 7;
/// `MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ`: required once before
/// [`MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ`].
pub const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ: u64 = 1 << 8;
/// `MEMBARRIER_CMD_GET_REGISTRATIONS`: the commands registered so far (not
/// implemented here).
pub const MEMBARRIER_CMD_GET_REGISTRATIONS: u64 = 1 << 9;
/// `MEMBARRIER_CMD_FLAG_CPU` (`enum membarrier_cmd_flag`): target only the
/// CPU given in the third argument (with the `_RSEQ` command).
pub const MEMBARRIER_CMD_FLAG_CPU: u64 = 1 << 0;
