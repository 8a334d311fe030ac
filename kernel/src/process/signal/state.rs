//! Per-thread signal state: what `Task` holds (the masks and the queued
//! signals' info). Types only, below the scheduler.

pub use crate::process::verdict::FaultReport;
use crate::syscall::error::Errno;
use abi::errno::{EINVAL, ENOMEM, EPERM};
use abi::signal::{MINSIGSTKSZ, NSIG, SS_AUTODISARM, SS_DISABLE, SS_ONSTACK, StackT};

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
    /// The alternate signal stack (`sigaltstack`): Linux's `sas_ss_sp`,
    /// `sas_ss_size`, `sas_ss_flags`; size 0 when there is none.
    pub altstack: StackT,
    /// The mask to go back to once a signal that interrupted ppoll (with
    /// its own mask in force) has been handled (Linux's `saved_sigmask`
    /// with TIF_RESTORE_SIGMASK): the handler's frame records it, or it is
    /// restored when no handler runs.
    pub saved_mask: Option<u64>,
    /// What `restart_syscall` continues when a sleep that a signal
    /// interrupted is restarted with no handler run (Linux's
    /// `restart_block`).
    pub restart: RestartBlock,
}

/// Linux's `restart_block`: the state a sleep leaves for
/// `restart_syscall` when it returns `ERESTART_RESTARTBLOCK`. Without one
/// (`None`, Linux's `do_no_restart_syscall`) `restart_syscall` is `EINTR`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RestartBlock {
    /// Nothing to continue.
    #[default]
    None,
    /// A relative nanosleep/clock_nanosleep: its end in nanoseconds of
    /// the counter since boot, and where the time left goes (0: nowhere).
    Nanosleep {
        /// The absolute end of the sleep.
        end_ns: u128,
        /// `rmtp`, or 0.
        rem: u64,
    },
    /// A FUTEX_WAIT or FUTEX_WAIT_BITSET with a timeout.
    FutexWait {
        /// The futex word.
        uaddr: u64,
        /// The value it must still hold.
        val: u32,
        /// The wake-up bitset.
        bitset: u32,
        /// The absolute timeout, a counter value.
        deadline: u64,
    },
}

impl Default for SigState {
    fn default() -> Self {
        SigState {
            blocked: 0,
            pending: 0,
            info: [KSigInfo::default(); NSIG],
            altstack: NO_ALTSTACK,
            saved_mask: None,
            restart: RestartBlock::None,
        }
    }
}

/// A thread's alternate stack before it sets one (Linux's `sas_ss_reset`).
const NO_ALTSTACK: StackT = StackT {
    ss_sp: 0,
    ss_flags: SS_DISABLE,
    _pad: 0,
    ss_size: 0,
};

impl SigState {
    /// Linux's `on_sig_stack(sp)`: `sp` is inside the alternate stack
    /// (never with SS_AUTODISARM, which disarms it while in use).
    pub fn on_altstack(&self, sp: u64) -> bool {
        let a = &self.altstack;
        a.ss_flags & SS_AUTODISARM == 0 && sp > a.ss_sp && sp - a.ss_sp <= a.ss_size
    }

    /// Linux's `sas_ss_flags(sp)`: SS_DISABLE without a stack, SS_ONSTACK
    /// on it, else 0.
    pub fn altstack_flags(&self, sp: u64) -> i32 {
        if self.altstack.ss_size == 0 {
            SS_DISABLE
        } else if self.on_altstack(sp) {
            SS_ONSTACK
        } else {
            0
        }
    }

    /// What `sigaltstack` reports as the old stack for a thread at `sp`.
    pub fn altstack_report(&self, sp: u64) -> StackT {
        StackT {
            ss_flags: self.altstack_flags(sp) | (self.altstack.ss_flags & SS_AUTODISARM),
            ..self.altstack
        }
    }

    /// Linux's `do_sigaltstack` with a new stack, for a thread at `sp`:
    /// `EPERM` while on the current one, `EINVAL` for a mode other than
    /// 0, SS_ONSTACK or SS_DISABLE (SS_AUTODISARM may be added),
    /// `ENOMEM` below MINSIGSTKSZ; SS_DISABLE clears it.
    pub fn set_altstack(&mut self, new: StackT, sp: u64) -> Result<(), Errno> {
        if self.on_altstack(sp) {
            return Err(Errno(EPERM));
        }
        let mode = new.ss_flags & !SS_AUTODISARM;
        if mode != SS_DISABLE && mode != SS_ONSTACK && mode != 0 {
            return Err(Errno(EINVAL));
        }
        let a = &self.altstack;
        if (a.ss_sp, a.ss_size, a.ss_flags) == (new.ss_sp, new.ss_size, new.ss_flags) {
            return Ok(());
        }
        let (ss_sp, ss_size) = if mode == SS_DISABLE {
            (0, 0)
        } else if new.ss_size < MINSIGSTKSZ {
            return Err(Errno(ENOMEM));
        } else {
            (new.ss_sp, new.ss_size)
        };
        self.altstack = StackT {
            ss_sp,
            ss_flags: new.ss_flags,
            _pad: 0,
            ss_size,
        };
        Ok(())
    }

    /// After a signal is delivered on a stack with SS_AUTODISARM: no
    /// alternate stack until rt_sigreturn restores it.
    pub fn disarm_altstack(&mut self) {
        if self.altstack.ss_flags & SS_AUTODISARM != 0 {
            self.altstack = NO_ALTSTACK;
        }
    }
}

/// The bit of signal `sig` in a mask (bit n-1 = signal n).
pub fn bit(sig: u32) -> u64 {
    1 << (sig - 1)
}
