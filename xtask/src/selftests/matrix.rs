//! What runs: each invocation of Linux's rseq selftests that kselftest and
//! the folder's runner scripts make, with their arguments and environment,
//! and what each must show in each rseq mode (the expected-results table).
//!
//! kselftest runs the Makefile's `TEST_GEN_PROGS` as they are (no
//! arguments, the environment untouched, so glibc registers its own rseq
//! area), then the `TEST_PROGS` scripts: `run_param_test.sh`,
//! `run_syscall_errors_test.sh`, `run_legacy_check.sh` and
//! `run_timeslice_test.sh`. Each script sets
//! `GLIBC_TUNABLES=${GLIBC_TUNABLES:-}:glibc.pthread.rseq=0`, so glibc
//! registers nothing and the tests register themselves. Here every
//! invocation is one boot, and the scripts' `|| exit 1` does not stop the
//! rest: each is judged on its own.

/// The CPUs of every board (QEMU virt is started with `-smp 4`; the Pi 4
/// has 4): run_param_test.sh counts them in /proc/cpuinfo.
pub const NR_CPUS: u32 = 4;
/// run_param_test.sh's `REPS`.
const REPS: u32 = 1000;
/// run_param_test.sh's `NR_THREADS`: six per CPU.
const NR_THREADS: u32 = 6 * NR_CPUS;
/// run_param_test.sh's `NR_LOOPS` for the loop injection.
const NR_LOOPS: u32 = 10000;
/// The environment the runner scripts set (with `GLIBC_TUNABLES` unset
/// before, so its value starts with the separator).
pub const TUNABLES: &str = "GLIBC_TUNABLES=:glibc.pthread.rseq=0";

/// run_param_test.sh's `TEST_LIST` and `TEST_NAME`.
const PARAM_TESTS: [(&str, &str); 8] = [
    ("-T s", "spinlock"),
    ("-T l", "list"),
    ("-T b", "buffer"),
    ("-T b -M", "buffer-barrier"),
    ("-T m", "memcpy"),
    ("-T m -M", "memcpy-barrier"),
    ("-T i", "increment"),
    ("-T r", "membarrier"),
];
/// The programs `do_tests` runs for each test, in its order.
const PARAM_PROGRAMS: [&str; 4] = [
    "param_test",
    "param_test_compare_twice",
    "param_test_mm_cid",
    "param_test_mm_cid_compare_twice",
];
/// `inject_blocking`'s passes: label and options (`-L` added in the legacy
/// half).
const BLOCKING: [(&str, &str); 9] = [
    ("yield-25", "-m 4 -y"),
    ("yield-50", "-m 2 -y"),
    ("yield-100", "-m 1 -y"),
    ("kill-25", "-m 4 -k"),
    ("kill-50", "-m 2 -k"),
    ("kill-100", "-m 1 -k"),
    ("sleep-25", "-m 4 -s 1"),
    ("sleep-50", "-m 2 -s 1"),
    ("sleep-100", "-m 1 -s 1"),
];
/// `inject_blocking`'s injection points.
const BLOCKING_POINTS: [u32; 3] = [7, 8, 9];

/// The rseq mode of the kernel a test boots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mode {
    /// Legacy only: 32-byte registrations.
    V1,
    /// Optimized only: registrations longer than 32 bytes.
    V2,
    /// Both, chosen per registration by its length, as Linux does.
    Linux,
}

impl Mode {
    pub const ALL: [Mode; 3] = [Mode::V1, Mode::V2, Mode::Linux];

    /// `mode=` as xtask and the kernel builds spell it.
    pub fn name(self) -> &'static str {
        match self {
            Mode::V1 => "v1",
            Mode::V2 => "v2",
            Mode::Linux => "linux",
        }
    }

    pub fn parse(s: &str) -> Option<Mode> {
        Mode::ALL.into_iter().find(|m| m.name() == s)
    }

    /// Whether this kernel refuses a registration of kind `r`.
    pub fn refuses(self, r: Registration) -> bool {
        matches!(
            (self, r),
            (Mode::V1, Registration::Optimized) | (Mode::V2, Registration::Legacy)
        )
    }

    /// The kernel's line for such a refusal (`[rseq] tid N: ...`).
    pub fn refusal_line(self) -> &'static str {
        match self {
            Mode::V1 => {
                "registration longer than 32 bytes (v2) refused: this kernel image is built for rseq v1"
            }
            Mode::V2 | Mode::Linux => {
                "32-byte (v1) registration refused: this kernel image is built for rseq v2"
            }
        }
    }
}

/// The rseq area an invocation registers, which decides its outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    /// glibc's (no tunable): glibc 2.36 registers 32 bytes before `main`;
    /// where the kernel refuses them, the test registers its own
    /// (`AT_RSEQ_FEATURE_SIZE`) area instead. Works in every mode.
    Glibc,
    /// 32 bytes, `ORIG_RSEQ_ALLOC_SIZE`: the legacy ABI (`-L`,
    /// legacy_check, syscall_errors_test's fixed length).
    Legacy,
    /// `AT_RSEQ_FEATURE_SIZE` bytes (33 on rseq-os): the optimized ABI.
    Optimized,
}

/// Who makes an invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Runner {
    /// kselftest itself, for `TEST_GEN_PROGS`.
    Kselftest,
    ParamTest,
    SyscallErrors,
    LegacyCheck,
    Timeslice,
}

impl Runner {
    pub fn name(self) -> &'static str {
        match self {
            Runner::Kselftest => "kselftest",
            Runner::ParamTest => "run_param_test.sh",
            Runner::SyscallErrors => "run_syscall_errors_test.sh",
            Runner::LegacyCheck => "run_legacy_check.sh",
            Runner::Timeslice => "run_timeslice_test.sh",
        }
    }
}

/// One run of one program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// A program of `build::PROGRAMS`.
    pub program: &'static str,
    /// Its `argv[1..]`, as the runner passes them.
    pub args: String,
    /// Whether it runs with [`TUNABLES`].
    pub tunables: bool,
    pub runner: Runner,
    /// Unique among the invocations of one mode; names the log file.
    pub name: String,
    pub registration: Registration,
    /// Runs only after `./check_optimized` succeeded (run_param_test.sh's
    /// optimized half, run_timeslice_test.sh's slice_test).
    pub gated: bool,
}

/// The test programs the runner scripts gate on check_optimized.
pub const GATE: &str = "check_optimized";

/// Which invocations a run makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Set {
    /// Every invocation of kselftest and the four scripts.
    Full,
    /// A representative few: every program at least once, each part of
    /// run_param_test.sh's matrix at least once.
    Quick,
}

impl Set {
    pub fn parse(s: &str) -> Option<Set> {
        match s {
            "full" => Some(Set::Full),
            "quick" => Some(Set::Quick),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Set::Full => "full",
            Set::Quick => "quick",
        }
    }
}

/// The programs that take minutes rather than seconds: each starts 200
/// threads, and each thread calls `sched_yield()` 100,000 times in its list
/// test (20 million context switches, about 2 minutes of host time under
/// QEMU virt). They get [`LONG_TIMEOUT`], boot with QEMU's vCPUs round
/// robin on one host thread (a third less host CPU than a thread per vCPU
/// on 2 cores), and the runner starts them first, one at a time while
/// short invocations wait.
pub const LONG_PROGRAMS: [&str; 2] = ["basic_percpu_ops_test", "basic_percpu_ops_mm_cid_test"];

/// How long one invocation of a [`LONG_PROGRAMS`] program may take, even in
/// a run whose timeout is shorter (`just test`'s 60 s).
pub const LONG_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

/// `-T b -M` → `buffer-barrier`.
fn test_label(test: &str) -> &'static str {
    PARAM_TESTS
        .iter()
        .find(|(t, _)| *t == test)
        .map(|(_, label)| *label)
        .expect("a TEST_LIST entry")
}

/// One `./PROGRAM TEST -r REPS -t NR_THREADS EXTRA` line of `do_tests`.
fn param(program: &'static str, test: &str, step: &str, extra: &str, legacy: bool) -> Invocation {
    let mut args = format!("{test} -r {REPS} -t {NR_THREADS}");
    if !extra.is_empty() {
        args.push(' ');
        args.push_str(extra);
    }
    Invocation {
        program,
        args,
        tunables: true,
        runner: Runner::ParamTest,
        name: format!("{program}/{step}/{}", test_label(test)),
        registration: if legacy {
            Registration::Legacy
        } else {
            Registration::Optimized
        },
        gated: false,
    }
}

/// A program run with no arguments.
fn plain(program: &'static str, runner: Runner, registration: Registration) -> Invocation {
    Invocation {
        program,
        args: String::new(),
        tunables: runner != Runner::Kselftest,
        runner,
        name: program.to_string(),
        registration,
        gated: false,
    }
}

/// `do_tests EXTRA`: each test, each of the four programs.
fn do_tests(out: &mut Vec<Invocation>, step: &str, extra: &str, legacy: bool, gated: bool) {
    for (test, _) in PARAM_TESTS {
        for program in PARAM_PROGRAMS {
            out.push(Invocation {
                gated,
                ..param(program, test, step, extra, legacy)
            });
        }
    }
}

/// The invocations of `set`, in the order kselftest makes them.
pub fn invocations(set: Set) -> Vec<Invocation> {
    match set {
        Set::Full => full(),
        Set::Quick => quick(),
    }
}

/// kselftest's `TEST_GEN_PROGS`.
fn gen_progs() -> Vec<Invocation> {
    [
        "basic_test",
        "basic_percpu_ops_test",
        "basic_percpu_ops_mm_cid_test",
        "param_test_benchmark",
        "param_test_mm_cid_benchmark",
    ]
    .into_iter()
    .map(|p| plain(p, Runner::Kselftest, Registration::Glibc))
    .collect()
}

/// The three small runner scripts and the gate.
fn scripts() -> Vec<Invocation> {
    vec![
        plain(GATE, Runner::ParamTest, Registration::Optimized),
        plain(
            "syscall_errors_test",
            Runner::SyscallErrors,
            Registration::Legacy,
        ),
        plain("legacy_check", Runner::LegacyCheck, Registration::Legacy),
        Invocation {
            gated: true,
            ..plain("slice_test", Runner::Timeslice, Registration::Optimized)
        },
    ]
}

fn full() -> Vec<Invocation> {
    let mut out = gen_progs();
    do_tests(&mut out, "default", "", false, false);
    for point in 1..=9 {
        let step = format!("loop-{point}");
        do_tests(
            &mut out,
            &step,
            &format!("-{point} {NR_LOOPS}"),
            false,
            false,
        );
    }
    for legacy in [true, false] {
        for (label, opts) in BLOCKING {
            for point in BLOCKING_POINTS {
                let half = if legacy { "legacy" } else { "optimized" };
                let step = format!("{half}-{label}-at-{point}");
                let extra = if legacy {
                    format!("-{point} -1 {opts} -L")
                } else {
                    format!("-{point} -1 {opts}")
                };
                do_tests(&mut out, &step, &extra, legacy, !legacy);
            }
        }
    }
    out.extend(scripts());
    out
}

fn quick() -> Vec<Invocation> {
    let mut out = gen_progs();
    let inject = |point: u32, opts: &str, legacy: bool| {
        if legacy {
            format!("-{point} -1 {opts} -L")
        } else {
            format!("-{point} -1 {opts}")
        }
    };
    let gated = |i: Invocation| Invocation { gated: true, ..i };
    out.extend([
        param("param_test", "-T s", "default", "", false),
        param("param_test", "-T r", "default", "", false),
        param(
            "param_test_compare_twice",
            "-T l",
            "loop-3",
            &format!("-3 {NR_LOOPS}"),
            false,
        ),
        param(
            "param_test_mm_cid",
            "-T l",
            "legacy-yield-25-at-7",
            &inject(7, "-m 4 -y", true),
            true,
        ),
        param(
            "param_test_mm_cid_compare_twice",
            "-T m",
            "legacy-kill-50-at-8",
            &inject(8, "-m 2 -k", true),
            true,
        ),
        param(
            "param_test",
            "-T i",
            "legacy-sleep-25-at-9",
            &inject(9, "-m 4 -s 1", true),
            true,
        ),
        gated(param(
            "param_test_mm_cid",
            "-T i",
            "optimized-kill-100-at-9",
            &inject(9, "-m 1 -k", false),
            false,
        )),
        gated(param(
            "param_test_mm_cid_compare_twice",
            "-T b -M",
            "optimized-yield-50-at-8",
            &inject(8, "-m 2 -y", false),
            false,
        )),
        gated(param(
            "param_test_compare_twice",
            "-T s",
            "optimized-sleep-25-at-7",
            &inject(7, "-m 4 -s 1", false),
            false,
        )),
    ]);
    out.extend(scripts());
    out
}

/// What an invocation must show in a mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Exit status 0; a harness program runs every test ok, none skipped.
    Pass,
    /// The kernel refuses the registration by the mode rules: its
    /// `[rseq] tid N: ...` line, and the program's failing exit status.
    Refused,
    /// The test finds nothing to test here and says so: exit status 0
    /// and this line.
    SkipsItself(&'static str),
    /// Not run: the runner script skips it because `check_optimized`
    /// fails in this mode ("Skipping optimized RSEQ mode test. Not
    /// supported").
    NotRun,
}

/// param_test's line when the architecture lacks `rseq_offset_deref_addv`.
pub const NO_OFFSET_DEREF_ADDV: &str =
    "rseq_offset_deref_addv is not implemented on this architecture. Skipping membarrier test.";

/// The expected-results table: what `inv` must show in `mode`.
///
/// | registration | v1 | v2 | linux |
/// |---|---|---|---|
/// | glibc's (kselftest's direct runs) | pass | pass | pass |
/// | 32 bytes (`-L`, legacy_check, syscall_errors_test) | pass | refused | pass |
/// | `AT_RSEQ_FEATURE_SIZE` (default, loop injection, check_optimized) | refused | pass | pass |
/// | behind check_optimized (optimized half, slice_test) | not run | pass | pass |
///
/// `-T r` skips itself where the arm64 header lacks
/// `rseq_offset_deref_addv` (`offset_deref_addv` false), once registered.
pub fn expect(inv: &Invocation, mode: Mode, offset_deref_addv: bool) -> Expect {
    if inv.gated && mode.refuses(Registration::Optimized) {
        return Expect::NotRun;
    }
    if mode.refuses(inv.registration) {
        return Expect::Refused;
    }
    if inv.args.starts_with("-T r") && !offset_deref_addv {
        return Expect::SkipsItself(NO_OFFSET_DEREF_ADDV);
    }
    Expect::Pass
}

/// The exit status of a program whose registration was refused: a
/// kselftest-harness program fails its test (`KSFT_FAIL`); the others
/// return -1 from `main`.
pub fn refused_status(harness: bool) -> i32 {
    if harness { 1 } else { 255 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(list: &[Invocation], f: impl Fn(&Invocation) -> bool) -> usize {
        list.iter().filter(|i| f(i)).count()
    }

    /// run_param_test.sh's matrix: 8 tests x 4 programs for the default
    /// run, each of 9 loop injection points, and each of 9 blocking passes
    /// at 3 points in the legacy and in the optimized half; plus
    /// kselftest's 5 direct runs, the gate and the three other scripts.
    #[test]
    fn the_full_matrix_is_the_runners() {
        let full = invocations(Set::Full);
        let param = 32 * (1 + 9 + 2 * 9 * 3);
        assert_eq!(param, 2048);
        assert_eq!(full.len(), 5 + param + 4);
        assert_eq!(count(&full, |i| i.runner == Runner::ParamTest), param + 1);
        assert_eq!(count(&full, |i| i.gated), 32 * 27 + 1);
        assert_eq!(count(&full, |i| i.args.ends_with(" -L")), 32 * 27);
        let mut names: Vec<_> = full.iter().map(|i| &i.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), full.len(), "names are unique");
        // The script's argument order.
        assert!(full.iter().any(|i| i.program == "param_test_mm_cid"
            && i.args == "-T b -M -r 1000 -t 24 -8 -1 -m 2 -k -L"
            && i.name == "param_test_mm_cid/legacy-kill-50-at-8/buffer-barrier"));
        assert!(full.iter().any(|i| i.program == "param_test"
            && i.args == "-T s -r 1000 -t 24 -4 10000"
            && i.registration == Registration::Optimized
            && !i.gated));
        assert!(
            full.iter()
                .any(|i| i.args == "-T m -r 1000 -t 24 -9 -1 -m 1 -s 1" && i.gated)
        );
        // kselftest's direct runs keep glibc's registration; the scripts
        // all set the tunable.
        assert!(
            full.iter()
                .all(|i| i.tunables == (i.runner != Runner::Kselftest))
        );
    }

    #[test]
    fn the_quick_set_runs_every_program_and_every_part() {
        let quick = invocations(Set::Quick);
        for p in crate::selftests::build::PROGRAMS {
            assert!(quick.iter().any(|i| i.program == p.name), "{}", p.name);
        }
        let full = invocations(Set::Full);
        for i in &quick {
            assert!(full.contains(i), "{} is not one of the runners'", i.name);
        }
        for part in ["default", "loop-", "legacy-", "optimized-"] {
            assert!(
                quick.iter().any(|i| i.name.contains(&format!("/{part}"))),
                "{part}"
            );
        }
        for kind in ["-y", "-k", "-s 1"] {
            assert!(quick.iter().any(|i| i.args.contains(kind)), "{kind}");
        }
    }

    #[test]
    fn set_names_round_trip() {
        for set in [Set::Full, Set::Quick] {
            assert_eq!(Set::parse(set.name()), Some(set));
        }
        assert_eq!(Set::parse("test"), None);
    }

    #[test]
    fn expected_results_per_mode() {
        let full = invocations(Set::Full);
        let by_name = |n: &str| full.iter().find(|i| i.name == n).unwrap();
        let legacy = by_name("param_test/legacy-yield-25-at-7/spinlock");
        let default = by_name("param_test/default/spinlock");
        let optimized = by_name("param_test/optimized-yield-25-at-7/spinlock");
        let basic = by_name("basic_test");
        let slice = by_name("slice_test");
        let gate = by_name(GATE);
        use Expect::*;
        assert_eq!(expect(legacy, Mode::V1, false), Pass);
        assert_eq!(expect(legacy, Mode::V2, false), Refused);
        assert_eq!(expect(legacy, Mode::Linux, false), Pass);
        assert_eq!(expect(default, Mode::V1, false), Refused);
        assert_eq!(expect(default, Mode::V2, false), Pass);
        assert_eq!(expect(optimized, Mode::V1, false), NotRun);
        assert_eq!(expect(optimized, Mode::V2, false), Pass);
        assert_eq!(expect(slice, Mode::V1, false), NotRun);
        assert_eq!(expect(slice, Mode::Linux, false), Pass);
        assert_eq!(expect(gate, Mode::V1, false), Refused);
        assert_eq!(expect(gate, Mode::V2, false), Pass);
        for mode in Mode::ALL {
            assert_eq!(expect(basic, mode, false), Pass);
        }
        let membarrier = by_name("param_test/default/membarrier");
        assert_eq!(
            expect(membarrier, Mode::V2, false),
            SkipsItself(NO_OFFSET_DEREF_ADDV)
        );
        assert_eq!(expect(membarrier, Mode::V2, true), Pass);
        // Refused before it could skip.
        assert_eq!(expect(membarrier, Mode::V1, false), Refused);
        // v1 runs the legacy half and refuses the default and loop runs;
        // the optimized half is not run at all.
        let v1 = |e: Expect| count(&full, |i| expect(i, Mode::V1, false) == e);
        assert_eq!(v1(NotRun), 32 * 27 + 1);
        assert_eq!(v1(Refused), 32 * 10 + 1);
        let v2 = |e: Expect| count(&full, |i| expect(i, Mode::V2, false) == e);
        assert_eq!(v2(NotRun), 0);
        assert_eq!(v2(Refused), 32 * 27 + 2);
    }
}
