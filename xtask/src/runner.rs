//! `cargo xtask test`: host tests, then every selected QEMU scenario.
//!
//! Images are built once per (board, app) before any QEMU starts, since a
//! scenario differs from its neighbours only in QEMU options and command line.
//! Then up to `jobs` QEMUs run at once, each with a deadline; the main thread
//! alone prints, so results never interleave.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::path::PathBuf;
use std::process::{Child, ExitStatus, Stdio};
use std::sync::Mutex;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::boards;
use crate::build::{self, Image};
use crate::check;
use crate::firmware;
use crate::gdbcheck;
use crate::host;
use crate::log::Log;
use crate::modecheck;
use crate::qemu;
use crate::scenarios::{self, Scenario};
use crate::workspace::{self, Workspace};

/// How many log lines a failure shows.
const TAIL_LINES: usize = 30;
/// How often a running QEMU is polled for exit.
const POLL: Duration = Duration::from_millis(20);

/// What `cargo xtask test` was asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    /// Run only scenarios whose `board/name` contains this.
    pub filter: Option<String>,
    /// QEMU instances at once.
    pub jobs: usize,
    /// Run the host `cargo test` first.
    pub host: bool,
    /// Build images; without, reuse the ones in `target/images`.
    pub build: bool,
    /// Deadline per scenario.
    pub timeout: Duration,
    /// Run exactly these scenarios (and no host tests or card check)
    /// instead of the table: `cargo xtask stress`.
    pub only: Option<Vec<&'static Scenario>>,
    /// Start no scenario once this long has passed since the images were
    /// built (`cargo xtask soak`: a set time, which the builds do not eat
    /// into); the ones left are listed as not started, neither passed nor
    /// failed. Runs already going finish.
    pub deadline: Option<Duration>,
}

/// The result of one scenario.
#[derive(Debug)]
pub struct Verdict {
    pub scenario: &'static Scenario,
    /// Empty when it passed.
    pub problems: Vec<String>,
    /// The end of the serial log, shown on failure.
    pub tail: Vec<String>,
    /// The serial log, once QEMU started.
    pub log_path: Option<PathBuf>,
}

/// Whether `filter` selects anything `test` runs: a scenario or the SD card
/// image check. A filter that selects nothing is a typo, not a pass.
pub fn filter_matches(filter: &str) -> bool {
    [SDCARD_CHECK, MODE_CHECK, DETERMINISM_CHECK]
        .iter()
        .chain(GDB_CHECKS)
        .any(|check| check.contains(filter))
        || !scenarios::select(Some(filter)).is_empty()
}

/// The rseq mode symbols check's name in PASS/FAIL lines.
const MODE_CHECK: &str = "virt/rseq-mode-symbols";
/// The benchmark determinism check's name in PASS/FAIL lines.
const DETERMINISM_CHECK: &str = "virt/bench-icount-identical";
/// The debugging workflow's checks, each with its name in PASS/FAIL lines.
const GDB_CHECKS: &[&str] = &[gdbcheck::BACKTRACE, gdbcheck::DIES_WITH_XTASK];

/// The SD card image check's name in PASS/FAIL lines.
const SDCARD_CHECK: &str = "rpi4/sdcard-image";

/// Runs everything; `true` when nothing failed. Prints one PASS/FAIL line per
/// host test binary and per scenario, then `N passed, N failed`.
pub fn run(ws: &Workspace, opts: &Options) -> bool {
    run_with_results(ws, opts).0
}

/// [`run`], also returning how each scenario that ran went, in the order
/// they finished.
pub fn run_with_results(ws: &Workspace, opts: &Options) -> (bool, Vec<Verdict>) {
    let mut results = Vec::new();
    let mut passed = 0;
    let mut failed = 0;

    if opts.host {
        let totals = host::run(ws);
        passed += totals.passed;
        failed += totals.failed;
    }

    // The SD card image: built from the real firmware and kernel, reopened
    // and checked file by file (issue: "a test opens the image").
    let card = SDCARD_CHECK;
    if opts.only.is_none() && opts.build && opts.filter.as_deref().is_none_or(|f| card.contains(f))
    {
        match crate::sdcard::self_test(ws) {
            Ok(summary) => {
                println!("PASS {card}: {summary}");
                passed += 1;
            }
            Err(e) => {
                println!("FAIL {card}: {e}");
                failed += 1;
            }
        }
    }

    let selected = match &opts.only {
        Some(list) => list.clone(),
        None => scenarios::select(opts.filter.as_deref()),
    };
    if selected.is_empty() {
        println!(
            "no scenario matches {:?}",
            opts.filter.as_deref().unwrap_or("")
        );
    }
    let images = images(ws, &selected, opts.build);

    let total = selected.len();
    let (tx, rx) = mpsc::channel();
    let queue = Mutex::new(selected.into_iter());
    let deadline = opts.deadline.map(|d| Instant::now() + d);
    thread::scope(|scope| {
        for _ in 0..opts.jobs.max(1) {
            let tx = tx.clone();
            let (queue, images) = (&queue, &images);
            scope.spawn(move || {
                // Take the lock only to pick the next scenario.
                let next = || {
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        return None;
                    }
                    queue.lock().unwrap_or_else(|e| e.into_inner()).next()
                };
                while let Some(scenario) = next() {
                    let image = &images[&(scenario.board, scenario.app)];
                    let verdict = run_scenario(ws, scenario, image, opts.timeout);
                    if tx.send(verdict).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        let mut done = 0;
        for verdict in rx {
            done += 1;
            if report(ws, &verdict) {
                passed += 1;
            } else {
                failed += 1;
            }
            results.push(verdict);
        }
        if done < total {
            println!("{} scenarios not started (deadline reached)", total - done);
        }
    });

    // The images of the two rseq test apps must each hold only their
    // mode's kernel code (issue 5: "a test proves it from the built image").
    let mode_check = MODE_CHECK;
    if opts.only.is_none()
        && opts
            .filter
            .as_deref()
            .is_none_or(|f| mode_check.contains(f))
    {
        let board = boards::find("virt").expect("virt board");
        let built = modecheck::APPS
            .iter()
            .all(|(app, _)| images.get(&("virt", *app)).is_some_and(|i| i.is_ok()));
        let result = if built {
            modecheck::check(ws, board)
        } else {
            // Not selected by the filter: build them now.
            modecheck::APPS
                .iter()
                .try_for_each(|(app, _)| build::build(ws, board, app).map(|_| ()))
                .and_then(|()| modecheck::check(ws, board))
        };
        match result {
            Ok(summary) => {
                println!("PASS {mode_check}: {summary}");
                passed += 1;
            }
            Err(e) => {
                println!("FAIL {mode_check}: {e}");
                failed += 1;
            }
        }
    }

    let det = DETERMINISM_CHECK;
    if opts.only.is_none() && opts.filter.as_deref().is_none_or(|f| det.contains(f)) {
        match crate::bench::determinism_check(ws, boards::find("virt").expect("virt")) {
            Ok(summary) => {
                println!("PASS {det}: {summary}");
                passed += 1;
            }
            Err(e) => {
                println!("FAIL {det}: {e}");
                failed += 1;
            }
        }
    }

    // The debugging workflow: gdb's backtrace from a syscall handler, and
    // QEMU dying with the xtask that started it.
    for (name, check) in [
        (
            gdbcheck::BACKTRACE,
            gdbcheck::backtrace as fn(&Workspace) -> _,
        ),
        (gdbcheck::DIES_WITH_XTASK, gdbcheck::dies_with_xtask),
    ] {
        if opts.only.is_none() && opts.filter.as_deref().is_none_or(|f| name.contains(f)) {
            match check(ws) {
                Ok(summary) => {
                    println!("PASS {name}: {summary}");
                    passed += 1;
                }
                Err(e) => {
                    println!("FAIL {name}: {e}");
                    failed += 1;
                }
            }
        }
    }

    println!("{passed} passed, {failed} failed");
    (failed == 0, results)
}

/// Builds (or, with `build == false`, locates) each image the scenarios need,
/// once. A failed build becomes an `Err` that fails its scenarios.
fn images(
    ws: &Workspace,
    selected: &[&'static Scenario],
    build: bool,
) -> BTreeMap<(&'static str, &'static str), Result<Image, String>> {
    let mut images = BTreeMap::new();
    for s in selected {
        images.entry((s.board, s.app)).or_insert_with(|| {
            let board = boards::find(s.board)?;
            // Fetch what QEMU needs for this board now, once, before the
            // scenarios start in parallel.
            firmware::qemu_dtb(ws, board)?;
            if build {
                println!("build: {}-{}", s.board, s.app);
                build::build(ws, board, s.app).map_err(|e| format!("image build failed: {e}"))
            } else {
                let image = build::image_paths(ws, board, s.app, build::Profile::Release);
                if image.img.is_file() {
                    Ok(image)
                } else {
                    Err(format!("{} missing (--no-build)", ws.display(&image.img)))
                }
            }
        });
    }
    images
}

/// Boots one scenario and judges its log.
fn run_scenario(
    ws: &Workspace,
    scenario: &'static Scenario,
    image: &Result<Image, String>,
    timeout: Duration,
) -> Verdict {
    let mut verdict = Verdict {
        scenario,
        problems: Vec::new(),
        tail: Vec::new(),
        log_path: None,
    };
    let (status, log_path) = match image
        .clone()
        .and_then(|image| boot(ws, scenario, &image, timeout))
    {
        Ok(done) => done,
        Err(problem) => {
            verdict.problems.push(problem);
            return verdict;
        }
    };
    let text = fs::read(&log_path).unwrap_or_default();
    let log = Log::parse(&String::from_utf8_lossy(&text));
    verdict.problems = match status {
        Some(status) => check::evaluate(scenario, &log, status.code()),
        None => vec![format!("timeout after {} s", timeout.as_secs_f32())],
    };
    verdict.tail = log.tail(TAIL_LINES).to_vec();
    verdict.log_path = Some(log_path);
    verdict
}

/// Runs QEMU with its console going to the scenario's log file. Returns the
/// exit status (`None` on timeout, QEMU then killed) and the log's path.
fn boot(
    ws: &Workspace,
    scenario: &Scenario,
    image: &Image,
    timeout: Duration,
) -> Result<(Option<ExitStatus>, PathBuf), String> {
    let board = boards::find(scenario.board)?;
    let configurable = board.knobs.is_some();
    let opts = qemu::Options {
        el2: scenario.el2,
        gic: configurable.then_some(scenario.gic),
        cpu: configurable.then(|| scenario.cpu.to_string()),
        append: scenario.append.to_string(),
        gdb: None,
        dtb: firmware::qemu_dtb(ws, board)?,
    };
    let mut cmd = qemu::command(board, &image.img, &opts)?;
    let dir = ws.test_logs().join(scenario.board);
    let log_path = dir.join(format!("{}.log", scenario.name));
    let io = |e: std::io::Error| format!("{}: {e}", log_path.display());
    fs::create_dir_all(&dir).map_err(io)?;
    let log = File::create(&log_path).map_err(io)?;
    // QEMU's own complaints (bad option, missing image) go to the same file,
    // so the tail of a failed run shows them.
    let stderr = log.try_clone().map_err(io)?;
    // stdin from /dev/null: QEMU must not read (or put into raw mode) the
    // terminal of the person running the tests.
    cmd.stdin(Stdio::null()).stdout(log).stderr(stderr);
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", workspace::describe(&cmd)))?;
    let status =
        wait_with_deadline(child, timeout).map_err(|e| format!("waiting for QEMU: {e}"))?;
    Ok((status, log_path))
}

/// Waits for `child` until `timeout`; then kills it and returns `None`.
/// (std has no wait-with-timeout; polling `try_wait` keeps this dependency
/// free, and 20 ms is nothing next to a QEMU boot.)
fn wait_with_deadline(mut child: Child, timeout: Duration) -> std::io::Result<Option<ExitStatus>> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            // Already exited in between is fine; the wait reaps it either way.
            let _ = child.kill();
            child.wait()?;
            return Ok(None);
        }
        thread::sleep(POLL);
    }
}

/// Prints the PASS/FAIL line of one scenario (with the log's tail on
/// failure); `true` when it passed.
fn report(ws: &Workspace, verdict: &Verdict) -> bool {
    let id = verdict.scenario.id();
    if verdict.problems.is_empty() {
        println!("PASS {id}");
        return true;
    }
    println!("FAIL {id}: {}", verdict.problems.join("; "));
    if let Some(path) = &verdict.log_path {
        println!(
            "    --- last {TAIL_LINES} lines of {} ---",
            ws.display(path)
        );
        for line in &verdict.tail {
            println!("    {line}");
        }
    }
    false
}
