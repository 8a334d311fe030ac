//! The host half of `cargo xtask test`: `cargo test` on the host-testable
//! crates (the workspace's default-members), summarised per test binary.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use crate::workspace::{self, Workspace};

/// One test binary's run, as cargo reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suite {
    /// `entry unittests src/lib.rs`, `entry doc-tests`, ...
    pub label: String,
    pub passed: u64,
    pub failed: u64,
    /// Everything cargo printed for this binary, shown when it fails.
    pub output: Vec<String>,
}

/// Accumulates `cargo test` output line by line into [`Suite`]s.
#[derive(Debug, Default)]
pub struct Parser {
    label: String,
    output: Vec<String>,
}

impl Parser {
    /// Feeds one line; returns the suite it completes, if any.
    pub fn line(&mut self, line: &str) -> Option<Suite> {
        let trimmed = line.trim();
        if let Some(label) = suite_label(trimmed) {
            self.label = label;
            self.output.clear();
        }
        self.output.push(line.to_string());
        let (passed, failed) = parse_result(trimmed)?;
        Some(Suite {
            label: std::mem::take(&mut self.label),
            passed,
            failed,
            output: std::mem::take(&mut self.output),
        })
    }
}

/// The label for a cargo header line, e.g.
/// `Running unittests src/lib.rs (target/debug/deps/entry-0a1b2c)` gives
/// `entry unittests src/lib.rs`, and `Doc-tests entry` gives `entry doc-tests`.
fn suite_label(line: &str) -> Option<String> {
    if let Some(name) = line.strip_prefix("Doc-tests ") {
        return Some(format!("{} doc-tests", name.trim()));
    }
    let rest = line.strip_prefix("Running ")?;
    let (what, binary) = match rest.rsplit_once(" (") {
        Some((what, path)) => (what, path.trim_end_matches(')')),
        None => (rest, rest),
    };
    let file = binary.rsplit(['/', '\\']).next().unwrap_or(binary);
    // Test binaries are `<name>-<16 hex digits>`.
    let name = match file.rsplit_once('-') {
        Some((name, hash)) if hash.chars().all(|c| c.is_ascii_hexdigit()) => name,
        _ => file,
    };
    Some(format!("{name} {what}"))
}

/// `(passed, failed)` from `test result: ok. 3 passed; 1 failed; ...`.
pub fn parse_result(line: &str) -> Option<(u64, u64)> {
    let rest = line.strip_prefix("test result: ")?;
    let (_verdict, counts) = rest.split_once(". ")?;
    let mut passed = None;
    let mut failed = None;
    for part in counts.split(';') {
        let mut words = part.split_whitespace();
        let (Some(n), Some(what)) = (words.next(), words.next()) else {
            continue;
        };
        match what {
            "passed" => passed = n.parse().ok(),
            "failed" => failed = n.parse().ok(),
            _ => {}
        }
    }
    Some((passed?, failed?))
}

/// Totals of the host run.
#[derive(Debug, Default, Clone, Copy)]
pub struct Totals {
    pub passed: u64,
    pub failed: u64,
}

/// Runs `cargo test` for the default members, printing one PASS/FAIL line
/// per test binary as it finishes. A cargo failure that no test accounts for
/// (a build error) counts as one failure.
pub fn run(ws: &Workspace) -> Totals {
    let mut totals = Totals::default();
    let mut cmd = ws.cargo();
    // --no-fail-fast: one failing crate must not hide the others' results.
    cmd.args(["test", "--no-fail-fast"]);
    println!("host: {}", workspace::describe(&cmd));
    let (reader, writer) = match std::io::pipe() {
        Ok(pipe) => pipe,
        Err(e) => return fail_to_start(&e),
    };
    let stderr = match writer.try_clone() {
        Ok(w) => w,
        Err(e) => return fail_to_start(&e),
    };
    // One pipe for both streams keeps cargo's headers (stderr) in order with
    // the test output (stdout).
    cmd.stdin(Stdio::null()).stdout(writer).stderr(stderr);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return fail_to_start(&e),
    };
    // The command still holds the pipe's write ends; until they close the
    // reader never sees end-of-file.
    drop(cmd);

    let mut parser = Parser::default();
    let mut all = Vec::new();
    for line in BufReader::new(reader).lines() {
        let Ok(line) = line else { break };
        all.push(line.clone());
        let Some(suite) = parser.line(&line) else {
            continue;
        };
        totals.passed += suite.passed;
        totals.failed += suite.failed;
        if suite.failed > 0 {
            println!(
                "FAIL host/{}: {} of {} tests failed",
                suite.label,
                suite.failed,
                suite.passed + suite.failed
            );
            for l in &suite.output {
                println!("    {l}");
            }
        } else if suite.passed > 0 {
            println!("PASS host/{} ({} tests)", suite.label, suite.passed);
        }
    }
    let status = child.wait();
    let clean = matches!(&status, Ok(s) if s.success());
    if !clean && totals.failed == 0 {
        totals.failed += 1;
        match status {
            Ok(s) => println!("FAIL host/cargo test: {s}"),
            Err(e) => println!("FAIL host/cargo test: {e}"),
        }
        for l in &all[all.len().saturating_sub(40)..] {
            println!("    {l}");
        }
    }
    totals
}

/// The totals when `cargo test` could not even be started.
fn fail_to_start(e: &std::io::Error) -> Totals {
    println!("FAIL host/cargo test: cannot start: {e}");
    Totals {
        passed: 0,
        failed: 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTPUT: &str = "\
   Compiling rseq v0.1.0 (/src/rseq-os/rseq)
    Finished `test` profile [unoptimized + debuginfo] target(s) in 2.51s
     Running unittests src/lib.rs (target/debug/deps/entry-3f2a1b4c5d6e7f80)

running 2 tests
test a ... ok
test b ... ok

test result: ok. 2 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s

     Running unittests src/main.rs (target/debug/deps/xtask-0123456789abcdef)

running 2 tests
test c ... ok
test d ... FAILED

failures:

---- d stdout ----
boom

test result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s

   Doc-tests rseq

running 0 tests

test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s
";

    #[test]
    fn suites_from_cargo_output() {
        let mut parser = Parser::default();
        let suites: Vec<_> = OUTPUT.lines().filter_map(|l| parser.line(l)).collect();
        let summary: Vec<_> = suites
            .iter()
            .map(|s| (s.label.as_str(), s.passed, s.failed))
            .collect();
        assert_eq!(
            summary,
            [
                ("entry unittests src/lib.rs", 2, 0),
                ("xtask unittests src/main.rs", 1, 1),
                ("rseq doc-tests", 0, 0),
            ]
        );
        let failed = &suites[1].output;
        assert!(failed[0].contains("Running unittests src/main.rs"));
        assert!(failed.iter().any(|l| l == "boom"));
        assert!(failed.last().unwrap().starts_with("test result: FAILED"));
    }

    #[test]
    fn result_lines() {
        assert_eq!(
            parse_result(
                "test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.02s"
            ),
            Some((12, 0))
        );
        assert_eq!(
            parse_result("test result: FAILED. 3 passed; 2 failed; 0 ignored"),
            Some((3, 2))
        );
        assert_eq!(parse_result("test foo ... ok"), None);
        assert_eq!(parse_result("test result: garbage"), None);
    }

    #[test]
    fn labels() {
        assert_eq!(
            suite_label("Running tests/abi.rs (target/debug/deps/abi-00ff00ff00ff00ff)"),
            Some("abi tests/abi.rs".to_string())
        );
        assert_eq!(
            suite_label("Running unittests src/lib.rs (target/debug/deps/arm-gic-00ff)"),
            Some("arm-gic unittests src/lib.rs".to_string())
        );
        assert_eq!(suite_label("Compiling x"), None);
    }
}
