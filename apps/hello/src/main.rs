//! The default app: proves EL0 runs and reaches the kernel only through `svc`,
//! and shows the argv and environment it was started with.
#![no_std]
#![no_main]

use rt::{print, println, sys};

rt::main!(main);
rt::rseq_mode!(none);

fn main(args: rt::Args) -> i32 {
    println!(
        "hello from EL0: {} (pid {}, tid {})",
        args.get(0),
        sys::getpid(),
        sys::gettid()
    );
    print!("hello: argv=[");
    for i in 0..args.len() {
        print!("{}{:?}", if i > 0 { ", " } else { "" }, args.get(i));
    }
    print!("] envp=[");
    for (i, var) in args.env().enumerate() {
        print!("{}{var:?}", if i > 0 { ", " } else { "" });
    }
    println!("]");
    0
}
