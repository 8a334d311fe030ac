//! Signals in the arm64 user ABI: numbers, `struct sigaction` as the kernel
//! takes it (not glibc's), `siginfo_t`, and the signal frame the kernel
//! pushes on the user stack (`struct rt_sigframe` of
//! arch/arm64/kernel/signal.c: siginfo, then a ucontext whose mcontext holds
//! the registers and, in `__reserved`, an `fpsimd_context` record).
//!
//! The kernel builds the frame as an [`RtSigframe`] and reads it back the
//! same way in `rt_sigreturn`; a handler sees the same types. The layout
//! tests pin every offset to Linux's.

pub const SIGHUP: i32 = 1;
pub const SIGINT: i32 = 2;
pub const SIGQUIT: i32 = 3;
pub const SIGILL: i32 = 4;
pub const SIGTRAP: i32 = 5;
pub const SIGABRT: i32 = 6;
pub const SIGBUS: i32 = 7;
pub const SIGFPE: i32 = 8;
pub const SIGKILL: i32 = 9;
pub const SIGUSR1: i32 = 10;
pub const SIGSEGV: i32 = 11;
pub const SIGUSR2: i32 = 12;
pub const SIGPIPE: i32 = 13;
pub const SIGALRM: i32 = 14;
pub const SIGTERM: i32 = 15;
pub const SIGCHLD: i32 = 17;
pub const SIGCONT: i32 = 18;
pub const SIGSTOP: i32 = 19;
pub const SIGURG: i32 = 23;
pub const SIGWINCH: i32 = 28;
/// Number of signals (1..=64).
pub const NSIG: usize = 64;

/// `sa_flags`.
pub const SA_NOCLDSTOP: u64 = 0x0000_0001;
pub const SA_NOCLDWAIT: u64 = 0x0000_0002;
pub const SA_SIGINFO: u64 = 0x0000_0004;
pub const SA_RESTORER: u64 = 0x0400_0000;
pub const SA_ONSTACK: u64 = 0x0800_0000;
pub const SA_RESTART: u64 = 0x1000_0000;
pub const SA_NODEFER: u64 = 0x4000_0000;
pub const SA_RESETHAND: u64 = 0x8000_0000;

/// `ss_flags` of `stack_t`: the thread runs on its alternate stack.
pub const SS_ONSTACK: i32 = 1;
/// `ss_flags`: no alternate stack.
pub const SS_DISABLE: i32 = 2;
/// `ss_flags` modifier: the alternate stack is disabled while a handler
/// runs on it (and restored by rt_sigreturn).
pub const SS_AUTODISARM: i32 = 1 << 31;
/// The smallest alternate stack arm64 accepts (`ENOMEM` below it).
pub const MINSIGSTKSZ: u64 = 5120;
/// The recommended alternate stack size on arm64.
pub const SIGSTKSZ: u64 = 16384;

/// `stack_t`: an alternate signal stack (`sigaltstack`, `uc_stack`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StackT {
    pub ss_sp: u64,
    pub ss_flags: i32,
    pub _pad: i32,
    pub ss_size: u64,
}

/// `sa_handler` values that are not functions.
pub const SIG_DFL: u64 = 0;
pub const SIG_IGN: u64 = 1;

/// `rt_sigprocmask` `how`.
pub const SIG_BLOCK: u64 = 0;
pub const SIG_UNBLOCK: u64 = 1;
pub const SIG_SETMASK: u64 = 2;

/// `si_code` values for signals sent by a process.
pub const SI_USER: i32 = 0;
pub const SI_TKILL: i32 = -6;

/// The bit of `sig` in a signal set.
pub const fn sigmask(sig: i32) -> u64 {
    1 << (sig - 1)
}

/// The kernel's `struct sigaction` on aarch64 (not glibc's).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KSigaction {
    pub handler: u64,
    pub flags: u64,
    pub restorer: u64,
    pub mask: u64,
}

/// `siginfo_t` (128 bytes): the common head, then the union, whose first
/// words are `si_pid`/`si_uid` (kill, tgkill) or `si_addr` (faults).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SigInfo {
    pub si_signo: i32,
    pub si_errno: i32,
    pub si_code: i32,
    _pad: i32,
    pub fields: [u64; 14],
}

impl SigInfo {
    /// A siginfo for a signal sent by a process (`kill`, `tgkill`).
    pub const fn from_process(signo: i32, code: i32, pid: i32) -> SigInfo {
        let mut fields = [0; 14];
        fields[0] = pid as u32 as u64;
        SigInfo {
            si_signo: signo,
            si_errno: 0,
            si_code: code,
            _pad: 0,
            fields,
        }
    }

    /// A siginfo for a fault at `addr`.
    pub const fn from_fault(signo: i32, code: i32, addr: u64) -> SigInfo {
        let mut fields = [0; 14];
        fields[0] = addr;
        SigInfo {
            si_signo: signo,
            si_errno: 0,
            si_code: code,
            _pad: 0,
            fields,
        }
    }

    /// `si_pid` (kill, tgkill, SIGCHLD).
    pub fn si_pid(&self) -> i32 {
        self.fields[0] as u32 as i32
    }

    /// `si_uid` (kill, tgkill).
    pub fn si_uid(&self) -> u32 {
        (self.fields[0] >> 32) as u32
    }

    /// `si_addr` (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP).
    pub fn si_addr(&self) -> u64 {
        self.fields[0]
    }
}

/// `struct sigcontext` (uapi/asm/sigcontext.h): the interrupted registers;
/// `reserved` holds records such as [`FpsimdContext`], ending with a zero
/// header.
#[repr(C, align(16))]
#[derive(Clone, Copy)]
pub struct SigContext {
    pub fault_address: u64,
    pub regs: [u64; 31],
    pub sp: u64,
    pub pc: u64,
    pub pstate: u64,
    pub reserved: Reserved,
}

/// `sigcontext.__reserved`: 4096 bytes, 16-byte aligned.
#[repr(C, align(16))]
#[derive(Clone, Copy)]
pub struct Reserved(pub [u8; 4096]);

/// The FP/SIMD record in [`SigContext::reserved`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FpsimdContext {
    pub magic: u32,
    pub size: u32,
    pub fpsr: u32,
    pub fpcr: u32,
    pub vregs: [u128; 32],
}

/// [`FpsimdContext::magic`].
pub const FPSIMD_MAGIC: u32 = 0x4650_8001;
/// [`FpsimdContext::size`]: the record's exact size, which Linux's
/// `rt_sigreturn` requires.
pub const FPSIMD_SIZE: u32 = size_of::<FpsimdContext>() as u32;

impl FpsimdContext {
    /// The record for these register values.
    pub const fn new(fpsr: u32, fpcr: u32, vregs: [u128; 32]) -> FpsimdContext {
        FpsimdContext {
            magic: FPSIMD_MAGIC,
            size: FPSIMD_SIZE,
            fpsr,
            fpcr,
            vregs,
        }
    }
}

impl SigContext {
    /// The FP/SIMD record, found by walking the records of `reserved` as
    /// Linux's `parse_user_sigframe` does: `None` when there is none, a
    /// header runs past the area, or the record is not exactly
    /// [`FPSIMD_SIZE`] bytes.
    pub fn fpsimd(&self) -> Option<FpsimdContext> {
        let r = &self.reserved.0;
        let word = |o: usize| u32::from_le_bytes([r[o], r[o + 1], r[o + 2], r[o + 3]]);
        let mut off = 0usize;
        while off + 8 <= r.len() {
            let (magic, size) = (word(off), word(off + 4) as usize);
            if magic == 0 || size < 8 || off + size > r.len() {
                return None;
            }
            if magic == FPSIMD_MAGIC {
                if size != FPSIMD_SIZE as usize {
                    return None;
                }
                let mut vregs = [0u128; 32];
                for (i, v) in vregs.iter_mut().enumerate() {
                    let at = off + 16 + 16 * i;
                    let mut b = [0u8; 16];
                    b.copy_from_slice(&r[at..at + 16]);
                    *v = u128::from_le_bytes(b);
                }
                return Some(FpsimdContext::new(word(off + 8), word(off + 12), vregs));
            }
            off += size;
        }
        None
    }

    /// Writes `fp` as the first record of `reserved`, followed by the zero
    /// terminator header (Linux's `setup_sigframe` order).
    pub fn set_fpsimd(&mut self, fp: &FpsimdContext) {
        let r = &mut self.reserved.0;
        r[0..4].copy_from_slice(&fp.magic.to_le_bytes());
        r[4..8].copy_from_slice(&fp.size.to_le_bytes());
        r[8..12].copy_from_slice(&fp.fpsr.to_le_bytes());
        r[12..16].copy_from_slice(&fp.fpcr.to_le_bytes());
        for (i, v) in fp.vregs.iter().enumerate() {
            r[16 + 16 * i..32 + 16 * i].copy_from_slice(&v.to_le_bytes());
        }
        let end = FPSIMD_SIZE as usize;
        r[end..end + 8].fill(0);
    }
}

/// `struct ucontext` (the third handler argument) as the kernel lays it out.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct UContext {
    pub uc_flags: u64,
    pub uc_link: u64,
    pub ss_sp: u64,
    pub ss_flags: i32,
    _ss_pad: i32,
    pub ss_size: u64,
    pub uc_sigmask: u64,
    _unused: [u8; 120],
    /// The alignment gap before `uc_mcontext` (16-byte aligned at 176),
    /// explicit so that no byte of the frame is padding.
    _align: u64,
    pub uc_mcontext: SigContext,
}

/// `struct rt_sigframe`: what the kernel pushes below the interrupted `sp`
/// (16-byte aligned); the handler gets `&info` in x1 and `&uc` in x2.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct RtSigframe {
    pub info: SigInfo,
    pub uc: UContext,
}

/// A frame record (`x29`, `x30`) right above the [`RtSigframe`], so that
/// unwinders walk from the handler into the interrupted code; x29 points at
/// it while the handler runs.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FrameRecord {
    pub fp: u64,
    pub lr: u64,
}

/// Everything the kernel writes to the user stack for one signal.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct SignalFrame {
    pub frame: RtSigframe,
    pub record: FrameRecord,
}

impl SignalFrame {
    /// An all-zero frame (every field of the ABI is an integer, so zero is
    /// a valid value of each).
    pub const ZERO: SignalFrame = SignalFrame {
        frame: RtSigframe {
            info: SigInfo {
                si_signo: 0,
                si_errno: 0,
                si_code: 0,
                _pad: 0,
                fields: [0; 14],
            },
            uc: UContext {
                uc_flags: 0,
                uc_link: 0,
                ss_sp: 0,
                ss_flags: 0,
                _ss_pad: 0,
                ss_size: 0,
                uc_sigmask: 0,
                _unused: [0; 120],
                _align: 0,
                uc_mcontext: SigContext {
                    fault_address: 0,
                    regs: [0; 31],
                    sp: 0,
                    pc: 0,
                    pstate: 0,
                    reserved: Reserved([0; 4096]),
                },
            },
        },
        record: FrameRecord { fp: 0, lr: 0 },
    };
}

impl Default for RtSigframe {
    fn default() -> Self {
        SignalFrame::ZERO.frame
    }
}

impl Default for SignalFrame {
    fn default() -> Self {
        SignalFrame::ZERO
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{offset_of, size_of};

    #[test]
    fn layout_is_linuxs_rt_sigframe() {
        assert_eq!(size_of::<SigInfo>(), 128);
        assert_eq!(offset_of!(RtSigframe, uc), 128);
        assert_eq!(offset_of!(UContext, uc_sigmask), 40);
        assert_eq!(offset_of!(UContext, uc_mcontext), 176);
        assert_eq!(offset_of!(SigContext, regs), 8);
        assert_eq!(offset_of!(SigContext, sp), 256);
        assert_eq!(offset_of!(SigContext, pc), 264);
        assert_eq!(offset_of!(SigContext, pstate), 272);
        assert_eq!(offset_of!(SigContext, reserved), 288);
        assert_eq!(size_of::<SigContext>(), 288 + 4096);
        assert_eq!(size_of::<FpsimdContext>(), 528);
        assert_eq!(size_of::<RtSigframe>(), 128 + 176 + 288 + 4096);
        assert_eq!(offset_of!(SignalFrame, record), size_of::<RtSigframe>());
        assert_eq!(size_of::<SignalFrame>() % 16, 0);
        assert_eq!(size_of::<KSigaction>(), 32);
        // No padding anywhere: the kernel copies the frame to user memory
        // as bytes, and padding would carry stale kernel stack contents.
        assert_eq!(
            size_of::<UContext>(),
            8 * 3 + 4 * 2 + 8 * 2 + 120 + 8 + size_of::<SigContext>()
        );
        assert_eq!(size_of::<SignalFrame>(), size_of::<RtSigframe>() + 16);
    }

    #[test]
    fn fpsimd_record_round_trips_and_is_checked() {
        let mut f = SignalFrame::ZERO;
        let mc = &mut f.frame.uc.uc_mcontext;
        assert_eq!(mc.fpsimd(), None);
        let fp = FpsimdContext::new(0x1f, 0x0300_0000, core::array::from_fn(|i| i as u128 * 3));
        mc.set_fpsimd(&fp);
        assert_eq!(mc.fpsimd(), Some(fp));
        // A record of the wrong size is refused, as Linux refuses it.
        mc.reserved.0[4] = 0x20;
        assert_eq!(mc.fpsimd(), None);
        // A header running past the area ends the walk.
        mc.reserved.0[0..8].copy_from_slice(&[1, 0, 0, 0, 0xff, 0xff, 0, 0]);
        assert_eq!(mc.fpsimd(), None);
    }

    #[test]
    fn siginfo_views() {
        let k = SigInfo::from_process(SIGUSR1, SI_TKILL, 42);
        assert_eq!(
            (k.si_signo, k.si_code, k.si_pid(), k.si_uid()),
            (10, -6, 42, 0)
        );
        let f = SigInfo::from_fault(SIGSEGV, 1, 0xdead_0000);
        assert_eq!(f.si_addr(), 0xdead_0000);
        assert_eq!(sigmask(SIGKILL), 1 << 8);
    }
}
