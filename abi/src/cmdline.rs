//! The kernel command line: `/chosen/bootargs` of the device tree (QEMU's
//! `-append`, `cmdline.txt` on the Raspberry Pi).
//!
//! The format follows Linux (`parse_args()` in kernel/params.c, Documentation
//! /admin-guide/kernel-parameters.rst): whitespace-separated `key=value`
//! options, then a lone `--`, after which everything belongs to the
//! application (Linux hands it to init). Unlike Linux, which passes unknown
//! options on to init, we reject them: a unikernel has no init to take them,
//! and a typo should stop the boot loudly rather than be ignored.
//!
//! Options live in one table, `OPTIONS`: adding one is a field in
//! [`BootConfig`], its default in [`BootConfig::DEFAULT`], and one table
//! entry.

use core::fmt;

/// The longest command line the kernel reads, in bytes (the firmware's own
/// options, which the Pi prepends, count too); the rest is ignored.
pub const MAX_LEN: usize = 2048;

/// The configuration the command line selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BootConfig<'a> {
    /// `loglevel=0..=8`: console messages with a level below this are printed
    /// (Linux `console_loglevel` semantics: a message of level L shows when
    /// L < loglevel; info is 6, debug 7, so the default 7 shows info and
    /// `loglevel=8` adds debug). The serial-log protocol lines (`[boot]`,
    /// `[exit]`, `[kill]`, `[shutdown]`, ...) are always printed.
    pub loglevel: u8,
    /// `hz=10..=1000`: scheduler tick frequency.
    pub hz: u32,
    /// `selftest=...`: a deliberate kernel misbehaviour after boot, to test
    /// the failure paths.
    pub selftest: Option<KernelSelftest>,
    /// Everything after a lone `--`, trimmed; the kernel splits it on
    /// whitespace into the app's `argv[1..]`. Empty without `--`.
    pub app_args: &'a str,
    /// `init=NAME`: the program's name, its `argv[0]` and the `app=` of the
    /// boot banner (Linux's `init=`, the path of the first program). For a
    /// program loaded from the initrd, which carries no name of its own.
    pub init: Option<&'a str>,
    /// `env=NAME=VALUE`, once per variable: the program's environment,
    /// in the order given (Linux hands `NAME=VALUE` words it does not know
    /// to init as its environment; here they are asked for explicitly, so
    /// that a misspelt option still stops the boot).
    pub env: Env<'a>,
    /// How many firmware/Linux options (see `FOREIGN`) were skipped.
    pub foreign: usize,
    /// `rseq_debug=0|1`: Linux's CONFIG_RSEQ_DEBUG validation at run time.
    pub rseq_debug: bool,
    /// `rseq_slice_ext=0|1`: offer the rseq time slice extension (v2 images).
    pub rseq_slice_ext: bool,
    /// `rseq_slice_us=5..=50`: the extension's length (Linux: 5 µs default
    /// and minimum, 50 µs maximum).
    pub rseq_slice_us: u32,
    /// `strace=0|1`: print every syscall, its arguments and its result on
    /// the console, as strace does (`[strace] tid=N name(args) = result`).
    pub strace: bool,
    /// `overcommit=0|1|2`: when anonymous memory gets its frames (Linux's
    /// `vm.overcommit_memory`; see [`Overcommit`]).
    pub overcommit: Overcommit,
}

/// Linux's `vm.overcommit_memory` policies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overcommit {
    /// `0`, the default: pages get frames on first touch; only a single
    /// mapping larger than RAM is refused; exhausting RAM by touching
    /// memory ends the app (Linux's OOM killer).
    Guess = 0,
    /// `1`: as `Guess` without the size check.
    Always = 1,
    /// `2`: no overcommit: memory is allocated when mapped, so exhaustion
    /// is an ENOMEM from mmap, brk or mprotect.
    Never = 2,
}

impl BootConfig<'_> {
    /// What an empty command line means.
    pub const DEFAULT: BootConfig<'static> = BootConfig {
        loglevel: 7,
        hz: 100,
        selftest: None,
        app_args: "",
        init: None,
        env: Env {
            options: "",
            count: 0,
        },
        foreign: 0,
        rseq_debug: false,
        rseq_slice_ext: true,
        rseq_slice_us: 5,
        strace: false,
        overcommit: Overcommit::Guess,
    };
}

impl Default for BootConfig<'_> {
    fn default() -> Self {
        BootConfig::DEFAULT
    }
}

/// The `env=` options of a command line: kept as the text before `--`,
/// read again on demand, so that the configuration needs no allocation.
/// Two are equal when they hold the same variables in the same order.
#[derive(Clone, Copy, Debug, Eq)]
pub struct Env<'a> {
    /// The command line up to (not including) a lone `--`.
    options: &'a str,
    /// How many `env=` options it holds.
    count: usize,
}

impl<'a> Env<'a> {
    /// The `NAME=VALUE` strings, in command-line order.
    pub fn iter(&self) -> impl Iterator<Item = &'a str> + 'a {
        let mut rest = self.options;
        core::iter::from_fn(move || {
            loop {
                let (word, tail) = next_word(rest)?;
                rest = tail;
                if let Some(var) = word.strip_prefix("env=") {
                    return Some(var);
                }
            }
        })
    }

    /// How many variables there are.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

impl PartialEq for Env<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.count == other.count && self.iter().eq(other.iter())
    }
}

/// A deliberate failure the kernel provokes after boot (`selftest=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelSelftest {
    /// `selftest=kernel-fault`: take a data abort in the kernel, which must
    /// end in the panic path (message, registers, power off with failure).
    KernelFault,
    /// `selftest=fault-under-mm-lock`: the same abort while this CPU holds
    /// the memory lock, as a bug in the page-table code would: the panic
    /// path must not need that lock (power-off still reports and exits 255).
    FaultUnderMmLock,
    /// `selftest=fault-under-console-lock`: the abort while this CPU holds
    /// the console lock, as a bug in a UART driver would: the panic report
    /// must still be printed.
    FaultUnderConsoleLock,
}

/// Why the command line was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmdlineError<'a> {
    /// An option whose key the kernel does not know; `option` is the whole
    /// word as written.
    Unknown {
        /// The offending word, e.g. `frobnicate=1`.
        option: &'a str,
    },
    /// A known key with a value outside its domain, or without `=value`
    /// (then `value` is empty).
    Invalid {
        /// The option's key.
        key: &'a str,
        /// The value as written.
        value: &'a str,
        /// What the key accepts, e.g. `"an integer 10..=1000"`.
        expected: &'static str,
    },
}

impl fmt::Display for CmdlineError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unknown { option } => write!(f, "unknown boot option `{option}`"),
            Self::Invalid {
                key,
                value,
                expected,
            } => write!(f, "boot option `{key}={value}`: expected {expected}"),
        }
    }
}

/// One boot option: its key, what it accepts (for error messages), and how
/// to store a value into the configuration (`None` if the value is invalid).
struct BootOption {
    key: &'static str,
    expected: &'static str,
    apply: for<'a> fn(&mut BootConfig<'a>, &'a str) -> Option<()>,
}

/// Every option the kernel understands.
static OPTIONS: &[BootOption] = &[
    BootOption {
        key: "init",
        expected: "a program name",
        apply: |c, v| {
            c.init = Some(v).filter(|v| !v.is_empty());
            c.init.map(|_| ())
        },
    },
    BootOption {
        key: "env",
        expected: "NAME=VALUE with a non-empty NAME",
        apply: |c, v| {
            let (name, _) = v.split_once('=')?;
            if name.is_empty() {
                return None;
            }
            c.env.count += 1;
            Some(())
        },
    },
    BootOption {
        key: "strace",
        expected: "0 or 1",
        apply: |c, v| {
            c.strace = match v {
                "0" => false,
                "1" => true,
                _ => return None,
            };
            Some(())
        },
    },
    BootOption {
        key: "overcommit",
        expected: "0, 1 or 2",
        apply: |c, v| {
            c.overcommit = match v {
                "0" => Overcommit::Guess,
                "1" => Overcommit::Always,
                "2" => Overcommit::Never,
                _ => return None,
            };
            Some(())
        },
    },
    BootOption {
        key: "rseq_slice_ext",
        expected: "0 or 1",
        apply: |c, v| {
            c.rseq_slice_ext = match v {
                "0" => false,
                "1" => true,
                _ => return None,
            };
            Some(())
        },
    },
    BootOption {
        key: "rseq_slice_us",
        expected: "an integer 5..=50 (microseconds)",
        apply: |c, v| {
            c.rseq_slice_us = parse_u32_in(v, 5, 50)?;
            Some(())
        },
    },
    BootOption {
        key: "rseq_debug",
        expected: "0 or 1",
        apply: |c, v| {
            c.rseq_debug = match v {
                "0" => false,
                "1" => true,
                _ => return None,
            };
            Some(())
        },
    },
    BootOption {
        key: "loglevel",
        expected: "an integer 0..=8",
        apply: |c, v| {
            c.loglevel = u8::try_from(parse_u32_in(v, 0, 8)?).ok()?;
            Some(())
        },
    },
    BootOption {
        key: "hz",
        expected: "an integer 10..=1000",
        apply: |c, v| {
            c.hz = parse_u32_in(v, 10, 1000)?;
            Some(())
        },
    },
    BootOption {
        key: "selftest",
        expected: "`kernel-fault`, `fault-under-mm-lock` or `fault-under-console-lock`",
        apply: |c, v| {
            c.selftest = Some(match v {
                "kernel-fault" => KernelSelftest::KernelFault,
                "fault-under-mm-lock" => KernelSelftest::FaultUnderMmLock,
                "fault-under-console-lock" => KernelSelftest::FaultUnderConsoleLock,
                _ => return None,
            });
            Some(())
        },
    },
];

/// Options that are not ours but that boot firmware and Linux-minded
/// configurations put on every command line (the Raspberry Pi firmware
/// prepends `coherent_pool=1M 8250.nr_uarts=1 ... vc_mem.mem_base=...
/// video=...` to cmdline.txt): skipped and counted, never an error. Any key
/// containing a dot is a Linux module parameter and is skipped too.
const FOREIGN: &[&str] = &[
    "coherent_pool",
    "video",
    "console",
    "earlycon",
    "root",
    "rootfstype",
    "rootwait",
    "quiet",
    "splash",
    "plymouth.ignore-serial-consoles",
    "cma",
];

/// Is `key` someone else's option (see [`FOREIGN`])?
fn is_foreign(key: &str) -> bool {
    key.contains('.') || FOREIGN.contains(&key)
}

/// Parses a command line. Later occurrences of an option override earlier
/// ones, as in Linux.
///
/// # Errors
///
/// The first unknown or invalid option, see [`CmdlineError`].
pub fn parse(s: &str) -> Result<BootConfig<'_>, CmdlineError<'_>> {
    let mut config = BootConfig::DEFAULT;
    config.env.options = s;
    let mut rest = s;
    while let Some((word, tail)) = next_word(rest) {
        rest = tail;
        if word == "--" {
            config.app_args = tail.trim();
            // `word` is a slice of `s`: the options are what precedes it.
            let at = word.as_ptr() as usize - s.as_ptr() as usize;
            config.env.options = &s[..at];
            break;
        }
        let (key, value) = match word.split_once('=') {
            Some((key, value)) => (key, Some(value)),
            None => (word, None),
        };
        let Some(option) = OPTIONS.iter().find(|o| o.key == key) else {
            if is_foreign(key) {
                config.foreign += 1;
                continue;
            }
            return Err(CmdlineError::Unknown { option: word });
        };
        let invalid = CmdlineError::Invalid {
            key,
            value: value.unwrap_or(""),
            expected: option.expected,
        };
        match value {
            Some(value) if (option.apply)(&mut config, value).is_some() => {}
            _ => return Err(invalid),
        }
    }
    Ok(config)
}

/// Splits off the first whitespace-delimited word: `(word, rest after it)`,
/// or `None` when only whitespace is left.
fn next_word(s: &str) -> Option<(&str, &str)> {
    let s = s.trim_start();
    if s.is_empty() {
        return None;
    }
    Some(s.split_once(char::is_whitespace).unwrap_or((s, "")))
}

/// A plain decimal integer (digits only: no sign, no spaces) in `min..=max`.
fn parse_u32_in(v: &str, min: u32, max: u32) -> Option<u32> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse::<u32>().ok().filter(|n| (min..=max).contains(n))
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::ToString;

    #[test]
    fn empty_and_blank_give_defaults() {
        assert_eq!(parse(""), Ok(BootConfig::DEFAULT));
        assert_eq!(parse("  \t\n "), Ok(BootConfig::DEFAULT));
        let d = BootConfig::default();
        assert_eq!(
            (d.loglevel, d.hz, d.selftest, d.app_args),
            (7, 100, None, "")
        );
    }

    #[test]
    fn firmware_options_are_skipped_but_ours_still_checked() {
        let pi = "coherent_pool=1M 8250.nr_uarts=1 snd_bcm2835.enable_headphones=0 \
                  bcm2708_fb.fbwidth=0 vc_mem.mem_base=0x3ec00000 video=HDMI-A-1:1920x1080M@60 \
                  console=ttyS0,115200 hz=250 rootwait -- ticks";
        let c = parse(pi).unwrap();
        assert_eq!((c.hz, c.foreign, c.app_args), (250, 8, "ticks"));
        assert!(matches!(
            parse("coherent_pool=1M frobnicate=1"),
            Err(CmdlineError::Unknown { .. })
        ));
        assert!(parse("video=x hz=abc").is_err());
    }

    #[test]
    fn rseq_options() {
        let c = parse("rseq_debug=1 rseq_slice_ext=0 rseq_slice_us=50").unwrap();
        assert_eq!(
            (c.rseq_debug, c.rseq_slice_ext, c.rseq_slice_us),
            (true, false, 50)
        );
        let d = parse("").unwrap();
        assert_eq!(
            (d.rseq_debug, d.rseq_slice_ext, d.rseq_slice_us),
            (false, true, 5)
        );
        for bad in [
            "rseq_slice_us=4",
            "rseq_slice_us=51",
            "rseq_slice_us=x",
            "rseq_slice_ext=2",
            "rseq_debug=yes",
        ] {
            assert!(
                matches!(parse(bad), Err(CmdlineError::Invalid { .. })),
                "{bad}"
            );
        }
        assert_eq!(
            parse("rseq_slice_us=100").unwrap_err().to_string(),
            "boot option `rseq_slice_us=100`: expected an integer 5..=50 (microseconds)"
        );
    }

    #[test]
    fn overcommit() {
        assert_eq!(parse("").unwrap().overcommit, Overcommit::Guess);
        assert_eq!(parse("overcommit=2").unwrap().overcommit, Overcommit::Never);
        assert_eq!(
            parse("overcommit=1").unwrap().overcommit,
            Overcommit::Always
        );
        assert!(parse("overcommit=3").is_err());
    }

    #[test]
    fn strace() {
        assert!(!parse("").unwrap().strace);
        assert!(parse("strace=1").unwrap().strace);
        assert!(!parse("strace=1 strace=0").unwrap().strace);
        assert!(parse("hz=250 strace=1 -- syscalls").unwrap().strace);
        assert!(!parse("-- strace=1").unwrap().strace);
        for bad in ["strace", "strace=", "strace=2", "strace=yes", "strace=01"] {
            assert!(
                matches!(parse(bad), Err(CmdlineError::Invalid { .. })),
                "{bad}"
            );
        }
        assert_eq!(
            parse("strace=on").unwrap_err().to_string(),
            "boot option `strace=on`: expected 0 or 1"
        );
    }

    #[test]
    fn loglevel() {
        assert_eq!(parse("loglevel=0").unwrap().loglevel, 0);
        assert_eq!(parse("loglevel=8").unwrap().loglevel, 8);
        assert_eq!(
            parse("loglevel=9"),
            Err(CmdlineError::Invalid {
                key: "loglevel",
                value: "9",
                expected: "an integer 0..=8"
            })
        );
        assert!(parse("loglevel=-1").is_err());
        assert!(parse("loglevel=99999999999999").is_err());
    }

    #[test]
    fn hz_bounds() {
        assert_eq!(parse("hz=10").unwrap().hz, 10);
        assert_eq!(parse("hz=1000").unwrap().hz, 1000);
        assert_eq!(parse("hz=250").unwrap().hz, 250);
        assert!(parse("hz=9").is_err());
        assert!(parse("hz=1001").is_err());
        assert!(parse("hz=+100").is_err(), "digits only");
        assert!(parse("hz=0x64").is_err());
        assert!(parse("hz=").is_err());
    }

    #[test]
    fn selftest() {
        assert_eq!(
            parse("selftest=kernel-fault").unwrap().selftest,
            Some(KernelSelftest::KernelFault)
        );
        let err = parse("selftest=user-fault").unwrap_err();
        assert_eq!(
            err.to_string(),
            "boot option `selftest=user-fault`: expected `kernel-fault`, `fault-under-mm-lock` or `fault-under-console-lock`"
        );
    }

    #[test]
    fn several_options_and_last_one_wins() {
        let c = parse(" hz=250\tloglevel=3  hz=500 ").unwrap();
        assert_eq!((c.hz, c.loglevel), (500, 3));
    }

    #[test]
    fn unknown_option() {
        let err = parse("hz=100 frobnicate=1").unwrap_err();
        assert_eq!(
            err,
            CmdlineError::Unknown {
                option: "frobnicate=1"
            }
        );
        assert_eq!(err.to_string(), "unknown boot option `frobnicate=1`");
        assert_eq!(
            parse("nosmp"),
            Err(CmdlineError::Unknown { option: "nosmp" })
        );
        // Keys are case-sensitive, as in Linux.
        assert!(matches!(parse("HZ=100"), Err(CmdlineError::Unknown { .. })));
    }

    #[test]
    fn bad_value_message() {
        let err = parse("hz=abc").unwrap_err();
        assert_eq!(
            err.to_string(),
            "boot option `hz=abc`: expected an integer 10..=1000"
        );
    }

    #[test]
    fn known_key_without_value_is_invalid() {
        assert_eq!(
            parse("hz"),
            Err(CmdlineError::Invalid {
                key: "hz",
                value: "",
                expected: "an integer 10..=1000"
            })
        );
    }

    #[test]
    fn app_args_after_double_dash() {
        let c = parse("hz=200 -- bench  --iters=5 -- x  ").unwrap();
        assert_eq!(c.hz, 200);
        assert_eq!(c.app_args, "bench  --iters=5 -- x");
        // After `--` nothing is parsed as a kernel option.
        assert_eq!(parse("-- hz=5").unwrap().app_args, "hz=5");
        assert_eq!(parse("-- hz=5").unwrap().hz, 100);
        assert_eq!(parse("--").unwrap().app_args, "");
        assert_eq!(parse("loglevel=1 --").unwrap().app_args, "");
        assert_eq!(parse("--\n a b").unwrap().app_args, "a b");
    }

    #[test]
    fn double_dash_must_stand_alone() {
        assert_eq!(parse("--x"), Err(CmdlineError::Unknown { option: "--x" }));
        assert_eq!(
            parse("hz=100--"),
            Err(CmdlineError::Invalid {
                key: "hz",
                value: "100--",
                expected: "an integer 10..=1000"
            })
        );
    }

    #[test]
    fn init_names_the_program() {
        assert_eq!(parse("").unwrap().init, None);
        assert_eq!(parse("init=hello").unwrap().init, Some("hello"));
        assert_eq!(parse("init=a init=b").unwrap().init, Some("b"));
        assert_eq!(parse("-- init=x").unwrap().init, None);
        assert_eq!(
            parse("init=").unwrap_err().to_string(),
            "boot option `init=`: expected a program name"
        );
        assert!(parse("init").is_err());
    }

    #[test]
    fn env_collects_variables_in_order() {
        let c =
            parse("env=A=1 hz=250 env=GLIBC_TUNABLES=glibc.rseq=0 env=EMPTY= -- env=X=y").unwrap();
        assert_eq!(c.env.len(), 3);
        let vars: std::vec::Vec<&str> = c.env.iter().collect();
        assert_eq!(vars, ["A=1", "GLIBC_TUNABLES=glibc.rseq=0", "EMPTY="]);
        assert_eq!(c.app_args, "env=X=y");
        let none = parse("hz=250 -- a b").unwrap();
        assert!(none.env.is_empty());
        assert_eq!(none.env.iter().count(), 0);
        // Only `env=` words, not words that merely contain it.
        let c = parse("env=A=1 mod.env=B=2").unwrap();
        assert_eq!(c.env.iter().collect::<std::vec::Vec<_>>(), ["A=1"]);
        for bad in ["env=", "env=NOEQUALS", "env==1", "env"] {
            assert!(
                matches!(parse(bad), Err(CmdlineError::Invalid { key: "env", .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn option_keys_are_unique() {
        for (i, a) in OPTIONS.iter().enumerate() {
            for b in &OPTIONS[i + 1..] {
                assert_ne!(a.key, b.key);
            }
        }
    }
}
