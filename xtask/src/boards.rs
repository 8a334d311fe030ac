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

/// Every board. Only virt exists today; rpi4 will be
/// `Board { name: "rpi4", feature: "board-rpi4", machine: "raspi4b", knobs: None, .. }`.
pub const BOARDS: &[Board] = &[Board {
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
}];

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
        let err = find("pc").unwrap_err();
        assert!(err.contains("virt"), "{err}");
    }
}
