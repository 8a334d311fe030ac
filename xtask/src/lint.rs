//! `cargo xtask lint`: formatting and clippy for all three kinds of crate.
//!
//! A plain `cargo clippy` only sees the host crates (default-members); the
//! apps and the kernel need their aarch64 targets, and the kernel's build
//! script needs an app ELF to embed, hence a subcommand instead of a shell
//! one-liner.

use std::process::Command;

use crate::boards::BOARDS;
use crate::build::{self, APP_TARGET, KERNEL_TARGET};
use crate::workspace::{self, Workspace};

/// Runs every lint, continuing past failures so one run lists them all;
/// `true` when all passed.
pub fn run(ws: &Workspace) -> bool {
    let mut failures = Vec::new();

    history(ws, &mut failures);

    step(
        &mut failures,
        "format",
        ws.cargo().args(["fmt", "--all", "--check"]),
    );
    step(
        &mut failures,
        "host clippy",
        ws.cargo()
            .args(["clippy", "--all-targets", "--", "-D", "warnings"]),
    );

    let mut apps = ws.cargo();
    apps.args(["clippy", "--release", "--target", APP_TARGET]);
    // Every crate under apps/, libraries included: a new app is linted
    // without being listed anywhere.
    for app in ws.apps(false) {
        apps.args(["-p", &app]);
    }
    step(
        &mut failures,
        "app clippy",
        apps.args(["--", "-D", "warnings"]),
    );

    // The kernel cannot even be type-checked without an app ELF to embed.
    match build::build_app(ws, "hello", build::Profile::Release) {
        Err(e) => failures.push(format!("kernel clippy: building hello: {e}")),
        Ok(hello) => {
            // Every board, and every rseq mode (each compiles different code).
            for (board, mode) in BOARDS
                .iter()
                .flat_map(|b| build::KERNEL_MODES.map(|m| (b, m)))
            {
                let features = format!("{},{}", board.feature, build::rseq_feature(mode));
                let mut cmd = ws.cargo();
                cmd.args(["clippy", "--release", "-p", "kernel"]);
                cmd.args(["--target", KERNEL_TARGET, "--features", &features]);
                cmd.args(["--", "-D", "warnings"]);
                let what = format!("kernel clippy ({}, rseq {mode})", board.name);
                step(
                    &mut failures,
                    &what,
                    build::kernel_env(&mut cmd, &hello, "hello"),
                );
            }
        }
    }

    for f in &failures {
        eprintln!("lint FAILED: {f}");
    }
    failures.is_empty()
}

/// Fails on build-history narration ([`crate::history`]) in the files git
/// tracks, listing each offending line.
fn history(ws: &Workspace, failures: &mut Vec<String>) {
    eprintln!("lint: history: tracker references and landing notes in tracked files");
    let listed = Command::new("git")
        .arg("-C")
        .arg(&ws.root)
        .args(["ls-files", "-z"])
        .output();
    let files = match listed {
        Ok(out) if out.status.success() => out.stdout,
        Ok(out) => return failures.push(format!("history: git ls-files failed ({})", out.status)),
        Err(e) => return failures.push(format!("history: cannot run git: {e}")),
    };
    let mut found = Vec::new();
    for path in files
        .split(|&b| b == 0)
        .filter_map(|p| std::str::from_utf8(p).ok())
    {
        if !crate::history::is_checked(path) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(ws.root.join(path)) else {
            continue;
        };
        for (n, line) in text.lines().enumerate() {
            if crate::history::narrates_history(line) {
                found.push(format!("{path}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    for f in &found {
        eprintln!("  {f}");
    }
    if !found.is_empty() {
        failures.push(format!(
            "history: {} line(s) narrate build history; say what the code does (the history goes in commit messages)",
            found.len()
        ));
    }
}

/// Runs one lint command, recording a failure instead of stopping.
fn step(failures: &mut Vec<String>, what: &str, cmd: &mut Command) {
    eprintln!("lint: {what}: {}", workspace::describe(cmd));
    if let Err(e) = workspace::run(cmd) {
        failures.push(format!("{what}: {e}"));
    }
}

#[cfg(test)]
mod tests {
    /// The README documents `struct kstats` by version: it must name the
    /// version the code defines, so a layout change cannot leave it stale.
    #[test]
    fn readme_names_the_kstats_version_of_the_code() {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
            .expect("README.md");
        let named: Vec<&str> = readme
            .match_indices("`struct kstats` version ")
            .map(|(i, m)| {
                readme[i + m.len()..]
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
            })
            .collect();
        assert!(
            !named.is_empty(),
            "README no longer names the kstats version"
        );
        let want = abi::kstats::KSTATS_VERSION.to_string();
        for v in named {
            assert_eq!(
                v, want,
                "README names kstats version {v}, the code has {want}"
            );
        }
    }
}
