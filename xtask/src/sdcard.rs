//! `cargo xtask sdcard`: a Raspberry Pi 4 SD card image, built as a plain
//! file, so no root, loop devices or mtools are needed.
//!
//! Layout (64 MiB): an MBR with one bootable partition of type 0x0C (FAT32,
//! LBA) from sector 2048 (1 MiB, the usual alignment) to the end, formatted
//! FAT32 with the label `RSEQOS`. The Pi 4 boot ROM and GPU firmware read the
//! first FAT partition of the card; at its root they expect:
//!
//! - `start4.elf`, `fixup4.dat`: the GPU firmware (from Debian, `firmware.rs`),
//! - `bcm2711-rpi-4-b.dtb`: the device tree it fills in and hands the kernel,
//! - `config.txt`: what the firmware should do (see [`CONFIG_TXT`]),
//! - `cmdline.txt`: one line, which becomes `/chosen/bootargs`,
//! - `kernel8.img`: our kernel, the raw arm64 Image `build.rs` produces;
//! - with `elf=`: `program.elf`, the program a loader kernel runs, which
//!   `config.txt` names as the initramfs (see [`INITRAMFS_TXT`]).
//!
//! 64 MiB leaves room for bigger kernels and is the smallest round size at
//! which FAT32 is valid with 512-byte clusters (FAT32 needs at least 65525
//! clusters, about 33 MiB). Timestamps are fixed (1980-01-01), so the same
//! inputs give the same image. [`verify_image`] reopens an image and checks
//! it against the sources; every build runs it, and so does the test runner
//! through [`self_test`].

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use fatfs::{FatType, FileSystem, FormatVolumeOptions, FsOptions};

use crate::args::{Args, Spec, value};
use crate::boards;
use crate::build;
use crate::firmware::{self, Firmware};
use crate::workspace::Workspace;

/// Size of the whole image.
pub const IMAGE_BYTES: u64 = 64 << 20;
/// Bytes per sector: the MBR and FAT geometry unit.
pub const SECTOR: u64 = 512;
/// First sector of the boot partition (1 MiB: erase-block aligned on SD
/// cards, as every partitioning tool does).
pub const PARTITION_START: u32 = 2048;
/// MBR partition type: FAT32 with LBA addressing.
pub const PARTITION_TYPE: u8 = 0x0c;
/// The volume label, as FAT stores it (11 bytes, space padded).
pub const VOLUME_LABEL: [u8; 11] = *b"RSEQOS     ";
/// MBR disk signature and FAT volume id: fixed, for reproducible images.
const DISK_ID: u32 = 0x5253_4551; // "RSEQ"

/// `config.txt`: each line commented, since it is what a reader of the card
/// sees first when the board does not boot.
pub const CONFIG_TXT: &str = "\
# rseq-os on the Raspberry Pi 4: read by the GPU firmware (start4.elf).
# https://www.raspberrypi.com/documentation/computers/config_txt.html

# Start the Cortex-A72 cores in AArch64 state: the kernel is a 64-bit image.
arm_64bit=1
# The kernel image at the root of this partition (the 64-bit default, but
# stated so that nothing depends on the firmware's guess).
kernel=kernel8.img
# Load it at 0x80000 (its link address; the arm64 header's text_offset).
# Newer firmware would otherwise place 64-bit kernels at 0x200000.
kernel_address=0x80000
# Turn the UART on GPIO14 (TXD, pin 8) / GPIO15 (RXD, pin 10) on: the console.
enable_uart=1
# Fix the PL011 reference clock at 48 MHz: the kernel computes the 115200 baud
# divisor from this value instead of asking the firmware mailbox.
init_uart_clock=48000000
# Route interrupts through the GIC-400 (the kernel's interrupt controller)
# rather than the legacy BCM2836 controller.
enable_gic=1
";

/// The name of the program on the card (`elf=`).
pub const PROGRAM_FILE: &str = "program.elf";

/// Appended to `config.txt` when the card carries a program (`elf=`).
pub const INITRAMFS_TXT: &str = "\
# The program the loader kernel runs: the firmware loads it into RAM right
# after the kernel and names it in the DTB (/chosen linux,initrd-start/-end).
initramfs program.elf followkernel
";

/// One file of the boot partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardFile {
    /// Name at the root of the partition.
    pub name: String,
    /// Its contents.
    pub bytes: Vec<u8>,
}

impl CardFile {
    /// A file with the given contents.
    pub fn new(name: &str, bytes: impl Into<Vec<u8>>) -> CardFile {
        CardFile {
            name: name.to_string(),
            bytes: bytes.into(),
        }
    }

    /// A file read from `source`.
    pub fn read(name: &str, source: &Path) -> Result<CardFile, String> {
        let bytes =
            fs::read(source).map_err(|e| format!("cannot read {}: {e}", source.display()))?;
        Ok(CardFile::new(name, bytes))
    }
}

/// What [`verify_image`] found: a valid card image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Image size in bytes.
    pub image_bytes: u64,
    /// Partition start and length, in sectors.
    pub partition: (u64, u64),
    /// FAT cluster size in bytes.
    pub cluster_bytes: u32,
    /// Every file checked, with its size, in root directory order.
    pub files: Vec<(String, u64)>,
}

impl Report {
    /// One line: what the image is.
    pub fn summary(&self) -> String {
        format!(
            "{} MiB image, MBR + FAT32 \"RSEQOS\" at sector {} ({} MiB, {}-byte clusters), \
             {} files verified",
            self.image_bytes >> 20,
            self.partition.0,
            (self.partition.1 * SECTOR) >> 20,
            self.cluster_bytes,
            self.files.len()
        )
    }
}

/// Options of `cargo xtask sdcard`.
pub const SPEC: Spec = Spec {
    opts: &[
        value("app"),
        value("cmdline"),
        value("out"),
        value("elf"),
        value("mode"),
        value("env"),
    ],
    positional: &["app", "cmdline"],
};

/// `target/rpi4-sdcard.img`: where `sdcard` writes and `flash` reads.
pub fn default_path(ws: &Workspace) -> PathBuf {
    ws.target.join("rpi4-sdcard.img")
}

/// `cargo xtask sdcard`: build the kernel, write the image, verify it.
pub fn command(ws: &Workspace, args: Vec<String>) -> Result<ExitCode, String> {
    let opts = Args::parse(args, &SPEC)?;
    let app = opts.value("app").unwrap_or("hello");
    let program = match opts.value("elf") {
        None => {
            if let Some(mode) = opts.value("mode") {
                return Err(format!(
                    "mode={mode} goes with elf=: an app's rseq mode is its rt::rseq_mode! declaration"
                ));
            }
            None
        }
        Some(_) if opts.value("app").is_some() => {
            return Err("app= and elf= exclude each other".to_string());
        }
        Some(elf) => {
            let elf = fs::canonicalize(elf).map_err(|e| format!("elf={elf}: {e}"))?;
            let bytes = fs::read(&elf).map_err(|e| format!("{}: {e}", elf.display()))?;
            let mode = build::program_mode(&bytes, opts.value("mode"))
                .map_err(|e| format!("elf={}: {e}", elf.display()))?;
            Some((elf, mode))
        }
    };
    let cmdline = build::program_cmdline(
        program.as_ref().map(|(elf, _)| elf.as_path()),
        opts.value("env").unwrap_or(""),
        opts.value("cmdline").unwrap_or(""),
    )?;
    // Before the build: a bad line fails in a second, not after one.
    check_cmdline(&cmdline)?;
    let out = opts
        .value("out")
        .map(PathBuf::from)
        .unwrap_or_else(|| default_path(ws));
    let report = match &program {
        None => build_card(ws, Kernel::App(app), &cmdline, &out)?,
        Some((elf, mode)) => build_card(ws, Kernel::Loader(mode, elf), &cmdline, &out)?,
    };
    println!("{}: {}", ws.display(&out), report.summary());
    for (name, len) in &report.files {
        println!("  {name:<22} {len:>10} bytes");
    }
    Ok(ExitCode::SUCCESS)
}

/// For the test runner: builds the real card image (hello app) into a scratch
/// path under `target/`, verifies it against its sources, and returns the
/// summary. The image is removed when it verifies and kept when it does not.
pub fn self_test(ws: &Workspace) -> Result<String, String> {
    let out = ws.target.join("sdcard-selftest").join("rpi4-sdcard.img");
    let report = build_card(ws, Kernel::App("hello"), "", &out)?;
    let _ = fs::remove_dir_all(out.parent().expect("has a parent"));
    Ok(report.summary())
}

/// Refuses a `cmdline=` the kernel would stop at: the card is checked with
/// the parser the kernel boots with (`abi::cmdline`), so a typo is found
/// here rather than on a Pi's serial console.
fn check_cmdline(cmdline: &str) -> Result<(), String> {
    if cmdline.contains(['\n', '\r']) {
        return Err(format!(
            "cmdline={cmdline:?}: must be a single line (the firmware reads only the first)"
        ));
    }
    if cmdline.len() > abi::cmdline::MAX_LEN {
        return Err(format!(
            "cmdline= is {} bytes; the kernel reads at most {}",
            cmdline.len(),
            abi::cmdline::MAX_LEN
        ));
    }
    abi::cmdline::parse(cmdline).map(|_| ()).map_err(|e| {
        format!(
            "cmdline={cmdline:?}: {e}; the kernel would stop at boot (README: Kernel command line)"
        )
    })
}

/// The kernel a card boots.
enum Kernel<'a> {
    /// The image embedding this app.
    App(&'a str),
    /// The loader kernel of this rseq mode, with this program.
    Loader(&'a str, &'a Path),
}

/// Fetches the firmware if needed, builds the rpi4 kernel, writes the
/// image to `out` and verifies it against the files re-read from disk.
fn build_card(
    ws: &Workspace,
    kernel: Kernel<'_>,
    cmdline: &str,
    out: &Path,
) -> Result<Report, String> {
    let fw = firmware::ensure(ws)?;
    let rpi4 = boards::find("rpi4")?;
    let (image, program) = match kernel {
        Kernel::App(app) => (build::build(ws, rpi4, app)?, None),
        Kernel::Loader(mode, elf) => (
            build::build_loader(ws, rpi4, mode, build::Profile::Release)?,
            Some(elf),
        ),
    };
    write_image(out, &card_files(&fw, &image.img, cmdline, program)?)?;
    // Read the sources again: the check is against the files on disk, not
    // against the copy this process happened to hold.
    verify_image(out, &card_files(&fw, &image.img, cmdline, program)?)
}

/// The six files of the card, read from their sources, and the program
/// when there is one.
pub fn card_files(
    fw: &Firmware,
    kernel: &Path,
    cmdline: &str,
    program: Option<&Path>,
) -> Result<Vec<CardFile>, String> {
    check_cmdline(cmdline)?;
    let config = match program {
        None => CONFIG_TXT.to_string(),
        Some(_) => format!("{CONFIG_TXT}{INITRAMFS_TXT}"),
    };
    let mut files = vec![
        CardFile::read("start4.elf", &fw.start4)?,
        CardFile::read("fixup4.dat", &fw.fixup4)?,
        CardFile::read("bcm2711-rpi-4-b.dtb", &fw.dtb)?,
        CardFile::new("config.txt", config),
        CardFile::new("cmdline.txt", format!("{cmdline}\n")),
        CardFile::read("kernel8.img", kernel)?,
    ];
    if let Some(program) = program {
        files.push(CardFile::read(PROGRAM_FILE, program)?);
    }
    Ok(files)
}

/// Writes a card image holding `files` at the root of its FAT32 partition.
///
/// The image is built next to `out` and renamed into place, so a failure
/// never leaves a half-written image under the expected name. `out` must be a
/// regular file or not exist: this never writes to a device (that is
/// `flash`'s job, with its safety checks).
pub fn write_image(out: &Path, files: &[CardFile]) -> Result<(), String> {
    check_names(files)?;
    if let Ok(meta) = fs::metadata(out)
        && !meta.is_file()
    {
        return Err(format!(
            "{} exists and is not a regular file: refusing to overwrite it \
             (use `cargo xtask flash` to write a card)",
            out.display()
        ));
    }
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let mut tmp = out.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let result = write_image_at(&tmp, files)
        .and_then(|()| fs::rename(&tmp, out))
        .map_err(|e| format!("cannot write {}: {e}", out.display()));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Names must be unique (FAT is case-insensitive) and plain file names.
fn check_names(files: &[CardFile]) -> Result<(), String> {
    let mut seen = BTreeSet::new();
    for f in files {
        if f.name.is_empty() || f.name.contains(['/', '\\']) {
            return Err(format!("{:?}: not a plain file name", f.name));
        }
        if !seen.insert(f.name.to_lowercase()) {
            return Err(format!("{:?} given twice", f.name));
        }
    }
    Ok(())
}

/// The body of [`write_image`], in `io::Result` terms.
fn write_image_at(path: &Path, files: &[CardFile]) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    // Sparse: only what is written below takes disk space.
    file.set_len(IMAGE_BYTES)?;
    let sectors = IMAGE_BYTES / SECTOR - u64::from(PARTITION_START);
    let sectors = u32::try_from(sectors).expect("image fits MBR limits");
    file.write_all(&mbr(PARTITION_START, sectors))?;

    let start = u64::from(PARTITION_START) * SECTOR;
    let len = u64::from(sectors) * SECTOR;
    fatfs::format_volume(
        Slice::new(&mut file, start, len)?,
        FormatVolumeOptions::new()
            .fat_type(FatType::Fat32)
            .volume_label(VOLUME_LABEL)
            .volume_id(DISK_ID)
            // The geometry the MBR's CHS fields use.
            .heads(255)
            .sectors_per_track(63),
    )?;
    set_hidden_sectors(&mut file, start)?;
    let options = FsOptions::new().time_provider(&FIXED_TIME);
    let fs = FileSystem::new(Slice::new(&mut file, start, len)?, options)?;
    for f in files {
        fs.root_dir()
            .create_file(&f.name)
            .and_then(|mut out| out.write_all(&f.bytes))
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", f.name)))?;
    }
    // Counting the free clusters makes unmount record the count in FSInfo,
    // which fsck.fat otherwise reports as uninitialised.
    fs.stats()?;
    fs.unmount()?;
    file.sync_all()
}

/// Sets the BPB's "hidden sectors" (the partition's first LBA, offset 0x1c)
/// in the boot sector and its FAT32 backup, as mkfs.fat does on a partition:
/// fatfs formats "a disk" and leaves it 0.
fn set_hidden_sectors(file: &mut File, partition: u64) -> io::Result<()> {
    let lba = u32::try_from(partition / SECTOR).expect("partition start fits the MBR");
    let mut backup = [0u8; 2];
    file.seek(SeekFrom::Start(partition + 0x32))?;
    file.read_exact(&mut backup)?;
    for sector in [0, u64::from(u16::from_le_bytes(backup))] {
        file.seek(SeekFrom::Start(partition + sector * SECTOR + 0x1c))?;
        file.write_all(&lba.to_le_bytes())?;
    }
    Ok(())
}

/// The timestamp of every file: 1980-01-01 00:00, the earliest FAT date, so
/// the image depends only on its contents. (fatfs without chrono would write
/// the invalid date 1980-00-00.)
#[derive(Debug)]
struct FixedTime;

static FIXED_TIME: FixedTime = FixedTime;

impl fatfs::TimeProvider for FixedTime {
    fn get_current_date(&self) -> fatfs::Date {
        fatfs::Date {
            year: 1980,
            month: 1,
            day: 1,
        }
    }

    fn get_current_date_time(&self) -> fatfs::DateTime {
        fatfs::DateTime {
            date: self.get_current_date(),
            time: fatfs::Time {
                hour: 0,
                min: 0,
                sec: 0,
                millis: 0,
            },
        }
    }
}

/// A 512-byte MBR with one bootable FAT32-LBA partition (entry 1) of
/// `sectors` sectors from `start`; entries 2-4 empty.
fn mbr(start: u32, sectors: u32) -> [u8; 512] {
    let mut mbr = [0u8; 512];
    mbr[440..444].copy_from_slice(&DISK_ID.to_le_bytes());
    let entry = &mut mbr[446..462];
    entry[0] = 0x80; // bootable
    entry[1..4].copy_from_slice(&chs(start));
    entry[4] = PARTITION_TYPE;
    entry[5..8].copy_from_slice(&chs(start + sectors - 1));
    entry[8..12].copy_from_slice(&start.to_le_bytes());
    entry[12..16].copy_from_slice(&sectors.to_le_bytes());
    mbr[510] = 0x55;
    mbr[511] = 0xaa;
    mbr
}

/// The CHS form of `lba` in the conventional 255-head, 63-sector geometry,
/// as partitioning tools write it; nothing modern reads it (the Pi uses the
/// LBA fields), but some tools complain when it is zero.
fn chs(lba: u32) -> [u8; 3] {
    const HEADS: u32 = 255;
    const SECTORS: u32 = 63;
    let cylinder = lba / (HEADS * SECTORS);
    if cylinder > 1023 {
        return [0xfe, 0xff, 0xff]; // "beyond CHS", by convention
    }
    let head = (lba / SECTORS) % HEADS;
    let sector = lba % SECTORS + 1;
    [
        head as u8,
        (sector as u8) | (((cylinder >> 8) as u8) << 6),
        cylinder as u8,
    ]
}

/// Reopens the image at `path` and checks it is what [`write_image`] makes
/// from `files`: the partition table, the FAT32 filesystem and label, that the
/// root directory holds exactly these names, and every file's bytes.
pub fn verify_image(path: &Path, files: &[CardFile]) -> Result<Report, String> {
    let at = |e: String| format!("{}: {e}", path.display());
    let mut file = File::open(path).map_err(|e| at(e.to_string()))?;
    let image_bytes = file.metadata().map_err(|e| at(e.to_string()))?.len();
    let mut sector0 = [0u8; 512];
    file.read_exact(&mut sector0)
        .map_err(|e| at(format!("cannot read the MBR: {e}")))?;
    let (start, sectors) = check_mbr(&sector0, image_bytes).map_err(at)?;

    let slice = Slice::new(ReadOnly(file), start * SECTOR, sectors * SECTOR)
        .map_err(|e| at(e.to_string()))?;
    let fs = FileSystem::new(slice, FsOptions::new())
        .map_err(|e| at(format!("partition 1 is not a FAT filesystem: {e}")))?;
    if fs.fat_type() != FatType::Fat32 {
        return Err(at(format!(
            "partition 1 is {:?}, expected Fat32",
            fs.fat_type()
        )));
    }
    let label = fs.volume_label();
    if label.as_bytes() != VOLUME_LABEL.trim_ascii_end() {
        return Err(at(format!("volume label {label:?}, expected \"RSEQOS\"")));
    }
    let files_found = check_files(&fs, files).map_err(at)?;
    Ok(Report {
        image_bytes,
        partition: (start, sectors),
        cluster_bytes: fs.cluster_size(),
        files: files_found,
    })
}

/// Checks the MBR in `sector0`; returns the partition's start and length in
/// sectors.
fn check_mbr(sector0: &[u8; 512], image_bytes: u64) -> Result<(u64, u64), String> {
    if sector0[510..] != [0x55, 0xaa] {
        return Err(format!(
            "no MBR: signature {:02x}{:02x}, expected 55aa",
            sector0[510], sector0[511]
        ));
    }
    let entries: Vec<&[u8]> = sector0[446..510].chunks(16).collect();
    let used: Vec<usize> = (0..4).filter(|&i| entries[i][4] != 0).collect();
    if used != [0] {
        let slots: Vec<String> = used.iter().map(|i| (i + 1).to_string()).collect();
        return Err(format!(
            "MBR: expected exactly one partition, in slot 1; used slots: [{}]",
            slots.join(", ")
        ));
    }
    let e = entries[0];
    let field = |at: usize| u64::from(u32::from_le_bytes(e[at..at + 4].try_into().unwrap()));
    let (start, sectors) = (field(8), field(12));
    if e[4] != PARTITION_TYPE {
        return Err(format!(
            "partition 1 has type {:#04x}, expected {PARTITION_TYPE:#04x} (FAT32 LBA)",
            e[4]
        ));
    }
    if e[0] != 0x80 {
        return Err(format!(
            "partition 1 is not bootable (flag {:#04x}, expected 0x80)",
            e[0]
        ));
    }
    if start != u64::from(PARTITION_START) {
        return Err(format!(
            "partition 1 starts at sector {start}, expected {PARTITION_START}"
        ));
    }
    if sectors == 0 || (start + sectors) * SECTOR > image_bytes {
        return Err(format!(
            "partition 1 (sectors {start}+{sectors}) does not fit the {image_bytes}-byte image"
        ));
    }
    Ok((start, sectors))
}

/// Checks the root directory holds exactly `files`, byte for byte; returns
/// the names and sizes found.
fn check_files<T: fatfs::ReadWriteSeek>(
    fs: &FileSystem<T>,
    files: &[CardFile],
) -> Result<Vec<(String, u64)>, String> {
    let root = fs.root_dir();
    let mut found = Vec::new();
    for entry in root.iter() {
        let entry = entry.map_err(|e| format!("cannot read the root directory: {e}"))?;
        found.push((entry.file_name(), entry.len(), entry.is_dir()));
    }
    let names: BTreeSet<&str> = found.iter().map(|(n, _, _)| n.as_str()).collect();
    let expected: BTreeSet<&str> = files.iter().map(|f| f.name.as_str()).collect();
    let missing: Vec<&str> = expected.difference(&names).copied().collect();
    let extra: Vec<&str> = names.difference(&expected).copied().collect();
    if !missing.is_empty() || !extra.is_empty() {
        return Err(format!(
            "root directory: missing [{}], unexpected [{}]",
            missing.join(", "),
            extra.join(", ")
        ));
    }
    for f in files {
        let mut bytes = Vec::new();
        root.open_file(&f.name)
            .and_then(|mut file| file.read_to_end(&mut bytes))
            .map_err(|e| format!("{}: cannot read: {e}", f.name))?;
        compare(&f.name, &bytes, &f.bytes)?;
    }
    Ok(found
        .into_iter()
        .map(|(name, len, _)| (name, len))
        .collect())
}

/// `Err` naming `name` and the first difference unless `got == want`.
fn compare(name: &str, got: &[u8], want: &[u8]) -> Result<(), String> {
    if let Some(i) = got.iter().zip(want).position(|(a, b)| a != b) {
        return Err(format!(
            "{name}: byte {i:#x} differs from its source (card {:#04x}, source {:#04x})",
            got[i], want[i]
        ));
    }
    if got.len() != want.len() {
        return Err(format!(
            "{name}: {} bytes on the card, {} in its source",
            got.len(),
            want.len()
        ));
    }
    Ok(())
}

/// The window `[start, start + len)` of a stream, seen as a whole stream:
/// fatfs formats and mounts "a disk", and a partition must look like one.
/// Reads stop and writes fail at the end of the window.
struct Slice<F> {
    inner: F,
    start: u64,
    len: u64,
    /// Position relative to `start`; `inner` is kept at `start + pos`.
    pos: u64,
}

impl<F: Seek> Slice<F> {
    fn new(mut inner: F, start: u64, len: u64) -> io::Result<Slice<F>> {
        inner.seek(SeekFrom::Start(start))?;
        Ok(Slice {
            inner,
            start,
            len,
            pos: 0,
        })
    }
}

impl<F> Slice<F> {
    /// How many of `want` bytes fit before the end of the window.
    fn room(&self, want: usize) -> usize {
        usize::try_from(self.len.saturating_sub(self.pos)).map_or(want, |left| left.min(want))
    }
}

impl<F: Read> Read for Slice<F> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.room(buf.len());
        let n = self.inner.read(&mut buf[..n])?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl<F: Write> Write for Slice<F> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.room(buf.len());
        if n == 0 && !buf.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "write past the end of the partition",
            ));
        }
        let n = self.inner.write(&buf[..n])?;
        self.pos += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<F: Seek> Seek for Slice<F> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let pos = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        }
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))?;
        self.inner.seek(SeekFrom::Start(self.start + pos))?;
        self.pos = pos;
        Ok(pos)
    }
}

/// A stream whose writes fail: fatfs wants `Write` even to read, and
/// verifying must never change the image it checks.
struct ReadOnly<F>(F);

impl<F: Read> Read for ReadOnly<F> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl<F> Write for ReadOnly<F> {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "the image is opened read-only for verification",
        ))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<F: Seek> Seek for ReadOnly<F> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.0.seek(to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A scratch directory, removed on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(tag: &str) -> Scratch {
            static N: AtomicUsize = AtomicUsize::new(0);
            let dir = std::env::temp_dir().join(format!(
                "rseq-sdcard-{tag}-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    /// Stand-ins for the six card files: a multi-cluster, a long-named and
    /// an empty one among them.
    fn files() -> Vec<CardFile> {
        let big: Vec<u8> = (0..300_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
        vec![
            CardFile::new("start4.elf", big),
            CardFile::new("fixup4.dat", vec![0xa5; 7000]),
            CardFile::new("bcm2711-rpi-4-b.dtb", b"\xd0\x0d\xfe\xed fake dtb".to_vec()),
            CardFile::new("config.txt", CONFIG_TXT),
            CardFile::new("cmdline.txt", "\n"),
            CardFile::new("kernel8.img", vec![0x14; 4096]),
            CardFile::new("empty.txt", Vec::new()),
        ]
    }

    /// Builds an image of [`files`] and returns (scratch dir, image path).
    fn image(tag: &str) -> (Scratch, PathBuf) {
        let dir = Scratch::new(tag);
        let path = dir.0.join("card.img");
        write_image(&path, &files()).unwrap();
        (dir, path)
    }

    /// Overwrites the bytes of the image at `offset`.
    fn poke(path: &Path, offset: u64, bytes: &[u8]) {
        let mut f = OpenOptions::new().write(true).open(path).unwrap();
        f.seek(SeekFrom::Start(offset)).unwrap();
        f.write_all(bytes).unwrap();
    }

    /// Offset in the image of the first occurrence of `needle`.
    fn find(path: &Path, needle: &[u8]) -> u64 {
        let data = fs::read(path).unwrap();
        data.windows(needle.len())
            .position(|w| w == needle)
            .expect("needle in image") as u64
    }

    #[test]
    fn builds_and_verifies() {
        let (_dir, path) = image("ok");
        let report = verify_image(&path, &files()).unwrap();
        assert_eq!(report.image_bytes, IMAGE_BYTES);
        assert_eq!(report.partition, (2048, IMAGE_BYTES / 512 - 2048));
        assert_eq!(report.files.len(), 7);
        assert!(report.files.contains(&("start4.elf".to_string(), 300_000)));
        assert!(report.summary().contains("7 files verified"), "{report:?}");
        // Writing again over the same path works and gives the same bytes.
        let first = fs::read(&path).unwrap();
        write_image(&path, &files()).unwrap();
        assert!(first == fs::read(&path).unwrap(), "image not reproducible");
    }

    #[test]
    fn mbr_bytes_follow_the_spec() {
        // Literal offsets, independent of `mbr()`'s code.
        let (_dir, path) = image("mbr");
        let data = fs::read(&path).unwrap();
        assert_eq!(&data[510..512], &[0x55, 0xaa]);
        assert_eq!(data[0x1be], 0x80);
        assert_eq!(data[0x1c2], 0x0c);
        assert_eq!(&data[0x1c6..0x1ca], &2048u32.to_le_bytes());
        assert_eq!(&data[0x1ca..0x1ce], &(131072u32 - 2048).to_le_bytes());
        assert!(data[0x1ce..0x1fe].iter().all(|&b| b == 0));
        // CHS of sector 2048 in 255/63 geometry: C0 H32 S33.
        assert_eq!(&data[0x1bf..0x1c2], &[32, 33, 0]);
        // The partition's boot sector says FAT32 and carries the label.
        let vbr = &data[2048 * 512..2049 * 512];
        assert_eq!(&vbr[82..90], b"FAT32   ");
        assert_eq!(&vbr[71..82], b"RSEQOS     ");
        assert_eq!(&vbr[510..512], &[0x55, 0xaa]);
        // Hidden sectors = partition start, in the boot sector and in its
        // backup (sector 6).
        assert_eq!(&vbr[0x1c..0x20], &2048u32.to_le_bytes());
        assert_eq!(&vbr[0x32..0x34], &6u16.to_le_bytes());
        let backup = &data[2054 * 512..2055 * 512];
        assert_eq!(backup, vbr);
    }

    #[test]
    fn corrupt_file_byte_is_named() {
        let (_dir, path) = image("corrupt");
        let at = find(&path, b"fake dtb");
        poke(&path, at, b"F");
        let err = verify_image(&path, &files()).unwrap_err();
        assert!(err.contains("bcm2711-rpi-4-b.dtb"), "{err}");
        assert!(err.contains("differs"), "{err}");
    }

    #[test]
    fn source_changed_is_detected() {
        let (_dir, path) = image("source");
        let mut changed = files();
        changed[5].bytes.push(0);
        let err = verify_image(&path, &changed).unwrap_err();
        assert!(err.contains("kernel8.img"), "{err}");
    }

    #[test]
    fn wrong_partition_type_fails() {
        let (_dir, path) = image("type");
        poke(&path, 0x1c2, &[0x83]);
        let err = verify_image(&path, &files()).unwrap_err();
        assert!(err.contains("type 0x83"), "{err}");
    }

    #[test]
    fn mbr_problems_fail() {
        let (_dir, path) = image("mbr-bad");
        poke(&path, 0x1be, &[0x00]);
        let err = verify_image(&path, &files()).unwrap_err();
        assert!(err.contains("not bootable"), "{err}");
        poke(&path, 0x1be, &[0x80]);
        poke(&path, 0x1d2, &[0x83]); // a second partition entry
        let err = verify_image(&path, &files()).unwrap_err();
        assert!(err.contains("exactly one partition"), "{err}");
        poke(&path, 0x1d2, &[0x00]);
        poke(&path, 510, &[0, 0]);
        let err = verify_image(&path, &files()).unwrap_err();
        assert!(err.contains("no MBR"), "{err}");
    }

    #[test]
    fn truncated_image_fails() {
        let (_dir, path) = image("short");
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(32 << 20)
            .unwrap();
        let err = verify_image(&path, &files()).unwrap_err();
        assert!(err.contains("does not fit"), "{err}");
    }

    #[test]
    fn missing_and_extra_files_fail() {
        let (_dir, path) = image("missing");
        let mut more = files();
        more.push(CardFile::new("overlay.dtbo", b"x".to_vec()));
        let err = verify_image(&path, &more).unwrap_err();
        assert!(err.contains("missing [overlay.dtbo]"), "{err}");
        let fewer = &files()[1..];
        let err = verify_image(&path, fewer).unwrap_err();
        assert!(err.contains("unexpected [start4.elf]"), "{err}");
    }

    #[test]
    fn refuses_bad_names_and_non_files() {
        let dir = Scratch::new("names");
        let path = dir.0.join("card.img");
        let twice = [CardFile::new("a.txt", "1"), CardFile::new("A.TXT", "2")];
        assert!(write_image(&path, &twice).unwrap_err().contains("twice"));
        let nested = [CardFile::new("dir/a.txt", "1")];
        assert!(write_image(&path, &nested).is_err());
        // A directory (standing in for a device node) is never overwritten.
        let err = write_image(&dir.0, &files()).unwrap_err();
        assert!(err.contains("not a regular file"), "{err}");
    }

    #[test]
    fn too_big_fails_and_leaves_nothing() {
        let dir = Scratch::new("big");
        let path = dir.0.join("card.img");
        let huge = [CardFile::new("kernel8.img", vec![1; 70 << 20])];
        let err = write_image(&path, &huge).unwrap_err();
        assert!(err.contains("kernel8.img"), "{err}");
        assert!(fs::read_dir(&dir.0).unwrap().next().is_none());
    }

    #[test]
    fn slice_is_bounded() {
        let mut data = io::Cursor::new(vec![0u8; 100]);
        let mut s = Slice::new(&mut data, 10, 20).unwrap();
        s.write_all(&[1; 20]).unwrap();
        assert!(s.write(&[2]).is_err());
        assert_eq!(s.seek(SeekFrom::End(-5)).unwrap(), 15);
        let mut buf = [0u8; 10];
        assert_eq!(s.read(&mut buf).unwrap(), 5);
        assert!(s.seek(SeekFrom::Current(-100)).is_err());
        let v = data.into_inner();
        assert!(v[..10].iter().all(|&b| b == 0));
        assert!(v[10..30].iter().all(|&b| b == 1));
        assert!(v[30..].iter().all(|&b| b == 0));
    }

    #[test]
    fn chs_conventions() {
        assert_eq!(chs(0), [0, 1, 0]);
        assert_eq!(chs(2048), [32, 33, 0]);
        assert_eq!(chs(131071), [40, 32, 8]);
        assert_eq!(chs(u32::MAX), [0xfe, 0xff, 0xff]);
    }

    #[test]
    fn cmdline_is_checked_by_the_kernels_parser() {
        assert!(check_cmdline("").is_ok());
        assert!(check_cmdline("hz=250 loglevel=8 -- ticks 3").is_ok());
        // Firmware options the Pi prepends are skipped, as at boot.
        assert!(check_cmdline("console=ttyS0,115200 8250.nr_uarts=1 hz=100").is_ok());
        let e = check_cmdline("hz=5").unwrap_err();
        assert!(e.contains("hz=5") && e.contains("10..=1000"), "{e}");
        let e = check_cmdline("frobnicate=1").unwrap_err();
        assert!(e.contains("unknown boot option `frobnicate=1`"), "{e}");
        assert!(check_cmdline("hz=100\nloglevel=8").is_err());
        assert!(check_cmdline(&"a.b=c ".repeat(500)).is_err());
    }

    #[test]
    fn cmdline_is_one_line() {
        let fw = Firmware {
            start4: PathBuf::from("/nonexistent"),
            fixup4: PathBuf::from("/nonexistent"),
            dtb: PathBuf::from("/nonexistent"),
        };
        let err = card_files(&fw, Path::new("/nonexistent"), "a\nb", None).unwrap_err();
        assert!(err.contains("single line"), "{err}");
    }

    #[test]
    fn a_program_rides_as_the_initramfs() {
        let scratch = Scratch::new("program");
        let file = |name: &str, bytes: &[u8]| {
            let path = scratch.0.join(name);
            fs::write(&path, bytes).unwrap();
            path
        };
        let fw = Firmware {
            start4: file("start4.elf", b"gpu"),
            fixup4: file("fixup4.dat", b"fix"),
            dtb: file("pi.dtb", b"dtb"),
        };
        let kernel = file("kernel8.img", b"kernel");
        let program = file("prog", b"\x7fELF program");
        let plain = card_files(&fw, &kernel, "", None).unwrap();
        assert_eq!(plain.len(), 6);
        let config = |files: &[CardFile]| {
            let f = files.iter().find(|f| f.name == "config.txt").unwrap();
            String::from_utf8(f.bytes.clone()).unwrap()
        };
        assert!(!config(&plain).contains("initramfs"));
        let line = "init=prog env=A=1 -- x";
        let with = card_files(&fw, &kernel, line, Some(&program)).unwrap();
        assert_eq!(with.len(), 7);
        assert!(config(&with).ends_with("initramfs program.elf followkernel\n"));
        let prog = with.iter().find(|f| f.name == PROGRAM_FILE).unwrap();
        assert_eq!(prog.bytes, b"\x7fELF program");
        let cmdline = with.iter().find(|f| f.name == "cmdline.txt").unwrap();
        assert_eq!(cmdline.bytes, format!("{line}\n").into_bytes());
    }
}
