//! Scheduling: which CPU, where a thread may run, yielding and sleeping.
//!
//! Thin typed layer over `getcpu`, `sched_{set,get}affinity`, `sched_yield`
//! and `clock_nanosleep`, with one-word CPU masks (bit k = CPU k).

use crate::sys::{self, Timespec, errno};

/// The CPU the caller is running on (`getcpu`); `u32::MAX` if it failed.
pub fn getcpu() -> u32 {
    sys::getcpu().map_or(u32::MAX, |(cpu, _)| cpu)
}

/// Restricts the calling thread to the CPUs in `cpu_mask`. Linux returns
/// only once the thread runs on an allowed CPU.
pub fn set_affinity(cpu_mask: u64) -> Result<(), i64> {
    set_affinity_of(0, cpu_mask)
}

/// Restricts thread `tid` (0 = self) to the CPUs in `cpu_mask`.
pub fn set_affinity_of(tid: i64, cpu_mask: u64) -> Result<(), i64> {
    sys::result(sys::sched_setaffinity(tid, cpu_mask)).map(|_| ())
}

/// The calling thread's CPU mask; 0 if the call failed.
pub fn get_affinity() -> u64 {
    get_affinity_of(0).unwrap_or(0)
}

/// Thread `tid`'s (0 = self) CPU mask.
pub fn get_affinity_of(tid: i64) -> Result<u64, i64> {
    let mut mask = 0u64;
    let n = sys::result(sys::sched_getaffinity(tid, &mut mask))?;
    if n == 0 || n > 8 {
        // Linux writes its cpumask size (8 bytes for up to 64 CPUs).
        return Err(-errno::EINVAL);
    }
    Ok(mask)
}

/// Pins the calling thread to `cpu`; true if it now runs there.
pub fn pin(cpu: u32) -> bool {
    set_affinity(cpu_bit(cpu)).is_ok() && getcpu() == cpu
}

/// Number of CPUs the calling thread may run on (the popcount of its mask).
pub fn nr_allowed_cpus() -> u32 {
    get_affinity().count_ones()
}

/// `sched_yield`.
pub fn yield_now() {
    sys::sched_yield();
}

/// Sleeps at least `ns` nanoseconds on CLOCK_MONOTONIC (relative
/// `clock_nanosleep`, resumed with the remaining time after a signal).
/// Returns 0 or the first error other than -EINTR.
pub fn sleep_ns(ns: u64) -> i64 {
    let mut req = Timespec::from_nanos(ns);
    loop {
        let mut rem = Timespec::default();
        let ret = sys::clock_nanosleep(sys::CLOCK_MONOTONIC, 0, &req, Some(&mut rem));
        if ret != -errno::EINTR {
            return ret;
        }
        req = rem;
    }
}

/// Nanoseconds elapsed on the virtual counter since `start` (a
/// [`sys::counter`] value).
#[cfg(target_arch = "aarch64")]
pub fn counter_ns_since(start: u64) -> u64 {
    let (now, freq) = sys::counter();
    ticks_to_ns(now.wrapping_sub(start), freq)
}

/// Nanoseconds on the virtual counter (CNTVCT_EL0 / CNTFRQ_EL0). A
/// frequency of 0 is taken as 1 GHz: qemu-user (`qemu-aarch64`, handy for
/// running test apps on a Linux host) reads CNTFRQ_EL0 as 0 and counts ns.
#[cfg(target_arch = "aarch64")]
pub fn now_ns() -> u64 {
    let (cnt, freq) = sys::counter();
    ticks_to_ns(cnt, if freq == 0 { 1_000_000_000 } else { freq })
}

/// Counter ticks to nanoseconds at `freq` Hz.
pub fn ticks_to_ns(ticks: u64, freq: u64) -> u64 {
    if freq == 0 {
        return 0;
    }
    ((ticks as u128 * 1_000_000_000) / freq as u128) as u64
}

/// Nanoseconds to counter ticks at `freq` Hz.
pub fn ns_to_ticks(ns: u64, freq: u64) -> u64 {
    ((ns as u128 * freq as u128) / 1_000_000_000) as u64
}

/// The bit of `cpu` in a CPU mask (0 for a CPU number a one-word mask
/// cannot hold).
pub fn cpu_bit(cpu: u32) -> u64 {
    if cpu < 64 { 1 << cpu } else { 0 }
}

/// The CPU mask with every CPU below `nr` set.
pub fn all_cpus(nr: u32) -> u64 {
    if nr >= 64 { u64::MAX } else { (1u64 << nr) - 1 }
}

/// The number of CPUs: one past the highest CPU in the calling thread's
/// affinity mask (all online CPUs, for a thread nobody restricted), else
/// kstats' `nr_cpus`, else 1.
pub fn nr_cpus() -> u32 {
    let mask = get_affinity();
    if mask != 0 {
        return 64 - mask.leading_zeros();
    }
    match sys::kstats() {
        Ok(k) if k.nr_cpus > 0 => k.nr_cpus as u32,
        _ => 1,
    }
}

/// The number of CPUs whatever the caller's affinity: kstats' `nr_cpus`,
/// else [`nr_cpus`] (which reads the affinity mask).
pub fn online_cpus() -> u32 {
    match sys::kstats() {
        Ok(k) if k.nr_cpus > 0 => k.nr_cpus as u32,
        _ => nr_cpus(),
    }
}
