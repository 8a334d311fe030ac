//! The smaller scenarios: `sigsegv-thread`, `sleep`, `clone-errors`, and
//! `stress`, which loops the futex-sum and progress rounds.

use rt::sys::{self, Timespec, clone_flags as cf, errno};
use rt::{println, sched, thread};

use crate::{MS, SEC, check, futex, now_ns, nr_cpus, progress};

/// A hole in the user window that is never mapped (kernel/src/mm.rs).
const USER_UNMAPPED: u64 = 0x40_2000_0000;

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

/// Alternates futex-sum rounds (8 x 5000 locked increments, threads
/// yielding and migrating) and progress rounds (8 spinners for 50 ms,
/// migrating) until `seconds` of counter time passed; every sum must be
/// exact and every spinner must advance.
pub fn stress(seconds: u64) -> i32 {
    const PER_THREAD: u64 = 5000;
    let nr = nr_cpus();
    println!(
        "smp: stress: {seconds} s of futex-sum rounds ({} x {PER_THREAD}) and progress rounds ({} x 50 ms), with yields and migrations over {nr} CPUs",
        futex::THREADS,
        progress::THREADS
    );
    let start = now_ns();
    let (mut rounds, mut increments, mut spins, mut cpus) = (0u64, 0u64, 0u64, 0u64);
    let mut next_report = 5 * SEC;
    while now_ns() - start < seconds * SEC {
        let (sum, err) = futex::round(PER_THREAD, true);
        let want = futex::THREADS as u64 * PER_THREAD;
        if sum != want || err.is_some() {
            check(
                "stress",
                false,
                format_args!("round {rounds}: sum {sum}, want {want} (spawn error {err:?})"),
            );
            return 1;
        }
        increments += sum;
        let r = progress::round(50 * MS, true);
        if r.min_count() == 0 || r.spawn_error.is_some() {
            check(
                "stress",
                false,
                format_args!(
                    "round {rounds}: spinner counts {:?} (spawn error {:?})",
                    r.counts, r.spawn_error
                ),
            );
            return 1;
        }
        spins += r.total();
        cpus |= r.cpu_union();
        rounds += 1;
        let elapsed = now_ns() - start;
        if elapsed >= next_report {
            println!(
                "smp: stress: {} s, {rounds} rounds, {increments} increments, {spins} spins",
                elapsed / SEC
            );
            next_report += 5 * SEC;
        }
    }
    let _ = sched::set_affinity(crate::all_cpus(nr));
    println!(
        "smp: stress: {rounds} rounds, {increments} increments, {spins} spins, CPUs seen {cpus:#x}"
    );
    if rounds == 0 {
        check("stress", false, format_args!("no round completed"));
        return 1;
    }
    // The harness reads only the word after the name; the totals follow.
    println!("TEST stress ok rounds={rounds} increments={increments} spins={spins}");
    0
}
