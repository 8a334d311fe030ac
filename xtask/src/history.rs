//! The lint against build history in code, manifests and the README: text
//! says what the code does today, not which tracker issue brought it or
//! which one will ("arrives with the rseq issue", "issue 8"). Such notes go
//! stale the day they land and belong in commit messages.

/// Words before "issue" that make it a reference to the tracker.
const DETERMINERS: &[&str] = &[
    "the", "this", "that", "a", "an", "later", "next", "previous", "earlier", "future",
];

/// Phrases that narrate when something lands.
const PHRASES: &[&str] = &["arrives with", "arrive with", "in a later", "for a later"];

/// Is `line` narrating build history? Flags "issue 12", "issue #3",
/// "(issue", "the rseq issue", "a later issue" and the [`PHRASES`], not the
/// verb ("CPU 0 issues membarriers").
pub fn narrates_history(line: &str) -> bool {
    let lower = line.to_ascii_lowercase();
    if PHRASES.iter().any(|p| lower.contains(p)) {
        return true;
    }
    let words: Vec<&str> = lower
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '#' || c == '-'))
        .filter(|w| !w.is_empty())
        .collect();
    words.iter().enumerate().any(|(i, w)| {
        if *w != "issue" && *w != "issues" {
            return false;
        }
        let next_is_number = words
            .get(i + 1)
            .is_some_and(|n| n.starts_with(|c: char| c.is_ascii_digit() || c == '#'));
        let before = |k: usize| i.checked_sub(k).and_then(|j| words.get(j)).copied();
        // "the rseq issue", never the verb "the kernel issues".
        let determined = *w == "issue"
            && (before(1).is_some_and(|b| DETERMINERS.contains(&b))
                || before(2).is_some_and(|b| b == "the" || b == "this" || b == "that"));
        next_is_number || determined
    })
}

/// This file: it quotes the phrases it looks for.
const SELF: &str = "xtask/src/history.rs";

/// The files the lint reads: source, assembly, manifests, scripts and the
/// docs, by name (all but this one).
pub fn is_checked(path: &str) -> bool {
    let kind = [".rs", ".s", ".toml", ".md", ".sh"]
        .iter()
        .any(|e| path.ends_with(e))
        || path == "justfile"
        || path == ".ci/run";
    kind && path != SELF
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracker_references_are_flagged() {
        for line in [
            "# Host fuzzing of the pure parsers (issue 8): never panic",
            "/// membarrier with rseq (the rseq issue adds the abort).",
            "CPUs stay parked until the SMP issue. Then",
            "The state machine arrives with the rseq issue.",
            "slice-extension counters for a later issue.",
            "see issue #14",
            "as in Issue 12:",
        ] {
            assert!(narrates_history(line), "{line}");
        }
    }

    #[test]
    fn ordinary_text_passes() {
        for line in [
            "/// Main on CPU 0 issues membarriers while CPUs 1-3 spin",
            "the kernel issues a TLB flush",
            "`tlbi vmalle1is; dsb ish` completed, then free",
            "",
        ] {
            assert!(!narrates_history(line), "{line}");
        }
    }

    #[test]
    fn checked_files() {
        assert!(is_checked("kernel/src/smp.rs") && is_checked("README.md"));
        assert!(is_checked("justfile") && is_checked("arch/src/vectors.s"));
        assert!(!is_checked("Cargo.lock") && !is_checked("docs/bench.svg"));
        assert!(!is_checked(SELF));
    }
}
