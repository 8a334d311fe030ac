//! Boot: CPU 0's path from the assembly entry to the app's first
//! instruction (`start`), the device tree it reads (`fdt`, `dtb`), PAN,
//! and the secondary CPUs.

#[cfg(target_os = "none")]
pub mod dtb;
pub mod fdt;
#[cfg(target_os = "none")]
pub mod pan;
#[cfg(target_os = "none")]
pub mod secondary;
#[cfg(target_os = "none")]
pub mod start;
