//! How long runs show their progress: counters, clocks and the SMP stress's
//! running figures, as pure functions so their text is unit-tested.
//!
//! `test`, `stress` and `soak` can run for minutes; a line per finished
//! scenario (with how far along the suite is and how long it has taken)
//! and, for the stress, its own progress lines as QEMU prints them, are
//! what tells a person watching that it is moving.

use std::collections::BTreeMap;
use std::time::Duration;

/// Wall time at a glance: `45s`, `1m05s`, `1h02m`.
pub fn clock(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
    }
}

/// A run's own duration: tenths of a second under a minute (`3.2s`), else
/// [`clock`].
pub fn took(d: Duration) -> String {
    if d < Duration::from_secs(60) {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        clock(d)
    }
}

/// `[ 12/143  1m05s]`: the `n`th of `total` results, `elapsed` into the
/// suite. Padded so that the lines of one run line up.
pub fn counter(n: usize, total: usize, elapsed: Duration) -> String {
    let width = total.to_string().len();
    format!("[{n:>width$}/{total} {:>6}]", clock(elapsed))
}

/// `[  1m05s]`: a line that is no result, `elapsed` into the run.
pub fn stamp(elapsed: Duration) -> String {
    format!("[{:>6}]", clock(elapsed))
}

/// What the SMP stress (apps/smp `stress`) has done so far, as one of its
/// lines says.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StressSample {
    /// Counter seconds into the stress; `None` on the closing lines.
    pub seconds: Option<u64>,
    pub rounds: u64,
    pub increments: u64,
    pub spins: u64,
    /// Progress rounds that waited for a late spinner.
    pub late: u64,
}

impl StressSample {
    /// Parses the stress's figures from one of its lines:
    /// the progress line every 5 s (`smp: stress: 10 s, 129 rounds, 5160000
    /// increments, 2 spins, 0 late`), the closing one (`smp: stress: 254
    /// rounds, ..., CPUs seen 0xf`) or the verdict (`TEST stress ok rounds=827
    /// increments=... spins=... late=2`, also on a `FAIL`).
    pub fn parse(line: &str) -> Option<StressSample> {
        if let Some(rest) = line.strip_prefix("TEST stress ") {
            let rounds = field(rest, "rounds")?;
            return Some(StressSample {
                seconds: None,
                rounds,
                increments: field(rest, "increments").unwrap_or(0),
                spins: field(rest, "spins").unwrap_or(0),
                late: field(rest, "late").unwrap_or(0),
            });
        }
        let words: Vec<&str> = line.strip_prefix("smp: stress: ")?.split(' ').collect();
        // The number before `unit`, which is followed by `,` or ends the line.
        let n = |unit: &str| {
            let i = words.iter().position(|w| w.trim_end_matches(',') == unit)?;
            words.get(i.checked_sub(1)?)?.parse::<u64>().ok()
        };
        Some(StressSample {
            seconds: n("s"),
            rounds: n("rounds")?,
            increments: n("increments")?,
            spins: n("spins").unwrap_or(0),
            late: n("late").unwrap_or(0),
        })
    }

    /// `129 rounds, 5160000 increments, 0 late`.
    pub fn figures(&self) -> String {
        format!(
            "{} rounds, {} increments, {} late",
            self.rounds, self.increments, self.late
        )
    }
}

/// The latest figures of each stress run going on at once, and their sum:
/// the running totals `cargo xtask stress` prints.
#[derive(Debug, Default)]
pub struct StressWatch {
    latest: BTreeMap<String, StressSample>,
}

impl StressWatch {
    /// Records the latest figures of run `id`; figures only grow, so a
    /// closing line repeating them changes nothing.
    pub fn update(&mut self, id: &str, sample: StressSample) {
        self.latest.insert(id.to_string(), sample);
    }

    /// The latest figures of run `id`.
    pub fn get(&self, id: &str) -> Option<&StressSample> {
        self.latest.get(id)
    }

    /// Rounds, increments, spins and late rounds over every run.
    pub fn total(&self) -> StressSample {
        self.latest
            .values()
            .fold(StressSample::default(), |t, s| StressSample {
                seconds: None,
                rounds: t.rounds + s.rounds,
                increments: t.increments + s.increments,
                spins: t.spins + s.spins,
                late: t.late + s.late,
            })
    }

    /// The line for a new sample of run `id`, `elapsed` into the command:
    /// `[   35s] virt/stress: 10 s, 129 rounds, 5160000 increments, 0 late`,
    /// followed by the sum over all runs when there is more than one.
    pub fn line(&self, id: &str, elapsed: Duration) -> String {
        let s = self.latest.get(id).copied().unwrap_or_default();
        let at = match s.seconds {
            Some(secs) => format!("{secs} s, "),
            None => String::new(),
        };
        let mut line = format!("{} {id}: {at}{}", stamp(elapsed), s.figures());
        if self.latest.len() > 1 {
            line += &format!(" | all: {}", self.total().figures());
        }
        line
    }
}

/// Passed and failed so far, for a running tally.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub passed: u64,
    pub failed: u64,
}

impl Tally {
    /// Counts one result.
    pub fn add(&mut self, passed: bool) {
        if passed {
            self.passed += 1;
        } else {
            self.failed += 1;
        }
    }
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "{} passed, {} failed", self.passed, self.failed)
    }
}

/// `key=N` in a line of space-separated fields.
pub fn field(text: &str, key: &str) -> Option<u64> {
    text.split_whitespace()
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn clocks() {
        assert_eq!(clock(S(0)), "0s");
        assert_eq!(clock(S(59)), "59s");
        assert_eq!(clock(S(65)), "1m05s");
        assert_eq!(clock(S(3599)), "59m59s");
        assert_eq!(clock(S(3720)), "1h02m");
        assert_eq!(took(Duration::from_millis(3240)), "3.2s");
        assert_eq!(took(S(61)), "1m01s");
    }

    #[test]
    fn counters_line_up() {
        assert_eq!(counter(12, 143, S(65)), "[ 12/143  1m05s]");
        assert_eq!(counter(143, 143, S(3)), "[143/143     3s]");
        assert_eq!(counter(1, 1, S(47)), "[1/1    47s]");
        assert_eq!(counter(5, 143, S(1)).len(), counter(143, 143, S(600)).len());
        assert_eq!(stamp(S(35)), "[   35s]");
    }

    #[test]
    fn stress_lines_parse() {
        let progress = "smp: stress: 10 s, 129 rounds, 5160000 increments, 2 spins, 1 late";
        assert_eq!(
            StressSample::parse(progress),
            Some(StressSample {
                seconds: Some(10),
                rounds: 129,
                increments: 5_160_000,
                spins: 2,
                late: 1
            })
        );
        let closing =
            "smp: stress: 254 rounds, 10160000 increments, 605786668 spins, 0 late, CPUs seen 0xf";
        let s = StressSample::parse(closing).unwrap();
        assert_eq!((s.seconds, s.rounds, s.spins), (None, 254, 605_786_668));
        let ok = "TEST stress ok rounds=827 increments=33080000 spins=3175373529 late=2";
        let s = StressSample::parse(ok).unwrap();
        assert_eq!((s.rounds, s.increments, s.late), (827, 33_080_000, 2));
        let fail = "TEST stress FAIL round 5: spinner counts [1, 0]; rounds=5 increments=240000 spins=17 late=1";
        assert_eq!(StressSample::parse(fail).unwrap().rounds, 5);
        // Lines that carry no figures.
        for line in [
            "smp: stress: 20 s of futex-sum rounds (8 x 5000) and progress rounds (8 x 50 ms), with yields and migrations over 4 CPUs",
            "smp: stress: round 3: spinner 1 first ran 293 ms after the release, on CPU 1; ticks per CPU during the 50 ms sleep: [4, 0, 4, 4]",
            "smp: stress: ending with 9 threads alive, this one included",
            "TEST stress FAIL round 278: spinner counts [16384, 0]",
            "[boot] cpus=4",
        ] {
            assert_eq!(StressSample::parse(line), None, "{line}");
        }
    }

    #[test]
    fn the_watch_keeps_the_latest_per_run_and_sums_them() {
        let mut w = StressWatch::default();
        let sample = |seconds, rounds| StressSample {
            seconds: Some(seconds),
            rounds,
            increments: rounds * 40_000,
            spins: 0,
            late: 0,
        };
        w.update("virt/stress", sample(5, 64));
        assert_eq!(
            w.line("virt/stress", S(25)),
            "[   25s] virt/stress: 5 s, 64 rounds, 2560000 increments, 0 late"
        );
        w.update("rpi4/stress", sample(5, 60));
        w.update("virt/stress", sample(10, 129));
        assert_eq!(w.total().rounds, 189);
        assert_eq!(w.total().increments, 189 * 40_000);
        assert_eq!(
            w.line("virt/stress", S(31)),
            "[   31s] virt/stress: 10 s, 129 rounds, 5160000 increments, 0 late \
             | all: 189 rounds, 7560000 increments, 0 late"
        );
        assert_eq!(w.get("rpi4/stress").map(|s| s.rounds), Some(60));
    }

    #[test]
    fn tallies_count_and_print() {
        let mut t = Tally::default();
        t.add(true);
        t.add(true);
        t.add(false);
        assert_eq!(
            t,
            Tally {
                passed: 2,
                failed: 1
            }
        );
        assert_eq!(t.to_string(), "2 passed, 1 failed");
    }

    #[test]
    fn fields() {
        assert_eq!(field("rounds=3 increments=40", "increments"), Some(40));
        assert_eq!(field("rounds=3", "round"), None);
    }
}
