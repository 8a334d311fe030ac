//! The benchmarks (`benchlib`) in an image whose app does not register
//! rseq (the kernel is built for v2): `bench-none [-- NAME...]`.
#![no_std]
#![no_main]

rt::main!(main);
rt::rseq_mode!(none);

fn main(args: rt::Args) -> i32 {
    benchlib::main(args)
}
