//! The benchmarks (`benchlib`) in an image with a kernel built for rseq v2:
//! `bench-v2 [-- NAME...]`.
#![no_std]
#![no_main]

rt::main!(main);
rt::rseq_mode!(v2);

fn main(args: rt::Args) -> i32 {
    benchlib::main(args)
}
