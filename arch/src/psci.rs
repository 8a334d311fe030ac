//! PSCI through `smccc`, with the conduit (HVC or SMC) chosen at boot.

use core::sync::atomic::{AtomicBool, Ordering};
use smccc::{Hvc, Smc, psci};

static USE_SMC: AtomicBool = AtomicBool::new(false);

/// Which instruction reaches the PSCI firmware.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conduit {
    /// `hvc #0` (QEMU virt entered at EL1).
    Hvc,
    /// `smc #0` (QEMU virt with EL2, where QEMU's PSCI answers SMC).
    Smc,
}

/// Chooses the conduit (from the DTB's `/psci/method`, or the entry EL).
pub fn set_conduit(conduit: Conduit) {
    USE_SMC.store(conduit == Conduit::Smc, Ordering::Relaxed);
}

/// PSCI SYSTEM_OFF. Returns only if the firmware refused or is absent.
pub fn system_off() {
    let _ = if USE_SMC.load(Ordering::Relaxed) {
        psci::system_off::<Smc>()
    } else {
        psci::system_off::<Hvc>()
    };
}

/// PSCI CPU_ON: starts CPU `mpidr` at physical address `entry`.
pub fn cpu_on(mpidr: u64, entry: u64, context: u64) -> Result<(), smccc::psci::Error> {
    if USE_SMC.load(Ordering::Relaxed) {
        psci::cpu_on::<Smc>(mpidr, entry, context)
    } else {
        psci::cpu_on::<Hvc>(mpidr, entry, context)
    }
}
