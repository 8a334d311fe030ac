//! `cargo xtask flash`: writes the SD card image to a card, then reads it
//! back and compares.
//!
//! Writing a whole disk is the one thing xtask does that can destroy data, so
//! every check runs before the device is even opened, and each refusal says
//! why and what to do instead:
//!
//! - the device exists, is a block device and a whole disk (not `/dev/sdb1`);
//! - it is not the system disk (the disk holding `/` or `/boot`, following
//!   partitions and device-mapper layers such as LVM and LUKS);
//! - nothing on it is mounted, nor held by device-mapper;
//! - the kernel reports it removable (`/sys/block/<dev>/removable`). USB card
//!   readers that report 0 are refused too, with no override: whoever is sure
//!   can use `dd`, which makes them type the device name themselves;
//! - it is at least as large as the image.
//!
//! Then it asks for `yes` on the terminal (never reads an answer from a pipe;
//! `yes=1` skips the question), writes in 4 MiB chunks with a progress line,
//! fsyncs, drops the kernel's cached copy and reads everything back.
//!
//! Everything the checks look at (`/dev`, `/proc/self/mounts`, `/sys`) is read
//! through [`System`], whose root a test can point at a fake tree in which the
//! "device" is a plain file. The same fake mode is reachable from the command
//! line through the environment variable `XTASK_FLASH_FAKE_ROOT` (for
//! end-to-end tests only, hence not in the usage text); in it, only regular
//! files are accepted as devices, so it cannot reach real hardware.

use std::collections::BTreeSet;
use std::env;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, IsTerminal, Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use crate::args::{Args, Spec, flag, value};
use crate::sdcard;
use crate::workspace::Workspace;

/// Write and read-back chunk size.
const CHUNK: usize = 4 << 20;
/// sysfs `size` files count 512-byte sectors whatever the device's own size.
const SYSFS_SECTOR: u64 = 512;
/// See the module documentation.
const FAKE_ROOT_ENV: &str = "XTASK_FLASH_FAKE_ROOT";
/// Mount points whose disk is the system disk.
const SYSTEM_MOUNTS: &[&str] = &["/", "/boot", "/boot/efi", "/boot/firmware"];

/// Options of `cargo xtask flash`.
pub const SPEC: Spec = Spec {
    opts: &[value("device"), value("image"), flag("yes")],
    positional: &["device", "image"],
};

/// `cargo xtask flash`.
pub fn command(ws: &Workspace, args: Vec<String>) -> Result<ExitCode, String> {
    let opts = Args::parse(args, &SPEC)?;
    let device = opts.value("device").ok_or(
        "device=/dev/sdX is required: the whole card, e.g. /dev/sdb or /dev/mmcblk0 \
         (list disks with `lsblk -d -o NAME,SIZE,RM,TRAN,MODEL`)",
    )?;
    let image = opts
        .value("image")
        .map(PathBuf::from)
        .unwrap_or_else(|| sdcard::default_path(ws));
    let system = match env::var_os(FAKE_ROOT_ENV) {
        Some(root) => System::fake(PathBuf::from(root)),
        None => System::real(),
    };
    let request = Request {
        device,
        image: &image,
        yes: opts.flag("yes")?,
    };
    flash(&system, &request, &mut Terminal)?;
    Ok(ExitCode::SUCCESS)
}

/// Where the checks read `/dev`, `/proc` and `/sys`.
#[derive(Debug, Clone)]
pub struct System {
    /// `/` for the real system; a scratch tree for tests.
    root: PathBuf,
    /// Fake mode: a regular file stands in for the device (and only that).
    fake: bool,
}

impl System {
    /// The running system.
    pub fn real() -> System {
        System {
            root: PathBuf::from("/"),
            fake: false,
        }
    }

    /// A fake tree under `root`: `dev/`, `proc/self/mounts`, `sys/block/`,
    /// `sys/class/block/`.
    pub fn fake(root: PathBuf) -> System {
        System { root, fake: true }
    }

    /// `path` (absolute, as on a real system) inside this system.
    fn path(&self, path: impl AsRef<Path>) -> PathBuf {
        let path = path.as_ref();
        match self.fake {
            true => self.root.join(path.strip_prefix("/").unwrap_or(path)),
            false => path.to_path_buf(),
        }
    }

    /// A sysfs or procfs file's contents, trimmed; `None` when unreadable.
    fn read(&self, path: impl AsRef<Path>) -> Option<String> {
        fs::read_to_string(self.path(path))
            .ok()
            .map(|s| s.trim().to_string())
    }
}

/// What to write where.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The device as given: `/dev/sdb`, `/dev/disk/by-id/...`.
    pub device: &'a str,
    /// The image file.
    pub image: &'a Path,
    /// Do not ask.
    pub yes: bool,
}

/// A disk that passed the checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disk {
    /// Kernel name: `sdb`, `mmcblk0`.
    pub name: String,
    /// Its node (inside the fake tree in fake mode).
    pub path: PathBuf,
    /// Size in bytes.
    pub bytes: u64,
    /// Vendor and model from sysfs, or "unknown model".
    pub model: String,
}

/// How the confirmation is asked: the terminal, or a script in tests.
pub trait Prompt {
    /// Whether a person can answer (stdin is a terminal).
    fn interactive(&self) -> bool;
    /// Shows `question` and returns the answer line.
    fn ask(&mut self, question: &str) -> io::Result<String>;
}

/// The real terminal: stderr for the question, stdin for the answer.
struct Terminal;

impl Prompt for Terminal {
    fn interactive(&self) -> bool {
        io::stdin().is_terminal()
    }

    fn ask(&mut self, question: &str) -> io::Result<String> {
        eprint!("{question}");
        io::stderr().flush()?;
        let mut line = String::new();
        io::stdin().lock().read_line(&mut line)?;
        Ok(line)
    }
}

/// Checks, confirms, writes, verifies.
pub fn flash(sys: &System, req: &Request, prompt: &mut dyn Prompt) -> Result<(), String> {
    let image_bytes = match fs::metadata(req.image) {
        Ok(meta) if meta.is_file() => meta.len(),
        Ok(_) => return Err(format!("{}: not a regular file", req.image.display())),
        Err(e) => {
            return Err(format!(
                "{}: {e} (build it with `just sdcard`)",
                req.image.display()
            ));
        }
    };
    let disk = check(sys, req.device, req.image, image_bytes)?;
    // Opening for writing changes nothing yet, and shows a permission
    // problem (or, on Linux, a device in use: O_EXCL) before the question.
    let out = open_device(sys, req.device, &disk.path)?;
    if !req.yes {
        if !prompt.interactive() {
            return Err(format!(
                "refusing to write {} without confirmation: stdin is not a terminal \
                 (add yes=1 to write without asking)",
                req.device
            ));
        }
        let question = format!(
            "Write {} ({} MiB) to {} ({}, {:.1} GiB)? Type \"yes\": ",
            req.image.display(),
            mib(image_bytes),
            req.device,
            disk.model,
            disk.bytes as f64 / f64::from(1 << 30)
        );
        let answer = prompt
            .ask(&question)
            .map_err(|e| format!("cannot read the answer: {e}"))?;
        if answer.trim() != "yes" {
            return Err("not confirmed: nothing written".to_string());
        }
    }
    write(req.image, image_bytes, out)?;
    if !sys.fake {
        drop_cache(&disk.path);
    }
    verify(req.image, image_bytes, &disk.path)?;
    eprintln!(
        "verified: {} holds the image; it can be removed",
        req.device
    );
    Ok(())
}

/// Every safety check, in the order that gives the most useful refusal.
pub fn check(sys: &System, device: &str, image: &Path, image_bytes: u64) -> Result<Disk, String> {
    let given = sys.path(device);
    let meta = fs::metadata(&given).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => format!(
            "{device}: no such device (list disks with `lsblk -d -o NAME,SIZE,RM,TRAN,MODEL`)"
        ),
        _ => format!("{device}: {e}"),
    })?;
    let kind = meta.file_type();
    if sys.fake && !kind.is_file() {
        return Err(format!(
            "{device}: {FAKE_ROOT_ENV} is set: only a regular file can stand in for a device"
        ));
    }
    if !sys.fake && !kind.is_block_device() {
        return Err(format!(
            "{device} is not a block device; to write the image to a file, use \
             `just sdcard out=FILE`"
        ));
    }
    let path = fs::canonicalize(&given).map_err(|e| format!("{device}: {e}"))?;
    let name = file_name(&path).ok_or_else(|| format!("{device}: no device name"))?;

    if sys
        .path(format!("/sys/class/block/{name}/partition"))
        .exists()
    {
        let whole = parent_disk(sys, &name).unwrap_or_else(|| "<disk>".to_string());
        return Err(format!(
            "{device} is a partition ({name}); the whole card is written: use /dev/{whole}"
        ));
    }
    let block = format!("/sys/block/{name}");
    if !sys.path(&block).is_dir() {
        return Err(format!(
            "{device}: {block} does not exist, so this is not a whole disk the kernel knows"
        ));
    }

    let mounts = mounts(sys)?;
    let mut system = Vec::new();
    for m in mounts
        .iter()
        .filter(|m| SYSTEM_MOUNTS.contains(&m.target.as_str()))
    {
        if disks_of_source(sys, &m.source).contains(&name) {
            system.push(format!("{} ({})", m.target, m.source));
        }
    }
    // A root the mount table names oddly (`/dev/root`): ask the filesystem.
    if system.is_empty() && !sys.fake {
        for dir in ["/", "/boot"] {
            if let Ok(meta) = fs::metadata(dir)
                && disks_of_dev(sys, meta.dev()).contains(&name)
            {
                system.push(format!("{dir} (its device number)"));
            }
        }
    }
    if !system.is_empty() {
        return Err(format!(
            "{device} is the system disk: it holds {}",
            system.join(", ")
        ));
    }

    for m in &mounts {
        if disks_of_source(sys, &m.source).contains(&name) {
            return Err(format!(
                "{device} is mounted: {} on {}; unmount it first \
                 (`udisksctl unmount -b {}` or `sudo umount {}`)",
                m.source, m.target, m.source, m.target
            ));
        }
    }
    for part in std::iter::once(name.clone()).chain(partitions(sys, &name)) {
        let holders = list_dir(&sys.path(format!("/sys/class/block/{part}/holders")));
        if let Some(holder) = holders.first() {
            return Err(format!(
                "{device} is in use: {part} is held by {holder} (device-mapper: LVM, LUKS, \
                 RAID); close that first"
            ));
        }
    }

    let removable = sys.read(format!("{block}/removable"));
    if removable.as_deref() != Some("1") {
        return Err(format!(
            "{device} is not removable (/sys/block/{name}/removable is {}): only removable \
             disks are written, so that a typo cannot wipe an internal disk. Some USB card \
             readers report 0; if you are certain {device} is the card, write it yourself: \
             `sudo dd if={} of={device} bs=4M conv=fsync status=progress`",
            removable.as_deref().unwrap_or("missing"),
            image.display()
        ));
    }

    let sectors: u64 = sys
        .read(format!("{block}/size"))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("{device}: cannot read {block}/size"))?;
    let bytes = sectors * SYSFS_SECTOR;
    if bytes == 0 {
        return Err(format!("{device} has no medium (size 0): insert the card"));
    }
    if bytes < image_bytes {
        return Err(format!(
            "{device} is too small: {} MiB, the image needs {} MiB",
            bytes >> 20,
            mib(image_bytes)
        ));
    }

    let model = ["vendor", "model"]
        .iter()
        .filter_map(|f| sys.read(format!("{block}/device/{f}")))
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    Ok(Disk {
        name,
        path,
        bytes,
        model: if model.is_empty() {
            "unknown model".to_string()
        } else {
            model
        },
    })
}

/// One line of `/proc/self/mounts`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Mount {
    source: String,
    target: String,
}

/// The mount table (`/proc/self/mounts`, octal escapes decoded).
fn mounts(sys: &System) -> Result<Vec<Mount>, String> {
    let path = sys.path("/proc/self/mounts");
    let text =
        fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(text
        .lines()
        .filter_map(|line| {
            let mut fields = line.split(' ');
            Some(Mount {
                source: unescape(fields.next()?),
                target: unescape(fields.next()?),
            })
        })
        .collect())
}

/// Decodes the `\040`-style escapes of the mount table.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)))
            .map(|d| d.iter().fold(0u32, |n, c| n * 8 + u32::from(c - b'0')));
        match octal {
            Some(n) if n <= 0xff => {
                out.push(n as u8);
                i += 4;
            }
            _ => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The whole disks under mount source `source` (`/dev/sda2` → sda,
/// `/dev/mapper/root` → the disks under that dm device); empty when the
/// source is not a device (`tmpfs`, `overlay`, ...).
fn disks_of_source(sys: &System, source: &str) -> BTreeSet<String> {
    if !source.starts_with("/dev/") {
        return BTreeSet::new();
    }
    let node = sys.path(source);
    let resolved = fs::canonicalize(&node).unwrap_or(node);
    match file_name(&resolved) {
        Some(name) => disks_of(sys, &name, 0),
        None => BTreeSet::new(),
    }
}

/// The whole disks under the block device numbered `dev` (an `st_dev`).
fn disks_of_dev(sys: &System, dev: u64) -> BTreeSet<String> {
    let (major, minor) = major_minor(dev);
    let link = sys.path(format!("/sys/dev/block/{major}:{minor}"));
    match fs::canonicalize(link).ok().as_deref().and_then(file_name) {
        Some(name) => disks_of(sys, &name, 0),
        None => BTreeSet::new(),
    }
}

/// Linux's `dev_t` encoding (glibc `gnu_dev_major`/`gnu_dev_minor`).
fn major_minor(dev: u64) -> (u64, u64) {
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    (major, minor)
}

/// The whole disks block device `name` lives on: itself for a disk, its
/// parent for a partition, the disks under its `slaves` for device-mapper
/// and RAID devices (recursively, to a sane depth).
fn disks_of(sys: &System, name: &str, depth: u32) -> BTreeSet<String> {
    let mut disks = BTreeSet::new();
    if depth > 8 {
        return disks;
    }
    let class = sys.path(format!("/sys/class/block/{name}"));
    if class.join("partition").exists() {
        disks.extend(parent_disk(sys, name));
        return disks;
    }
    let slaves = list_dir(&class.join("slaves"));
    if slaves.is_empty() {
        if sys.path(format!("/sys/block/{name}")).exists() {
            disks.insert(name.to_string());
        }
    } else {
        for slave in slaves {
            disks.extend(disks_of(sys, &slave, depth + 1));
        }
    }
    disks
}

/// The disk a partition belongs to: sysfs puts partitions inside their disk's
/// directory (`.../block/sda/sda2`).
fn parent_disk(sys: &System, partition: &str) -> Option<String> {
    let dir = fs::canonicalize(sys.path(format!("/sys/class/block/{partition}"))).ok()?;
    file_name(dir.parent()?)
}

/// The partitions of disk `name`: its sysfs subdirectories with a
/// `partition` file.
fn partitions(sys: &System, name: &str) -> Vec<String> {
    let dir = sys.path(format!("/sys/block/{name}"));
    list_dir(&dir)
        .into_iter()
        .filter(|p| dir.join(p).join("partition").exists())
        .collect()
}

/// The entry names of a directory, sorted; empty when it cannot be read.
fn list_dir(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// The last component of `path` as a string.
fn file_name(path: &Path) -> Option<String> {
    path.file_name()?.to_str().map(str::to_string)
}

/// `O_EXCL` of Linux on these architectures (asm-generic/fcntl.h), spelled
/// out to avoid a libc dependency; elsewhere no flag.
#[cfg(all(
    target_os = "linux",
    any(
        target_arch = "x86_64",
        target_arch = "aarch64",
        target_arch = "riscv64"
    )
))]
const O_EXCL: i32 = 0o200;
#[cfg(not(all(
    target_os = "linux",
    any(
        target_arch = "x86_64",
        target_arch = "aarch64",
        target_arch = "riscv64"
    )
)))]
const O_EXCL: i32 = 0;

/// Opens the device for writing, without truncating (it may be a plain file
/// in fake mode). On Linux a block device is opened with `O_EXCL`, which the
/// kernel refuses while anything has it mounted or claimed.
fn open_device(sys: &System, device: &str, path: &Path) -> Result<File, String> {
    let mut opts = OpenOptions::new();
    opts.write(true);
    if !sys.fake {
        opts.custom_flags(O_EXCL);
    }
    opts.open(path).map_err(|e| match e.kind() {
        io::ErrorKind::PermissionDenied => {
            let exe = env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| "target/debug/xtask".to_string());
            format!(
                "cannot open {device} for writing: {e}. Writing a disk needs root; \
                 cargo has built xtask, so run it with sudo: `sudo {exe} flash device={device}`"
            )
        }
        io::ErrorKind::ResourceBusy => {
            format!("{device} is busy (mounted or claimed by another program): nothing written")
        }
        _ => format!("cannot open {device} for writing: {e}"),
    })
}

/// Copies the image to `out` in [`CHUNK`]s with a progress line, then fsyncs.
fn write(image: &Path, image_bytes: u64, mut out: File) -> Result<(), String> {
    let mut src = File::open(image).map_err(|e| format!("{}: {e}", image.display()))?;
    let mut buf = vec![0u8; CHUNK];
    let mut progress = Progress::new("write", image_bytes);
    loop {
        let n = read_full(&mut src, &mut buf).map_err(|e| format!("{}: {e}", image.display()))?;
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n])
            .map_err(|e| format!("write failed after {} bytes: {e}", progress.done))?;
        progress.advance(n);
    }
    progress.finish();
    if progress.done != image_bytes {
        return Err(format!(
            "{} changed size while being written",
            image.display()
        ));
    }
    out.sync_all()
        .map_err(|e| format!("fsync failed: {e}: the card may be incomplete"))
}

/// Reads back `image_bytes` from the device and compares with the image.
fn verify(image: &Path, image_bytes: u64, device: &Path) -> Result<(), String> {
    let mut src = File::open(image).map_err(|e| format!("{}: {e}", image.display()))?;
    let mut dev =
        File::open(device).map_err(|e| format!("cannot reopen {}: {e}", device.display()))?;
    let (mut want, mut got) = (vec![0u8; CHUNK], vec![0u8; CHUNK]);
    let mut progress = Progress::new("verify", image_bytes);
    while progress.done < image_bytes {
        let n = read_full(&mut src, &mut want).map_err(|e| format!("{}: {e}", image.display()))?;
        let m = read_full(&mut dev, &mut got[..n])
            .map_err(|e| format!("read back failed after {} bytes: {e}", progress.done))?;
        if n == 0 || m < n {
            return Err(format!(
                "read back ended after {} of {image_bytes} bytes",
                progress.done + m as u64
            ));
        }
        if want[..n] != got[..n] {
            let i = want.iter().zip(&got).position(|(a, b)| a != b).unwrap_or(0);
            progress.finish();
            return Err(format!(
                "verify failed: byte {:#x} reads back as {:#04x}, the image has {:#04x} \
                 (a failing or counterfeit card?)",
                progress.done + i as u64,
                got[i],
                want[i]
            ));
        }
        progress.advance(n);
    }
    progress.finish();
    Ok(())
}

/// Asks the kernel to write out and forget its cached blocks of the device,
/// so the read-back comes from the card, not from memory. Best effort: it
/// needs util-linux's `blockdev`.
fn drop_cache(device: &Path) {
    let ok = Command::new("blockdev")
        .arg("--flushbufs")
        .arg(device)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!(
            "note: `blockdev --flushbufs` failed; the read-back may come from the page cache"
        );
    }
}

/// Reads until `buf` is full or the end; returns the count.
fn read_full(src: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match src.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Whole MiB, rounded up: a 1-byte image is 1 MiB, not 0.
fn mib(bytes: u64) -> u64 {
    bytes.div_ceil(1 << 20)
}

/// `\r  verify   123 / 456 MiB  27%  12.3 MiB/s` on stderr.
struct Progress {
    what: &'static str,
    total: u64,
    done: u64,
    start: Instant,
}

impl Progress {
    fn new(what: &'static str, total: u64) -> Progress {
        Progress {
            what,
            total,
            done: 0,
            start: Instant::now(),
        }
    }

    fn advance(&mut self, n: usize) {
        self.done += n as u64;
        let secs = self.start.elapsed().as_secs_f64().max(1e-3);
        eprint!(
            "\r  {:<6} {} / {} MiB  {}%  {:.1} MiB/s ",
            self.what,
            mib(self.done),
            mib(self.total),
            (self.done * 100).checked_div(self.total).unwrap_or(100),
            self.done as f64 / f64::from(1 << 20) / secs
        );
    }

    fn finish(&self) {
        eprintln!();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fake `/dev`, `/proc`, `/sys` tree in a scratch directory, removed on
    /// drop, shaped like the real one: `/sys/class/block/<x>` links to the
    /// device's directory, partitions live inside their disk's directory.
    struct Fake {
        root: PathBuf,
    }

    impl Fake {
        fn new(tag: &str) -> Fake {
            static N: AtomicUsize = AtomicUsize::new(0);
            let root = env::temp_dir().join(format!(
                "rseq-flash-{tag}-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = fs::remove_dir_all(&root);
            for dir in ["dev", "proc/self", "sys/block", "sys/class/block"] {
                fs::create_dir_all(root.join(dir)).unwrap();
            }
            let fake = Fake { root };
            fake.mounts("proc /proc proc rw 0 0\ntmpfs /tmp tmpfs rw 0 0\n");
            fake
        }

        fn system(&self) -> System {
            System::fake(self.root.clone())
        }

        fn write(&self, path: &str, text: &str) {
            let path = self.root.join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        }

        /// A whole disk `name` of `sectors` 512-byte sectors.
        fn disk(&self, name: &str, removable: bool, sectors: u64) {
            self.write(&format!("dev/{name}"), "");
            let dir = format!("sys/block/{name}");
            self.write(
                &format!("{dir}/removable"),
                if removable { "1\n" } else { "0\n" },
            );
            self.write(&format!("{dir}/size"), &format!("{sectors}\n"));
            self.write(&format!("{dir}/device/vendor"), "Generic \n");
            self.write(&format!("{dir}/device/model"), "STORAGE DEVICE  \n");
            fs::create_dir_all(self.root.join(&dir).join("holders")).unwrap();
            symlink(
                format!("../../block/{name}"),
                self.root.join(format!("sys/class/block/{name}")),
            )
            .unwrap();
        }

        /// Partition `part` (number `n`) of `disk`.
        fn partition(&self, disk: &str, part: &str, n: u32) {
            self.write(&format!("dev/{part}"), "");
            self.write(
                &format!("sys/block/{disk}/{part}/partition"),
                &format!("{n}\n"),
            );
            fs::create_dir_all(self.root.join(format!("sys/block/{disk}/{part}/holders"))).unwrap();
            symlink(
                format!("../../block/{disk}/{part}"),
                self.root.join(format!("sys/class/block/{part}")),
            )
            .unwrap();
        }

        fn mounts(&self, text: &str) {
            self.write("proc/self/mounts", text);
        }

        /// An image of `len` patterned bytes; returns its path.
        fn image(&self, len: usize) -> PathBuf {
            let path = self.root.join("card.img");
            let data: Vec<u8> = (0..len)
                .map(|i| (i % 251) as u8 ^ (i >> 20) as u8)
                .collect();
            fs::write(&path, data).unwrap();
            path
        }
    }

    impl Drop for Fake {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.root);
        }
    }

    /// A scripted prompt: `None` is a non-interactive stdin.
    struct Script(Option<&'static str>);

    impl Prompt for Script {
        fn interactive(&self) -> bool {
            self.0.is_some()
        }

        fn ask(&mut self, question: &str) -> io::Result<String> {
            assert!(question.contains("Type \"yes\""), "{question}");
            assert!(question.contains("Generic STORAGE DEVICE"), "{question}");
            Ok(format!("{}\n", self.0.unwrap()))
        }
    }

    /// 64 MiB in sysfs sectors.
    const CARD: u64 = 64 << 11;

    /// Runs `flash` on `/dev/sdz` of `fake` with a 1 MiB image.
    fn run(
        fake: &Fake,
        device: &str,
        yes: bool,
        answer: Option<&'static str>,
    ) -> Result<(), String> {
        let image = fake.image(1 << 20);
        let req = Request {
            device,
            image: &image,
            yes,
        };
        flash(&fake.system(), &req, &mut Script(answer))
    }

    /// A fake with one removable 64 MiB card `sdz` with partition `sdz1`.
    fn card(tag: &str) -> Fake {
        let fake = Fake::new(tag);
        fake.disk("sdz", true, CARD);
        fake.partition("sdz", "sdz1", 1);
        fake
    }

    fn refused(result: Result<(), String>, want: &str) {
        let err = result.expect_err("should be refused");
        assert!(err.contains(want), "{err:?} does not mention {want:?}");
    }

    /// Nothing was written to the fake card.
    fn untouched(fake: &Fake) {
        assert_eq!(fs::metadata(fake.root.join("dev/sdz")).unwrap().len(), 0);
    }

    #[test]
    fn writes_and_verifies_a_fake_card() {
        let fake = card("ok");
        // More than a chunk, not a multiple of it, over old contents.
        let image = fake.image(CHUNK * 2 + 12345);
        fs::write(fake.root.join("dev/sdz"), vec![0xee; CHUNK * 3]).unwrap();
        let req = Request {
            device: "/dev/sdz",
            image: &image,
            yes: true,
        };
        flash(&fake.system(), &req, &mut Script(None)).unwrap();
        let card = fs::read(fake.root.join("dev/sdz")).unwrap();
        let want = fs::read(&image).unwrap();
        assert!(card[..want.len()] == want[..], "card differs from image");
        assert!(card[want.len()..].iter().all(|&b| b == 0xee));
    }

    #[test]
    fn asks_and_writes_on_yes() {
        let fake = card("yes");
        run(&fake, "/dev/sdz", false, Some("yes")).unwrap();
        assert_eq!(
            fs::metadata(fake.root.join("dev/sdz")).unwrap().len(),
            1 << 20
        );
    }

    #[test]
    fn refuses_without_confirmation() {
        let fake = card("confirm");
        refused(run(&fake, "/dev/sdz", false, None), "not a terminal");
        refused(run(&fake, "/dev/sdz", false, Some("y")), "not confirmed");
        refused(run(&fake, "/dev/sdz", false, Some("")), "not confirmed");
        untouched(&fake);
    }

    #[test]
    fn refuses_missing_device_and_image() {
        let fake = card("missing");
        refused(run(&fake, "/dev/sdy", true, None), "no such device");
        let req = Request {
            device: "/dev/sdz",
            image: &fake.root.join("nope.img"),
            yes: true,
        };
        refused(
            flash(&fake.system(), &req, &mut Script(None)),
            "just sdcard",
        );
    }

    #[test]
    fn refuses_a_partition() {
        let fake = card("part");
        refused(run(&fake, "/dev/sdz1", true, None), "use /dev/sdz");
        untouched(&fake);
    }

    #[test]
    fn refuses_mounted_disk() {
        let fake = card("mounted");
        fake.mounts("tmpfs /tmp tmpfs rw 0 0\n/dev/sdz /mnt/card vfat rw 0 0\n");
        refused(run(&fake, "/dev/sdz", true, None), "is mounted");
        untouched(&fake);
    }

    #[test]
    fn refuses_mounted_partition() {
        let fake = card("mounted-part");
        fake.mounts("/dev/sdz1 /media/me/RSEQOS\\040card vfat rw 0 0\n");
        refused(
            run(&fake, "/dev/sdz", true, None),
            "/dev/sdz1 on /media/me/RSEQOS card",
        );
        untouched(&fake);
    }

    #[test]
    fn refuses_partition_mounted_through_a_link() {
        let fake = card("by-label");
        fs::create_dir_all(fake.root.join("dev/disk/by-label")).unwrap();
        symlink("../../sdz1", fake.root.join("dev/disk/by-label/RSEQOS")).unwrap();
        fake.mounts("/dev/disk/by-label/RSEQOS /mnt vfat rw 0 0\n");
        refused(run(&fake, "/dev/sdz", true, None), "is mounted");
    }

    #[test]
    fn refuses_disk_held_by_device_mapper() {
        let fake = card("holder");
        fake.write("sys/block/sdz/sdz1/holders/dm-3", "");
        refused(run(&fake, "/dev/sdz", true, None), "held by dm-3");
        untouched(&fake);
    }

    #[test]
    fn refuses_non_removable() {
        let fake = Fake::new("fixed");
        fake.disk("sdz", false, CARD);
        refused(run(&fake, "/dev/sdz", true, None), "not removable");
        untouched(&fake);
    }

    #[test]
    fn refuses_system_disk() {
        // Even a removable one (a system booted from USB).
        let fake = card("system");
        fake.mounts("/dev/sdz1 / ext4 rw 0 0\n");
        refused(run(&fake, "/dev/sdz", true, None), "system disk");
        untouched(&fake);
    }

    #[test]
    fn refuses_system_disk_under_device_mapper() {
        let fake = card("system-dm");
        fake.write("dev/dm-0", "");
        fake.write("sys/block/dm-0/size", "100\n");
        symlink("../../block/dm-0", fake.root.join("sys/class/block/dm-0")).unwrap();
        fake.write("sys/block/dm-0/slaves/sdz1", "");
        fs::create_dir_all(fake.root.join("dev/mapper")).unwrap();
        symlink("../dm-0", fake.root.join("dev/mapper/root")).unwrap();
        fake.mounts("/dev/mapper/root / ext4 rw 0 0\n");
        refused(run(&fake, "/dev/sdz", true, None), "system disk");
    }

    #[test]
    fn other_disks_mounted_are_fine() {
        let fake = card("other");
        fake.disk("sda", false, 1 << 30);
        fake.partition("sda", "sda2", 2);
        fake.mounts("/dev/sda2 / ext4 rw 0 0\n/dev/sda2 /boot ext4 rw 0 0\n");
        run(&fake, "/dev/sdz", true, None).unwrap();
        refused(run(&fake, "/dev/sda", true, None), "system disk");
    }

    #[test]
    fn refuses_too_small_and_empty_reader() {
        let fake = Fake::new("small");
        fake.disk("sdz", true, 1024); // 512 KiB
        refused(run(&fake, "/dev/sdz", true, None), "too small");
        fake.write("sys/block/sdz/size", "0\n");
        refused(run(&fake, "/dev/sdz", true, None), "no medium");
        untouched(&fake);
    }

    #[test]
    fn refuses_unknown_to_sysfs() {
        let fake = Fake::new("nosys");
        fake.write("dev/sdz", "");
        refused(run(&fake, "/dev/sdz", true, None), "not a whole disk");
    }

    #[test]
    fn fake_mode_refuses_non_files() {
        let fake = card("dir");
        fs::create_dir_all(fake.root.join("dev/sdq")).unwrap();
        refused(run(&fake, "/dev/sdq", true, None), "regular file");
    }

    #[test]
    fn real_mode_refuses_a_plain_file() {
        let fake = card("real");
        let image = fake.image(4096);
        let target = fake.root.join("dev/sdz");
        let req = Request {
            device: target.to_str().unwrap(),
            image: &image,
            yes: true,
        };
        refused(
            flash(&System::real(), &req, &mut Script(None)),
            "not a block device",
        );
        untouched(&fake);
    }

    #[test]
    fn mount_table_escapes() {
        assert_eq!(unescape("/media/a\\040b\\011c"), "/media/a b\tc");
        assert_eq!(unescape("back\\134slash"), "back\\slash");
        assert_eq!(unescape("odd\\9x\\"), "odd\\9x\\");
    }

    #[test]
    fn dev_t_decoding() {
        // glibc's gnu_dev_makedev, the inverse of `major_minor`.
        let makedev = |major: u64, minor: u64| {
            ((major & 0xfff) << 8)
                | ((major & !0xfff) << 32)
                | (minor & 0xff)
                | ((minor & !0xff) << 12)
        };
        assert_eq!(major_minor(0x801), (8, 1));
        assert_eq!(major_minor(makedev(259, 65536)), (259, 65536));
        assert_eq!(major_minor(makedev(4095, 255)), (4095, 255));
    }
}
