//! `basic`: the registration the runtime made works: on each CPU (moved
//! there with sched_setaffinity) `cpu_id_start == cpu_id == getcpu`,
//! `node_id == 0` and `mm_cid < nr_cpus`; the same in a spawned thread
//! (which the runtime registered in its trampoline). After Linux's
//! `basic_test.c`.

use rt::sched::{all_cpus, cpu_bit};
use rt::test::{check, status};
use rt::{println, sched, thread};

use crate::nr_cpus;

/// Visits every CPU; returns the number of mismatches and prints them.
fn visit_all(who: &str) -> u32 {
    let nr = nr_cpus();
    let mut bad = 0;
    for cpu in 0..nr {
        if let Err(e) = sched::set_affinity(cpu_bit(cpu)) {
            println!("rseqtest: {who}: set_affinity(CPU {cpu}) = {e}");
            bad += 1;
            continue;
        }
        let (start, id, cid, node) = (
            rt::rseq::cpu_id_start(),
            rt::rseq::cpu_id(),
            rt::rseq::mm_cid(),
            rt::rseq::node_id(),
        );
        let getcpu = sched::getcpu();
        let good = start == cpu && id == cpu && getcpu == cpu && cid < nr && node == 0;
        println!(
            "rseqtest: {who} on CPU {cpu}: cpu_id_start {} cpu_id {} getcpu {getcpu} mm_cid {cid} node_id {node}{}",
            start as i32,
            id as i32,
            if good { "" } else { "  <-- wrong" }
        );
        if !good {
            bad += 1;
        }
    }
    let _ = sched::set_affinity(all_cpus(nr));
    bad
}

fn child(_: usize) -> i32 {
    if !rt::rseq::registered() {
        println!(
            "rseqtest: thread not registered (errno {})",
            rt::rseq::registration_errno()
        );
        return 100;
    }
    visit_all("thread") as i32
}

pub fn run() -> i32 {
    println!(
        "rseqtest: basic: on each of {} CPUs, cpu_id_start == cpu_id == getcpu, node_id 0, mm_cid < nr_cpus; main thread, then a spawned one",
        nr_cpus()
    );
    let registered = rt::rseq::registered();
    let len = rt::rseq::registered_len();
    let bad = visit_all("main");
    let mut ok = check(
        "basic",
        registered && len == rt::rseq::mode_len() && bad == 0,
        format_args!(
            "registered {registered} (len {len}, errno {}), {bad} CPUs with wrong IDs",
            rt::rseq::registration_errno()
        ),
    );
    let r = match thread::spawn(child, 0) {
        Ok(h) => h.join(),
        Err(e) => {
            println!("rseqtest: spawn: {e}");
            -1
        }
    };
    ok &= check(
        "basic-thread",
        r == 0,
        format_args!("thread returned {r} (100: not registered, else CPUs with wrong IDs)"),
    );
    status(ok)
}
