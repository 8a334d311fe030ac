//! The declarative syscall table: [`syscall_table!`] turns one line per
//! syscall (Linux number, handler, typed arguments — Linux's
//! `SYSCALL_DEFINEx`) into the O(1) dispatch array, decoding each argument
//! register with [`SysArg`] and encoding the result with [`SysRet`].

use super::error::{Errno, SysError};
use super::user::UserPtr;
use crate::process::end::end_app;
use crate::process::verdict::{Kill, Verdict};
use arch::TrapFrame;
use core::convert::Infallible;

/// One dispatch slot: decodes the frame's registers, calls the handler,
/// returns x0. (A plain `i64`: the null syscalls' cost is measured, and a
/// `Result` carrying a verdict would go through memory.)
pub type SyscallFn = fn(&mut TrapFrame) -> i64;

/// A syscall argument decoded from its 64-bit register the way Linux's
/// `SYSCALL_DEFINEx` casts it to the declared C type (an `int` takes the
/// low 32 bits).
pub trait SysArg {
    /// How the syscall trace prints it.
    const KIND: ArgKind;
    /// The argument from register value `reg`.
    fn from_reg(reg: u64) -> Self;
}

/// How `strace=1` prints an argument: as its declared C type reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgKind {
    /// `int`: the low 32 bits, signed, in decimal.
    Int,
    /// `unsigned int`: the low 32 bits in decimal.
    Uint,
    /// `size_t`: decimal.
    Size,
    /// `unsigned long` (flags, masks, addresses as numbers): hex.
    Ulong,
    /// A user pointer: hex, `NULL` for 0.
    Ptr,
}

impl SysArg for u64 {
    const KIND: ArgKind = ArgKind::Ulong;
    #[inline(always)]
    fn from_reg(reg: u64) -> Self {
        reg
    }
}

impl SysArg for usize {
    const KIND: ArgKind = ArgKind::Size;
    #[inline(always)]
    fn from_reg(reg: u64) -> Self {
        reg as usize
    }
}

impl SysArg for u32 {
    const KIND: ArgKind = ArgKind::Uint;
    #[inline(always)]
    fn from_reg(reg: u64) -> Self {
        reg as u32
    }
}

impl SysArg for i32 {
    const KIND: ArgKind = ArgKind::Int;
    #[inline(always)]
    fn from_reg(reg: u64) -> Self {
        reg as u32 as i32
    }
}

impl<T> SysArg for UserPtr<T> {
    const KIND: ArgKind = ArgKind::Ptr;
    #[inline(always)]
    fn from_reg(reg: u64) -> Self {
        UserPtr::new(reg)
    }
}

/// A syscall's value as x0 holds it.
pub trait SysRet {
    /// The value in x0.
    fn into_ret(self) -> i64;
}

impl SysRet for i64 {
    #[inline(always)]
    fn into_ret(self) -> i64 {
        self
    }
}

impl SysRet for u64 {
    #[inline(always)]
    fn into_ret(self) -> i64 {
        self as i64
    }
}

impl SysRet for usize {
    #[inline(always)]
    fn into_ret(self) -> i64 {
        self as i64
    }
}

impl SysRet for u32 {
    #[inline(always)]
    fn into_ret(self) -> i64 {
        i64::from(self)
    }
}

impl SysRet for i32 {
    #[inline(always)]
    fn into_ret(self) -> i64 {
        i64::from(self)
    }
}

impl SysRet for () {
    #[inline(always)]
    fn into_ret(self) -> i64 {
        0
    }
}

/// exit and exit_group: no value, ever.
impl SysRet for Infallible {
    fn into_ret(self) -> i64 {
        match self {}
    }
}

/// A handler's error as x0: `-errno`, or the end of the app (which does
/// not return), acted on by `process::end`.
pub trait SysErr {
    /// The value in x0.
    fn into_ret(self) -> i64;
}

impl SysErr for Errno {
    #[inline(always)]
    fn into_ret(self) -> i64 {
        -self.0
    }
}

impl SysErr for Kill {
    fn into_ret(self) -> i64 {
        end_app(Verdict::Kill(self))
    }
}

impl SysErr for SysError {
    #[inline(always)]
    fn into_ret(self) -> i64 {
        match self {
            SysError::Errno(e) => -e.0,
            SysError::End(verdict) => end_app(verdict),
        }
    }
}

/// Builds `SYS_CALL_TABLE: [SyscallFn; N]` from lines of the form
///
/// ```ignore
/// WRITE => io::sys_write(fd: u32, buf: UserPtr<u8>, count: usize);
/// CLONE => clone::sys_clone(&mut regs, flags: u64, newsp: u64);
/// ```
///
/// `WRITE` names the number in `abi::nr`; the arguments are x0, x1, ... in
/// order; `&mut regs,` first passes the whole `&mut TrapFrame` too (for the
/// calls that read or rewrite the user context). The handler returns
/// `Result<T, E>` with `T:` [`SysRet`] and `E:` [`SysErr`]. Numbers
/// not listed get `sys_ni_syscall`, which also fills the one slot past the
/// highest number, where the dispatch sends every larger number (a clamp
/// instead of a bounds check). The same lines give `SYSCALL_ARGS`, each
/// syscall's arguments as the trace prints them.
macro_rules! syscall_table {
    ($(
        $nr:ident => $($handler:ident)::+ (
            $(&mut $regs:ident,)? $($arg:ident : $ty:ty),* $(,)?
        );
    )*) => {
        /// One past the highest syscall number in the table.
        const NR_SYSCALLS: usize = {
            let mut n = 0;
            $(
                if abi::nr::$nr as usize + 1 > n {
                    n = abi::nr::$nr as usize + 1;
                }
            )*
            n
        };

        /// The arguments of each syscall in the table, in order, as
        /// `strace=1` prints them; `None` for the numbers not in it.
        pub static SYSCALL_ARGS: [Option<&[$crate::syscall::define::ArgKind]>; NR_SYSCALLS] = {
            let mut t: [Option<&[$crate::syscall::define::ArgKind]>; NR_SYSCALLS] =
                [None; NR_SYSCALLS];
            $(
                t[abi::nr::$nr as usize] = Some(&[
                    $(<$ty as $crate::syscall::define::SysArg>::KIND,)*
                ]);
            )*
            t
        };

        /// Linux's `sys_call_table`, indexed by the number in x8, clamped
        /// to `NR_SYSCALLS` (the last slot, `sys_ni_syscall`).
        pub static SYS_CALL_TABLE: [$crate::syscall::define::SyscallFn; NR_SYSCALLS + 1] = {
            let mut t = [sys_ni_syscall as $crate::syscall::define::SyscallFn; NR_SYSCALLS + 1];
            $(
                t[abi::nr::$nr as usize] = {
                    #[inline(always)]
                    fn call(
                        tf: &mut arch::TrapFrame,
                    ) -> i64 {
                        let _args: &[u64; 31] = &tf.regs;
                        let mut _next = 0usize;
                        $(
                            let $arg = <$ty as $crate::syscall::define::SysArg>::from_reg(
                                _args[_next],
                            );
                            _next += 1;
                        )*
                        $( let $regs = &mut *tf; )?
                        match $($handler)::+($($regs,)? $($arg),*) {
                            Ok(v) => $crate::syscall::define::SysRet::into_ret(v),
                            Err(e) => $crate::syscall::define::SysErr::into_ret(e),
                        }
                    }
                    call
                };
            )*
            t
        };

        /// [`SYS_CALL_TABLE`] up to `NR_SYSCALLS` without the syscalls
        /// that take `&mut regs` (`None` there): what a syscall whose frame
        /// holds only the argument registers may run.
        pub static SYS_CALL_ARGS_ONLY: [Option<$crate::syscall::define::SyscallFn>; NR_SYSCALLS] = {
            let mut t = [Some(SYS_CALL_TABLE[NR_SYSCALLS]); NR_SYSCALLS];
            $(
                if [$(stringify!($regs),)? ""].len() == 1 {
                    t[abi::nr::$nr as usize] = Some(SYS_CALL_TABLE[abi::nr::$nr as usize]);
                } else {
                    t[abi::nr::$nr as usize] = None;
                }
            )*
            t
        };
    };
}

pub(crate) use syscall_table;
