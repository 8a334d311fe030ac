//! The contract between the assembly and the kernel: the Rust functions
//! `boot.s` and `vectors.s` branch to, with the types they call them with.
//!
//! A `bl` to a symbol is checked by the linker for the name only; the
//! arguments the assembly puts in x0/x1 and whether the callee may return
//! are invisible to it. So the symbols are defined here, once, by
//! [`handlers!`](crate::handlers): the kernel names one function per entry
//! point and the compiler checks each against the exact type below. A
//! kernel function with another signature (a `&TrapFrame`, a `u32`, a
//! boot entry that returns) fails to compile instead of misbehaving at run
//! time.
//!
//! | symbol | called from | with | Rust type |
//! |---|---|---|---|
//! | `kernel_main` | `boot.s`, CPU 0 | x0 = DTB, x1 = entry EL | [`BootMain`] |
//! | `secondary_main` | `boot.s`, CPUs 1.. | x0 = CPU number, x1 = entry EL | [`BootMain`] |
//! | `el0_sync_fast_handler` | `vectors.s`, from EL0 | x0 = the frame, x0..x19, x30, sp, pc, pstate saved | [`TrapFastHandler`] |
//! | `el0_sync_slow_handler` | `vectors.s`, when the fast one returned non-zero | x0 = the complete frame, x1 = what it returned | [`TrapSlowHandler`] |
//! | `el0_irq_handler`, `el0_bad_handler` | `vectors.s`, from EL0 | x0 = the saved frame | [`TrapHandler`] |
//! | `el1_sync_handler`, `el1_irq_handler`, `el1_bad_handler` | `vectors.s`, from EL1 | x0 = the saved frame | [`TrapHandler`] |
//! | `ret_from_fork_handler` | `switch.s`, a new thread's first run | x0 = its user frame | [`TrapHandler`] |
//!
//! One more symbol is the kernel's and not Rust: `el0_sync_lane`, the
//! syscall fast lane the lower-EL synchronous vector enters first
//! (assembly in `kernel/src/entry/lane.rs`, which knows the kernel's
//! `Task` layout). It either answers the syscall and `eret`s or branches
//! to `el0_sync` with every register as the exception left it, so there
//! is no type to check.

/// `kernel_main` and `secondary_main`: two 64-bit arguments, never return.
pub type BootMain = fn(u64, u64) -> !;

/// An exception handler: the frame `save_frame` built on this CPU's stack;
/// returning resumes through `ret_to_user` (from EL0) or `restore_frame`.
pub type TrapHandler = fn(&mut crate::TrapFrame);

/// The first handler of a synchronous exception from EL0: the frame holds
/// x0..x19, x30, sp, pc and pstate; x20..x29 are still live in the
/// registers, and the handler may read or write none of those slots (nor
/// x19's, which the stub restores from the frame).
/// Returns 0 when it handled the exception completely (the stub restores
/// what it saved and erets), otherwise a value for the slow handler.
pub type TrapFastHandler = fn(&mut crate::TrapFrame) -> u64;

/// The rest of a synchronous exception from EL0, on the complete frame,
/// with the fast handler's non-zero value; returns through `ret_to_user`.
pub type TrapSlowHandler = fn(&mut crate::TrapFrame, u64);

/// Defines the symbols the assembly calls, each forwarding to the kernel
/// function named for it, whose type must be exactly [`BootMain`] or
/// [`TrapHandler`]. Invoke once, in the kernel image:
///
/// ```ignore
/// arch::handlers! {
///     kernel_main: crate::boot::kernel_main,
///     secondary_main: crate::smp::secondary_main,
///     el0_sync_fast: crate::traps::el0_sync_fast,
///     el0_sync_slow: crate::traps::el0_sync_slow,
///     el0_irq: crate::traps::el0_irq,
///     el0_bad: crate::traps::el0_bad,
///     el1_sync: crate::traps::el1_sync,
///     el1_irq: crate::traps::el1_irq,
///     el1_bad: crate::traps::el1_bad,
///     ret_from_fork: crate::exit::ret_from_fork,
/// }
/// ```
///
/// Mark the trap handlers `#[inline(always)]`: each symbol is then the
/// handler itself, with no call in between on the syscall path.
#[macro_export]
macro_rules! handlers {
    (
        kernel_main: $kernel_main:path,
        secondary_main: $secondary_main:path,
        el0_sync_fast: $el0_sync_fast:path,
        el0_sync_slow: $el0_sync_slow:path,
        el0_irq: $el0_irq:path,
        el0_bad: $el0_bad:path,
        el1_sync: $el1_sync:path,
        el1_irq: $el1_irq:path,
        el1_bad: $el1_bad:path,
        ret_from_fork: $ret_from_fork:path $(,)?
    ) => {
        $crate::handlers!(@boot kernel_main $kernel_main);
        $crate::handlers!(@boot secondary_main $secondary_main);
        $crate::handlers!(@fast el0_sync_fast_handler $el0_sync_fast);
        $crate::handlers!(@slow el0_sync_slow_handler $el0_sync_slow);
        $crate::handlers!(@trap el0_irq_handler $el0_irq);
        $crate::handlers!(@trap el0_bad_handler $el0_bad);
        $crate::handlers!(@trap el1_sync_handler $el1_sync);
        $crate::handlers!(@trap el1_irq_handler $el1_irq);
        $crate::handlers!(@trap el1_bad_handler $el1_bad);
        $crate::handlers!(@trap ret_from_fork_handler $ret_from_fork);
    };
    (@boot $sym:ident $f:path) => {
        /// Called by `arch/src/boot.s` (see `arch::handlers`).
        // SAFETY: the one definition of this symbol in the image (the macro
        // is invoked once); `boot.s` calls it with the C ABI and two 64-bit
        // arguments in x0/x1, which is this signature.
        #[unsafe(no_mangle)]
        extern "C" fn $sym(a: u64, b: u64) -> ! {
            const _: $crate::handlers::BootMain = $f;
            $f(a, b)
        }
    };
    (@fast $sym:ident $f:path) => {
        /// Called by `arch/src/vectors.s` (see `arch::handlers`).
        // SAFETY: the one definition of this symbol in the image (the macro
        // is invoked once); `vectors.s` calls it with the C ABI and x0
        // pointing at the TrapFrame it saved on this CPU's stack,
        // exclusively the handler's until it returns, and takes the
        // 64-bit result from x0, which is this signature.
        #[unsafe(no_mangle)]
        extern "C" fn $sym(tf: &mut $crate::TrapFrame) -> u64 {
            const _: $crate::handlers::TrapFastHandler = $f;
            $f(tf)
        }
    };
    (@slow $sym:ident $f:path) => {
        /// Called by `arch/src/vectors.s` (see `arch::handlers`).
        // SAFETY: the one definition of this symbol in the image (the macro
        // is invoked once); `vectors.s` calls it with the C ABI, x0
        // pointing at the complete TrapFrame on this CPU's stack,
        // exclusively the handler's until it returns, and x1 the fast
        // handler's result, which is this signature.
        #[unsafe(no_mangle)]
        extern "C" fn $sym(tf: &mut $crate::TrapFrame, why: u64) {
            const _: $crate::handlers::TrapSlowHandler = $f;
            $f(tf, why)
        }
    };
    (@trap $sym:ident $f:path) => {
        /// Called by `arch/src/vectors.s` or `switch.s` (see `arch::handlers`).
        // SAFETY: the one definition of this symbol in the image (the macro
        // is invoked once); `vectors.s` calls it with the C ABI and x0
        // pointing at the TrapFrame it saved on this CPU's stack, and
        // `switch.s` with x0 pointing at a new thread's frame at the top of
        // its kernel stack, exclusively the handler's until it returns,
        // which is this signature.
        #[unsafe(no_mangle)]
        extern "C" fn $sym(tf: &mut $crate::TrapFrame) {
            const _: $crate::handlers::TrapHandler = $f;
            $f(tf)
        }
    };
}
