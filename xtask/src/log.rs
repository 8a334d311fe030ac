//! Parsing of the serial log that a kernel image prints under QEMU.
//!
//! The format is specified in `docs/serial-log.md`: every line the runner cares
//! about starts with a tag (`[boot]`, `[exit]`, `TEST`, ...) followed by
//! `key=value` pairs separated by single spaces, a value holding spaces being
//! double-quoted. Everything else is free text and ignored, so apps and the
//! kernel may print whatever else helps a human reader.
//!
//! This module is pure (text in, structure out) so that the runner's
//! understanding of a log is unit-tested without QEMU.

/// The `key=value` pairs of one tagged line, plus its bare words.
///
/// The banner carries bare words (`rseq-os 0.1.0`) before its pairs; they are
/// kept so a check could look at them, but no check needs them today.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields {
    /// Words without `=`, in order.
    pub words: Vec<String>,
    /// `(key, value)` in order, quotes removed.
    pub pairs: Vec<(String, String)>,
}

impl Fields {
    /// The value of `key`; the first one if the key is repeated.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses `42` or `0x2a`: the kernel prints counters in decimal and
/// register values in hexadecimal.
pub fn parse_u64(text: &str) -> Option<u64> {
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// What a `TEST` line says about its case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// The reason the app gave (may be empty).
    Fail(String),
}

/// One `TEST <name> ok` / `TEST <name> FAIL <reason>` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestLine {
    pub name: String,
    pub outcome: Outcome,
}

/// One classified line of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// `[boot] ...` banner.
    Boot(Fields),
    /// `[boot-error] <text>`.
    BootError(String),
    /// `TEST <name> ...`.
    Test(TestLine),
    /// `[exit] app=.. status=..`.
    Exit(Fields),
    /// `[kill] app=.. signal=.. ec=.. ...`.
    Kill(Fields),
    /// `[panic] <message>`.
    Panic(String),
    /// `[shutdown] status=.. ticks=.. irqs_el0=.. syscalls=..`.
    Shutdown(Fields),
    /// Anything else: free text.
    Other,
}

/// Classifies one line (without its line terminator).
pub fn classify(line: &str) -> Record {
    // Tolerate CRLF and indentation: a serial console may produce either, and
    // neither changes what the line means.
    let line = line.trim_end_matches('\r').trim_start();
    let Some((tag, rest)) = split_tag(line) else {
        return Record::Other;
    };
    match tag {
        "[boot]" => Record::Boot(parse_fields(rest)),
        "[boot-error]" => Record::BootError(rest.to_string()),
        "TEST" => parse_test(rest).map_or(Record::Other, Record::Test),
        "[exit]" => Record::Exit(parse_fields(rest)),
        "[kill]" => Record::Kill(parse_fields(rest)),
        "[panic]" => Record::Panic(rest.to_string()),
        "[shutdown]" => Record::Shutdown(parse_fields(rest)),
        _ => Record::Other,
    }
}

/// Splits `"[tag] rest"` into `("[tag]", "rest")`; a tag alone on its line has
/// an empty rest.
fn split_tag(line: &str) -> Option<(&str, &str)> {
    let (tag, rest) = line.split_once(' ').unwrap_or((line, ""));
    let is_tag = tag == "TEST" || (tag.starts_with('[') && tag.ends_with(']') && tag.len() > 2);
    is_tag.then_some((tag, rest.trim()))
}

/// Parses what follows `TEST `. A line that is not `<name> ok...` or
/// `<name> FAIL...` is not a TEST line: app output that merely starts with the
/// word "TEST" must not be mistaken for a result.
fn parse_test(rest: &str) -> Option<TestLine> {
    let (name, verdict) = rest.split_once(' ')?;
    let (word, reason) = verdict.split_once(' ').unwrap_or((verdict, ""));
    let outcome = match word {
        "ok" => Outcome::Ok,
        "FAIL" => Outcome::Fail(reason.trim().to_string()),
        _ => return None,
    };
    Some(TestLine {
        name: name.to_string(),
        outcome,
    })
}

/// Splits `words key=value key="quoted value"` into [`Fields`].
///
/// Inside quotes, `\"` and `\\` stand for `"` and `\`. An unterminated quote
/// runs to the end of the line rather than failing: a half-printed line (the
/// kernel died mid-print) should still yield what it has.
pub fn parse_fields(text: &str) -> Fields {
    let mut fields = Fields::default();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if_eq(&' ').is_some() {}
        if chars.peek().is_none() {
            return fields;
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|&c| c != ' ' && c != '=') {
            key.push(c);
        }
        if chars.next_if_eq(&'=').is_none() {
            fields.words.push(key);
            continue;
        }
        let mut value = String::new();
        if chars.next_if_eq(&'"').is_some() {
            while let Some(c) = chars.next() {
                match c {
                    '"' => break,
                    '\\' => value.extend(chars.next()),
                    c => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|&c| c != ' ') {
                value.push(c);
            }
        }
        fields.pairs.push((key, value));
    }
}

/// What the kernel heap figures of a run say.
///
/// A thread that has not exited still holds what the kernel gave it (its
/// task, its kernel stack, its place in queues), so the figures at shutdown
/// measure what the app left behind only if every thread ended. A passing
/// app joins its threads; one that failed may end with them alive (the SMP
/// stress leaves a spinner that never ran), and what they hold is no leak.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeapGrowth {
    /// `heap_used` when the app started and at shutdown.
    Judged { start: u64, end: u64 },
    /// Not a measure of a leak, and why.
    NotJudged(String),
}

/// A whole serial log, parsed.
#[derive(Debug, Clone, Default)]
pub struct Log {
    /// Every line, terminators removed, for free-text checks.
    pub lines: Vec<String>,
    /// The first `[boot]` banner.
    pub boot: Option<Fields>,
    pub boot_errors: Vec<String>,
    pub tests: Vec<TestLine>,
    pub exits: Vec<Fields>,
    pub kills: Vec<Fields>,
    pub panics: Vec<String>,
    /// The last `[shutdown]` line: it is meant to be the last line, so a later
    /// one wins over an earlier one.
    pub shutdown: Option<Fields>,
}

impl Log {
    /// Parses a whole log.
    pub fn parse(text: &str) -> Log {
        let mut log = Log::default();
        for line in text.lines() {
            let line = line.trim_end_matches('\r');
            log.lines.push(line.to_string());
            match classify(line) {
                Record::Boot(f) => {
                    log.boot.get_or_insert(f);
                }
                Record::BootError(t) => log.boot_errors.push(t),
                Record::Test(t) => log.tests.push(t),
                Record::Exit(f) => log.exits.push(f),
                Record::Kill(f) => log.kills.push(f),
                Record::Panic(m) => log.panics.push(m),
                Record::Shutdown(f) => log.shutdown = Some(f),
                Record::Other => {}
            }
        }
        log
    }

    /// The outcome of the first `TEST <name>` line, if any.
    pub fn test(&self, name: &str) -> Option<&Outcome> {
        self.tests
            .iter()
            .find(|t| t.name == name)
            .map(|t| &t.outcome)
    }

    /// The kernel heap in use when the app started (`[heap] start
    /// heap_used=N`) and at shutdown (`heap_used=` on `[shutdown]`).
    pub fn heap(&self) -> (Option<u64>, Option<u64>) {
        let start = self
            .lines
            .iter()
            .find_map(|l| l.strip_prefix("[heap] start heap_used="))
            .and_then(|v| v.trim().parse::<u64>().ok());
        let end = self
            .shutdown
            .as_ref()
            .and_then(|s| s.get("heap_used"))
            .and_then(parse_u64);
        (start, end)
    }

    /// The app's threads still alive besides the one that ended it
    /// (`threads_alive=` on `[shutdown]`); `None` when the kernel did not
    /// say.
    pub fn threads_alive(&self) -> Option<u64> {
        self.shutdown
            .as_ref()
            .and_then(|s| s.get("threads_alive"))
            .and_then(parse_u64)
    }

    /// Whether the log shows the app failing: a `TEST .. FAIL`, a `[kill]`,
    /// a `[panic]`, an `[exit]` with a non-zero status, or no verdict at
    /// all (the run was cut short).
    pub fn app_failed(&self) -> bool {
        let failed_test = self
            .tests
            .iter()
            .any(|t| matches!(t.outcome, Outcome::Fail(_)));
        let bad_exit = self
            .exits
            .iter()
            .any(|e| e.get("status").and_then(parse_u64) != Some(0));
        let no_verdict = self.exits.is_empty() && self.kills.is_empty();
        failed_test || bad_exit || no_verdict || !self.kills.is_empty() || !self.panics.is_empty()
    }

    /// The kernel heap over the app's life, if its growth can be judged
    /// (see [`HeapGrowth`]); `Err` when a figure is missing.
    pub fn heap_growth(&self) -> Result<HeapGrowth, String> {
        let (start, end) = self.heap();
        let start = start.ok_or("no [heap] start line")?;
        let end = end.ok_or("[shutdown] has no heap_used")?;
        if self.app_failed() {
            match self.threads_alive() {
                Some(0) => {}
                Some(n) => {
                    return Ok(HeapGrowth::NotJudged(format!(
                        "the app failed with {n} threads alive"
                    )));
                }
                None => {
                    return Ok(HeapGrowth::NotJudged(
                        "the app failed and [shutdown] does not say how many threads were alive"
                            .to_string(),
                    ));
                }
            }
        }
        Ok(HeapGrowth::Judged { start, end })
    }

    /// The last `n` lines, for showing the end of a failed run.
    pub fn tail(&self, n: usize) -> &[String] {
        &self.lines[self.lines.len().saturating_sub(n)..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HELLO: &str = "\
[boot] rseq-os 0.1.0 board=qemu-virt el=EL1 cntfrq=62500000 memory=0x40000000+0x10000000 gic=GICv2 cpus=4 pan=off hz=100 app=hello\r
hello from EL0\r
[exit] app=hello status=0\r
[shutdown] status=0 ticks=12 irqs_el0=3 syscalls=4\r
";

    #[test]
    fn banner_fields_and_words() {
        let log = Log::parse(HELLO);
        let boot = log.boot.as_ref().expect("banner");
        assert_eq!(boot.words, ["rseq-os", "0.1.0"]);
        assert_eq!(boot.get("board"), Some("qemu-virt"));
        assert_eq!(boot.get("el"), Some("EL1"));
        assert_eq!(boot.get("memory"), Some("0x40000000+0x10000000"));
        assert_eq!(
            boot.get("app"),
            Some("hello"),
            "CR must not stick to the last value"
        );
        assert_eq!(boot.get("cntfrq").and_then(parse_u64), Some(62_500_000));
        assert_eq!(boot.get("missing"), None);
    }

    #[test]
    fn exit_and_shutdown() {
        let log = Log::parse(HELLO);
        assert_eq!(log.exits.len(), 1);
        assert_eq!(log.exits[0].get("status"), Some("0"));
        let shutdown = log.shutdown.as_ref().expect("shutdown");
        assert_eq!(shutdown.get("irqs_el0").and_then(parse_u64), Some(3));
        assert_eq!(log.lines[1], "hello from EL0");
    }

    #[test]
    fn missing_shutdown() {
        let log = Log::parse("[boot] rseq-os el=EL1\nhello from EL0\n");
        assert!(log.boot.is_some());
        assert!(log.shutdown.is_none());
    }

    #[test]
    fn empty_log() {
        let log = Log::parse("");
        assert!(log.boot.is_none() && log.shutdown.is_none() && log.lines.is_empty());
        assert!(log.tail(30).is_empty());
    }

    #[test]
    fn quoted_values() {
        let f = parse_fields(
            r#"app=selftest tid=1 signal=SIGSEGV esr=0x92000046 ec=0x24 what="data abort, write \"x\" \\ y" far=0x0"#,
        );
        assert_eq!(f.get("what"), Some(r#"data abort, write "x" \ y"#));
        assert_eq!(f.get("far"), Some("0x0"), "pairs after a quoted value");
        assert_eq!(f.get("ec").and_then(parse_u64), Some(0x24));
        assert_eq!(f.get("esr").and_then(parse_u64), Some(0x9200_0046));
        assert!(f.words.is_empty());
    }

    #[test]
    fn unterminated_quote_and_empty_values() {
        let f = parse_fields(r#"a= b="" c="half printed"#);
        assert_eq!(f.get("a"), Some(""));
        assert_eq!(f.get("b"), Some(""));
        assert_eq!(f.get("c"), Some("half printed"));
    }

    #[test]
    fn repeated_spaces_are_separators() {
        let f = parse_fields("  x=1   y=2  ");
        assert_eq!(f.pairs.len(), 2);
        assert_eq!(f.get("y"), Some("2"));
    }

    #[test]
    fn test_lines() {
        let log = Log::parse(
            "TEST getpid ok\n\
             TEST write-badfd FAIL expected -9 got 3\n\
             TEST gettid FAIL\n\
             TEST ticks ok (17 ticks)\n\
             TEST this is not a result\n\
             TESTING something\n",
        );
        assert_eq!(log.tests.len(), 4);
        assert_eq!(log.test("getpid"), Some(&Outcome::Ok));
        assert_eq!(
            log.test("write-badfd"),
            Some(&Outcome::Fail("expected -9 got 3".into()))
        );
        assert_eq!(log.test("gettid"), Some(&Outcome::Fail(String::new())));
        assert_eq!(log.test("ticks"), Some(&Outcome::Ok));
        assert_eq!(log.test("this"), None);
    }

    #[test]
    fn kill_line() {
        let log = Log::parse(
            "[boot] rseq-os app=selftest\n\
             [kill] app=selftest tid=1 signal=SIGILL esr=0x2000000 ec=0x00 far=0x0 elr=0x400123 what=\"undefined instruction\"\n\
             [shutdown] status=132 ticks=1 irqs_el0=0 syscalls=2\n",
        );
        let kill = &log.kills[0];
        assert_eq!(kill.get("signal"), Some("SIGILL"));
        assert_eq!(kill.get("ec"), Some("0x00"));
        assert_eq!(kill.get("what"), Some("undefined instruction"));
        assert_eq!(log.shutdown.unwrap().get("status"), Some("132"));
    }

    #[test]
    fn panic_and_boot_error() {
        let log = Log::parse(
            "[panic] kernel fault: data abort at 0xdead\n\
             ELR_EL1=0x40081234 ESR_EL1=0x96000004\n\
             [boot-error] bad hz value \"abc\"\n\
             [shutdown] status=255\n",
        );
        assert_eq!(log.panics, ["kernel fault: data abort at 0xdead"]);
        assert_eq!(log.boot_errors, ["bad hz value \"abc\""]);
        assert_eq!(log.shutdown.unwrap().get("ticks").and_then(parse_u64), None);
    }

    #[test]
    fn classify_edge_cases() {
        assert_eq!(classify("[] nothing"), Record::Other);
        assert_eq!(classify("free text [boot] el=EL1"), Record::Other);
        assert_eq!(classify("[unknown] x=1"), Record::Other);
        assert_eq!(classify("[panic]"), Record::Panic(String::new()));
        assert_eq!(
            classify("  [exit] app=a status=1"),
            Record::Exit(parse_fields("app=a status=1"))
        );
    }

    #[test]
    fn last_shutdown_and_first_banner_win() {
        let log = Log::parse("[boot] n=1\n[boot] n=2\n[shutdown] status=1\n[shutdown] status=2\n");
        assert_eq!(log.boot.unwrap().get("n"), Some("1"));
        assert_eq!(log.shutdown.unwrap().get("status"), Some("2"));
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_u64("0x3c"), Some(0x3c));
        assert_eq!(parse_u64("0X3C"), Some(0x3c));
        assert_eq!(parse_u64("10"), Some(10));
        assert_eq!(parse_u64("abc"), None);
        assert_eq!(parse_u64(""), None);
    }

    const STRESS_STARVED: &str = "\
[heap] start heap_used=52272
TEST stress FAIL round 5: spinner counts [1, 0] after 258 ms; rounds=5 increments=240000 spins=17 late=0
[exit] app=smp status=1
[shutdown] status=1 ticks=238 frames=221 threads_alive=8 heap_used=346160
";

    #[test]
    fn heap_growth_is_judged_when_every_thread_ended() {
        let ok = Log::parse(
            "[heap] start heap_used=100\nTEST stress ok rounds=1\n[exit] app=smp status=0\n\
             [shutdown] status=0 threads_alive=0 heap_used=150\n",
        );
        assert!(!ok.app_failed());
        assert_eq!(
            ok.heap_growth(),
            Ok(HeapGrowth::Judged {
                start: 100,
                end: 150
            })
        );
        // A kernel that does not print threads_alive: a passing app's
        // figures are still judged.
        let old = Log::parse(
            "[heap] start heap_used=100\n[exit] app=a status=0\n[shutdown] status=0 heap_used=90\n",
        );
        assert_eq!(old.threads_alive(), None);
        assert_eq!(
            old.heap_growth(),
            Ok(HeapGrowth::Judged {
                start: 100,
                end: 90
            })
        );
        // A failed app that ended all its threads is judged too.
        let joined = STRESS_STARVED.replace("threads_alive=8", "threads_alive=0");
        assert_eq!(
            Log::parse(&joined).heap_growth(),
            Ok(HeapGrowth::Judged {
                start: 52_272,
                end: 346_160
            })
        );
    }

    #[test]
    fn heap_growth_of_a_failed_app_with_threads_alive_is_not_judged() {
        let log = Log::parse(STRESS_STARVED);
        assert!(log.app_failed());
        assert_eq!(log.threads_alive(), Some(8));
        assert_eq!(
            log.heap_growth(),
            Ok(HeapGrowth::NotJudged(
                "the app failed with 8 threads alive".into()
            ))
        );
        let unknown = Log::parse(&STRESS_STARVED.replace(" threads_alive=8", ""));
        assert!(matches!(
            unknown.heap_growth(),
            Ok(HeapGrowth::NotJudged(why)) if why.contains("does not say")
        ));
        let no_start = Log::parse(&STRESS_STARVED.replace("[heap] start heap_used=52272\n", ""));
        assert_eq!(no_start.heap_growth(), Err("no [heap] start line".into()));
    }

    #[test]
    fn how_an_app_fails() {
        let failed =
            |tail: &str| Log::parse(&format!("[heap] start heap_used=1\n{tail}")).app_failed();
        assert!(!failed("[exit] app=a status=0\n[shutdown] status=0\n"));
        assert!(failed("[exit] app=a status=1\n[shutdown] status=1\n"));
        assert!(failed(
            "TEST x FAIL y\n[exit] app=a status=0\n[shutdown] status=0\n"
        ));
        assert!(failed(
            "[kill] app=a tid=2 signal=SIGSEGV\n[shutdown] status=139\n"
        ));
        assert!(failed("[panic] boom\n[shutdown] status=255\n"));
        assert!(failed("still running when the runner killed QEMU\n"));
    }

    #[test]
    fn tail() {
        let log = Log::parse("a\nb\nc\n");
        assert_eq!(log.tail(2), ["b", "c"]);
        assert_eq!(log.tail(10).len(), 3);
    }
}
