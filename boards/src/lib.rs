//! Boards: the facts about one machine that the kernel consults at init.
//!
//! Exactly one board is compiled in, chosen by cargo feature (`virt`, later
//! `rpi4`), and exposed as [`BOARD`]. Values the DTB can override (memory,
//! GIC frames, PSCI method) are the fallbacks used when no DTB is passed.
#![no_std]

pub mod pl011;

#[cfg(feature = "virt")]
mod qemu_virt;
#[cfg(feature = "virt")]
pub use qemu_virt::BOARD;

#[cfg(feature = "rpi4")]
mod rpi4;
#[cfg(feature = "rpi4")]
pub use rpi4::BOARD;

#[cfg(not(any(feature = "virt", feature = "rpi4")))]
compile_error!("select a board: kernel feature board-virt or board-rpi4");
#[cfg(all(feature = "virt", feature = "rpi4"))]
compile_error!("select exactly one board");

use arch::gic::GicConfig;
use arch::psci::Conduit;

/// How the machine is powered off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PowerOff {
    /// PSCI SYSTEM_OFF (after trying semihosting, which gives QEMU a status).
    Psci,
    /// No PSCI: semihosting in QEMU, else park the CPUs.
    SemihostingOnly,
}

/// One board's description.
#[derive(Clone, Copy, Debug)]
pub struct Board {
    /// Name shown in the boot banner.
    pub name: &'static str,
    /// Physical base of RAM.
    pub ram_base: u64,
    /// RAM size used when the DTB does not say.
    pub ram_size_default: u64,
    /// The largest RAM the kernel maps before the DTB is read.
    pub ram_size_max: u64,
    /// MMIO ranges to map (base, size), rounded out to 2 MiB.
    pub devices: &'static [(u64, u64)],
    /// The PL011 console.
    pub uart: UartConfig,
    /// GIC frames when the DTB does not describe them.
    pub gic_default: GicConfig,
    /// Whether the DTB's GIC node (top-level, untranslated `reg`) is to be used.
    pub gic_from_dtb: bool,
    /// PSCI conduit when the DTB does not say (by entry EL: EL1 → HVC).
    pub psci_default: Conduit,
    /// How to power off.
    pub power_off: PowerOff,
    /// How CPUs 1..3 are started.
    pub secondary_start: SecondaryStart,
    /// Board glue run first at boot (MMU off), before the console starts.
    pub early_init: fn(),
}

/// How secondary CPUs are released.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecondaryStart {
    /// PSCI CPU_ON.
    Psci,
    /// The firmware's spin table (release addresses at 0xe0/0xe8/0xf0).
    SpinTable,
}

/// The console UART.
#[derive(Clone, Copy, Debug)]
pub struct UartConfig {
    /// PL011 MMIO base.
    pub base: usize,
    /// Reference clock when the kernel must program the baud rate; `None`
    /// when the emulator ignores it and firmware left it usable.
    pub clock_hz: Option<u32>,
    /// Baud rate programmed when `clock_hz` is known.
    pub baud: u32,
}
