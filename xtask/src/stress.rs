//! `cargo xtask stress`: the long SMP stress ([`scenarios::stress`]) on each
//! board, with its progress shown while it runs.
//!
//! One stress run is one QEMU boot whose rounds (a futex-sum round and a
//! 50 ms progress round, hundreds a minute) the host never sees one by one;
//! what it sees is the app's progress line every 5 s of counter time. Those
//! are followed in the serial log as QEMU writes them and printed with the
//! running totals; when a run says nothing for [`HEARTBEAT`] (booting, or a
//! host too loaded to reach the next line) a heartbeat with its latest
//! figures stands in. At the end come each run's figures and the full path
//! of its serial log.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::progress::{self, StressSample, StressWatch};
use crate::runner::{self, Observer, Verdict};
use crate::scenarios::{self, Scenario};
use crate::workspace::Workspace;

/// The longest a running stress goes without a line on the terminal.
const HEARTBEAT: Duration = Duration::from_secs(10);

/// Runs the stress for `seconds` on each of `boards`, two at a time; `true`
/// when every run passed.
pub fn run(ws: &Workspace, seconds: u64, boards: &[&'static str]) -> bool {
    let only: Vec<&'static Scenario> = boards
        .iter()
        .map(|b| scenarios::stress(b, seconds))
        .collect();
    println!(
        "stress: {seconds} s of SMP stress on {}, 4 CPUs each; progress every 5 s of the run",
        boards.join(" and ")
    );
    let opts = runner::Options {
        filter: None,
        jobs: 2,
        host: false,
        build: true,
        // Rounds are bounded by counter time; allow the last one to
        // finish slowly under emulation.
        timeout: Duration::from_secs(seconds * 2 + 120),
        only: Some(only.clone()),
        deadline: None,
        more: None,
    };
    let mut view = StressView::default();
    for s in &only {
        view.logs.insert(s.id(), absolute(&runner::log_path(ws, s)));
    }
    let (ok, verdicts) = runner::run_with_results(ws, &opts, &mut view);
    for line in view.summary(&verdicts) {
        println!("{line}");
    }
    ok
}

/// The path as the user can paste it from anywhere.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// What `stress` prints, as text so that it is tested without QEMU.
#[derive(Debug, Default)]
struct StressView {
    watch: StressWatch,
    /// Full serial log path of each run, by `board/name`.
    logs: BTreeMap<String, PathBuf>,
    /// Running runs, and when each last had a line printed.
    running: BTreeMap<String, (Duration, Duration)>,
}

impl StressView {
    fn started(&mut self, id: &str, at: Duration) -> String {
        self.running.insert(id.to_string(), (at, at));
        let log = match self.logs.get(id) {
            Some(path) => format!("; serial log {}", path.display()),
            None => String::new(),
        };
        format!("{} {id}: booting{log}", progress::stamp(at))
    }

    /// The line to print for serial line `line` of run `id`, if any: its
    /// progress with the running totals, a late round, a failure or a panic.
    fn line(&mut self, id: &str, line: &str, at: Duration) -> Option<String> {
        let out = match StressSample::parse(line) {
            Some(sample) => {
                self.watch.update(id, sample);
                // The closing lines repeat the figures of the summary.
                sample.seconds.map(|_| self.watch.line(id, at))
            }
            None if line.starts_with("smp: stress: round ")
                || line.starts_with("TEST stress FAIL")
                || line.starts_with("[panic]") =>
            {
                Some(format!("{} {id}: {line}", progress::stamp(at)))
            }
            None => None,
        };
        if out.is_some()
            && let Some((_, last)) = self.running.get_mut(id)
        {
            *last = at;
        }
        out
    }

    /// Heartbeats for the runs that printed nothing for [`HEARTBEAT`].
    fn tick(&mut self, at: Duration) -> Vec<String> {
        let mut out = Vec::new();
        for (id, (start, last)) in &mut self.running {
            if at.saturating_sub(*last) < HEARTBEAT {
                continue;
            }
            *last = at;
            let latest = match self.watch.get(id) {
                Some(s) => format!("latest {}", s.figures()),
                None => "no progress line yet".to_string(),
            };
            out.push(format!(
                "{} {id}: running for {}, {latest}",
                progress::stamp(at),
                progress::clock(at.saturating_sub(*start))
            ));
        }
        out
    }

    fn finished(&mut self, n: usize, total: usize, at: Duration, verdict: &Verdict) -> String {
        let id = verdict.scenario.id();
        self.running.remove(&id);
        let figures = self.watch.get(&id).map(StressSample::figures);
        runner::result_line(n, total, at, verdict, figures.as_deref())
    }

    /// Each run's figures and log, then the totals over the runs.
    fn summary(&self, verdicts: &[Verdict]) -> Vec<String> {
        let mut out = vec!["stress report:".to_string()];
        for v in verdicts {
            let id = v.scenario.id();
            let figures = match self.watch.get(&id) {
                Some(s) => format!(
                    "{} rounds, {} increments, {} spins, {} late",
                    s.rounds, s.increments, s.spins, s.late
                ),
                None => "no figures".to_string(),
            };
            let verdict = if v.passed() {
                "every sum exact"
            } else {
                "FAILED"
            };
            out.push(format!("  {id}: {verdict}; {figures}"));
            let log = v
                .log_path
                .as_deref()
                .map(absolute)
                .or(self.logs.get(&id).cloned());
            if let Some(log) = log {
                out.push(format!("    serial log: {}", log.display()));
            }
        }
        if verdicts.len() > 1 {
            out.push(format!("  all runs: {}", self.watch.total().figures()));
        }
        out
    }
}

impl Observer for StressView {
    fn follows(&self) -> bool {
        true
    }

    fn started(&mut self, scenario: &'static Scenario, at: Duration) {
        println!("{}", StressView::started(self, &scenario.id(), at));
    }

    fn line(&mut self, scenario: &'static Scenario, line: &str, at: Duration) {
        if let Some(out) = StressView::line(self, &scenario.id(), line, at) {
            println!("{out}");
        }
    }

    fn tick(&mut self, at: Duration) {
        for line in StressView::tick(self, at) {
            println!("{line}");
        }
    }

    fn finished(&mut self, n: usize, total: usize, at: Duration, verdict: &Verdict) {
        println!("{}", StressView::finished(self, n, total, at, verdict));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    fn verdict(board: &'static str, problems: &[&str]) -> Verdict {
        Verdict {
            scenario: scenarios::stress(board, 20),
            problems: problems.iter().map(|p| p.to_string()).collect(),
            tail: Vec::new(),
            log_path: Some(PathBuf::from(format!("/t/test-logs/{board}/stress.log"))),
            took: Duration::from_millis(41_200),
        }
    }

    #[test]
    fn progress_lines_carry_running_totals() {
        let mut v = StressView::default();
        v.logs
            .insert("virt/stress".into(), "/t/test-logs/virt/stress.log".into());
        assert_eq!(
            v.started("virt/stress", S(2)),
            "[    2s] virt/stress: booting; serial log /t/test-logs/virt/stress.log"
        );
        v.started("rpi4/stress", S(2));
        // The banner and other chatter print nothing.
        let banner = "smp: stress: 20 s of futex-sum rounds (8 x 5000) and progress rounds (8 x 50 ms), with yields and migrations over 4 CPUs";
        assert_eq!(v.line("virt/stress", banner, S(4)), None);
        assert_eq!(v.line("virt/stress", "[boot] cpus=4", S(4)), None);
        assert_eq!(
            v.line(
                "virt/stress",
                "smp: stress: 5 s, 64 rounds, 2560000 increments, 1 spins, 0 late",
                S(9)
            )
            .as_deref(),
            Some("[    9s] virt/stress: 5 s, 64 rounds, 2560000 increments, 0 late")
        );
        let line = v
            .line(
                "rpi4/stress",
                "smp: stress: 5 s, 60 rounds, 2400000 increments, 1 spins, 1 late",
                S(10),
            )
            .unwrap();
        assert!(
            line.ends_with("| all: 124 rounds, 4960000 increments, 1 late"),
            "{line}"
        );
        let late = "smp: stress: round 3: spinner 1 first ran 293 ms after the release, on CPU 1; ticks per CPU during the 50 ms sleep: [4, 0, 4, 4]";
        assert_eq!(
            v.line("virt/stress", late, S(11)),
            Some(format!("[   11s] virt/stress: {late}"))
        );
    }

    #[test]
    fn a_quiet_run_gets_a_heartbeat_every_ten_seconds() {
        let mut v = StressView::default();
        v.started("virt/stress", S(0));
        assert!(v.tick(S(9)).is_empty());
        assert_eq!(
            v.tick(S(10)),
            ["[   10s] virt/stress: running for 10s, no progress line yet"]
        );
        assert!(v.tick(S(15)).is_empty(), "not again before 10 s more");
        v.line(
            "virt/stress",
            "smp: stress: 5 s, 64 rounds, 2560000 increments, 1 spins, 0 late",
            S(18),
        );
        assert!(v.tick(S(27)).is_empty(), "a progress line counts");
        assert_eq!(
            v.tick(S(28)),
            ["[   28s] virt/stress: running for 28s, latest 64 rounds, 2560000 increments, 0 late"]
        );
        let done = verdict("virt", &[]);
        v.finished(1, 1, S(30), &done);
        assert!(v.tick(S(60)).is_empty(), "a finished run is quiet");
    }

    #[test]
    fn results_and_summary_give_figures_and_full_log_paths() {
        let mut v = StressView::default();
        v.started("virt/stress", S(0));
        v.started("rpi4/stress", S(0));
        v.line(
            "virt/stress",
            "TEST stress ok rounds=254 increments=10160000 spins=605786668 late=0",
            S(40),
        );
        v.line(
            "rpi4/stress",
            "TEST stress FAIL round 5: sum 39999, want 40000; rounds=5 increments=200000 spins=9 late=1",
            S(41),
        );
        let ok = verdict("virt", &[]);
        let failed = verdict("rpi4", &["TEST stress FAIL round 5: sum 39999, want 40000"]);
        assert_eq!(
            v.finished(1, 2, S(42), &ok),
            "[1/2    42s] PASS virt/stress (41.2s): 254 rounds, 10160000 increments, 0 late"
        );
        let line = v.finished(2, 2, S(43), &failed);
        assert!(
            line.starts_with("[2/2    43s] FAIL rpi4/stress (41.2s): TEST stress FAIL round 5"),
            "{line}"
        );
        let summary = v.summary(&[ok, failed]);
        assert_eq!(
            summary,
            [
                "stress report:",
                "  virt/stress: every sum exact; 254 rounds, 10160000 increments, 605786668 spins, 0 late",
                "    serial log: /t/test-logs/virt/stress.log",
                "  rpi4/stress: FAILED; 5 rounds, 200000 increments, 9 spins, 1 late",
                "    serial log: /t/test-logs/rpi4/stress.log",
                "  all runs: 259 rounds, 10360000 increments, 1 late",
            ]
        );
    }
}
