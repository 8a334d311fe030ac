//! The register state saved on every exception entry.

/// What the vectors save on exception entry and restore before `eret`:
/// the layout of Linux's arm64 `struct pt_regs` (first 36 words), which
/// `vectors.s` relies on through the `TF_*` offsets below.
///
/// For an exception from EL0, `sp` is `SP_EL0`; from EL1 it is the kernel
/// stack pointer before the exception.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrapFrame {
    /// x0..x30.
    pub regs: [u64; 31],
    /// The interrupted stack pointer.
    pub sp: u64,
    /// `ELR_EL1`: where `eret` resumes.
    pub pc: u64,
    /// `SPSR_EL1`: the interrupted PSTATE.
    pub pstate: u64,
    /// x0 at syscall entry (x0 is overwritten by the return value); kept for
    /// syscall restart and for rseq's "no syscall in a critical section" check.
    pub orig_x0: u64,
    /// The syscall number (x8) at entry, or -1 when the frame is not a syscall.
    pub syscallno: i64,
}

/// Byte size of [`TrapFrame`], used by the vectors.
pub const TF_SIZE: usize = core::mem::size_of::<TrapFrame>();
/// Offset of `sp` (x30 is stored with it as a pair).
pub const TF_SP: usize = core::mem::offset_of!(TrapFrame, sp);
/// Offset of `pc` (stored with `pstate` as a pair).
pub const TF_PC: usize = core::mem::offset_of!(TrapFrame, pc);

/// `SPSR_ELx.M[3:0]` for EL0t: what a fresh EL0 thread starts with
/// (interrupts unmasked, AArch64, EL0, SP_EL0).
pub const PSTATE_EL0T: u64 = 0;

impl TrapFrame {
    /// A frame that `eret`s to EL0 at `pc` with stack `sp`.
    pub fn new_user(pc: u64, sp: u64) -> Self {
        TrapFrame {
            pc,
            sp,
            pstate: PSTATE_EL0T,
            syscallno: -1,
            ..Default::default()
        }
    }

    /// True when the frame was taken from EL0 (`SPSR.M[3:2] == 0`).
    pub fn from_user(&self) -> bool {
        (self.pstate >> 2) & 3 == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_vectors_and_pt_regs() {
        assert_eq!(TF_SIZE, 288);
        assert_eq!(
            TF_SIZE % 16,
            0,
            "the kernel stack must stay 16-byte aligned"
        );
        assert_eq!(TF_SP, 248);
        assert_eq!(TF_PC, 256);
        assert_eq!(core::mem::offset_of!(TrapFrame, pstate), 264);
        assert_eq!(core::mem::offset_of!(TrapFrame, orig_x0), 272);
        assert_eq!(core::mem::offset_of!(TrapFrame, syscallno), 280);
    }

    #[test]
    fn new_user_frame_returns_to_el0_with_irqs_unmasked() {
        let tf = TrapFrame::new_user(0x1000, 0x2000);
        assert!(tf.from_user());
        assert_eq!(tf.pstate & 0x3c0, 0, "DAIF clear");
        assert_eq!(tf.syscallno, -1);
    }
}
