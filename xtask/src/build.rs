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

/// Where `build` puts the image of `app` for `board`, built or not.
pub fn image_paths(ws: &Workspace, board: &Board, app: &str) -> Image {
    let stem = format!("{}-{app}", board.name);
    Image {
        elf: ws.images().join(format!("{stem}.elf")),
        img: ws.images().join(format!("{stem}.img")),
    }
}

/// Builds the release ELF of an EL0 app and returns its absolute path.
pub fn build_app(ws: &Workspace, app: &str) -> Result<PathBuf, String> {
    workspace::run(
        ws.cargo()
            .args(["build", "--release", "-p", app, "--target", APP_TARGET]),
    )?;
    Ok(ws.target.join(APP_TARGET).join("release").join(app))
}

/// The environment that tells the kernel's build script which app to embed.
pub fn kernel_env<'a>(cmd: &'a mut Command, app_elf: &Path, app: &str) -> &'a mut Command {
    cmd.env("RSEQ_APP_ELF", app_elf).env("RSEQ_APP_NAME", app)
}

/// Builds app + kernel for `board` and leaves the image in `target/images`.
pub fn build(ws: &Workspace, board: &Board, app: &str) -> Result<Image, String> {
    let app_elf = build_app(ws, app)?;
    let mut cargo = ws.cargo();
    cargo.args([
        "build",
        "--release",
        "-p",
        "kernel",
        "--target",
        KERNEL_TARGET,
        "--features",
        board.feature,
    ]);
    workspace::run(kernel_env(&mut cargo, &app_elf, app))?;
    let kernel_elf = ws.target.join(KERNEL_TARGET).join("release").join("kernel");

    let image = image_paths(ws, board, app);
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
    let sysroot = rustc_output(ws, &["--print", "sysroot"])?;
    let version = rustc_output(ws, &["-vV"])?;
    let host = version
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .ok_or("`rustc -vV` printed no host line")?;
    let path = Path::new(sysroot.trim())
        .join("lib/rustlib")
        .join(host.trim())
        .join("bin/llvm-objcopy");
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
