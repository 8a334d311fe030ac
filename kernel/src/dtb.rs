//! What the kernel takes from the device tree the loader passed in x0:
//! memory, GIC frames, CPU count, PSCI conduit and the command line. Every
//! item falls back to the board's built-in value when the DTB is absent or
//! silent, so a board without a DTB still boots.

use arch::gic::GicConfig;
use arch::psci::Conduit;
use boards::Board;

/// Longest command line kept (Linux's arm64 COMMAND_LINE_SIZE is 2048).
const CMDLINE_MAX: usize = 2048;

/// Machine facts gathered at boot.
pub struct MachineInfo {
    /// RAM base and size.
    pub ram: (u64, u64),
    /// The interrupt controller.
    pub gic: GicConfig,
    /// CPUs described (or the board's maximum).
    pub cpus: usize,
    /// How PSCI is reached.
    pub psci: Conduit,
    /// Where the DTB lies (to keep allocations off it), if there is one.
    pub dtb_range: Option<(u64, u64)>,
    cmdline: [u8; CMDLINE_MAX],
    cmdline_len: usize,
}

impl MachineInfo {
    /// `/chosen/bootargs`, or "".
    pub fn cmdline(&self) -> &str {
        core::str::from_utf8(&self.cmdline[..self.cmdline_len]).unwrap_or("")
    }
}

/// Reads the DTB at `dtb` (0 when none), with the board's values as defaults.
pub fn probe(board: &Board, dtb: u64, entry_el: u64) -> MachineInfo {
    let mut info = MachineInfo {
        ram: (board.ram_base, board.ram_size_default),
        gic: board.gic_default,
        cpus: arch::MAX_CPUS,
        psci: if entry_el == 2 { Conduit::Smc } else { board.psci_default },
        dtb_range: None,
        cmdline: [0; CMDLINE_MAX],
        cmdline_len: 0,
    };
    let in_ram = dtb >= board.ram_base && dtb < board.ram_base + board.ram_size_max;
    if dtb == 0 || dtb % 8 != 0 || !in_ram {
        return info;
    }
    // SAFETY: a DTB pointer from the loader, inside identity-mapped RAM;
    // `from_ptr` checks the magic and sizes before reading further.
    let Ok(fdt) = (unsafe { fdt::Fdt::from_ptr(dtb as *const u8) }) else {
        return info;
    };
    info.dtb_range = Some((dtb, fdt.total_size() as u64));

    if let Some(region) = fdt.memory().regions().next() {
        if let Some(size) = region.size {
            info.ram = (region.starting_address as u64, size as u64);
        }
    }
    let cpus = fdt.cpus().count();
    if cpus > 0 {
        info.cpus = cpus.min(arch::MAX_CPUS);
    }
    if let Some(gic) = fdt.find_compatible(&["arm,gic-v3"]) {
        let mut reg = gic.reg().into_iter().flatten();
        if let (Some(d), Some(r)) = (reg.next(), reg.next()) {
            info.gic = GicConfig::V3 { gicd: d.starting_address as usize, gicr: r.starting_address as usize };
        }
    } else if let Some(gic) = fdt.find_compatible(&["arm,cortex-a15-gic", "arm,gic-400"]) {
        let mut reg = gic.reg().into_iter().flatten();
        if let (Some(d), Some(c)) = (reg.next(), reg.next()) {
            info.gic = GicConfig::V2 { gicd: d.starting_address as usize, gicc: c.starting_address as usize };
        }
    }
    if let Some(method) = fdt.find_node("/psci").and_then(|n| n.property("method")).and_then(|p| p.as_str()) {
        info.psci = if method == "smc" { Conduit::Smc } else { Conduit::Hvc };
    }
    // (`Fdt::chosen()` panics without /chosen; a hand-made DTB may lack it.)
    let bootargs = fdt.find_node("/chosen").and_then(|n| n.property("bootargs"));
    if let Some(args) = bootargs.and_then(|p| p.as_str()) {
        let n = args.len().min(CMDLINE_MAX);
        info.cmdline[..n].copy_from_slice(&args.as_bytes()[..n]);
        info.cmdline_len = n;
    }
    info
}
