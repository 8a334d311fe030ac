//! Decoding of `ESR_EL1`, the Exception Syndrome Register.
//!
//! On a synchronous exception the CPU records *why* in ESR_EL1: the exception
//! class (EC, bits 31:26), whether the trapped instruction was 32 bits
//! (IL, bit 25), a class-specific syndrome (ISS, bits 24:0) and, with newer
//! extensions, ISS2 (bits 55:32). This module turns the raw value into types
//! so that handlers `match` on meaning; it mirrors the EC and ISS definitions
//! of Linux's `arch/arm64/include/asm/esr.h`, the class names of
//! `esr_class_str()` (arch/arm64/kernel/traps.c) and the fault-status names
//! of `fault_info[]` (arch/arm64/mm/fault.c).
//!
//! The kernel runs at EL1, so "lower EL" in the architecture's names is EL0
//! here and "same EL" is EL1; the human-readable names say so.
//!
//! Pure bit arithmetic: built and unit-tested on the host.

use core::fmt;

/// A raw `ESR_EL1` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Esr(pub u64);

/// The exception class, `ESR_ELx.EC` (Linux `ESR_ELx_EC_*`).
///
/// Only the classes this kernel can meet are named; everything else decodes
/// to [`ExceptionClass::Other`] with the raw EC. [`ExceptionClass::from_ec`]
/// never produces `Other` for a value that has a named variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExceptionClass {
    /// 0x00 `ESR_ELx_EC_UNKNOWN`: an undefined or unallocated instruction.
    Unknown,
    /// 0x01 `ESR_ELx_EC_WFx`: trapped WFI/WFE.
    Wfx,
    /// 0x07 `ESR_ELx_EC_FP_ASIMD`: FP/SIMD access trapped by CPACR_EL1.FPEN.
    SimdFp,
    /// 0x0e `ESR_ELx_EC_ILL`: illegal execution state (bad PSTATE on `eret`).
    IllegalState,
    /// 0x15 `ESR_ELx_EC_SVC64`: `svc` from AArch64.
    Svc64,
    /// 0x18 `ESR_ELx_EC_SYS64`: trapped MSR/MRS/system instruction.
    SysReg,
    /// 0x20 `ESR_ELx_EC_IABT_LOW`: instruction abort from EL0.
    InstAbortLower,
    /// 0x21 `ESR_ELx_EC_IABT_CUR`: instruction abort from EL1.
    InstAbortSame,
    /// 0x22 `ESR_ELx_EC_PC_ALIGN`: misaligned PC.
    PcAlignment,
    /// 0x24 `ESR_ELx_EC_DABT_LOW`: data abort from EL0.
    DataAbortLower,
    /// 0x25 `ESR_ELx_EC_DABT_CUR`: data abort from EL1.
    DataAbortSame,
    /// 0x26 `ESR_ELx_EC_SP_ALIGN`: misaligned SP.
    SpAlignment,
    /// 0x2c `ESR_ELx_EC_FP_EXC64`: trapped floating-point exception.
    FpExc64,
    /// 0x2f `ESR_ELx_EC_SERROR`: SError interrupt.
    SError,
    /// 0x30 `ESR_ELx_EC_BREAKPT_LOW`: hardware breakpoint from EL0.
    BreakpointLower,
    /// 0x31 `ESR_ELx_EC_BREAKPT_CUR`: hardware breakpoint from EL1.
    BreakpointSame,
    /// 0x32 `ESR_ELx_EC_SOFTSTP_LOW`: software step from EL0.
    SoftwareStepLower,
    /// 0x33 `ESR_ELx_EC_SOFTSTP_CUR`: software step from EL1.
    SoftwareStepSame,
    /// 0x34 `ESR_ELx_EC_WATCHPT_LOW`: watchpoint from EL0.
    WatchpointLower,
    /// 0x35 `ESR_ELx_EC_WATCHPT_CUR`: watchpoint from EL1.
    WatchpointSame,
    /// 0x3c `ESR_ELx_EC_BRK64`: `brk` instruction.
    Brk64,
    /// Any other class, with its raw EC value.
    Other(u8),
}

impl ExceptionClass {
    /// Decodes a 6-bit EC value.
    pub const fn from_ec(ec: u8) -> Self {
        match ec {
            0x00 => Self::Unknown,
            0x01 => Self::Wfx,
            0x07 => Self::SimdFp,
            0x0e => Self::IllegalState,
            0x15 => Self::Svc64,
            0x18 => Self::SysReg,
            0x20 => Self::InstAbortLower,
            0x21 => Self::InstAbortSame,
            0x22 => Self::PcAlignment,
            0x24 => Self::DataAbortLower,
            0x25 => Self::DataAbortSame,
            0x26 => Self::SpAlignment,
            0x2c => Self::FpExc64,
            0x2f => Self::SError,
            0x30 => Self::BreakpointLower,
            0x31 => Self::BreakpointSame,
            0x32 => Self::SoftwareStepLower,
            0x33 => Self::SoftwareStepSame,
            0x34 => Self::WatchpointLower,
            0x35 => Self::WatchpointSame,
            0x3c => Self::Brk64,
            other => Self::Other(other),
        }
    }

    /// The raw 6-bit EC value (inverse of [`ExceptionClass::from_ec`]).
    pub const fn ec(&self) -> u8 {
        match *self {
            Self::Unknown => 0x00,
            Self::Wfx => 0x01,
            Self::SimdFp => 0x07,
            Self::IllegalState => 0x0e,
            Self::Svc64 => 0x15,
            Self::SysReg => 0x18,
            Self::InstAbortLower => 0x20,
            Self::InstAbortSame => 0x21,
            Self::PcAlignment => 0x22,
            Self::DataAbortLower => 0x24,
            Self::DataAbortSame => 0x25,
            Self::SpAlignment => 0x26,
            Self::FpExc64 => 0x2c,
            Self::SError => 0x2f,
            Self::BreakpointLower => 0x30,
            Self::BreakpointSame => 0x31,
            Self::SoftwareStepLower => 0x32,
            Self::SoftwareStepSame => 0x33,
            Self::WatchpointLower => 0x34,
            Self::WatchpointSame => 0x35,
            Self::Brk64 => 0x3c,
            Self::Other(ec) => ec,
        }
    }

    /// A human-readable name for logs and panic messages (the meaning of
    /// Linux's `esr_class_str()`, spelled out).
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Unknown => "undefined instruction (unknown reason)",
            Self::Wfx => "WFI/WFE instruction trapped",
            Self::SimdFp => "FP/SIMD access trapped",
            Self::IllegalState => "illegal execution state",
            Self::Svc64 => "SVC from AArch64",
            Self::SysReg => "MSR/MRS/system instruction trapped",
            Self::InstAbortLower => "instruction abort from EL0",
            Self::InstAbortSame => "instruction abort from EL1",
            Self::PcAlignment => "PC alignment fault",
            Self::DataAbortLower => "data abort from EL0",
            Self::DataAbortSame => "data abort from EL1",
            Self::SpAlignment => "SP alignment fault",
            Self::FpExc64 => "floating-point exception",
            Self::SError => "SError interrupt",
            Self::BreakpointLower => "breakpoint from EL0",
            Self::BreakpointSame => "breakpoint from EL1",
            Self::SoftwareStepLower => "software step from EL0",
            Self::SoftwareStepSame => "software step from EL1",
            Self::WatchpointLower => "watchpoint from EL0",
            Self::WatchpointSame => "watchpoint from EL1",
            Self::Brk64 => "BRK instruction",
            Self::Other(_) => "unknown exception class",
        }
    }

    /// True for instruction and data aborts, whose ISS carries a fault
    /// status code ([`Esr::abort_fsc`]).
    pub const fn is_abort(&self) -> bool {
        matches!(
            self,
            Self::InstAbortLower | Self::InstAbortSame | Self::DataAbortLower | Self::DataAbortSame
        )
    }

    /// True for data aborts, whose ISS also says read or write.
    pub const fn is_data_abort(&self) -> bool {
        matches!(self, Self::DataAbortLower | Self::DataAbortSame)
    }
}

/// `ESR_ELx_WNR`: data abort ISS bit 6, "write not read".
const ISS_DABT_WNR: u32 = 1 << 6;
/// `ESR_ELx_CM`: data abort ISS bit 8, caused by a cache maintenance
/// instruction (which also reports WnR = 1).
const ISS_DABT_CM: u32 = 1 << 8;
/// `ESR_ELx_FSC`: the fault status code, ISS bits 5:0.
const ISS_FSC_MASK: u32 = 0x3f;

/// Where the exception class field starts (ESR_ELx.EC, bits 31:26).
pub const EC_SHIFT: u32 = 26;

impl Esr {
    /// The exception class field, bits 31:26.
    pub const fn ec(self) -> u8 {
        ((self.0 >> EC_SHIFT) & 0x3f) as u8
    }

    /// The instruction-specific syndrome, bits 24:0.
    pub const fn iss(self) -> u32 {
        (self.0 & 0x01ff_ffff) as u32
    }

    /// ISS2, bits 55:32 (zero unless FEAT_LS64/FEAT_GCS/... report there).
    pub const fn iss2(self) -> u32 {
        ((self.0 >> 32) & 0x00ff_ffff) as u32
    }

    /// The instruction length bit (25): true for a 32-bit instruction, which
    /// every A64 instruction is; false only for classes that have no
    /// instruction (e.g. SError, some unknown-reason exceptions).
    pub const fn il(self) -> bool {
        self.0 & (1 << 25) != 0
    }

    /// The decoded exception class.
    pub const fn class(self) -> ExceptionClass {
        ExceptionClass::from_ec(self.ec())
    }

    /// The fault status code of an instruction or data abort (ISS bits 5:0,
    /// IFSC/DFSC); see [`fault_status_name`] and [`fault_level`]. Meaningless
    /// for other classes.
    pub const fn abort_fsc(self) -> u8 {
        (self.iss() & ISS_FSC_MASK) as u8
    }

    /// Whether a data abort was caused by a write: WnR (ISS bit 6), except
    /// for cache maintenance instructions, which report WnR = 1 but read
    /// (Linux `is_write_abort()`). False for every other class.
    pub const fn abort_is_write(self) -> bool {
        self.class().is_data_abort()
            && self.iss() & ISS_DABT_WNR != 0
            && self.iss() & ISS_DABT_CM == 0
    }

    /// The immediate of an `svc #imm16` (ISS bits 15:0). Linux ignores it;
    /// so do we, but it is worth printing.
    pub const fn svc_imm(self) -> u16 {
        (self.iss() & 0xffff) as u16
    }

    /// The comment of a `brk #imm16` (ISS bits 15:0): tells a compiler's
    /// `brk #0x1` (Rust `core::intrinsics::abort`/trap) from the rseq
    /// signature `brk #0x45e0`.
    pub const fn brk_imm(self) -> u16 {
        (self.iss() & 0xffff) as u16
    }
}

/// The kind of fault a fault status code (IFSC/DFSC) reports, without the
/// translation level; the names of Linux's `fault_info[]` table.
pub const fn fault_status_name(fsc: u8) -> &'static str {
    match fsc & 0x3f {
        0x00..=0x03 | 0x29 => "address size fault",
        0x04..=0x07 | 0x2b => "translation fault",
        0x08..=0x0b => "access flag fault",
        0x0c..=0x0f => "permission fault",
        0x10 => "synchronous external abort",
        0x11 => "synchronous tag check fault",
        0x13..=0x17 => "synchronous external abort on translation table walk",
        0x18 => "synchronous parity or ECC error",
        0x1b..=0x1f => "synchronous parity or ECC error on translation table walk",
        0x21 => "alignment fault",
        0x30 => "TLB conflict abort",
        0x31 => "unsupported atomic hardware update fault",
        0x34 => "implementation fault (lockdown abort)",
        0x35 => "implementation fault (unsupported exclusive or atomic access)",
        0x3d => "section domain fault",
        0x3e => "page domain fault",
        _ => "unknown fault status",
    }
}

/// The translation table level a fault status code refers to, if any:
/// `fsc & 3` for the level 0..3 groups (address size, translation, access
/// flag, permission, and the table-walk external aborts and parity errors),
/// and -1 for the FEAT_LPA2 level -1 codes.
pub const fn fault_level(fsc: u8) -> Option<i8> {
    match fsc & 0x3f {
        0x00..=0x0f | 0x14..=0x17 | 0x1c..=0x1f => Some((fsc & 3) as i8),
        0x13 | 0x1b | 0x29 | 0x2b => Some(-1),
        _ => None,
    }
}

/// Describes the exception for a log line, e.g.
/// `data abort from EL0: translation fault, level 3 (write)`,
/// `BRK #0x45e0`, `SVC #0x0`, `undefined instruction`.
impl fmt::Display for Esr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let class = self.class();
        match class {
            ExceptionClass::Unknown => f.write_str("undefined instruction"),
            ExceptionClass::Svc64 => write!(f, "SVC #{:#x}", self.svc_imm()),
            ExceptionClass::Brk64 => write!(f, "BRK #{:#x}", self.brk_imm()),
            ExceptionClass::SysReg => fmt_sys_reg(*self, f),
            ExceptionClass::Other(ec) => {
                write!(
                    f,
                    "unknown exception class {ec:#04x} (ISS {:#x})",
                    self.iss()
                )
            }
            c if c.is_abort() => {
                let fsc = self.abort_fsc();
                write!(f, "{}: {}", c.name(), fault_status_name(fsc))?;
                if let Some(level) = fault_level(fsc) {
                    write!(f, ", level {level}")?;
                }
                if c.is_data_abort() {
                    f.write_str(if self.abort_is_write() {
                        " (write)"
                    } else {
                        " (read)"
                    })?;
                }
                Ok(())
            }
            c => f.write_str(c.name()),
        }
    }
}

/// A trapped system register access (EC 0x18) in assembler syntax, decoded
/// from the ISS fields Op0 (21:20), Op2 (19:17), Op1 (16:14), CRn (13:10),
/// Rt (9:5), CRm (4:1), Direction (0, 1 = read), e.g.
/// `trapped MRS x0, S3_3_C14_C0_2`.
fn fmt_sys_reg(esr: Esr, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let iss = esr.iss();
    let field = |shift: u32, bits: u32| (iss >> shift) & ((1 << bits) - 1);
    let (op0, op2, op1, crn, rt, crm) = (
        field(20, 2),
        field(17, 3),
        field(14, 3),
        field(10, 4),
        field(5, 5),
        field(1, 4),
    );
    let read = iss & 1 != 0;
    let reg = XReg(rt);
    let sysreg = SysRegName {
        op0,
        op1,
        crn,
        crm,
        op2,
    };
    if read {
        write!(f, "trapped MRS {reg}, {sysreg}")
    } else {
        write!(f, "trapped MSR {sysreg}, {reg}")
    }
}

/// A general-purpose register operand: `x0`..`x30`, or `xzr` for 31.
struct XReg(u32);

impl fmt::Display for XReg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 31 {
            f.write_str("xzr")
        } else {
            write!(f, "x{}", self.0)
        }
    }
}

/// The generic `S<op0>_<op1>_C<n>_C<m>_<op2>` spelling of a system register.
struct SysRegName {
    op0: u32,
    op1: u32,
    crn: u32,
    crm: u32,
    op2: u32,
}

impl fmt::Display for SysRegName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "S{}_{}_C{}_C{}_{}",
            self.op0, self.op1, self.crn, self.crm, self.op2
        )
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::ToString;

    #[test]
    fn data_abort_from_el0_write_translation_l3() {
        let esr = Esr(0x9200_0047);
        assert_eq!(esr.ec(), 0x24);
        assert!(esr.il());
        assert_eq!(esr.iss(), 0x47);
        assert_eq!(esr.class(), ExceptionClass::DataAbortLower);
        assert_eq!(esr.abort_fsc(), 0x07);
        assert!(esr.abort_is_write());
        assert_eq!(fault_status_name(esr.abort_fsc()), "translation fault");
        assert_eq!(fault_level(esr.abort_fsc()), Some(3));
        assert_eq!(
            esr.to_string(),
            "data abort from EL0: translation fault, level 3 (write)"
        );
    }

    #[test]
    fn data_abort_read_permission_l3() {
        let esr = Esr(0x9200_000f);
        assert!(!esr.abort_is_write());
        assert_eq!(
            esr.to_string(),
            "data abort from EL0: permission fault, level 3 (read)"
        );
    }

    #[test]
    fn cache_maintenance_is_not_a_write() {
        // DC CIVAC on an unmapped page: WnR = 1 and CM = 1.
        let esr = Esr(0x9200_0147);
        assert!(!esr.abort_is_write());
    }

    #[test]
    fn undefined_instruction() {
        let esr = Esr(0x0200_0000);
        assert_eq!(esr.ec(), 0);
        assert_eq!(esr.class(), ExceptionClass::Unknown);
        assert_eq!(esr.class().name(), "undefined instruction (unknown reason)");
        assert_eq!(esr.to_string(), "undefined instruction");
        assert!(!esr.abort_is_write(), "not a data abort");
    }

    #[test]
    fn brk_carries_its_immediate() {
        let esr = Esr(0xf200_0000 | 0x45e0);
        assert_eq!(esr.class(), ExceptionClass::Brk64);
        assert_eq!(esr.brk_imm(), 0x45e0);
        assert_eq!(esr.to_string(), "BRK #0x45e0");
        assert_eq!(Esr(0xf200_0000).to_string(), "BRK #0x0");
        assert_eq!(esr.class().name(), "BRK instruction");
    }

    #[test]
    fn svc_zero() {
        let esr = Esr(0x5600_0000);
        assert_eq!(esr.ec(), 0x15);
        assert!(esr.il());
        assert_eq!(esr.class(), ExceptionClass::Svc64);
        assert_eq!(esr.svc_imm(), 0);
        assert_eq!(esr.class().name(), "SVC from AArch64");
        assert_eq!(esr.to_string(), "SVC #0x0");
        assert_eq!(Esr(0x5600_0042).svc_imm(), 0x42);
    }

    #[test]
    fn alignment_fault_from_el1() {
        let esr = Esr(0x9600_0021);
        assert_eq!(esr.class(), ExceptionClass::DataAbortSame);
        assert_eq!(esr.abort_fsc(), 0x21);
        assert_eq!(fault_level(0x21), None);
        assert_eq!(
            esr.to_string(),
            "data abort from EL1: alignment fault (read)"
        );
    }

    #[test]
    fn instruction_abort_lower_l2_translation() {
        let esr = Esr(0x8200_0006);
        assert_eq!(esr.class(), ExceptionClass::InstAbortLower);
        assert_eq!(esr.abort_fsc(), 6);
        assert!(!esr.abort_is_write(), "instruction aborts never write");
        assert_eq!(
            esr.to_string(),
            "instruction abort from EL0: translation fault, level 2"
        );
    }

    #[test]
    fn fault_status_names_and_levels() {
        assert_eq!(fault_status_name(0x00), "address size fault");
        assert_eq!(fault_level(0x00), Some(0));
        assert_eq!(fault_status_name(0x0b), "access flag fault");
        assert_eq!(fault_level(0x0b), Some(3));
        assert_eq!(fault_status_name(0x0d), "permission fault");
        assert_eq!(fault_level(0x0d), Some(1));
        assert_eq!(fault_status_name(0x10), "synchronous external abort");
        assert_eq!(fault_level(0x10), None);
        assert_eq!(fault_level(0x15), Some(1));
        assert_eq!(fault_status_name(0x2b), "translation fault");
        assert_eq!(fault_level(0x2b), Some(-1));
        assert_eq!(fault_status_name(0x21), "alignment fault");
        assert_eq!(fault_status_name(0x3f), "unknown fault status");
        assert_eq!(
            Esr(0x9200_002b).to_string(),
            "data abort from EL0: translation fault, level -1 (read)"
        );
    }

    #[test]
    fn every_ec_round_trips() {
        for ec in 0..64u8 {
            let class = ExceptionClass::from_ec(ec);
            assert_eq!(class.ec(), ec);
            let esr = Esr(u64::from(ec) << 26);
            assert_eq!(esr.class(), class);
            if let ExceptionClass::Other(raw) = class {
                assert_eq!(raw, ec);
            }
        }
    }

    #[test]
    fn other_class_prints_raw_values() {
        // EC 0x3a is unallocated.
        let esr = Esr(0x3a << 26 | 0x1234);
        assert_eq!(esr.class(), ExceptionClass::Other(0x3a));
        assert_eq!(esr.to_string(), "unknown exception class 0x3a (ISS 0x1234)");
    }

    #[test]
    fn simple_classes_print_their_name() {
        assert_eq!(Esr(0x1e00_0000).to_string(), "FP/SIMD access trapped");
        assert_eq!(Esr(0x3a00_0000).to_string(), "illegal execution state");
        assert_eq!(Esr(0x8a00_0000).to_string(), "PC alignment fault");
        assert_eq!(Esr(0xc800_0000).to_string(), "software step from EL0");
    }

    #[test]
    fn sysreg_trap_decodes_the_register() {
        // MRS x0, CNTP_CTL_EL0 (S3_3_C14_C2_1) read trapped:
        // Op0=3, Op2=1, Op1=3, CRn=14, Rt=0, CRm=2, Direction=1.
        let iss = 3 << 20 | 1 << 17 | 3 << 14 | 14 << 10 | 2 << 1 | 1;
        let esr = Esr(0x18 << 26 | 1 << 25 | iss);
        assert_eq!(esr.to_string(), "trapped MRS x0, S3_3_C14_C2_1");
        // MSR S3_0_C1_C0_0 (SCTLR_EL1), x17.
        let iss = 3 << 20 | 1 << 10 | 17 << 5;
        assert_eq!(
            Esr(0x18 << 26 | iss).to_string(),
            "trapped MSR S3_0_C1_C0_0, x17"
        );
        let iss = 3 << 20 | 31 << 5 | 1;
        assert_eq!(
            Esr(0x18 << 26 | iss).to_string(),
            "trapped MRS xzr, S3_0_C0_C0_0"
        );
    }

    #[test]
    fn iss2_is_separate_from_iss() {
        let esr = Esr(0x0000_00ab_9200_0047);
        assert_eq!(esr.iss2(), 0xab);
        assert_eq!(esr.iss(), 0x47);
        assert_eq!(esr.class(), ExceptionClass::DataAbortLower);
    }
}
