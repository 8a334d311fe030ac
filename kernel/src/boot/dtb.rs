//! What the kernel takes from the device tree the loader passed in x0:
//! memory, GIC frames, CPU count, PSCI conduit, the command line and the
//! initrd. Every item falls back to the board's built-in value when the DTB
//! is absent or silent, so a board without a DTB still boots.

use crate::boot::fdt::Fdt;
use abi::cmdline::MAX_LEN as CMDLINE_MAX;
use arch::gic::GicConfig;
use arch::psci::Conduit;
use boards::Board;

/// Largest DTB accepted (QEMU's are ~1 MiB at most, the Pi's ~50 KiB).
const DTB_MAX: u64 = 2 << 20;

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
    /// `[start, end)` of the initrd the loader placed in memory, as the DTB
    /// states it (not yet checked against RAM: see `boot::start`).
    pub initrd: Option<(u64, u64)>,
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
        psci: if entry_el == 2 {
            Conduit::Smc
        } else {
            board.psci_default
        },
        dtb_range: None,
        initrd: None,
        cmdline: [0; CMDLINE_MAX],
        cmdline_len: 0,
    };
    let in_ram = dtb >= board.ram_base && dtb < board.ram_base + board.ram_size_max;
    if dtb == 0 || !dtb.is_multiple_of(8) || !in_ram {
        return info;
    }
    let va = arch::mmu::phys_to_virt(dtb);
    // SAFETY: an 8-byte read inside RAM in the linear map (checked above).
    let header = unsafe { core::slice::from_raw_parts(va as *const u8, 8) };
    let Ok(size) = Fdt::header_total_size(header) else {
        return info;
    };
    let limit = (board.ram_base + board.ram_size_max - dtb).min(DTB_MAX) as usize;
    if size > limit {
        return info;
    }
    // SAFETY: `[dtb, dtb + size)` lies inside RAM in the linear map (checked
    // against the early map's end), and nothing writes it while we read.
    let blob = unsafe { core::slice::from_raw_parts(va as *const u8, size) };
    let Ok(fdt) = Fdt::new(blob) else { return info };
    info.dtb_range = Some((dtb, fdt.total_size() as u64));

    if let Some((base, size)) = fdt.memory().filter(|&(_, size)| size > 0) {
        info.ram = (base, size);
    }
    let cpus = fdt.cpu_count();
    if cpus > 0 {
        info.cpus = cpus.min(arch::MAX_CPUS);
    }
    if board.gic_from_dtb {
        if let Some(gic) = fdt.find_compatible(&["arm,gic-v3"]) {
            let mut reg = gic.reg();
            if let (Some(d), Some(r)) = (reg.next(), reg.next()) {
                info.gic = GicConfig::V3 {
                    gicd: d.0 as usize,
                    gicr: r.0 as usize,
                };
            }
        } else if let Some(gic) = fdt.find_compatible(&["arm,cortex-a15-gic", "arm,gic-400"]) {
            let mut reg = gic.reg();
            if let (Some(d), Some(c)) = (reg.next(), reg.next()) {
                info.gic = GicConfig::V2 {
                    gicd: d.0 as usize,
                    gicc: c.0 as usize,
                };
            }
        }
    }
    // (On the Pi the GIC sits under /soc, whose `ranges` would have to be
    // applied to its `reg`; that board's fixed addresses are used instead.)
    if let Some(method) = fdt
        .find_node("/psci")
        .and_then(|n| n.property_str("method"))
    {
        info.psci = if method == "smc" {
            Conduit::Smc
        } else {
            Conduit::Hvc
        };
    }
    info.initrd = fdt.initrd();
    if let Some(args) = fdt.bootargs() {
        let n = args.len().min(CMDLINE_MAX);
        info.cmdline[..n].copy_from_slice(&args.as_bytes()[..n]);
        info.cmdline_len = n;
    }
    info
}
