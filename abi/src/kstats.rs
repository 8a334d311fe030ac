//! `kstats` (rseq-os syscall 1000, outside Linux's range so a Linux binary
//! never calls it by accident): the kernel's counters as one `repr(C)`
//! structure that the kernel fills and the runtime reads. The layout is
//! versioned: a reader checks [`KStats::version`] against [`KSTATS_VERSION`].

/// The layout version of [`KStats`]; bump it with every layout change.
pub const KSTATS_VERSION: u64 = 4;

/// The most CPUs the structure has slots for (both boards have 4).
pub const KSTATS_CPUS: usize = 4;

/// What `kstats(buf, len)` fills in: per-CPU counters indexed by CPU number
/// (CPUs beyond `nr_cpus` are 0). `len` must be at least its size.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KStats {
    /// Layout version: [`KSTATS_VERSION`].
    pub version: u64,
    /// CPUs online.
    pub nr_cpus: u64,
    /// Timer ticks taken.
    pub ticks: [u64; KSTATS_CPUS],
    /// Interrupts taken from EL0.
    pub irqs_el0: [u64; KSTATS_CPUS],
    /// Reschedule IPIs received.
    pub ipi_resched: [u64; KSTATS_CPUS],
    /// Call-function IPIs received.
    pub ipi_call: [u64; KSTATS_CPUS],
    /// membarrier barriers executed on behalf of another CPU.
    pub membarrier_ipis: [u64; KSTATS_CPUS],
    /// Context switches.
    pub context_switches: [u64; KSTATS_CPUS],
    /// Threads moved between CPUs.
    pub migrations: u64,
    /// Syscalls made.
    pub syscalls: u64,
    /// The mode the kernel image was built for: 1 (v1), 2 (v2) or 3
    /// (`linux`: each registration's length picks v1 or v2).
    pub rseq_mode: u64,
    /// rseq counters per CPU.
    pub rseq: [RseqStats; KSTATS_CPUS],
    /// Linux's `threads-max`: `clone` of one more thread fails with
    /// `EAGAIN` once this many threads are alive (derived from RAM).
    pub threads_max: u64,
    /// Threads alive now (started and not yet exited).
    pub nr_threads: u64,
    /// 4 KiB frames the kernel hands out at run time (user pages, page
    /// tables, kernel stacks): all RAM but the kernel image, the heap and
    /// the firmware's reservations.
    pub frames_total: u64,
    /// Of those, free now.
    pub frames_free: u64,
    /// Threads that exited but still hold their kernel stack (freed when
    /// their CPU switches away): while this is not 0, `frames_free` is
    /// about to grow by their stacks.
    pub nr_dying: u64,
}

impl KStats {
    /// The rseq counters summed over all CPUs.
    pub fn rseq_total(&self) -> RseqStats {
        self.rseq
            .iter()
            .fold(RseqStats::default(), |acc, s| acc.add(s))
    }
}

/// One CPU's rseq counters: Linux's `struct rseq_stats` names (its debugfs
/// file) plus the time slice extension's.
///
/// 13 `u64` in this order: the kstats syscall exports the structure as it
/// is ([`RseqStats::as_array`], [`RseqStats::NAMES`]).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RseqStats {
    /// Exits to user mode (`rseq_exit_to_user_mode()`).
    pub exit: u64,
    /// Signal deliveries that ran the rseq work.
    pub signal: u64,
    /// Slow path runs.
    pub slowpath: u64,
    /// Fast path runs with work to do.
    pub fastpath: u64,
    /// ID updates written to user space.
    pub ids: u64,
    /// Critical section checks (a non-zero `rseq_cs` evaluated).
    pub cs: u64,
    /// `rseq_cs` cleared because the IP was outside the section.
    pub clear: u64,
    /// Critical sections aborted (IP moved to `abort_ip`).
    pub fixup: u64,
    /// Slice extensions granted.
    pub s_granted: u64,
    /// Slice extensions that ran out.
    pub s_expired: u64,
    /// Slice extensions revoked.
    pub s_revoked: u64,
    /// Slice extensions ended by `rseq_slice_yield()`.
    pub s_yielded: u64,
    /// Slice extensions aborted by another syscall.
    pub s_aborted: u64,
}

impl RseqStats {
    /// The field names, in order (Linux's debugfs names for the first 8).
    pub const NAMES: [&'static str; 13] = [
        "exit",
        "signal",
        "slowpath",
        "fastpath",
        "ids",
        "cs",
        "clear",
        "fixup",
        "s_granted",
        "s_expired",
        "s_revoked",
        "s_yielded",
        "s_aborted",
    ];

    /// The counters in [`RseqStats::NAMES`] order.
    pub fn as_array(&self) -> [u64; 13] {
        [
            self.exit,
            self.signal,
            self.slowpath,
            self.fastpath,
            self.ids,
            self.cs,
            self.clear,
            self.fixup,
            self.s_granted,
            self.s_expired,
            self.s_revoked,
            self.s_yielded,
            self.s_aborted,
        ]
    }

    /// The counters from an array in [`RseqStats::NAMES`] order.
    pub fn from_array(a: [u64; 13]) -> RseqStats {
        let [
            exit,
            signal,
            slowpath,
            fastpath,
            ids,
            cs,
            clear,
            fixup,
            s_granted,
            s_expired,
            s_revoked,
            s_yielded,
            s_aborted,
        ] = a;
        RseqStats {
            exit,
            signal,
            slowpath,
            fastpath,
            ids,
            cs,
            clear,
            fixup,
            s_granted,
            s_expired,
            s_revoked,
            s_yielded,
            s_aborted,
        }
    }

    /// Field-wise `self + o` (wrapping): sums over CPUs.
    pub fn add(&self, o: &RseqStats) -> RseqStats {
        self.zip(o, u64::wrapping_add)
    }

    /// Field-wise `self - earlier` (wrapping): the counts in between two snapshots.
    pub fn delta(&self, earlier: &RseqStats) -> RseqStats {
        self.zip(earlier, u64::wrapping_sub)
    }

    fn zip(&self, o: &RseqStats, f: fn(u64, u64) -> u64) -> RseqStats {
        let (a, b) = (self.as_array(), o.as_array());
        RseqStats::from_array(core::array::from_fn(|i| f(a[i], b[i])))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_the_documented_one() {
        assert_eq!(core::mem::size_of::<RseqStats>(), 13 * 8);
        // version, nr_cpus, 6 per-CPU arrays, migrations, syscalls,
        // rseq_mode, 4 x RseqStats, 5 thread/frame counters.
        assert_eq!(
            core::mem::size_of::<KStats>(),
            (2 + 6 * KSTATS_CPUS + 3 + 5) * 8 + KSTATS_CPUS * 13 * 8
        );
        assert_eq!(core::mem::offset_of!(KStats, rseq), (2 + 6 * 4 + 3) * 8);
    }

    #[test]
    fn names_and_array_agree() {
        let s = RseqStats::from_array(core::array::from_fn(|i| i as u64 + 1));
        assert_eq!(s.as_array()[0], s.exit);
        assert_eq!(s.as_array()[12], s.s_aborted);
        assert_eq!(RseqStats::NAMES.len(), s.as_array().len());
        assert_eq!(s.add(&s).delta(&s), s);
    }
}
