//! Where things are: the workspace root, the target directory, the images,
//! and how to invoke the toolchain pinned for this workspace.

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

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
