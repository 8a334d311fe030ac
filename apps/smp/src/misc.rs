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

/// clock_nanosleep and nanosleep for 50 ms each take at least 50 ms; short
/// sleeps end at their deadline.
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
    let fine = fine_grained();
    if ok && fine { 0 } else { 1 }
}

/// Sleeps end at their deadline, not at the next tick: 21 sleeps of 1 ms
/// each take at least 1 ms, and their median less than 5 ms. The scenario
/// boots with hz=10: ending at a tick (any of the 4 CPUs' ticks, each at its
/// own phase), a sleep would take 25 ms on average; the median keeps one
/// late wakeup on a busy host from deciding.
fn fine_grained() -> bool {
    const SLEEPS: usize = 21;
    const BOUND: u64 = 5 * MS;
    let req = Timespec::from_nanos(MS);
    let mut took = [0u64; SLEEPS];
    let mut failed = 0;
    for t in took.iter_mut() {
        let t0 = now_ns();
        if sys::nanosleep(&req, None) != 0 {
            failed += 1;
        }
        *t = now_ns() - t0;
    }
    took.sort_unstable();
    let (shortest, median) = (took[0], took[SLEEPS / 2]);
    check(
        "nanosleep-fine",
        failed == 0 && shortest >= MS && median < BOUND,
        format_args!(
            "{SLEEPS} x nanosleep(1 ms): {failed} failed, shortest {} us, median {} us; \
             want none failed, >= 1000 us, median < {} us",
            shortest / 1000,
            median / 1000,
            BOUND / 1000
        ),
    )
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
