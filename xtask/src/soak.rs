//! `cargo xtask soak`: the scenarios of [`scenarios::soak`] on each board
//! for a set time, then one report adding up what every run did.
//!
//! Time, not a round count, bounds the soak: a round's length depends on
//! the machine (QEMU emulates 4 CPUs on however many host cores there
//! are), so the runner starts no new run once `minutes` have passed since
//! the images were built, and lets the running ones finish. Rounds
//! alternate between the boards, so both get about the same share of the
//! time.
//!
//! The report tells passed runs from failed ones: a failed stress run's
//! rounds count (those before the failing one were exact, the failing one
//! is shown as failed), and a failed run's heap growth is no verdict when
//! its threads were left alive (see `log::HeapGrowth`).

use crate::log::{HeapGrowth, Log};
use crate::progress::{self, StressSample, StressWatch, Tally, field};
use crate::runner::{self, Observer, Verdict};
use crate::scenarios::{self, Scenario};
use crate::workspace::Workspace;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What the soak runs and for how long.
pub struct Options {
    pub minutes: u64,
    pub boards: Vec<&'static str>,
    /// Calls per fuzz run.
    pub calls: u64,
}

/// Runs the soak; `true` when at least one run started and every run that
/// started passed, with no kernel panic.
pub fn run(ws: &Workspace, opts: &Options) -> bool {
    // More rounds than can fit: every round holds 60 s of stress alone.
    let rounds = opts.minutes.max(1) + 1;
    let per_board: Vec<Vec<&'static Scenario>> = opts
        .boards
        .iter()
        .map(|b| scenarios::soak(b, rounds, opts.calls))
        .collect();
    let per_round = scenarios::SOAK_RUNS_PER_ROUND;
    let mut only = Vec::new();
    for r in 0..rounds as usize {
        for runs in &per_board {
            only.extend_from_slice(&runs[r * per_round..(r + 1) * per_round]);
        }
    }
    let logs: Vec<PathBuf> = opts
        .boards
        .iter()
        .map(|b| absolute(&ws.test_logs().join(b)))
        .collect();
    let report_path = absolute(&ws.target.join("soak").join("report.txt"));
    println!(
        "soak: {} minutes on {}; fuzz runs of {} calls; a line per run as it ends",
        opts.minutes,
        opts.boards.join(" and "),
        opts.calls
    );
    let clock = Instant::now();
    let budget = Duration::from_secs(opts.minutes.max(1) * 60);
    let mut view = SoakView::new(budget);
    let (ok, verdicts) = runner::run_with_results(
        ws,
        &runner::Options {
            filter: None,
            jobs: 2,
            host: false,
            build: true,
            timeout: Duration::from_secs(900),
            only: Some(only),
            // Counted from when the images are built.
            deadline: Some(budget),
            more: None,
        },
        &mut view,
    );
    let text = view.report.render();
    print!("{text}");
    println!(
        "soak: finished in {:.1} min",
        clock.elapsed().as_secs_f64() / 60.0
    );
    let written = report_path
        .parent()
        .map_or(Ok(()), fs::create_dir_all)
        .and_then(|()| fs::write(&report_path, &text));
    match written {
        Ok(()) => println!("soak: report {}", report_path.display()),
        Err(e) => println!("soak: cannot write {}: {e}", report_path.display()),
    }
    for dir in &logs {
        println!("soak: serial logs {}/soak-<round>-<run>.log", dir.display());
    }
    ok && view.report.panics == 0 && !verdicts.is_empty()
}

/// The path as the user can paste it from anywhere.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The longest the soak goes without a line while runs go on (a fuzz run
/// can take minutes on a loaded host).
const HEARTBEAT: Duration = Duration::from_secs(30);

/// What the soak prints while it goes, and the report it adds up.
struct SoakView {
    report: Report,
    tally: Tally,
    /// How long runs are started for.
    budget: Duration,
    /// When the first run started: the budget counts from the end of the
    /// builds, as the runner's deadline does.
    first_start: Option<Duration>,
    /// The runs going on, with when each started.
    running: BTreeMap<String, Duration>,
    /// The stress runs' latest progress, for the heartbeat.
    watch: StressWatch,
    /// When the last line was printed.
    last_line: Duration,
}

impl SoakView {
    fn new(budget: Duration) -> SoakView {
        SoakView {
            report: Report::default(),
            tally: Tally::default(),
            budget,
            first_start: None,
            running: BTreeMap::new(),
            watch: StressWatch::default(),
            last_line: Duration::ZERO,
        }
    }

    /// `  2m10s/10m00s`: how much of the budget has gone at `at`.
    fn spent(&self, at: Duration) -> String {
        let elapsed = at.saturating_sub(self.first_start.unwrap_or(at));
        format!(
            "{:>6}/{}",
            progress::clock(elapsed),
            progress::clock(self.budget)
        )
    }

    fn started(&mut self, id: String, at: Duration) {
        if self.first_start.is_none() {
            // The builds printed their own lines; the heartbeat counts from
            // the first run.
            self.first_start = Some(at);
            self.last_line = at;
        }
        self.running.insert(id, at);
    }

    /// Keeps a stress run's latest figures from its serial line.
    fn line(&mut self, id: &str, line: &str) {
        if let Some(sample) = StressSample::parse(line) {
            self.watch.update(id, sample);
        }
    }

    /// After [`HEARTBEAT`] without a line: what is running, for how long,
    /// and how far each stress has got.
    fn tick(&mut self, at: Duration) -> Option<String> {
        if self.running.is_empty() || at.saturating_sub(self.last_line) < HEARTBEAT {
            return None;
        }
        self.last_line = at;
        let runs: Vec<String> = self
            .running
            .iter()
            .map(|(id, start)| {
                let figures = match self.watch.get(id) {
                    Some(s) => format!(", {}", s.figures()),
                    None => String::new(),
                };
                format!("{id} for {}{figures}", progress::clock(at - *start))
            })
            .collect();
        Some(format!(
            "[    {}] running: {} | {}",
            self.spent(at),
            runs.join("; "),
            self.tally
        ))
    }

    /// Adds a finished run to the report; its line: the `n`th run, how
    /// much of the budget has gone, its kind and figures, and the tally.
    /// `[  5  2m10s/10m] PASS virt/soak-1-stress (61.0s) stress: 827
    /// rounds, ... | 5 passed, 0 failed`.
    fn finished(&mut self, n: usize, at: Duration, v: &Verdict, log: Option<&Log>) -> String {
        self.report.add(v.scenario, &v.problems, log);
        self.tally.add(v.passed());
        self.running.remove(&v.scenario.id());
        self.last_line = at;
        let detail = match (v.passed(), log) {
            (false, _) => v.problems.join("; "),
            (true, Some(log)) => figures(v.scenario, log),
            (true, None) => String::new(),
        };
        format!(
            "[{n:>3} {}] {} {} ({}) {}: {detail} | {}",
            self.spent(at),
            if v.passed() { "PASS" } else { "FAIL" },
            v.scenario.id(),
            progress::took(v.took),
            kind(v.scenario),
            self.tally
        )
    }
}

impl Observer for SoakView {
    fn follows(&self) -> bool {
        true
    }

    fn started(&mut self, scenario: &'static Scenario, at: Duration) {
        SoakView::started(self, scenario.id(), at);
    }

    fn line(&mut self, scenario: &'static Scenario, line: &str, _at: Duration) {
        SoakView::line(self, &scenario.id(), line);
    }

    fn tick(&mut self, at: Duration) {
        if let Some(line) = SoakView::tick(self, at) {
            println!("{line}");
        }
    }

    fn finished(&mut self, n: usize, _total: usize, at: Duration, verdict: &Verdict) {
        let log = verdict
            .log_path
            .as_ref()
            .map(|p| Log::parse(&String::from_utf8_lossy(&fs::read(p).unwrap_or_default())));
        println!("{}", SoakView::finished(self, n, at, verdict, log.as_ref()));
    }
}

/// What a soak run exercises: `stress`, `fuzz`, or the rseq mode of the
/// per-CPU stress (`rseq-v1`, `rseq-v2`).
fn kind(s: &Scenario) -> &'static str {
    match s.app {
        "smp" => "stress",
        other => other,
    }
}

/// The key figures of one run from its log: rounds and increments of a
/// stress, calls, rate and races of a fuzz run; the kernel heap's growth.
fn figures(s: &Scenario, log: &Log) -> String {
    let mut parts = Vec::new();
    match s.app {
        "smp" => {
            let mut t = StressTotals::default();
            t.add(log);
            parts.push(format!(
                "{} rounds, {} increments, {} late",
                t.rounds, t.increments, t.late
            ));
        }
        "fuzz" => {
            let done = log.lines.iter().find_map(|l| l.strip_prefix("FUZZ-DONE "));
            let calls = done.and_then(|d| field(d, "calls")).unwrap_or(0);
            let races = done.and_then(|d| field(d, "races")).unwrap_or(0);
            let rate = match log.lines.iter().find_map(|l| fuzz_rate(l)) {
                Some(rate) => format!(" ({rate} calls/s)"),
                None => String::new(),
            };
            parts.push(format!("{calls} calls{rate}, {races} races"));
        }
        _ => {}
    }
    parts.push(match log.heap_growth() {
        Ok(HeapGrowth::Judged { start, end }) => {
            format!("heap +{} bytes", end.saturating_sub(start))
        }
        Ok(HeapGrowth::NotJudged(_)) | Err(_) => "heap not judged".to_string(),
    });
    parts.join(", ")
}

/// What the SMP stress runs added up to.
#[derive(Default, Debug, PartialEq)]
struct StressTotals {
    /// Rounds that passed: every sum exact, every spinner advanced.
    rounds: u64,
    /// Rounds that failed (at most one per run: the stress stops there).
    failed_rounds: u64,
    increments: u64,
    /// Progress rounds that ran long because a spinner was late.
    late: u64,
}

impl StressTotals {
    /// Adds one run's figures from its log: the `TEST stress` line carries
    /// the totals of the rounds that passed, also when it is a `FAIL`
    /// (older apps said only `round N:`, N rounds having passed); without
    /// one (the run was cut short) the last progress line counts.
    fn add(&mut self, log: &Log) {
        for line in &log.lines {
            if let Some(rest) = line.strip_prefix("TEST stress ok ") {
                self.rounds += field(rest, "rounds").unwrap_or(0);
                self.increments += field(rest, "increments").unwrap_or(0);
                self.late += field(rest, "late").unwrap_or(0);
                return;
            }
            if let Some(why) = line.strip_prefix("TEST stress FAIL ") {
                let failed_round = why
                    .strip_prefix("round ")
                    .and_then(|r| r.split(':').next())
                    .and_then(|n| n.parse::<u64>().ok());
                self.rounds += field(why, "rounds").or(failed_round).unwrap_or(0);
                self.increments += field(why, "increments").unwrap_or(0);
                self.late += field(why, "late").unwrap_or(0);
                self.failed_rounds += failed_round.is_some() as u64;
                return;
            }
        }
        // `smp: stress: 20 s, 254 rounds, 10160000 increments, ...`
        let progress = log
            .lines
            .iter()
            .rev()
            .filter(|l| l.starts_with("smp: stress: "))
            .find_map(|l| StressSample::parse(l));
        if let Some(p) = progress {
            self.rounds += p.rounds;
            self.increments += p.increments;
        }
    }
}

/// The totals of one board's runs.
#[derive(Default, Debug, PartialEq)]
struct BoardTotals {
    passed: u64,
    failed: u64,
    stress: StressTotals,
    fuzz_runs: u64,
    fuzz_calls: u64,
    /// munmap races the fuzzer tried (`races=` on `FUZZ-DONE`, 0 when absent).
    fuzz_races: u64,
    /// Slowest and fastest fuzz run, calls per second.
    fuzz_rate: Option<(u64, u64)>,
    /// rseq per-CPU runs that passed.
    percpu_runs: u64,
    /// Largest kernel heap growth over one run, and that run's name.
    heap_growth_max: Option<(u64, &'static str)>,
    /// The largest heap seen at a shutdown whose growth was judged.
    heap_max: u64,
    /// Runs whose heap growth was not judged (`log::HeapGrowth`).
    heap_not_judged: u64,
}

/// The soak's final report, from the verdicts and serial logs of the runs
/// it started.
#[derive(Default, Debug)]
struct Report {
    boards: BTreeMap<&'static str, BoardTotals>,
    panics: u64,
    /// `board/name: problems` of every failed run.
    failures: Vec<String>,
}

impl Report {
    /// Adds one run: its verdict's `problems` (none: passed) and its log
    /// (none when QEMU never started).
    fn add(&mut self, s: &'static Scenario, problems: &[String], log: Option<&Log>) {
        let t = self.boards.entry(s.board).or_default();
        let passed = problems.is_empty();
        if passed {
            t.passed += 1;
        } else {
            t.failed += 1;
            self.failures
                .push(format!("{}: {}", s.id(), problems.join("; ")));
        }
        if s.app.starts_with("rseq-") && passed {
            t.percpu_runs += 1;
        }
        let Some(log) = log else {
            return;
        };
        self.panics += log.panics.len() as u64;
        t.stress.add(log);
        for line in &log.lines {
            if let Some(rest) = line.strip_prefix("FUZZ-DONE ") {
                t.fuzz_runs += 1;
                t.fuzz_calls += field(rest, "calls").unwrap_or(0);
                t.fuzz_races += field(rest, "races").unwrap_or(0);
            } else if let Some(rate) = fuzz_rate(line) {
                t.fuzz_rate = Some(match t.fuzz_rate {
                    None => (rate, rate),
                    Some((lo, hi)) => (lo.min(rate), hi.max(rate)),
                });
            }
        }
        match log.heap_growth() {
            Ok(HeapGrowth::Judged { start, end }) => {
                let growth = end.saturating_sub(start);
                if t.heap_growth_max.is_none_or(|(max, _)| growth > max) {
                    t.heap_growth_max = Some((growth, s.name));
                }
                t.heap_max = t.heap_max.max(end);
            }
            Ok(HeapGrowth::NotJudged(_)) => t.heap_not_judged += 1,
            // A figure is missing: the run's own check says so.
            Err(_) => {}
        }
    }

    fn render(&self) -> String {
        let mut out = String::from("soak report:\n");
        let (mut passed, mut failed) = (0, 0);
        for (board, t) in &self.boards {
            passed += t.passed;
            failed += t.failed;
            let st = &t.stress;
            let rounds = if st.failed_rounds == 0 {
                format!("{} rounds, every one exact", st.rounds)
            } else {
                format!(
                    "{} rounds exact, {} round{} FAILED",
                    st.rounds,
                    st.failed_rounds,
                    plural(st.failed_rounds)
                )
            };
            let rate = match t.fuzz_rate {
                Some((lo, hi)) => format!(", {lo}-{hi} calls/s"),
                None => String::new(),
            };
            let growth = match t.heap_growth_max {
                Some((bytes, run)) => format!("largest growth over a run {bytes} bytes ({run})"),
                None => "no run judged".to_string(),
            };
            let not_judged = match t.heap_not_judged {
                0 => String::new(),
                n => format!("; growth not judged for {n} failed run{}", plural(n)),
            };
            out += &format!(
                "  {board}: {} runs, {} passed, {} failed\n\
                 \x20   stress: {rounds}; {} increments; {} progress round{} waited for a late spinner\n\
                 \x20   fuzz: {} runs, {} calls, {} races tried{rate}\n\
                 \x20   rseq per-CPU: {} runs passed\n\
                 \x20   kernel heap: {growth}, largest use {} bytes{not_judged}\n",
                t.passed + t.failed,
                t.passed,
                t.failed,
                st.increments,
                st.late,
                plural(st.late),
                t.fuzz_runs,
                t.fuzz_calls,
                t.fuzz_races,
                t.percpu_runs,
                t.heap_max,
            );
        }
        for f in &self.failures {
            out += &format!("  FAILED {f}\n");
        }
        out += &format!("  kernel panics: {}\n", self.panics);
        out += &format!(
            "  {} runs: {passed} passed, {failed} failed\n",
            passed + failed
        );
        out
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The rate in `fuzz: N calls in T ms: R calls/s; ...`.
fn fuzz_rate(line: &str) -> Option<u64> {
    let rest = line.strip_prefix("fuzz: ")?;
    let (_, after) = rest.split_once(" ms: ")?;
    after.split_once(" calls/s")?.0.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRESS: &str = "\
[heap] start heap_used=52272
TEST stress ok rounds=827 increments=33080000 spins=3175373529 late=2
[exit] app=smp status=0
[shutdown] status=0 threads_alive=0 heap_used=86288
";
    /// A stress run of an older app and kernel that failed with threads alive:
    /// no totals on the FAIL line, no threads_alive, and 8 workers' kernel
    /// stacks still on the heap.
    const STRESS_FAILED_OLD: &str = "\
[heap] start heap_used=52272
smp: stress: 20 s, 254 rounds, 10160000 increments, 605786668 spins
TEST stress FAIL round 278: spinner counts [16384, 0, 49152, 32768, 16384, 0, 49152, 32768]
[exit] app=smp status=1
[shutdown] status=1 ticks=6580 frames=219 heap_used=346416
";
    /// The same with the current app and kernel.
    const STRESS_FAILED: &str = "\
[heap] start heap_used=52272
smp: stress: ending with 9 threads alive, this one included
TEST stress FAIL round 5: spinner counts [1, 0] after 258 ms, every CPU having taken >= 18 ticks [19, 18, 19, 20]; rounds=5 increments=240000 spins=17 late=1
[exit] app=smp status=1
[shutdown] status=1 ticks=238 frames=221 threads_alive=8 heap_used=346160
";
    const FUZZ: &str = "\
[heap] start heap_used=52272
FUZZ-DONE seed=1 calls=6000 ok=2559 errno=3441 signals=306 faults=459
fuzz: 6000 calls in 703 ms: 8534 calls/s; signals sent 160, caught 306
fuzz: 0 anomalies, 0 failed workers
[exit] app=fuzz status=0
[shutdown] status=0 heap_used=92272
";

    fn scenario(app: &'static str) -> &'static Scenario {
        scenarios::soak("virt", 1, 6000)
            .into_iter()
            .find(|s| s.app == app)
            .expect(app)
    }

    fn add(r: &mut Report, app: &'static str, log: &str) {
        let s = scenario(app);
        let log = Log::parse(log);
        let problems = crate::check::evaluate(
            s,
            &log,
            log.shutdown
                .as_ref()
                .and_then(|l| l.get("status").and_then(|v| v.parse().ok())),
        );
        r.add(s, &problems, Some(&log));
    }

    #[test]
    fn report_adds_up_the_runs() {
        let mut r = Report::default();
        add(&mut r, "smp", STRESS);
        add(&mut r, "smp", STRESS);
        add(&mut r, "fuzz", FUZZ);
        let t = &r.boards["virt"];
        assert_eq!((t.passed, t.failed), (3, 0));
        assert_eq!(
            t.stress,
            StressTotals {
                rounds: 1654,
                failed_rounds: 0,
                increments: 66_160_000,
                late: 4
            }
        );
        assert_eq!((t.fuzz_runs, t.fuzz_calls, t.fuzz_races), (1, 6000, 0));
        assert_eq!(t.fuzz_rate, Some((8534, 8534)));
        assert_eq!(t.heap_growth_max, Some((40_000, "soak-0-fuzz")));
        assert_eq!(t.heap_max, 92_272);
        let text = r.render();
        assert!(text.contains("virt: 3 runs, 3 passed, 0 failed"), "{text}");
        assert!(
            text.contains("stress: 1654 rounds, every one exact"),
            "{text}"
        );
        assert!(text.contains("3 runs: 3 passed, 0 failed"), "{text}");
        assert!(!text.contains("FAILED"), "{text}");
        assert_eq!(r.panics, 0);
        r.add(
            scenario("fuzz"),
            &["unexpected [panic] boom".into()],
            Some(&Log::parse("[panic] boom\n")),
        );
        assert_eq!(r.panics, 1);
    }

    #[test]
    fn a_failed_stress_run_counts_its_rounds_and_shows_as_failed() {
        for (log, rounds, increments) in [(STRESS_FAILED_OLD, 278, 0), (STRESS_FAILED, 5, 240_000)]
        {
            let mut r = Report::default();
            add(&mut r, "smp", STRESS);
            add(&mut r, "smp", log);
            let t = &r.boards["virt"];
            assert_eq!((t.passed, t.failed), (1, 1));
            assert_eq!(t.stress.rounds, 827 + rounds);
            assert_eq!(t.stress.failed_rounds, 1);
            assert_eq!(t.stress.increments, 33_080_000 + increments);
            // Its heap (8 live kernel stacks) is neither a verdict nor the
            // largest growth.
            assert_eq!(t.heap_not_judged, 1);
            assert_eq!(t.heap_growth_max, Some((34_016, "soak-0-stress")));
            let text = r.render();
            assert!(
                text.contains(&format!(
                    "stress: {} rounds exact, 1 round FAILED",
                    827 + rounds
                )),
                "{text}"
            );
            assert!(!text.contains("every one exact"), "{text}");
            assert!(
                text.contains("growth not judged for 1 failed run"),
                "{text}"
            );
            assert!(text.contains("2 runs: 1 passed, 1 failed"), "{text}");
            let failure = r.failures.join("\n");
            assert!(failure.starts_with("virt/soak-0-stress: "), "{failure}");
            assert!(failure.contains("; TEST stress FAIL round "), "{failure}");
            assert!(
                failure.contains("kernel heap not judged: the app failed"),
                "{failure}"
            );
            assert!(!failure.contains("kernel heap grew"), "{failure}");
        }
    }

    #[test]
    fn a_stress_run_cut_short_counts_its_last_progress_line() {
        let mut t = StressTotals::default();
        t.add(&Log::parse(
            "smp: stress: 5 s, 64 rounds, 2560000 increments, 1 spins, 0 late\n\
             smp: stress: 10 s, 129 rounds, 5160000 increments, 2 spins, 0 late\n",
        ));
        assert_eq!(
            (t.rounds, t.increments, t.failed_rounds),
            (129, 5_160_000, 0)
        );
    }

    #[test]
    fn fuzz_races_are_summed_and_absent_means_none() {
        let mut r = Report::default();
        add(&mut r, "fuzz", FUZZ);
        let with_races = FUZZ.replace("faults=459", "faults=459 races=1234");
        add(&mut r, "fuzz", &with_races);
        add(
            &mut r,
            "fuzz",
            &FUZZ.replace("faults=459", "faults=459 races=66"),
        );
        let t = &r.boards["virt"];
        assert_eq!((t.fuzz_runs, t.fuzz_calls, t.fuzz_races), (3, 18_000, 1300));
        assert!(
            r.render()
                .contains("fuzz: 3 runs, 18000 calls, 1300 races tried")
        );
    }

    fn verdict(app: &'static str, problems: &[&str]) -> Verdict {
        Verdict {
            scenario: scenario(app),
            problems: problems.iter().map(|p| p.to_string()).collect(),
            tail: Vec::new(),
            log_path: None,
            took: Duration::from_millis(61_000),
        }
    }

    #[test]
    fn a_line_per_run_with_its_figures_and_the_tally() {
        let mut v = SoakView::new(Duration::from_secs(600));
        v.started(scenario("smp").id(), Duration::from_secs(50));
        let stress = Log::parse(STRESS);
        assert_eq!(
            v.finished(
                1,
                Duration::from_secs(111),
                &verdict("smp", &[]),
                Some(&stress)
            ),
            "[  1  1m01s/10m00s] PASS virt/soak-0-stress (1m01s) stress: \
             827 rounds, 33080000 increments, 2 late, heap +34016 bytes | 1 passed, 0 failed"
        );
        let fuzz = Log::parse(&FUZZ.replace("faults=459", "faults=459 races=12"));
        assert_eq!(
            v.finished(
                2,
                Duration::from_secs(180),
                &verdict("fuzz", &[]),
                Some(&fuzz)
            ),
            "[  2  2m10s/10m00s] PASS virt/soak-0-fuzz (1m01s) fuzz: \
             6000 calls (8534 calls/s), 12 races, heap +40000 bytes | 2 passed, 0 failed"
        );
        let line = v.finished(
            3,
            Duration::from_secs(200),
            &verdict("rseq-v1", &["TEST param-spinlock-delay FAIL sum"]),
            None,
        );
        assert_eq!(
            line,
            "[  3  2m30s/10m00s] FAIL virt/soak-0-percpu-v1 (1m01s) rseq-v1: \
             TEST param-spinlock-delay FAIL sum | 2 passed, 1 failed"
        );
        // Runs going on without a line for 30 s get one.
        let mut v2 = SoakView::new(Duration::from_secs(600));
        v2.started("virt/soak-0-stress".into(), Duration::from_secs(100));
        v2.started("virt/soak-0-fuzz".into(), Duration::from_secs(100));
        v2.line(
            "virt/soak-0-stress",
            "smp: stress: 20 s, 254 rounds, 10160000 increments, 1 spins, 0 late",
        );
        v2.line("virt/soak-0-fuzz", "fuzz: seed=1000 calls=200000 threads=4");
        assert_eq!(v2.tick(Duration::from_secs(129)), None);
        assert_eq!(
            v2.tick(Duration::from_secs(130)).as_deref(),
            Some(
                "[       30s/10m00s] running: virt/soak-0-fuzz for 30s; \
                 virt/soak-0-stress for 30s, 254 rounds, 10160000 increments, 0 late \
                 | 0 passed, 0 failed"
            )
        );
        assert_eq!(v2.tick(Duration::from_secs(159)), None, "30 s between");
        assert!(v2.tick(Duration::from_secs(160)).is_some());
        // The report adds up the same runs.
        let t = &v.report.boards["virt"];
        assert_eq!((t.passed, t.failed), (2, 1));
        assert_eq!(t.stress.rounds, 827);
        assert_eq!(t.fuzz_calls, 6000);
    }

    #[test]
    fn rates_parse() {
        assert_eq!(
            fuzz_rate("fuzz: 6000 calls in 703 ms: 8534 calls/s; x"),
            Some(8534)
        );
        assert_eq!(fuzz_rate("fuzz: seed=1 calls=6000"), None);
    }
}
