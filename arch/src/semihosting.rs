//! Arm semihosting, used only to give QEMU an exit status.
//!
//! When semihosting is not enabled (real hardware, QEMU without
//! `-semihosting`), `HLT #0xf000` is an undefined instruction; the exception
//! fixup table turns that into a failed call, so callers can fall back.

unsafe extern "C" {
    fn __arch_semihosting_call(op: u64, arg: u64) -> u64;
}

const SYS_EXIT_EXTENDED: u64 = 0x20;
const ADP_STOPPED_APPLICATION_EXIT: u64 = 0x20026;

/// Ends the emulator with `status` as its exit status. Returns if semihosting
/// is unavailable.
pub fn exit(status: u32) {
    let block = [ADP_STOPPED_APPLICATION_EXIT, status as u64];
    // SAFETY: SYS_EXIT_EXTENDED reads the two-word parameter block, which
    // lives on this stack for the duration of the call; a missing semihosting
    // implementation is fixed up to a return.
    unsafe { __arch_semihosting_call(SYS_EXIT_EXTENDED, block.as_ptr() as u64) };
}
