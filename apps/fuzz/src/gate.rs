//! The map gate: keeps the fuzzer's own mmaps out of a page race's
//! transient hole.
//!
//! A page race ([`crate::races`]) unmaps pages that its reader threads
//! keep reading and writing, then maps the same addresses again with
//! `MAP_FIXED`. The kernel places an `mmap(NULL, ...)` first fit, so
//! between the two calls another worker's mmap (or a thread stack) could
//! land in the hole, and a reader's late write would then corrupt memory
//! the fuzzer relies on. Every fuzzer mmap that is not the race's own
//! therefore holds the gate shared ([`shared`]), and the race holds it
//! exclusively ([`exclusive`]) while its hole is open, which is a few
//! syscalls long: other workers wait only if they map at that moment.
//! munmap needs no gate (a hole only matters until it is filled).

use core::sync::atomic::{AtomicU32, Ordering};

use rt::sys::{self, Timespec};

/// The writer bit; the bits below count shared holders.
const WRITER: u32 = 1 << 31;

static GATE: AtomicU32 = AtomicU32::new(0);

/// A shared hold: no race hole is open while it lives.
pub struct Shared(());

/// An exclusive hold: no other fuzzer mmap runs while it lives.
pub struct Exclusive(());

/// Sleeps briefly on the gate word while it still holds `seen`.
fn wait(seen: u32) {
    let ts = Timespec::from_nanos(1_000_000);
    sys::futex_wait(&GATE, seen, Some(&ts));
}

/// Holds the gate shared (blocks while a race's hole is open).
pub fn shared() -> Shared {
    loop {
        let s = GATE.load(Ordering::SeqCst);
        if s & WRITER != 0 {
            wait(s);
        } else if GATE
            .compare_exchange(s, s + 1, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            return Shared(());
        }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        if GATE.fetch_sub(1, Ordering::SeqCst) == WRITER | 1 {
            sys::futex_wake(&GATE, i32::MAX as u32);
        }
    }
}

/// Holds the gate exclusively: waits for any other writer, then for the
/// shared holders to leave.
pub fn exclusive() -> Exclusive {
    loop {
        let s = GATE.load(Ordering::SeqCst);
        if s & WRITER != 0 {
            wait(s);
        } else if GATE
            .compare_exchange(s, s | WRITER, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            break;
        }
    }
    loop {
        let s = GATE.load(Ordering::SeqCst);
        if s == WRITER {
            return Exclusive(());
        }
        wait(s);
    }
}

impl Drop for Exclusive {
    fn drop(&mut self) {
        GATE.fetch_and(!WRITER, Ordering::SeqCst);
        sys::futex_wake(&GATE, i32::MAX as u32);
    }
}
