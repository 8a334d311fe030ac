//! The benchmarks (`benchlib`) in an image with a kernel built for rseq v1:
//! `bench-v1 [-- NAME...]`.
#![no_std]
#![no_main]

rt::main!(main);
rt::rseq_mode!(v1);

fn main(args: rt::Args) -> i32 {
    benchlib::main(args)
}
