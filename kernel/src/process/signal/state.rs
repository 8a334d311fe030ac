//! Per-thread signal state: what `Task` holds (the masks and the queued
//! signals' info). Types only, below the scheduler.

pub use crate::process::verdict::FaultReport;
use abi::signal::NSIG;

/// SIGKILL: cannot be caught or blocked.
pub const SIGKILL: u32 = abi::signal::SIGKILL as u32;
/// SIGSTOP: cannot be caught or blocked (stopping is not supported: fatal).
pub const SIGSTOP: u32 = abi::signal::SIGSTOP as u32;
/// What a queued signal carries (the `siginfo` we fill, plus the report).
#[derive(Clone, Copy, Debug, Default)]
pub struct KSigInfo {
    /// `si_code`.
    pub code: i32,
    /// `si_pid` of the sender (kill/tgkill).
    pub pid: i32,
    /// `si_addr` (faults).
    pub addr: u64,
    /// Set when raised by a fault: the signal is forced (unblocked, default
    /// if ignored) and its report printed if fatal.
    pub fault: Option<FaultReport>,
}

/// Per-thread signal state.
#[derive(Clone, Copy, Debug)]
pub struct SigState {
    /// Blocked signals (bit n-1 = signal n).
    pub blocked: u64,
    /// Pending signals.
    pub pending: u64,
    /// Their info.
    pub info: [KSigInfo; NSIG],
}

impl Default for SigState {
    fn default() -> Self {
        SigState {
            blocked: 0,
            pending: 0,
            info: [KSigInfo::default(); NSIG],
        }
    }
}

/// The bit of signal `sig` in a mask (bit n-1 = signal n).
pub fn bit(sig: u32) -> u64 {
    1 << (sig - 1)
}
