//! Checks of the debugging workflow, run by `cargo xtask test`:
//!
//! - [`backtrace`]: the debug image of hello booted halted with the gdb stub,
//!   gdb stops in a syscall handler and `bt` walks back to the exception
//!   vector and ends there (the vectors' CFI), then hello runs to its exit;
//! - [`dies_with_xtask`]: `cargo xtask qemu gdb=1` killed with SIGTERM
//!   leaves no QEMU behind holding the gdb port.

use std::fs::{self, File};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::boards;
use crate::build::{self, Profile};
use crate::qemu;
use crate::workspace::{self, Workspace};

/// The backtrace check's name in PASS/FAIL lines.
pub const BACKTRACE: &str = "virt/gdb-backtrace";
/// The parent-death check's name in PASS/FAIL lines.
pub const DIES_WITH_XTASK: &str = "virt/qemu-dies-with-xtask";

/// gdb for a foreign architecture; Debian's package of the same name.
const GDB: &str = "gdb-multiarch";
/// A syscall handler hello reaches (it prints), and one the table's
/// dispatch slots never inline (`#[inline(never)]`), so gdb finds it by name.
const BREAKPOINT: &str = "kernel::syscall::io::sys_write";
/// The vector stub a syscall from EL0 enters through: `bt` must end there.
const VECTOR: &str = "el0_sync";
/// More frames than a syscall from EL0 can have: handler, dispatch, trap
/// handler, vector stub, plus room for inlining to change.
const MAX_FRAMES: usize = 12;
/// How many frames gdb is asked for: well past [`MAX_FRAMES`], so a
/// backtrace that loops shows it.
const BT_LIMIT: usize = 40;
/// Time for each step: booting to the breakpoint, running to the end.
const STEP_TIMEOUT: Duration = Duration::from_secs(60);

/// Boots the debug image of hello under gdb and judges the backtrace from
/// [`BREAKPOINT`]; returns a one-line summary.
pub fn backtrace(ws: &Workspace) -> Result<String, String> {
    require_gdb()?;
    let board = boards::find("virt")?;
    let image = build::build_as(ws, board, "hello", Profile::Debug)?;
    let port = free_port()?;
    let dir = ws.test_logs().join(board.name);
    let serial = dir.join("gdb-backtrace.log");
    let gdb_log = dir.join("gdb-backtrace.gdb.log");
    fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;

    let opts = qemu::Options {
        gdb: Some(port),
        ..Default::default()
    };
    let mut cmd = qemu::command(board, &image.img, &opts)?;
    log_to(&mut cmd, &serial)?;
    let qemu = Guard(
        cmd.spawn()
            .map_err(|e| format!("cannot start {}: {e}", workspace::describe(&cmd)))?,
    );
    wait_listening(port, STEP_TIMEOUT)?;

    let mut gdb = Command::new(GDB);
    gdb.args(["-batch", "-nx"]).arg(&image.elf);
    for ex in [
        "set pagination off".to_string(),
        "set confirm off".to_string(),
        format!("target remote 127.0.0.1:{port}"),
        format!("break {BREAKPOINT}"),
        "continue".to_string(),
        format!("bt {BT_LIMIT}"),
        "delete".to_string(),
        "continue".to_string(),
    ] {
        gdb.arg("-ex").arg(ex);
    }
    log_to(&mut gdb, &gdb_log)?;
    let gdb_child = Guard(
        gdb.spawn()
            .map_err(|e| format!("cannot start {}: {e}", workspace::describe(&gdb)))?,
    );
    let gdb_status = gdb_child.wait(STEP_TIMEOUT * 2);
    let qemu_status = qemu.wait(STEP_TIMEOUT);
    let out = fs::read_to_string(&gdb_log).unwrap_or_default();
    let summary = judge(&out).map_err(|e| format!("{e} (gdb log: {})", ws.display(&gdb_log)))?;
    match gdb_status {
        Some(s) if s.success() => {}
        other => {
            return Err(format!(
                "gdb ended with {other:?} ({})",
                ws.display(&gdb_log)
            ));
        }
    }
    let console = fs::read_to_string(&serial).unwrap_or_default();
    match qemu_status {
        Some(s) if s.success() && console.contains("hello from EL0") => {
            Ok(format!("{summary}; hello then ran to exit 0"))
        }
        other => Err(format!(
            "after the breakpoint hello did not run to exit 0 (QEMU {other:?}, {})",
            ws.display(&serial)
        )),
    }
}

/// Pure: the verdict on gdb's output for the commands [`backtrace`] runs.
pub fn judge(out: &str) -> Result<String, String> {
    let symbol = BREAKPOINT.rsplit("::").next().unwrap_or(BREAKPOINT);
    if !out
        .lines()
        .any(|l| l.contains("hit Breakpoint 1,") && l.contains(symbol))
    {
        return Err(format!("the breakpoint in {BREAKPOINT} was not hit"));
    }
    for bad in [
        "previous frame identical",
        "corrupt stack",
        "Backtrace stopped",
        "previous frame inner",
    ] {
        if let Some(line) = out.lines().find(|l| l.contains(bad)) {
            return Err(format!("bt did not end cleanly: {line:?}"));
        }
    }
    // Frame lines start `#N ` after the breakpoint report.
    let frames: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with('#') && l[1..].starts_with(|c: char| c.is_ascii_digit()))
        .collect();
    let (Some(first), Some(last)) = (frames.first(), frames.last()) else {
        return Err("bt printed no frames".to_string());
    };
    if !first.contains(symbol) {
        return Err(format!("bt starts at {first:?}, not in {symbol}"));
    }
    if frames.len() > MAX_FRAMES {
        return Err(format!(
            "bt has {} frames (more than {MAX_FRAMES}): it does not end at the vector; last {last:?}",
            frames.len()
        ));
    }
    // `#4  0x... in el0_sync ()`, not `el0_sync_handler (...)`.
    let vector = format!(" {VECTOR} (");
    if !last.contains(&vector) || frames.iter().filter(|f| f.contains(&vector)).count() != 1 {
        return Err(format!(
            "bt does not end at {VECTOR} once: last frame {last:?}"
        ));
    }
    Ok(format!(
        "breakpoint in {symbol}, bt of {} frames ends at {VECTOR}",
        frames.len()
    ))
}

/// Starts `cargo xtask qemu debug=1 gdb=1` (this very binary) on a free
/// port, waits for its QEMU to listen, sends the xtask SIGTERM and checks
/// that the port is released and no QEMU for it is left. It boots the
/// debug image [`backtrace`] built, so the checks of this module build
/// nothing in the release profile, whose kernel binary the other late
/// checks may rebuild beside them.
pub fn dies_with_xtask(ws: &Workspace) -> Result<String, String> {
    let port = free_port()?;
    let dir = ws.test_logs().join("virt");
    fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let log = dir.join("qemu-dies-with-xtask.log");
    let exe = std::env::current_exe().map_err(|e| format!("cannot find xtask's binary: {e}"))?;
    let mut cmd = Command::new(exe);
    cmd.args([
        "qemu",
        "app=hello",
        "debug=1",
        "gdb=1",
        &format!("port={port}"),
    ]);
    log_to(&mut cmd, &log)?;
    let xtask = Guard(
        cmd.spawn()
            .map_err(|e| format!("cannot start {}: {e}", workspace::describe(&cmd)))?,
    );
    // The nested xtask builds first (nothing to do when the image is fresh).
    wait_listening(port, Duration::from_secs(300))
        .map_err(|e| format!("{e} ({})", ws.display(&log)))?;
    let pid = xtask.0.id().to_string();
    workspace::run(Command::new("kill").args(["-TERM", &pid]))?;
    let status = xtask.wait(Duration::from_secs(10));
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if !listening(port) && qemu_pids(port).is_empty() {
            let how = status.map_or("still running".to_string(), |s| s.to_string());
            return Ok(format!(
                "xtask got SIGTERM ({how}); its QEMU exited and 127.0.0.1:{port} is free"
            ));
        }
        thread::sleep(Duration::from_millis(100));
    }
    let left = qemu_pids(port);
    for pid in &left {
        let _ = Command::new("kill").args(["-KILL", pid]).status();
    }
    Err(format!(
        "10 s after SIGTERM to xtask, QEMU {left:?} still holds 127.0.0.1:{port}"
    ))
}

/// `Err` telling how to get gdb-multiarch when it is not installed.
fn require_gdb() -> Result<(), String> {
    match Command::new(GDB).arg("--version").output() {
        Ok(out) if out.status.success() => Ok(()),
        _ => Err(format!(
            "{GDB} not found: install gdb-multiarch (bash setup.sh)"
        )),
    }
}

/// A loopback port nobody listens on right now.
fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| format!("no free port on 127.0.0.1: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

/// Whether something accepts connections on 127.0.0.1:`port`.
fn listening(port: u16) -> bool {
    TcpStream::connect_timeout(
        &(Ipv4Addr::LOCALHOST, port).into(),
        Duration::from_millis(200),
    )
    .is_ok()
}

/// Waits until 127.0.0.1:`port` accepts a connection. QEMU's gdb stub takes
/// the probe's connection and, once it closes, waits for the next: gdb's.
fn wait_listening(port: u16, timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if listening(port) {
            return Ok(());
        }
        thread::sleep(Duration::from_millis(100));
    }
    Err(format!(
        "nothing listened on 127.0.0.1:{port} within {} s",
        timeout.as_secs()
    ))
}

/// The pids of running QEMUs whose command line has a gdb stub on `port`.
fn qemu_pids(port: u16) -> Vec<String> {
    let needle = format!("tcp:127.0.0.1:{port}");
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| {
            let pid = e.file_name().into_string().ok()?;
            pid.bytes().all(|b| b.is_ascii_digit()).then_some(())?;
            let cmdline = fs::read(e.path().join("cmdline")).ok()?;
            let words: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
            let is_qemu = words.first()?.ends_with(qemu::QEMU.as_bytes());
            let has_port = words.contains(&needle.as_bytes());
            (is_qemu && has_port).then_some(pid)
        })
        .collect()
}

/// Sends `cmd`'s stdout and stderr to a new (emptied) file at `path`, and
/// gives it no stdin.
fn log_to(cmd: &mut Command, path: &Path) -> Result<(), String> {
    let io = |e: std::io::Error| format!("{}: {e}", path.display());
    let out = File::create(path).map_err(io)?;
    let err = out.try_clone().map_err(io)?;
    cmd.stdin(Stdio::null()).stdout(out).stderr(err);
    Ok(())
}

/// A child process that is killed if it is still running when dropped, so
/// a failed check leaves nothing behind.
struct Guard(Child);

impl Guard {
    /// Its exit status, or `None` when it had to be killed after `timeout`.
    fn wait(mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.0.try_wait() {
                return Some(status);
            }
            thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "\
0x0000000040000000 in ?? ()
Breakpoint 1 at 0x4008cf20: file kernel/src/syscall.rs, line 144.

Thread 1 hit Breakpoint 1, kernel::syscall::io::sys_write (fd=1, buf=..., count=36) at kernel/src/syscall/io.rs:14
144	}
#0  kernel::syscall::io::sys_write (fd=1, buf=..., count=36) at kernel/src/syscall/io.rs:14
#1  0x00000000400844d0 in kernel::syscall::invoke (tf=0x40a1cee0) at kernel/src/syscall.rs:106
#2  kernel::traps::el0_svc (tf=0x40a1cee0) at kernel/src/traps.rs:50
#3  kernel::traps::el0_sync_handler (tf=0x40a1cee0) at kernel/src/traps.rs:19
#4  0x0000000040080fe8 in el0_sync ()
";

    #[test]
    fn a_backtrace_ending_at_the_vector_passes() {
        let summary = judge(GOOD).unwrap();
        assert!(summary.contains("5 frames"), "{summary}");
    }

    #[test]
    fn a_looping_backtrace_fails() {
        let mut looping = GOOD.to_string();
        for n in 5..40 {
            looping.push_str(&format!("#{n} 0x0000000040080fe8 in el0_sync ()\n"));
        }
        let err = judge(&looping).unwrap_err();
        assert!(err.contains("40 frames"), "{err}");
        // Short, but the vector repeats.
        let twice = format!("{GOOD}#5  0x0000000040080fe8 in el0_sync ()\n");
        assert!(judge(&twice).unwrap_err().contains("once"));
    }

    #[test]
    fn unwinder_complaints_and_a_missed_breakpoint_fail() {
        let stopped = format!(
            "{GOOD}Backtrace stopped: previous frame identical to this frame (corrupt stack?)\n"
        );
        assert!(judge(&stopped).unwrap_err().contains("did not end cleanly"));
        let missed = GOOD.replace("hit Breakpoint 1,", "received signal SIGINT,");
        assert!(judge(&missed).unwrap_err().contains("not hit"));
        let elsewhere = GOOD.replace("#4  0x0000000040080fe8 in el0_sync ()\n", "");
        assert!(
            judge(&elsewhere)
                .unwrap_err()
                .contains("does not end at el0_sync")
        );
        assert!(judge("").is_err());
    }
}
