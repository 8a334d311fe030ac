//! Time in the user ABI: `struct timespec` (64-bit on aarch64), clock ids
//! (include/uapi/linux/time.h).

/// `CLOCK_REALTIME`: wall-clock time. This kernel has no time of day: it
/// is CLOCK_MONOTONIC plus an epoch offset of 0 (1970-01-01 at boot).
pub const CLOCK_REALTIME: u64 = 0;
/// `CLOCK_MONOTONIC`: time since boot (the system counter).
pub const CLOCK_MONOTONIC: u64 = 1;
/// `CLOCK_PROCESS_CPUTIME_ID` (not supported here).
pub const CLOCK_PROCESS_CPUTIME_ID: u64 = 2;
/// `CLOCK_THREAD_CPUTIME_ID` (not supported here).
pub const CLOCK_THREAD_CPUTIME_ID: u64 = 3;
/// `CLOCK_MONOTONIC_RAW`: the counter without NTP slewing (the same here).
pub const CLOCK_MONOTONIC_RAW: u64 = 4;
/// `CLOCK_REALTIME_COARSE`: CLOCK_REALTIME at tick resolution.
pub const CLOCK_REALTIME_COARSE: u64 = 5;
/// `CLOCK_MONOTONIC_COARSE`: CLOCK_MONOTONIC at tick resolution.
pub const CLOCK_MONOTONIC_COARSE: u64 = 6;
/// `CLOCK_BOOTTIME`: CLOCK_MONOTONIC including suspend (never, here).
pub const CLOCK_BOOTTIME: u64 = 7;
/// The epoch offset of CLOCK_REALTIME over CLOCK_MONOTONIC, in ns.
pub const REALTIME_OFFSET_NS: u64 = 0;
/// `clock_nanosleep` flag: the request is an absolute time.
pub const TIMER_ABSTIME: u64 = 1;

const NSEC_PER_SEC: u128 = 1_000_000_000;

/// `struct timespec`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timespec {
    /// Seconds.
    pub tv_sec: i64,
    /// Nanoseconds, `0..1_000_000_000` in a valid value.
    pub tv_nsec: i64,
}

impl Timespec {
    /// A timespec of `ns` nanoseconds.
    pub const fn from_nanos(ns: u64) -> Timespec {
        Timespec {
            tv_sec: (ns / 1_000_000_000) as i64,
            tv_nsec: (ns % 1_000_000_000) as i64,
        }
    }

    /// The value in nanoseconds, negative fields counting as 0 (for a
    /// value the kernel wrote, which is always valid).
    pub const fn as_nanos(&self) -> u64 {
        let s = if self.tv_sec < 0 {
            0
        } else {
            self.tv_sec as u64
        };
        let n = if self.tv_nsec < 0 {
            0
        } else {
            self.tv_nsec as u64
        };
        s * 1_000_000_000 + n
    }

    /// Nanoseconds as a timespec (saturating at `i64::MAX` seconds).
    pub fn from_ns(ns: u128) -> Timespec {
        Timespec {
            tv_sec: i64::try_from(ns / NSEC_PER_SEC).unwrap_or(i64::MAX),
            tv_nsec: (ns % NSEC_PER_SEC) as i64,
        }
    }

    /// The value in nanoseconds, or `None` when it is not a valid time
    /// (negative seconds, nanoseconds outside `0..1e9`): Linux's
    /// `timespec64_valid`. Exact for every valid value.
    pub fn to_ns(self) -> Option<u128> {
        if self.tv_sec < 0 || !(0..NSEC_PER_SEC as i64).contains(&self.tv_nsec) {
            return None;
        }
        Some(self.tv_sec as u128 * NSEC_PER_SEC + self.tv_nsec as u128)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity_and_round_trip() {
        let t = Timespec {
            tv_sec: 3,
            tv_nsec: 999_999_999,
        };
        assert_eq!(t.to_ns(), Some(3_999_999_999));
        assert_eq!(Timespec::from_ns(3_999_999_999), t);
        assert_eq!(
            Timespec {
                tv_sec: -1,
                tv_nsec: 0
            }
            .to_ns(),
            None
        );
        assert_eq!(
            Timespec {
                tv_sec: 0,
                tv_nsec: 1_000_000_000
            }
            .to_ns(),
            None
        );
        assert_eq!(
            Timespec {
                tv_sec: 0,
                tv_nsec: -1
            }
            .to_ns(),
            None
        );
        let max = Timespec {
            tv_sec: i64::MAX,
            tv_nsec: 999_999_999,
        };
        assert_eq!(Timespec::from_ns(max.to_ns().unwrap()), max);
        assert_eq!(core::mem::size_of::<Timespec>(), 16);
        assert_eq!(
            Timespec::from_nanos(1_500_000_000).as_nanos(),
            1_500_000_000
        );
        assert_eq!(Timespec::from_nanos(7).to_ns(), Some(7));
    }
}
