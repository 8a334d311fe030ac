//! The signal syscalls: rt_sigaction, rt_sigprocmask, rt_sigpending,
//! rt_sigreturn, sigaltstack, kill, tgkill.

use super::queue::{ACTIONS, SigAction, handler_ignored, recalc_sigpending, send_signal};
use super::state::{KSigInfo, SIGKILL, SIGSTOP, bit};
use crate::entry::fault::Signal;
use crate::process::verdict::{Kill, Why};
use crate::sched::task::{TaskState, current};
use crate::syscall::error::Errno;
use crate::syscall::user::UserPtr;
use abi::errno::*;
use abi::signal::{
    NSIG, RtSigframe, SI_TKILL, SI_USER, SIG_BLOCK, SIG_SETMASK, SIG_UNBLOCK, StackT,
};
use arch::TrapFrame;
use arch::context::FpState;

/// rt_sigreturn(): restores what `setup_rt_frame` saved. Returns x0 as it
/// was; a frame it cannot restore is a SIGSEGV [`Kill`] (Linux's
/// `force_sig(SIGSEGV)`).
pub fn sys_rt_sigreturn(tf: &mut TrapFrame) -> Result<i64, Kill> {
    let task = current();
    let frame = UserPtr::<RtSigframe>::new(tf.sp).read().ok();
    let fpsimd = frame.as_ref().and_then(|f| f.uc.uc_mcontext.fpsimd());
    let (frame, fpsimd) = match (frame, fpsimd) {
        // Only EL0t AArch64 with the flags the app may set (Linux's
        // valid_user_regs).
        (Some(f), Some(fp)) if f.uc.uc_mcontext.pstate & 0x1f == 0 => (f, fp),
        (_, fp) => {
            // No fault ESR describes a bad frame: the report says which
            // check failed.
            let what = if fp.is_none() {
                "unreadable signal frame or bad FP/SIMD record"
            } else {
                "signal frame returns to a mode other than EL0t"
            };
            return Err(Kill {
                tid: task.tid(),
                signal: Signal::SIGSEGV,
                why: Why::Sigreturn {
                    what,
                    sp: tf.sp,
                    pc: tf.pc,
                },
            });
        }
    };
    let mc = &frame.uc.uc_mcontext;
    // Linux's forget_syscall(): the restored x0 is the interrupted
    // context's, not a result the exit path may take for a restart code.
    tf.syscallno = -1;
    tf.regs = mc.regs;
    tf.sp = mc.sp;
    tf.pc = mc.pc;
    tf.pstate = mc.pstate & 0xf000_0000; // NZCV only
    arch::context::fpsimd_load(&FpState {
        vregs: fpsimd.vregs,
        fpsr: u64::from(fpsimd.fpsr),
        fpcr: u64::from(fpsimd.fpcr),
    });
    {
        let mut st = task.sig.lock();
        st.blocked = frame.uc.uc_sigmask & !(bit(SIGKILL) | bit(SIGSTOP));
        // Linux's restore_altstack: the stack saved in the frame comes
        // back, if it can (an error is ignored, as in Linux).
        let uc = &frame.uc;
        let saved = StackT {
            ss_sp: uc.ss_sp,
            ss_flags: uc.ss_flags,
            _pad: 0,
            ss_size: uc.ss_size,
        };
        let _ = st.set_altstack(saved, tf.sp);
    }
    recalc_sigpending(task);
    Ok(tf.regs[0] as i64)
}

/// sigaltstack(ss, old_ss): Linux's semantics (`SigState::set_altstack`)
/// for the thread at its user `sp`; `ss` is read first (`EFAULT`), the
/// old stack written last, after a new one took effect (`EFAULT`).
pub fn sys_sigaltstack(
    tf: &mut TrapFrame,
    ss: UserPtr<StackT>,
    old_ss: UserPtr<StackT>,
) -> Result<(), Errno> {
    let new = if ss.is_null() { None } else { Some(ss.read()?) };
    let old = {
        let mut st = current().sig.lock();
        let old = st.altstack_report(tf.sp);
        if let Some(n) = new {
            st.set_altstack(n, tf.sp)?;
        }
        old
    };
    if !old_ss.is_null() {
        old_ss.write(old)?;
    }
    Ok(())
}

/// rt_sigaction(sig, act, oact, sigsetsize).
pub fn sys_rt_sigaction(
    sig: u64,
    act: UserPtr<SigAction>,
    oact: UserPtr<SigAction>,
    sigsetsize: u64,
) -> Result<(), Errno> {
    if sigsetsize != 8 || sig == 0 || sig > NSIG as u64 {
        return Err(Errno(EINVAL));
    }
    let sig = sig as u32;
    let new = if act.is_null() {
        None
    } else {
        if sig == SIGKILL || sig == SIGSTOP {
            return Err(Errno(EINVAL));
        }
        Some(act.read()?)
    };
    let old = {
        let mut actions = ACTIONS.lock();
        let old = actions[sig as usize - 1];
        if let Some(mut a) = new {
            a.mask &= !(bit(SIGKILL) | bit(SIGSTOP));
            actions[sig as usize - 1] = a;
            if handler_ignored(&a, sig) {
                // POSIX: an action set to ignore discards the pending
                // instances, in every thread (Linux's do_sigaction). A
                // sleeper it already woke restarts its syscall.
                crate::sched::task::find_thread(|t| {
                    t.sig.lock().pending &= !bit(sig);
                    false
                });
            }
        }
        old
    };
    if !oact.is_null() {
        oact.write(old)?;
    }
    Ok(())
}

/// rt_sigprocmask(how, set, oset, sigsetsize).
pub fn sys_rt_sigprocmask(
    how: u64,
    set: UserPtr<u64>,
    oset: UserPtr<u64>,
    sigsetsize: u64,
) -> Result<(), Errno> {
    if sigsetsize != 8 {
        return Err(Errno(EINVAL));
    }
    let task = current();
    let new = if set.is_null() {
        None
    } else {
        Some(set.read()?)
    };
    let old = task.sig.lock().blocked;
    if let Some(s) = new {
        let blocked = match how {
            SIG_BLOCK => old | s,
            SIG_UNBLOCK => old & !s,
            SIG_SETMASK => s,
            _ => return Err(Errno(EINVAL)),
        };
        task.sig.lock().blocked = blocked & !(bit(SIGKILL) | bit(SIGSTOP));
        recalc_sigpending(task);
    }
    if !oset.is_null() {
        oset.write(old)?;
    }
    Ok(())
}

/// rt_sigpending(set, sigsetsize): the caller's pending signals that it
/// blocks (the others are being delivered). `sigsetsize` above 8
/// `EINVAL`; that many bytes are written (fewer may be asked), `EFAULT`.
pub fn sys_rt_sigpending(set: UserPtr<u8>, sigsetsize: usize) -> Result<(), Errno> {
    if sigsetsize > 8 {
        return Err(Errno(EINVAL));
    }
    let pending = {
        let st = current().sig.lock();
        st.pending & st.blocked
    };
    set.write_bytes(0, &pending.to_le_bytes()[..sigsetsize])
}

/// A signal number: 0 (only check) or 1..=64.
fn valid_sig(sig: u64) -> Result<Option<u32>, Errno> {
    match sig {
        0 => Ok(None),
        1..=64 => Ok(Some(sig as u32)),
        _ => Err(Errno(EINVAL)),
    }
}

/// kill(pid, sig): the app is process 1 (pid 0 and -1 also mean it).
pub fn sys_kill(pid: i32, sig: u64) -> Result<(), Errno> {
    let sig = valid_sig(sig)?;
    if !matches!(pid, -1..=1) {
        return Err(Errno(ESRCH));
    }
    let Some(sig) = sig else { return Ok(()) };
    // A process-directed signal goes to a thread that does not block it:
    // the caller if possible, else the first such thread, else the caller.
    let me = current();
    let target = if me.sig.lock().blocked & bit(sig) == 0 {
        me
    } else {
        crate::sched::task::find_thread(|t| {
            t.state() != TaskState::Dead && t.sig.lock().blocked & bit(sig) == 0
        })
        .unwrap_or(me)
    };
    let info = KSigInfo {
        code: SI_USER,
        pid: 1,
        ..Default::default()
    };
    send_signal(target, sig, info);
    Ok(())
}

/// tgkill(tgid, tid, sig).
pub fn sys_tgkill(tgid: i32, tid: i32, sig: u64) -> Result<(), Errno> {
    let sig = valid_sig(sig)?;
    if tgid <= 0 || tid <= 0 {
        return Err(Errno(EINVAL));
    }
    if tgid != 1 {
        return Err(Errno(ESRCH));
    }
    let task = crate::sched::task::find(tid as u32)
        .filter(|t| t.state() != TaskState::Dead)
        .ok_or(Errno(ESRCH))?;
    if let Some(sig) = sig {
        let info = KSigInfo {
            code: SI_TKILL,
            pid: 1,
            ..Default::default()
        };
        send_signal(task, sig, info);
    }
    Ok(())
}
