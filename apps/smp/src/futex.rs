//! `futex-sum [N]`: 8 threads each add 1 to a shared u64 N times under the
//! futex [`Mutex`] (released together by a [`Barrier`]); the total must be
//! exactly 8 N. Also FUTEX_WAIT's two error returns: a value mismatch is
//! `-EAGAIN`, and a relative timeout on an unchanging word is `-ETIMEDOUT`
//! no earlier than the timeout.

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use rt::sched::now_ns;
use rt::sync::{Barrier, Mutex};
use rt::sys::{self, Timespec, errno};
use rt::test::{MS, check};
use rt::{println, sched, thread};

const THREADS: usize = 8;

static SUM: Mutex<u64> = Mutex::new(0);
static START: Barrier = Barrier::new(THREADS as u32);
static PER_THREAD: AtomicU64 = AtomicU64::new(0);

/// In migrating rounds, every this many increments a thread yields, and
/// every other time moves itself to another CPU.
const SHAKE: u64 = 512;

/// `n` locked increments of [`SUM`]; if `migrate`, every [`SHAKE`]
/// increments alternately move to another of `nr` CPUs or yield.
pub fn add(i: usize, n: u64, migrate: bool, nr: u32) {
    let nr = nr.max(1) as u64;
    for j in 0..n {
        *SUM.lock() += 1;
        if migrate && j.is_multiple_of(SHAKE) {
            if (j / SHAKE).is_multiple_of(2) {
                let _ = sched::set_affinity(1 << ((i as u64 + j / SHAKE) % nr));
            } else {
                sched::yield_now();
            }
        }
    }
}

/// Reads and resets the shared sum.
pub fn take_sum() -> u64 {
    core::mem::take(&mut *SUM.lock())
}

fn adder(i: usize) -> i32 {
    let n = PER_THREAD.load(Ordering::SeqCst);
    START.wait();
    add(i, n, false, 1);
    0
}

/// One round: `THREADS` threads x `n` locked increments, released together
/// by a barrier. Returns (sum, spawn error).
fn round(n: u64) -> (u64, Option<i64>) {
    take_sum();
    PER_THREAD.store(n, Ordering::SeqCst);
    let mut handles = [const { None }; THREADS];
    let mut spawn_error = None;
    for (i, h) in handles.iter_mut().enumerate() {
        match thread::spawn(adder, i) {
            Ok(j) => *h = Some(j),
            Err(e) => {
                spawn_error.get_or_insert(e);
            }
        }
    }
    if spawn_error.is_some() {
        // The others wait at the barrier for all THREADS: leave them there
        // (the caller fails the test and exits, which ends them).
        return (0, spawn_error);
    }
    for h in handles.iter_mut() {
        if let Some(j) = h.take() {
            j.join();
        }
    }
    (take_sum(), spawn_error)
}

pub fn run(n: u64) -> i32 {
    println!(
        "smp: futex-sum: {THREADS} threads x {n} increments of one u64 under the futex mutex; FUTEX_WAIT -EAGAIN and -ETIMEDOUT"
    );
    let t0 = now_ns();
    let (sum, err) = round(n);
    println!("smp: sum {sum} in {} ms", (now_ns() - t0) / MS);
    let want = THREADS as u64 * n;
    let mut ok = check(
        "futex-sum",
        sum == want && err.is_none(),
        format_args!("sum {sum}, want {want} (spawn error {err:?})"),
    );

    let word = AtomicU32::new(5);
    let r = sys::futex_wait(&word, 6, None);
    ok &= check(
        "futex-eagain",
        r == -errno::EAGAIN,
        format_args!(
            "FUTEX_WAIT(val 6) on a word holding 5 = {r}, want {}",
            -errno::EAGAIN
        ),
    );

    let timeout = Timespec::from_nanos(20 * MS);
    let t0 = now_ns();
    let r = sys::futex_wait(&word, 5, Some(&timeout));
    let took = now_ns() - t0;
    println!(
        "smp: FUTEX_WAIT 20 ms timeout returned {r} after {} us",
        took / 1000
    );
    ok &= check(
        "futex-timeout",
        r == -errno::ETIMEDOUT && took >= 20 * MS,
        format_args!(
            "returned {r} after {} us, want {} after >= 20000 us",
            took / 1000,
            -errno::ETIMEDOUT
        ),
    );
    if ok { 0 } else { 1 }
}
