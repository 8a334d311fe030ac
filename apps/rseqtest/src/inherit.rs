//! `inherit`: registration is per thread. A thread made by `rt::thread::
//! spawn` starts registered by the runtime, with its own area (not the
//! main thread's); a raw clone child (`spawn_with`, which the runtime does
//! not register) starts unregistered, as a `clone(CLONE_VM)` child does on
//! Linux: the kernel never wrote its area and unregistering it is EINVAL.
//! The main thread stays registered (re-registering is EBUSY).

use rt::sys::{clone_flags, errno};
use rt::test::{check, status};
use rt::{println, sched, thread};

/// Returns a bit set of problems (0: as expected).
fn runtime_child(main_area: usize) -> i32 {
    let area = rt::rseq::area() as usize;
    let (reg, id, cpu) = (rt::rseq::registered(), rt::rseq::cpu_id(), sched::getcpu());
    println!(
        "rseqtest: runtime thread: area {area:#x} (main {main_area:#x}), registered {reg}, cpu_id {} getcpu {cpu}",
        id as i32
    );
    let mut bad = 0;
    if !reg {
        bad |= 1;
    }
    if area == main_area {
        bad |= 2;
    }
    if id != cpu {
        bad |= 4;
    }
    // Registering the same area again: it is registered, so EBUSY.
    let again = rt::rseq::sys_rseq(area as u64, rt::rseq::mode_len(), 0, rt::rseq::RSEQ_SIG);
    if again != -errno::EBUSY {
        println!("rseqtest: runtime thread: re-register = {again}, want -EBUSY");
        bad |= 8;
    }
    bad
}

fn raw_child(main_area: usize) -> i32 {
    let area = rt::rseq::area() as usize;
    let (reg, id) = (rt::rseq::registered(), rt::rseq::cpu_id());
    let unreg = rt::rseq::unregister();
    println!(
        "rseqtest: raw clone child: area {area:#x} (main {main_area:#x}), registered {reg}, cpu_id {} (never written: {}), unregister = {unreg} (want -EINVAL)",
        id as i32,
        rt::rseq::RSEQ_CPU_ID_UNINITIALIZED_U32 as i32
    );
    let mut bad = 0;
    if reg {
        bad |= 1;
    }
    if area == main_area {
        bad |= 2;
    }
    if id != rt::rseq::RSEQ_CPU_ID_UNINITIALIZED_U32 {
        bad |= 4;
    }
    if unreg != -errno::EINVAL {
        bad |= 8;
    }
    bad
}

pub fn run() -> i32 {
    println!(
        "rseqtest: inherit: a runtime thread starts registered with its own area; a raw clone child starts unregistered"
    );
    let main_area = rt::rseq::area() as usize;
    let a = thread::spawn(runtime_child, main_area).map(|h| h.join());
    let b = thread::spawn_with(clone_flags::THREAD_FLAGS, 64 * 1024, raw_child, main_area)
        .map(|h| h.join());
    let main = rt::rseq::sys_rseq(
        main_area as u64,
        rt::rseq::mode_len(),
        0,
        rt::rseq::RSEQ_SIG,
    );
    println!(
        "rseqtest: runtime thread -> {a:?}, raw child -> {b:?} (0: as expected), main re-register = {main} (want -EBUSY)"
    );
    let ok = check(
        "inherit",
        a == Ok(0) && b == Ok(0) && main == -errno::EBUSY && rt::rseq::registered(),
        format_args!(
            "runtime thread {a:?}, raw child {b:?} (bits: 1 registration, 2 shared area, 4 cpu_id, 8 errno), main {main}"
        ),
    );
    status(ok)
}
