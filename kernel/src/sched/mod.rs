//! Scheduling: the per-CPU run queues and `schedule()` (`scheduler`), the
//! task (`task`) and per-CPU (`percpu`) state they work on, the IPIs, and
//! the calls built on them (`affinity`, `membarrier`), and each CPU's timer
//! event (`clockevent`: the tick and sleepers' deadlines). `scheduler`,
//! `task`, `percpu` and `ipi` form the one knot of the kernel: they call
//! each other by nature.

pub mod affinity;
pub mod clockevent;
pub mod ipi;
pub mod membarrier;
pub mod percpu;
mod scheduler;
pub mod task;

pub use scheduler::*;
