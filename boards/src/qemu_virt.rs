//! QEMU `virt` (DESIGN §5): RAM at 1 GiB, PL011 at 0x0900_0000, GICv2 or
//! GICv3 (`gic-version=3`) in the 0x0800_0000 window, PSCI for power.

use crate::{Board, PowerOff, SecondaryStart, UartConfig};
use arch::gic::GicConfig;
use arch::psci::Conduit;

/// The QEMU virt machine.
pub static BOARD: Board = Board {
    name: "qemu-virt",
    ram_base: 0x4000_0000,
    ram_size_default: 128 << 20,
    ram_size_max: 1 << 30,
    devices: &[
        // GICD 0x0800_0000, GICC 0x0801_0000 (v2), GICR from 0x080a_0000 (v3).
        (0x0800_0000, 0x0020_0000),
        // PL011 UART0.
        (0x0900_0000, 0x1000),
    ],
    uart: UartConfig {
        base: 0x0900_0000,
        clock_hz: None,
        baud: 115_200,
    },
    gic_default: GicConfig::V2 {
        gicd: 0x0800_0000,
        gicc: 0x0801_0000,
    },
    gic_from_dtb: true,
    psci_default: Conduit::Hvc,
    power_off: PowerOff::Psci,
    secondary_start: SecondaryStart::Psci,
    early_init: || {},
};
