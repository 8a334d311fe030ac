//! Kernel thread context switching and the EL0 FP/SIMD register file.
//!
//! The kernel is soft-float, so the FP/SIMD registers always hold the state
//! of the user thread that last ran on this CPU: they are saved only when the
//! CPU switches to another thread (and around signal frames), never on a trap.

#[cfg(target_arch = "aarch64")]
use core::sync::atomic::AtomicU32;

/// What `__arch_cpu_switch_to` saves: x19–x29, sp, lr (Linux's `cpu_context`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuContext {
    /// x19..x28.
    pub x19_x28: [u64; 10],
    /// Frame pointer.
    pub fp: u64,
    /// Kernel stack pointer.
    pub sp: u64,
    /// Where the thread resumes.
    pub lr: u64,
}

/// The EL0 FP/SIMD state: v0–v31, FPSR, FPCR (Linux's `user_fpsimd_state`).
#[repr(C, align(16))]
#[derive(Clone, Copy, Debug, Default)]
pub struct FpState {
    /// The 32 128-bit vector registers.
    pub vregs: [u128; 32],
    /// Floating-point status register.
    pub fpsr: u64,
    /// Floating-point control register.
    pub fpcr: u64,
}

#[cfg(target_arch = "aarch64")]
unsafe extern "C" {
    fn __arch_cpu_switch_to(
        prev: *mut CpuContext,
        next: *const CpuContext,
        prev_on_cpu: *const AtomicU32,
    );
    fn __arch_fpsimd_save(st: *mut FpState);
    fn __arch_fpsimd_load(st: *const FpState);
    fn __arch_ret_from_fork();
}

/// Switches from the running kernel thread (whose context goes to `prev`) to
/// `next`; returns when something switches back to `prev`.
///
/// # Safety
///
/// Interrupts masked; `next` was saved by this function or prepared by
/// [`new_thread_context`], and its stack is not in use; `prev_on_cpu` is the
/// previous task's on-CPU flag, cleared once its registers are saved.
#[cfg(target_arch = "aarch64")]
pub unsafe fn cpu_switch_to(
    prev: *mut CpuContext,
    next: *const CpuContext,
    prev_on_cpu: &AtomicU32,
) {
    // SAFETY: forwarded from the caller.
    unsafe { __arch_cpu_switch_to(prev, next, prev_on_cpu) }
}

/// A context that starts a new thread: it runs the kernel's
/// `ret_from_fork` handler (see [`crate::handlers`]) with `frame` (the user
/// TrapFrame at the top of its kernel stack), then returns to EL0.
#[cfg(target_arch = "aarch64")]
pub fn new_thread_context(frame: *mut crate::TrapFrame) -> CpuContext {
    CpuContext {
        sp: frame as u64,
        lr: __arch_ret_from_fork as *const () as u64,
        ..Default::default()
    }
}

/// Saves this CPU's FP/SIMD registers.
#[cfg(target_arch = "aarch64")]
pub fn fpsimd_save(st: &mut FpState) {
    // SAFETY: stores 528 bytes into `st`, which is that size and 16-aligned.
    unsafe { __arch_fpsimd_save(st) }
}

/// Loads this CPU's FP/SIMD registers.
#[cfg(target_arch = "aarch64")]
pub fn fpsimd_load(st: &FpState) {
    // SAFETY: reads 528 bytes from `st`; any bit pattern is a valid FP state
    // (FPCR's RES0 bits are ignored by the hardware on write).
    unsafe { __arch_fpsimd_load(st) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_match_the_assembly() {
        assert_eq!(core::mem::size_of::<CpuContext>(), 13 * 8);
        assert_eq!(core::mem::offset_of!(CpuContext, fp), 80);
        assert_eq!(core::mem::offset_of!(CpuContext, lr), 96);
        assert_eq!(core::mem::offset_of!(FpState, fpsr), 512);
        assert_eq!(core::mem::size_of::<FpState>(), 528);
    }
}
