//! [`Fatal`]: why a task's rseq use must end it, as the kill report
//! prints it.

use core::fmt;

/// Why a task must die (the kernel prints it in the kill report, then SIGSEGV).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fatal {
    /// User memory unreachable in the slow path.
    Fault,
    /// The 4 bytes before `abort_ip` are not the registered signature.
    BadSignature {
        /// The abort address of the critical section.
        abort_ip: u64,
        /// The word found at `abort_ip - 4`.
        found: u32,
    },
    /// `abort_ip` is below 4 or not a user address.
    BadAbortIp(u64),
    /// `rseq_cs` points outside user space (Linux: `csaddr >= TASK_SIZE`).
    BadCsAddr(u64),
    /// A read-only ID field no longer holds what the kernel wrote (v2, and
    /// debug mode).
    ReadOnlyOverwritten {
        /// `cpu_id_start`, `cpu_id`, `node_id` or `mm_cid`.
        field: &'static str,
        /// The value found.
        found: u32,
        /// The value the kernel last wrote.
        expected: u32,
    },
    /// Debug mode: an invalid critical section descriptor.
    DebugCs(&'static str),
    /// Debug mode: a syscall issued from inside a critical section.
    SyscallInCs {
        /// The user IP of the syscall.
        ip: u64,
    },
    /// Time slice extension: `slice_ctrl` in a state the kernel did not
    /// create (e.g. `granted` set by the task itself).
    SliceCtrl {
        /// What was wrong.
        why: &'static str,
        /// The `slice_ctrl` word found.
        found: u32,
    },
}

impl fmt::Display for Fatal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Fatal::Fault => {
                f.write_str("rseq: rseq area or critical section descriptor unreachable")
            }
            Fatal::BadSignature { abort_ip, found } => write!(
                f,
                "rseq: bad signature before abort_ip {abort_ip:#x} (found {found:#010x})"
            ),
            Fatal::BadAbortIp(ip) => {
                write!(f, "rseq: abort_ip {ip:#x} is not a user address >= 4")
            }
            Fatal::BadCsAddr(a) => write!(f, "rseq: rseq_cs {a:#x} is not a user address"),
            Fatal::ReadOnlyOverwritten {
                field,
                found,
                expected,
            } => write!(
                f,
                "rseq: read-only field {field} overwritten (found {found:#x}, kernel wrote {expected:#x})"
            ),
            Fatal::DebugCs(why) => write!(f, "rseq (debug): invalid critical section: {why}"),
            Fatal::SliceCtrl { why, found } => {
                write!(f, "rseq: inconsistent slice_ctrl {found:#010x}: {why}")
            }
            Fatal::SyscallInCs { ip } => {
                write!(
                    f,
                    "rseq (debug): syscall inside a critical section at {ip:#x}"
                )
            }
        }
    }
}
