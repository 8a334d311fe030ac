//! The default app: proves EL0 runs and reaches the kernel only through `svc`.
#![no_std]
#![no_main]

use rt::{println, sys};

rt::main!(main);
rt::rseq_mode!(none);

fn main(args: rt::Args) -> i32 {
    println!(
        "hello from EL0: {} (pid {}, tid {})",
        args.get(0),
        sys::getpid(),
        sys::gettid()
    );
    0
}
