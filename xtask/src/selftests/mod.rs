//! `cargo xtask selftests`: Linux's own rseq selftests
//! (`tools/testing/selftests/rseq`) on rseq-os, unmodified, from the
//! newest `linux-source-7.*` of Debian sid.
//!
//! The programs are built statically ([`build`]); every invocation that
//! kselftest and the folder's runner scripts make ([`matrix`]) is one boot
//! of the loader kernel of a board and rseq mode with the program as its
//! initrd (the image has no shell to run the scripts in). Each is judged
//! against the expected-results table ([`matrix::expect`]): its exit
//! status and output must be what the mode implies. The runs go through
//! the test runner (two QEMUs at a time, serial logs under
//! `target/test-logs/<board>/selftests-<mode>/`), and a table of outcomes
//! per program, board and mode closes the run.

pub mod build;
pub mod matrix;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::progress;
use crate::runner::{self, Observer, Verdict};
use crate::scenarios::{Check, Initrd, Program, Scenario};
use crate::workspace::Workspace;
use matrix::{Expect, Invocation, Mode, Set};

/// What `cargo xtask selftests` was asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    pub boards: Vec<&'static str>,
    pub modes: Vec<Mode>,
    pub set: Set,
    /// QEMUs at once.
    pub jobs: usize,
    /// Deadline per invocation.
    pub timeout: Duration,
    /// Kernel options for every boot (`hz=1000`), before the program's
    /// arguments.
    pub append: String,
    /// Only the invocations whose name (`param_test/loop-3/list`)
    /// contains this.
    pub filter: Option<String>,
}

/// How one invocation in one board and mode ended, for the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Passed, as expected.
    Ok,
    /// Refused by the mode rules, as expected.
    Refused,
    /// Skipped by the test itself, as expected, or not run behind
    /// check_optimized.
    Skipped,
    /// Anything else.
    Failed,
}

/// One column of the table.
type Column = (&'static str, Mode);

/// A scenario's invocation, for its result line and the table.
#[derive(Debug, Clone, Copy)]
struct Planned {
    column: Column,
    program: &'static str,
    runner: matrix::Runner,
    expect: Expect,
}

/// The modes this xtask builds kernels for (`mode=all`).
pub fn known_modes() -> Vec<Mode> {
    // The mode is checked before the ELF, which a bare magic passes.
    Mode::ALL
        .into_iter()
        .filter(|m| crate::build::program_mode(b"\x7fELF", Some(m.name())).is_ok())
        .collect()
}

/// The leaked `&'static str` a scenario field needs (a run's scenarios
/// live until xtask exits, as `stress` and `soak` do theirs).
fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// The scenario that boots `inv` on `board` in `mode` and checks what
/// `expect` says.
fn scenario(
    board: &'static str,
    mode: Mode,
    inv: &Invocation,
    expect: Expect,
    harness_tests: Option<usize>,
    kernel: &str,
) -> &'static Scenario {
    let mut checks = Vec::new();
    let status = match expect {
        Expect::Pass => {
            if inv.tunables {
                // glibc registered nothing, and the kernel refused nothing.
                checks.push(Check::LinesStartingWith("[rseq] tid ", 0));
            }
            if let Some(n) = harness_tests {
                checks.push(Check::LinesStartingWith("ok ", n));
                checks.push(Check::LinesStartingWith("not ok ", 0));
                checks.push(Check::LineContains(
                    " fail:0 xfail:0 xpass:0 skip:0 error:0",
                ));
            }
            0
        }
        Expect::Refused => {
            checks.push(Check::LineContains(mode.refusal_line()));
            matrix::refused_status(harness_tests.is_some())
        }
        Expect::SkipsItself(line) => {
            checks.push(Check::LineStartsWith(line));
            0
        }
        Expect::NotRun => unreachable!("an invocation that is not run has no scenario"),
    };
    let long = matrix::LONG_PROGRAMS.contains(&inv.program);
    let append = match (kernel.trim(), inv.args.as_str()) {
        ("", "") => "",
        (kernel, "") => leak(kernel.to_string()),
        ("", args) => leak(format!("-- {args}")),
        (kernel, args) => leak(format!("{kernel} -- {args}")),
    };
    Box::leak(Box::new(Scenario {
        name: leak(format!("selftests-{}/{}", mode.name(), inv.name)),
        board,
        app: inv.program,
        el2: false,
        gic: 2,
        cpu: "cortex-a72",
        append,
        status,
        checks: Box::leak(checks.into_boxed_slice()),
        shared: false,
        program: Some(Program {
            mode: mode.name(),
            initrd: Initrd::Selftest(inv.program),
            env: if inv.tunables { matrix::TUNABLES } else { "" },
        }),
        timeout: long.then_some(matrix::LONG_TIMEOUT),
        round_robin: long,
        icount: false,
    }))
}

/// The board of the selftests `just test` runs.
const TEST_BOARD: &str = "virt";

/// The id of the scenario that runs `inv` on [`TEST_BOARD`] in `mode`.
fn test_id(mode: Mode, inv: &Invocation) -> String {
    format!("{TEST_BOARD}/selftests-{}/{}", mode.name(), inv.name)
}

/// Whether `filter` selects one of `just test`'s selftests.
pub fn test_set_matches(filter: &str) -> bool {
    let invocations = matrix::invocations(Set::Quick);
    known_modes()
        .into_iter()
        .any(|m| invocations.iter().any(|i| test_id(m, i).contains(filter)))
}

/// The scenarios `just test` runs: [`Set::Quick`] on virt in every mode
/// this xtask builds kernels for, those whose id contains `filter`. The
/// programs are built only when one is wanted.
pub fn test_scenarios(
    ws: &Workspace,
    filter: Option<&str>,
) -> Result<Vec<&'static Scenario>, String> {
    if filter.is_some_and(|f| !test_set_matches(f)) {
        return Ok(Vec::new());
    }
    let built = build::build(ws)?;
    let invocations = matrix::invocations(Set::Quick);
    let mut out = Vec::new();
    for mode in known_modes() {
        for inv in &invocations {
            if filter.is_some_and(|f| !test_id(mode, inv).contains(f))
                || !built.bins.contains_key(inv.program)
            {
                continue;
            }
            let expect = matrix::expect(inv, mode, built.features.arm64_offset_deref_addv);
            if expect == Expect::NotRun {
                continue;
            }
            let harness = built.harness_tests.get(inv.program).copied();
            let s = scenario(TEST_BOARD, mode, inv, expect, harness, "");
            debug_assert_eq!(s.id(), test_id(mode, inv));
            out.push(s);
        }
    }
    Ok(out)
}

/// What a passing verdict means for an expectation.
fn outcome(expect: Expect) -> Outcome {
    match expect {
        Expect::Pass => Outcome::Ok,
        Expect::Refused => Outcome::Refused,
        Expect::SkipsItself(_) | Expect::NotRun => Outcome::Skipped,
    }
}

/// The words a PASS line adds.
fn detail(expect: Expect) -> &'static str {
    match expect {
        Expect::Pass => "passed",
        Expect::Refused => "registration refused by the mode, as expected",
        Expect::SkipsItself(_) => "skipped itself, as expected",
        Expect::NotRun => "not run",
    }
}

/// Runs the selftests; `true` when every invocation showed what it must.
pub fn run(ws: &Workspace, opts: &Options) -> Result<bool, String> {
    let started = Instant::now();
    let built = build::build(ws)?;
    println!(
        "rseq selftests: {} (tools/testing/selftests/rseq), {} programs built statically in {}",
        built.version,
        built.bins.len(),
        ws.display(&build::dir(ws).join("bin"))
    );
    for name in &built.absent {
        println!("  {name}: not in this version, its invocations are left out");
    }
    for name in &built.unknown {
        println!("  {name}: in the Makefile but unknown here: not built, not run");
    }
    let invocations: Vec<Invocation> = matrix::invocations(opts.set)
        .into_iter()
        .filter(|i| built.bins.contains_key(i.program))
        .filter(|i| opts.filter.as_deref().is_none_or(|f| i.name.contains(f)))
        .collect();
    if invocations.is_empty() {
        return Err(format!(
            "no invocation matches filter={:?} (names are program/step/test, e.g. \
             param_test/loop-3/list, or the program alone)",
            opts.filter.as_deref().unwrap_or("")
        ));
    }

    // A mode this xtask cannot build a kernel for fails at once, by name.
    let mut ok = true;
    let mut modes = Vec::new();
    let any = built.bins.values().next().ok_or("no program built")?;
    let probe = std::fs::read(any).map_err(|e| format!("{}: {e}", any.display()))?;
    for &mode in &opts.modes {
        match crate::build::program_mode(&probe, Some(mode.name())) {
            Ok(_) => modes.push(mode),
            Err(e) => {
                println!("  mode={}: cannot be run: {e}", mode.name());
                ok = false;
            }
        }
    }

    if modes.is_empty() {
        return Ok(false);
    }
    let mut plan: BTreeMap<String, Planned> = BTreeMap::new();
    let mut not_run: Vec<(Column, &'static str)> = Vec::new();
    let mut only = Vec::new();
    for &board in &opts.boards {
        for &mode in &modes {
            for inv in &invocations {
                let expect = matrix::expect(inv, mode, built.features.arm64_offset_deref_addv);
                if expect == Expect::NotRun {
                    not_run.push(((board, mode), inv.program));
                    continue;
                }
                let s = scenario(
                    board,
                    mode,
                    inv,
                    expect,
                    built.harness_tests.get(inv.program).copied(),
                    &opts.append,
                );
                plan.insert(
                    s.id(),
                    Planned {
                        column: (board, mode),
                        program: inv.program,
                        runner: inv.runner,
                        expect,
                    },
                );
                only.push(s);
            }
        }
    }
    let per_column = invocations.len();
    println!(
        "set={}: {per_column} invocations per board and mode, on {} in {}; {} QEMUs at a time",
        opts.set.name(),
        opts.boards.join(", "),
        modes
            .iter()
            .map(|m| m.name())
            .collect::<Vec<_>>()
            .join(", "),
        opts.jobs
    );
    for &mode in &modes {
        let skipped = invocations
            .iter()
            .filter(|i| matrix::expect(i, mode, true) == Expect::NotRun)
            .count();
        if skipped > 0 {
            println!(
                "  {}: check_optimized must fail (\"Not supported\"), so the runners skip {skipped} \
                 invocations behind it (run_param_test.sh's optimized half, slice_test)",
                mode.name()
            );
        }
    }
    let verdicts = if only.is_empty() {
        Vec::new()
    } else {
        let runner_opts = runner::Options {
            filter: None,
            jobs: opts.jobs,
            host: false,
            build: true,
            timeout: opts.timeout,
            only: Some(only),
            deadline: None,
            more: None,
        };
        let mut view = View { plan: &plan };
        let (passed, verdicts) = runner::run_with_results(ws, &runner_opts, &mut view);
        ok &= passed;
        verdicts
    };

    let mut results: Vec<(Column, &'static str, Outcome)> = not_run
        .into_iter()
        .map(|(column, program)| (column, program, Outcome::Skipped))
        .collect();
    for v in &verdicts {
        let p = plan[&v.scenario.id()];
        let got = if v.passed() {
            outcome(p.expect)
        } else {
            Outcome::Failed
        };
        results.push((p.column, p.program, got));
    }
    let columns: Vec<Column> = opts
        .boards
        .iter()
        .flat_map(|&b| modes.iter().map(move |&m| (b, m)))
        .collect();
    for line in table(&columns, &results) {
        println!("{line}");
    }
    let failed: Vec<&Verdict> = verdicts.iter().filter(|v| !v.passed()).collect();
    if !failed.is_empty() {
        println!("failed ({}):", failed.len());
        let mut causes: BTreeMap<String, usize> = BTreeMap::new();
        for v in failed {
            let log = v
                .log_path
                .as_deref()
                .map(|p| ws.display(p).to_string())
                .unwrap_or_default();
            let text = v
                .log_path
                .as_deref()
                .and_then(|p| std::fs::read_to_string(p).ok())
                .unwrap_or_default();
            let words = last_words(&text).unwrap_or("(nothing)").to_string();
            println!(
                "  {}: {}; the program's last line: {words} [{log}]",
                v.scenario.id(),
                v.problems.join("; ")
            );
            *causes.entry(words).or_default() += 1;
        }
        println!("the failed programs' last lines, by count:");
        let mut causes: Vec<_> = causes.into_iter().collect();
        causes.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        for (words, n) in causes {
            println!("  {n:>5}  {words}");
        }
    }
    println!(
        "rseq selftests ({}): {} in {}",
        built.version,
        if ok { "as expected" } else { "FAILED" },
        progress::clock(started.elapsed())
    );
    Ok(ok)
}

/// What a program printed last before it ended: the last line before
/// the kernel's `[exit]` or `[kill]` line that is not the kernel's own
/// (those start with `[`).
fn last_words(log: &str) -> Option<&str> {
    log.lines()
        .map(|l| l.trim_end_matches('\r'))
        .take_while(|l| !l.starts_with("[exit]") && !l.starts_with("[kill]"))
        .filter(|l| !l.starts_with('[') && !l.trim().is_empty())
        .last()
}

/// The table: a row per program, a column per board and mode, each cell
/// counting how its invocations ended.
fn table(columns: &[Column], results: &[(Column, &'static str, Outcome)]) -> Vec<String> {
    let programs: Vec<&str> = build::PROGRAMS
        .iter()
        .map(|p| p.name)
        .filter(|name| results.iter().any(|(_, p, _)| p == name))
        .collect();
    let cell = |column: Column, program: Option<&str>| {
        let count = |o: Outcome| {
            results
                .iter()
                .filter(|(c, p, got)| {
                    *c == column && program.is_none_or(|name| *p == name) && *got == o
                })
                .count()
        };
        let parts: Vec<String> = [
            (Outcome::Failed, "FAIL"),
            (Outcome::Ok, "ok"),
            (Outcome::Refused, "refused"),
            (Outcome::Skipped, "skipped"),
        ]
        .iter()
        .filter_map(|&(o, word)| match count(o) {
            0 => None,
            n => Some(format!("{n} {word}")),
        })
        .collect();
        if parts.is_empty() {
            "-".to_string()
        } else {
            parts.join(", ")
        }
    };
    let heads: Vec<String> = columns
        .iter()
        .map(|(b, m)| format!("{b}/{}", m.name()))
        .collect();
    let mut rows: Vec<(String, Vec<String>)> = programs
        .iter()
        .map(|&p| {
            (
                p.to_string(),
                columns.iter().map(|&c| cell(c, Some(p))).collect(),
            )
        })
        .collect();
    rows.push((
        "all".to_string(),
        columns.iter().map(|&c| cell(c, None)).collect(),
    ));
    let first = rows
        .iter()
        .map(|(p, _)| p.len())
        .max()
        .unwrap_or(0)
        .max("program".len());
    let widths: Vec<usize> = (0..columns.len())
        .map(|i| {
            rows.iter()
                .map(|(_, cells)| cells[i].len())
                .max()
                .unwrap_or(0)
                .max(heads[i].len())
        })
        .collect();
    let line = |name: &str, cells: &[String]| {
        let mut out = format!("{name:<first$}");
        for (cell, width) in cells.iter().zip(&widths) {
            out.push_str(&format!("  {cell:<width$}"));
        }
        out.trim_end().to_string()
    };
    let mut out = vec![line("program", &heads)];
    out.extend(rows.iter().map(|(p, cells)| line(p, cells)));
    out.push(
        "ok: passed; refused: the mode refuses the registration, and the test fails as it must; \
         skipped: the test skipped itself, or check_optimized failed so the runner does not run it; \
         FAIL: anything else"
            .to_string(),
    );
    out
}

/// The result lines: the runner's, with what a pass meant.
struct View<'a> {
    plan: &'a BTreeMap<String, Planned>,
}

impl Observer for View<'_> {
    fn finished(&mut self, n: usize, total: usize, at: Duration, verdict: &Verdict) {
        let detail = self.plan.get(&verdict.scenario.id()).map(|p| {
            let append = verdict.scenario.append;
            let args = append.split_once("-- ").map_or("", |(_, args)| args);
            format!(
                "{} ({}: {}{}{args})",
                detail(p.expect),
                p.runner.name(),
                p.program,
                if args.is_empty() { "" } else { " " }
            )
        });
        println!(
            "{}",
            runner::result_line(n, total, at, verdict, detail.as_deref())
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check;
    use crate::log::Log;

    fn inv(name: &str) -> Invocation {
        matrix::invocations(Set::Full)
            .into_iter()
            .find(|i| i.name == name)
            .unwrap()
    }

    /// A refused legacy run in v2 passes only with the kernel's line and
    /// status 255; the same log does not pass as a success.
    #[test]
    fn scenarios_judge_by_status_and_output() {
        let legacy = inv("param_test/legacy-yield-25-at-7/spinlock");
        let refused = scenario("virt", Mode::V2, &legacy, Expect::Refused, None, "");
        assert_eq!(refused.status, 255);
        assert_eq!(refused.append, "-- -T s -r 1000 -t 24 -7 -1 -m 4 -y -L");
        assert_eq!(refused.program.unwrap().env, matrix::TUNABLES);
        assert_eq!(refused.image(), "loader-v2");
        let log = Log::parse(
            "[rseq] tid 1: 32-byte (v1) registration refused: this kernel image is built for rseq v2\n\
             [exit] app=param_test status=255\n[shutdown] status=255\n",
        );
        assert!(check::evaluate(refused, &log, Some(255)).is_empty());
        let passing = scenario("virt", Mode::V2, &legacy, Expect::Pass, None, "");
        let hz = scenario("virt", Mode::V1, &legacy, Expect::Pass, None, "hz=1000");
        assert_eq!(hz.append, "hz=1000 -- -T s -r 1000 -t 24 -7 -1 -m 4 -y -L");
        assert!(!check::evaluate(passing, &log, Some(255)).is_empty());
        // Refused without the kernel's reason is not the expected refusal.
        let silent = Log::parse("[exit] app=param_test status=255\n[shutdown] status=255\n");
        assert!(!check::evaluate(refused, &silent, Some(255)).is_empty());
    }

    #[test]
    fn harness_programs_pass_only_with_every_test_ok() {
        let slice = inv("slice_test");
        let s = scenario("virt", Mode::V2, &slice, Expect::Pass, Some(3), "");
        let ok = |n: usize, skip: usize| {
            let mut text = String::from("TAP version 13\n1..3\n");
            for i in 1..=n {
                text.push_str(&format!("ok {i} slice_ext.v{i}.slice_test\n"));
            }
            text.push_str(&format!(
                "# Totals: pass:{} fail:0 xfail:0 xpass:0 skip:{skip} error:0\n\
                 [exit] app=slice_test status=0\n[shutdown] status=0\n",
                n - skip
            ));
            Log::parse(&text)
        };
        assert!(check::evaluate(s, &ok(3, 0), Some(0)).is_empty());
        assert!(!check::evaluate(s, &ok(2, 0), Some(0)).is_empty());
        assert!(!check::evaluate(s, &ok(3, 1), Some(0)).is_empty());
    }

    /// The harness, compiled for the host exactly as the rseq tests include
    /// it, with its own test program: the whole TAP output and the exit
    /// status. Fails if a test stopped running in a fresh thread, an
    /// ASSERT went on, an EXPECT stopped, or a skipped or failed setup ran
    /// the body or the teardown.
    #[test]
    fn the_harness_runs_each_test_in_a_fresh_thread() {
        let ws = Workspace::locate();
        let dir = ws.root.join("apps/selftests/rseq");
        let exe = std::env::temp_dir().join(format!("xtask-harness-{}", std::process::id()));
        let status = std::process::Command::new("cc")
            .current_dir(&dir)
            .args(["-O2", "-Wall", "-Wextra", "-Werror", "-pthread", "-I."])
            .arg("harness_test.c")
            .arg("-o")
            .arg(&exe)
            .status()
            .expect("cc");
        assert!(status.success(), "harness_test.c does not compile");
        let out = std::process::Command::new(&exe).output().expect("run");
        let _ = std::fs::remove_file(&exe);
        assert_eq!(out.status.code(), Some(1), "a test failed: KSFT_FAIL");
        // Line numbers of harness_test.c left out.
        let text: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| match l.strip_prefix("# harness_test.c:") {
                Some(rest) => format!("# harness_test.c:N:{}", rest.split_once(':').unwrap().1),
                None => l.to_string(),
            })
            .collect();
        let want = "\
TAP version 13
1..11
# Starting 11 tests from 4 test cases.
#  RUN           counter.one.adds ...
# teardown 1 value 2
#            OK  counter.one.adds
ok 1 counter.one.adds
#  RUN           counter.one.assert_ends_the_body ...
# harness_test.c:N:counter.one.assert_ends_the_body:Expected variant->step (1) > 5 (5)
# teardown 2 value 7
#          FAIL  counter.one.assert_ends_the_body
not ok 2 counter.one.assert_ends_the_body
#  RUN           counter.ten.adds ...
# teardown 3 value 20
#            OK  counter.ten.adds
ok 3 counter.ten.adds
#  RUN           counter.ten.assert_ends_the_body ...
# after a failed ASSERT: must not print for step 1
# teardown 4 value 7
#            OK  counter.ten.assert_ends_the_body
ok 4 counter.ten.assert_ends_the_body
#  RUN           skipped.never_runs ...
#      SKIP      not supported here (42)
#            OK  skipped.never_runs
ok 5 skipped.never_runs # SKIP not supported here (42)
#  RUN           broken.never_runs ...
# harness_test.c:N:broken.never_runs:Expected getpid() < 0 to be true
#          FAIL  broken.never_runs
not ok 6 broken.never_runs
#  RUN           global.expect_goes_on ...
# harness_test.c:N:global.expect_goes_on:Expected 1 (1) == 2 (2)
# harness_test.c:N:global.expect_goes_on:still running after EXPECT_EQ
#          FAIL  global.expect_goes_on
not ok 7 global.expect_goes_on
#  RUN           global.plain ...
#            OK  global.plain
ok 8 global.plain
#  RUN           global.fresh_thread_first ...
#            OK  global.fresh_thread_first
ok 9 global.fresh_thread_first
#  RUN           global.fresh_thread_second ...
#            OK  global.fresh_thread_second
ok 10 global.fresh_thread_second
#  RUN           global.skip_in_body ...
#      SKIP      skipped by the body
#            OK  global.skip_in_body
ok 11 global.skip_in_body # SKIP skipped by the body
# FAILED: 8 / 11 tests passed.
# Totals: pass:6 fail:3 xfail:0 xpass:0 skip:2 error:0";
        assert_eq!(text.join("\n"), want);
    }

    #[test]
    fn last_words_skip_the_kernel_lines() {
        let log = "[boot] x\nTAP version 13\nnot ok 1 t\n[rseq] tid 1: refused\n\
                   [kill] app=t signal=SIGABRT\n[shutdown] status=134\n";
        assert_eq!(last_words(log), Some("not ok 1 t"));
        assert_eq!(last_words("[boot] x\n[exit] app=t status=0\n"), None);
    }

    #[test]
    fn the_table_counts_per_program_and_column() {
        let v1 = ("virt", Mode::V1);
        let v2 = ("virt", Mode::V2);
        let results = [
            (v1, "param_test", Outcome::Ok),
            (v1, "param_test", Outcome::Refused),
            (v2, "param_test", Outcome::Failed),
            (v2, "slice_test", Outcome::Ok),
            (v1, "slice_test", Outcome::Skipped),
        ];
        let lines = table(&[v1, v2], &results);
        assert_eq!(lines[0], "program     virt/v1                     virt/v2");
        assert_eq!(lines[1], "param_test  1 ok, 1 refused             1 FAIL");
        assert_eq!(lines[2], "slice_test  1 skipped                   1 ok");
        assert_eq!(
            lines[3],
            "all         1 ok, 1 refused, 1 skipped  1 FAIL, 1 ok"
        );
    }
}
