//! Memory: the physical frame allocator, the single address space (page
//! tables, user window, kernel heap and stacks), and the app's anonymous
//! memory (`mmap`/`munmap`/`mprotect`/`madvise`, the program break).

#[cfg(target_os = "none")]
pub mod brk;
#[cfg(target_os = "none")]
pub mod fault;
pub mod frames;
#[cfg(target_os = "none")]
pub mod mmap;
#[cfg(target_os = "none")]
mod space;
pub mod vma;

#[cfg(target_os = "none")]
pub use space::*;
