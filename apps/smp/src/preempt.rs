//! `preempt`: the main thread and a spinner are pinned to the same CPU; the
//! spinner spins in EL0 (no syscall) until a flag is set, and only the main
//! thread sets it, so the flag can only be set if the kernel preempts the
//! spinner. The spinner gives up after 5 s of counter time (a kernel that
//! never preempts then gets a FAIL instead of a hang).

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use rt::sched::{now_ns, nr_cpus};
use rt::test::{MS, SEC, check, wait_for};
use rt::{println, sched, thread};

static READY: AtomicU32 = AtomicU32::new(0);
static FLAG: AtomicU32 = AtomicU32::new(0);
/// The spinner's CPU before spinning, and how long it spun (ns).
static SPINNER_CPU: AtomicU32 = AtomicU32::new(u32::MAX);
static SPUN_NS: AtomicU64 = AtomicU64::new(0);

const GIVE_UP: u64 = 5 * SEC;

fn spinner(cpu: usize) -> i32 {
    if let Err(e) = sched::set_affinity(1 << cpu) {
        println!("smp: spinner: set_affinity(1 << {cpu}) = {e}");
    }
    SPINNER_CPU.store(sched::getcpu(), Ordering::SeqCst);
    let (start, freq) = crate::counter();
    let give_up = start + sched::ns_to_ticks(GIVE_UP, freq);
    READY.store(1, Ordering::SeqCst);
    // From here on: EL0 only (loads and counter reads), no syscall.
    let saw_flag = loop {
        if FLAG.load(Ordering::Relaxed) != 0 {
            break true;
        }
        let now = crate::counter().0;
        if now >= give_up {
            break false;
        }
        core::hint::spin_loop();
    };
    SPUN_NS.store(
        sched::ticks_to_ns(crate::counter().0 - start, freq),
        Ordering::SeqCst,
    );
    if saw_flag { 0 } else { 1 }
}

pub fn run() -> i32 {
    let cpu: u32 = if nr_cpus() >= 2 { 1 } else { 0 };
    println!(
        "smp: preempt: main and an EL0 spinner pinned to CPU {cpu}; main sets the flag the spinner waits for"
    );
    if let Err(e) = sched::set_affinity(1 << cpu) {
        return i32::from(!check(
            "preempt",
            false,
            format_args!("set_affinity(1 << {cpu}) = {e}"),
        ));
    }
    let main_cpu = sched::getcpu();
    let h = match thread::spawn(spinner, cpu as usize) {
        Ok(h) => h,
        Err(e) => {
            return i32::from(!check("preempt", false, format_args!("spawn: {e}")));
        }
    };
    // Both on `cpu`: once the spinner is spinning, main runs again only if
    // the spinner is preempted.
    let ready = wait_for(GIVE_UP + SEC, || READY.load(Ordering::SeqCst) != 0);
    let t0 = now_ns();
    FLAG.store(1, Ordering::SeqCst);
    let main_cpu_after = sched::getcpu();
    let status = h.join();
    let waited = now_ns() - t0;
    let spun = SPUN_NS.load(Ordering::SeqCst);
    let spinner_cpu = SPINNER_CPU.load(Ordering::SeqCst);
    println!(
        "smp: main on CPU {main_cpu}/{main_cpu_after}, spinner on CPU {spinner_cpu}; spinner spun {} ms, join took {} ms",
        spun / MS,
        waited / MS
    );
    let ok = check(
        "preempt",
        ready && status == 0 && main_cpu == cpu && main_cpu_after == cpu && spinner_cpu == cpu,
        format_args!(
            "ready={ready} spinner status={status} (1 = never saw the flag in 5 s) cpus main={main_cpu}/{main_cpu_after} spinner={spinner_cpu}, want {cpu}"
        ),
    );
    if ok { 0 } else { 1 }
}
