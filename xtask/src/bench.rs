//! `cargo xtask bench`: the benchmark app in its four builds (no rseq, v1,
//! v2, and `linux` registering 64 bytes, so v2 behind the `linux` kernel's
//! run-time version checks) on one board, side by side.
//!
//! Default clock `icount`: QEMU runs with `-icount shift=0,sleep=off`, where
//! virtual time advances by one nanosecond per executed instruction, so the
//! system counter (CNTFRQ ticks) measures instructions and two runs give the
//! same figures (checked: `runs=2`). `wall` runs without it: emulation
//! speed, for orientation only. Outputs: a table on the terminal,
//! `target/bench/bench.json`, `target/bench/bench.svg`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::boards::Board;
use crate::build;
use crate::firmware;
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
    /// Runs per build (2 shows icount's determinism).
    pub runs: usize,
}

/// Builds, runs, prints the table; writes JSON and SVG. Returns success.
pub fn run(ws: &Workspace, opts: &Options) -> Result<bool, String> {
    let board = opts.board;
    let mut results: BTreeMap<&str, Vec<Sample>> = BTreeMap::new();
    let mut identical = true;
    for mode in MODES {
        let app = format!("bench-{mode}");
        let image = build::build(ws, board, &app)?;
        let mut first: Option<Vec<Sample>> = None;
        for run in 0..opts.runs.max(1) {
            eprintln!("bench: {} {app} run {}", board.name, run + 1);
            let log = boot(ws, board, &image.img, opts.icount)?;
            let samples = parse(&log).map_err(|e| format!("{app}: {e}\n{}", tail(&log)))?;
            match &first {
                None => first = Some(samples),
                Some(f) => identical &= *f == samples,
            }
        }
        results.insert(mode, first.expect("at least one run"));
    }
    let clock = if opts.icount { "icount" } else { "wall" };
    let table = table(&results, clock, opts.runs, identical);
    print!("{table}");
    let dir = ws.root.join("target/bench");
    fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let json = json(&results, board.name, clock, opts.runs, identical);
    fs::write(dir.join("bench.json"), json).map_err(|e| e.to_string())?;
    fs::write(dir.join("bench.svg"), svg(&results, clock)).map_err(|e| e.to_string())?;
    fs::write(dir.join("bench.txt"), &table).map_err(|e| e.to_string())?;
    println!(
        "wrote {}, bench.svg and bench.txt",
        ws.display(&dir.join("bench.json"))
    );
    Ok(!opts.icount || opts.runs < 2 || identical)
}

/// For `just test`: two icount runs of the v2 benchmark image must give
/// identical BENCH lines (the property the bench's figures rest on).
pub fn determinism_check(ws: &Workspace, board: &Board) -> Result<String, String> {
    let image = build::build(ws, board, "bench-v2")?;
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

/// For `just test`: each build of the benchmark app booted without and
/// with [`NEUTRAL_OPTION`] must give the same per-op figure within
/// [`INVARIANCE_TOLERANCE`] for every benchmark. A kernel busy-wait that
/// does not hand the emulator to the CPU it waits for (`isb` instead of
/// `yield`) fails this: the waiter burns a time slot whose length depends
/// on where the next timer deadline falls.
pub fn invariance_check(ws: &Workspace, board: &Board) -> Result<String, String> {
    let mut worst = (0.0_f64, String::new());
    let mut count = 0;
    for mode in MODES {
        let app = format!("bench-{mode}");
        let image = build::build(ws, board, &app)?;
        let plain = parse(&boot_with(ws, board, &image.img, true, "", None)?)
            .map_err(|e| format!("{app}: {e}"))?;
        let moved = parse(&boot_with(ws, board, &image.img, true, NEUTRAL_OPTION, None)?)
            .map_err(|e| format!("{app} with {NEUTRAL_OPTION}: {e}"))?;
        let (n, dev, name) = compare_per_op(&plain, &moved, INVARIANCE_TOLERANCE)
            .map_err(|e| format!("{app}, with {NEUTRAL_OPTION}: {e}"))?;
        count += n;
        if dev >= worst.0 {
            worst = (dev, format!("{app} {name}"));
        }
    }
    Ok(format!(
        "{count} figures of {} builds unmoved by {NEUTRAL_OPTION} within {:.1} % (largest: {} {:+.3} %)",
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
        let dev = if p > 0.0 { (q - p) / p } else { f64::INFINITY };
        if !(dev.abs() <= tolerance) {
            bad.push(format!("{} {p:.1} -> {q:.1} ({:+.2} %)", x.name, dev * 100.0));
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
        ..Default::default()
    };
    let mut cmd = qemu::command(board, img, &qopts)?;
    if icount {
        cmd.args(["-icount", "shift=0,sleep=off"]);
    }
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

/// Benchmarks in first-seen order across modes.
fn names(results: &BTreeMap<&str, Vec<Sample>>) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for mode in MODES {
        for s in results.get(mode).into_iter().flatten() {
            if !names.contains(&s.name) {
                names.push(s.name.clone());
            }
        }
    }
    names
}

fn get<'a>(results: &'a BTreeMap<&str, Vec<Sample>>, mode: &str, name: &str) -> Option<&'a Sample> {
    results.get(mode)?.iter().find(|s| s.name == name)
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.3}", a / b),
        _ => "-".into(),
    }
}

/// The terminal table (pure, also saved as bench.txt).
pub fn table(
    results: &BTreeMap<&str, Vec<Sample>>,
    clock: &str,
    runs: usize,
    identical: bool,
) -> String {
    let unit = if clock == "icount" {
        "instructions/op"
    } else {
        "ns/op (emulated)"
    };
    let mut t = String::new();
    let _ = writeln!(
        t,
        "rseq-os bench, clock={clock} ({unit}), runs={runs}{}",
        if runs > 1 {
            if identical {
                ", runs identical: yes"
            } else {
                ", runs identical: NO"
            }
        } else {
            ""
        }
    );
    let _ = writeln!(
        t,
        "{:<18} {:>10} {:>10} {:>10} {:>10} {:>7} {:>8} {:>9}   rseq counters per op (v1 | v2 | linux)",
        "benchmark", "none", "v1", "v2", "linux", "v2/v1", "v2/none", "linux/v2"
    );
    for name in names(results) {
        let val = |m: &str| get(results, m, &name).map(Sample::per_op);
        let cell = |m: &str| val(m).map_or("-".into(), |v| format!("{v:.1}"));
        let stats = |m: &str| {
            get(results, m, &name).map_or("-".into(), |s| {
                [
                    "fastpath",
                    "slowpath",
                    "ids",
                    "cs",
                    "fixup",
                    "s_granted",
                    "s_yielded",
                    "s_expired",
                ]
                .iter()
                .filter(|k| s.stat_per_op(k) > 0.0)
                .map(|k| format!("{k}={:.2}", s.stat_per_op(k)))
                .collect::<Vec<_>>()
                .join(" ")
            })
        };
        let _ = writeln!(
            t,
            "{:<18} {:>10} {:>10} {:>10} {:>10} {:>7} {:>8} {:>9}   {} | {} | {}",
            name,
            cell("none"),
            cell("v1"),
            cell("v2"),
            cell("linux"),
            ratio(val("v2"), val("v1")),
            ratio(val("v2"), val("none")),
            ratio(val("linux"), val("v2")),
            stats("v1"),
            stats("v2"),
            stats("linux")
        );
    }
    t
}

fn json_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The JSON report (pure; hand-written to keep xtask dependency-light).
pub fn json(
    results: &BTreeMap<&str, Vec<Sample>>,
    board: &str,
    clock: &str,
    runs: usize,
    identical: bool,
) -> String {
    let mut j = String::new();
    let _ = write!(
        j,
        "{{\"board\":\"{board}\",\"clock\":\"{clock}\",\"runs\":{runs},\"identical\":{identical},\"benchmarks\":["
    );
    for (i, name) in names(results).iter().enumerate() {
        if i > 0 {
            j.push(',');
        }
        let _ = write!(j, "{{\"name\":\"{}\"", json_escape(name));
        for mode in MODES {
            match get(results, mode, name) {
                Some(s) => {
                    let _ = write!(
                        j,
                        ",\"{mode}\":{{\"per_op\":{:.3},\"ticks\":{},\"ops\":{},\"freq\":{}",
                        s.per_op(),
                        s.ticks,
                        s.ops,
                        s.freq
                    );
                    for k in stat_names() {
                        if let Some(v) = s.fields.get(k) {
                            let _ = write!(j, ",\"{k}\":{v}");
                        }
                    }
                    j.push('}');
                }
                None => {
                    let _ = write!(j, ",\"{mode}\":null");
                }
            }
        }
        j.push('}');
    }
    j.push_str("]}\n");
    j
}

/// A grouped bar chart, one row per benchmark, bars scaled to the row's
/// largest value (pure).
pub fn svg(results: &BTreeMap<&str, Vec<Sample>>, clock: &str) -> String {
    let names = names(results);
    let (row, bar, left, width) = (54.0, 14.0, 150.0, 460.0);
    let height = 40.0 + row * names.len() as f64 + 30.0;
    let colors = [
        ("none", "#9e9e9e"),
        ("v1", "#e07b39"),
        ("v2", "#3b7dd8"),
        ("linux", "#3a9a5b"),
    ];
    let unit = if clock == "icount" {
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
        "<text x=\"10\" y=\"20\" font-size=\"14\">rseq-os: {unit}; bars scaled per row</text>"
    );
    for (i, (mode, color)) in colors.iter().enumerate() {
        let x = left + i as f64 * 90.0;
        let _ = writeln!(
            s,
            "<rect x=\"{x}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"{color}\"/><text x=\"{}\" y=\"{}\">{mode}</text>",
            height - 22.0,
            x + 16.0,
            height - 12.0
        );
    }
    for (r, name) in names.iter().enumerate() {
        let y0 = 40.0 + r as f64 * row;
        let _ = writeln!(s, "<text x=\"10\" y=\"{}\">{name}</text>", y0 + 24.0);
        let vals: Vec<Option<f64>> = MODES
            .iter()
            .map(|m| get(results, m, name).map(Sample::per_op))
            .collect();
        let max = vals.iter().flatten().cloned().fold(0.0_f64, f64::max);
        for (k, (v, (_, color))) in vals.iter().zip(colors).enumerate() {
            let y = y0 + k as f64 * (bar + 2.0);
            if let Some(v) = v {
                let w = if max > 0.0 { width * v / max } else { 0.0 };
                let _ = writeln!(
                    s,
                    "<rect x=\"{left}\" y=\"{y}\" width=\"{w:.1}\" height=\"{bar}\" fill=\"{color}\"/><text x=\"{:.1}\" y=\"{}\">{v:.1}</text>",
                    left + w + 4.0,
                    y + 11.0
                );
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
    fn table_json_svg_have_every_mode_and_ratio() {
        let mut r = BTreeMap::new();
        r.insert("none", parse(LOG).unwrap());
        r.insert("v1", parse(LOG).unwrap());
        let mut v2 = parse(LOG).unwrap();
        v2[0].ticks = 1250;
        r.insert("v2", v2);
        let mut linux = parse(LOG).unwrap();
        linux[0].ticks = 1375;
        r.insert("linux", linux);
        let t = table(&r, "icount", 2, true);
        assert!(t.contains("runs identical: yes"));
        let line = t.lines().find(|l| l.starts_with("getpid")).unwrap();
        let cells: Vec<_> = line.split_whitespace().take(8).collect();
        assert_eq!(
            cells,
            [
                "getpid", "10.0", "10.0", "20.0", "22.0", "2.000", "2.000", "1.100"
            ],
            "{line}"
        );
        let j = json(&r, "virt", "icount", 2, true);
        assert!(j.starts_with("{\"board\":\"virt\"") && j.contains("\"v2\":{\"per_op\":20.000"));
        assert!(j.contains("\"linux\":{\"per_op\":22.000"));
        let s = svg(&r, "icount");
        assert_eq!(s.matches("<rect").count(), 4 + 2 * 4);
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
        assert!(e.contains("pingpong_1cpu 5000.0 -> 5040.0 (+0.80 %)"), "{e}");
        let e = compare_per_op(&a, &a[..1], 0.005).unwrap_err();
        assert!(e.contains("different benchmarks"), "{e}");
        let mut zero = a.clone();
        zero[0].ops = 0;
        assert!(compare_per_op(&a, &zero, 0.005).is_err(), "NaN never passes");
    }
}
