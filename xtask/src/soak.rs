//! `cargo xtask soak`: the scenarios of [`scenarios::soak`] on each board
//! for a set time, then one report adding up what every run did.
//!
//! Time, not a round count, bounds the soak: a round's length depends on
//! the machine (QEMU emulates 4 CPUs on however many host cores there
//! are), so the runner starts no new run after `minutes` and lets the
//! running ones finish. Rounds alternate between the boards, so both get
//! about the same share of the time.

use crate::log::{Log, Outcome};
use crate::runner;
use crate::scenarios::{self, Scenario};
use crate::workspace::Workspace;
use std::collections::BTreeMap;
use std::fs;
use std::time::{Duration, Instant, SystemTime};

/// What the soak runs and for how long.
pub struct Options {
    pub minutes: u64,
    pub boards: Vec<&'static str>,
    /// Calls per fuzz run.
    pub calls: u64,
}

/// Runs the soak; `true` when every run that started passed.
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
    println!(
        "soak: {} minutes on {}; fuzz runs of {} calls",
        opts.minutes,
        opts.boards.join(" and "),
        opts.calls
    );
    let started = SystemTime::now();
    let clock = Instant::now();
    let ok = runner::run(
        ws,
        &runner::Options {
            filter: None,
            jobs: 2,
            host: false,
            build: true,
            timeout: Duration::from_secs(900),
            only: Some(only.clone()),
            // From now: the (mostly cached) image builds count too.
            deadline: Some(clock + Duration::from_secs(opts.minutes.max(1) * 60)),
        },
    );
    let report = Report::collect(ws, &only, started);
    report.print();
    println!(
        "soak: finished in {:.1} min",
        clock.elapsed().as_secs_f64() / 60.0
    );
    ok && report.panics == 0
}

/// The totals of one board's runs.
#[derive(Default, Debug, PartialEq)]
struct BoardTotals {
    runs: u64,
    stress_rounds: u64,
    stress_increments: u64,
    fuzz_runs: u64,
    fuzz_calls: u64,
    /// Slowest and fastest fuzz run, calls per second.
    fuzz_rate: Option<(u64, u64)>,
    percpu_runs: u64,
    /// Largest kernel heap growth over one run, and the largest heap seen.
    heap_growth_max: u64,
    heap_max: u64,
}

/// The soak's final report, from the serial logs of the runs it started.
#[derive(Default, Debug)]
struct Report {
    boards: BTreeMap<&'static str, BoardTotals>,
    panics: u64,
}

impl Report {
    /// Reads the log of every scenario in `runs` written since `since`
    /// (the ones not started keep an older log, or none).
    fn collect(ws: &Workspace, runs: &[&'static Scenario], since: SystemTime) -> Report {
        let mut report = Report::default();
        for s in runs {
            let path = ws.test_logs().join(s.board).join(format!("{}.log", s.name));
            let fresh = fs::metadata(&path)
                .and_then(|m| m.modified())
                .is_ok_and(|t| t >= since);
            if !fresh {
                continue;
            }
            let text = fs::read(&path).unwrap_or_default();
            report.add(s, &Log::parse(&String::from_utf8_lossy(&text)));
        }
        report
    }

    /// Adds one run's figures.
    fn add(&mut self, s: &Scenario, log: &Log) {
        self.panics += log.panics.len() as u64;
        let t = self.boards.entry(s.board).or_default();
        t.runs += 1;
        for line in &log.lines {
            if let Some(rest) = line.strip_prefix("TEST stress ok ") {
                t.stress_rounds += field(rest, "rounds").unwrap_or(0);
                t.stress_increments += field(rest, "increments").unwrap_or(0);
            } else if let Some(rest) = line.strip_prefix("FUZZ-DONE ") {
                t.fuzz_runs += 1;
                t.fuzz_calls += field(rest, "calls").unwrap_or(0);
            } else if let Some(rate) = fuzz_rate(line) {
                t.fuzz_rate = Some(match t.fuzz_rate {
                    None => (rate, rate),
                    Some((lo, hi)) => (lo.min(rate), hi.max(rate)),
                });
            }
        }
        if s.app.starts_with("rseq-") && log.tests.iter().all(|t| t.outcome == Outcome::Ok) {
            t.percpu_runs += 1;
        }
        if let (Some(start), Some(end)) = log.heap() {
            t.heap_growth_max = t.heap_growth_max.max(end.saturating_sub(start));
            t.heap_max = t.heap_max.max(end);
        }
    }

    fn print(&self) {
        println!("soak report:");
        for (board, t) in &self.boards {
            let rate = match t.fuzz_rate {
                Some((lo, hi)) => format!(", {lo}-{hi} calls/s"),
                None => String::new(),
            };
            println!(
                "  {board}: {} runs; stress {} rounds, {} increments (every round exact); \
                 fuzz {} runs, {} calls{rate}; rseq per-CPU {} runs; \
                 kernel heap: largest growth over a run {} bytes, largest use {} bytes",
                t.runs,
                t.stress_rounds,
                t.stress_increments,
                t.fuzz_runs,
                t.fuzz_calls,
                t.percpu_runs,
                t.heap_growth_max,
                t.heap_max
            );
        }
        println!("  kernel panics: {}", self.panics);
    }
}

/// `key=N` in a line of space-separated fields.
fn field(text: &str, key: &str) -> Option<u64> {
    text.split_whitespace()
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
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
TEST stress ok rounds=827 increments=33080000 spins=3175373529
[exit] app=smp status=0
[shutdown] status=0 heap_used=86288
";
    const FUZZ: &str = "\
[heap] start heap_used=52272
FUZZ-DONE seed=1 calls=6000 ok=2559 errno=3441 signals=306 faults=459
fuzz: 6000 calls in 703 ms: 8534 calls/s; signals sent 160, caught 306
[exit] app=fuzz status=0
[shutdown] status=0 heap_used=352272
";

    fn scenario(app: &'static str) -> &'static Scenario {
        scenarios::soak("virt", 1, 6000)
            .into_iter()
            .find(|s| s.app == app)
            .expect(app)
    }

    #[test]
    fn report_adds_up_the_runs() {
        let mut r = Report::default();
        r.add(scenario("smp"), &Log::parse(STRESS));
        r.add(scenario("smp"), &Log::parse(STRESS));
        r.add(scenario("fuzz"), &Log::parse(FUZZ));
        let t = &r.boards["virt"];
        assert_eq!(t.runs, 3);
        assert_eq!((t.stress_rounds, t.stress_increments), (1654, 66_160_000));
        assert_eq!((t.fuzz_runs, t.fuzz_calls), (1, 6000));
        assert_eq!(t.fuzz_rate, Some((8534, 8534)));
        assert_eq!((t.heap_growth_max, t.heap_max), (300_000, 352_272));
        assert_eq!(r.panics, 0);
        r.add(scenario("fuzz"), &Log::parse("[panic] boom\n"));
        assert_eq!(r.panics, 1);
    }

    #[test]
    fn fields_and_rates_parse() {
        assert_eq!(field("rounds=3 increments=40", "increments"), Some(40));
        assert_eq!(field("rounds=3", "round"), None);
        assert_eq!(
            fuzz_rate("fuzz: 6000 calls in 703 ms: 8534 calls/s; x"),
            Some(8534)
        );
        assert_eq!(fuzz_rate("fuzz: seed=1 calls=6000"), None);
    }
}
