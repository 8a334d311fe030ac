//! `membarrier`: with threads spinning in EL0 on CPUs 1..3 and the main
//! thread on CPU 0, `MEMBARRIER_CMD_PRIVATE_EXPEDITED` must interrupt
//! exactly the CPUs running this process's other threads, once per call,
//! and never the caller's own CPU (Linux runs the barrier locally there);
//! `PRIVATE_EXPEDITED_RSEQ` with `MEMBARRIER_CMD_FLAG_CPU` only the CPU
//! named. The IPI counts come from the kernel's `kstats` (rseq-os only).

use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use rt::sched::nr_cpus;
use rt::sys::{self, KStats, membarrier_cmd as mb};
use rt::test::{SEC, check, wait_for};
use rt::{println, sched, thread};

const K: u64 = 100;

static STOP: AtomicBool = AtomicBool::new(false);
static READY: AtomicU32 = AtomicU32::new(0);
static MISPLACED: AtomicU32 = AtomicU32::new(0);

fn spinner(cpu: usize) -> i32 {
    let pinned = sched::pin(cpu as u32);
    if !pinned {
        MISPLACED.fetch_add(1, Ordering::SeqCst);
    }
    READY.fetch_add(1, Ordering::SeqCst);
    // EL0 only from here: no syscall until STOP.
    while !STOP.load(Ordering::Relaxed) {
        core::hint::spin_loop();
    }
    0
}

fn ipis(k: &KStats) -> [u64; 4] {
    k.membarrier_ipis
}

fn delta(a: &KStats, b: &KStats) -> [u64; 4] {
    let (a, b) = (ipis(a), ipis(b));
    core::array::from_fn(|i| b[i].wrapping_sub(a[i]))
}

/// Runs `K` membarrier calls between two kstats reads; returns the per-CPU
/// IPI deltas and the first failing return value.
fn measure(cmd: u64, flags: u64, cpu: i32) -> Result<([u64; 4], i64), i64> {
    let before = sys::kstats()?;
    let mut first_err = 0;
    for _ in 0..K {
        let r = sys::membarrier(cmd, flags, cpu);
        if r != 0 && first_err == 0 {
            first_err = r;
        }
    }
    let after = sys::kstats()?;
    Ok((delta(&before, &after), first_err))
}

pub fn run() -> i32 {
    let nr = nr_cpus().min(4);
    let spinners = nr.saturating_sub(1) as usize;
    let target: i32 = if nr > 2 { 2 } else { 1 };
    println!(
        "smp: membarrier: main on CPU 0, EL0 spinners on CPUs 1..{nr}; {K} x PRIVATE_EXPEDITED, then {K} x PRIVATE_EXPEDITED_RSEQ to CPU {target}; IPIs from kstats"
    );
    if spinners == 0 {
        check("membarrier-all", false, format_args!("needs >= 2 CPUs"));
        return 1;
    }
    let r1 = sys::membarrier(mb::REGISTER_PRIVATE_EXPEDITED, 0, 0);
    let r2 = sys::membarrier(mb::REGISTER_PRIVATE_EXPEDITED_RSEQ, 0, 0);
    let pin = sched::set_affinity(1);
    let main_cpu = sched::getcpu();

    STOP.store(false, Ordering::SeqCst);
    let mut handles = [const { None }; 3];
    for (i, h) in handles.iter_mut().enumerate().take(spinners) {
        *h = thread::spawn(spinner, i + 1).ok();
    }
    let started = handles.iter().filter(|h| h.is_some()).count();
    let ready = wait_for(2 * SEC, || READY.load(Ordering::SeqCst) as usize == started);
    let misplaced = MISPLACED.load(Ordering::SeqCst);
    let setup_ok = r1 == 0
        && r2 == 0
        && pin.is_ok()
        && main_cpu == 0
        && started == spinners
        && ready
        && misplaced == 0;
    println!(
        "smp: register = {r1}, register-rseq = {r2}, main pinned {pin:?} on CPU {main_cpu}, {started}/{spinners} spinners, ready {ready}, misplaced {misplaced}"
    );

    let all = measure(mb::PRIVATE_EXPEDITED, 0, 0);
    let one = measure(mb::PRIVATE_EXPEDITED_RSEQ, mb::FLAG_CPU, target);
    let query = sys::membarrier(mb::QUERY, 0, 0);

    STOP.store(true, Ordering::SeqCst);
    for h in handles.iter_mut() {
        if let Some(j) = h.take() {
            j.join();
        }
    }

    let mut ok = true;
    match all {
        Err(e) => ok &= check("membarrier-all", false, format_args!("kstats: {e}")),
        Ok((d, err)) => {
            let others: u64 = d[1..nr as usize].iter().sum();
            println!("smp: PRIVATE_EXPEDITED x{K}: IPIs per CPU {d:?}");
            ok &= check(
                "membarrier-all",
                setup_ok && err == 0 && others == spinners as u64 * K && d[0] == 0,
                format_args!(
                    "setup ok {setup_ok}, first error {err}; IPIs per CPU {d:?}: want {K} on CPUs 1..{nr}, 0 on CPU 0"
                ),
            );
        }
    }
    match one {
        Err(e) => ok &= check("membarrier-cpu", false, format_args!("kstats: {e}")),
        Ok((d, err)) => {
            println!("smp: PRIVATE_EXPEDITED_RSEQ|FLAG_CPU cpu={target} x{K}: IPIs per CPU {d:?}");
            let only_target = d
                .iter()
                .enumerate()
                .all(|(c, &n)| if c as i32 == target { n == K } else { n == 0 });
            ok &= check(
                "membarrier-cpu",
                setup_ok && err == 0 && only_target,
                format_args!(
                    "setup ok {setup_ok}, first error {err}; IPIs per CPU {d:?}: want {K} on CPU {target} only"
                ),
            );
        }
    }
    let want = mb::PRIVATE_EXPEDITED
        | mb::REGISTER_PRIVATE_EXPEDITED
        | mb::PRIVATE_EXPEDITED_RSEQ
        | mb::REGISTER_PRIVATE_EXPEDITED_RSEQ;
    ok &= check(
        "membarrier-query",
        query >= 0 && query as u64 & want == want,
        format_args!("QUERY = {query:#x}, want all of {want:#x}"),
    );
    if ok { 0 } else { 1 }
}
