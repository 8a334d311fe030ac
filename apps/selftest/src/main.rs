//! Foundation self-tests, one scenario per boot: `selftest -- <scenario>`.
//!
//! Scenarios that check results print `TEST <name> ok|FAIL <why>` lines;
//! scenarios that must kill the app (faults) print what they are about to do
//! and then do it, and the test runner checks the kernel's `[kill]` report.
#![no_std]
#![no_main]

mod fp;
mod linuxabi;
mod svcregs;

use rt::sys::{self, errno};
use rt::test::{check, status};
use rt::{Args, println};

rt::main!(main);
rt::rseq_mode!(none);

use rt::test::USER_UNMAPPED;
/// An address inside the kernel image (in the kernel's linear map, the high
/// half, EL1-only) when the test runner does not pass the board's
/// (`syscalls ADDR`, `read-kernel ADDR`): QEMU virt's kernel base.
const KERNEL_ADDR_VIRT: u64 = 0xffff_ff80_4008_0000;

/// The kernel address given as argument `i` (hex with 0x), or virt's.
fn kernel_addr(args: &Args, i: usize) -> u64 {
    let a = args.get(i);
    a.strip_prefix("0x")
        .and_then(|h| u64::from_str_radix(h, 16).ok())
        .unwrap_or(KERNEL_ADDR_VIRT)
}

fn main(args: Args) -> i32 {
    match args.get(1) {
        "syscalls" => syscalls(&args),
        "linuxabi" => linuxabi::run(kernel_addr(&args, 2)),
        "strace" => linuxabi::strace(),
        "svc-regs" => svcregs::run(),
        "fp" => fp::run(),
        "ticks" => ticks(),
        "data-abort" => data_abort(),
        "undef" => undef(),
        "brk" => brk(),
        "alignment" => alignment(),
        "inst-abort" => inst_abort(),
        "write-text" => write_text(),
        "exec-data" => exec_data(),
        "read-kernel" => read_kernel(kernel_addr(&args, 2)),
        "exit" => args.get(2).parse().unwrap_or(1),
        "panic" => panic!("deliberate panic from EL0"),
        other => {
            println!("selftest: unknown scenario `{other}`");
            println!(
                "scenarios: syscalls [KADDR] linuxabi [KADDR] strace svc-regs fp ticks data-abort undef brk alignment inst-abort"
            );
            println!("           write-text exec-data read-kernel [KADDR] exit N panic");
            2
        }
    }
}

fn syscalls(args: &Args) -> i32 {
    let mut all = true;
    let pid = sys::getpid();
    all &= check("getpid", pid == 1, format_args!("got {pid}"));
    let tid = sys::gettid();
    all &= check("gettid", tid == 1, format_args!("got {tid}"));

    let a = sys::monotonic();
    let b = sys::monotonic();
    let mut bad = sys::Timespec::default();
    let ret = sys::clock_gettime_raw(0x7777, &mut bad as *mut _ as u64);
    all &= check(
        "clock_gettime",
        b >= a
            && a.tv_nsec < 1_000_000_000
            && (a.tv_sec, a.tv_nsec) != (0, 0)
            && ret == -errno::EINVAL,
        format_args!("a={a:?} b={b:?} bad-clock={ret}"),
    );
    let ret = sys::clock_gettime_raw(sys::CLOCK_MONOTONIC, USER_UNMAPPED);
    all &= check(
        "clock_gettime-efault",
        ret == -errno::EFAULT,
        format_args!("got {ret}"),
    );

    let r1 = sys::syscall3(9999, 0, 0, 0);
    let r2 = sys::syscall3(400, 0, 0, 0);
    all &= check(
        "enosys",
        r1 == -errno::ENOSYS && r2 == -errno::ENOSYS,
        format_args!("got {r1}, {r2}"),
    );

    let msg = b"write-stdout payload\n";
    let n = sys::write(1, msg);
    all &= check(
        "write-stdout",
        n == msg.len() as i64,
        format_args!("got {n}"),
    );
    let n = sys::write(5, msg);
    all &= check("write-badfd", n == -errno::EBADF, format_args!("got {n}"));
    let n = sys::write_raw(1, USER_UNMAPPED, 8);
    all &= check(
        "write-efault-unmapped",
        n == -errno::EFAULT,
        format_args!("got {n}"),
    );
    let kernel = kernel_addr(args, 2);
    let n = sys::write_raw(1, kernel, 8);
    all &= check(
        "write-efault-kernel",
        n == -errno::EFAULT,
        format_args!("got {n}"),
    );
    let n = sys::write_raw(1, 0, 8);
    all &= check(
        "write-efault-null",
        n == -errno::EFAULT,
        format_args!("got {n}"),
    );
    // The top of the stack page is followed by an unmapped page: a buffer
    // that starts 16 bytes below the end straddles the boundary.
    let stack_top = args.auxval(25).map_or(0, |r| (r | 0xfff) + 1); // AT_RANDOM lies on the top stack page
    let n = sys::write_raw(1, stack_top - 16, 64);
    all &= check(
        "write-efault-straddle",
        n == -errno::EFAULT,
        format_args!("got {n} at {:#x}", stack_top - 16),
    );
    status(all)
}

/// Spins in EL0 for 300 ms of counter time without a syscall: the kernel's
/// tick must interrupt it (the runner checks `irqs_el0` in `[shutdown]`).
fn ticks() -> i32 {
    let (start, freq) = sys::counter();
    let end = start + freq * 3 / 10;
    let mut spins = 0u64;
    while sys::counter().0 < end {
        spins += 1;
    }
    check("ticks", spins > 0, format_args!("no spins"));
    0
}

fn data_abort() -> i32 {
    println!("selftest: loading from unmapped {USER_UNMAPPED:#x}");
    // SAFETY: deliberately invalid: the kernel must kill the app.
    let v = unsafe { core::ptr::read_volatile(USER_UNMAPPED as *const u64) };
    println!("selftest: survived a data abort?! read {v:#x}");
    1
}

fn undef() -> i32 {
    println!("selftest: executing udf #0");
    // SAFETY: deliberately undefined: the kernel must kill the app.
    unsafe { core::arch::asm!("udf #0") };
    1
}

fn brk() -> i32 {
    println!("selftest: executing brk #0");
    // SAFETY: a breakpoint with no debugger: the kernel must kill the app.
    unsafe { core::arch::asm!("brk #0") };
    1
}

fn alignment() -> i32 {
    let word = [0u64; 2];
    let addr = word.as_ptr() as u64 + 1;
    println!("selftest: exclusive load from misaligned {addr:#x}");
    // SAFETY: exclusive loads must be aligned: this raises an alignment fault.
    unsafe { core::arch::asm!("ldxr {v}, [{a}]", a = in(reg) addr, v = out(reg) _) };
    1
}

fn inst_abort() -> i32 {
    println!("selftest: branching to unmapped {USER_UNMAPPED:#x}");
    // SAFETY: deliberately invalid: the kernel must kill the app.
    unsafe { core::arch::asm!("blr {t}", t = in(reg) USER_UNMAPPED, clobber_abi("C")) };
    1
}

/// App text is mapped read+execute: a store to it is a permission fault.
fn write_text() -> i32 {
    let addr = main as *const () as u64;
    println!("selftest: storing to own text at {addr:#x}");
    // SAFETY: deliberately invalid: W^X must stop it and the kernel kill the app.
    unsafe { core::ptr::write_volatile(addr as *mut u32, 0xd503_201f) };
    1
}

/// App data is mapped read+write, never executable: branching into it is a
/// permission fault (instruction abort).
fn exec_data() -> i32 {
    static RET: [u32; 1] = [0xd65f_03c0]; // `ret`, placed in a writable, XN page below
    static mut CODE: [u32; 1] = [0];
    // SAFETY: single-threaded app; the copy only writes our own static.
    let addr = unsafe {
        CODE[0] = RET[0];
        core::ptr::addr_of!(CODE) as u64
    };
    println!("selftest: branching into own data at {addr:#x}");
    // SAFETY: deliberately invalid: the page is XN at EL0.
    unsafe { core::arch::asm!("blr {t}", t = in(reg) addr, clobber_abi("C")) };
    1
}

/// Kernel memory is EL1-only: a load from EL0 is a permission fault.
fn read_kernel(addr: u64) -> i32 {
    println!("selftest: loading from kernel address {addr:#x}");
    // SAFETY: deliberately invalid: the kernel must kill the app.
    let v = unsafe { core::ptr::read_volatile(addr as *const u64) };
    println!("selftest: read kernel memory?! {v:#x}");
    1
}
