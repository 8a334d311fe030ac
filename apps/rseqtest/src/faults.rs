//! How the kernel reacts to an unusable rseq state.
//!
//! - `area-fault`: a thread registers an area on a page it then unmaps and
//!   moves to another CPU. The IDs change, the fast path's user access
//!   faults, the slow path retries, still faults, and the app is killed with
//!   SIGSEGV and an `rseq:` report (exit 139) — the kernel survives.
//! - `area-unpopulated`: `rseq_cs` points at a descriptor on a page that
//!   has no frame yet, and a tick preempts the thread in user mode. The
//!   fast path, which runs with page faults disabled, cannot read the
//!   descriptor and hands over to the slow path (exactly one `slowpath`),
//!   which faults the page in, finds the IP outside the (all-zero)
//!   section and clears `rseq_cs` — Linux's path, and no kill.
//! - `syscall-in-cs`: a critical section that makes a syscall. Without
//!   `rseq_debug=1` nothing checks it (TEST syscall-in-cs-nodebug); with it,
//!   the kernel kills the app (139, "rseq: syscall ... inside a critical
//!   section").

use rseq::uapi::RSEQ_SIG;
use rt::sys;
use rt::test::{check, status};
use rt::{println, sched, thread};

fn fault_worker(_: usize) -> i32 {
    let page = match sys::mmap_anon(4096) {
        Ok(p) => p as u64,
        Err(e) => {
            println!("rseqtest: mmap: {e}");
            return 1;
        }
    };
    let len = rt::rseq::mode_len();
    let r = rt::rseq::sys_rseq(page, len, 0, RSEQ_SIG);
    println!(
        "rseqtest: area-fault: registered {len} bytes at {page:#x}: {r}; unmapping it and migrating"
    );
    let _ = sys::munmap(page, 4096);
    let here = sched::getcpu();
    let _ = sched::set_affinity(1 << ((here + 1) % crate::nr_cpus()));
    sched::yield_now();
    println!("rseqtest: area-fault: survived with an unmapped rseq area?!");
    1
}

/// `area-fault`: expected to be killed.
pub fn area_fault() -> i32 {
    match thread::spawn_with(
        sys::clone_flags::THREAD_FLAGS,
        thread::DEFAULT_STACK_SIZE,
        fault_worker,
        0,
    ) {
        Ok(h) => h.join(),
        Err(e) => {
            println!("rseqtest: spawn: {e}");
            1
        }
    }
}

/// Set when the spinner of `area-unpopulated` may stop.
static STOP: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Keeps `cpu` busy so that its tick preempts the other thread there.
fn spinner(cpu: usize) -> i32 {
    let _ = sched::set_affinity(1 << cpu);
    while !STOP.load(core::sync::atomic::Ordering::Relaxed) {
        core::hint::spin_loop();
    }
    0
}

/// The `slowpath` counts of every CPU, added up.
fn slowpaths() -> u64 {
    sys::kstats().map_or(0, |k| k.rseq.iter().map(|r| r.slowpath).sum())
}

/// `area-unpopulated`: see the module comment.
pub fn area_unpopulated() -> i32 {
    const PAGE: u64 = 4096;
    let cpu = 1 % crate::nr_cpus() as usize;
    let _ = sched::set_affinity(1 << cpu);
    let Ok(other) = thread::spawn(spinner, cpu) else {
        println!("rseqtest: spawn failed");
        return 1;
    };
    let desc = sys::mmap(
        0,
        PAGE,
        sys::mman::PROT_READ,
        sys::mman::MAP_PRIVATE | sys::mman::MAP_ANONYMOUS,
        -1,
        0,
    );
    let before = slowpaths();
    let cs = rt::rseq::area().cast::<u8>().wrapping_add(8).cast::<u64>();
    // SAFETY: `rseq_cs` of this thread's registered area; the descriptor
    // page reads as zeroes (an empty section at 0, never containing the IP).
    unsafe { cs.write_volatile(desc as u64) };
    let (start, freq) = sys::counter();
    let mut cleared = false;
    while sys::counter().0 - start < 5 * freq {
        // SAFETY: as above.
        if unsafe { cs.read_volatile() } == 0 {
            cleared = true;
            break;
        }
        core::hint::spin_loop();
    }
    let after = slowpaths();
    STOP.store(true, core::sync::atomic::Ordering::Relaxed);
    let _ = other.join();
    let ok = check(
        "area-unpopulated-slowpath",
        desc > 0 && cleared && after - before == 1,
        format_args!(
            "descriptor at {desc:#x}, rseq_cs cleared {cleared}, slow paths {before} -> {after}"
        ),
    );
    status(ok)
}

/// `syscall-in-cs`: one critical section around a getpid().
pub fn syscall_in_cs(debug: bool) -> i32 {
    let area = rt::rseq::area() as u64;
    println!(
        "rseqtest: syscall-in-cs: getpid() inside a critical section (debug expected: {debug})"
    );
    let pid: i64;
    // SAFETY: a well-formed critical section on this thread's registered
    // area; the syscall inside is the point of the test. rseq_cs is cleared
    // after it.
    unsafe {
        librseq::rseq_cs_asm!(
            body: [
                "mov x8, #{getpid}",
                "svc #0",
                // The return address must lie inside the section for the
                // kernel to see the syscall as made from it.
                "nop",
            ],
            commit: ["b 99f"],
            abort: ["mov x0, #-1", "99:", "str xzr, [{area}, #8]"],
            area = in(reg) area,
            tmp = out(reg) _,
            getpid = const sys::nr::GETPID,
            out("x0") pid,
            out("x8") _,
            options(nostack),
        );
    }
    let ok = check(
        "syscall-in-cs-nodebug",
        !debug && pid == 1,
        format_args!("getpid = {pid}, debug {debug}"),
    );
    status(ok)
}
