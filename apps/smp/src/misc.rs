//! The smaller scenarios: `sigsegv-thread`, `sleep`, `clone-errors`.

use rt::sched::now_ns;
use rt::sys::{self, Timespec, clone_flags as cf, errno};
use rt::test::{MS, SEC, check};
use rt::{println, thread};

use rt::test::USER_UNMAPPED;

fn faulter(_: usize) -> i32 {
    println!(
        "smp: thread {} faulting (load from {USER_UNMAPPED:#x})",
        sys::gettid()
    );
    // SAFETY: deliberately invalid: the kernel must kill the whole process.
    let v = unsafe { core::ptr::read_volatile(USER_UNMAPPED as *const u64) };
    println!("smp: thread survived a fault?! read {v:#x}");
    1
}

/// A second thread faults; the kernel must kill the process with SIGSEGV
/// (status 139) while the main thread sleeps in `join` (a futex wait).
pub fn sigsegv_thread() -> i32 {
    println!(
        "smp: sigsegv-thread: a second thread loads from an unmapped address; main waits in join"
    );
    match thread::spawn(faulter, 0) {
        Ok(h) => {
            let r = h.join();
            println!("smp: main: faulting thread returned {r}; the process was not killed");
        }
        Err(e) => println!("smp: spawn: {e}"),
    }
    1
}

/// clock_nanosleep and nanosleep for 50 ms each take at least 50 ms.
pub fn sleep() -> i32 {
    println!(
        "smp: sleep: clock_nanosleep(CLOCK_MONOTONIC, 50 ms) and nanosleep(50 ms), timed with the counter"
    );
    let req = Timespec::from_nanos(50 * MS);
    let t0 = now_ns();
    let r1 = sys::clock_nanosleep(sys::CLOCK_MONOTONIC, 0, &req, None);
    let d1 = now_ns() - t0;
    let t0 = now_ns();
    let r2 = sys::nanosleep(&req, None);
    let d2 = now_ns() - t0;
    println!(
        "smp: clock_nanosleep = {r1} after {} us, nanosleep = {r2} after {} us",
        d1 / 1000,
        d2 / 1000
    );
    let ok = check(
        "nanosleep",
        r1 == 0 && d1 >= 50 * MS && r2 == 0 && d2 >= 50 * MS,
        format_args!(
            "clock_nanosleep = {r1} after {} us, nanosleep = {r2} after {} us; want 0 after >= 50000 us",
            d1 / 1000,
            d2 / 1000
        ),
    );
    if ok { 0 } else { 1 }
}

fn nothing(_: usize) -> i32 {
    0
}

/// clone without CLONE_VM (but with CLONE_SIGHAND/CLONE_THREAD) and clone
/// with CLONE_NEWNS (with CLONE_FS) are -EINVAL in Linux.
pub fn clone_errors() -> i32 {
    println!(
        "smp: clone-errors: thread flags without CLONE_VM, and with CLONE_NEWNS, must be -EINVAL"
    );
    let cases = [
        ("without CLONE_VM", cf::THREAD_FLAGS & !cf::CLONE_VM),
        ("with CLONE_NEWNS", cf::THREAD_FLAGS | cf::CLONE_NEWNS),
    ];
    let mut ok = true;
    for (what, flags) in cases {
        let r = match thread::spawn_with(flags, 16 * 1024, nothing, 0) {
            Err(e) => e,
            Ok(h) => {
                let tid = h.tid();
                // Should not have happened; reap it if it behaves as a thread.
                let _ = h.try_join(SEC);
                tid
            }
        };
        println!("smp: clone({flags:#x}) {what} = {r}");
        ok &= r == -errno::EINVAL;
    }
    let ok = check(
        "clone-einval",
        ok,
        format_args!("a clone with bad flags did not return {}", -errno::EINVAL),
    );
    if ok { 0 } else { 1 }
}

fn churn_worker(i: usize) -> i32 {
    (i % 100) as i32
}

/// Creates and joins `n` threads, four at a time: every thread's exit
/// status arrives through join, and the kernel must reclaim each exited
/// thread's kernel stack (600 x 32 KiB is more than the kernel heap).
pub fn churn(n: usize) -> i32 {
    println!("smp: churn: {n} threads created and joined, 4 at a time");
    let mut ok = true;
    let mut done = 0;
    while done < n {
        let mut handles = [None, None, None, None];
        for (k, h) in handles.iter_mut().enumerate() {
            match thread::spawn(churn_worker, done + k) {
                Ok(j) => *h = Some(j),
                Err(e) => {
                    ok = check("churn", false, format_args!("spawn {}: {e}", done + k));
                    return if ok { 0 } else { 1 };
                }
            }
        }
        for (k, h) in handles.into_iter().enumerate() {
            let status = h.map_or(-1, |j| j.join());
            if status != ((done + k) % 100) as i32 {
                ok = false;
                println!("smp: churn: thread {} returned {status}", done + k);
            }
        }
        done += 4;
    }
    let k = sys::kstats()
        .map(|k| k.context_switches.iter().sum::<u64>())
        .unwrap_or(0);
    check(
        "churn",
        ok,
        format_args!("a thread returned the wrong status"),
    );
    println!("smp: churn: {done} threads, {k} context switches");
    if ok { 0 } else { 1 }
}
