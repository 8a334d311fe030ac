//! Linux as the benchmark's reference: Debian sid's newest arm64 kernel
//! image (fetched by `xtask/fetch-linux-kernel.sh` into
//! `target/linux-kernel/`, with its version; only when a benchmark asks for
//! it, not by setup.sh), booted in the same QEMU machine as rseq-os with a
//! program as `/init` of an initramfs written here without root (a cpio
//! "newc" archive: `/dev/console`, `/init`).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::workspace::{self, Workspace};

/// Where the kernel and its `VERSION` are.
pub fn dir(ws: &Workspace) -> PathBuf {
    ws.target.join("linux-kernel")
}

/// The fetched kernel: its image and version
/// (`linux-binary-7.2.13+deb14-arm64 7.2.13-1`), fetching first when it is
/// not there.
pub fn fetch(ws: &Workspace) -> Result<(PathBuf, String), String> {
    let dir = dir(ws);
    let image = dir.join("Image");
    let version = dir.join("VERSION");
    if !image.is_file() || !version.is_file() {
        eprintln!("fetching Debian sid's newest arm64 Linux kernel image");
        let mut cmd = Command::new("bash");
        cmd.arg(ws.root.join("xtask/fetch-linux-kernel.sh"))
            .arg(&dir);
        workspace::run(&mut cmd)?;
    }
    let text = fs::read_to_string(&version).map_err(|e| format!("{}: {e}", version.display()))?;
    Ok((image, text.trim().to_string()))
}

/// The short form of a fetched version: `linux-binary-7.2.13+deb14-arm64
/// 7.2.13-1` is `7.2.13+deb14-arm64`.
pub fn short_version(version: &str) -> &str {
    let pkg = version.split_whitespace().next().unwrap_or(version);
    pkg.strip_prefix("linux-binary-").unwrap_or(pkg)
}

/// One member of a cpio archive.
pub enum Entry<'a> {
    Dir(&'a str),
    /// A character device node: name, major, minor.
    CharDev(&'a str, u32, u32),
    /// An executable file.
    Exec(&'a str, &'a [u8]),
}

const S_IFDIR: u32 = 0o040_000;
const S_IFCHR: u32 = 0o020_000;
const S_IFREG: u32 = 0o100_000;

/// A cpio archive in the "newc" format Linux's initramfs unpacker reads
/// (`070701` headers of thirteen 8-digit hex fields, names and data padded
/// to 4 bytes, a `TRAILER!!!` member at the end); owners root, times 0, so
/// the archive depends only on its members (pure).
pub fn cpio_newc(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut member = |ino: u32, name: &str, mode: u32, rdev: (u32, u32), data: &[u8]| {
        let fields = [
            ino,
            mode,
            0, // uid
            0, // gid
            if mode & S_IFDIR != 0 { 2 } else { 1 },
            0, // mtime
            data.len() as u32,
            0, // devmajor
            0, // devminor
            rdev.0,
            rdev.1,
            name.len() as u32 + 1,
            0, // check
        ];
        out.extend_from_slice(b"070701");
        for f in fields {
            out.extend_from_slice(format!("{f:08x}").as_bytes());
        }
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        out.resize(out.len().next_multiple_of(4), 0);
        out.extend_from_slice(data);
        out.resize(out.len().next_multiple_of(4), 0);
    };
    for (i, e) in entries.iter().enumerate() {
        let ino = i as u32 + 1;
        match e {
            Entry::Dir(name) => member(ino, name, S_IFDIR | 0o755, (0, 0), &[]),
            Entry::CharDev(name, major, minor) => {
                member(ino, name, S_IFCHR | 0o600, (*major, *minor), &[])
            }
            Entry::Exec(name, data) => member(ino, name, S_IFREG | 0o755, (0, 0), data),
        }
    }
    member(0, "TRAILER!!!", 0, (0, 0), &[]);
    out
}

/// Writes the initramfs that runs `program` as `/init`, with the
/// `/dev/console` Linux opens for it, next to the program
/// (`<program>.cpio`); returns its path.
pub fn initramfs(program: &Path) -> Result<PathBuf, String> {
    let bytes = fs::read(program).map_err(|e| format!("{}: {e}", program.display()))?;
    let archive = cpio_newc(&[
        Entry::Dir("dev"),
        Entry::CharDev("dev/console", 5, 1),
        Entry::Exec("init", &bytes),
    ]);
    let out = program.with_extension("cpio");
    fs::write(&out, archive).map_err(|e| format!("{}: {e}", out.display()))?;
    Ok(out)
}

/// The kernel command line that runs `/init` with `env` (`NAME=VALUE`
/// words, which Linux passes to init's environment) and `args` after `--`
/// (init's argv), printing nothing but init's output on the PL011.
pub fn cmdline(env: &[&str], args: &[&str]) -> String {
    let mut words = vec!["console=ttyAMA0", "quiet", "loglevel=0"];
    words.extend(env);
    if !args.is_empty() {
        words.push("--");
        words.extend(args);
    }
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(header: &[u8], i: usize) -> u32 {
        let s = std::str::from_utf8(&header[6 + 8 * i..14 + 8 * i]).unwrap();
        u32::from_str_radix(s, 16).unwrap()
    }

    #[test]
    fn newc_members_are_aligned_and_terminated() {
        let a = cpio_newc(&[
            Entry::Dir("dev"),
            Entry::CharDev("dev/console", 5, 1),
            Entry::Exec("init", b"hello"),
        ]);
        assert_eq!(a.len() % 4, 0);
        // dev: 110-byte header + "dev\0" = 114, padded to 116.
        assert_eq!(&a[..6], b"070701");
        assert_eq!(field(&a, 1), S_IFDIR | 0o755);
        assert_eq!(field(&a, 11), 4, "namesize counts the NUL");
        assert_eq!(&a[110..114], b"dev\0");
        let console = &a[116..];
        assert_eq!(field(console, 1), S_IFCHR | 0o600);
        assert_eq!((field(console, 9), field(console, 10)), (5, 1));
        // 110 + "dev/console\0" (12) = 122, padded to 124.
        let init = &console[124..];
        assert_eq!(field(init, 1), S_IFREG | 0o755);
        assert_eq!(field(init, 6), 5, "filesize");
        // 110 + "init\0" = 115 -> 116, then the data at 116.
        assert_eq!(&init[116..121], b"hello");
        let trailer = &init[124..];
        assert_eq!(&trailer[110..121], b"TRAILER!!!\0");
        assert_eq!(field(trailer, 0), 0);
        assert_eq!(trailer.len(), 124);
    }

    #[test]
    fn versions_and_command_lines() {
        assert_eq!(
            short_version("linux-binary-7.2.13+deb14-arm64 7.2.13-1"),
            "7.2.13+deb14-arm64"
        );
        assert_eq!(
            cmdline(&["A=1"], &["v2", "getpid"]),
            "console=ttyAMA0 quiet loglevel=0 A=1 -- v2 getpid"
        );
        assert_eq!(cmdline(&[], &[]), "console=ttyAMA0 quiet loglevel=0");
    }
}
