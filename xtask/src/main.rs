//! `cargo xtask`: the host-side tooling of rseq-os.
//!
//! Builds boot images, runs them under QEMU and runs the whole test suite.
//! Written against std only so it builds anywhere the pinned toolchain does;
//! arguments are parsed by hand for the same reason. This file only dispatches;
//! each command lives in its own module.

mod boards;
mod build;
mod check;
mod host;
mod lint;
mod log;
mod qemu;
mod runner;
mod scenarios;
mod workspace;

use std::collections::HashMap;
use std::env;
use std::process::ExitCode;
use std::time::Duration;

use workspace::Workspace;

const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  build  [--board virt] [--app hello]
         build the app and a kernel embedding it; prints target/images/<board>-<app>.img
  qemu   [--board virt] [--app hello] [--el2] [--gic 2|3] [--cpu MODEL] [--append ARGS] [--gdb]
         build, then boot under QEMU on this terminal (exit: Ctrl-A X); exits with
         QEMU's status. --gdb waits for gdb on localhost:1234.
  test   [--filter SUBSTR] [--jobs N] [--timeout SECS] [--no-host] [--no-build]
         host `cargo test`, then every QEMU scenario (or those whose board/name
         contains SUBSTR), N at a time (default 2), each killed after SECS
         (default 60). Logs: target/test-logs/<board>/<scenario>.log
  lint   cargo fmt --check and clippy -D warnings for host crates, apps and kernel
  help   this text";

fn main() -> ExitCode {
    let mut args = env::args().skip(1);
    let command = args.next().unwrap_or_else(|| "help".to_string());
    let rest: Vec<String> = args.collect();
    match dispatch(&command, rest) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("xtask {command}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn dispatch(command: &str, args: Vec<String>) -> Result<ExitCode, String> {
    let ws = Workspace::locate();
    match command {
        "build" => {
            let opts = Parsed::new(args, &[("--board", true), ("--app", true)])?;
            let board = boards::find(opts.value("--board").unwrap_or("virt"))?;
            let image = build::build(&ws, board, opts.value("--app").unwrap_or("hello"))?;
            println!("{}", image.img.display());
            Ok(ExitCode::SUCCESS)
        }
        "qemu" => qemu_command(&ws, args),
        "test" => {
            let opts = Parsed::new(
                args,
                &[
                    ("--filter", true),
                    ("--jobs", true),
                    ("--timeout", true),
                    ("--no-host", false),
                    ("--no-build", false),
                ],
            )?;
            let opts = runner::Options {
                filter: opts.value("--filter").map(str::to_string),
                jobs: opts.number("--jobs")?.unwrap_or(2).max(1) as usize,
                host: !opts.flag("--no-host"),
                build: !opts.flag("--no-build"),
                timeout: Duration::from_secs(opts.number("--timeout")?.unwrap_or(60)),
            };
            Ok(exit(runner::run(&ws, &opts)))
        }
        "lint" => {
            Parsed::new(args, &[])?;
            Ok(exit(lint::run(&ws)))
        }
        "help" | "-h" | "--help" => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        other => Err(format!("unknown command {other:?}\n\n{USAGE}")),
    }
}

/// `cargo xtask qemu`: build, then boot interactively.
fn qemu_command(ws: &Workspace, args: Vec<String>) -> Result<ExitCode, String> {
    let opts = Parsed::new(
        args,
        &[
            ("--board", true),
            ("--app", true),
            ("--el2", false),
            ("--gic", true),
            ("--cpu", true),
            ("--append", true),
            ("--gdb", false),
        ],
    )?;
    let board = boards::find(opts.value("--board").unwrap_or("virt"))?;
    let app = opts.value("--app").unwrap_or("hello");
    let gic = match opts.value("--gic") {
        None => None,
        Some("2") => Some(2),
        Some("3") => Some(3),
        Some(other) => return Err(format!("--gic {other}: expected 2 or 3")),
    };
    let qemu_opts = qemu::Options {
        el2: opts.flag("--el2"),
        gic,
        cpu: opts.value("--cpu").map(str::to_string),
        append: opts.value("--append").unwrap_or("").to_string(),
        gdb: opts.flag("--gdb"),
    };
    let image = build::build(ws, board, app)?;
    let mut cmd = qemu::command(board, &image.img, &qemu_opts)?;
    eprintln!("{}", workspace::describe(&cmd));
    if qemu_opts.gdb {
        eprintln!(
            "QEMU waits for gdb on localhost:1234. In another terminal:\n  \
             gdb-multiarch {} -ex 'target remote localhost:1234'",
            ws.display(&image.elf)
        );
    }
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run {}: {e}", qemu::QEMU))?;
    // The kernel's semihosting exit status is the point of the run: pass it on.
    Ok(ExitCode::from(status.code().unwrap_or(1) as u8))
}

fn exit(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Options of one subcommand, parsed against its spec in one pass so a value
/// that looks like an option (`--append "-- ticks"`) stays a value.
#[derive(Debug, Default)]
struct Parsed {
    values: HashMap<&'static str, String>,
    flags: Vec<&'static str>,
}

impl Parsed {
    /// `spec` lists `(name, takes_value)`. Accepts `--name value` and
    /// `--name=value`; the last occurrence wins. Anything not in the spec is
    /// an error, so a typo never silently changes what runs.
    fn new(args: Vec<String>, spec: &[(&'static str, bool)]) -> Result<Parsed, String> {
        let mut parsed = Parsed::default();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let (name, inline) = match arg.split_once('=') {
                Some((name, value)) if name.starts_with("--") => (name, Some(value.to_string())),
                _ => (arg.as_str(), None),
            };
            let Some(&(name, takes_value)) = spec.iter().find(|(n, _)| *n == name) else {
                let known: Vec<_> = spec.iter().map(|(n, _)| *n).collect();
                return Err(format!(
                    "unexpected argument {arg:?} (options: {})",
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(" ")
                    }
                ));
            };
            match (takes_value, inline) {
                (true, Some(value)) => _ = parsed.values.insert(name, value),
                (true, None) => {
                    let value = args.next().ok_or(format!("{name} needs a value"))?;
                    parsed.values.insert(name, value);
                }
                (false, None) => parsed.flags.push(name),
                (false, Some(_)) => return Err(format!("{name} takes no value")),
            }
        }
        Ok(parsed)
    }

    fn value(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    fn flag(&self, name: &str) -> bool {
        self.flags.contains(&name)
    }

    fn number(&self, name: &str) -> Result<Option<u64>, String> {
        self.value(name)
            .map(|v| v.parse().map_err(|_| format!("{name} {v}: not a number")))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &[(&str, bool)] = &[("--app", true), ("--append", true), ("--el2", false)];

    fn parse(args: &[&str]) -> Result<Parsed, String> {
        Parsed::new(args.iter().map(|a| a.to_string()).collect(), SPEC)
    }

    #[test]
    fn values_and_flags() {
        let p = parse(&["--app", "selftest", "--el2", "--append=hz=250 -- ticks"]).unwrap();
        assert_eq!(p.value("--app"), Some("selftest"));
        assert_eq!(p.value("--append"), Some("hz=250 -- ticks"));
        assert!(p.flag("--el2"));
    }

    #[test]
    fn value_that_looks_like_an_option() {
        let p = parse(&["--append", "-- ticks", "--app", "hello"]).unwrap();
        assert_eq!(p.value("--append"), Some("-- ticks"));
        let p = parse(&["--append", "--el2"]).unwrap();
        assert_eq!(p.value("--append"), Some("--el2"));
        assert!(!p.flag("--el2"));
        assert_eq!(
            parse(&["--append", ""]).unwrap().value("--append"),
            Some("")
        );
    }

    #[test]
    fn errors() {
        assert!(parse(&["--bogus"]).is_err());
        assert!(parse(&["--app"]).is_err());
        assert!(parse(&["--el2=1"]).is_err());
        assert!(parse(&["stray"]).is_err());
    }

    #[test]
    fn numbers() {
        let spec = &[("--jobs", true)];
        let p = Parsed::new(vec!["--jobs".into(), "3".into()], spec).unwrap();
        assert_eq!(p.number("--jobs"), Ok(Some(3)));
        let p = Parsed::new(vec!["--jobs=x".into()], spec).unwrap();
        assert!(p.number("--jobs").is_err());
        assert_eq!(Parsed::default().number("--jobs"), Ok(None));
    }
}
