//! `cargo xtask new-app NAME [mode=v1|v2|linux|none]`: a new EL0 app crate made
//! from `apps/template`, added to the workspace.
//!
//! The template is a real app, built, linted and tested like the others, so
//! what this copies is known to build and pass. The copy differs from it in
//! three places only: the package name, the description, and the mode in
//! `rt::rseq_mode!(...)`; the template prints its package name
//! (`env!("CARGO_PKG_NAME")`), so nothing else needs rewriting. Everything is
//! checked and prepared in memory first; files are written last, and a
//! failure while writing removes the half-made crate.

use std::fs;
use std::path::{Path, PathBuf};

use crate::workspace::Workspace;

/// The crate `new-app` copies, under `apps/`.
pub const TEMPLATE: &str = "template";

/// The rseq modes `rt::rseq_mode!` accepts.
pub const MODES: &[&str] = &["v1", "v2", "linux", "none"];

/// Names cargo or rustc refuse or misread as a package or crate name, and
/// folder names cargo uses inside `target/`, as groups of words.
const RESERVED: &[&str] = &[
    // Rust keywords (strict and reserved), which cargo refuses as names.
    "abstract as async await become box break const continue crate do dyn else enum extern \
     false final fn for gen if impl in let loop macro match mod move mut override priv pub ref \
     return self static struct super trait true try type typeof unsafe unsized use virtual \
     where while yield",
    // The sysroot crates an app links or could name.
    "alloc compiler_builtins core proc_macro std test",
    // Folders cargo creates next to binaries in target/<triple>/release/.
    "build deps examples incremental",
    // Windows device names (cargo refuses them for portability).
    "aux con nul prn com1 com2 com3 com4 com5 com6 com7 com8 com9 \
     lpt1 lpt2 lpt3 lpt4 lpt5 lpt6 lpt7 lpt8 lpt9",
];

/// Whether `name` (with `-` read as `_`) is in [`RESERVED`].
fn is_reserved(name: &str) -> bool {
    let name = name.replace('-', "_");
    RESERVED
        .iter()
        .flat_map(|group| group.split_whitespace())
        .any(|word| word == name)
}

/// Checks `name` as the name of a new app: a cargo package name (ASCII
/// lowercase letters, digits, `-` and `_`, starting with a letter, at most
/// 64 characters), not reserved, not a folder under `apps/` and not one of
/// `packages` (the workspace's and its dependencies'), comparing `-` and `_`
/// as one, as cargo does for crate names. Errors say how to fix.
pub fn validate_name(name: &str, folders: &[String], packages: &[String]) -> Result<(), String> {
    if name.is_empty() {
        return Err("the app needs a name: just new-app NAME [mode=v2]".to_string());
    }
    if name.len() > 64 {
        return Err(format!(
            "`{name}` is {} characters long: use at most 64",
            name.len()
        ));
    }
    if name.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(format!(
            "`{name}` has capitals: package names are lowercase, e.g. `{}`",
            name.to_ascii_lowercase()
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|&c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'))
    {
        return Err(format!(
            "`{name}` contains {bad:?}: use only a-z, 0-9, `-` and `_`"
        ));
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(format!("`{name}` must start with a letter a-z"));
    }
    if is_reserved(name) {
        return Err(format!(
            "`{name}` is reserved (a Rust keyword, a sysroot crate or a name cargo uses): choose another"
        ));
    }
    let key = |s: &str| s.replace('-', "_");
    if let Some(other) = folders.iter().find(|t| key(t) == key(name)) {
        return Err(format!(
            "apps/{other} already exists: choose another name (or remove that folder)"
        ));
    }
    if let Some(other) = packages.iter().find(|t| key(t) == key(name)) {
        return Err(format!(
            "`{other}` is already a package of the workspace or its dependencies (Cargo.lock): choose another name"
        ));
    }
    Ok(())
}

/// `mode` if `rt::rseq_mode!` accepts it.
pub fn validate_mode(mode: &str) -> Result<&str, String> {
    if MODES.contains(&mode) {
        Ok(mode)
    } else {
        Err(format!("mode={mode}: expected v1, v2, linux or none"))
    }
}

/// `main_rs` with the argument of its one `rt::rseq_mode!(...)` line set to
/// `mode`, the rest of that line and the file unchanged.
pub fn set_mode(main_rs: &str, mode: &str) -> Result<String, String> {
    const MACRO: &str = "rt::rseq_mode!(";
    let mut found = 0;
    let mut out = String::with_capacity(main_rs.len());
    for line in main_rs.split_inclusive('\n') {
        let rest = line.trim_start();
        match rest.strip_prefix(MACRO).and_then(|r| r.split_once(')')) {
            Some((_, after)) => {
                found += 1;
                let indent = &line[..line.len() - rest.len()];
                out.push_str(&format!("{indent}{MACRO}{mode}){after}"));
            }
            None => out.push_str(line),
        }
    }
    match found {
        1 => Ok(out),
        n => Err(format!(
            "the template's main.rs has {n} `rt::rseq_mode!(...)` lines: keep exactly one"
        )),
    }
}

/// The template's `Cargo.toml` with `name` and `description` replaced (the
/// `[package]` lines `name = "..."` and `description = "..."`).
pub fn set_package(cargo_toml: &str, name: &str, description: &str) -> Result<String, String> {
    let mut seen = (false, false);
    let mut out = String::with_capacity(cargo_toml.len());
    for line in cargo_toml.split_inclusive('\n') {
        let eol = &line[line.trim_end_matches(['\r', '\n']).len()..];
        if line.starts_with("name = ") && !seen.0 {
            seen.0 = true;
            out.push_str(&format!("name = \"{name}\"{eol}"));
        } else if line.starts_with("description = ") && !seen.1 {
            seen.1 = true;
            out.push_str(&format!("description = {}{eol}", toml_string(description)));
        } else {
            out.push_str(line);
        }
    }
    match seen {
        (true, true) => Ok(out),
        _ => Err(
            "the template's Cargo.toml needs `name = ...` and `description = ...` lines"
                .to_string(),
        ),
    }
}

/// `s` as a TOML basic string.
fn toml_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The description a new app starts with (shown by `just apps`).
pub fn description(mode: &str) -> String {
    format!("New app from apps/template (per-CPU counters, rseq {mode}): say what it is for here.")
}

/// The root `Cargo.toml` with `"apps/NAME",` added to the workspace
/// `members`, on a line of its own right after the last `"apps/..."`
/// member and with its indentation; every other byte is kept.
pub fn insert_member(root_toml: &str, name: &str) -> Result<String, String> {
    let entry = format!("\"apps/{name}\"");
    let start = root_toml
        .find("members = [")
        .ok_or("the root Cargo.toml has no `members = [` list")?;
    let end = start
        + root_toml[start..]
            .find(']')
            .ok_or("the root Cargo.toml's `members` list is not closed")?;
    let list = &root_toml[start..end];
    if list.contains(&entry) {
        return Err(format!(
            "{entry} is already a workspace member: remove it from the root Cargo.toml"
        ));
    }
    // The last member line naming an app; the new one goes after it.
    let mut offset = start;
    let mut after: Option<(usize, &str)> = None;
    for line in list.split_inclusive('\n') {
        offset += line.len();
        let trimmed = line.trim_start();
        if trimmed.starts_with("\"apps/") && line.ends_with('\n') {
            after = Some((offset, &line[..line.len() - trimmed.len()]));
        }
    }
    let (at, indent) = after.ok_or(
        "the root Cargo.toml's `members` lists no \"apps/...\" line to add the app next to",
    )?;
    let eol = if root_toml[..at].ends_with("\r\n") {
        "\r\n"
    } else {
        "\n"
    };
    Ok(format!(
        "{}{indent}{entry},{eol}{}",
        &root_toml[..at],
        &root_toml[at..]
    ))
}

/// Package names `Cargo.lock` knows: the workspace's and its dependencies'
/// (an app named like a dependency would make `cargo build -p NAME`
/// ambiguous).
pub fn locked_packages(cargo_lock: &str) -> Vec<String> {
    cargo_lock
        .lines()
        .filter_map(|l| l.strip_prefix("name = \""))
        .filter_map(|l| l.strip_suffix('"'))
        .map(str::to_string)
        .collect()
}

/// What [`create`] made.
#[derive(Debug)]
pub struct Created {
    pub dir: PathBuf,
    pub files: Vec<PathBuf>,
}

/// Makes `apps/NAME` from `apps/template` in the workspace at `root` with
/// rseq `mode`, and adds it to the root `Cargo.toml` members.
pub fn create(root: &Path, name: &str, mode: &str) -> Result<Created, String> {
    let mode = validate_mode(mode)?;
    let apps = root.join("apps");
    let read = |p: &Path| fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()));

    let folders: Vec<String> = fs::read_dir(&apps)
        .map_err(|e| format!("{}: {e}", apps.display()))?
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    let packages = fs::read_to_string(root.join("Cargo.lock"))
        .map(|lock| locked_packages(&lock))
        .unwrap_or_default();
    validate_name(name, &folders, &packages)?;

    let template = apps.join(TEMPLATE);
    let root_toml_path = root.join("Cargo.toml");
    let root_toml = insert_member(&read(&root_toml_path)?, name)?;
    // Every file of the template, with the two that change rewritten.
    let mut files = Vec::new();
    for rel in files_under(&template)? {
        let text = read(&template.join(&rel))?;
        let text = match rel.to_str() {
            Some("Cargo.toml") => set_package(&text, name, &description(mode))?,
            Some("src/main.rs") => set_mode(&text, mode)?,
            _ => text,
        };
        files.push((rel, text));
    }
    if !files.iter().any(|(rel, _)| rel == Path::new("src/main.rs")) {
        return Err(format!("{}: no src/main.rs", template.display()));
    }

    let dir = apps.join(name);
    fs::create_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let write_all = || -> Result<(), String> {
        for (rel, text) in &files {
            let path = dir.join(rel);
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
            }
            fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        fs::write(&root_toml_path, &root_toml)
            .map_err(|e| format!("{}: {e}", root_toml_path.display()))
    };
    if let Err(e) = write_all() {
        let _ = fs::remove_dir_all(&dir);
        return Err(e);
    }
    Ok(Created {
        files: files.into_iter().map(|(rel, _)| dir.join(rel)).collect(),
        dir,
    })
}

/// The files under `dir`, relative to it, sorted (build output excluded).
fn files_under(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    let mut todo = vec![PathBuf::new()];
    while let Some(rel) = todo.pop() {
        let here = dir.join(&rel);
        for entry in fs::read_dir(&here).map_err(|e| format!("{}: {e}", here.display()))? {
            let entry = entry.map_err(|e| format!("{}: {e}", here.display()))?;
            let rel = rel.join(entry.file_name());
            let kind = entry
                .file_type()
                .map_err(|e| format!("{}: {e}", here.display()))?;
            if kind.is_dir() && rel != Path::new("target") {
                todo.push(rel);
            } else if kind.is_file() {
                out.push(rel);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// `cargo xtask new-app`: creates the app and says what to do next.
pub fn run(ws: &Workspace, name: &str, mode: &str) -> Result<(), String> {
    let created = create(&ws.root, name, mode)?;
    println!("created {} (rseq mode {mode}):", ws.display(&created.dir));
    for f in &created.files {
        println!("  {}", ws.display(f));
    }
    println!("added \"apps/{name}\" to the workspace members in Cargo.toml");
    println!("next:");
    println!("  just qemu app={name}        build and boot it on QEMU virt");
    println!("  just qemu-rpi4 app={name}   the same on QEMU raspi4b");
    println!(
        "  a test scenario: in xtask/src/scenarios.rs, copy the `template` entry of SCENARIOS \
         with name and app \"{name}\" and its lines starting \"{name}: \"; \
         then `just test no-host filter={name}`"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folders() -> Vec<String> {
        ["hello", "rseq-v2", "rt", "app-build.rs"]
            .map(String::from)
            .to_vec()
    }

    fn packages() -> Vec<String> {
        ["hello", "rseq-v2", "rt", "kernel", "critical-section"]
            .map(String::from)
            .to_vec()
    }

    #[test]
    fn good_names_pass() {
        for name in ["demo", "my-app", "my_app2", "a", &"x".repeat(64)] {
            assert_eq!(
                validate_name(name, &folders(), &packages()),
                Ok(()),
                "{name}"
            );
        }
    }

    #[test]
    fn bad_names_are_refused_with_the_fix() {
        let err = |name: &str| validate_name(name, &folders(), &packages()).unwrap_err();
        assert!(err("").contains("just new-app NAME"));
        assert!(err("Demo").contains("lowercase, e.g. `demo`"));
        assert!(err("my app").contains("contains ' '"));
        assert!(err("my.app").contains("contains '.'"));
        assert!(err("démo").contains("contains 'é'"));
        assert!(err("2fast").contains("start with a letter"));
        assert!(err("-x").contains("start with a letter"));
        assert!(err("_x").contains("start with a letter"));
        assert!(err(&"x".repeat(65)).contains("at most 64"));
        for reserved in [
            "fn",
            "self",
            "std",
            "core",
            "test",
            "deps",
            "build",
            "con",
            "proc-macro",
        ] {
            assert!(err(reserved).contains("reserved"), "{reserved}");
        }
        assert!(err("hello").contains("apps/hello already exists"));
        assert!(err("kernel").contains("`kernel` is already a package"));
        // Cargo treats - and _ alike in crate names.
        assert!(err("rseq_v2").contains("apps/rseq-v2 already exists"));
        assert!(err("critical_section").contains("`critical-section` is already a package"));
        // One line each.
        assert!(!err("Demo").contains('\n'));
    }

    #[test]
    fn modes() {
        for m in MODES {
            assert_eq!(validate_mode(m), Ok(*m));
        }
        assert_eq!(
            validate_mode("v3").unwrap_err(),
            "mode=v3: expected v1, v2, linux or none"
        );
    }

    #[test]
    fn set_mode_rewrites_only_the_macro_argument() {
        let src = "//! doc: rt::rseq_mode!(v2) in a comment\nrt::main!(main);\nrt::rseq_mode!(v2); // why\nfn main() {}\n";
        for mode in MODES {
            let out = set_mode(src, mode).unwrap();
            assert_eq!(
                out,
                src.replace(
                    "\nrt::rseq_mode!(v2);",
                    &format!("\nrt::rseq_mode!({mode});")
                )
            );
        }
        let err = set_mode("fn main() {}\n", "v1").unwrap_err();
        assert!(err.contains("has 0 `rt::rseq_mode!(...)` lines"), "{err}");
        let twice = "rt::rseq_mode!(v1);\nrt::rseq_mode!(v2);\n";
        assert!(set_mode(twice, "v1").unwrap_err().contains("has 2"));
    }

    #[test]
    fn set_package_rewrites_name_and_description() {
        let toml = "[package]\nname = \"template\"\ndescription = \"old\"\nversion.workspace = true\n\n[dependencies]\nrt = { path = \"../rt\" }\n";
        let out = set_package(toml, "demo", "say \"hi\"").unwrap();
        assert_eq!(
            out,
            "[package]\nname = \"demo\"\ndescription = \"say \\\"hi\\\"\"\nversion.workspace = true\n\n[dependencies]\nrt = { path = \"../rt\" }\n"
        );
        assert!(set_package("[package]\nname = \"x\"\n", "demo", "d").is_err());
    }

    const ROOT: &str = "[workspace]\nresolver = \"2\"\nmembers = [\n    \"arch\",\n    \"apps/rt\",\n    \"apps/hello\",\n    \"xtask\",\n]\ndefault-members = [\"xtask\"]\n";

    #[test]
    fn insert_member_goes_after_the_last_app() {
        let out = insert_member(ROOT, "demo").unwrap();
        assert_eq!(
            out,
            ROOT.replace("\"apps/hello\",\n", "\"apps/hello\",\n    \"apps/demo\",\n")
        );
        // Twice is refused, naming the fix.
        let err = insert_member(&out, "demo").unwrap_err();
        assert!(err.contains("already a workspace member"), "{err}");
        // CRLF files stay CRLF.
        let crlf = ROOT.replace('\n', "\r\n");
        let out = insert_member(&crlf, "demo").unwrap();
        assert!(out.contains("\"apps/hello\",\r\n    \"apps/demo\",\r\n    \"xtask\""));
        assert!(insert_member("[workspace]\n", "demo").is_err());
        assert!(insert_member("members = [\n    \"xtask\",\n]\n", "demo").is_err());
    }

    /// The real template and root manifest: a template edit that the
    /// generator can no longer handle fails here, not at `just new-app`.
    #[test]
    fn the_real_template_and_manifest_are_accepted() {
        let ws = Workspace::locate();
        let t = ws.root.join("apps").join(TEMPLATE);
        let main = fs::read_to_string(t.join("src/main.rs")).unwrap();
        assert!(
            main.contains("\nrt::rseq_mode!(v2);\n"),
            "the template is v2"
        );
        let v1 = set_mode(&main, "v1").unwrap();
        assert_eq!(v1.matches("rt::rseq_mode!(v1);").count(), 1);
        assert!(!v1.contains("rt::rseq_mode!(v2)"));
        let toml = fs::read_to_string(t.join("Cargo.toml")).unwrap();
        let out = set_package(&toml, "demo", &description("v1")).unwrap();
        assert!(out.contains("\nname = \"demo\"\n"));
        assert!(out.contains("rseq v1"));
        let root = fs::read_to_string(ws.root.join("Cargo.toml")).unwrap();
        let out = insert_member(&root, "demo").unwrap();
        assert_eq!(out.len(), root.len() + "    \"apps/demo\",\n".len());
        assert!(out.contains(&format!("\"apps/{TEMPLATE}\",\n    \"apps/demo\",\n")));
    }

    /// The whole of `create` on a scratch copy of the template and the
    /// root manifest: the files it writes, and that a taken name or a
    /// second run changes nothing.
    #[test]
    fn create_in_a_scratch_workspace() {
        let ws = Workspace::locate();
        let scratch = std::env::temp_dir().join(format!("xtask-newapp-{}", std::process::id()));
        let _ = fs::remove_dir_all(&scratch);
        let t = scratch.join("apps").join(TEMPLATE);
        fs::create_dir_all(t.join("src")).unwrap();
        let real = ws.root.join("apps").join(TEMPLATE);
        for f in ["Cargo.toml", "src/main.rs"] {
            fs::copy(real.join(f), t.join(f)).unwrap();
        }
        fs::create_dir(scratch.join("apps/hello")).unwrap();
        fs::write(scratch.join("Cargo.toml"), ROOT).unwrap();
        fs::write(
            scratch.join("Cargo.lock"),
            "[[package]]\nname = \"smccc\"\n",
        )
        .unwrap();

        let made = create(&scratch, "demo", "none").unwrap();
        assert_eq!(made.dir, scratch.join("apps/demo"));
        assert_eq!(
            made.files,
            [made.dir.join("Cargo.toml"), made.dir.join("src/main.rs")]
        );
        let main = fs::read_to_string(made.dir.join("src/main.rs")).unwrap();
        assert!(main.contains("\nrt::rseq_mode!(none);\n"));
        let toml = fs::read_to_string(made.dir.join("Cargo.toml")).unwrap();
        assert!(toml.contains("\nname = \"demo\"\n"));
        let root = fs::read_to_string(scratch.join("Cargo.toml")).unwrap();
        assert!(root.contains("    \"apps/hello\",\n    \"apps/demo\",\n"));

        // Refusals leave everything as it was.
        for (name, mode, why) in [
            ("demo", "v2", "apps/demo already exists"),
            ("hello", "v2", "apps/hello already exists"),
            ("smccc", "v2", "`smccc` is already a package"),
            ("other", "v9", "expected v1, v2, linux or none"),
        ] {
            let err = create(&scratch, name, mode).unwrap_err();
            assert!(err.contains(why), "{name}: {err}");
        }
        assert_eq!(
            fs::read_to_string(scratch.join("Cargo.toml")).unwrap(),
            root
        );
        assert!(!scratch.join("apps/other").exists());
        fs::remove_dir_all(&scratch).unwrap();
    }
}
