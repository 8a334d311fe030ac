//! `cargo xtask bench`: one static C program (`apps/bench-c/bench.c`) on
//! rseq-os's loader kernels (no registration, v1, v2, and the `linux`
//! kernel with a v2 registration) and on Linux (Debian's newest arm64
//! kernel, each registration), side by side. `rust=1` runs the Rust
//! benchmark app's four builds instead, which also read the kernel's rseq
//! counters.
//!
//! Default clock `icount`: QEMU runs with `-icount shift=0,sleep=off`, where
//! virtual time advances by one nanosecond per executed instruction, so the
//! system counter (CNTFRQ ticks) measures instructions, and two runs of an
//! rseq-os image give the same figures, or figures within 0.5 % where
//! several CPUs take part (`runs=2` checks it and prints what moved; see
//! [`Agreement`]). Linux seeds its randomness from the device tree, so its
//! runs differ more: it runs once, cached per kernel version and program.
//! `wall` runs without
//! it: emulation speed, for orientation only. Outputs: a table on the
//! terminal, and `bench.json`, `bench.svg`, `bench.txt` and the serial logs
//! under `target/bench/<board>/<commit>/` (`.../<commit>/wall/` for `wall`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::boards::Board;
use crate::build;
use crate::firmware;
use crate::linuxref;
use crate::qemu;
use crate::workspace::{self, Workspace};

/// The four builds, in table order.
pub const MODES: [&str; 4] = ["none", "v1", "v2", "linux"];

/// The counters a BENCH line carries beyond the timing, in print order:
/// the kernel's rseq counters (their names from the rseq crate, the same
/// ones the kernel prints), then context switches.
fn stat_names() -> impl Iterator<Item = &'static str> {
    rseq::RseqStats::NAMES.into_iter().chain(["switches"])
}

/// One `BENCH` line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Benchmark name.
    pub name: String,
    /// Counter ticks over the timed region.
    pub ticks: u64,
    /// CNTFRQ.
    pub freq: u64,
    /// Operations in the timed region.
    pub ops: u64,
    /// Every `key=value` of the line (stats deltas, kind, cpu, ...).
    pub fields: BTreeMap<String, String>,
}

impl Sample {
    /// Nanoseconds of counter time per operation (= instructions per
    /// operation under `-icount shift=0`).
    pub fn per_op(&self) -> f64 {
        if self.ops == 0 || self.freq == 0 {
            return f64::NAN;
        }
        self.ticks as f64 * 1e9 / self.freq as f64 / self.ops as f64
    }

    /// A counter delta per operation.
    pub fn stat_per_op(&self, key: &str) -> f64 {
        let v: f64 = self
            .fields
            .get(key)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        v / self.ops.max(1) as f64
    }
}

/// Parses the `BENCH` lines of a serial log (pure).
pub fn parse(log: &str) -> Result<Vec<Sample>, String> {
    let mut out = Vec::new();
    let mut done = false;
    for line in log.lines().map(str::trim_end) {
        if line.starts_with("BENCH-DONE") {
            done = true;
        }
        let Some(rest) = line.strip_prefix("BENCH ") else {
            continue;
        };
        let fields: BTreeMap<String, String> = rest
            .split_whitespace()
            .filter_map(|kv| {
                kv.split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
            })
            .collect();
        let num = |k: &str| -> Result<u64, String> {
            fields
                .get(k)
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("BENCH line without {k}: {line}"))
        };
        out.push(Sample {
            name: fields
                .get("name")
                .cloned()
                .ok_or_else(|| format!("BENCH line without name: {line}"))?,
            ticks: num("ticks")?,
            freq: num("freq")?,
            ops: num("ops")?,
            fields,
        });
    }
    if !done {
        return Err("no BENCH-DONE line: the benchmark app did not finish".into());
    }
    Ok(out)
}

/// Options of `cargo xtask bench`.
pub struct Options {
    /// Board to run on.
    pub board: &'static Board,
    /// `icount` (deterministic instruction counts) or `wall`.
    pub icount: bool,
    /// Runs per rseq-os column (2 shows icount's determinism).
    pub runs: usize,
    /// Run the program on Linux too (virt only).
    pub linux: bool,
    /// The Rust benchmark app instead of the C program.
    pub rust: bool,
}

/// The environment every run of the C program gets: glibc must leave the
/// registration to the program.
const GLIBC_NO_RSEQ: &str = "GLIBC_TUNABLES=glibc.pthread.rseq=0";

/// The slice-extension benchmarks, run again at `hz=1000`.
const SLICE_BENCHES: [&str; 2] = ["slice_lock_noext", "slice_lock_ext"];

/// A column of the C program's table on rseq-os: its key, the loader
/// kernel's rseq mode and the registration the program makes (`none` runs
/// on the v2 kernel, as the Rust app's `bench-none` does).
const RSEQ_OS_COLUMNS: [(&str, &str, &str); 4] = [
    ("none", "v2", "none"),
    ("v1", "v1", "v1"),
    ("v2", "v2", "v2"),
    ("linux", "linux", "v2"),
];

/// Linux's columns: the registration the program makes.
const LINUX_COLUMNS: [(&str, &str); 3] = [("L-none", "none"), ("L-v1", "v1"), ("L-v2", "v2")];

/// Builds, runs, prints the table; writes JSON, SVG and the table under
/// `target/bench/<board>/<commit>/`. Returns success.
pub fn run(ws: &Workspace, opts: &Options) -> Result<bool, String> {
    let commit = commit_id(ws);
    let mut dir = ws.target.join("bench").join(opts.board.name).join(&commit);
    // Emulated time goes beside the instruction counts, never over them.
    if !opts.icount {
        dir = dir.join("wall");
    }
    fs::create_dir_all(dir.join("logs")).map_err(|e| format!("{}: {e}", dir.display()))?;
    let (report, ok) = if opts.rust {
        run_rust(ws, opts, &commit, &dir)?
    } else {
        run_c(ws, opts, &commit, &dir)?
    };
    let table = table(&report);
    print!("{table}");
    let stem = if opts.rust { "bench-rust" } else { "bench" };
    let path = |ext: &str| dir.join(format!("{stem}.{ext}"));
    fs::write(path("json"), json(&report)).map_err(|e| e.to_string())?;
    fs::write(path("svg"), svg(&report)).map_err(|e| e.to_string())?;
    fs::write(path("txt"), &table).map_err(|e| e.to_string())?;
    println!(
        "wrote {}, {stem}.svg and {stem}.txt (serial logs in logs/)",
        ws.display(&path("json"))
    );
    Ok(ok)
}

/// The commit the figures belong to, as `git describe --always --dirty`
/// names it (the 12-digit hash when no tag is reachable), `-dirty` when
/// the tree has changes.
pub fn commit_id(ws: &Workspace) -> String {
    Command::new("git")
        .args(["describe", "--always", "--dirty", "--abbrev=12"])
        .current_dir(&ws.root)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

fn clock_name(icount: bool) -> &'static str {
    if icount { "icount" } else { "wall" }
}

/// How repeated runs of one image agreed, from best to worst (the
/// combination of several is the worst).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Agreement {
    /// The same lines.
    Identical,
    /// Every per-op figure within [`INVARIANCE_TOLERANCE`], the
    /// tick-sampled ones left out (see [`tick_sampled`]).
    Within,
    /// A figure moved further.
    Differ,
}

impl Agreement {
    /// What a chart title says of `runs` runs that agreed so.
    fn verdict(self, runs: usize) -> String {
        match (runs > 1, self) {
            (false, _) => String::new(),
            (true, Agreement::Identical) => " (identical)".into(),
            (true, Agreement::Within) => {
                format!(" (within {:.1} %)", INVARIANCE_TOLERANCE * 100.0)
            }
            (true, Agreement::Differ) => " (runs DIFFER)".into(),
        }
    }
}

/// A benchmark whose figure counts how many ticks hit a thread at one
/// point of its loop: the slice lock without the extension, where each
/// tick that preempts a holder inside its section costs the waiter a whole
/// slice (5 waits in 60,000 acquisitions at hz=100, one more is +2.8 %).
/// Under QEMU's round-robin TCG a shift of a few instructions, which the
/// interleaving of four vCPUs does not rule out from one boot to the next,
/// moves a tick across a section boundary; so these figures are compared
/// by neither the runs' agreement nor the layout check.
pub fn tick_sampled(name: &str) -> bool {
    name.starts_with("slice_lock_noext")
}

/// Boots `img` `runs` times; returns the first run's samples and skips,
/// and how the runs agreed (each difference is printed). Saves the first
/// log as `logs/<name>.log`.
fn runs_of(
    ws: &Workspace,
    opts: &Options,
    dir: &Path,
    name: &str,
    img: &Path,
    append: &str,
    initrd: Option<&Path>,
) -> Result<(Run, Agreement), String> {
    let mut first: Option<Run> = None;
    let mut agreement = Agreement::Identical;
    for run in 0..opts.runs.max(1) {
        eprintln!("bench: {} {name} run {}", opts.board.name, run + 1);
        let log = boot_with(ws, opts.board, img, opts.icount, append, initrd)?;
        let r = parse_run(&log).map_err(|e| format!("{name}: {e}\n{}", tail(&log)))?;
        match &first {
            None => {
                let path = dir.join("logs").join(format!("{name}.log"));
                fs::write(&path, &log).map_err(|e| format!("{}: {e}", path.display()))?;
                first = Some(r);
            }
            Some(f) => {
                for line in run_differences(f, &r) {
                    eprintln!("bench: {name} run {} differs from run 1: {line}", run + 1);
                }
                agreement = agreement.max(runs_agreement(f, &r));
            }
        }
    }
    Ok((first.expect("at least one run"), agreement))
}

/// The figures two boots are compared on: all but the tick-sampled ones.
fn compared(samples: &[Sample]) -> Vec<Sample> {
    samples
        .iter()
        .filter(|s| !tick_sampled(&s.name))
        .cloned()
        .collect()
}

/// How two runs of one image agreed (pure).
pub fn runs_agreement(a: &Run, b: &Run) -> Agreement {
    if a == b {
        Agreement::Identical
    } else if a.skips == b.skips
        && compare_per_op(
            &compared(&a.samples),
            &compared(&b.samples),
            INVARIANCE_TOLERANCE,
        )
        .is_ok()
    {
        Agreement::Within
    } else {
        Agreement::Differ
    }
}

/// What differs between two runs of one image (pure): per benchmark, both
/// per-op figures and both lines' fields, or a benchmark or skip that only
/// one of them has.
pub fn run_differences(a: &Run, b: &Run) -> Vec<String> {
    let mut out = Vec::new();
    let names = |r: &Run| r.samples.iter().map(|s| s.name.clone()).collect::<Vec<_>>();
    if names(a) != names(b) || a.skips != b.skips {
        out.push(format!(
            "benchmarks {:?} / {:?}, skips {:?} / {:?}",
            names(a),
            names(b),
            a.skips,
            b.skips
        ));
        return out;
    }
    for (x, y) in a.samples.iter().zip(&b.samples) {
        if x != y {
            out.push(format!(
                "{} {:.1} / {:.1} ({:+.3} %), ticks {} / {}",
                x.name,
                x.per_op(),
                y.per_op(),
                (y.per_op() / x.per_op() - 1.0) * 100.0,
                x.ticks,
                y.ticks
            ));
        }
    }
    out
}

/// The C program (`apps/bench-c`) on rseq-os's loader kernels and on
/// Linux.
fn run_c(
    ws: &Workspace,
    opts: &Options,
    commit: &str,
    dir: &Path,
) -> Result<(Report, bool), String> {
    let board = opts.board;
    let prog = crate::selftests::build::build_bench(ws)?;
    let mut report = Report::new(opts.icount);
    let mut agreement = Agreement::Identical;
    for (key, mode, reg) in RSEQ_OS_COLUMNS {
        let image = build::build_loader(ws, board, mode, build::Profile::Release)?;
        let append = build::program_cmdline(Some(&prog), GLIBC_NO_RSEQ, &format!("-- {reg}"))?;
        let (mut r, same) = runs_of(ws, opts, dir, key, &image.img, &append, Some(&prog))?;
        agreement = agreement.max(same);
        // The slice extension at a 1 ms tick.
        let append = build::program_cmdline(
            Some(&prog),
            GLIBC_NO_RSEQ,
            &format!("hz=1000 -- {reg} {}", SLICE_BENCHES.join(" ")),
        )?;
        let name = format!("{key}-hz1000");
        let (fast, same) = runs_of(ws, opts, dir, &name, &image.img, &append, Some(&prog))?;
        agreement = agreement.max(same);
        r.append_renamed(fast, "_hz1000");
        report.columns.push(key.to_string());
        report.runs.insert(key.to_string(), r);
    }
    let mut linux_version = None;
    if opts.linux && board.name == "virt" {
        let (kernel, version) = linuxref::fetch(ws)?;
        let initrd = linuxref::initramfs(&prog)?;
        let short = linuxref::short_version(&version).to_string();
        let cache = ws
            .target
            .join("bench")
            .join(board.name)
            .join("linux")
            .join(&short);
        fs::create_dir_all(&cache).map_err(|e| format!("{}: {e}", cache.display()))?;
        let program = fs::read(&prog).map_err(|e| format!("{}: {e}", prog.display()))?;
        for (key, reg) in LINUX_COLUMNS {
            let append = linuxref::cmdline(&[GLIBC_NO_RSEQ], &[reg]);
            let cached = cache.join(format!(
                "{:016x}-{}-{reg}.log",
                fnv1a(&program),
                clock_name(opts.icount)
            ));
            let log = match fs::read_to_string(&cached) {
                Ok(log) => {
                    eprintln!("bench: Linux {short} {reg}: cached {}", ws.display(&cached));
                    log
                }
                Err(_) => {
                    eprintln!("bench: Linux {short} {reg}");
                    let log = boot_with(ws, board, &kernel, opts.icount, &append, Some(&initrd))?;
                    parse_run(&log).map_err(|e| format!("Linux {reg}: {e}\n{}", tail(&log)))?;
                    fs::write(&cached, &log).map_err(|e| format!("{}: {e}", cached.display()))?;
                    log
                }
            };
            let path = dir.join("logs").join(format!("{key}.log"));
            fs::write(&path, &log).map_err(|e| format!("{}: {e}", path.display()))?;
            let r = parse_run(&log).map_err(|e| format!("Linux {reg}: {e}"))?;
            report.columns.push(key.to_string());
            report.runs.insert(key.to_string(), r);
        }
        linux_version = Some(short);
    } else if opts.linux {
        eprintln!(
            "bench: no Linux column on {}: the reference kernel runs on virt",
            board.name
        );
    }
    report.title = format!(
        "rseq-os bench (apps/bench-c), board={} clock={} commit={commit} runs={}{}, Linux {}",
        board.name,
        clock_name(opts.icount),
        opts.runs,
        agreement.verdict(opts.runs),
        linux_version.as_deref().unwrap_or("not run")
    );
    report.meta = vec![
        ("board", board.name.to_string()),
        ("clock", clock_name(opts.icount).to_string()),
        ("commit", commit.to_string()),
        ("runs", opts.runs.to_string()),
        ("agreement", format!("{agreement:?}")),
        ("linux", linux_version.clone().unwrap_or_default()),
    ];
    report.legend = "rseq-os: none (no registration, v2 kernel), v1, v2, linux (v2 registration \
                     on the linux kernel)"
        .into();
    report.ratios = vec![
        ("v2/v1", "v2", "v1"),
        ("v2/none", "v2", "none"),
        ("linux/v2", "linux", "v2"),
    ];
    report.notes = vec!["v2"];
    // Linux's columns and ratios only where it ran.
    if linux_version.is_some() {
        report.legend += "; L-none, L-v1, L-v2: Linux with that registration";
        report.ratios.extend([
            ("L/none", "L-none", "none"),
            ("L/v2", "L-v2", "v2"),
            ("Lv2/Lv1", "L-v2", "L-v1"),
        ]);
        report.notes.push("L-v2");
    }
    report.counters = vec!["switched"];
    report.totals = vec!["waits", "granted", "yielded", "expired"];
    Ok((
        report,
        !opts.icount || opts.runs < 2 || agreement < Agreement::Differ,
    ))
}

/// The Rust benchmark app (`apps/benchlib`) in its four builds: it also
/// reads the kernel's own rseq counters (kstats) around each benchmark,
/// which a program that runs on Linux cannot.
fn run_rust(
    ws: &Workspace,
    opts: &Options,
    commit: &str,
    dir: &Path,
) -> Result<(Report, bool), String> {
    let board = opts.board;
    let mut report = Report::new(opts.icount);
    let mut agreement = Agreement::Identical;
    for mode in MODES {
        let app = format!("bench-{mode}");
        let image = build::build(ws, board, &app)?;
        let (r, same) = runs_of(ws, opts, dir, &app, &image.img, "", None)?;
        agreement = agreement.max(same);
        report.columns.push(mode.to_string());
        report.runs.insert(mode.to_string(), r);
    }
    report.title = format!(
        "rseq-os bench (Rust app), board={} clock={} commit={commit} runs={}{}",
        board.name,
        clock_name(opts.icount),
        opts.runs,
        agreement.verdict(opts.runs),
    );
    report.meta = vec![
        ("board", board.name.to_string()),
        ("clock", clock_name(opts.icount).to_string()),
        ("commit", commit.to_string()),
        ("runs", opts.runs.to_string()),
        ("agreement", format!("{agreement:?}")),
    ];
    report.ratios = vec![
        ("v2/v1", "v2", "v1"),
        ("v2/none", "v2", "none"),
        ("linux/v2", "linux", "v2"),
    ];
    report.notes = vec!["v1", "v2", "linux"];
    // Every rseq counter but `exit` (one per syscall, so 1.00 wherever a
    // syscall is the operation), and the context switches.
    report.counters = stat_names().filter(|k| *k != "exit").collect();
    Ok((
        report,
        !opts.icount || opts.runs < 2 || agreement < Agreement::Differ,
    ))
}

/// FNV-1a of `bytes` (a stable cache key; pure).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// For `just test`: two icount runs of the v2 benchmark image must give
/// identical BENCH lines (the property the bench's figures rest on).
///
/// `image(name)` gives the release image `name` of `board` (an app, or
/// `loader-<mode>`), built by then or now.
pub fn determinism_check(
    ws: &Workspace,
    board: &Board,
    image: &dyn Fn(&str) -> Result<build::Image, String>,
) -> Result<String, String> {
    let image = image("bench-v2")?;
    let a = parse(&boot(ws, board, &image.img, true)?)?;
    let b = parse(&boot(ws, board, &image.img, true)?)?;
    if a != b {
        return Err("two icount runs of bench-v2 differ".into());
    }
    let getpid = a
        .iter()
        .find(|s| s.name == "getpid")
        .map_or(f64::NAN, Sample::per_op);
    Ok(format!(
        "{} benchmarks identical over two icount runs (getpid {getpid:.1} instructions)",
        a.len()
    ))
}

/// A boot option unrelated to every benchmark, at its default value
/// (README: Kernel command line): passing it changes nothing the kernel
/// does, only the device tree's size and so how long the boot takes, which
/// moves where the ticks fall relative to each timed loop.
pub const NEUTRAL_OPTION: &str = "overcommit=0";

/// How far a benchmark's per-op figure may move under [`NEUTRAL_OPTION`]:
/// 0.5 %.
pub const INVARIANCE_TOLERANCE: f64 = 0.005;

/// For `just test`: each build of the benchmark app, and the C program on
/// the v2 loader kernel, booted without and with
/// [`NEUTRAL_OPTION`] must give the same per-op figure within
/// [`INVARIANCE_TOLERANCE`] for every benchmark. A kernel busy-wait that
/// does not hand the emulator to the CPU it waits for (`isb` instead of
/// `yield`) fails this: the waiter burns a time slot whose length depends
/// on where the next timer deadline falls. The C program runs in one
/// column only, its v2 one (every benchmark, the slice extension's
/// included): each of its boots takes as long as the four Rust builds',
/// and the Rust builds already cover every mode. `image` as for
/// [`determinism_check`].
pub fn invariance_check(
    ws: &Workspace,
    board: &Board,
    image: &dyn Fn(&str) -> Result<build::Image, String>,
) -> Result<String, String> {
    let mut worst = (0.0_f64, String::new());
    let mut count = 0;
    for mode in MODES {
        let app = format!("bench-{mode}");
        let image = image(&app)?;
        let plain = parse(&boot_with(ws, board, &image.img, true, "", None)?)
            .map_err(|e| format!("{app}: {e}"))?;
        let moved = parse(&boot_with(
            ws,
            board,
            &image.img,
            true,
            NEUTRAL_OPTION,
            None,
        )?)
        .map_err(|e| format!("{app} with {NEUTRAL_OPTION}: {e}"))?;
        let (n, dev, name) = compare_per_op(&plain, &moved, INVARIANCE_TOLERANCE)
            .map_err(|e| format!("{app}, with {NEUTRAL_OPTION}: {e}"))?;
        count += n;
        if dev >= worst.0 {
            worst = (dev, format!("{app} {name}"));
        }
    }
    let prog = crate::selftests::build::build_bench(ws)?;
    for (key, mode, reg) in RSEQ_OS_COLUMNS
        .into_iter()
        .filter(|(key, _, _)| *key == "v2")
    {
        let image = image(&format!("loader-{mode}"))?;
        let boot_c = |options: &str| {
            let append =
                build::program_cmdline(Some(&prog), GLIBC_NO_RSEQ, &format!("{options}-- {reg}"))?;
            let log = boot_with(ws, board, &image.img, true, &append, Some(&prog))?;
            parse(&log).map_err(|e| format!("bench-c {key} {options}: {e}"))
        };
        // The tick-sampled figures are left out, as between runs.
        let plain = compared(&boot_c("")?);
        let moved = compared(&boot_c(&format!("{NEUTRAL_OPTION} "))?);
        let (n, dev, name) = compare_per_op(&plain, &moved, INVARIANCE_TOLERANCE)
            .map_err(|e| format!("bench-c {key}, with {NEUTRAL_OPTION}: {e}"))?;
        count += n;
        if dev >= worst.0 {
            worst = (dev, format!("bench-c {key} {name}"));
        }
    }
    Ok(format!(
        "{count} figures of {} builds and the C program's v2 unmoved by {NEUTRAL_OPTION} within {:.1} % (largest: {} {:+.3} %)",
        MODES.len(),
        INVARIANCE_TOLERANCE * 100.0,
        worst.1,
        worst.0 * 100.0
    ))
}

/// Compares two runs benchmark by benchmark (pure): both must have the
/// same benchmarks, each per-op figure within `tolerance` (relative).
/// Returns how many were compared and the largest relative deviation with
/// its benchmark's name.
pub fn compare_per_op(
    a: &[Sample],
    b: &[Sample],
    tolerance: f64,
) -> Result<(usize, f64, String), String> {
    let names = |s: &[Sample]| s.iter().map(|x| x.name.clone()).collect::<Vec<_>>();
    if names(a) != names(b) {
        return Err(format!(
            "different benchmarks: {:?} vs {:?}",
            names(a),
            names(b)
        ));
    }
    let mut worst = (0.0_f64, String::new());
    let mut bad = Vec::new();
    for (x, y) in a.iter().zip(b) {
        let (p, q) = (x.per_op(), y.per_op());
        // A figure that is not a number (no ops) never passes.
        let dev = if p > 0.0 && q.is_finite() {
            (q - p) / p
        } else {
            f64::INFINITY
        };
        if dev.abs() > tolerance {
            bad.push(format!(
                "{} {p:.1} -> {q:.1} ({:+.2} %)",
                x.name,
                dev * 100.0
            ));
        }
        if dev.abs() >= worst.0.abs() {
            worst = (dev, x.name.clone());
        }
    }
    if !bad.is_empty() {
        return Err(format!(
            "moved more than {:.1} %: {}",
            tolerance * 100.0,
            bad.join(", ")
        ));
    }
    Ok((a.len(), worst.0.abs(), worst.1))
}

/// One QEMU run; returns the serial log.
fn boot(
    ws: &Workspace,
    board: &Board,
    img: &std::path::Path,
    icount: bool,
) -> Result<String, String> {
    boot_with(ws, board, img, icount, "", None)
}

/// One QEMU run with a kernel command line and an initrd; returns the
/// serial log.
fn boot_with(
    ws: &Workspace,
    board: &Board,
    img: &std::path::Path,
    icount: bool,
    append: &str,
    initrd: Option<&std::path::Path>,
) -> Result<String, String> {
    let qopts = qemu::Options {
        dtb: firmware::qemu_dtb(ws, board)?,
        append: append.to_string(),
        initrd: initrd.map(std::path::Path::to_path_buf),
        icount,
        ..Default::default()
    };
    let mut cmd = qemu::command(board, img, &qopts)?;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", workspace::describe(&cmd)))?;
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        if child.try_wait().map_err(|e| e.to_string())?.is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return Err("benchmark run timed out after 600 s".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// What one run printed: its `BENCH` lines and the benchmarks it could
/// not run (`BENCH-SKIP name=N why=W`), in order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Run {
    pub samples: Vec<Sample>,
    pub skips: Vec<(String, String)>,
}

impl Run {
    /// Adds `other`'s lines with `suffix` appended to each name.
    fn append_renamed(&mut self, other: Run, suffix: &str) {
        for mut s in other.samples {
            s.name.push_str(suffix);
            self.samples.push(s);
        }
        for (name, why) in other.skips {
            self.skips.push((format!("{name}{suffix}"), why));
        }
    }
}

/// Parses a serial log's `BENCH` and `BENCH-SKIP` lines (pure).
pub fn parse_run(log: &str) -> Result<Run, String> {
    let samples = parse(log)?;
    let skips = log
        .lines()
        .filter_map(|l| l.trim_end().strip_prefix("BENCH-SKIP "))
        .filter_map(|rest| {
            let name = rest
                .split_whitespace()
                .find_map(|kv| kv.strip_prefix("name="))?;
            let why = rest.split_once("why=").map_or("", |(_, w)| w.trim());
            Some((name.to_string(), why.to_string()))
        })
        .collect();
    Ok(Run { samples, skips })
}

/// A table and chart: columns of runs side by side.
#[derive(Debug, Default)]
pub struct Report {
    /// The first line of the table and the chart's title.
    pub title: String,
    /// What the columns are (a line under the title; empty for none).
    pub legend: String,
    /// `key: value` pairs the JSON starts with.
    pub meta: Vec<(&'static str, String)>,
    pub icount: bool,
    /// Column keys, in order.
    pub columns: Vec<String>,
    pub runs: BTreeMap<String, Run>,
    /// Ratio columns: label, numerator column, denominator column.
    pub ratios: Vec<(&'static str, &'static str, &'static str)>,
    /// The columns whose counters the table shows per operation.
    pub notes: Vec<&'static str>,
    /// The counters shown per operation, when non-zero.
    pub counters: Vec<&'static str>,
    /// The counters shown as totals, when present.
    pub totals: Vec<&'static str>,
}

impl Report {
    fn new(icount: bool) -> Report {
        Report {
            icount,
            ..Default::default()
        }
    }

    fn unit(&self) -> &'static str {
        if self.icount {
            "instructions/op"
        } else {
            "ns/op (emulated)"
        }
    }

    /// Benchmarks in first-seen order across columns (skipped ones too).
    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for col in &self.columns {
            if let Some(r) = self.runs.get(col) {
                let seen = r
                    .samples
                    .iter()
                    .map(|s| &s.name)
                    .chain(r.skips.iter().map(|(n, _)| n));
                for n in seen {
                    if !names.contains(n) {
                        names.push(n.clone());
                    }
                }
            }
        }
        names
    }

    fn get(&self, col: &str, name: &str) -> Option<&Sample> {
        self.runs.get(col)?.samples.iter().find(|s| s.name == name)
    }

    fn skip(&self, col: &str, name: &str) -> Option<&str> {
        self.runs
            .get(col)?
            .skips
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, w)| w.as_str())
    }

    fn per_op(&self, col: &str, name: &str) -> Option<f64> {
        self.get(col, name).map(Sample::per_op)
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.3}", a / b),
        _ => "-".into(),
    }
}

/// The terminal table (pure, also saved as a .txt): per-op figures, `n/a`
/// where the kernel lacks the feature (why below the table), `-` where the
/// benchmark did not run; the ratios; the chosen counters per op.
pub fn table(r: &Report) -> String {
    let mut t = String::new();
    let _ = writeln!(t, "{} ({})", r.title, r.unit());
    if !r.legend.is_empty() {
        let _ = writeln!(t, "{}", r.legend);
    }
    let mut head = format!("{:<24}", "benchmark");
    for c in &r.columns {
        let _ = write!(head, " {c:>9}");
    }
    for (label, _, _) in &r.ratios {
        let _ = write!(head, " {label:>8}");
    }
    let _ = write!(head, "   counters per op ({})", r.notes.join(" | "));
    let _ = writeln!(t, "{}", head.trim_end());
    let mut whys = Vec::new();
    for name in r.names() {
        let mut line = format!("{name:<24}");
        for c in &r.columns {
            let cell = match (r.per_op(c, &name), r.skip(c, &name)) {
                (Some(v), _) => format!("{v:.1}"),
                (None, Some(why)) => {
                    whys.push(format!("{c} {name}: {why}"));
                    "n/a".into()
                }
                (None, None) => "-".into(),
            };
            let _ = write!(line, " {cell:>9}");
        }
        for (_, a, b) in &r.ratios {
            let _ = write!(
                line,
                " {:>8}",
                ratio(r.per_op(a, &name), r.per_op(b, &name))
            );
        }
        let notes: Vec<String> = r
            .notes
            .iter()
            .map(|c| {
                r.get(c, &name).map_or("-".into(), |s| {
                    let per_op = r
                        .counters
                        .iter()
                        .filter(|k| s.stat_per_op(k) > 0.0)
                        .map(|k| format!("{k}={:.2}", s.stat_per_op(k)));
                    let totals = r
                        .totals
                        .iter()
                        .filter_map(|k| s.fields.get(*k).map(|v| format!("{k}={v}")));
                    per_op.chain(totals).collect::<Vec<_>>().join(" ")
                })
            })
            .collect();
        let _ = write!(line, "   {}", notes.join(" | "));
        let _ = writeln!(t, "{}", line.trim_end());
    }
    for why in whys {
        let _ = writeln!(t, "n/a: {why}");
    }
    t
}

fn json_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The JSON report (pure; hand-written to keep xtask dependency-light):
/// the meta fields, the columns, then per benchmark each column's figure
/// with every field of its line (numbers as numbers), `{"skip": why}` or
/// `null`.
pub fn json(r: &Report) -> String {
    let mut j = String::from("{");
    for (k, v) in &r.meta {
        let _ = write!(j, "\"{k}\":\"{}\",", json_escape(v));
    }
    let cols: Vec<String> = r.columns.iter().map(|c| format!("\"{c}\"")).collect();
    let _ = write!(j, "\"columns\":[{}],\"benchmarks\":[", cols.join(","));
    for (i, name) in r.names().iter().enumerate() {
        if i > 0 {
            j.push(',');
        }
        let _ = write!(j, "{{\"name\":\"{}\"", json_escape(name));
        for c in &r.columns {
            match (r.get(c, name), r.skip(c, name)) {
                (Some(s), _) => {
                    let _ = write!(j, ",\"{c}\":{{\"per_op\":{:.3}", s.per_op());
                    for (k, v) in s.fields.iter().filter(|(k, _)| *k != "name") {
                        if v.parse::<u64>().is_ok() {
                            let _ = write!(j, ",\"{k}\":{v}");
                        } else {
                            let _ = write!(j, ",\"{k}\":\"{}\"", json_escape(v));
                        }
                    }
                    j.push('}');
                }
                (None, Some(why)) => {
                    let _ = write!(j, ",\"{c}\":{{\"skip\":\"{}\"}}", json_escape(why));
                }
                (None, None) => {
                    let _ = write!(j, ",\"{c}\":null");
                }
            }
        }
        j.push('}');
    }
    j.push_str("]}\n");
    j
}

/// Bar colours, one per column in order.
const COLORS: [&str; 8] = [
    "#9e9e9e", "#e07b39", "#3b7dd8", "#7a4fbf", "#2e7d32", "#66bb6a", "#a5d6a7", "#795548",
];

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A grouped bar chart, one row per benchmark, bars scaled to the row's
/// largest value, "n/a" where the kernel lacks the feature (pure).
pub fn svg(r: &Report) -> String {
    let names = r.names();
    let bar = 12.0;
    let row = (bar + 2.0) * r.columns.len() as f64 + 14.0;
    let (left, width) = (170.0, 460.0);
    let height = 50.0 + row * names.len() as f64 + 30.0;
    let unit = if r.icount {
        "instructions per operation (QEMU icount)"
    } else {
        "ns per operation (emulated)"
    };
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">",
        left + width + 90.0
    );
    let _ = writeln!(
        s,
        "<text x=\"10\" y=\"20\" font-size=\"13\">{}</text>",
        xml_escape(&r.title)
    );
    let _ = writeln!(
        s,
        "<text x=\"10\" y=\"38\">{unit}; bars scaled per row</text>"
    );
    for (i, col) in r.columns.iter().enumerate() {
        let x = 10.0 + i as f64 * 80.0;
        let _ = writeln!(
            s,
            "<rect x=\"{x}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"{}\" y=\"{}\">{col}</text>",
            height - 22.0,
            COLORS[i % COLORS.len()],
            x + 16.0,
            height - 12.0
        );
    }
    for (k, name) in names.iter().enumerate() {
        let y0 = 50.0 + k as f64 * row;
        let _ = writeln!(s, "<text x=\"10\" y=\"{}\">{name}</text>", y0 + 24.0);
        let vals: Vec<Option<f64>> = r.columns.iter().map(|c| r.per_op(c, name)).collect();
        let max = vals.iter().flatten().cloned().fold(0.0_f64, f64::max);
        for (i, (v, col)) in vals.iter().zip(&r.columns).enumerate() {
            let y = y0 + i as f64 * (bar + 2.0);
            match v {
                Some(v) => {
                    let w = if max > 0.0 { width * v / max } else { 0.0 };
                    let _ = writeln!(
                        s,
                        "<rect x=\"{left}\" y=\"{y}\" width=\"{w:.1}\" height=\"{bar}\" fill=\"{}\"/><text x=\"{:.1}\" y=\"{}\">{v:.1}</text>",
                        COLORS[i % COLORS.len()],
                        left + w + 4.0,
                        y + 10.0
                    );
                }
                None if r.skip(col, name).is_some() => {
                    let _ = writeln!(
                        s,
                        "<text x=\"{left}\" y=\"{}\" fill=\"{}\">n/a ({col})</text>",
                        y + 10.0,
                        COLORS[i % COLORS.len()]
                    );
                }
                None => {}
            }
        }
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "noise\nBENCH name=getpid iters=1000 ticks=625 freq=62500000 ops=1000 exit=1000 fastpath=0 ids=0 cpu=0\nBENCH name=pingpong_1cpu iters=10 ticks=6250 freq=62500000 ops=20 ids=20 switches=20 cpu=1\nBENCH-DONE mode=v1\n";

    #[test]
    fn parses_lines_and_computes_per_op() {
        let s = parse(LOG).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].name, "getpid");
        assert!(
            (s[0].per_op() - 10.0).abs() < 1e-9,
            "625 ticks at 62.5 MHz = 10 us over 1000 ops = 10 ns/op"
        );
        assert!((s[1].stat_per_op("ids") - 1.0).abs() < 1e-9);
        assert!(
            parse("BENCH name=x ticks=1 freq=1 ops=1\n").is_err(),
            "no BENCH-DONE"
        );
        assert!(
            parse("BENCH name=x ticks=1 ops=1\nBENCH-DONE\n").is_err(),
            "no freq"
        );
    }

    #[test]
    fn run_differences_name_the_benchmark_that_moved() {
        let a = parse_run(LOG).unwrap();
        assert!(run_differences(&a, &a).is_empty());
        let moved = LOG.replace("ticks=6250", "ticks=6256");
        let d = run_differences(&a, &parse_run(&moved).unwrap());
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(
            d[0].starts_with("pingpong_1cpu 5000.0 / 5004.8 (+0.096 %)"),
            "{d:?}"
        );
        let fewer = LOG.replace("BENCH name=getpid", "BENCH-SKIP name=getpid why=x\nX");
        assert!(run_differences(&a, &parse_run(&fewer).unwrap())[0].starts_with("benchmarks"));
    }

    #[test]
    fn agreements_combine_to_the_worst() {
        use Agreement::*;
        assert_eq!(Identical.max(Within).max(Identical), Within);
        assert_eq!(Within.max(Differ), Differ);
        assert_eq!(Within.verdict(2), " (within 0.5 %)");
        let a = parse_run(LOG).unwrap();
        assert_eq!(runs_agreement(&a, &a), Identical);
        let near = LOG.replace("ticks=6250", "ticks=6256");
        assert_eq!(runs_agreement(&a, &parse_run(&near).unwrap()), Within);
        let far = LOG.replace("ticks=6250", "ticks=6500");
        assert_eq!(runs_agreement(&a, &parse_run(&far).unwrap()), Differ);
        assert_eq!(Differ.verdict(1), "", "one run claims nothing");
        assert!(tick_sampled("slice_lock_noext_hz1000"));
        assert!(!tick_sampled("slice_lock_ext"));
    }

    #[test]
    fn skips_are_parsed_with_their_reason() {
        let log = format!(
            "{LOG}BENCH-SKIP name=slice_lock_ext why=prctl(79,GET):ENOTSUPP,syscall(471):ENOSYS\n"
        );
        let r = parse_run(&log).unwrap();
        assert_eq!(r.samples.len(), 2);
        assert_eq!(
            r.skips,
            [(
                "slice_lock_ext".to_string(),
                "prctl(79,GET):ENOTSUPP,syscall(471):ENOSYS".to_string()
            )]
        );
    }

    fn report() -> Report {
        let mut r = Report::new(true);
        r.title = "t".into();
        let mut add = |col: &str, getpid_ticks: u64, skip: bool| {
            let mut run = parse_run(LOG).unwrap();
            run.samples[0].ticks = getpid_ticks;
            if skip {
                run.skips.push(("slice_lock_ext".into(), "ENOTSUPP".into()));
            } else {
                let mut fast = parse_run(LOG).unwrap();
                fast.samples.truncate(1);
                run.append_renamed(fast, "_hz1000");
            }
            r.columns.push(col.into());
            r.runs.insert(col.into(), run);
        };
        add("v1", 625, false);
        add("v2", 1250, false);
        add("L-v2", 1375, true);
        r.ratios = vec![("v2/v1", "v2", "v1"), ("L/v2", "L-v2", "v2")];
        r.notes = vec!["v2"];
        r.counters = vec!["ids"];
        r.totals = vec!["switches"];
        r.meta = vec![("board", "virt".into())];
        r
    }

    #[test]
    fn table_json_svg_have_every_column_ratio_and_skip() {
        let r = report();
        let t = table(&r);
        let line = t.lines().find(|l| l.starts_with("getpid ")).unwrap();
        let cells: Vec<_> = line.split_whitespace().collect();
        assert_eq!(
            cells,
            ["getpid", "10.0", "20.0", "22.0", "2.000", "1.100"],
            "{line}"
        );
        let ping = t.lines().find(|l| l.starts_with("pingpong_1cpu")).unwrap();
        assert!(ping.ends_with("ids=1.00 switches=20"), "{ping}");
        let slice = t.lines().find(|l| l.starts_with("slice_lock_ext")).unwrap();
        let cells: Vec<_> = slice.split_whitespace().collect();
        assert_eq!(
            cells,
            ["slice_lock_ext", "-", "-", "n/a", "-", "-", "-"],
            "{slice}"
        );
        assert!(t.contains("n/a: L-v2 slice_lock_ext: ENOTSUPP"), "{t}");
        assert!(t.lines().any(|l| l.starts_with("getpid_hz1000 ")), "{t}");
        let j = json(&r);
        assert!(
            j.starts_with("{\"board\":\"virt\",\"columns\":[\"v1\",\"v2\",\"L-v2\"]"),
            "{j}"
        );
        assert!(
            j.contains("\"v2\":{\"per_op\":20.000,\"cpu\":0,\"exit\":1000"),
            "{j}"
        );
        assert!(j.contains("\"L-v2\":{\"skip\":\"ENOTSUPP\"}"), "{j}");
        assert!(j.contains("\"name\":\"getpid_hz1000\",\"v1\":{"), "{j}");
        let s = svg(&r);
        // 3 legend squares; getpid 3 bars, pingpong 3, getpid_hz1000 2.
        assert_eq!(s.matches("<rect").count(), 3 + 3 + 3 + 2);
        assert!(s.contains("n/a (L-v2)"));
    }

    #[test]
    fn fnv1a_is_the_reference_function() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn per_op_comparison_allows_half_a_percent() {
        let a = parse(LOG).unwrap();
        let mut b_ok = a.clone();
        b_ok[0].ticks = 627; // 10.032: +0.32 %
        let (n, dev, name) = compare_per_op(&a, &b_ok, 0.005).unwrap();
        assert_eq!((n, name.as_str()), (2, "getpid"));
        assert!((dev - 0.0032).abs() < 1e-9, "{dev}");
        let mut far = a.clone();
        far[1].ticks = 6300; // pingpong 5000 -> 5040: +0.8 %
        let e = compare_per_op(&a, &far, 0.005).unwrap_err();
        assert!(
            e.contains("pingpong_1cpu 5000.0 -> 5040.0 (+0.80 %)"),
            "{e}"
        );
        let e = compare_per_op(&a, &a[..1], 0.005).unwrap_err();
        assert!(e.contains("different benchmarks"), "{e}");
        let mut zero = a.clone();
        zero[0].ops = 0;
        assert!(
            compare_per_op(&a, &zero, 0.005).is_err(),
            "NaN never passes"
        );
    }
}
