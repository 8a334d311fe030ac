//! ARM PL011 UART, polled transmit only (the console).

use tock_registers::interfaces::{Readable, Writeable};
use tock_registers::register_bitfields;
use tock_registers::register_structs;
use tock_registers::registers::{ReadOnly, ReadWrite};

register_bitfields! [u32,
    FR [
        /// Transmit FIFO full.
        TXFF OFFSET(5) NUMBITS(1) [],
        /// UART busy transmitting.
        BUSY OFFSET(3) NUMBITS(1) []
    ],
    CR [
        RXE OFFSET(9) NUMBITS(1) [],
        TXE OFFSET(8) NUMBITS(1) [],
        UARTEN OFFSET(0) NUMBITS(1) []
    ],
    LCR_H [
        WLEN OFFSET(5) NUMBITS(2) [EightBit = 0b11],
        FEN OFFSET(4) NUMBITS(1) []
    ]
];

register_structs! {
    /// PL011 register block.
    pub Registers {
        (0x00 => dr: ReadWrite<u32>),
        (0x04 => _reserved0),
        (0x18 => fr: ReadOnly<u32, FR::Register>),
        (0x1c => _reserved1),
        (0x24 => ibrd: ReadWrite<u32>),
        (0x28 => fbrd: ReadWrite<u32>),
        (0x2c => lcr_h: ReadWrite<u32, LCR_H::Register>),
        (0x30 => cr: ReadWrite<u32, CR::Register>),
        (0x34 => _reserved2),
        (0x44 => icr: ReadWrite<u32>),
        (0x48 => @END),
    }
}

/// A PL011 at a fixed MMIO address.
pub struct Pl011 {
    regs: *const Registers,
}

// SAFETY: the console lock serialises use; the registers are MMIO.
unsafe impl Send for Pl011 {}

impl Pl011 {
    /// # Safety
    ///
    /// `base` must be a mapped PL011 that nothing else drives.
    pub const unsafe fn new(base: usize) -> Self {
        Pl011 {
            regs: base as *const Registers,
        }
    }

    fn regs(&self) -> &Registers {
        // SAFETY: `new`'s contract: a mapped PL011 register block.
        unsafe { &*self.regs }
    }

    /// Programs 8N1 with FIFOs for `baud` given the UART reference clock.
    /// QEMU ignores this; real hardware needs it (Pi 4: 48 MHz clock).
    pub fn init(&self, clock_hz: u32, baud: u32) {
        let r = self.regs();
        r.cr.set(0);
        r.icr.set(0x7ff);
        // Divisor = clock / (16 * baud) as 16.6 fixed point, rounded.
        let div64 = (clock_hz as u64 * 4 + baud as u64 / 2) / baud as u64;
        r.ibrd.set((div64 >> 6) as u32);
        r.fbrd.set((div64 & 0x3f) as u32);
        r.lcr_h.write(LCR_H::WLEN::EightBit + LCR_H::FEN::SET);
        r.cr.write(CR::UARTEN::SET + CR::TXE::SET + CR::RXE::SET);
    }

    /// Writes one byte, waiting for FIFO space.
    pub fn putc(&self, b: u8) {
        let r = self.regs();
        while r.fr.is_set(FR::TXFF) {
            arch::cpu::cpu_relax();
        }
        r.dr.set(b as u32);
    }

    /// Waits until everything written has left the UART.
    pub fn flush(&self) {
        while self.regs().fr.is_set(FR::BUSY) {
            arch::cpu::cpu_relax();
        }
    }
}
