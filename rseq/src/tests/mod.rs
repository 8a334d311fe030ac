//! Host tests of the rseq logic over a fake user memory (`fake.rs`), both
//! modes in every build.

mod debug;
mod events;
mod fake;
mod fuzz;
mod misc;
mod paths;
mod property;
mod register;
mod slice;
