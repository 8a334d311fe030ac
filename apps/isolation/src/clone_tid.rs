//! `clone-bad-tid [kernel-address]`: `CLONE_PARENT_SETTID` and
//! `CLONE_CHILD_SETTID` with pointers the kernel cannot write.
//!
//! Linux stores the tids with `put_user` and ignores a failure: clone
//! returns the new tid and the child runs. So must this kernel, and a
//! thread it created must be a whole thread: it runs, can be signalled,
//! exits, and does not keep the process alive afterwards: the main thread
//! ends with a plain `exit` (see `main.rs`), and the app must end with it,
//! status 0. The pointers: NULL, an address just
//! unmapped, a kernel address (the image's base, from the command line),
//! and the app's read-only text (which must not change).
//!
//! The children are raw clones on static stacks, without `CLONE_SETTLS`
//! or `CLONE_CHILD_CLEARTID`: they set a flag and end with the raw
//! `exit` syscall, touching nothing of the runtime's. Each gets one
//! `tgkill` while running or after it exited (then `ESRCH` is fine).
//! Finally a process-directed `kill(getpid(), SIGUSR1)` must reach the
//! main thread, the only one left.

use core::cell::UnsafeCell;
use core::ffi::c_void;
use core::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, Ordering};

use rt::sched::now_ns;
use rt::signal::{self, SigInfo};
use rt::sys::{self, clone_flags as cf, errno};
use rt::test::{MS, SEC, verdict, wait_for};
use rt::{println, sched};

use crate::{PAGE, errno_name};

const WHICH: [(&str, u64); 3] = [
    ("PARENT_SETTID", cf::CLONE_PARENT_SETTID),
    ("CHILD_SETTID", cf::CLONE_CHILD_SETTID),
    (
        "PARENT_SETTID|CHILD_SETTID",
        cf::CLONE_PARENT_SETTID | cf::CLONE_CHILD_SETTID,
    ),
];
const CHILDREN: usize = 12;
const STACK: usize = 16 * 1024;

#[repr(C, align(16))]
struct Stacks(UnsafeCell<[[u8; STACK]; CHILDREN]>);
// SAFETY: each stack is used by one child only, and only through the
// stack pointer clone gives it.
unsafe impl Sync for Stacks {}
static STACKS: Stacks = Stacks(UnsafeCell::new([[0; STACK]; CHILDREN]));

/// Per child: its tid once it runs, and whether it may finish / finished.
static STARTED: [AtomicI64; CHILDREN] = [const { AtomicI64::new(0) }; CHILDREN];
static RELEASED: [AtomicBool; CHILDREN] = [const { AtomicBool::new(false) }; CHILDREN];
static FINISHED: [AtomicBool; CHILDREN] = [const { AtomicBool::new(false) }; CHILDREN];

/// SIGUSR1 deliveries, and the tid of the last thread that got one.
static USR_COUNT: AtomicU32 = AtomicU32::new(0);
static USR_TID: AtomicI64 = AtomicI64::new(0);

extern "C" fn on_usr1(_: i32, _: *mut SigInfo, _: *mut c_void) {
    USR_TID.store(sys::gettid(), Ordering::SeqCst);
    USR_COUNT.fetch_add(1, Ordering::SeqCst);
}

unsafe extern "C" {
    /// `clone(flags, stack, ptid, tls, ctid)`; the child calls
    /// `entry(arg)` on `stack`. Returns the tid or -errno.
    fn iso_clone(
        flags: u64,
        stack: u64,
        ptid: u64,
        tls: u64,
        ctid: u64,
        entry: extern "C" fn(usize) -> !,
        arg: usize,
    ) -> i64;
}

// The parent stores `entry` and `arg` at the top of the child's stack; the
// child (clone returned 0, on that stack) loads them and calls
// `entry(arg)`, the outermost frame.
core::arch::global_asm!(
    ".pushsection .text.iso_clone, \"ax\", %progbits",
    ".global iso_clone",
    ".type iso_clone, %function",
    ".p2align 2",
    "iso_clone:",
    "    and x1, x1, #-16",
    "    stp x5, x6, [x1, #-16]!",
    "    mov x8, #{clone}",
    "    svc #0",
    "    cbz x0, 1f",
    "    ret",
    "1:  ldp x9, x0, [sp]",
    "    mov x29, xzr",
    "    mov x30, xzr",
    "    blr x9",
    "    brk #0x1",
    ".size iso_clone, . - iso_clone",
    ".popsection",
    clone = const sys::nr::CLONE,
);

/// A child: says it runs, waits to be released (at most 2 s), exits.
extern "C" fn child(i: usize) -> ! {
    STARTED[i].store(sys::gettid(), Ordering::SeqCst);
    let start = now_ns();
    while !RELEASED[i].load(Ordering::SeqCst) && now_ns() - start < 2 * SEC {
        sched::yield_now();
    }
    FINISHED[i].store(true, Ordering::SeqCst);
    sys::exit(0)
}

/// The read-only text word the kernel is handed as a tid pointer.
fn text_target() -> u64 {
    text_target as fn() -> u64 as usize as u64
}

pub fn run(kernel: u64) -> i32 {
    let kernel = if kernel == 0 {
        0xffff_ff80_4008_0000
    } else {
        kernel
    };
    println!(
        "isolation: clone-bad-tid: CLONE_PARENT_SETTID/CLONE_CHILD_SETTID at NULL, unmapped, kernel {kernel:#x} and text addresses"
    );
    if let Err(e) = signal::sigaction(signal::SIGUSR1, on_usr1, 0) {
        return verdict("clone-bad-tid", Some(format_args!("sigaction = {e}")));
    }
    // An address that is certainly unmapped: one we just unmapped.
    let unmapped = match sys::mmap_anon(PAGE as usize) {
        Ok(p) => {
            sys::munmap(p as u64, PAGE);
            p as u64
        }
        Err(e) => return verdict("clone-bad-tid", Some(format_args!("mmap = {e}"))),
    };
    let text = text_target();
    // SAFETY: app text is mapped EL0-readable; 4-aligned.
    let text_before = unsafe { (text as *const u32).read_volatile() };
    let addrs = [
        ("NULL", 0),
        ("unmapped", unmapped),
        ("kernel", kernel),
        ("text", text),
    ];
    let pid = sys::getpid();
    let mut i = 0;
    let mut failure = None;
    for (what, addr) in addrs {
        for (name, flag) in WHICH {
            let ptid = if flag & cf::CLONE_PARENT_SETTID != 0 {
                addr
            } else {
                0
            };
            let ctid = if flag & cf::CLONE_CHILD_SETTID != 0 {
                addr
            } else {
                0
            };
            // SAFETY: the child runs `child(i)` on its own static stack
            // (the top of `STACKS[i]`), touches only the atomics above and
            // ends with the raw exit.
            let tid = unsafe {
                let stack = (STACKS.0.get() as *mut u8).add((i + 1) * STACK) as u64;
                iso_clone(cf::THREAD_SHARED | flag, stack, ptid, 0, ctid, child, i)
            };
            let ran = tid > 0 && wait_for(5 * SEC, || STARTED[i].load(Ordering::SeqCst) != 0);
            // Odd children get their signal after they exited.
            let late = i % 2 == 1;
            if late {
                RELEASED[i].store(true, Ordering::SeqCst);
            }
            let finished = ran && late && wait_for(5 * SEC, || FINISHED[i].load(Ordering::SeqCst));
            if late && finished {
                // Give it time to be gone, not just done.
                sched::sleep_ns(10 * MS);
            }
            let kill = (tid > 0).then(|| sys::tgkill(pid, tid, signal::SIGUSR1));
            RELEASED[i].store(true, Ordering::SeqCst);
            let finished =
                finished || (ran && wait_for(5 * SEC, || FINISHED[i].load(Ordering::SeqCst)));
            let errno = if tid < 0 { errno_name(tid) } else { "tid" };
            let killed = kill.unwrap_or(0);
            println!(
                "isolation: clone({name}) with {what} {addr:#x} = {tid} ({errno}); child ran: {ran}, exited: {finished}; tgkill = {killed}"
            );
            if failure.is_none() {
                failure = if tid <= 0 {
                    Some((name, what, "clone failed"))
                } else if !ran || !finished {
                    Some((name, what, "the child did not run and exit"))
                } else if kill.is_some_and(|k| k != 0 && k != -errno::ESRCH) {
                    Some((name, what, "tgkill returned neither 0 nor ESRCH"))
                } else {
                    None
                };
            }
            i += 1;
        }
    }
    // SAFETY: as above.
    let text_after = unsafe { (text as *const u32).read_volatile() };
    let main_tid = sys::gettid();
    let before = USR_COUNT.load(Ordering::SeqCst);
    let kill = sys::kill(pid, signal::SIGUSR1);
    let got = wait_for(SEC, || USR_COUNT.load(Ordering::SeqCst) > before);
    let usr_tid = USR_TID.load(Ordering::SeqCst);
    println!(
        "isolation: kill(getpid(), SIGUSR1) = {kill}, delivered to tid {usr_tid} (main is {main_tid}); text word {text_before:#x} -> {text_after:#x}"
    );
    if let Some((name, what, why)) = failure {
        return verdict(
            "clone-bad-tid",
            Some(format_args!("clone({name}) with a {what} pointer: {why}")),
        );
    }
    if text_after != text_before {
        return verdict(
            "clone-bad-tid",
            Some(format_args!(
                "read-only text changed from {text_before:#x} to {text_after:#x}"
            )),
        );
    }
    if kill != 0 || !got || usr_tid != main_tid {
        return verdict(
            "clone-bad-tid",
            Some(format_args!(
                "kill(getpid(), SIGUSR1) = {kill}, delivered: {got}, to tid {usr_tid}, not main {main_tid}"
            )),
        );
    }
    verdict("clone-bad-tid", None)
}
