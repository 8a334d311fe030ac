//! The Linux programs of `apps/linux`: C sources compiled with the aarch64
//! Linux cross compiler against static glibc, each twice — a fixed-address
//! executable (`-static`, `ET_EXEC`) and a static PIE (`-static-pie`,
//! `ET_DYN`) — into `target/linux/NAME` and `target/linux/NAME-pie`.
//! `cargo xtask build` and `test` build them, so a program that stops
//! compiling is caught, and `test` checks that each file is what the
//! kernel's loader takes: a little-endian ELF64 for aarch64 of the expected
//! type, with no `PT_INTERP` (and, for `ET_EXEC`, no `PT_DYNAMIC`).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::workspace::{self, Workspace};

/// The C cross compiler (Debian's `gcc-aarch64-linux-gnu`; setup.sh).
pub const CC: &str = "aarch64-linux-gnu-gcc";
/// Flags of every program.
const CFLAGS: &[&str] = &["-O2", "-pthread", "-Wall", "-Wextra", "-Werror"];

/// How a program is linked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `-static`: `ET_EXEC` at gcc's default link address.
    Exec,
    /// `-static-pie`: `ET_DYN`, placed by the kernel, relocating itself.
    Pie,
}

impl Kind {
    const ALL: [Kind; 2] = [Kind::Exec, Kind::Pie];

    fn flag(self) -> &'static str {
        match self {
            Kind::Exec => "-static",
            Kind::Pie => "-static-pie",
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            Kind::Exec => "",
            Kind::Pie => "-pie",
        }
    }

    /// The ELF `e_type` the program must have.
    fn e_type(self) -> u16 {
        match self {
            Kind::Exec => ET_EXEC,
            Kind::Pie => ET_DYN,
        }
    }
}

const ET_EXEC: u16 = 2;
const ET_DYN: u16 = 3;
const EM_AARCH64: u16 = 183;
const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;

/// The program sources, `apps/linux/*.c`, sorted.
pub fn sources(ws: &Workspace) -> Vec<PathBuf> {
    let mut c: Vec<PathBuf> = fs::read_dir(ws.root.join("apps/linux"))
        .map(|dir| {
            dir.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "c"))
                .collect()
        })
        .unwrap_or_default();
    c.sort();
    c
}

/// Where the programs go.
pub fn out_dir(ws: &Workspace) -> PathBuf {
    ws.target.join("linux")
}

/// Compiles every program both ways; returns each output with its kind.
pub fn build_all(ws: &Workspace) -> Result<Vec<(PathBuf, Kind)>, String> {
    if Command::new(CC).arg("--version").output().is_err() {
        return Err(format!(
            "{CC} not found: the Linux programs of apps/linux need it (bash setup.sh installs it)"
        ));
    }
    let mut built = Vec::new();
    for src in sources(ws) {
        let stem = src
            .file_stem()
            .and_then(|s| s.to_str())
            .ok_or_else(|| format!("{}: not a UTF-8 name", src.display()))?;
        for kind in Kind::ALL {
            built.push((compile(ws, &src, stem, kind)?, kind));
        }
    }
    Ok(built)
}

/// Compiles `apps/linux/<stem>.c` as `kind` into `target/linux`.
fn compile(ws: &Workspace, src: &Path, stem: &str, kind: Kind) -> Result<PathBuf, String> {
    let out = out_dir(ws);
    fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let bin = out.join(format!("{stem}{}", kind.suffix()));
    // Every program's sources and shared headers are in that one folder.
    let newest = workspace::newest_input(&[&ws.root.join("apps/linux")])?;
    workspace::compile(
        Command::new(CC).arg(kind.flag()).args(CFLAGS).arg(src),
        &bin,
        newest,
    )?;
    Ok(bin)
}

/// Builds one program by its output name (`hello`, `hello-pie`) and
/// returns its path, for a scenario that boots it.
pub fn build_one(ws: &Workspace, name: &str) -> Result<PathBuf, String> {
    let (stem, kind) = match name.strip_suffix(Kind::Pie.suffix()) {
        Some(stem) => (stem, Kind::Pie),
        None => (name, Kind::Exec),
    };
    let src = ws.root.join("apps/linux").join(format!("{stem}.c"));
    if !src.is_file() {
        return Err(format!("no {}", ws.display(&src)));
    }
    compile(ws, &src, stem, kind)
}

/// Builds the programs and checks each: the `test` check's summary, or
/// the first problem.
pub fn check(ws: &Workspace) -> Result<String, String> {
    let built = build_all(ws)?;
    if built.is_empty() {
        return Err("no program in apps/linux".to_string());
    }
    for (bin, kind) in &built {
        let bytes = fs::read(bin).map_err(|e| format!("{}: {e}", bin.display()))?;
        check_elf(&bytes, *kind).map_err(|e| format!("{}: {e}", ws.display(bin)))?;
    }
    Ok(format!(
        "{} programs, each a static aarch64 ET_EXEC and a static-pie ET_DYN without PT_INTERP",
        built.len() / 2
    ))
}

/// Whether `elf` is a static aarch64 program of `kind`.
pub fn check_elf(elf: &[u8], kind: Kind) -> Result<(), String> {
    let u16_at = |o: usize| elf.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u32_at = |o: usize| {
        elf.get(o..o + 4)
            .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
    };
    let u64_at = |o: usize| {
        elf.get(o..o + 8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
    };
    if elf.get(..6) != Some(b"\x7fELF\x02\x01") {
        return Err("not a little-endian ELF64 file".to_string());
    }
    let (e_type, machine) = (u16_at(16), u16_at(18));
    if machine != Some(EM_AARCH64) {
        return Err(format!(
            "e_machine {machine:?}, expected {EM_AARCH64} (aarch64)"
        ));
    }
    if e_type != Some(kind.e_type()) {
        return Err(format!(
            "e_type {e_type:?}, expected {} for {}",
            kind.e_type(),
            kind.flag()
        ));
    }
    let phoff = u64_at(32).ok_or("truncated header")? as usize;
    let (phentsize, phnum) = (u16_at(54), u16_at(56));
    if phentsize != Some(56) {
        return Err(format!("e_phentsize {phentsize:?}, expected 56"));
    }
    let mut dynamic = false;
    for i in 0..usize::from(phnum.unwrap_or(0)) {
        let p_type = u32_at(phoff + i * 56).ok_or("program headers past the end")?;
        match p_type {
            PT_INTERP => return Err("has PT_INTERP: dynamically linked".to_string()),
            PT_DYNAMIC => dynamic = true,
            _ => {}
        }
    }
    if kind == Kind::Exec && dynamic {
        return Err("ET_EXEC with PT_DYNAMIC: not a static executable".to_string());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ELF header and program headers of the given types.
    fn elf(e_type: u16, machine: u16, phdrs: &[u32]) -> Vec<u8> {
        let mut f = vec![0u8; 64];
        f[..6].copy_from_slice(b"\x7fELF\x02\x01");
        f[16..18].copy_from_slice(&e_type.to_le_bytes());
        f[18..20].copy_from_slice(&machine.to_le_bytes());
        f[32..40].copy_from_slice(&64u64.to_le_bytes());
        f[54..56].copy_from_slice(&56u16.to_le_bytes());
        f[56..58].copy_from_slice(&(phdrs.len() as u16).to_le_bytes());
        for &t in phdrs {
            let mut ph = vec![0u8; 56];
            ph[..4].copy_from_slice(&t.to_le_bytes());
            f.extend(ph);
        }
        f
    }

    #[test]
    fn accepts_static_exec_and_static_pie() {
        assert_eq!(
            check_elf(&elf(ET_EXEC, EM_AARCH64, &[1, 1, 7]), Kind::Exec),
            Ok(())
        );
        assert_eq!(
            check_elf(&elf(ET_DYN, EM_AARCH64, &[1, 1, PT_DYNAMIC]), Kind::Pie),
            Ok(())
        );
    }

    #[test]
    fn refuses_what_the_loader_would() {
        let e = check_elf(&elf(ET_DYN, EM_AARCH64, &[1]), Kind::Exec).unwrap_err();
        assert!(e.contains("expected 2"), "{e}");
        let e = check_elf(&elf(ET_EXEC, EM_AARCH64, &[1]), Kind::Pie).unwrap_err();
        assert!(e.contains("expected 3"), "{e}");
        let e = check_elf(&elf(ET_DYN, EM_AARCH64, &[PT_INTERP, 1]), Kind::Pie).unwrap_err();
        assert!(e.contains("PT_INTERP"), "{e}");
        let e = check_elf(&elf(ET_EXEC, EM_AARCH64, &[1, PT_DYNAMIC]), Kind::Exec).unwrap_err();
        assert!(e.contains("PT_DYNAMIC"), "{e}");
        let e = check_elf(&elf(ET_EXEC, 62, &[1]), Kind::Exec).unwrap_err();
        assert!(e.contains("aarch64"), "{e}");
        assert!(check_elf(b"#!/bin/sh\n", Kind::Exec).is_err());
        let mut truncated = elf(ET_EXEC, EM_AARCH64, &[1, 1]);
        truncated.truncate(64 + 56 + 2);
        assert!(check_elf(&truncated, Kind::Exec).is_err());
    }
}
