//! Scheduling policies (include/uapi/linux/sched.h) and
//! `struct sched_param`.

/// The default time-sharing policy, the only one this kernel has.
pub const SCHED_OTHER: u32 = 0;

/// `struct sched_param`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SchedParam {
    /// 0 for SCHED_OTHER.
    pub sched_priority: i32,
}
