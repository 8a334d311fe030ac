//! Links the kernel for its board and embeds the app.
//!
//! The image build (`cargo xtask build`) builds the app first and passes its
//! ELF in `RSEQ_APP_ELF` and its name in `RSEQ_APP_NAME`; the kernel carries
//! the ELF bytes and loads them at boot. `RSEQ_APP_ELF` set but empty builds
//! a loader kernel: it embeds nothing and loads its program from the initrd
//! the boot loader passes. Host builds (unit tests) embed nothing.
use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let target_os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    println!("cargo:rerun-if-env-changed=RSEQ_APP_ELF");
    println!("cargo:rerun-if-env-changed=RSEQ_APP_NAME");

    let app = out.join("app.elf");
    match env::var("RSEQ_APP_ELF") {
        Ok(path) if path.is_empty() => fs::write(&app, b"").unwrap(),
        Ok(path) => {
            println!("cargo:rerun-if-changed={path}");
            fs::copy(&path, &app).unwrap_or_else(|e| panic!("RSEQ_APP_ELF={path}: {e}"));
        }
        Err(_) if target_os == "none" => {
            panic!("RSEQ_APP_ELF is not set: build images with `cargo xtask build --app NAME`")
        }
        Err(_) => fs::write(&app, b"").unwrap(),
    }
    let name = env::var("RSEQ_APP_NAME").unwrap_or_else(|_| "none".into());
    println!("cargo:rustc-env=RSEQ_APP_NAME={name}");

    if target_os == "none" {
        let board = if env::var("CARGO_FEATURE_BOARD_RPI4").is_ok() {
            "rpi4"
        } else {
            "virt"
        };
        let linker = manifest.join("../linker");
        println!("cargo:rustc-link-arg=-L{}", linker.display());
        println!("cargo:rustc-link-arg=-T{board}.ld");
        println!("cargo:rerun-if-changed={}", linker.display());
    }
}
