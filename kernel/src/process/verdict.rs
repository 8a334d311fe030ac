//! How the app ends, as a value: the layer that finds the reason (the exit
//! path, signal delivery, a syscall, the rseq hooks) returns a [`Verdict`]
//! instead of ending the app where it stands, and `process::end` acts on it
//! in one place. (Hubris's split: recoverable errors are errnos, the rest
//! are values that reach one supervisor.)

use crate::entry::fault::Signal;
use arch::esr::Esr;
use core::fmt;

/// The end of the app.
#[derive(Clone, Copy, Debug)]
pub enum Verdict {
    /// The last thread exited, or a thread called exit_group: `[exit]`.
    Exit(u32),
    /// The kernel ends it with a signal: `[kill]`.
    Kill(Kill),
}

/// A fatal signal for thread `tid` and why (Linux: the signal the kernel
/// forces, or a signal whose default action ends the process).
#[derive(Clone, Copy, Debug)]
pub struct Kill {
    /// The thread the verdict is about.
    pub tid: u32,
    /// The signal; the app's status is 128 + its number.
    pub signal: Signal,
    /// What happened, for the report.
    pub why: Why,
}

/// What the `[kill]` report says beyond the signal.
#[derive(Clone, Copy, Debug)]
pub enum Why {
    /// A fault: its registers.
    Fault(FaultReport),
    /// Signal `sig`, whose default action is fatal, sent by `pid` (`si_code`).
    Sent { sig: u32, pid: i32, code: i32 },
    /// An rseq area or critical section the kernel cannot use.
    Rseq(rseq::Fatal),
    /// The frame for a handler of `sig` could not be written below `sp`.
    SignalFrame { sig: Signal, sp: u64, pc: u64 },
    /// rt_sigreturn found a frame it cannot restore.
    Sigreturn {
        what: &'static str,
        sp: u64,
        pc: u64,
    },
}

/// A fault's registers, for the kill report.
#[derive(Clone, Copy, Debug)]
pub struct FaultReport {
    /// ESR_EL1 of the fault.
    pub esr: Esr,
    /// FAR_EL1 (the faulting data address, or the PC for instruction aborts).
    pub far: u64,
    /// ELR_EL1: the faulting instruction.
    pub elr: u64,
    /// The fault was valid, but no frame was left for the page: the app
    /// ends as Linux's OOM killer would end the only process.
    pub out_of_memory: bool,
}

impl Kill {
    /// SIGSEGV for an rseq state the kernel cannot continue with (Linux's
    /// `force_sig(SIGSEGV)` from the rseq code).
    pub fn rseq(tid: u32, fatal: rseq::Fatal) -> Kill {
        Kill {
            tid,
            signal: Signal::SIGSEGV,
            why: Why::Rseq(fatal),
        }
    }
}

impl From<Kill> for Verdict {
    fn from(k: Kill) -> Verdict {
        Verdict::Kill(k)
    }
}

impl Verdict {
    /// The status QEMU (or the board) exits with.
    pub fn status(&self) -> u32 {
        match self {
            Verdict::Exit(status) => *status,
            Verdict::Kill(k) => 128 + u32::from(k.signal.0),
        }
    }
}

/// The fields of a `[kill]` line after `signal=NAME` (tests parse them).
impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Why::Fault(r) if r.out_of_memory => write!(
                f,
                "esr={:#x} ec={:#04x} far={:#x} elr={:#x} what=\"out of memory: no frame for the page\"",
                r.esr.0,
                r.esr.ec(),
                r.far,
                r.elr,
            ),
            Why::Fault(r) => write!(
                f,
                "esr={:#x} ec={:#04x} far={:#x} elr={:#x} what=\"{}\"",
                r.esr.0,
                r.esr.ec(),
                r.far,
                r.elr,
                r.esr
            ),
            Why::Sent { sig, pid, code } => {
                write!(f, "sig={sig} what=\"signal from pid {pid} (code {code})\"")
            }
            Why::Rseq(fatal) => write!(f, "what=\"{fatal}\""),
            Why::SignalFrame { sig, sp, pc } => write!(
                f,
                "what=\"cannot write the signal frame for signal {} below sp={sp:#x} (pc={pc:#x})\"",
                sig.name()
            ),
            Why::Sigreturn { what, sp, pc } => {
                write!(
                    f,
                    "what=\"rt_sigreturn: {what} at sp={sp:#x} (pc={pc:#x})\""
                )
            }
        }
    }
}
