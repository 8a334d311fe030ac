//! `selftest -- svc-regs`: a syscall leaves every register but x0 as it
//! was, NZCV included, and x0 holds its result: the identity syscalls
//! (getpid … gettid, which the kernel may answer in its fast lane) with
//! `svc #0` and `svc #1` (Linux ignores the immediate), and `sched_yield`,
//! which takes the common path. The syscall counter in kstats must count
//! each call exactly once, whichever path answered it.

use rt::println;
use rt::sys::{self, nr};
use rt::test::{check, status};

/// What `svc_regs_probe` leaves: x0..x30 after the `svc`, then NZCV.
#[repr(C)]
struct After {
    x: [u64; 31],
    nzcv: u64,
}

/// Every register but x8 (the number) starts as `PATTERN + n`.
const PATTERN: u64 = 0x5555_5555_5555_5555;
/// NZCV before the `svc`: N and C set.
const NZCV: u64 = 0xa000_0000;

// svc_regs_probe_imm{0,1}(nr: x0, out: x1 = *mut After): the callee-saved
// registers (and x18) are kept on the stack around the probe.
core::arch::global_asm!(
    ".macro svc_regs_probe imm",
    ".global svc_regs_probe_imm\\imm",
    "svc_regs_probe_imm\\imm:",
    "sub sp, sp, #112",
    "stp x19, x20, [sp, #0]",
    "stp x21, x22, [sp, #16]",
    "stp x23, x24, [sp, #32]",
    "stp x25, x26, [sp, #48]",
    "stp x27, x28, [sp, #64]",
    "stp x29, x30, [sp, #80]",
    "stp x18, x1, [sp, #96]",
    "mov x8, x0",
    "mov x16, #{nzcv}",
    "msr nzcv, x16",
    ".irp n, 0,1,2,3,4,5,6,7,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30",
    "mov x\\n, #{pattern}",
    "add x\\n, x\\n, #\\n",
    ".endr",
    "svc #\\imm",
    "stp x16, x17, [sp, #-16]!",
    "mrs x16, nzcv",
    "ldr x17, [sp, #16 + 104]",
    "stp x0, x1, [x17, #0]",
    "stp x2, x3, [x17, #16]",
    "stp x4, x5, [x17, #32]",
    "stp x6, x7, [x17, #48]",
    "stp x8, x9, [x17, #64]",
    "stp x10, x11, [x17, #80]",
    "stp x12, x13, [x17, #96]",
    "stp x14, x15, [x17, #112]",
    "str x16, [x17, #248]",
    "ldp x0, x1, [sp], #16",
    "stp x0, x1, [x17, #128]",
    "stp x18, x19, [x17, #144]",
    "stp x20, x21, [x17, #160]",
    "stp x22, x23, [x17, #176]",
    "stp x24, x25, [x17, #192]",
    "stp x26, x27, [x17, #208]",
    "stp x28, x29, [x17, #224]",
    "str x30, [x17, #240]",
    "ldp x19, x20, [sp, #0]",
    "ldp x21, x22, [sp, #16]",
    "ldp x23, x24, [sp, #32]",
    "ldp x25, x26, [sp, #48]",
    "ldp x27, x28, [sp, #64]",
    "ldp x29, x30, [sp, #80]",
    "ldr x18, [sp, #96]",
    "add sp, sp, #112",
    "ret",
    ".endm",
    "svc_regs_probe 0",
    "svc_regs_probe 1",
    pattern = const PATTERN,
    nzcv = const NZCV,
);

unsafe extern "C" {
    fn svc_regs_probe_imm0(nr: u64, out: *mut After);
    fn svc_regs_probe_imm1(nr: u64, out: *mut After);
}

/// Syscall `nr` with `svc #imm` and every other register patterned: what
/// the registers held after it.
fn probe(nr: u64, imm: u8) -> After {
    let mut a = After {
        x: [0; 31],
        nzcv: 0,
    };
    // SAFETY: the probe keeps the AAPCS64 contract (callee-saved registers
    // and x18 restored, sp balanced) and writes only `a`; the syscalls it
    // is given take no pointers (their argument registers hold patterns).
    unsafe {
        if imm == 0 {
            svc_regs_probe_imm0(nr, &mut a);
        } else {
            svc_regs_probe_imm1(nr, &mut a);
        }
    }
    a
}

/// The registers (by number) that `a` has changed, x0 and x8 aside, and
/// whether NZCV changed.
fn changed(nr: u64, a: &After) -> (u64, bool) {
    let mut mask = 0;
    for (n, &v) in a.x.iter().enumerate() {
        let want = if n == 8 { nr } else { PATTERN + n as u64 };
        if n != 0 && v != want {
            mask |= 1 << n;
        }
    }
    (mask, a.nzcv != NZCV)
}

pub fn run() -> i32 {
    let tid = sys::gettid() as u64;
    // (number, result) with x0..x5 patterned.
    let calls = [
        (nr::GETPID, 1),
        (nr::GETPPID, 0),
        (nr::GETUID, 0),
        (nr::GETEUID, 0),
        (nr::GETGID, 0),
        (nr::GETEGID, 0),
        (nr::GETTID, tid),
        (nr::SCHED_YIELD, 0),
    ];
    let before = sys::kstats();
    let mut made = 0u64;
    let mut bad = 0u32;
    for imm in [0u8, 1] {
        for &(n, want) in &calls {
            let a = probe(n, imm);
            made += 1;
            let (mask, nzcv) = changed(n, &a);
            if a.x[0] != want || mask != 0 || nzcv {
                bad += 1;
                println!(
                    "selftest: syscall {n} with svc #{imm}: x0 {:#x} (want {want:#x}), registers changed {mask:#x}, NZCV {:#x}",
                    a.x[0], a.nzcv
                );
            }
        }
    }
    let after = sys::kstats();
    let mut all = check(
        "svc-regs",
        bad == 0,
        format_args!("{bad} of {made} syscalls changed a register or answered wrong"),
    );
    let counted = match (before, after) {
        (Ok(b), Ok(a)) => Some(a.syscalls - b.syscalls),
        _ => None,
    };
    // Each probe, and the second kstats itself.
    all &= check(
        "svc-regs-counted",
        counted == Some(made + 1),
        format_args!("kstats syscalls +{counted:?} for {made} probes and 1 kstats"),
    );
    status(all)
}
