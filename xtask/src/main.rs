//! `cargo xtask`: the host-side tooling of rseq-os.
//!
//! Builds boot images, runs them under QEMU and runs the whole test suite.
//! Written against std only so it builds anywhere the pinned toolchain does;
//! arguments are parsed by hand for the same reason. This file only dispatches;
//! each command lives in its own module.

mod args;
mod bench;
mod boards;
mod build;
mod check;
mod firmware;
mod flash;
mod gdbcheck;
mod history;
mod host;
mod lint;
mod linux;
mod linuxref;
mod log;
mod modecheck;
mod newapp;
mod progress;
mod qemu;
mod runner;
mod scenarios;
mod sdcard;
mod selftests;
mod soak;
mod stress;
mod workspace;

use std::env;
use std::process::ExitCode;
use std::time::Duration;

use args::{Args, Spec, flag, value};
use workspace::Workspace;

const USAGE: &str = "\
usage: cargo xtask <command> [options]

Options are written --name value, --name=value or name=value (so `just qemu
app=selftest` works), or positionally in the order shown; flags also take
1/0 (el2=1).

commands:
  build  [app=hello] [board=virt] [debug] [elf=PATH [mode=linux|v1|v2]]
         build the app and a kernel embedding it; prints target/images/<board>-<app>.img.
         debug: the debug-image profile (opt-level 1, no LTO), into
         <board>-<app>-debug.img/.elf, leaving the release image alone.
         elf=: instead, the loader kernel for mode (<board>-loader-<mode>.img;
         default linux, or the mode the program declares), which runs the
         program it is given as its initrd. Also compiles
         the C programs of apps/linux into target/linux/ (NAME, NAME-pie)
  qemu   [app=hello] [el2] [gic=2|3] [cpu=cortex-a72] [append=ARGS] [board=virt] [gdb [port=1234]] [debug]
         [elf=PATH [mode=linux|v1|v2]] [env=\"K=V K2=V2\"]
         build, then boot under QEMU on this terminal (quit: Ctrl-A X) and exit
         with QEMU's status (the kernel's semihosting exit). gdb: wait for gdb
         on 127.0.0.1:port before the first instruction. QEMU dies with xtask.
         elf=: boot the program at PATH (a static aarch64 ELF) with the loader
         kernel for mode (linux: each registration's length picks v1 or v2,
         as on Linux; the default), as QEMU's -initrd; argv[0] is its file name.
         env=: the program's environment (the kernel's env= options)
  objdump|nm|size [app=hello] [board=virt] [debug]
         build, then run llvm-objdump -d, llvm-nm -n or llvm-size on the
         image's kernel ELF (target/images/<board>-<app>[-debug].elf)
  test   [filter=SUBSTR] [jobs=2] [timeout=60] [no-host] [no-build]
         host `cargo test`, then the QEMU scenarios whose board/name contains
         SUBSTR (all by default), jobs at a time, each killed after timeout
         seconds; a line per result, `[n/N elapsed] PASS|FAIL board/name
         (its time)`, then `N passed, N failed`. no-build reuses the images
         in target/images. Serial logs: target/test-logs/<board>/<scenario>.log
  bench  [board=virt] [clock=icount|wall] [runs=2] [linux=1] [rust=0]
         one C program (apps/bench-c) on rseq-os (no registration, v1, v2,
         and the linux kernel with v2) and on Linux (Debian sid's newest
         arm64 kernel, fetched and cached in target/linux-kernel; linux=0
         skips it; its results are cached per kernel version and program),
         side by side with the ratios: a table, and bench.json, bench.svg,
         bench.txt and the serial logs in target/bench/<board>/<commit>/.
         icount: QEMU -icount shift=0,sleep=off, figures are instructions
         per operation and identical run to run (runs=2 checks it); wall:
         emulated time. rust=1: the Rust benchmark app's four builds
         instead, with the kernel's rseq counters per operation
  soak   [minutes=10] [board=all|virt|rpi4] [calls=200000]
         for about `minutes`: rounds of the SMP stress, the fuzz app (a new
         seed each round, calls per run) and rseq per-CPU stress, alternating
         boards, every run checked for exact sums, no kernel panic and a
         bounded kernel heap (no run starts after the time is up); a line
         per run as it ends, then a report adding up rounds, increments, fuzz
         calls and heap growth, also written to target/soak/report.txt
  stress [seconds=120] [board=all|virt|rpi4]
         the long SMP stress (apps/smp `stress`): futex-mutex sums, thread
         churn, yields and migrations on 4 CPUs, every total exact; not part
         of `test`. Prints the app's progress every 5 s with running totals,
         then each run's figures and the full path of its serial log
  selftests [board=virt|rpi4|all] [mode=v1|v2|linux|all] [set=quick|full] [jobs=2] [timeout=600]
         [append=OPTS] [filter=SUBSTR]
         Linux's own rseq selftests (tools/testing/selftests/rseq of Debian
         sid's newest linux-source-7.*, fetched into target/rseq-selftests/
         and built with -static): every invocation of kselftest and the
         runner scripts (set=full, run_param_test.sh's ~2000) or a
         representative few (set=quick, as `test` runs them), one QEMU boot each with the
         runners' environment, judged against the expected results of the
         mode; then a table per program, board and mode. Defaults: board=virt,
         mode=all (every mode this xtask builds kernels for), set=quick.
         append: kernel options for every boot (hz=1000); filter: only the
         invocations whose name (param_test/loop-3/list) contains SUBSTR
  sdcard [app=hello] [cmdline=ARGS] [out=target/rpi4-sdcard.img] [elf=PATH [mode=linux|v1|v2] [env=\"K=V\"]]
         build the rpi4 kernel and a Raspberry Pi 4 SD card image: MBR, one
         FAT32 partition holding start4.elf, fixup4.dat, bcm2711-rpi-4-b.dtb
         (fetched from Debian when absent), config.txt, cmdline.txt (ARGS) and
         kernel8.img; then verify the image file by file against its sources
  flash  device=/dev/sdX [image=target/rpi4-sdcard.img] [yes]
         write the image to a removable, unmounted disk that is not the system
         disk, after asking (yes=1: without asking), with progress; then read
         it back and compare. Needs write access to the device (root)
  apps   the apps an image can be built from, with their rseq mode and
         what each is for
  new-app NAME [mode=v1|v2|linux|none]
         create apps/NAME from apps/template (per-CPU counters with rseq, in
         the given mode; default v2) and add it to the workspace members;
         then `just qemu app=NAME` builds and boots it
  lint   cargo fmt --check, and clippy -D warnings on host crates, apps and kernel
  help   this text";

// The upper bounds of counts: beyond them a value is a typo (and
// `seconds * 2` must not overflow).
/// `jobs`: QEMUs at once.
const MAX_JOBS: u64 = 64;
/// `timeout`, `seconds`: a day.
const MAX_SECONDS: u64 = 24 * 60 * 60;
/// `minutes`: a week.
const MAX_MINUTES: u64 = 7 * 24 * 60;
/// `runs` of the benchmark.
const MAX_RUNS: u64 = 100;
/// `calls` per fuzz run.
const MAX_CALLS: u64 = 1_000_000_000;

const BUILD: Spec = Spec {
    opts: &[
        value("board"),
        value("app"),
        flag("debug"),
        value("elf"),
        value("mode"),
    ],
    positional: &["app", "board"],
};
const QEMU: Spec = Spec {
    opts: &[
        value("board"),
        value("app"),
        value("elf"),
        value("mode"),
        value("env"),
        flag("el2"),
        value("gic"),
        value("cpu"),
        value("append"),
        flag("gdb"),
        value("port"),
        flag("debug"),
    ],
    // The order of the justfile's `qemu` parameters.
    positional: &["app", "el2", "gic", "cpu", "append"],
};
const TEST: Spec = Spec {
    opts: &[
        value("filter"),
        value("jobs"),
        value("timeout"),
        flag("no-host"),
        flag("no-build"),
    ],
    positional: &["filter"],
};
const BENCH: Spec = Spec {
    opts: &[
        value("board"),
        value("clock"),
        value("runs"),
        value("linux"),
        value("rust"),
    ],
    positional: &["board", "clock", "runs"],
};
const SOAK: Spec = Spec {
    opts: &[value("minutes"), value("board"), value("calls")],
    positional: &["minutes", "board", "calls"],
};
const STRESS: Spec = Spec {
    opts: &[value("seconds"), value("board")],
    positional: &["seconds", "board"],
};
const SELFTESTS: Spec = Spec {
    opts: &[
        value("board"),
        value("mode"),
        value("set"),
        value("jobs"),
        value("timeout"),
        value("append"),
        value("filter"),
    ],
    positional: &["board", "mode", "set"],
};
const NEW_APP: Spec = Spec {
    opts: &[value("name"), value("mode")],
    positional: &["name", "mode"],
};
const LINT: Spec = Spec {
    opts: &[],
    positional: &[],
};

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
            let opts = Args::parse(args, &BUILD)?;
            let board = boards::find(opts.value("board").unwrap_or("virt"))?;
            let (image, _) = build_image(&ws, board, &opts, profile(&opts)?)?;
            println!("{}", image.img.display());
            // The C programs too, so that one that stops compiling is seen.
            let programs = linux::build_all(&ws)?;
            println!(
                "{} Linux programs in {}",
                programs.len(),
                ws.display(&linux::out_dir(&ws))
            );
            Ok(ExitCode::SUCCESS)
        }
        "qemu" => qemu_command(&ws, args),
        "test" => {
            let opts = Args::parse(args, &TEST)?;
            if let Some(filter) = opts.value("filter")
                && !runner::filter_matches(filter)
                && !selftests::test_set_matches(filter)
            {
                return Err(format!(
                    "no test matches filter={filter:?} (scenario names are board/name, e.g. virt/hello-el1-gicv2)"
                ));
            }
            let opts = runner::Options {
                filter: opts.value("filter").map(str::to_string),
                jobs: opts.count("jobs", MAX_JOBS)?.unwrap_or(2).max(1) as usize,
                host: !opts.flag("no-host")?,
                build: !opts.flag("no-build")?,
                timeout: Duration::from_secs(opts.count("timeout", MAX_SECONDS)?.unwrap_or(60)),
                only: None,
                deadline: None,
                // Linux's rseq selftests' test set, once their programs
                // build (a failure to build is the build check's to report).
                more: Some(selftests::test_scenarios),
            };
            Ok(exit(runner::run(&ws, &opts)))
        }
        "bench" => {
            let opts = Args::parse(args, &BENCH)?;
            let icount = match opts.value("clock").unwrap_or("icount") {
                "icount" => true,
                "wall" => false,
                other => return Err(format!("clock={other}: expected icount or wall")),
            };
            let opts = bench::Options {
                board: boards::find(opts.value("board").unwrap_or("virt"))?,
                icount,
                runs: opts
                    .count("runs", MAX_RUNS)?
                    .unwrap_or(if icount { 2 } else { 1 }) as usize,
                linux: opts.value("linux").is_none() || opts.flag("linux")?,
                rust: opts.flag("rust")?,
            };
            Ok(exit(bench::run(&ws, &opts)?))
        }
        "soak" => {
            let opts = Args::parse(args, &SOAK)?;
            let boards: Vec<&'static str> = match opts.value("board").unwrap_or("all") {
                "all" => boards::BOARDS.iter().map(|b| b.name).collect(),
                one => vec![boards::find(one)?.name],
            };
            let opts = soak::Options {
                minutes: opts.count("minutes", MAX_MINUTES)?.unwrap_or(10),
                boards,
                calls: opts.count("calls", MAX_CALLS)?.unwrap_or(200_000),
            };
            Ok(exit(soak::run(&ws, &opts)))
        }
        "stress" => {
            let opts = Args::parse(args, &STRESS)?;
            let seconds = opts.count("seconds", MAX_SECONDS)?.unwrap_or(120);
            let boards: Vec<&'static str> = match opts.value("board").unwrap_or("all") {
                "all" => boards::BOARDS.iter().map(|b| b.name).collect(),
                one => vec![boards::find(one)?.name],
            };
            Ok(exit(stress::run(&ws, seconds, &boards)))
        }
        "selftests" => {
            let opts = Args::parse(args, &SELFTESTS)?;
            let boards: Vec<&'static str> = match opts.value("board").unwrap_or("virt") {
                "all" => boards::BOARDS.iter().map(|b| b.name).collect(),
                one => vec![boards::find(one)?.name],
            };
            let modes = match opts.value("mode").unwrap_or("all") {
                "all" => selftests::known_modes(),
                one => vec![
                    selftests::matrix::Mode::parse(one)
                        .ok_or_else(|| format!("mode={one}: expected v1, v2, linux or all"))?,
                ],
            };
            let set = opts.value("set").unwrap_or("quick");
            let opts = selftests::Options {
                boards,
                modes,
                set: selftests::matrix::Set::parse(set)
                    .ok_or_else(|| format!("set={set}: expected quick or full"))?,
                jobs: opts.count("jobs", MAX_JOBS)?.unwrap_or(2) as usize,
                timeout: Duration::from_secs(opts.count("timeout", MAX_SECONDS)?.unwrap_or(600)),
                append: opts.value("append").unwrap_or("").to_string(),
                filter: opts.value("filter").map(str::to_string),
            };
            if opts.append.contains("--") {
                return Err(
                    "append= takes kernel options only: the programs' arguments are the runners'"
                        .to_string(),
                );
            }
            Ok(exit(selftests::run(&ws, &opts)?))
        }
        "sdcard" => sdcard::command(&ws, args),
        "flash" => flash::command(&ws, args),
        tool @ ("objdump" | "nm" | "size") => {
            let opts = Args::parse(args, &BUILD)?;
            let board = boards::find(opts.value("board").unwrap_or("virt"))?;
            let (image, _) = build_image(&ws, board, &opts, profile(&opts)?)?;
            let flags: &[&str] = match tool {
                "objdump" => &["-d", "--no-show-raw-insn"],
                "nm" => &["-n", "-C"],
                _ => &["-A"],
            };
            let status =
                std::process::Command::new(build::llvm_tool(&ws, &format!("llvm-{tool}"))?)
                    .args(flags)
                    .arg(&image.elf)
                    .status()
                    .map_err(|e| format!("cannot run llvm-{tool}: {e}"))?;
            Ok(exit(status.success()))
        }
        "apps" => {
            Args::parse(args, &LINT)?;
            let lines = ws.apps(true).into_iter().map(|app| {
                let (mode, description) = ws.app_info(&app);
                format!("{app:<11} {mode:<5} {description}")
            });
            print_lines(lines);
            Ok(ExitCode::SUCCESS)
        }
        "new-app" => {
            let opts = Args::parse(args, &NEW_APP)?;
            let name = opts.value("name").unwrap_or_default();
            newapp::run(&ws, name, opts.value("mode").unwrap_or("v2"))?;
            Ok(ExitCode::SUCCESS)
        }
        "lint" => {
            Args::parse(args, &LINT)?;
            Ok(exit(lint::run(&ws)))
        }
        "help" | "-h" | "--help" => {
            print_lines(USAGE.lines().map(str::to_string));
            Ok(ExitCode::SUCCESS)
        }
        other => Err(format!("unknown command {other:?}\n\n{USAGE}")),
    }
}

/// Prints a listing, stopping quietly when stdout is closed
/// (`cargo xtask apps | head -3`), where `println!` would panic.
fn print_lines(lines: impl Iterator<Item = String>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    for line in lines {
        if writeln!(out, "{line}").is_err() {
            return;
        }
    }
}

/// `cargo xtask qemu`: build, then boot interactively.
fn qemu_command(ws: &Workspace, args: Vec<String>) -> Result<ExitCode, String> {
    let opts = Args::parse(args, &QEMU)?;
    let board = boards::find(opts.value("board").unwrap_or("virt"))?;
    let gic = match opts.value("gic") {
        None => None,
        Some("2") => Some(2),
        Some("3") => Some(3),
        Some(other) => return Err(format!("gic={other}: expected 2 or 3")),
    };
    let qemu_opts = qemu::Options {
        el2: opts.flag("el2")?,
        gic,
        cpu: opts.value("cpu").map(str::to_string),
        append: build::program_cmdline(
            program(&opts)?.as_deref(),
            opts.value("env").unwrap_or(""),
            opts.value("append").unwrap_or(""),
        )?,
        gdb: match (opts.flag("gdb")?, opts.count("port", u16::MAX.into())?) {
            (false, None) => None,
            (false, Some(_)) => return Err("port= goes with gdb".to_string()),
            // In range: count() checked it.
            (true, port) => Some(port.map_or(1234, |p| p as u16)),
        },
        dtb: None,
        initrd: None,
        round_robin: false,
        icount: false,
    };
    // Reject options the board cannot honour before a minute of building.
    let profile = profile(&opts)?;
    qemu::args(board, std::path::Path::new("kernel.img"), &qemu_opts)?;
    let (image, initrd) = build_image(ws, board, &opts, profile)?;
    let qemu_opts = qemu::Options {
        dtb: firmware::qemu_dtb(ws, board)?,
        initrd,
        ..qemu_opts
    };
    let mut cmd = qemu::command(board, &image.img, &qemu_opts)?;
    eprintln!("{}", workspace::describe(&cmd));
    if let Some(port) = qemu_opts.gdb {
        eprintln!(
            "QEMU waits for gdb on 127.0.0.1:{port}. In another terminal:\n  \
             gdb-multiarch {} -ex 'target remote 127.0.0.1:{port}'",
            ws.display(&image.elf)
        );
    }
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run {}: {e}", qemu::QEMU))?;
    // The kernel's semihosting exit status is the point of the run: pass it on.
    Ok(ExitCode::from(status.code().unwrap_or(1) as u8))
}

/// The program `elf=` names, as an absolute path (it must exist).
fn program(opts: &Args) -> Result<Option<std::path::PathBuf>, String> {
    opts.value("elf")
        .map(|elf| std::fs::canonicalize(elf).map_err(|e| format!("elf={elf}: {e}")))
        .transpose()
}

/// Builds what `opts` asks for: with `elf=PATH [mode=linux|v1|v2]`, the
/// loader kernel for that mode, returned with the program to pass as its
/// initrd;
/// otherwise the image embedding `app=` (hello by default).
fn build_image(
    ws: &Workspace,
    board: &'static boards::Board,
    opts: &Args,
    profile: build::Profile,
) -> Result<(build::Image, Option<std::path::PathBuf>), String> {
    let Some(elf) = program(opts)? else {
        if let Some(mode) = opts.value("mode") {
            return Err(format!(
                "mode={mode} goes with elf=: an app's rseq mode is its rt::rseq_mode! declaration"
            ));
        }
        let app = opts.value("app").unwrap_or("hello");
        return Ok((build::build_as(ws, board, app, profile)?, None));
    };
    if opts.value("app").is_some() {
        return Err(
            "app= and elf= exclude each other: app= embeds an app of apps/ in the kernel, \
             elf= boots a program from the initrd"
                .to_string(),
        );
    }
    let bytes = std::fs::read(&elf).map_err(|e| format!("{}: {e}", elf.display()))?;
    let mode = build::program_mode(&bytes, opts.value("mode"))
        .map_err(|e| format!("elf={}: {e}", elf.display()))?;
    Ok((build::build_loader(ws, board, mode, profile)?, Some(elf)))
}

/// The build profile that `debug=1` asks for.
fn profile(opts: &Args) -> Result<build::Profile, String> {
    Ok(if opts.flag("debug")? {
        build::Profile::Debug
    } else {
        build::Profile::Release
    })
}

/// Success or failure as a process exit code.
fn exit(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
