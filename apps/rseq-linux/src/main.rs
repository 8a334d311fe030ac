//! The rseq scenarios (`rseqtest`) in an image whose kernel is built for
//! rseq mode `linux`, which gives each registration the version its length
//! asks for: `rseq-linux -- <scenario> [args]`, with `env=RT_RSEQ_LEN=32`
//! on the command line for 32-byte (v1) registrations, 64 (v2) otherwise.
#![no_std]
#![no_main]

rt::main!(main);
rt::rseq_mode!(linux);

fn main(args: rt::Args) -> i32 {
    rseqtest::main(args)
}
