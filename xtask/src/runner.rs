//! `cargo xtask test`: host tests, then every selected QEMU scenario.
//!
//! Images are built once per (board, app), since a scenario differs from its
//! neighbours only in QEMU options and command line, one after another in
//! the order the scenarios need them; meanwhile up to `jobs` QEMUs run the
//! scenarios whose image is ready, each with a deadline. Once the images are
//! built, the same thread runs the checks that build or boot their own (the
//! SD card, the mode symbols, the benchmark checks, gdb) beside the
//! scenarios still running. The main thread alone prints results, so they
//! never interleave. Each result line says how far
//! along the run is (`[ 12/143  1m05s]`) and how long the scenario took; an
//! [`Observer`] other than the default prints its own lines (`stress` and
//! `soak`), and may follow the serial logs while QEMU runs.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Condvar, Mutex};
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
use crate::progress::{self, Tally};
use crate::qemu;
use crate::scenarios::{self, Initrd, Scenario};
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
    /// Scenarios beyond the table, found once the host tests have run
    /// (with `only` unset and `build` set): `cargo xtask test` passes
    /// Linux's rseq selftests' test set. An `Err` adds none; the caller
    /// reports it through a check of its own.
    pub more: Option<MoreScenarios>,
}

/// Finds scenarios beyond the table, those whose id contains the filter.
pub type MoreScenarios = fn(&Workspace, Option<&str>) -> Result<Vec<&'static Scenario>, String>;

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
    /// From picking the scenario to judging its log.
    pub took: Duration,
}

impl Verdict {
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }
}

/// What the runner reports while it goes. The main thread alone calls it,
/// so lines never interleave; `at` is the time since the run started.
pub trait Observer {
    /// Whether the serial lines of running scenarios are passed to
    /// [`Observer::line`] as QEMU prints them (otherwise a log is read only
    /// once its QEMU exited).
    fn follows(&self) -> bool {
        false
    }
    /// A worker booted `scenario`.
    fn started(&mut self, _scenario: &'static Scenario, _at: Duration) {}
    /// One complete serial line of a running scenario, when [`follows`].
    ///
    /// [`follows`]: Observer::follows
    fn line(&mut self, _scenario: &'static Scenario, _line: &str, _at: Duration) {}
    /// Called about once a second while scenarios run, for heartbeats.
    fn tick(&mut self, _at: Duration) {}
    /// Prints the result line of a finished scenario, the `n`th result of
    /// `total`; a failure's log tail follows it.
    fn finished(&mut self, n: usize, total: usize, at: Duration, verdict: &Verdict);
}

/// `test`'s result lines: `[ 12/143  1m05s] PASS virt/hello-v2 (3.2s)`, a
/// failure followed by its problems.
pub struct Plain;

impl Observer for Plain {
    fn finished(&mut self, n: usize, total: usize, at: Duration, verdict: &Verdict) {
        println!("{}", result_line(n, total, at, verdict, None));
    }
}

/// `[n/N elapsed] PASS|FAIL board/name (took)`, then `: problems` on a
/// failure or `: detail` when given.
pub fn result_line(
    n: usize,
    total: usize,
    at: Duration,
    verdict: &Verdict,
    detail: Option<&str>,
) -> String {
    let head = format!(
        "{} {} {} ({})",
        progress::counter(n, total, at),
        if verdict.passed() { "PASS" } else { "FAIL" },
        verdict.scenario.id(),
        progress::took(verdict.took)
    );
    match (verdict.passed(), detail) {
        (false, _) => format!("{head}: {}", verdict.problems.join("; ")),
        (true, Some(detail)) => format!("{head}: {detail}"),
        (true, None) => head,
    }
}

/// What a worker tells the main thread.
enum Event {
    Started(&'static Scenario),
    Line(&'static Scenario, String),
    Done(Verdict),
    /// A check that is not a scenario ended: its name, its summary or why
    /// it failed.
    Checked(&'static str, Result<String, String>),
}

/// Whether `filter` selects a scenario of the table or a check.
pub fn filter_matches(filter: &str) -> bool {
    [LINUX_CHECK, SELFTESTS_CHECK]
        .into_iter()
        .chain(LATE_CHECKS.iter().map(|check| check.name()))
        .any(|check| check.contains(filter))
        || !scenarios::select(Some(filter)).is_empty()
}

/// The SD card image check's name in PASS/FAIL lines.
const SDCARD_CHECK: &str = "rpi4/sdcard-image";
/// The check that each rseq mode's image holds only that mode's code.
const MODE_CHECK: &str = "virt/rseq-mode-symbols";
/// The check that the C programs of apps/linux build and are static
/// aarch64 ELF files of the expected type.
const LINUX_CHECK: &str = "host/linux-programs";
/// The check that Linux's rseq selftests (fetched by setup.sh) build as
/// static aarch64 programs against the project's harness.
const SELFTESTS_CHECK: &str = "host/rseq-selftests-build";
/// The check that two icount benchmark runs agree.
const DETERMINISM_CHECK: &str = "virt/bench-icount-identical";
/// The check that an unrelated boot option at its default value moves no
/// benchmark figure.
const INVARIANCE_CHECK: &str = "virt/bench-layout-invariant";
/// A check that is not a scenario: its summary, or why it failed.
type Check = fn(&Workspace) -> Result<String, String>;
/// How often the observer's heartbeat is called while scenarios run.
const TICK: Duration = Duration::from_secs(1);

/// Runs everything; `true` when nothing failed. Prints one PASS/FAIL line per
/// host test binary and per scenario or check, then `N passed, N failed`.
pub fn run(ws: &Workspace, opts: &Options) -> bool {
    run_with_results(ws, opts, &mut Plain).0
}

/// [`run`] reporting through `observer`, also returning how each scenario
/// that ran went, in the order they finished.
pub fn run_with_results(
    ws: &Workspace,
    opts: &Options,
    observer: &mut dyn Observer,
) -> (bool, Vec<Verdict>) {
    let clock = Instant::now();
    let mut results = Vec::new();
    let mut tally = Tally::default();

    if opts.host {
        let totals = host::run(ws);
        tally.passed += totals.passed;
        tally.failed += totals.failed;
    }

    let mut selected = match &opts.only {
        Some(list) => list.clone(),
        None => scenarios::select(opts.filter.as_deref()),
    };
    if opts.only.is_none()
        && opts.build
        && let Some(more) = opts.more
        && let Ok(list) = more(ws, opts.filter.as_deref())
    {
        selected.extend(list);
    }
    // The scenarios that take minutes first, so that they run beside the
    // builds and the short ones fill in around them.
    selected.sort_by_key(|s| std::cmp::Reverse(s.timeout));
    // The checks that are not a QEMU boot are numbered with the scenarios.
    let wanted =
        |name: &str| opts.only.is_none() && opts.filter.as_deref().is_none_or(|f| name.contains(f));
    let linux_wanted = wanted(LINUX_CHECK) && opts.build;
    let selftests_wanted = wanted(SELFTESTS_CHECK) && opts.build;
    // The SD card check builds its kernel, whatever `build` says.
    let late_checks: Vec<LateCheck> = LATE_CHECKS
        .into_iter()
        .filter(|&check| {
            wanted(check.name()) && (opts.build || !matches!(check, LateCheck::SdCard))
        })
        .collect();
    let total = selected.len()
        + late_checks.len()
        + [linux_wanted, selftests_wanted]
            .iter()
            .filter(|&&w| w)
            .count();
    let mut n = 0;
    // Prints a check's result line; whether it passed.
    let check_line = |n: &mut usize, name: &str, result: Result<String, String>| {
        *n += 1;
        let at = progress::counter(*n, total, clock.elapsed());
        match &result {
            Ok(summary) => println!("{at} PASS {name}: {summary}"),
            Err(e) => println!("{at} FAIL {name}: {e}"),
        }
        result.is_ok()
    };

    if linux_wanted {
        let result = crate::linux::check(ws);
        tally.add(check_line(&mut n, LINUX_CHECK, result));
    }

    if selftests_wanted {
        let result = crate::selftests::build::check(ws);
        tally.add(check_line(&mut n, SELFTESTS_CHECK, result));
    }

    if total == 0 {
        println!(
            "no scenario matches {:?}",
            opts.filter.as_deref().unwrap_or("")
        );
    }
    let planned = selected.len();
    let (tx, rx) = mpsc::channel();
    let wanted_images = image_order(&selected);
    let shelf = Shelf::new(selected.clone(), opts.jobs.max(1));
    // A run with a deadline measures its time from when every image is
    // ready, so it builds them all before the first boot.
    if opts.deadline.is_some() {
        build_images(ws, &wanted_images, &selected, &shelf, opts.build);
    }
    let deadline = opts.deadline.map(|d| Instant::now() + d);
    let follow = observer.follows();
    let mut done = 0;
    thread::scope(|scope| {
        {
            let (shelf, wanted_images, selected) = (&shelf, &wanted_images, &selected);
            let (tx, late_checks) = (tx.clone(), &late_checks);
            scope.spawn(move || {
                if opts.deadline.is_none() {
                    build_images(ws, wanted_images, selected, shelf, opts.build);
                }
                // The gdb checks build and boot only the debug profile's
                // image, so they run beside the others, which may build
                // release kernels: the last minutes of a run are not spent
                // on one core.
                let (gdb, rest): (Vec<LateCheck>, Vec<LateCheck>) = late_checks
                    .iter()
                    .partition(|c| matches!(c, LateCheck::Gdb(..)));
                thread::scope(|checks| {
                    let tx_gdb = tx.clone();
                    checks.spawn(move || run_late_checks(ws, &gdb, shelf, &tx_gdb));
                    run_late_checks(ws, &rest, shelf, &tx);
                });
            });
        }
        for _ in 0..opts.jobs.max(1) {
            let tx = tx.clone();
            let shelf = &shelf;
            scope.spawn(move || {
                let expired = || deadline.is_some_and(|d| Instant::now() >= d);
                while let Some((scenario, image)) = shelf.next(&expired) {
                    if tx.send(Event::Started(scenario)).is_err() {
                        return;
                    }
                    let on_line = |line: String| {
                        let _ = tx.send(Event::Line(scenario, line));
                    };
                    let on_line: Option<&dyn Fn(String)> = follow.then_some(&on_line);
                    let timeout = scenario
                        .timeout
                        .map_or(opts.timeout, |t| t.max(opts.timeout));
                    let verdict = run_scenario(ws, scenario, &image, timeout, on_line);
                    shelf.done(scenario);
                    if tx.send(Event::Done(verdict)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        loop {
            let event = match rx.recv_timeout(TICK) {
                Ok(event) => event,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    observer.tick(clock.elapsed());
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            };
            match event {
                Event::Started(s) => observer.started(s, clock.elapsed()),
                Event::Line(s, line) => observer.line(s, &line, clock.elapsed()),
                Event::Done(verdict) => {
                    done += 1;
                    n += 1;
                    observer.finished(n, total, clock.elapsed(), &verdict);
                    print_tail(ws, &verdict);
                    tally.add(verdict.passed());
                    results.push(verdict);
                }
                Event::Checked(name, result) => tally.add(check_line(&mut n, name, result)),
            }
        }
        if done < planned {
            println!(
                "{} scenarios not started (deadline reached)",
                planned - done
            );
        }
    });

    println!("{tally}");
    (tally.failed == 0, results)
}

/// A check that is not a scenario and builds or boots images of its own.
/// Cargo builds one thing at a time, and every release image is copied out
/// of the one kernel binary cargo leaves, so the checks that build release
/// images run after the scenarios' images are built, one after another,
/// on the thread that built them, while the scenarios still queued keep
/// the QEMU workers busy. The gdb checks, which build only the debug
/// profile, run on a thread of their own beside them.
#[derive(Clone, Copy)]
enum LateCheck {
    SdCard,
    ModeSymbols,
    Determinism,
    Invariance,
    Gdb(&'static str, Check),
}

impl LateCheck {
    fn name(self) -> &'static str {
        match self {
            LateCheck::SdCard => SDCARD_CHECK,
            LateCheck::ModeSymbols => MODE_CHECK,
            LateCheck::Determinism => DETERMINISM_CHECK,
            LateCheck::Invariance => INVARIANCE_CHECK,
            LateCheck::Gdb(name, _) => name,
        }
    }

    /// Runs the check; `shelf` holds the images the scenarios' builds made.
    fn run(self, ws: &Workspace, shelf: &Shelf) -> Result<String, String> {
        let virt = boards::find("virt").expect("virt board");
        // A virt image the scenarios' builds made, else built now: a
        // rebuild would cost a kernel compile, as cargo keeps one kernel
        // binary, that of the last image built.
        let image = |name: &str| -> Result<Image, String> {
            let built = shelf.lock().images.get(&("virt", name)).cloned();
            match (built, name.strip_prefix("loader-")) {
                (Some(Ok(image)), _) => Ok(image),
                (_, Some(mode)) => build::build_loader(ws, virt, mode, build::Profile::Release),
                (_, None) => build::build(ws, virt, name),
            }
        };
        match self {
            // Built from the real firmware and kernel, reopened and checked
            // file by file.
            LateCheck::SdCard => crate::sdcard::self_test(ws),
            // The images of the v1 and v2 rseq test apps must each hold only
            // their mode's kernel code, the linux one both (proved from the
            // built images; those no scenario selected are built now).
            LateCheck::ModeSymbols => modecheck::APPS
                .iter()
                .try_for_each(|(app, _)| image(app).map(|_| ()))
                .and_then(|()| modecheck::check(ws, virt)),
            LateCheck::Determinism => crate::bench::determinism_check(ws, virt, &image),
            LateCheck::Invariance => crate::bench::invariance_check(ws, virt, &image),
            // The debugging workflow: gdb's backtrace from a syscall
            // handler, and QEMU dying with the xtask that started it.
            LateCheck::Gdb(_, check) => check(ws),
        }
    }
}

/// Every [`LateCheck`], in the order they run.
const LATE_CHECKS: [LateCheck; 6] = [
    LateCheck::SdCard,
    LateCheck::ModeSymbols,
    LateCheck::Determinism,
    LateCheck::Invariance,
    LateCheck::Gdb(gdbcheck::BACKTRACE, gdbcheck::backtrace),
    LateCheck::Gdb(gdbcheck::DIES_WITH_XTASK, gdbcheck::dies_with_xtask),
];

/// Runs `checks` one after another, sending each result to the main thread.
fn run_late_checks(ws: &Workspace, checks: &[LateCheck], shelf: &Shelf, tx: &mpsc::Sender<Event>) {
    for check in checks {
        let result = check.run(ws, shelf);
        if tx.send(Event::Checked(check.name(), result)).is_err() {
            return;
        }
    }
}

/// The (board, image) a scenario boots.
type ImageKey = (&'static str, &'static str);

/// The images `selected` needs, each once, in the order of the first
/// scenario that needs it: the scenarios at the front of the list get
/// their image first.
fn image_order(selected: &[&'static Scenario]) -> Vec<&'static Scenario> {
    let mut seen = Vec::new();
    let mut order = Vec::new();
    for s in selected {
        let key = (s.board, s.image());
        if !seen.contains(&key) {
            seen.push(key);
            order.push(*s);
        }
    }
    order
}

/// The scenarios still to run and the images built so far. Workers take
/// the first scenario whose image is ready, so QEMUs boot on the cores the
/// builds leave free (a kernel build with LTO and one codegen unit keeps
/// one core busy) instead of waiting for every build.
///
/// One worker at least is kept for the short scenarios: a long one (a
/// [`Scenario::timeout`] of its own, minutes) is handed out only while
/// fewer than `workers - 1` run, or when nothing else is left. Two long
/// boots at once would hold both workers of a 2-core run for minutes
/// while hundreds of short ones wait.
struct Shelf {
    state: Mutex<ShelfState>,
    /// Signalled when an image is added, a long scenario ends or the
    /// builds are over.
    changed: Condvar,
    /// How many workers take scenarios.
    workers: usize,
}

struct ShelfState {
    queue: Vec<&'static Scenario>,
    images: BTreeMap<ImageKey, Result<Image, String>>,
    /// No more images will come (set even if the builder panicked, so no
    /// worker waits for ever).
    closed: bool,
    /// Long scenarios handed out and not yet [`Shelf::done`].
    long_running: usize,
}

impl Shelf {
    fn new(queue: Vec<&'static Scenario>, workers: usize) -> Self {
        Shelf {
            state: Mutex::new(ShelfState {
                queue,
                images: BTreeMap::new(),
                closed: false,
                long_running: 0,
            }),
            changed: Condvar::new(),
            workers,
        }
    }

    /// A worker finished `scenario`.
    fn done(&self, scenario: &Scenario) {
        if scenario.timeout.is_some() {
            self.lock().long_running -= 1;
            self.changed.notify_all();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ShelfState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn put(&self, key: ImageKey, image: Result<Image, String>) {
        self.lock().images.insert(key, image);
        self.changed.notify_all();
    }

    /// The next scenario whose image is ready (a failed build counts as
    /// ready: its scenarios fail), waiting for the builds if none is;
    /// `None` once the queue is empty or `expired()`.
    fn next(
        &self,
        expired: &dyn Fn() -> bool,
    ) -> Option<(&'static Scenario, Result<Image, String>)> {
        let mut state = self.lock();
        loop {
            if expired() || state.queue.is_empty() {
                return None;
            }
            let long_allowed = self.workers < 2
                || state.long_running + 1 < self.workers
                || state.queue.iter().all(|s| s.timeout.is_some());
            let ready = state.queue.iter().position(|s| {
                state.images.contains_key(&(s.board, s.image()))
                    && (long_allowed || s.timeout.is_none())
            });
            if let Some(i) = ready {
                let scenario = state.queue.remove(i);
                let image = state.images[&(scenario.board, scenario.image())].clone();
                if scenario.timeout.is_some() {
                    state.long_running += 1;
                }
                return Some((scenario, image));
            }
            let unbuilt = state
                .queue
                .iter()
                .position(|s| !state.images.contains_key(&(s.board, s.image())));
            if state.closed
                && let Some(i) = unbuilt
            {
                let scenario = state.queue.remove(i);
                return Some((scenario, Err("its image was never built".to_string())));
            }
            state = self
                .changed
                .wait_timeout(state, TICK)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

/// Builds (or, with `build == false`, locates) the image of each scenario
/// in `order` and puts it on the shelf. A failed build becomes an `Err`
/// that fails its scenarios.
fn build_images(
    ws: &Workspace,
    order: &[&'static Scenario],
    selected: &[&'static Scenario],
    shelf: &Shelf,
    build: bool,
) {
    /// Closes the shelf however the builds end.
    struct Close<'a>(&'a Shelf);
    impl Drop for Close<'_> {
        fn drop(&mut self) {
            self.0.lock().closed = true;
            self.0.changed.notify_all();
        }
    }
    let _close = Close(shelf);
    for (k, s) in order.iter().enumerate() {
        let image = image(ws, s, selected, build, (k + 1, order.len()));
        shelf.put((s.board, s.image()), image);
    }
}

/// Builds or locates the image `s` boots; `selected` says which programs
/// its loader kernel's scenarios pass as their initrd.
fn image(
    ws: &Workspace,
    s: &'static Scenario,
    selected: &[&'static Scenario],
    build: bool,
    (k, count): (usize, usize),
) -> Result<Image, String> {
    let board = boards::find(s.board)?;
    // What QEMU needs for this board, fetched before any of its scenarios
    // can start.
    firmware::qemu_dtb(ws, board)?;
    if !build {
        let image = build::image_paths(ws, board, s.image(), build::Profile::Release);
        return if image.img.is_file() {
            Ok(image)
        } else {
            Err(format!("{} missing (--no-build)", ws.display(&image.img)))
        };
    }
    println!("build: [{k}/{count}] {}-{}", s.board, s.image());
    match s.program {
        None => build::build(ws, board, s.app),
        Some(program) => {
            // The programs the scenarios booting this loader pass (each
            // kernel is built once, so this is the one place to build
            // them all).
            let mut initrds = Vec::new();
            for t in selected {
                if (t.board, t.image()) == (s.board, s.image())
                    && let Some(p) = t.program
                    && !initrds.contains(&p.initrd)
                {
                    initrds.push(p.initrd);
                }
            }
            for initrd in initrds {
                match initrd {
                    Initrd::App(app) => {
                        build::build_app(ws, app, build::Profile::Release)?;
                    }
                    Initrd::Linux(name) => {
                        crate::linux::build_one(ws, name)?;
                    }
                    Initrd::Selftest(_) => {
                        crate::selftests::build::build(ws)?;
                    }
                    Initrd::Garbage | Initrd::Absent => {}
                }
            }
            build::build_loader(ws, board, program.mode, build::Profile::Release)
        }
    }
    .map_err(|e| format!("image build failed: {e}"))
}

/// Where the serial log of `scenario` goes:
/// `target/test-logs/<board>/<name>.log`.
pub fn log_path(ws: &Workspace, scenario: &Scenario) -> PathBuf {
    ws.test_logs()
        .join(scenario.board)
        .join(format!("{}.log", scenario.name))
}

/// Boots one scenario and judges its log; `on_line` (when given) gets each
/// serial line as QEMU prints it.
fn run_scenario(
    ws: &Workspace,
    scenario: &'static Scenario,
    image: &Result<Image, String>,
    timeout: Duration,
    on_line: Option<&dyn Fn(String)>,
) -> Verdict {
    let start = Instant::now();
    let mut verdict = Verdict {
        scenario,
        problems: Vec::new(),
        tail: Vec::new(),
        log_path: None,
        took: Duration::ZERO,
    };
    let (status, log_path) = match image
        .clone()
        .and_then(|image| boot(ws, scenario, &image, timeout, on_line))
    {
        Ok(done) => done,
        Err(problem) => {
            verdict.problems.push(problem);
            verdict.took = start.elapsed();
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
    verdict.took = start.elapsed();
    verdict
}

/// Runs QEMU with its console going to the scenario's log file. Returns the
/// exit status (`None` on timeout, QEMU then killed) and the log's path.
/// `on_line` gets each complete line of the log while QEMU runs.
fn boot(
    ws: &Workspace,
    scenario: &Scenario,
    image: &Image,
    timeout: Duration,
    on_line: Option<&dyn Fn(String)>,
) -> Result<(Option<ExitStatus>, PathBuf), String> {
    let board = boards::find(scenario.board)?;
    let configurable = board.knobs.is_some();
    let log_path = log_path(ws, scenario);
    let io = |e: std::io::Error| format!("{}: {e}", log_path.display());
    if let Some(dir) = log_path.parent() {
        fs::create_dir_all(dir).map_err(io)?;
    }
    let (initrd, append) = match scenario.program {
        None => (None, scenario.append.to_string()),
        Some(program) => {
            let initrd = program_initrd(ws, scenario, program.initrd)?;
            let append = build::program_cmdline(initrd.as_deref(), program.env, scenario.append)?;
            (initrd, append)
        }
    };
    let opts = qemu::Options {
        el2: scenario.el2,
        gic: configurable.then_some(scenario.gic),
        cpu: configurable.then(|| scenario.cpu.to_string()),
        append,
        gdb: None,
        dtb: firmware::qemu_dtb(ws, board)?,
        initrd,
        round_robin: scenario.round_robin,
        icount: scenario.icount,
    };
    let mut cmd = qemu::command(board, &image.img, &opts)?;
    let log = File::create(&log_path).map_err(io)?;
    // QEMU's own complaints (bad option, missing image) go to the same file,
    // so the tail of a failed run shows them.
    let stderr = log.try_clone().map_err(io)?;
    // stdin from /dev/null: QEMU must not read (or put into raw mode) the
    // terminal of the person running the tests.
    cmd.stdin(Stdio::null()).stdout(log).stderr(stderr);
    let mut follower = match on_line {
        Some(on_line) => Some((Follower::open(&log_path).map_err(io)?, on_line)),
        None => None,
    };
    let mut poll = || {
        if let Some((follower, on_line)) = &mut follower {
            follower.poll().into_iter().for_each(on_line);
        }
    };
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", workspace::describe(&cmd)))?;
    let status = wait_with_deadline(child, timeout, &mut poll)
        .map_err(|e| format!("waiting for QEMU: {e}"))?;
    // What QEMU printed between the last poll and its exit.
    poll();
    Ok((status, log_path))
}

/// The file a program scenario passes as `-initrd`: an app's ELF (built
/// if needed), or a file that is not an ELF next to the scenario's log.
fn program_initrd(
    ws: &Workspace,
    scenario: &Scenario,
    initrd: Initrd,
) -> Result<Option<PathBuf>, String> {
    match initrd {
        Initrd::Absent => Ok(None),
        Initrd::App(app) => {
            let path = ws
                .target
                .join(build::APP_TARGET)
                .join(build::Profile::Release.cargo_name())
                .join(app);
            if path.is_file() {
                Ok(Some(path))
            } else {
                Err(format!(
                    "{} missing: build it with `cargo xtask build app={app}`",
                    ws.display(&path)
                ))
            }
        }
        Initrd::Linux(name) => {
            let path = crate::linux::out_dir(ws).join(name);
            if path.is_file() {
                Ok(Some(path))
            } else {
                Err(format!(
                    "{} missing: build it with `cargo xtask build`",
                    ws.display(&path)
                ))
            }
        }
        Initrd::Selftest(name) => {
            let path = crate::selftests::build::bin_path(ws, name);
            if path.is_file() {
                Ok(Some(path))
            } else {
                Err(format!(
                    "{} missing: build it with `cargo xtask selftests`",
                    ws.display(&path)
                ))
            }
        }
        Initrd::Garbage => {
            let path = log_path(ws, scenario).with_extension("initrd");
            // Longer than an ELF header, so the magic is what is refused.
            let script = "#!/bin/sh\necho this is a shell script, not an ELF program\n";
            fs::write(&path, script.repeat(64)).map_err(|e| format!("{}: {e}", path.display()))?;
            Ok(Some(path))
        }
    }
}

/// Waits for `child` until `timeout`; then kills it and returns `None`.
/// `poll` runs at every look. (std has no wait-with-timeout; polling
/// `try_wait` keeps this dependency free, and 20 ms is nothing next to a
/// QEMU boot.)
fn wait_with_deadline(
    mut child: Child,
    timeout: Duration,
    poll: &mut dyn FnMut(),
) -> std::io::Result<Option<ExitStatus>> {
    let deadline = Instant::now() + timeout;
    loop {
        poll();
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

/// Reads the lines a running QEMU appends to its log, as they complete.
struct Follower {
    file: File,
    /// The start of a line whose end QEMU has not written yet.
    partial: Vec<u8>,
}

impl Follower {
    fn open(path: &std::path::Path) -> std::io::Result<Follower> {
        Ok(Follower {
            file: File::open(path)?,
            partial: Vec::new(),
        })
    }

    /// The lines completed since the last call.
    fn poll(&mut self) -> Vec<String> {
        let mut new = Vec::new();
        // A read error is no verdict: the log is judged once QEMU exits.
        let _ = self.file.read_to_end(&mut new);
        complete_lines(&mut self.partial, &new)
    }
}

/// Appends `new` to `partial` and takes the complete lines out of it, without
/// their line ends (`\r\n` or `\n`); what follows the last `\n` stays.
fn complete_lines(partial: &mut Vec<u8>, new: &[u8]) -> Vec<String> {
    partial.extend_from_slice(new);
    let Some(last) = partial.iter().rposition(|&b| b == b'\n') else {
        return Vec::new();
    };
    let rest = partial.split_off(last + 1);
    let done = std::mem::replace(partial, rest);
    done[..last]
        .split(|&b| b == b'\n')
        .map(|line| String::from_utf8_lossy(line.strip_suffix(b"\r").unwrap_or(line)).into_owned())
        .collect()
}

/// Prints the problems' log tail of a failed scenario.
fn print_tail(ws: &Workspace, verdict: &Verdict) {
    if verdict.passed() {
        return;
    }
    if let Some(path) = &verdict.log_path {
        println!(
            "    --- last {TAIL_LINES} lines of {} ---",
            ws.display(path)
        );
        for line in &verdict.tail {
            println!("    {line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn image(name: &str) -> Image {
        Image {
            elf: PathBuf::from(format!("{name}.elf")),
            img: PathBuf::from(format!("{name}.img")),
        }
    }

    #[test]
    fn the_shelf_hands_out_ready_scenarios_first_and_fails_unbuilt_ones() {
        let hello = scenarios::select(Some("virt/hello-el1-gicv2"))[0];
        let smp = scenarios::select(Some("virt/smp-progress"))[0];
        assert_ne!(hello.image(), smp.image());
        let queue = vec![hello, smp];
        assert_eq!(image_order(&queue).len(), 2);
        let shelf = Shelf::new(queue, 2);
        let never = || false;
        shelf.put((smp.board, smp.image()), Ok(image("smp")));
        let (first, built) = shelf.next(&never).unwrap();
        assert_eq!(first.name, smp.name);
        assert_eq!(built.unwrap().img, PathBuf::from("smp.img"));
        // The builder ends without hello's image: its scenario still comes
        // out, failed, rather than keeping a worker waiting.
        shelf.lock().closed = true;
        let (second, missing) = shelf.next(&never).unwrap();
        assert_eq!(second.name, hello.name);
        assert!(missing.is_err());
        assert!(shelf.next(&never).is_none());
        assert!(Shelf::new(vec![hello], 2).next(&|| true).is_none());
    }

    #[test]
    fn one_worker_is_kept_for_the_short_scenarios() {
        let hello = scenarios::select(Some("virt/hello-el1-gicv2"))[0];
        let long = |name: &'static str, app: &'static str| -> &'static Scenario {
            Box::leak(Box::new(Scenario {
                name,
                app,
                timeout: Some(Duration::from_secs(600)),
                ..*hello
            }))
        };
        let (a, b) = (long("long-a", "smp"), long("long-b", "selftest"));
        let never = || false;
        let shelf = Shelf::new(vec![a, b, hello], 2);
        for s in [a, b, hello] {
            shelf.put((s.board, s.image()), Ok(image(s.image())));
        }
        // The first long one, then the short one although the second
        // long one is ready and before it in the queue.
        assert_eq!(shelf.next(&never).unwrap().0.id(), a.id());
        assert_eq!(shelf.next(&never).unwrap().0.id(), hello.id());
        // Only long ones left: the second starts beside the first.
        assert_eq!(shelf.next(&never).unwrap().0.id(), b.id());
        shelf.done(a);
        shelf.done(b);
        assert_eq!(shelf.lock().long_running, 0);
        // One worker takes the queue in order.
        let alone = Shelf::new(vec![a, b, hello], 1);
        for s in [a, b, hello] {
            alone.put((s.board, s.image()), Ok(image(s.image())));
        }
        assert_eq!(alone.next(&never).unwrap().0.id(), a.id());
        assert_eq!(alone.next(&never).unwrap().0.id(), b.id());
    }

    fn verdict(problems: &[&str]) -> Verdict {
        Verdict {
            scenario: scenarios::select(Some("virt/hello-el1-gicv2"))[0],
            problems: problems.iter().map(|p| p.to_string()).collect(),
            tail: Vec::new(),
            log_path: None,
            took: Duration::from_millis(3240),
        }
    }

    #[test]
    fn result_lines_count_and_time() {
        let at = Duration::from_secs(65);
        assert_eq!(
            result_line(12, 143, at, &verdict(&[]), None),
            "[ 12/143  1m05s] PASS virt/hello-el1-gicv2 (3.2s)"
        );
        assert_eq!(
            result_line(12, 143, at, &verdict(&[]), Some("254 rounds")),
            "[ 12/143  1m05s] PASS virt/hello-el1-gicv2 (3.2s): 254 rounds"
        );
        // A failure shows its problems, never the detail.
        assert_eq!(
            result_line(1, 2, at, &verdict(&["no banner", "status 1"]), Some("x")),
            "[1/2  1m05s] FAIL virt/hello-el1-gicv2 (3.2s): no banner; status 1"
        );
    }

    #[test]
    fn complete_lines_keep_the_unfinished_one() {
        let mut partial = Vec::new();
        assert!(complete_lines(&mut partial, b"[boot] el=1").is_empty());
        assert_eq!(
            complete_lines(&mut partial, b" cpus=4\r\nsmp: a\n\nsmp: b"),
            ["[boot] el=1 cpus=4", "smp: a", ""]
        );
        assert_eq!(partial, b"smp: b");
        assert_eq!(complete_lines(&mut partial, b"\n"), ["smp: b"]);
        assert!(partial.is_empty());
        assert!(complete_lines(&mut partial, b"").is_empty());
    }

    #[test]
    fn the_follower_reads_what_is_appended() {
        let path = std::env::temp_dir().join(format!("xtask-follow-{}.log", std::process::id()));
        let mut writer = File::create(&path).unwrap();
        let mut follower = Follower::open(&path).unwrap();
        assert!(follower.poll().is_empty());
        writer.write_all(b"one\ntw").unwrap();
        assert_eq!(follower.poll(), ["one"]);
        writer.write_all(b"o\nthree\n").unwrap();
        assert_eq!(follower.poll(), ["two", "three"]);
        assert!(follower.poll().is_empty());
        fs::remove_file(&path).unwrap();
    }

    #[test]
    fn filters_of_the_checks_match() {
        assert!(filter_matches("rseq-mode-symbols"));
        assert!(filter_matches("bench-icount-identical"));
        assert!(filter_matches("bench-layout-invariant"));
        assert!(filter_matches("sdcard"));
        assert!(filter_matches("rseq-selftests-build"));
        assert!(filter_matches("hello"));
        assert!(!filter_matches("no-such-scenario"));
    }
}
