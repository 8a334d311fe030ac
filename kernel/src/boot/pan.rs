//! PAN (Privileged Access Never): on where the CPU has it, so that the
//! kernel reaches user memory only through the checked user-access
//! helpers; proven on CPU 0 and followed by the others.

static PAN: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Whether PAN was enabled on CPU 0 (secondaries follow).
pub fn pan_enabled() -> bool {
    PAN.load(core::sync::atomic::Ordering::Relaxed)
}

/// Turns PAN on when the CPU has it, and proves it works: a privileged load
/// from a mapped user page (the app's stack) must fault. Returns whether PAN is on.
pub fn check_pan(user_addr: u64) -> bool {
    if !arch::cpu::has_pan() {
        return false;
    }
    arch::cpu::enable_pan();
    // SAFETY: `user_addr` is on the app's freshly mapped stack.
    if !unsafe { arch::uaccess::privileged_read_faults(user_addr) } {
        panic!("PAN is enabled but a privileged load of a user page succeeded");
    }
    PAN.store(true, core::sync::atomic::Ordering::Relaxed);
    true
}
