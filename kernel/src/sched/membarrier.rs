//! membarrier(2), private expedited flavours: an IPI to every other CPU that
//! is running a thread of the app (or only `cpu_id` with
//! MEMBARRIER_CMD_FLAG_CPU), waited for, so that each of them has executed a
//! full barrier before the call returns. The _RSEQ variant also raises an rseq
//! event on those threads, so their critical sections restart.

use crate::sched::percpu::{self, PerCpu};
use crate::syscall::error::Errno;
use abi::errno::*;
use core::sync::atomic::{AtomicU32, Ordering};

use abi::membarrier::{
    MEMBARRIER_CMD_FLAG_CPU as CMD_FLAG_CPU,
    MEMBARRIER_CMD_PRIVATE_EXPEDITED as CMD_PRIVATE_EXPEDITED,
    MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ as CMD_PRIVATE_EXPEDITED_RSEQ,
    MEMBARRIER_CMD_QUERY as CMD_QUERY,
    MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED as CMD_REGISTER_PRIVATE_EXPEDITED,
    MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ as CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ,
};

/// What the app registered for (CMD_REGISTER_* bits).
static REGISTERED: AtomicU32 = AtomicU32::new(0);

const SUPPORTED: u64 = CMD_PRIVATE_EXPEDITED
    | CMD_REGISTER_PRIVATE_EXPEDITED
    | CMD_PRIVATE_EXPEDITED_RSEQ
    | CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ;

/// membarrier(cmd, flags, cpu_id).
pub fn sys_membarrier(cmd: u64, flags: u64, cpu_id: u64) -> Result<u64, Errno> {
    let cpu_flag = flags & CMD_FLAG_CPU != 0;
    if flags & !CMD_FLAG_CPU != 0 || (cpu_flag && cmd != CMD_PRIVATE_EXPEDITED_RSEQ) {
        return Err(Errno(EINVAL));
    }
    match cmd {
        CMD_QUERY => Ok(SUPPORTED),
        CMD_REGISTER_PRIVATE_EXPEDITED | CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ => {
            REGISTERED.fetch_or(cmd as u32, Ordering::SeqCst);
            Ok(0)
        }
        CMD_PRIVATE_EXPEDITED | CMD_PRIVATE_EXPEDITED_RSEQ => {
            let needed = if cmd == CMD_PRIVATE_EXPEDITED {
                CMD_REGISTER_PRIVATE_EXPEDITED
            } else {
                CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ
            };
            if REGISTERED.load(Ordering::SeqCst) as u64 & needed == 0 {
                return Err(Errno(EPERM));
            }
            let mut mask = 0u64;
            for c in percpu::online() {
                let runs_app = c.rq.lock().running_user();
                if runs_app && (!cpu_flag || c.id as u64 == cpu_id) {
                    mask |= 1 << c.id;
                }
            }
            if cpu_flag && cpu_id as usize >= arch::MAX_CPUS {
                return Err(Errno(EINVAL));
            }
            let kinds = if cmd == CMD_PRIVATE_EXPEDITED {
                crate::sched::ipi::CALL_MEMBARRIER
            } else {
                crate::sched::ipi::CALL_MEMBARRIER_RSEQ
            };
            // A barrier on this CPU first, as Linux's smp_mb().
            core::sync::atomic::fence(Ordering::SeqCst);
            crate::sched::ipi::call_function_many(mask, kinds);
            core::sync::atomic::fence(Ordering::SeqCst);
            Ok(0)
        }
        _ => Err(Errno(EINVAL)),
    }
}

/// The IPI's work on the target CPU.
pub fn ipi(cpu: &PerCpu, kinds: u64) {
    core::sync::atomic::fence(Ordering::SeqCst);
    if kinds & (crate::sched::ipi::CALL_MEMBARRIER | crate::sched::ipi::CALL_MEMBARRIER_RSEQ) != 0 {
        cpu.stats.membarrier_ipis.fetch_add(1, Ordering::Relaxed);
    }
    if kinds & crate::sched::ipi::CALL_MEMBARRIER_RSEQ != 0 {
        crate::rseq_hooks::hooks::membarrier_ipi();
    }
}
