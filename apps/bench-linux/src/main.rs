//! The benchmarks (`benchlib`) in an image with a kernel built for rseq
//! mode `linux`, where every path asks the registration's version at run
//! time; the runtime registers 64 bytes, so it runs v2:
//! `bench-linux [-- NAME...]`.
#![no_std]
#![no_main]

rt::main!(main);
rt::rseq_mode!(linux);

fn main(args: rt::Args) -> i32 {
    benchlib::main(args)
}
