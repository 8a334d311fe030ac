//! Raspberry Pi 4 Model B (BCM2711), also emulated by QEMU `raspi4b`
//! (DESIGN §5): RAM from 0, firmware loads kernel8.img at 0x80000 and enters
//! at EL2 with the DTB in x0; peripherals in "low peripheral" mode at
//! 0xFE00_0000; GIC-400 at 0xFF84_0000; no PSCI (secondaries wait in the
//! firmware's spin table; power-off is semihosting under QEMU, else park).

use crate::{Board, PowerOff, SecondaryStart, UartConfig};
use tock_registers::interfaces::{Readable, Writeable};
use tock_registers::register_structs;
use tock_registers::registers::ReadWrite;

register_structs! {
    /// BCM2711 GPIO block (the registers we use).
    GpioRegisters {
        (0x00 => _reserved0),
        (0x04 => gpfsel1: ReadWrite<u32>),
        (0x08 => _reserved1),
        (0xe4 => pup_pdn_cntrl0: ReadWrite<u32>),
        (0xe8 => @END),
    }
}

/// GPIO base in low-peripheral mode.
const GPIO_BASE: usize = 0xfe20_0000;

/// Routes GPIO14/15 (header pins 8/10) to the PL011 (function ALT0) with no
/// pull: the firmware gives those pins to the mini UART and the PL011 to
/// Bluetooth, so without this the console would not reach the header.
fn uart_pins() {
    // SAFETY: the BCM2711 GPIO block, mapped by `devices` in the kernel's
    // linear map before the console starts; only this function touches it.
    let gpio = unsafe { &*(arch::mmu::phys_to_virt(GPIO_BASE as u64) as *const GpioRegisters) };
    let alt0 = 0b100;
    let fsel = gpio.gpfsel1.get() & !(0b111 << 12 | 0b111 << 15);
    gpio.gpfsel1.set(fsel | alt0 << 12 | alt0 << 15);
    let pulls = gpio.pup_pdn_cntrl0.get() & !(0b11 << 28 | 0b11 << 30);
    gpio.pup_pdn_cntrl0.set(pulls);
}
use arch::gic::GicConfig;
use arch::psci::Conduit;

/// The Raspberry Pi 4.
pub static BOARD: Board = Board {
    name: "rpi4",
    ram_base: 0,
    // The first DTB memory region of every Pi 4 is at least this large; the
    // firmware's DTB gives the real size (948 MiB on 4 GiB boards).
    ram_size_default: 512 << 20,
    ram_size_max: 0x3c00_0000,
    devices: &[
        // PL011 UART0 (and the rest of that 2 MiB of peripherals).
        (0xfe20_0000, 0x2000),
        // GIC-400: GICD 0xff84_1000, GICC 0xff84_2000.
        (0xff84_0000, 0x8000),
    ],
    uart: UartConfig {
        base: 0xfe20_1000,
        // `init_uart_clock=48000000` in config.txt fixes the UART clock, so the
        // divisor is known without asking the firmware mailbox.
        clock_hz: Some(48_000_000),
        baud: 115_200,
    },
    gic_default: GicConfig::V2 {
        gicd: 0xff84_1000,
        gicc: 0xff84_2000,
    },
    gic_from_dtb: false,
    psci_default: Conduit::Smc,
    power_off: PowerOff::SemihostingOnly,
    secondary_start: SecondaryStart::SpinTable,
    early_init: uart_pins,
};
