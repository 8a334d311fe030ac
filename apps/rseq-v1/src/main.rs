//! The rseq scenarios (`rseqtest`) in an image whose kernel is built for
//! rseq v1: `rseq-v1 -- <scenario> [args]`.
#![no_std]
#![no_main]

rt::main!(main);
rt::rseq_mode!(v1);

fn main(args: rt::Args) -> i32 {
    rseqtest::main(args)
}
