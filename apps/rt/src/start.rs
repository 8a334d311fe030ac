//! Process entry and panic handling.

use crate::{Args, sys};

unsafe extern "Rust" {
    fn __rt_main(args: Args) -> i32;
}

// The kernel enters here with sp at argc (Linux's initial stack layout).
core::arch::global_asm!(
    ".section .text._start, \"ax\"",
    ".global _start",
    "_start:",
    "    mov x29, xzr",
    "    mov x30, xzr",
    "    mov x0, sp",
    "    bl __rt_start",
    "    brk #0x1",
);

#[unsafe(no_mangle)]
extern "C" fn __rt_start(sp: *const u64) -> ! {
    // SAFETY: the kernel built the initial stack at `sp` (argc, argv, NULL, envp, NULL, auxv).
    let args = unsafe { Args::from_initial_stack(sp) };
    #[cfg(target_arch = "aarch64")]
    {
        // The main thread's block (TPIDR_EL0) and rseq registration, as
        // glibc registers before main.
        crate::thread::init_main();
        crate::rseq::init_process(&args);
        crate::rseq::init_thread();
    }
    // SAFETY: `__rt_main` is defined by the app through `rt::main!`.
    let status = unsafe { __rt_main(args) };
    sys::exit_group(status)
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    crate::eprintln!("panicked: {}", info);
    sys::exit_group(101)
}
