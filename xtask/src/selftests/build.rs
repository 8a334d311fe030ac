//! Linux's rseq selftests as static aarch64 programs: fetched from Debian's
//! `linux-source-7.*` by `xtask/fetch-rseq-selftests.sh` into
//! `target/rseq-selftests/src/` (only `tools/testing/selftests/rseq` and the
//! headers it includes; never copied into the repository), then compiled
//! the way their Makefile compiles them, with two differences forced by a
//! kernel without a dynamic loader or `fork()`: `-static`, with `rseq.c`
//! linked in instead of `librseq.so`, and the project's own non-forking
//! `kselftest_harness.h` (`apps/selftests/`) instead of Linux's, which the
//! fetch leaves out. Programs are rebuilt only when their command or an
//! input changed.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use crate::linux::CC;
use crate::workspace::{self, Workspace};

/// One program of the Makefile: its source and the `-D` options its rule
/// adds to `CFLAGS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Program {
    pub name: &'static str,
    pub source: &'static str,
    pub defines: &'static [&'static str],
}

const fn program(
    name: &'static str,
    source: &'static str,
    defines: &'static [&'static str],
) -> Program {
    Program {
        name,
        source,
        defines,
    }
}

/// The Makefile's `TEST_GEN_PROGS` and `TEST_GEN_PROGS_EXTENDED` (less
/// `librseq.so`, which is linked in), each with its rule's options.
pub const PROGRAMS: &[Program] = &[
    program("basic_test", "basic_test.c", &[]),
    program("basic_percpu_ops_test", "basic_percpu_ops_test.c", &[]),
    program(
        "basic_percpu_ops_mm_cid_test",
        "basic_percpu_ops_test.c",
        &["BUILDOPT_RSEQ_PERCPU_MM_CID"],
    ),
    program("param_test", "param_test.c", &[]),
    program("param_test_benchmark", "param_test.c", &["BENCHMARK"]),
    program(
        "param_test_compare_twice",
        "param_test.c",
        &["RSEQ_COMPARE_TWICE"],
    ),
    program(
        "param_test_mm_cid",
        "param_test.c",
        &["BUILDOPT_RSEQ_PERCPU_MM_CID"],
    ),
    program(
        "param_test_mm_cid_benchmark",
        "param_test.c",
        &["BUILDOPT_RSEQ_PERCPU_MM_CID", "BENCHMARK"],
    ),
    program(
        "param_test_mm_cid_compare_twice",
        "param_test.c",
        &["BUILDOPT_RSEQ_PERCPU_MM_CID", "RSEQ_COMPARE_TWICE"],
    ),
    program("syscall_errors_test", "syscall_errors_test.c", &[]),
    program("legacy_check", "legacy_check.c", &[]),
    program("check_optimized", "check_optimized.c", &[]),
    program("slice_test", "slice_test.c", &[]),
];

/// The fetched sources: `target/rseq-selftests`.
pub fn dir(ws: &Workspace) -> PathBuf {
    ws.target.join("rseq-selftests")
}

/// Where a built program is.
pub fn bin_path(ws: &Workspace, name: &str) -> PathBuf {
    dir(ws).join("bin").join(name)
}

/// `tools/testing/selftests/rseq` of the fetched tree.
fn rseq_dir(ws: &Workspace) -> PathBuf {
    dir(ws).join("src/tools/testing/selftests/rseq")
}

/// The fetched version (`linux-source-7.2 7.2.13-1`), fetching first when
/// the sources are not there.
pub fn fetch(ws: &Workspace) -> Result<String, String> {
    let dir = dir(ws);
    let version = dir.join("VERSION");
    if !version.is_file() || !rseq_dir(ws).join("Makefile").is_file() {
        eprintln!("fetching Linux's rseq selftests from Debian sid's linux-source-7.*");
        let mut cmd = Command::new("bash");
        cmd.arg(ws.root.join("xtask/fetch-rseq-selftests.sh"))
            .arg(&dir);
        workspace::run(&mut cmd)?;
    }
    let text = fs::read_to_string(&version).map_err(|e| format!("{}: {e}", version.display()))?;
    Ok(text.trim().to_string())
}

/// What the fetched version offers that changes what a test does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Features {
    /// `rseq-arm64*.h` defines `RSEQ_ARCH_HAS_OFFSET_DEREF_ADDV`: without
    /// it, param_test's membarrier test (`-T r`) skips itself on arm64.
    pub arm64_offset_deref_addv: bool,
}

/// The built programs of one fetched version.
#[derive(Debug, Clone)]
pub struct Built {
    /// `linux-source-7.2 7.2.13-1`.
    pub version: String,
    /// Each program of [`PROGRAMS`] whose source this version has.
    pub bins: BTreeMap<&'static str, PathBuf>,
    /// Programs of [`PROGRAMS`] whose source this version lacks.
    pub absent: Vec<&'static str>,
    /// Programs the Makefile names that [`PROGRAMS`] does not know: not
    /// built, not run.
    pub unknown: Vec<String>,
    pub features: Features,
    /// How many tests each kselftest-harness program runs (its `TEST_F`s
    /// times its variants).
    pub harness_tests: BTreeMap<&'static str, usize>,
}

/// Fetches (when needed) and builds every program; each is rebuilt only
/// when its command line or one of the inputs changed.
pub fn build(ws: &Workspace) -> Result<Built, String> {
    let version = fetch(ws)?;
    if Command::new(CC).arg("--version").output().is_err() {
        return Err(format!(
            "{CC} not found: the rseq selftests need it (bash setup.sh installs it)"
        ));
    }
    let rseq = rseq_dir(ws);
    let selftests = rseq.parent().expect("selftests dir").to_path_buf();
    if selftests.join("kselftest_harness.h").exists() {
        return Err(format!(
            "{} is Linux's forking harness; the tests must find the project's \
             (apps/selftests) instead: remove {} and fetch again",
            ws.display(&selftests.join("kselftest_harness.h")),
            ws.display(&dir(ws))
        ));
    }
    let compiler = compiler(ws)?;
    let mut bins = BTreeMap::new();
    let mut absent = Vec::new();
    for p in PROGRAMS {
        let source = rseq.join(p.source);
        if !source.is_file() {
            absent.push(p.name);
            continue;
        }
        let out = compiler.bin.join(p.name);
        let defines: Vec<_> = p.defines.iter().map(|d| format!("-D{d}")).collect();
        let mut cmd = compiler.link(&defines, &source, &["-lpthread", "-ldl"]);
        workspace::compile(&mut cmd, &out, compiler.newest)?;
        bins.insert(p.name, out);
    }

    let makefile = fs::read_to_string(rseq.join("Makefile"))
        .map_err(|e| format!("{}: {e}", rseq.join("Makefile").display()))?;
    let unknown = makefile_programs(&makefile)
        .into_iter()
        .filter(|n| n != "librseq.so" && !PROGRAMS.iter().any(|p| p.name == n))
        .collect();
    let arm64 = ["rseq-arm64.h", "rseq-arm64-bits.h"]
        .iter()
        .filter_map(|h| fs::read_to_string(rseq.join(h)).ok())
        .collect::<String>();
    let features = Features {
        arm64_offset_deref_addv: arm64
            .lines()
            .any(|l| l.trim() == "#define RSEQ_ARCH_HAS_OFFSET_DEREF_ADDV"),
    };
    let mut harness_tests = BTreeMap::new();
    for p in PROGRAMS.iter().filter(|p| bins.contains_key(p.name)) {
        let text = fs::read_to_string(rseq.join(p.source)).unwrap_or_default();
        if let Some(n) = harness_test_count(&text) {
            harness_tests.insert(p.name, n);
        }
    }
    Ok(Built {
        version,
        bins,
        absent,
        unknown,
        features,
        harness_tests,
    })
}

/// The selftests' compiler options, their `rseq.c` compiled alone (what
/// `librseq.so` holds) and the newest input's time, for programs built
/// against them.
struct Compiler {
    cflags: Vec<String>,
    object: PathBuf,
    newest: SystemTime,
    bin: PathBuf,
}

impl Compiler {
    /// The command that links `source` statically with `rseq.o`, as the
    /// Makefile links a program with `librseq.so`: the selftests' flags,
    /// then `flags`, the source, the object and `libs`.
    fn link(&self, flags: &[String], source: &Path, libs: &[&str]) -> Command {
        let mut cmd = Command::new(CC);
        cmd.args(&self.cflags)
            .arg("-static")
            .args(flags)
            .arg(source)
            .arg(&self.object)
            .args(libs);
        cmd
    }
}

/// Builds `rseq.o` with the Makefile's `CFLAGS` (less `-static`).
fn compiler(ws: &Workspace) -> Result<Compiler, String> {
    let rseq = rseq_dir(ws);
    let selftests = rseq.parent().expect("selftests dir").to_path_buf();
    let harness = ws.root.join("apps/selftests");
    let src = dir(ws).join("src");
    let bin = dir(ws).join("bin");
    fs::create_dir_all(&bin).map_err(|e| format!("{}: {e}", bin.display()))?;

    // The Makefile's CFLAGS (with lib.mk's), the installed uapi headers
    // being the kernel's own where the cross toolchain's are older. The
    // harness folder's rseq/ comes first, for `#include
    // "../kselftest_harness.h"`.
    let cflags: Vec<String> = vec![
        "-O2".into(),
        "-Wall".into(),
        "-g".into(),
        format!("-I{}", harness.join("rseq").display()),
        format!("-I{}", rseq.display()),
        "-isystem".into(),
        src.join("include/uapi").display().to_string(),
        format!("-I{}", src.join("tools/include").display()),
        format!("-I{}", src.join("tools/arch/arm64/include").display()),
        "-D_GNU_SOURCE=".into(),
        format!("-I{}", selftests.display()),
    ];
    let newest = workspace::newest_input(&[&rseq, &selftests, &src.join("include/uapi/linux")])?
        .max(
            fs::metadata(harness.join("kselftest_harness.h"))
                .and_then(|m| m.modified())
                .map_err(|e| format!("apps/selftests/kselftest_harness.h: {e}"))?,
        );

    // librseq.so's rule compiles rseq.c alone: an object here.
    let object = bin.join("rseq.o");
    let mut cmd = Command::new(CC);
    cmd.args(&cflags).arg("-c").arg(rseq.join("rseq.c"));
    workspace::compile(&mut cmd, &object, newest)?;

    Ok(Compiler {
        cflags,
        object,
        newest,
        bin,
    })
}

/// The benchmark program `apps/bench-c/bench.c`, compiled with the
/// selftests' options against their `rseq.h` and linked with their
/// `rseq.c`, so its registration and per-CPU increment are the selftests'
/// own code: `target/rseq-selftests/bin/bench`. Fetches the sources first
/// when needed.
pub fn build_bench(ws: &Workspace) -> Result<PathBuf, String> {
    fetch(ws)?;
    if Command::new(CC).arg("--version").output().is_err() {
        return Err(format!(
            "{CC} not found: the benchmark program needs it (bash setup.sh installs it)"
        ));
    }
    let compiler = compiler(ws)?;
    let source = ws.root.join("apps/bench-c/bench.c");
    let newest = compiler.newest.max(
        fs::metadata(&source)
            .and_then(|m| m.modified())
            .map_err(|e| format!("apps/bench-c/bench.c: {e}"))?,
    );
    let out = compiler.bin.join("bench");
    let mut cmd = compiler.link(&["-Werror".into()], &source, &["-lpthread"]);
    workspace::compile(&mut cmd, &out, newest)?;
    Ok(out)
}

/// Builds the programs and checks each: `test`'s summary line, or the
/// first problem. Every program of the version must build, and be a
/// static aarch64 executable the kernel's loader takes.
pub fn check(ws: &Workspace) -> Result<String, String> {
    let built = build(ws)?;
    if built.bins.is_empty() {
        return Err(format!("{}: no program built", built.version));
    }
    for bin in built.bins.values() {
        let bytes = fs::read(bin).map_err(|e| format!("{}: {e}", bin.display()))?;
        crate::linux::check_elf(&bytes, crate::linux::Kind::Exec)
            .map_err(|e| format!("{}: {e}", ws.display(bin)))?;
    }
    Ok(format!(
        "{} programs of {}, each a static aarch64 ET_EXEC",
        built.bins.len(),
        built.version
    ))
}

/// The program names of the Makefile's `TEST_GEN_PROGS` and
/// `TEST_GEN_PROGS_EXTENDED` (continued lines included).
pub fn makefile_programs(makefile: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut continued = false;
    for line in makefile.lines() {
        let rest = if continued {
            Some(line)
        } else {
            ["TEST_GEN_PROGS", "TEST_GEN_PROGS_EXTENDED"]
                .iter()
                .find_map(|var| {
                    let after = line.strip_prefix(var)?.trim_start();
                    after
                        .strip_prefix("+=")
                        .or_else(|| after.strip_prefix(":="))
                        .or_else(|| after.strip_prefix('='))
                })
        };
        let Some(rest) = rest else {
            continue;
        };
        let rest = rest.trim_end();
        continued = rest.ends_with('\\');
        names.extend(
            rest.trim_end_matches('\\')
                .split_whitespace()
                .map(str::to_string),
        );
    }
    names
}

/// How many tests a kselftest-harness source runs: its `TEST_F`s and
/// `TEST`s, each once per `FIXTURE_VARIANT_ADD` (the rseq tests have one
/// fixture each); `None` for a source without the harness.
pub fn harness_test_count(source: &str) -> Option<usize> {
    if !source.contains("TEST_HARNESS_MAIN") {
        return None;
    }
    let starts = |prefix: &str| {
        source
            .lines()
            .filter(|l| l.trim_start().starts_with(prefix))
            .count()
    };
    let tests = starts("TEST_F(") + starts("TEST(");
    let variants = starts("FIXTURE_VARIANT_ADD(");
    Some(tests * variants.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn makefile_program_lists() {
        let makefile = "\
CFLAGS += -O2
TEST_GEN_PROGS = basic_test basic_percpu_ops_test \\
\t\t param_test_benchmark

TEST_GEN_PROGS_EXTENDED = librseq.so \\
\tparam_test \\
\tcheck_optimized

TEST_PROGS = run_param_test.sh
";
        assert_eq!(
            makefile_programs(makefile),
            [
                "basic_test",
                "basic_percpu_ops_test",
                "param_test_benchmark",
                "librseq.so",
                "param_test",
                "check_optimized"
            ]
        );
    }

    #[test]
    fn harness_tests_are_counted_per_variant() {
        let slice = "FIXTURE(slice_ext)\n{\n};\nFIXTURE_VARIANT_ADD(slice_ext, a)\n{\n};\n\
                     FIXTURE_VARIANT_ADD(slice_ext, b)\n{\n};\nTEST_F(slice_ext, t)\n{\n}\n\
                     TEST_HARNESS_MAIN\n";
        assert_eq!(harness_test_count(slice), Some(2));
        let legacy = "TEST_F(legacy, legacy_test)\n{\n}\nTEST_HARNESS_MAIN\n";
        assert_eq!(harness_test_count(legacy), Some(1));
        assert_eq!(harness_test_count("int main(void) { return 0; }"), None);
    }

    /// Every program the table builds from one source with options is one
    /// of the Makefile's rules: names are unique.
    #[test]
    fn program_names_are_unique() {
        let mut names: Vec<_> = PROGRAMS.iter().map(|p| p.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), PROGRAMS.len());
    }
}
