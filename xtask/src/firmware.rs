//! The Raspberry Pi 4 files that are not ours: the GPU firmware (start4.elf,
//! fixup4.dat) and the device tree (bcm2711-rpi-4-b.dtb), taken from Debian's
//! packages by `xtask/fetch-rpi4-firmware.sh` into `target/rpi4-firmware/`.
//! QEMU raspi4b needs the DTB; the SD card image needs all three.

use std::path::PathBuf;
use std::process::Command;

use crate::boards::Board;
use crate::workspace::{self, Workspace};

/// Where the fetched files live.
pub struct Firmware {
    /// `start4.elf`: the GPU boot firmware.
    pub start4: PathBuf,
    /// `fixup4.dat`: its memory-split companion.
    pub fixup4: PathBuf,
    /// `bcm2711-rpi-4-b.dtb`: the Pi 4 Model B device tree.
    pub dtb: PathBuf,
}

/// The firmware folder under `target/`.
pub fn dir(ws: &Workspace) -> PathBuf {
    ws.root.join("target/rpi4-firmware")
}

/// The files, fetched first if any is missing.
pub fn ensure(ws: &Workspace) -> Result<Firmware, String> {
    let dir = dir(ws);
    let fw = Firmware {
        start4: dir.join("start4.elf"),
        fixup4: dir.join("fixup4.dat"),
        dtb: dir.join("bcm2711-rpi-4-b.dtb"),
    };
    if ![&fw.start4, &fw.fixup4, &fw.dtb]
        .iter()
        .all(|p| p.is_file())
    {
        eprintln!("fetching Raspberry Pi 4 firmware and DTB from Debian's packages");
        let mut cmd = Command::new("bash");
        cmd.arg(ws.root.join("xtask/fetch-rpi4-firmware.sh"))
            .arg(&dir);
        workspace::run(&mut cmd)?;
    }
    Ok(fw)
}

/// The `-dtb` a board must be booted with under QEMU, if any.
pub fn qemu_dtb(ws: &Workspace, board: &Board) -> Result<Option<PathBuf>, String> {
    if board.needs_firmware_dtb {
        ensure(ws).map(|fw| Some(fw.dtb))
    } else {
        Ok(None)
    }
}
