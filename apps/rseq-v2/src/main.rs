//! The rseq scenarios (`rseqtest`) in an image whose kernel is built for
//! rseq v2: `rseq-v2 -- <scenario> [args]`.
#![no_std]
#![no_main]

rt::main!(main);
rt::rseq_mode!(v2);

fn main(args: rt::Args) -> i32 {
    rseqtest::main(args)
}
