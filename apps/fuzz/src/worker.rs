//! A fuzzing thread's state, which the steps in [`crate::ops`] and the
//! rare steps' modules work on.

use core::sync::atomic::AtomicU32;

use rt::signal::KSigaction;
use rt::sys::Timespec;
use rt::thread;

use crate::faults::FaultCtx;
use crate::mem::Mem;
use crate::rng::Rng;

/// A fuzzing thread's state. It stays where it was built (the fault
/// handler finds `fault` through the thread's rseq slot).
pub struct Worker {
    pub idx: usize,
    pub tid: i64,
    pub rng: Rng,
    pub mem: Mem,
    /// The thread's runtime rseq area.
    pub area: u64,
    /// The CPU mask the thread returns to now and then.
    pub home: u64,
    pub nr_cpus: u32,
    /// How many workers there are.
    pub nthreads: usize,
    pub deadly: bool,
    /// Only descriptors `rseq_debug=1` accepts.
    pub strict: bool,
    pub fault: FaultCtx,
    /// The tid of a thread this worker saw die (0: none yet).
    pub dead_tid: i64,
    // Arguments the generators build (never handed out as pool memory).
    pub(crate) ts: Timespec,
    pub(crate) set: u64,
    pub(crate) mask: u64,
    pub(crate) act: KSigaction,
    pub(crate) word: AtomicU32,
}

impl Worker {
    pub fn new(idx: usize, cfg: &crate::Config, mem: Mem) -> Worker {
        let nr_cpus = crate::nr_cpus();
        Worker {
            idx,
            tid: thread::current_tid(),
            rng: Rng::new(cfg.seed, idx as u64),
            mem,
            area: rt::rseq::area() as u64,
            home: 1 << (idx as u32 % nr_cpus),
            nr_cpus,
            nthreads: cfg.threads,
            deadly: cfg.deadly,
            strict: cfg.strict,
            fault: FaultCtx::new(),
            dead_tid: 0,
            ts: Timespec::default(),
            set: 0,
            mask: 0,
            act: KSigaction::default(),
            word: AtomicU32::new(0),
        }
    }

    /// A thread id: self, another worker, the main thread, or nonsense.
    pub fn some_tid(&mut self) -> u64 {
        match self.rng.below(8) {
            0 | 1 => 0,
            2 => self.tid as u64,
            3 | 4 => crate::worker_tid(self.rng.below(self.nthreads as u64) as usize) as u64,
            5 => 1,
            6 if self.dead_tid != 0 && self.rng.coin() => self.dead_tid as u64,
            6 => pick!(
                self.rng,
                [
                    u64::MAX,
                    100_000,
                    (1 << 32) | 1,
                    i32::MAX as u64,
                    i32::MIN as i64 as u64,
                ]
            ),
            _ => self.rng.next_u64(),
        }
    }
}
