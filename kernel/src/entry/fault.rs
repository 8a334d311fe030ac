//! What a synchronous exception from EL0 means for the task that took it.
//!
//! Mirrors the dispatch of Linux's `el0t_64_sync_handler()`
//! (arch/arm64/kernel/entry-common.c) and the signals it ends in: `fault_info[]`
//! and `do_mem_abort()` / `do_sp_pc_abort()` in arch/arm64/mm/fault.c,
//! `do_el0_undef()`, `do_el0_sys()`, `bad_el0_sync()` in
//! arch/arm64/kernel/traps.c, and the debug exceptions of
//! arch/arm64/kernel/debug-monitors.c. A translation fault may be demand
//! paging's ([`demand_fault`]: the caller asks `mm::fault` first); any
//! other abort, and a translation fault no area allows, is final: the
//! caller delivers the signal.
//!
//! Pure: decides from the syndrome alone, unit-tested on the host.

use arch::esr::{Esr, ExceptionClass};

/// A signal number, as in Linux's `include/uapi/asm-generic/signal.h`
/// (the numbering arm64 uses; the numbers are `abi::signal`'s).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Signal(pub u8);

impl Signal {
    /// Illegal instruction.
    pub const SIGILL: Signal = Signal(abi::signal::SIGILL as u8);
    /// Trace/breakpoint trap.
    pub const SIGTRAP: Signal = Signal(abi::signal::SIGTRAP as u8);
    /// Abort (`abort()`).
    pub const SIGABRT: Signal = Signal(abi::signal::SIGABRT as u8);
    /// Bus error: misalignment, external abort.
    pub const SIGBUS: Signal = Signal(abi::signal::SIGBUS as u8);
    /// Floating-point exception.
    pub const SIGFPE: Signal = Signal(abi::signal::SIGFPE as u8);
    /// Kill, cannot be caught.
    pub const SIGKILL: Signal = Signal(abi::signal::SIGKILL as u8);
    /// Invalid memory reference.
    pub const SIGSEGV: Signal = Signal(abi::signal::SIGSEGV as u8);

    /// The conventional name, e.g. `"SIGSEGV"`, or `"SIG?"` for a number
    /// without a constant here.
    pub const fn name(self) -> &'static str {
        match self {
            Self::SIGILL => "SIGILL",
            Self::SIGTRAP => "SIGTRAP",
            Self::SIGABRT => "SIGABRT",
            Self::SIGBUS => "SIGBUS",
            Self::SIGFPE => "SIGFPE",
            Self::SIGKILL => "SIGKILL",
            Self::SIGSEGV => "SIGSEGV",
            _ => "SIG?",
        }
    }
}

/// Why EL0 entered the kernel synchronously.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum El0Sync {
    /// `svc #imm` from AArch64: dispatch the syscall in x8.
    Syscall,
    /// The task faulted; deliver `signal` to it.
    Fault {
        /// The signal Linux would deliver for this syndrome.
        signal: Signal,
    },
}

/// Classifies a synchronous exception taken from EL0 (Linux
/// `el0t_64_sync_handler()`):
///
/// - SVC64 → [`El0Sync::Syscall`].
/// - Instruction/data aborts from EL0 → the signal of `fault_info[]` for the
///   fault status code ([`abort_signal`]).
/// - PC and SP alignment → SIGBUS (`do_sp_pc_abort()`).
/// - BRK, breakpoints, software step and watchpoints from EL0 → SIGTRAP
///   (`el0_dbg()`; nobody is debugging, so each is simply a trap).
/// - Trapped FP exception → SIGFPE (`el0_fpsimd_exc()` → `do_fpsimd_exc()`).
/// - Unknown (undefined instruction), illegal execution state, trapped
///   system register access, and every class that cannot come from EL0
///   (same-EL aborts and debug events, SError, unallocated ECs) → SIGILL, as
///   `do_el0_undef()`, `do_el0_sys()` and `bad_el0_sync()` do.
/// - Trapped WFI/WFE and FP/SIMD access → SIGILL too. Linux emulates the
///   first (`wfi_handler()`) and lazily loads FP state on the second
///   (`do_fpsimd_acc()`); we leave WFx untrapped and FP enabled at EL0
///   (FP state is switched with the task), so either trap means EL0 ran
///   with a configuration it should not have.
pub fn classify_el0_sync(esr: Esr) -> El0Sync {
    let signal = match esr.class() {
        ExceptionClass::Svc64 => return El0Sync::Syscall,
        ExceptionClass::InstAbortLower | ExceptionClass::DataAbortLower => {
            abort_signal(esr.abort_fsc())
        }
        ExceptionClass::PcAlignment | ExceptionClass::SpAlignment => Signal::SIGBUS,
        ExceptionClass::Brk64
        | ExceptionClass::BreakpointLower
        | ExceptionClass::SoftwareStepLower
        | ExceptionClass::WatchpointLower => Signal::SIGTRAP,
        ExceptionClass::FpExc64 => Signal::SIGFPE,
        ExceptionClass::Unknown
        | ExceptionClass::Wfx
        | ExceptionClass::SimdFp
        | ExceptionClass::IllegalState
        | ExceptionClass::SysReg
        | ExceptionClass::InstAbortSame
        | ExceptionClass::DataAbortSame
        | ExceptionClass::SError
        | ExceptionClass::BreakpointSame
        | ExceptionClass::SoftwareStepSame
        | ExceptionClass::WatchpointSame
        | ExceptionClass::Other(_) => Signal::SIGILL,
    };
    El0Sync::Fault { signal }
}

/// The signal for an EL0 instruction or data abort with fault status code
/// `fsc`, as in Linux's `fault_info[]`:
///
/// - translation (levels -1..3), access flag and permission faults, and
///   MTE tag check faults → SIGSEGV;
/// - alignment faults, synchronous external aborts and parity/ECC errors
///   not on a table walk, and unsupported exclusive/atomic accesses
///   → SIGBUS;
/// - everything else (address size faults, external aborts or parity
///   errors during a table walk, TLB conflicts, reserved codes) → SIGKILL:
///   the page tables or the machine are broken, not the program.
pub const fn abort_signal(fsc: u8) -> Signal {
    match fsc & 0x3f {
        0x04..=0x0f | 0x2b | 0x11 => Signal::SIGSEGV,
        0x10 | 0x18 | 0x21 | 0x35 => Signal::SIGBUS,
        _ => Signal::SIGKILL,
    }
}

/// What a faulting access wanted (Linux's `VM_READ`/`VM_WRITE`/`VM_EXEC`
/// fault flags).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// A load (or a cache maintenance operation).
    Read,
    /// A store.
    Write,
    /// An instruction fetch.
    Exec,
}

/// ESR ISS bit: the abort was caused by a write (WnR).
const ISS_WNR: u64 = 1 << 6;
/// ESR ISS bit: a cache maintenance operation (reported with WnR set).
const ISS_CM: u64 = 1 << 8;

/// Whether `esr` is an abort that demand paging may satisfy, and for
/// which access: a translation fault (levels 0 to 3) from a data or
/// instruction abort, at EL0 or from the kernel's own user accesses
/// (Linux's `do_translation_fault()` → `do_page_fault()`). Permission,
/// access-flag and every other fault are final.
pub fn demand_fault(esr: Esr) -> Option<Access> {
    let translation = matches!(esr.abort_fsc() & 0x3f, 0x04..=0x07);
    match esr.class() {
        _ if !translation => None,
        ExceptionClass::InstAbortLower | ExceptionClass::InstAbortSame => Some(Access::Exec),
        ExceptionClass::DataAbortLower | ExceptionClass::DataAbortSame => {
            Some(if esr.0 & ISS_WNR != 0 && esr.0 & ISS_CM == 0 {
                Access::Write
            } else {
                Access::Read
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translation_faults_are_demand_faults() {
        // Data abort from EL0, write, translation fault level 3.
        assert_eq!(demand_fault(Esr(0x9200_0047)), Some(Access::Write));
        // Read, translation fault level 0 and 2.
        assert_eq!(demand_fault(Esr(0x9200_0004)), Some(Access::Read));
        assert_eq!(demand_fault(Esr(0x9200_0006)), Some(Access::Read));
        // Cache maintenance reports WnR but reads.
        assert_eq!(demand_fault(Esr(0x9200_0147)), Some(Access::Read));
        // Instruction fetch, translation fault level 3.
        assert_eq!(demand_fault(Esr(0x8200_0007)), Some(Access::Exec));
        // From the kernel's user access (data abort from EL1), a store.
        assert_eq!(demand_fault(Esr(0x9600_0047)), Some(Access::Write));
        // Permission, access flag, alignment: final.
        assert_eq!(demand_fault(Esr(0x9200_004f)), None);
        assert_eq!(demand_fault(Esr(0x9200_000a)), None);
        assert_eq!(demand_fault(Esr(0x9200_0021)), None);
        // Not an abort.
        assert_eq!(demand_fault(Esr(0x5600_0007)), None);
    }

    fn signal_of(esr: u64) -> Signal {
        match classify_el0_sync(Esr(esr)) {
            El0Sync::Fault { signal } => signal,
            El0Sync::Syscall => panic!("{esr:#x} classified as a syscall"),
        }
    }

    #[test]
    fn svc_is_a_syscall() {
        assert_eq!(classify_el0_sync(Esr(0x5600_0000)), El0Sync::Syscall);
        assert_eq!(classify_el0_sync(Esr(0x5600_0001)), El0Sync::Syscall);
    }

    #[test]
    fn memory_faults_are_sigsegv() {
        // Data abort from EL0, write, translation fault level 3.
        assert_eq!(signal_of(0x9200_0047), Signal::SIGSEGV);
        // Read, permission fault level 3 (e.g. a store to .text reads as WnR=1,
        // a load from a kernel-only page as WnR=0).
        assert_eq!(signal_of(0x9200_000f), Signal::SIGSEGV);
        // Access flag fault level 2.
        assert_eq!(signal_of(0x9200_000a), Signal::SIGSEGV);
        // Instruction abort from EL0, translation fault level 2.
        assert_eq!(signal_of(0x8200_0006), Signal::SIGSEGV);
        // Instruction abort, permission fault level 3 (executing a NX page).
        assert_eq!(signal_of(0x8200_000f), Signal::SIGSEGV);
        // Translation fault level -1 (FEAT_LPA2).
        assert_eq!(signal_of(0x9200_002b), Signal::SIGSEGV);
    }

    #[test]
    fn alignment_and_external_aborts_are_sigbus() {
        assert_eq!(signal_of(0x9200_0021), Signal::SIGBUS, "alignment fault");
        assert_eq!(
            signal_of(0x9200_0010),
            Signal::SIGBUS,
            "synchronous external abort"
        );
        assert_eq!(signal_of(0x8200_0010), Signal::SIGBUS, "SEA on fetch");
        assert_eq!(signal_of(0x8a00_0000), Signal::SIGBUS, "PC alignment");
        assert_eq!(signal_of(0x9a00_0000), Signal::SIGBUS, "SP alignment");
    }

    #[test]
    fn broken_translation_is_sigkill() {
        assert_eq!(
            signal_of(0x9200_0000),
            Signal::SIGKILL,
            "address size fault"
        );
        assert_eq!(signal_of(0x9200_0017), Signal::SIGKILL, "SEA on table walk");
        assert_eq!(signal_of(0x9200_0030), Signal::SIGKILL, "TLB conflict");
    }

    #[test]
    fn undefined_and_trapped_instructions_are_sigill() {
        assert_eq!(signal_of(0x0200_0000), Signal::SIGILL, "undefined");
        assert_eq!(signal_of(0x3a00_0000), Signal::SIGILL, "illegal state");
        assert_eq!(signal_of(0x6200_0000), Signal::SIGILL, "sysreg trap");
        assert_eq!(signal_of(0x1e00_0000), Signal::SIGILL, "FP/SIMD trap");
        assert_eq!(signal_of(0x0600_0000), Signal::SIGILL, "WFI trap");
        assert_eq!(
            signal_of(0xe800_0000),
            Signal::SIGILL,
            "unallocated EC 0x3a"
        );
        // Same-EL classes cannot come from EL0: Linux's bad_el0_sync().
        assert_eq!(
            signal_of(0x9600_0047),
            Signal::SIGILL,
            "data abort from EL1"
        );
    }

    #[test]
    fn debug_exceptions_are_sigtrap() {
        assert_eq!(signal_of(0xf200_0000), Signal::SIGTRAP, "brk #0");
        assert_eq!(signal_of(0xf200_45e0), Signal::SIGTRAP, "rseq signature");
        assert_eq!(signal_of(0xc200_0000), Signal::SIGTRAP, "breakpoint");
        assert_eq!(signal_of(0xca00_0000), Signal::SIGTRAP, "software step");
        assert_eq!(signal_of(0xd200_0000), Signal::SIGTRAP, "watchpoint");
    }

    #[test]
    fn fp_exception_is_sigfpe() {
        assert_eq!(signal_of(0xb200_0000), Signal::SIGFPE);
    }

    #[test]
    fn signal_names() {
        assert_eq!(Signal::SIGILL, Signal(4));
        assert_eq!(Signal::SIGSEGV, Signal(11));
        assert_eq!(Signal::SIGSEGV.name(), "SIGSEGV");
        assert_eq!(Signal::SIGBUS.name(), "SIGBUS");
        assert_eq!(Signal::SIGKILL.name(), "SIGKILL");
        assert_eq!(Signal::SIGTRAP.name(), "SIGTRAP");
        assert_eq!(Signal::SIGILL.name(), "SIGILL");
        assert_eq!(Signal::SIGABRT.name(), "SIGABRT");
        assert_eq!(Signal::SIGFPE.name(), "SIGFPE");
        assert_eq!(Signal(3).name(), "SIG?");
    }
}
