//! What a scenario's checks mean, and the verdict on one run.
//!
//! Pure: a parsed [`Log`] and an exit status in, a list of problems out (empty
//! means PASS), so every rule is unit-tested on synthetic logs.

use crate::log::{Fields, HeapGrowth, Log, Outcome, parse_u64};
use crate::scenarios::{Check, Scenario};

/// Judges one run of `scenario`: `status` is QEMU's exit status (`None` when
/// QEMU died from a signal). Returns every problem found, not just the first,
/// because one failing run should explain itself completely.
///
/// Beyond the scenario's own checks, every run must have: the expected exit
/// status, a `[shutdown]` line agreeing with it, no `TEST .. FAIL`, and no
/// `[panic]` unless the scenario expects one.
pub fn evaluate(scenario: &Scenario, log: &Log, status: Option<i32>) -> Vec<String> {
    let mut problems = Vec::new();
    let want = scenario.status;

    match status {
        Some(got) if got == want => {}
        Some(got) => problems.push(format!("exit status {got}, expected {want}")),
        None => problems.push(format!("QEMU killed by a signal, expected status {want}")),
    }

    match &log.shutdown {
        None => problems.push("no [shutdown] line".to_string()),
        Some(shutdown) => {
            if let Some(got) = shutdown.get("status")
                && !values_match(&want.to_string(), got)
            {
                problems.push(format!("[shutdown] status={got}, expected {want}"));
            }
        }
    }

    // The app ends once: one verdict and one power-off, even when several
    // threads end it at the same moment (the kernel's `begin_shutdown`).
    let verdicts = log.exits.len() + log.kills.len();
    if verdicts > 1 {
        problems.push(format!(
            "{verdicts} [exit]/[kill] lines: the app must end exactly once"
        ));
    }
    let shutdowns = log
        .lines
        .iter()
        .filter(|l| l.starts_with("[shutdown]"))
        .count();
    if shutdowns > 1 {
        problems.push(format!("{shutdowns} [shutdown] lines, expected one"));
    }

    for test in &log.tests {
        if let Outcome::Fail(reason) = &test.outcome {
            problems.push(
                format!("TEST {} FAIL {reason}", test.name)
                    .trim_end()
                    .to_string(),
            );
        }
    }

    let expects_panic = scenario.checks.contains(&Check::Panics);
    if !expects_panic {
        for message in &log.panics {
            problems.push(format!("unexpected [panic] {message}"));
        }
    }

    for check in scenario.checks {
        if let Err(problem) = check.evaluate(log) {
            problems.push(problem);
        }
    }
    problems
}

impl Check {
    /// `Err(why)` when the log does not show what this check wants.
    fn evaluate(&self, log: &Log) -> Result<(), String> {
        match *self {
            Check::Banner(key, value) => field("[boot]", log.boot.as_ref(), key, value),
            Check::Exit(key, value) => field("[exit]", log.exits.first(), key, value),
            Check::Kill(key, value) => field("[kill]", log.kills.first(), key, value),
            Check::ShutdownAtLeast(key, min) => {
                let shutdown = log.shutdown.as_ref().ok_or("no [shutdown] line")?;
                match shutdown.get(key) {
                    None => Err(format!("[shutdown] has no {key}")),
                    Some(text) => match parse_u64(text) {
                        Some(n) if n >= min => Ok(()),
                        Some(_) => Err(format!("[shutdown] {key}={text}, expected >= {min}")),
                        None => Err(format!("[shutdown] {key}={text} is not a number")),
                    },
                }
            }
            Check::TestOk(name) => match log.test(name) {
                Some(_) => Ok(()),
                None => Err(format!("TEST {name} missing")),
            },
            Check::LineContains(text) => {
                if log.lines.iter().any(|l| l.contains(text)) {
                    Ok(())
                } else {
                    Err(format!("no line contains {text:?}"))
                }
            }
            Check::LineContainsAny(texts) => {
                if log
                    .lines
                    .iter()
                    .any(|l| texts.iter().any(|t| l.contains(t)))
                {
                    Ok(())
                } else {
                    Err(format!("no line contains any of {texts:?}"))
                }
            }
            Check::LineStartsWith(text) => {
                if log.lines.iter().any(|l| l.trim_start().starts_with(text)) {
                    Ok(())
                } else {
                    Err(format!("no line starts with {text:?}"))
                }
            }
            Check::LinesStartingWith(text, want) => match count_starting_with(log, text) {
                n if n == want => Ok(()),
                n => Err(format!("{n} lines start with {text:?}, expected {want}")),
            },
            Check::LinesStartingWithAtLeast(text, min) => match count_starting_with(log, text) {
                n if n >= min => Ok(()),
                n => Err(format!(
                    "{n} lines start with {text:?}, expected at least {min}"
                )),
            },
            Check::HeapGrowthAtMost(max) => match log.heap_growth()? {
                // Only when the app failed, which fails the run already.
                HeapGrowth::NotJudged(why) => Err(format!("kernel heap not judged: {why}")),
                HeapGrowth::Judged { start, end } => {
                    let growth = end.saturating_sub(start);
                    if growth <= max {
                        Ok(())
                    } else {
                        Err(format!(
                            "kernel heap grew by {growth} bytes ({start} -> {end}), allowed {max}"
                        ))
                    }
                }
            },
            Check::Panics => {
                if log.panics.is_empty() {
                    Err("expected a [panic] line".to_string())
                } else {
                    Ok(())
                }
            }
        }
    }
}

/// How many lines start with `text` (after indentation).
fn count_starting_with(log: &Log, text: &str) -> usize {
    log.lines
        .iter()
        .filter(|l| l.trim_start().starts_with(text))
        .count()
}

/// Checks `key=want` on a tagged line that may be absent.
fn field(tag: &str, line: Option<&Fields>, key: &str, want: &str) -> Result<(), String> {
    let line = line.ok_or_else(|| format!("no {tag} line (wanted {key}={want})"))?;
    match line.get(key) {
        Some(got) if values_match(want, got) => Ok(()),
        Some(got) => Err(format!("{tag} {key}={got}, expected {want}")),
        None => Err(format!("{tag} has no {key} (wanted {key}={want})")),
    }
}

/// Equal as text, or as numbers when both are numbers: `ec=0x0` and `ec=0x00`
/// say the same thing, and the runner should not dictate zero padding.
fn values_match(want: &str, got: &str) -> bool {
    want == got || matches!((parse_u64(want), parse_u64(got)), (Some(a), Some(b)) if a == b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::SCENARIOS;

    fn scenario(name: &str) -> &'static Scenario {
        SCENARIOS.iter().find(|s| s.name == name).expect(name)
    }

    fn judge(name: &str, log: &str, status: Option<i32>) -> Vec<String> {
        evaluate(scenario(name), &Log::parse(log), status)
    }

    const HELLO_EL1: &str = "\
[boot] rseq-os 0.1.0 board=qemu-virt el=EL1 cntfrq=62500000 memory=0x40000000+0x10000000 gic=GICv2 cpus=4 pan=off hz=100 app=hello
hello from EL0
[exit] app=hello status=0
[shutdown] status=0 ticks=12 irqs_el0=3 syscalls=4
";

    #[test]
    fn good_hello_passes() {
        assert_eq!(
            judge("hello-el1-gicv2", HELLO_EL1, Some(0)),
            Vec::<String>::new()
        );
    }

    #[test]
    fn the_app_ends_once() {
        let twice = format!("{HELLO_EL1}[kill] app=hello tid=3 signal=SIGSEGV what=\"x\"\n");
        assert_eq!(
            judge("hello-el1-gicv2", &twice, Some(0)),
            ["2 [exit]/[kill] lines: the app must end exactly once"]
        );
        let two_offs = format!("{HELLO_EL1}[shutdown] status=0\n");
        assert_eq!(
            judge("hello-el1-gicv2", &two_offs, Some(0)),
            ["2 [shutdown] lines, expected one"]
        );
    }

    #[test]
    fn banner_mismatch_is_reported() {
        let problems = judge("hello-el2-gicv2", HELLO_EL1, Some(0));
        assert_eq!(problems, ["[boot] el=EL1, expected EL2"]);
        let problems = judge("pan-cortex-a76", HELLO_EL1, Some(0));
        assert_eq!(problems, ["[boot] pan=off, expected on"]);
    }

    #[test]
    fn wrong_status_and_signal() {
        let problems = judge("hello-el1-gicv2", HELLO_EL1, Some(1));
        assert_eq!(problems, ["exit status 1, expected 0"]);
        let problems = judge("hello-el1-gicv2", HELLO_EL1, None);
        assert_eq!(problems, ["QEMU killed by a signal, expected status 0"]);
    }

    #[test]
    fn missing_shutdown_fails() {
        let log = HELLO_EL1.replace("[shutdown] status=0 ticks=12 irqs_el0=3 syscalls=4\n", "");
        assert_eq!(
            judge("hello-el1-gicv2", &log, Some(0)),
            ["no [shutdown] line"]
        );
    }

    #[test]
    fn shutdown_status_must_agree() {
        let log = HELLO_EL1.replace("[shutdown] status=0", "[shutdown] status=3");
        assert_eq!(
            judge("hello-el1-gicv2", &log, Some(0)),
            ["[shutdown] status=3, expected 0"]
        );
    }

    #[test]
    fn empty_log_explains_everything() {
        let problems = judge("hello-el1-gicv2", "", Some(0));
        assert!(problems.contains(&"no [shutdown] line".to_string()));
        assert!(problems.contains(&"no [boot] line (wanted el=EL1)".to_string()));
        assert!(problems.contains(&"no [exit] line (wanted status=0)".to_string()));
        assert!(problems.contains(&"no line contains \"hello from EL0\"".to_string()));
    }

    const SYSCALLS_OK: &str = "\
[boot] rseq-os 0.1.0 el=EL1 app=selftest
TEST getpid ok
TEST gettid ok
TEST clock_gettime ok
TEST clock_gettime-efault ok
TEST enosys ok
TEST write-stdout ok
TEST write-badfd ok
TEST write-efault-unmapped ok
TEST write-efault-kernel ok
TEST write-efault-null ok
TEST write-efault-straddle ok
[exit] app=selftest status=0
[shutdown] status=0 ticks=3 irqs_el0=0 syscalls=20
";

    #[test]
    fn all_required_tests_pass() {
        assert!(judge("syscalls", SYSCALLS_OK, Some(0)).is_empty());
    }

    #[test]
    fn failed_test_fails_once() {
        let log = SYSCALLS_OK.replace("TEST enosys ok", "TEST enosys FAIL got 0");
        assert_eq!(judge("syscalls", &log, Some(0)), ["TEST enosys FAIL got 0"]);
    }

    #[test]
    fn failed_unlisted_test_fails_too() {
        let log = SYSCALLS_OK.replace("[exit]", "TEST extra FAIL\n[exit]");
        assert_eq!(judge("syscalls", &log, Some(0)), ["TEST extra FAIL"]);
    }

    #[test]
    fn missing_required_test() {
        let log = SYSCALLS_OK.replace("TEST write-efault-null ok\n", "");
        assert_eq!(
            judge("syscalls", &log, Some(0)),
            ["TEST write-efault-null missing"]
        );
    }

    #[test]
    fn irq_counter_threshold() {
        let log = |irqs: u32| {
            format!(
                "TEST ticks ok\n[exit] app=selftest status=0\n[shutdown] status=0 ticks=50 irqs_el0={irqs} syscalls=9\n"
            )
        };
        assert!(judge("ticks", &log(5), Some(0)).is_empty());
        assert_eq!(
            judge("ticks", &log(4), Some(0)),
            ["[shutdown] irqs_el0=4, expected >= 5"]
        );
        let no_counter = "TEST ticks ok\n[shutdown] status=0\n";
        assert_eq!(
            judge("ticks", no_counter, Some(0)),
            ["[shutdown] has no irqs_el0"]
        );
    }

    #[test]
    fn kill_fields() {
        let log = "\
[boot] rseq-os app=selftest
[kill] app=selftest tid=1 signal=SIGSEGV esr=0x92000046 ec=0x24 far=0x0 elr=0x400100 what=\"data abort, level 0 translation fault\"
[shutdown] status=139 ticks=1 irqs_el0=0 syscalls=1
";
        assert!(judge("data-abort", log, Some(139)).is_empty());
        // Same EC, different signal: the alignment fault must be SIGBUS.
        assert_eq!(
            judge("alignment", log, Some(139)),
            [
                "exit status 139, expected 135",
                "[shutdown] status=139, expected 135",
                "[kill] signal=SIGSEGV, expected SIGBUS"
            ]
        );
        assert_eq!(
            judge("inst-abort", log, Some(139)),
            ["[kill] ec=0x24, expected 0x20"]
        );
        let unpadded = "[kill] signal=SIGILL ec=0x0\n[shutdown] status=132\n";
        assert!(judge("undef", unpadded, Some(132)).is_empty());
        let no_kill = "[shutdown] status=133\n";
        assert_eq!(
            judge("brk", no_kill, Some(133)),
            [
                "no [kill] line (wanted signal=SIGTRAP)",
                "no [kill] line (wanted ec=0x3c)"
            ]
        );
    }

    #[test]
    fn unexpected_panic_fails() {
        let log = HELLO_EL1.replace("[exit]", "[panic] oops\n[exit]");
        assert_eq!(
            judge("hello-el1-gicv2", &log, Some(0)),
            ["unexpected [panic] oops"]
        );
    }

    #[test]
    fn expected_panic_passes() {
        let log = "\
[boot] rseq-os app=hello
[panic] kernel fault: data abort at EL1
  ELR_EL1=0x0000000040081234 ESR_EL1=0x96000005 FAR_EL1=0xdead0000
[shutdown] status=255
";
        assert!(judge("kernel-fault", log, Some(255)).is_empty());
        let without = "[boot] rseq-os app=hello\n[shutdown] status=255\n";
        assert_eq!(
            judge("kernel-fault", without, Some(255)),
            ["expected a [panic] line", "no line contains \"ELR\""]
        );
    }

    #[test]
    fn boot_error() {
        let log = "[boot-error] bad value for hz: \"abc\"\n[shutdown] status=2\n";
        assert!(judge("bad-cmdline", log, Some(2)).is_empty());
        assert_eq!(
            judge("unknown-option", "[shutdown] status=2\n", Some(2)),
            ["no line starts with \"[boot-error]\""]
        );
    }

    #[test]
    fn app_panic_and_exit_status() {
        let log = "panicked at apps/selftest/src/main.rs:10:5: boom\n[exit] app=selftest status=101\n[shutdown] status=101\n";
        assert!(judge("app-panic", log, Some(101)).is_empty());
        let log =
            "[exit] app=selftest status=42\n[shutdown] status=42 ticks=1 irqs_el0=0 syscalls=1\n";
        assert!(judge("exit-status", log, Some(42)).is_empty());
        assert_eq!(
            judge("exit-status", log, Some(0)),
            ["exit status 0, expected 42"]
        );
    }

    #[test]
    fn counted_lines() {
        let line = "[rseq] tid 2: 32-byte (v1) registration refused: this kernel image is built for rseq v2";
        let log = |n: usize| {
            let mut log = String::from("[boot] rseq-os app=isolation\n");
            for _ in 0..n {
                log.push_str(line);
                log.push('\n');
            }
            log + "TEST rseq-refusals ok\n[exit] app=isolation status=0\n[shutdown] status=0\n"
        };
        assert!(judge("isolation-rseq-refusals", &log(1), Some(0)).is_empty());
        assert_eq!(
            judge("isolation-rseq-refusals", &log(3), Some(0)),
            ["3 lines start with \"[rseq] tid \", expected 1"]
        );
        assert_eq!(
            judge("isolation-rseq-refusals", &log(0), Some(0)),
            [
                "0 lines start with \"[rseq] tid \", expected 1",
                "no line contains \"32-byte (v1) registration refused: this kernel image is built for rseq v2\""
            ]
        );
        assert!(judge("isolation-rseq-refusals-debug", &log(3), Some(0)).is_empty());
        assert_eq!(
            judge("isolation-rseq-refusals-debug", &log(1), Some(0)),
            ["1 lines start with \"[rseq] tid \", expected at least 2"]
        );
    }

    #[test]
    fn fault_with_a_lock_held_must_still_panic() {
        let hung = "[boot] rseq-os app=hello\n[selftest] provoking a kernel data abort (FaultUnderMmLock)\n";
        assert_eq!(
            judge("fault-under-mm-lock", hung, None),
            [
                "QEMU killed by a signal, expected status 255",
                "no [shutdown] line",
                "expected a [panic] line"
            ]
        );
        let reported =
            format!("{hung}[panic] kernel fault: data abort at EL1\n[shutdown] status=255\n");
        assert!(judge("fault-under-mm-lock", &reported, Some(255)).is_empty());
    }

    #[test]
    fn numeric_and_textual_values() {
        assert!(values_match("0x00", "0x0"));
        assert!(values_match("250", "250"));
        assert!(values_match("0x24", "36"));
        assert!(!values_match("EL1", "EL2"));
        assert!(!values_match("0x24", "0x20"));
    }
}
