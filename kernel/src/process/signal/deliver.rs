//! Delivery on the way out to EL0 (TIF_SIGPENDING): the default action
//! (a fatal one is a [`Kill`] for the caller), or Linux's arm64 signal
//! frame for the handler, after rseq has had its say.

use super::queue::{ACTIONS, SigAction, default_ignored, dequeue, recalc_sigpending};
use super::state::{KSigInfo, SIGKILL, SIGSTOP, bit};
use crate::entry::fault::Signal;
use crate::process::verdict::{Kill, Why};
use crate::sched::task::Task;
use abi::errno::{EINTR, ERESTART_RESTARTBLOCK, ERESTARTNOHAND, ERESTARTNOINTR, ERESTARTSYS};
use abi::signal::{
    FpsimdContext, FrameRecord, RtSigframe, SA_NODEFER, SA_ONSTACK, SA_RESETHAND, SA_RESTART,
    SA_RESTORER, SIG_DFL, SIG_IGN, SigInfo as UserSigInfo, SignalFrame,
};
use arch::TrapFrame;
use arch::context::FpState;
use arch::uaccess;
use entry::tif::TIF_SIGPENDING;

/// The `svc` instruction's size: a restarted syscall runs it again.
const SVC_SIZE: u64 = 4;

/// arm64's `do_signal()` (Linux's `arch_do_signal_or_restart()`):
/// restarts an interrupted syscall or makes it fail with `EINTR`, then
/// delivers one pending signal, by default action or by building a frame
/// for its handler. A fatal default action, or a frame that cannot be
/// written, is the returned [`Kill`].
///
/// Restart, as Linux decides it: a syscall that returned one of the
/// `ERESTART*` codes is rewound (pc back over `svc`, x0 its first argument
/// again) unless a handler runs and the code is `ERESTARTNOHAND`,
/// `ERESTART_RESTARTBLOCK`, or `ERESTARTSYS` without SA_RESTART: then it
/// returns `EINTR` to the handler's caller. With no handler,
/// `ERESTART_RESTARTBLOCK` runs `restart_syscall` (x8) instead of the
/// original call. The syscall is forgotten (`syscallno = -1`) so a second
/// pass of the exit loop does not decide again.
pub fn do_signal(task: &'static Task, tf: &mut TrapFrame) -> Result<(), Kill> {
    task.flags.clear(TIF_SIGPENDING);
    let in_syscall = tf.syscallno != -1;
    let retval = -(tf.regs[0] as i64);
    let mut restarting = false;
    if in_syscall {
        tf.syscallno = -1;
        if matches!(
            retval,
            ERESTARTSYS | ERESTARTNOINTR | ERESTARTNOHAND | ERESTART_RESTARTBLOCK
        ) {
            tf.regs[0] = tf.orig_x0;
            tf.pc -= SVC_SIZE;
            restarting = true;
        }
    }
    while let Some((sig, info)) = dequeue(task) {
        let mut action = ACTIONS.lock()[sig as usize - 1];
        if info.fault.is_some()
            && (action.handler == SIG_IGN || task.sig.lock().blocked & bit(sig) != 0)
        {
            // A fault cannot be ignored or blocked: Linux resets it to default.
            action.handler = SIG_DFL;
        }
        match action.handler {
            SIG_IGN => continue,
            SIG_DFL if default_ignored(sig) => continue,
            SIG_DFL => return Err(fatal(task, sig, &info)),
            _ => {
                if restarting
                    && (retval == ERESTARTNOHAND
                        || retval == ERESTART_RESTARTBLOCK
                        || (retval == ERESTARTSYS && action.flags & SA_RESTART == 0))
                {
                    tf.regs[0] = (-EINTR) as u64;
                    tf.pc += SVC_SIZE;
                }
                // rseq first: an interrupted critical section is aborted so
                // the frame records its abort address (rseq_signal_deliver).
                crate::rseq_hooks::hooks::signal_deliver(task, tf)?;
                if setup_rt_frame(task, sig, &info, &action, tf).is_err() {
                    // The frame could not be written: Linux's force_sigsegv().
                    // No fault ESR describes this: the report says what.
                    return Err(Kill {
                        tid: task.tid(),
                        signal: Signal::SIGSEGV,
                        why: Why::SignalFrame {
                            sig: Signal(sig as u8),
                            sp: tf.sp,
                            pc: tf.pc,
                        },
                    });
                }
                if action.flags & SA_RESETHAND != 0 {
                    ACTIONS.lock()[sig as usize - 1].handler = SIG_DFL;
                }
                let mut st = task.sig.lock();
                st.blocked |= action.mask & !(bit(SIGKILL) | bit(SIGSTOP));
                if action.flags & SA_NODEFER == 0 {
                    st.blocked |= bit(sig);
                }
                // The frame holds the mask rt_sigreturn goes back to.
                st.saved_mask = None;
                drop(st);
                recalc_sigpending(task);
                return Ok(());
            }
        }
    }
    if restarting && retval == ERESTART_RESTARTBLOCK {
        tf.regs[8] = abi::nr::RESTART_SYSCALL;
    }
    // No handler ran: a mask saved by ppoll goes back now (Linux's
    // `restore_saved_sigmask`).
    {
        let mut st = task.sig.lock();
        if let Some(mask) = st.saved_mask.take() {
            st.blocked = mask;
        }
    }
    recalc_sigpending(task);
    Ok(())
}

/// The default action of a fatal signal: the app ends with a report.
fn fatal(task: &Task, sig: u32, info: &KSigInfo) -> Kill {
    Kill {
        tid: task.tid(),
        signal: Signal(sig as u8),
        why: match info.fault {
            Some(report) => Why::Fault(report),
            None => Why::Sent {
                sig,
                pid: info.pid,
                code: info.code,
            },
        },
    }
}

/// Builds the signal frame on the user stack — the alternate stack's top
/// for an SA_ONSTACK handler when the thread has one and is not on it
/// (Linux's `sigsp`) — and points the thread at the handler.
fn setup_rt_frame(
    task: &Task,
    sig: u32,
    info: &KSigInfo,
    action: &SigAction,
    tf: &mut TrapFrame,
) -> Result<(), ()> {
    let (base, altstack) = {
        let st = task.sig.lock();
        let base = if action.flags & SA_ONSTACK != 0 && st.altstack_flags(tf.sp) == 0 {
            st.altstack.ss_sp.wrapping_add(st.altstack.ss_size)
        } else {
            tf.sp
        };
        (base, st.altstack)
    };
    let sp = (base.wrapping_sub(size_of::<SignalFrame>() as u64)) & !15;
    // On the kernel stack (32 KiB): nothing to allocate, nothing to fail.
    let mut f = SignalFrame::ZERO;
    f.frame.info = if info.fault.is_some() {
        UserSigInfo::from_fault(sig as i32, info.code, info.addr)
    } else {
        UserSigInfo::from_process(sig as i32, info.code, info.pid)
    };
    f.frame.uc.uc_sigmask = {
        let st = task.sig.lock();
        st.saved_mask.unwrap_or(st.blocked)
    };
    // Linux's __save_altstack: the stack as it was, for rt_sigreturn.
    f.frame.uc.ss_sp = altstack.ss_sp;
    f.frame.uc.ss_flags = altstack.ss_flags;
    f.frame.uc.ss_size = altstack.ss_size;
    let mc = &mut f.frame.uc.uc_mcontext;
    mc.fault_address = info.addr;
    mc.regs = tf.regs;
    mc.sp = tf.sp;
    mc.pc = tf.pc;
    mc.pstate = tf.pstate;
    // The FP/SIMD registers are live: the kernel never touches them.
    let mut fp = FpState::default();
    arch::context::fpsimd_save(&mut fp);
    mc.set_fpsimd(&FpsimdContext::new(
        fp.fpsr as u32,
        fp.fpcr as u32,
        fp.vregs,
    ));
    f.record = FrameRecord {
        fp: tf.regs[29],
        lr: tf.pc,
    };
    uaccess::put_user(sp, f).map_err(|_| ())?;
    task.sig.lock().disarm_altstack();

    tf.regs[0] = sig as u64;
    tf.regs[1] = sp;
    tf.regs[2] = sp + core::mem::offset_of!(RtSigframe, uc) as u64;
    tf.regs[29] = sp + core::mem::offset_of!(SignalFrame, record) as u64;
    tf.regs[30] = if action.flags & SA_RESTORER != 0 {
        action.restorer
    } else {
        crate::mm::SIGPAGE
    };
    tf.sp = sp;
    tf.pc = action.handler;
    Ok(())
}
