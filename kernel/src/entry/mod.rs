//! The kernel's half of generic entry: the handlers the vectors call
//! (`traps`), the hooks of `entry`'s enter and exit halves (`enter`,
//! `exit`), the IRQ handler, the classification of EL0 faults, and the
//! syscall fast lane in front of them all (`lane`).
//! The loops themselves are the `entry` crate's.

#[cfg(target_os = "none")]
pub mod enter;
#[cfg(target_os = "none")]
pub mod exit;
pub mod fault;
#[cfg(target_os = "none")]
pub mod irq;
#[cfg(target_os = "none")]
mod lane;
#[cfg(target_os = "none")]
pub mod traps;
