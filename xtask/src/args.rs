//! Command-line options of the subcommands, parsed by hand (no dependency).
//!
//! Three spellings are accepted for every option, because xtask is called both
//! directly and through the justfile:
//!
//! - `--app selftest` / `--app=selftest` (cargo style),
//! - `app=selftest` (just style: `just qemu app=selftest append="-- ticks"`),
//! - positionally, in the order the subcommand declares
//!   (`just qemu selftest 1 3` is app, el2, gic).
//!
//! A flag (`--el2`) may also be given a value: `el2=1`, `el2=0`, `--el2=true`.

use std::collections::HashMap;

/// One option of a subcommand.
#[derive(Debug, Clone, Copy)]
pub struct Opt {
    /// Name without dashes: `app`, `no-host`.
    pub name: &'static str,
    /// A flag is on/off; others take a value.
    pub flag: bool,
}

/// What a subcommand accepts.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub opts: &'static [Opt],
    /// Option names that bare arguments fill, in order.
    pub positional: &'static [&'static str],
}

/// An option taking a value.
pub const fn value(name: &'static str) -> Opt {
    Opt { name, flag: false }
}

/// An on/off option.
pub const fn flag(name: &'static str) -> Opt {
    Opt { name, flag: true }
}

/// Parsed options: the last occurrence of an option wins.
#[derive(Debug, Default)]
pub struct Args {
    values: HashMap<&'static str, String>,
}

impl Args {
    /// Parses `args` against `spec`. Unknown `--options` are errors, so a typo
    /// never silently changes what runs. An argument holding a space (a
    /// command line such as `-- ticks`) is always a value, never an option.
    pub fn parse(args: impl IntoIterator<Item = String>, spec: &Spec) -> Result<Args, String> {
        let mut parsed = Args::default();
        let mut positional = spec.positional.iter();
        let mut args = args.into_iter();
        let find = |name: &str| spec.opts.iter().find(|o| o.name == name).copied();
        while let Some(arg) = args.next() {
            let (name, inline) = match arg.split_once('=') {
                Some((name, value)) => (name, Some(value.to_string())),
                None => (arg.as_str(), None),
            };
            let free_text = arg.contains(char::is_whitespace);
            let known = match name.strip_prefix("--") {
                Some(long) => find(long),
                None if inline.is_some() => find(name),
                // A bare flag name (`just test no-host`) is that flag.
                None => find(name).filter(|o| o.flag),
            };
            if let Some(opt) = known {
                let value = match (opt.flag, inline) {
                    (_, Some(value)) => value,
                    (true, None) => "1".to_string(),
                    (false, None) => args
                        .next()
                        .ok_or_else(|| format!("--{} needs a value", opt.name))?,
                };
                parsed.values.insert(opt.name, value);
            } else if arg.starts_with('-') && !free_text {
                return Err(format!("unknown option {arg:?}\n{}", usage(spec)));
            } else if inline.is_some() && !free_text && is_option_name(name) {
                // `ap=hello`, `hz=5`: a misspelt option or a kernel option
                // given bare; as a positional value it would silently
                // become an app name or a board.
                let hint = if find("append").is_some() {
                    " (kernel and app options go in append=\"...\")"
                } else {
                    ""
                };
                return Err(format!("unknown option {arg:?}{hint}\n{}", usage(spec)));
            } else {
                let Some(&name) = positional.next() else {
                    return Err(format!("unexpected argument {arg:?}\n{}", usage(spec)));
                };
                parsed.values.insert(name, arg);
            }
        }
        Ok(parsed)
    }

    /// The value of option `name`, if given.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Whether flag `name` is on: absent is off; `1/true/yes/on` and
    /// `0/false/no/off` (or empty) as values.
    pub fn flag(&self, name: &str) -> Result<bool, String> {
        match self.value(name) {
            None | Some("" | "0" | "false" | "no" | "off") => Ok(false),
            Some("1" | "true" | "yes" | "on") => Ok(true),
            Some(other) => Err(format!("{name}={other}: expected 1/0, true/false")),
        }
    }

    /// Option `name` as a count from 1 to `max` (runs, jobs, minutes, ...),
    /// if given. Anything else (0, negative, not a number, too large) is a
    /// one-line error naming the range.
    pub fn count(&self, name: &str, max: u64) -> Result<Option<u64>, String> {
        let Some(v) = self.value(name) else {
            return Ok(None);
        };
        match v.parse::<u64>() {
            Ok(n) if (1..=max).contains(&n) => Ok(Some(n)),
            _ => Err(format!(
                "{name}={v}: expected a whole number from 1 to {max}"
            )),
        }
    }
}

/// Does `name` read like an option's name (`app`, `no-host`, `rseq_debug`)?
fn is_option_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The accepted options, for error messages.
fn usage(spec: &Spec) -> String {
    let opts: Vec<_> = spec
        .opts
        .iter()
        .map(|o| {
            if o.flag {
                format!("--{}", o.name)
            } else {
                format!("--{} V", o.name)
            }
        })
        .collect();
    match opts.is_empty() {
        true => "(this command takes no options)".to_string(),
        false => format!("options: {}", opts.join(" ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: Spec = Spec {
        opts: &[value("app"), flag("el2"), value("gic"), value("append")],
        positional: &["app", "el2", "gic", "append"],
    };

    fn parse(args: &[&str]) -> Result<Args, String> {
        Args::parse(args.iter().map(|a| a.to_string()), &SPEC)
    }

    #[test]
    fn cargo_style() {
        let a = parse(&["--app", "selftest", "--el2", "--append=hz=250 -- ticks"]).unwrap();
        assert_eq!(a.value("app"), Some("selftest"));
        assert_eq!(a.value("append"), Some("hz=250 -- ticks"));
        assert_eq!(a.flag("el2"), Ok(true));
        assert_eq!(a.value("gic"), None);
    }

    #[test]
    fn just_style() {
        let a = parse(&["app=selftest", "append=-- syscalls", "el2=0", "gic=3"]).unwrap();
        assert_eq!(a.value("app"), Some("selftest"));
        assert_eq!(a.value("append"), Some("-- syscalls"));
        assert_eq!(a.flag("el2"), Ok(false));
        assert_eq!(a.value("gic"), Some("3"));
    }

    #[test]
    fn positional_style() {
        let a = parse(&["selftest", "1", "3", "hz=250 -- ticks"]).unwrap();
        assert_eq!(a.value("app"), Some("selftest"));
        assert_eq!(a.flag("el2"), Ok(true));
        assert_eq!(a.value("gic"), Some("3"));
        assert_eq!(a.value("append"), Some("hz=250 -- ticks"));
        // Free text that is not `known=...` fills the next slot.
        let a = parse(&["hello", "0", "2", "-- exit 42"]).unwrap();
        assert_eq!(a.value("append"), Some("-- exit 42"));
    }

    #[test]
    fn mixed_and_last_wins() {
        let a = parse(&["selftest", "gic=3", "--gic", "2", "el2=yes"]).unwrap();
        assert_eq!(a.value("app"), Some("selftest"));
        assert_eq!(a.value("gic"), Some("2"));
        assert_eq!(a.flag("el2"), Ok(true));
    }

    #[test]
    fn values_that_look_like_options() {
        let a = parse(&["--append", "--el2"]).unwrap();
        assert_eq!(a.value("append"), Some("--el2"));
        assert_eq!(a.flag("el2"), Ok(false));
        let a = parse(&["--append", ""]).unwrap();
        assert_eq!(a.value("append"), Some(""));
        let a = parse(&["append="]).unwrap();
        assert_eq!(a.value("append"), Some(""));
    }

    #[test]
    fn errors() {
        assert!(parse(&["--bogus"]).unwrap_err().contains("unknown option"));
        assert!(parse(&["-x"]).is_err());
        assert!(parse(&["--app"]).unwrap_err().contains("needs a value"));
        assert!(parse(&["a", "1", "2", "x", "extra"]).is_err());
        assert!(parse(&["el2=maybe"]).unwrap().flag("el2").is_err());
        let none = Spec {
            opts: &[],
            positional: &[],
        };
        let err = Args::parse(["x".to_string()], &none).unwrap_err();
        assert!(err.contains("no options"), "{err}");
    }

    #[test]
    fn unknown_name_value_is_an_error_not_a_positional() {
        let err = parse(&["ap=hello"]).unwrap_err();
        assert!(err.contains("unknown option \"ap=hello\""), "{err}");
        assert!(err.contains("append="), "{err}");
        assert!(parse(&["hz=5"]).is_err());
        assert!(parse(&["hello", "0", "2", "hz=5"]).is_err());
        // Free text with spaces is still a value; so is anything after a
        // known `name=`.
        let a = parse(&["hello", "0", "2", "hz=5 -- ticks"]).unwrap();
        assert_eq!(a.value("append"), Some("hz=5 -- ticks"));
        let a = parse(&["append=hz=5"]).unwrap();
        assert_eq!(a.value("append"), Some("hz=5"));
    }

    #[test]
    fn counts_are_whole_numbers_in_range() {
        const RUNS: Spec = Spec {
            opts: &[value("runs")],
            positional: &["runs"],
        };
        let count = |arg: &str| {
            Args::parse([arg.to_string()], &RUNS)
                .unwrap()
                .count("runs", 100)
        };
        for bad in [
            "runs=0",
            "runs=-1",
            "runs=abc",
            "runs=",
            "runs=1.5",
            "runs=101",
            "runs=99999999999999999999999",
        ] {
            let err = count(bad).unwrap_err();
            let v = bad.strip_prefix("runs=").unwrap();
            assert_eq!(
                err,
                format!("runs={v}: expected a whole number from 1 to 100")
            );
            assert!(!err.contains('\n'), "one line: {err}");
        }
        assert_eq!(count("3"), Ok(Some(3)));
        assert_eq!(count("runs=1"), Ok(Some(1)));
        assert_eq!(count("runs=100"), Ok(Some(100)));
        assert_eq!(Args::default().count("runs", 100), Ok(None));
    }
}
