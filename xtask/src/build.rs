//! Building a bootable image: the EL0 app, then the kernel that embeds it.
//!
//! The app and the kernel need different targets (the app may use FP/NEON,
//! the kernel is soft-float so it never touches EL0's FP registers), so they
//! are two cargo invocations; the kernel's build script embeds the app ELF
//! named by `RSEQ_APP_ELF`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::boards::Board;
use crate::workspace::{self, Workspace};

/// Target of the EL0 apps.
pub const APP_TARGET: &str = "aarch64-unknown-none";
/// Target of the kernel.
pub const KERNEL_TARGET: &str = "aarch64-unknown-none-softfloat";

/// A built image.
#[derive(Debug, Clone)]
pub struct Image {
    /// The kernel ELF, with symbols: for gdb and addr2line.
    pub elf: PathBuf,
    /// The raw binary QEMU boots with `-kernel` (arm64 Image header, so QEMU
    /// passes the DTB in x0, which it does not do for an ELF).
    pub img: PathBuf,
}

/// How an image is compiled: the cargo profile of both the app and the
/// kernel, and the suffix that keeps its files apart from the other's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Profile {
    /// What runs, is tested and is benchmarked: optimised, with LTO.
    #[default]
    Release,
    /// For gdb (`debug=1`): `[profile.debug-image]` in the workspace's
    /// Cargo.toml, lightly optimised and without LTO, so locals, frames and
    /// function symbols are there to see.
    Debug,
}

impl Profile {
    /// `--profile` for cargo, which is also the folder cargo builds into.
    pub fn cargo_name(self) -> &'static str {
        match self {
            Profile::Release => "release",
            Profile::Debug => "debug-image",
        }
    }

    /// Appended to `<board>-<app>` in `target/images`.
    pub fn suffix(self) -> &'static str {
        match self {
            Profile::Release => "",
            Profile::Debug => "-debug",
        }
    }
}

/// Where `build` puts the image of `app` for `board`, built or not.
pub fn image_paths(ws: &Workspace, board: &Board, app: &str, profile: Profile) -> Image {
    let stem = format!("{}-{app}{}", board.name, profile.suffix());
    Image {
        elf: ws.images().join(format!("{stem}.elf")),
        img: ws.images().join(format!("{stem}.img")),
    }
}

/// Builds the ELF of an EL0 app and returns its absolute path.
pub fn build_app(ws: &Workspace, app: &str, profile: Profile) -> Result<PathBuf, String> {
    ws.check_app(app)?;
    let name = profile.cargo_name();
    workspace::run(ws.cargo().args([
        "build",
        "--profile",
        name,
        "-p",
        app,
        "--target",
        APP_TARGET,
    ]))?;
    Ok(ws.target.join(APP_TARGET).join(name).join(app))
}

/// The environment that tells the kernel's build script which app to embed.
pub fn kernel_env<'a>(cmd: &'a mut Command, app_elf: &Path, app: &str) -> &'a mut Command {
    cmd.env("RSEQ_APP_ELF", app_elf).env("RSEQ_APP_NAME", app)
}

/// The kernel modes `mode=` takes and the loader kernels are built for.
pub const KERNEL_MODES: [&str; 3] = ["v1", "v2", "linux"];

/// The rseq mode an app declared with `rt::rseq_mode!`: the contents of its
/// `.rseq_mode` ELF section, `v1`, `v2`, `linux` or `none`.
pub fn rseq_mode(elf: &[u8]) -> Result<&'static str, String> {
    let section = elf_section(elf, ".rseq_mode").ok_or(
        "the app declares no rseq mode: add rt::rseq_mode!(v1|v2|linux|none) to its main.rs",
    )?;
    match section.split(|&b| b == 0).next().unwrap_or_default() {
        b"v1" => Ok("v1"),
        b"v2" => Ok("v2"),
        b"linux" => Ok("linux"),
        b"none" => Ok("none"),
        other => Err(format!(
            "unknown rseq mode {:?} in .rseq_mode",
            String::from_utf8_lossy(other)
        )),
    }
}

/// The rseq mode of a kernel that runs the program `elf` from the initrd:
/// `mode` (`v1`, `v2` or `linux`), by default `linux`, Linux's own rule
/// (each registration's length picks its version), since a Linux program
/// declares none. A program that does declare one (an app of ours, built
/// with `rt::rseq_mode!`) gets it by default and must agree: a v1 app on a
/// v2 kernel would have its 32-byte registration refused, and a `linux` app
/// may register either length. A `linux` kernel also runs v1 and v2 apps,
/// each registration with the version its length asks for, which is what
/// they were written for; `none` runs under any.
pub fn program_mode(elf: &[u8], mode: Option<&str>) -> Result<&'static str, String> {
    let given = match mode {
        Some(m) => Some(
            KERNEL_MODES
                .into_iter()
                .find(|k| *k == m)
                .ok_or_else(|| format!("mode={m}: expected v1, v2 or linux"))?,
        ),
        None => None,
    };
    if elf.get(..4) != Some(b"\x7fELF") {
        return Err("not an ELF file".to_string());
    }
    let declared = match elf_section(elf, ".rseq_mode").map(|_| rseq_mode(elf)) {
        Some(Ok(declared)) => declared,
        Some(Err(e)) => return Err(e),
        None => "none",
    };
    match (given, declared) {
        (None, "none") => Ok("linux"),
        (None, declared) => Ok(declared),
        (Some(mode), "none") => Ok(mode),
        (Some("linux"), "v1" | "v2") => Ok("linux"),
        (Some(mode), declared) if mode != declared => Err(format!(
            "the program declares rseq mode {declared} (rt::rseq_mode!), but mode={mode}: \
             give mode={declared}"
        )),
        (Some(mode), _) => Ok(mode),
    }
}

/// Where `build_loader` puts the loader kernel for `board` and `mode`.
pub fn loader_paths(ws: &Workspace, board: &Board, mode: &str, profile: Profile) -> Image {
    image_paths(ws, board, &format!("loader-{mode}"), profile)
}

/// Builds the loader kernel for `board` in rseq mode `mode` (`v1`, `v2`,
/// `linux`):
/// no embedded app, the program comes from the initrd. One image per board
/// and mode, `target/images/<board>-loader-<mode>.img`, whatever program
/// it then boots; cargo rebuilds it only when the kernel changed.
pub fn build_loader(
    ws: &Workspace,
    board: &Board,
    mode: &str,
    profile: Profile,
) -> Result<Image, String> {
    let mut cargo = kernel_cargo(ws, board, mode, profile);
    workspace::run(cargo.env("RSEQ_APP_ELF", "").env("RSEQ_APP_NAME", "initrd"))?;
    install_kernel(ws, profile, loader_paths(ws, board, mode, profile))
}

/// The kernel command line that starts the program `elf` (its file name
/// becomes `init=`, so argv[0]), with `env` (`"K=V K2=V2"`, each a word)
/// as `env=` options, before `append` (kernel options, then `-- args`).
pub fn program_cmdline(elf: Option<&Path>, env: &str, append: &str) -> Result<String, String> {
    let mut words = Vec::new();
    if let Some(elf) = elf {
        let name = elf
            .file_name()
            .and_then(|n| n.to_str())
            .filter(|n| !n.is_empty() && !n.contains(char::is_whitespace))
            .ok_or_else(|| {
                format!(
                    "elf={}: the file name becomes argv[0], and must be UTF-8 without spaces",
                    elf.display()
                )
            })?;
        words.push(format!("init={name}"));
    }
    for var in env.split_whitespace() {
        match var.split_once('=') {
            Some((name, _)) if !name.is_empty() => words.push(format!("env={var}")),
            _ => return Err(format!("env=: {var:?} is not NAME=VALUE")),
        }
    }
    if !append.trim().is_empty() {
        words.push(append.trim().to_string());
    }
    Ok(words.join(" "))
}

/// The kernel feature for an app's rseq mode: the image is built for that
/// mode only; an app without rseq gets the v2 kernel (it never registers).
pub fn rseq_feature(mode: &str) -> &'static str {
    match mode {
        "v1" => "rseq-v1",
        "linux" => "rseq-linux",
        _ => "rseq-v2",
    }
}

/// The bytes of section `name` of a little-endian ELF64 file.
fn elf_section<'a>(elf: &'a [u8], name: &str) -> Option<&'a [u8]> {
    let u16_at = |o: usize| Some(u16::from_le_bytes(elf.get(o..o + 2)?.try_into().ok()?));
    let u32_at = |o: usize| Some(u32::from_le_bytes(elf.get(o..o + 4)?.try_into().ok()?));
    let u64_at = |o: usize| Some(u64::from_le_bytes(elf.get(o..o + 8)?.try_into().ok()?));
    if elf.get(..5)? != b"\x7fELF\x02" {
        return None;
    }
    let shoff = u64_at(0x28)? as usize;
    let (shentsize, shnum, shstrndx) = (
        u16_at(0x3a)? as usize,
        u16_at(0x3c)? as usize,
        u16_at(0x3e)? as usize,
    );
    let header = |i: usize| shoff.checked_add(i.checked_mul(shentsize)?);
    let strtab = header(shstrndx)?;
    let (str_off, str_size) = (
        u64_at(strtab + 0x18)? as usize,
        u64_at(strtab + 0x20)? as usize,
    );
    let names = elf.get(str_off..str_off.checked_add(str_size)?)?;
    (0..shnum).find_map(|i| {
        let h = header(i)?;
        let name_off = u32_at(h)? as usize;
        let this = names.get(name_off..)?.split(|&b| b == 0).next()?;
        if this != name.as_bytes() {
            return None;
        }
        let (off, size) = (u64_at(h + 0x18)? as usize, u64_at(h + 0x20)? as usize);
        elf.get(off..off.checked_add(size)?)
    })
}

/// Builds the release image of `app` for `board` into `target/images`.
pub fn build(ws: &Workspace, board: &Board, app: &str) -> Result<Image, String> {
    build_as(ws, board, app, Profile::Release)
}

/// Builds app + kernel for `board` with `profile` and leaves the image in
/// `target/images`.
pub fn build_as(
    ws: &Workspace,
    board: &Board,
    app: &str,
    profile: Profile,
) -> Result<Image, String> {
    let app_elf = build_app(ws, app, profile)?;
    let elf = fs::read(&app_elf).map_err(|e| format!("{}: {e}", app_elf.display()))?;
    let mode = rseq_mode(&elf).map_err(|e| format!("{app}: {e}"))?;
    let mut cargo = kernel_cargo(ws, board, mode, profile);
    workspace::run(kernel_env(&mut cargo, &app_elf, app))?;
    install_kernel(ws, profile, image_paths(ws, board, app, profile))
}

/// `cargo build` of the kernel for `board` and rseq `mode`.
fn kernel_cargo(ws: &Workspace, board: &Board, mode: &str, profile: Profile) -> Command {
    let mut cargo = ws.cargo();
    cargo.args([
        "build",
        "--profile",
        profile.cargo_name(),
        "-p",
        "kernel",
        "--target",
        KERNEL_TARGET,
        "--features",
        &format!("{},{}", board.feature, rseq_feature(mode)),
    ]);
    cargo
}

/// Copies the kernel just built to `image.elf` and writes `image.img`.
fn install_kernel(ws: &Workspace, profile: Profile, image: Image) -> Result<Image, String> {
    let kernel_elf = ws
        .target
        .join(KERNEL_TARGET)
        .join(profile.cargo_name())
        .join("kernel");
    fs::create_dir_all(ws.images()).map_err(|e| format!("cannot create images dir: {e}"))?;
    fs::copy(&kernel_elf, &image.elf).map_err(|e| {
        format!(
            "cannot copy {} to {}: {e}",
            kernel_elf.display(),
            image.elf.display()
        )
    })?;
    workspace::run(
        Command::new(objcopy(ws)?)
            .args(["-O", "binary"])
            .arg(&image.elf)
            .arg(&image.img),
    )?;
    Ok(image)
}

/// `llvm-objcopy` from the toolchain's llvm-tools component, so no system
/// binutils for aarch64 are needed.
fn objcopy(ws: &Workspace) -> Result<PathBuf, String> {
    llvm_tool(ws, "llvm-objcopy")
}

/// A tool of the `llvm-tools` rustup component (llvm-objcopy, llvm-nm).
pub fn llvm_tool(ws: &Workspace, name: &str) -> Result<PathBuf, String> {
    let sysroot = rustc_output(ws, &["--print", "sysroot"])?;
    let version = rustc_output(ws, &["-vV"])?;
    let host = version
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .ok_or("`rustc -vV` printed no host line")?;
    let path = Path::new(sysroot.trim())
        .join("lib/rustlib")
        .join(host.trim())
        .join("bin")
        .join(name);
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "{} not found: install it with `rustup component add llvm-tools`",
            path.display()
        ))
    }
}

/// The stdout of `rustc <args>`.
fn rustc_output(ws: &Workspace, args: &[&str]) -> Result<String, String> {
    let mut cmd = ws.rustc();
    cmd.args(args);
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {}: {e}", workspace::describe(&cmd)))?;
    workspace::check(&cmd, out.status)?;
    String::from_utf8(out.stdout).map_err(|_| format!("`{}`: not UTF-8", workspace::describe(&cmd)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF64 with a null section, `.shstrtab` and `.rseq_mode`.
    fn elf_with_mode(mode: &[u8; 8]) -> Vec<u8> {
        let names = b"\0.shstrtab\0.rseq_mode\0";
        let mut elf = vec![0u8; 64];
        elf[..5].copy_from_slice(b"\x7fELF\x02");
        let names_off = elf.len();
        elf.extend_from_slice(names);
        let mode_off = elf.len();
        elf.extend_from_slice(mode);
        while !elf.len().is_multiple_of(8) {
            elf.push(0);
        }
        let shoff = elf.len();
        let section = |name: u32, off: usize, size: usize| {
            let mut h = vec![0u8; 64];
            h[..4].copy_from_slice(&name.to_le_bytes());
            h[0x18..0x20].copy_from_slice(&(off as u64).to_le_bytes());
            h[0x20..0x28].copy_from_slice(&(size as u64).to_le_bytes());
            h
        };
        elf.extend(section(0, 0, 0));
        elf.extend(section(1, names_off, names.len()));
        elf.extend(section(11, mode_off, 8));
        elf[0x28..0x30].copy_from_slice(&(shoff as u64).to_le_bytes());
        elf[0x3a..0x3c].copy_from_slice(&64u16.to_le_bytes());
        elf[0x3c..0x3e].copy_from_slice(&3u16.to_le_bytes());
        elf[0x3e..0x40].copy_from_slice(&1u16.to_le_bytes());
        elf
    }

    #[test]
    fn reads_the_declared_mode() {
        assert_eq!(rseq_mode(&elf_with_mode(V1)), Ok("v1"));
        assert_eq!(rseq_mode(&elf_with_mode(V2)), Ok("v2"));
        assert_eq!(rseq_mode(&elf_with_mode(LINUX)), Ok("linux"));
        assert_eq!(rseq_mode(&elf_with_mode(NONE)), Ok("none"));
        assert!(rseq_mode(&elf_with_mode(b"v3\0\0\0\0\0\0")).is_err());
        assert!(rseq_mode(&elf_with_mode(b"linuxv2\0")).is_err());
        assert_eq!(rseq_feature("none"), "rseq-v2");
        assert_eq!(rseq_feature("v1"), "rseq-v1");
        assert_eq!(rseq_feature("v2"), "rseq-v2");
        assert_eq!(rseq_feature("linux"), "rseq-linux");
    }

    const V1: &[u8; 8] = b"v1\0\0\0\0\0\0";
    const V2: &[u8; 8] = b"v2\0\0\0\0\0\0";
    const LINUX: &[u8; 8] = b"linux\0\0\0";
    const NONE: &[u8; 8] = b"none\0\0\0\0";

    #[test]
    fn a_program_needs_a_mode_that_agrees_with_its_declaration() {
        let linux = {
            let mut elf = elf_with_mode(V1);
            elf[0x3c] = 2; // no .rseq_mode: a Linux program
            elf
        };
        assert_eq!(program_mode(&linux, Some("v1")), Ok("v1"));
        assert_eq!(program_mode(&linux, Some("v2")), Ok("v2"));
        assert_eq!(program_mode(&linux, Some("linux")), Ok("linux"));
        // Without mode=: Linux's own rule.
        assert_eq!(program_mode(&linux, None), Ok("linux"));
        assert!(
            program_mode(&linux, Some("none"))
                .unwrap_err()
                .contains("expected v1, v2 or linux")
        );
        let v1 = elf_with_mode(V1);
        assert_eq!(program_mode(&v1, Some("v1")), Ok("v1"));
        assert_eq!(program_mode(&v1, None), Ok("v1"), "its declaration");
        assert_eq!(program_mode(&v1, Some("linux")), Ok("linux"));
        let e = program_mode(&v1, Some("v2")).unwrap_err();
        assert!(
            e.contains("declares rseq mode v1") && e.contains("give mode=v1"),
            "{e}"
        );
        let app = elf_with_mode(LINUX);
        assert_eq!(program_mode(&app, None), Ok("linux"));
        assert_eq!(program_mode(&app, Some("linux")), Ok("linux"));
        for m in ["v1", "v2"] {
            let e = program_mode(&app, Some(m)).unwrap_err();
            assert!(e.contains("give mode=linux"), "{e}");
        }
        assert_eq!(program_mode(&elf_with_mode(V2), Some("linux")), Ok("linux"));
        let none = elf_with_mode(NONE);
        assert_eq!(program_mode(&none, Some("v1")), Ok("v1"));
        assert_eq!(program_mode(&none, Some("v2")), Ok("v2"));
        assert_eq!(program_mode(&none, None), Ok("linux"));
        assert!(program_mode(&elf_with_mode(b"v3\0\0\0\0\0\0"), Some("v2")).is_err());
        assert_eq!(
            program_mode(b"#!/bin/sh\n", Some("v2")),
            Err("not an ELF file".to_string())
        );
    }

    #[test]
    fn program_command_line() {
        let elf = Path::new("/some/dir/hello");
        assert_eq!(
            program_cmdline(
                Some(elf),
                "A=1  GLIBC_TUNABLES=glibc.rseq=0",
                "hz=250 -- x y"
            ),
            Ok("init=hello env=A=1 env=GLIBC_TUNABLES=glibc.rseq=0 hz=250 -- x y".to_string())
        );
        assert_eq!(
            program_cmdline(Some(elf), "", ""),
            Ok("init=hello".to_string())
        );
        assert_eq!(
            program_cmdline(None, "K=", "-- a"),
            Ok("env=K= -- a".to_string())
        );
        assert_eq!(program_cmdline(None, "", ""), Ok(String::new()));
        assert!(
            program_cmdline(None, "NOVALUE", "")
                .unwrap_err()
                .contains("NAME=VALUE")
        );
        assert!(program_cmdline(None, "=1", "").is_err());
        assert!(program_cmdline(Some(Path::new("a b")), "", "").is_err());
        // What it builds is what the kernel's parser takes.
        let line = program_cmdline(Some(elf), "A=1 B=2", "loglevel=6 -- p q").unwrap();
        let c = abi::cmdline::parse(&line).unwrap();
        assert_eq!(c.init, Some("hello"));
        assert_eq!(c.env.iter().collect::<Vec<_>>(), ["A=1", "B=2"]);
        assert_eq!((c.loglevel, c.app_args), (6, "p q"));
    }

    #[test]
    fn missing_declaration_or_garbage_is_an_error() {
        let mut elf = elf_with_mode(V1);
        elf[0x3c] = 2; // drop the .rseq_mode section
        assert!(rseq_mode(&elf).unwrap_err().contains("rt::rseq_mode!"));
        assert!(rseq_mode(b"not an elf").is_err());
        assert!(rseq_mode(&[]).is_err());
    }
}
