//! The rseq statistics: summed over CPUs and printed at the end of the app.

use super::access::MODE;
use crate::sched::percpu;
use rseq::RseqStats;

/// The mode's name as the logs and tests spell it (`v1`, `v2`, `linux`).
pub fn mode_name() -> &'static str {
    MODE.name()
}

/// Statistics summed over CPUs.
pub fn stats_sum() -> RseqStats {
    (0..arch::MAX_CPUS).fold(RseqStats::default(), |sum, c| {
        sum.add(&percpu::cpu(c).rseq_stats_snapshot())
    })
}

/// The statistics printed at app exit: one `[rseq]` line with the sums
/// (what tests parse), then one `[rseq-cpu]` line per online CPU.
pub fn print_stats() {
    print!("[rseq] mode={}", mode_name());
    for (name, v) in RseqStats::NAMES.iter().zip(stats_sum().as_array()) {
        print!(" {name}={v}");
    }
    println!();
    for c in percpu::online() {
        print!("[rseq-cpu] cpu={}", c.id);
        for (name, v) in RseqStats::NAMES
            .iter()
            .zip(c.rseq_stats_snapshot().as_array())
        {
            print!(" {name}={v}");
        }
        println!();
    }
}
