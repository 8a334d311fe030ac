//! Memory: the physical frame allocator, the single address space (page
//! tables, user window, kernel heap and stacks), and the app's anonymous
//! mappings (`mmap`/`munmap`).

pub mod frames;
#[cfg(target_os = "none")]
pub mod mmap;
#[cfg(target_os = "none")]
mod space;

#[cfg(target_os = "none")]
pub use space::*;
