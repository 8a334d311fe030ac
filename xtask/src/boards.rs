//! The boards xtask can build for and boot: one table entry each.
//!
//! Everything board-specific that the host side needs lives here, so adding a
//! board (rpi4 next) is adding an entry, not editing the build or QEMU code.

/// A board as the host tooling sees it.
#[derive(Debug)]
pub struct Board {
    /// Name on the command line (`--board`), in scenario tables and in image
    /// file names (`target/images/<name>-<app>.img`).
    pub name: &'static str,
    /// The `kernel` crate feature that selects this board's support code.
    pub feature: &'static str,
    /// QEMU `-M` machine type.
    pub machine: &'static str,
    /// How the machine can be configured from the command line, or `None` when
    /// the emulated hardware is fixed (e.g. raspi4b always enters at EL2 with a
    /// GIC-400).
    pub knobs: Option<MachineKnobs>,
    /// Arguments after `-M ...`: memory, CPU count, console, semihosting.
    pub qemu_args: &'static [&'static str],
    /// QEMU must be given the board's real DTB (`-dtb`, see `firmware.rs`):
    /// raspi4b does not generate one.
    pub needs_firmware_dtb: bool,
    /// Where the kernel image is loaded (RAM base + 0x80000). Scenarios hand
    /// apps its address in the kernel's linear map (an EL1-only address) as
    /// `{kernel}`.
    pub kernel_base: u64,
}

/// Machine properties a board exposes to `--el2` and `--gic`.
#[derive(Debug)]
pub struct MachineKnobs {
    /// `-M` property that makes the kernel enter at EL2.
    pub el2: &'static str,
    /// `-M` property prefix selecting the GIC version (`gic-version=`).
    pub gic_version: &'static str,
    /// `-cpu` model when none is given.
    pub default_cpu: &'static str,
}

/// Every board.
pub const BOARDS: &[Board] = &[VIRT, RPI4];

/// QEMU virt: configurable entry level, GIC version and CPU model.
const VIRT: Board = Board {
    name: "virt",
    feature: "board-virt",
    machine: "virt",
    knobs: Some(MachineKnobs {
        el2: "virtualization=on",
        gic_version: "gic-version=",
        // Cortex-A72 (no FEAT_PAN) is the baseline; cortex-a76 exercises PAN.
        default_cpu: "cortex-a72",
    }),
    qemu_args: &[
        "-smp",
        "4",
        "-m",
        "256M",
        "-nographic",
        // target=native: the kernel's semihosting SYS_EXIT becomes QEMU's exit
        // status, which is how tests learn how a run ended.
        "-semihosting-config",
        "enable=on,target=native",
    ],
    needs_firmware_dtb: false,
    kernel_base: 0x4008_0000,
};

/// QEMU raspi4b (BCM2711, 4 x Cortex-A72, 2 GiB): fixed hardware, entered at
/// EL2 with a GIC-400; boots the same kernel8.img a real Pi 4 does.
const RPI4: Board = Board {
    name: "rpi4",
    feature: "board-rpi4",
    machine: "raspi4b",
    knobs: None,
    qemu_args: &[
        "-nographic",
        "-semihosting-config",
        "enable=on,target=native",
    ],
    needs_firmware_dtb: true,
    kernel_base: 0x8_0000,
};

/// Looks a board up by name.
pub fn find(name: &str) -> Result<&'static Board, String> {
    BOARDS.iter().find(|b| b.name == name).ok_or_else(|| {
        let known: Vec<_> = BOARDS.iter().map(|b| b.name).collect();
        format!("unknown board {name:?} (known: {})", known.join(", "))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_known_and_unknown() {
        assert_eq!(find("virt").unwrap().feature, "board-virt");
        assert_eq!(find("rpi4").unwrap().machine, "raspi4b");
        let err = find("pc").unwrap_err();
        assert!(err.contains("virt"), "{err}");
    }
}
