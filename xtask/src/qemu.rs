//! The QEMU command line for a board and a set of options.
//!
//! Kept separate from running QEMU so the exact command is unit-tested, and so
//! the interactive `qemu` command, `gdb` and the test runner boot images the
//! same way.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use crate::boards::Board;

/// The QEMU binary: every board is aarch64.
pub const QEMU: &str = "qemu-system-aarch64";

/// How to boot an image.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// Enter the kernel at EL2 instead of EL1.
    pub el2: bool,
    /// GIC version (2 or 3); `None` is the machine's default (GICv2 on virt).
    pub gic: Option<u8>,
    /// `-cpu` model; `None` is the board's default.
    pub cpu: Option<String>,
    /// Kernel command line; always passed, possibly empty.
    pub append: String,
    /// Wait for gdb on 127.0.0.1:PORT before the first instruction
    /// (`-gdb tcp:127.0.0.1:PORT -S`; QEMU's `-s` would listen on every
    /// interface).
    pub gdb: Option<u16>,
    /// A device tree for machines that need one (`firmware::qemu_dtb`).
    pub dtb: Option<std::path::PathBuf>,
    /// The program a loader kernel runs (`-initrd`): QEMU puts the file in
    /// RAM and names it in the DTB's `/chosen`.
    pub initrd: Option<std::path::PathBuf>,
    /// Run every vCPU on one host thread, round robin (`-accel
    /// tcg,thread=single`), instead of one thread each. For boots that
    /// switch tasks millions of times on a host with fewer cores than
    /// vCPUs: there the vCPU threads hand QEMU's locks to each other
    /// through the host scheduler, and a third of the host time goes to
    /// that (the 200-thread selftests: 186 s of host CPU with a thread per
    /// vCPU, 116 s round robin, for the same 20 million switches).
    pub round_robin: bool,
    /// `-icount shift=0,sleep=off`: virtual time advances one nanosecond
    /// per executed instruction, so the system counter counts instructions
    /// (the benchmarks' clock), and a boot that waits for time takes no
    /// host time to do it.
    pub icount: bool,
}

/// The arguments after `qemu-system-aarch64` that boot `image` on `board`.
///
/// # Errors
/// When an option asks for something the board's hardware cannot change.
pub fn args(board: &Board, image: &Path, opts: &Options) -> Result<Vec<String>, String> {
    let mut machine = board.machine.to_string();
    let mut args = Vec::new();
    match &board.knobs {
        Some(knobs) => {
            if opts.el2 {
                machine = format!("{machine},{}", knobs.el2);
            }
            match opts.gic {
                None | Some(2) => {}
                Some(v @ 3) => machine = format!("{machine},{}{v}", knobs.gic_version),
                Some(v) => return Err(format!("GIC version {v} is not supported (use 2 or 3)")),
            }
            let cpu = opts.cpu.as_deref().unwrap_or(knobs.default_cpu);
            args.extend(["-cpu".to_string(), cpu.to_string()]);
        }
        None => {
            if opts.el2 || opts.gic.is_some() || opts.cpu.is_some() {
                return Err(format!(
                    "board {} has fixed hardware: --el2, --gic and --cpu do not apply",
                    board.name
                ));
            }
        }
    }
    let mut all = vec!["-M".to_string(), machine];
    all.append(&mut args);
    all.extend(board.qemu_args.iter().map(|a| a.to_string()));
    if opts.round_robin {
        all.extend(["-accel".to_string(), "tcg,thread=single".to_string()]);
    }
    if opts.icount {
        all.extend(["-icount".to_string(), "shift=0,sleep=off".to_string()]);
    }
    all.extend(["-kernel".to_string(), image.display().to_string()]);
    if let Some(dtb) = &opts.dtb {
        all.extend(["-dtb".to_string(), dtb.display().to_string()]);
    }
    if let Some(initrd) = &opts.initrd {
        all.extend(["-initrd".to_string(), initrd.display().to_string()]);
    }
    all.extend(["-append".to_string(), opts.append.clone()]);
    if let Some(port) = opts.gdb {
        all.extend([
            "-gdb".to_string(),
            format!("tcp:127.0.0.1:{port}"),
            "-S".to_string(),
        ]);
    }
    Ok(all)
}

/// A ready-to-spawn QEMU command, which dies with the thread that spawns it.
pub fn command(board: &Board, image: &Path, opts: &Options) -> Result<Command, String> {
    let mut cmd = Command::new(QEMU);
    cmd.args(args(board, image, opts)?);
    die_with_parent(&mut cmd);
    Ok(cmd)
}

/// `prctl(2)` option: the signal the calling process gets when its parent
/// dies.
const PR_SET_PDEATHSIG: i32 = 1;
/// SIGTERM rather than SIGKILL: QEMU then exits cleanly, restoring the
/// terminal that `-nographic` put in raw mode and closing its gdb port.
const SIGTERM: i32 = 15;
/// errno "no such process".
const ESRCH: i32 = 3;

unsafe extern "C" {
    /// glibc's `int prctl(int option, ...)`; xtask links libc through std.
    fn prctl(option: i32, ...) -> i32;
}

/// Makes the spawned process get SIGTERM when its parent goes away, however
/// that happens (xtask killed by a signal, a panic, the terminal closed), so
/// no QEMU is left running and holding its gdb port. QEMU 10.1's
/// `-run-with exit-with-parent=on` does the same but 10.0 lacks it.
///
/// Linux sends the signal when the spawning *thread* exits, so the thread
/// that spawns QEMU must also wait for it (every caller in xtask does).
fn die_with_parent(cmd: &mut Command) {
    let parent = std::process::id();
    let hook = move || {
        // SAFETY: PR_SET_PDEATHSIG takes one integer argument, a signal
        // number, and changes nothing but this process's death signal.
        if unsafe { prctl(PR_SET_PDEATHSIG, SIGTERM as std::ffi::c_ulong) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // The parent may have died before prctl took effect: then the child
        // has been re-parented and no signal will ever come.
        if std::os::unix::process::parent_id() != parent {
            // ESRCH without allocating: the child of a threaded parent must
            // not touch the allocator before exec.
            return Err(std::io::Error::from_raw_os_error(ESRCH));
        }
        Ok(())
    };
    // SAFETY: the hook runs in the child between fork and exec, where only
    // async-signal-safe calls are allowed: prctl and getppid are system
    // calls, and nothing in it allocates or takes a lock.
    unsafe {
        cmd.pre_exec(hook);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::boards;

    fn line(opts: &Options) -> String {
        let virt = boards::find("virt").unwrap();
        args(virt, Path::new("target/images/virt-hello.img"), opts)
            .unwrap()
            .iter()
            .map(|a| {
                if a.is_empty() {
                    "\"\"".to_string()
                } else {
                    a.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn a_child_dies_with_the_thread_that_spawned_it() {
        // The spawning thread ends without waiting: Linux then sends the
        // death signal to the child, as it would if xtask were killed.
        let child = std::thread::spawn(|| {
            let mut cmd = Command::new("sleep");
            cmd.arg("30");
            die_with_parent(&mut cmd);
            cmd.spawn().expect("spawn sleep")
        })
        .join()
        .unwrap();
        let mut child = child;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("sleep outlived its parent thread by 10 s");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(SIGTERM), "{status}");
    }

    #[test]
    fn virt_defaults() {
        assert_eq!(
            line(&Options::default()),
            "-M virt -cpu cortex-a72 -smp 4 -m 256M -nographic \
             -semihosting-config enable=on,target=native \
             -kernel target/images/virt-hello.img -append \"\""
        );
    }

    #[test]
    fn virt_el2_gicv3_cpu_append_gdb() {
        let opts = Options {
            el2: true,
            gic: Some(3),
            cpu: Some("cortex-a76".into()),
            append: "hz=250 -- ticks".into(),
            gdb: Some(1234),
            dtb: None,
            initrd: None,
            round_robin: false,
            icount: false,
        };
        let virt = boards::find("virt").unwrap();
        let a = args(virt, Path::new("x.img"), &opts).unwrap();
        assert_eq!(
            a[..4],
            [
                "-M",
                "virt,virtualization=on,gic-version=3",
                "-cpu",
                "cortex-a76"
            ]
        );
        let append = a.iter().position(|x| x == "-append").unwrap();
        assert_eq!(
            a[append + 1],
            "hz=250 -- ticks",
            "one argument, spaces kept"
        );
        assert_eq!(a[a.len() - 3..], ["-gdb", "tcp:127.0.0.1:1234", "-S"]);
    }

    #[test]
    fn round_robin_is_one_tcg_thread_and_icount_counts_instructions() {
        let opts = Options {
            round_robin: true,
            icount: true,
            ..Options::default()
        };
        assert_eq!(
            line(&opts),
            "-M virt -cpu cortex-a72 -smp 4 -m 256M -nographic \
             -semihosting-config enable=on,target=native \
             -accel tcg,thread=single -icount shift=0,sleep=off \
             -kernel target/images/virt-hello.img -append \"\""
        );
    }

    #[test]
    fn gic_2_is_the_default() {
        let explicit = Options {
            gic: Some(2),
            ..Options::default()
        };
        assert_eq!(line(&explicit), line(&Options::default()));
    }

    #[test]
    fn bad_gic_rejected() {
        let virt = boards::find("virt").unwrap();
        let opts = Options {
            gic: Some(4),
            ..Options::default()
        };
        assert!(args(virt, Path::new("x"), &opts).is_err());
    }

    #[test]
    fn fixed_board_rejects_knobs() {
        let fixed = boards::Board {
            name: "fixed",
            feature: "board-fixed",
            machine: "raspi4b",
            knobs: None,
            qemu_args: &["-serial", "stdio"],
            needs_firmware_dtb: true,
            kernel_base: 0x8_0000,
        };
        let plain = args(&fixed, Path::new("k.img"), &Options::default()).unwrap();
        assert_eq!(plain[..4], ["-M", "raspi4b", "-serial", "stdio"]);
        let with_dtb = Options {
            dtb: Some("fw/pi.dtb".into()),
            ..Options::default()
        };
        let a = args(&fixed, Path::new("k.img"), &with_dtb).unwrap();
        assert_eq!(a[4..8], ["-kernel", "k.img", "-dtb", "fw/pi.dtb"]);
        let with_initrd = Options {
            initrd: Some("target/prog".into()),
            ..with_dtb
        };
        let a = args(&fixed, Path::new("k.img"), &with_initrd).unwrap();
        assert_eq!(
            a[4..12],
            [
                "-kernel",
                "k.img",
                "-dtb",
                "fw/pi.dtb",
                "-initrd",
                "target/prog",
                "-append",
                ""
            ]
        );
        let el2 = Options {
            el2: true,
            ..Options::default()
        };
        assert!(args(&fixed, Path::new("k.img"), &el2).is_err());
    }
}
