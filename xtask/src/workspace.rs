//! Where things are: the workspace root, the target directory, the images,
//! and how to invoke the toolchain pinned for this workspace.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::SystemTime;

/// Paths of the rseq-os workspace this xtask belongs to.
#[derive(Debug, Clone)]
pub struct Workspace {
    pub root: PathBuf,
    /// Cargo's target directory (`CARGO_TARGET_DIR` or `<root>/target`).
    pub target: PathBuf,
}

impl Workspace {
    /// The workspace containing this crate: xtask is always `<root>/xtask`, so
    /// the binary works from any current directory.
    pub fn locate() -> Workspace {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("xtask lives inside the workspace")
            .to_path_buf();
        let target = match env::var_os("CARGO_TARGET_DIR") {
            Some(dir) => root.join(dir),
            None => root.join("target"),
        };
        Workspace { root, target }
    }

    /// `target/images`: the copies of built images, named per board and app,
    /// because cargo's own output path is the same for every app.
    pub fn images(&self) -> PathBuf {
        self.target.join("images")
    }

    /// The EL0 crates under `apps/`, sorted: every folder with a
    /// `Cargo.toml` (the folder is the package name); `bins` keeps only
    /// the apps an image can be built from (those with a `src/main.rs`),
    /// leaving out libraries such as `rt`.
    pub fn apps(&self, bins: bool) -> Vec<String> {
        let Ok(dir) = std::fs::read_dir(self.root.join("apps")) else {
            return Vec::new();
        };
        let mut apps: Vec<String> = dir
            .flatten()
            .filter(|e| e.path().join("Cargo.toml").is_file())
            .filter(|e| !bins || e.path().join("src/main.rs").is_file())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        apps.sort();
        apps
    }

    /// An app's rseq mode as its `src/main.rs` declares it
    /// (`rt::rseq_mode!(v2)`) and its `Cargo.toml` description, for
    /// `cargo xtask apps` (read from the sources: nothing is built).
    pub fn app_info(&self, app: &str) -> (String, String) {
        let dir = self.root.join("apps").join(app);
        let main = std::fs::read_to_string(dir.join("src/main.rs")).unwrap_or_default();
        let mode = main
            .split("rseq_mode!(")
            .nth(1)
            .and_then(|rest| rest.split(')').next())
            .unwrap_or("?")
            .trim()
            .to_string();
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap_or_default();
        let description = manifest
            .lines()
            .find_map(|l| l.strip_prefix("description = "))
            .map(|d| d.trim_matches('"').to_string())
            .unwrap_or_default();
        (mode, description)
    }

    /// `Ok` for an app an image can be built from, else an error listing them.
    pub fn check_app(&self, app: &str) -> Result<(), String> {
        let apps = self.apps(true);
        if apps.iter().any(|a| a == app) {
            Ok(())
        } else {
            Err(format!(
                "unknown app `{app}`; the apps: {}",
                apps.join(", ")
            ))
        }
    }

    /// `target/test-logs`: one serial log per scenario.
    pub fn test_logs(&self) -> PathBuf {
        self.target.join("test-logs")
    }

    /// A `cargo` command run at the workspace root, so rust-toolchain.toml
    /// picks the pinned toolchain. `CARGO` is the cargo that started us.
    pub fn cargo(&self) -> Command {
        let mut cmd = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        cmd.current_dir(&self.root);
        cmd
    }

    /// A `rustc` command run at the workspace root (same reason as [`cargo`]).
    ///
    /// [`cargo`]: Workspace::cargo
    pub fn rustc(&self) -> Command {
        let mut cmd = Command::new(env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()));
        cmd.current_dir(&self.root);
        cmd
    }

    /// `path` relative to the root when it is inside, for shorter messages.
    pub fn display<'a>(&self, path: &'a Path) -> std::path::Display<'a> {
        path.strip_prefix(&self.root).unwrap_or(path).display()
    }
}

/// Runs `cmd` with inherited stdio; `Err` names the command if it fails.
pub fn run(cmd: &mut Command) -> Result<(), String> {
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run {}: {e}", describe(cmd)))?;
    check(cmd, status)
}

/// `Err` describing `cmd` unless `status` is success.
pub fn check(cmd: &Command, status: ExitStatus) -> Result<(), String> {
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{}` failed ({status})", describe(cmd)))
    }
}

/// The command line of `cmd`, for messages.
pub fn describe(cmd: &Command) -> String {
    // `CARGO` is an absolute toolchain path; its file name reads better.
    let program = Path::new(cmd.get_program());
    let name = program.file_name().unwrap_or(program.as_os_str());
    let mut words = vec![name.to_string_lossy().into_owned()];
    words.extend(cmd.get_args().map(|a| {
        let a = a.to_string_lossy();
        if a.is_empty() || a.contains(' ') {
            format!("{a:?}")
        } else {
            a.into_owned()
        }
    }));
    words.join(" ")
}

/// The newest modification time of the files directly in `dirs`.
pub fn newest_input(dirs: &[&Path]) -> Result<SystemTime, String> {
    let mut newest = SystemTime::UNIX_EPOCH;
    for dir in dirs {
        let entries = fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for entry in entries.flatten() {
            if let Ok(meta) = entry.metadata()
                && meta.is_file()
                && let Ok(t) = meta.modified()
            {
                newest = newest.max(t);
            }
        }
    }
    Ok(newest)
}

/// Runs `cmd` (a compiler command lacking its `-o`) unless `out` was
/// built by the same command after every input changed; the command is
/// kept next to `out` to tell. The compiler writes a temporary file that
/// is then renamed to `out`, so a QEMU of another run reading `out` as
/// its initrd (or a scenario of this run, booting while another loader's
/// build compiles the same program) sees the old program or the new one,
/// never half of one.
pub fn compile(cmd: &mut Command, out: &Path, newest: SystemTime) -> Result<(), String> {
    let line = describe(cmd);
    let stamp = out.with_extension("cmd");
    let fresh = fs::read_to_string(&stamp).is_ok_and(|s| s == line)
        && fs::metadata(out)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t >= newest);
    if fresh {
        return Ok(());
    }
    let _ = fs::remove_file(&stamp);
    let tmp = out.with_extension(format!("tmp{}", std::process::id()));
    run(cmd.arg("-o").arg(&tmp))?;
    fs::rename(&tmp, out).map_err(|e| format!("{}: {e}", out.display()))?;
    fs::write(&stamp, line).map_err(|e| format!("{}: {e}", stamp.display()))
}
