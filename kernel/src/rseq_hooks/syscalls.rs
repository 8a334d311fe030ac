//! The rseq syscalls: rseq (293), rseq_slice_yield (471), and
//! prctl(PR_RSEQ_SLICE_EXTENSION).

use super::access::{KernelUserMem, ctx, die, with};
use super::slice::slice_available;
use crate::sched::task::current;
use crate::syscall::error::{Errno, SysError};
use entry::tif::TIF_RSEQ;

/// rseq(rseq, len, flags, sig).
pub fn sys_rseq(ptr: u64, len: u32, flags: u32, sig: u32) -> Result<(), Errno> {
    let task = current();
    let slice_available = slice_available();
    let result = with(task, |r, stats| {
        rseq::sys_rseq(
            r,
            &mut ctx(&mut KernelUserMem, stats, task),
            ptr,
            len,
            flags,
            sig,
            slice_available,
        )
    });
    super::slice::sync_syscall_work(task);
    match result {
        Ok(raise) => {
            if raise {
                task.flags.set(TIF_RSEQ);
            }
            Ok(())
        }
        Err(e) => {
            // A length that contradicts the image's mode is the one refusal
            // a user cannot guess from the errno: always say why. Others
            // (bad flags, pointers, re-registration, ...) only at
            // loglevel=8, so that a fuzzer cannot flood the console.
            if let Some(why) = e.why {
                if e.mode_rule {
                    println!("[rseq] tid {}: {why}", task.tid());
                } else {
                    pr_debug!("[rseq] tid {}: {why}", task.tid());
                }
            }
            Err(Errno(e.errno))
        }
    }
}

/// rseq_slice_yield(): 1 when it yielded inside a grant; `ENOSYS` in an
/// image without the extension ([`rseq::Mode::has_slice_extension`]).
pub fn sys_rseq_slice_yield() -> Result<i64, SysError> {
    if !rseq::MODE.has_slice_extension() {
        return Err(Errno(abi::errno::ENOSYS).into());
    }
    let task = current();
    match with(task, |r, stats| {
        rseq::slice::slice_yield(r, &mut ctx(&mut KernelUserMem, stats, task))
    }) {
        Ok(1) => {
            super::timer::cancel();
            crate::sched::yield_now();
            Ok(1)
        }
        Ok(v) => Ok(v),
        Err(fatal) => Err(die(task, fatal).into()),
    }
}

/// prctl(PR_RSEQ_SLICE_EXTENSION, arg2..arg5).
pub fn slice_prctl(args: [u64; 4]) -> Result<i64, SysError> {
    let task = current();
    let available = slice_available();
    let result = with(task, |r, stats| {
        rseq::slice::prctl(
            r,
            &mut ctx(&mut KernelUserMem, stats, task),
            args,
            available,
        )
    });
    super::slice::sync_syscall_work(task);
    match result {
        Ok(v) => Ok(v),
        Err(rseq::slice::PrctlError::Errno(e)) => Err(Errno(e).into()),
        Err(rseq::slice::PrctlError::Fatal(fatal)) => Err(die(task, fatal).into()),
    }
}
