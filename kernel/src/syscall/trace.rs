//! `strace=1`: every syscall printed as strace prints it.
//!
//! A traced line is `[strace] tid=N name(arg, ...) = result`, or
//! `= -1 ENAME (message)` for an error (names and messages from
//! `abi::errno`), printed when the call returns; a call that does not
//! return (exit, exit_group) is printed before it runs, with `= ?`.
//! Arguments are printed as the table declares them (`define::ArgKind`):
//! `int`, `unsigned int` and `size_t` in decimal, `unsigned long` in hex,
//! pointers in hex or `NULL`. A number the table does not have prints its
//! six argument registers in hex. Results up to 2^32 print in decimal,
//! larger ones (addresses) in hex.

use super::define::ArgKind;
use super::table::SYSCALL_ARGS;
use arch::TrapFrame;
use core::fmt::{self, Write};

/// One trace line: formatted on the stack, printed in one piece so the
/// lines of threads on different CPUs do not interleave.
struct Line {
    buf: [u8; 320],
    len: usize,
}

impl Write for Line {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// The syscall's name: Linux's, or `syscall_N` for a number Linux does
/// not have.
struct Name(u64);

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match abi::nr::name(self.0) {
            Some(n) => f.write_str(n),
            None => write!(f, "syscall_{}", self.0),
        }
    }
}

/// `name(args)` for syscall `nr` with argument registers `args`.
fn call(line: &mut Line, nr: u64, args: &[u64; 6]) {
    let _ = write!(line, "{}(", Name(nr));
    let kinds = SYSCALL_ARGS.get(nr as usize).copied().flatten();
    let n = kinds.map_or(6, <[ArgKind]>::len);
    for (i, &a) in args.iter().enumerate().take(n) {
        if i > 0 {
            let _ = line.write_str(", ");
        }
        let _ = match kinds.map_or(ArgKind::Ulong, |k| k[i]) {
            ArgKind::Int => write!(line, "{}", a as u32 as i32),
            ArgKind::Uint => write!(line, "{}", a as u32),
            ArgKind::Size => write!(line, "{a}"),
            ArgKind::Ulong => write!(line, "{a:#x}"),
            ArgKind::Ptr if a == 0 => line.write_str("NULL"),
            ArgKind::Ptr => write!(line, "{a:#x}"),
        };
    }
    let _ = line.write_str(")");
}

/// ` = result` as strace writes it.
fn result(line: &mut Line, ret: i64) {
    let _ = if (-abi::errno::MAX_ERRNO..0).contains(&ret) {
        match abi::errno::name(-ret) {
            Some((name, msg)) => write!(line, " = -1 {name} ({msg})"),
            None => write!(line, " = -1 ERRNO_{} (Unknown error {})", -ret, -ret),
        }
    } else if (0..=u32::MAX as i64).contains(&ret) {
        write!(line, " = {ret}")
    } else {
        write!(line, " = {:#x}", ret as u64)
    };
}

fn print(line: &Line) {
    println!(
        "{}",
        core::str::from_utf8(&line.buf[..line.len]).unwrap_or("[strace] (unprintable)")
    );
}

fn start(tid: u32) -> Line {
    let mut line = Line {
        buf: [0; 320],
        len: 0,
    };
    let _ = write!(line, "[strace] tid={tid} ");
    line
}

/// The dispatch with `strace=1`: the call, then its line.
#[inline(never)]
pub fn invoke_traced(tf: &mut TrapFrame, nr: u64) {
    let args = [
        tf.regs[0], tf.regs[1], tf.regs[2], tf.regs[3], tf.regs[4], tf.regs[5],
    ];
    let tid = crate::sched::task::current().tid();
    if nr == abi::nr::EXIT || nr == abi::nr::EXIT_GROUP {
        let mut line = start(tid);
        call(&mut line, nr, &args);
        let _ = line.write_str(" = ?");
        print(&line);
    }
    super::dispatch(tf, nr);
    let mut line = start(tid);
    call(&mut line, nr, &args);
    result(&mut line, tf.regs[0] as i64);
    print(&line);
}
