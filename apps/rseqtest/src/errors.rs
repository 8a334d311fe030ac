//! `syscall-errors`: every bad rseq(2) call gets Linux's errno (after
//! Linux's `syscall_errors_test.c`, extended), plus the image's mode rule:
//! a v1 image accepts only 32-byte registrations, a v2 image only 64-byte
//! ones, and a `linux` image both, as Linux does. The calls run on a raw
//! clone thread (`spawn_with`: the runtime does not register it), so the
//! main thread's registration stays.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicU32, Ordering};

use rt::rseq::{ORIG_RSEQ_SIZE, RSEQ_FLAG_UNREGISTER, RSEQ_SIG, RSEQ_V2_SIZE, sys_rseq};
use rt::sys::{clone_flags, errno};
use rt::test::{check, status};
use rt::{println, thread};

use crate::{is_linux, is_v1};

use rt::test::USER_UNMAPPED;
/// The kernel image on virt, in the kernel's linear map (EL1 only).
const KERNEL_ADDR: u64 = 0xffff_ff80_4008_0000;

/// A second, valid area for "another pointer" cases (never registered).
#[repr(C, align(64))]
struct Other(UnsafeCell<[u8; 128]>);
// SAFETY: only its address is used (the kernel must refuse to write it).
unsafe impl Sync for Other {}
static OTHER: Other = Other(UnsafeCell::new([0; 128]));

static FAILED: AtomicU32 = AtomicU32::new(0);
static PASSED: AtomicU32 = AtomicU32::new(0);

/// One case: `rseq(ptr, len, flags, sig)` must return `want` (0 or
/// -errno).
fn case(name: &str, ptr: u64, len: u32, flags: u32, sig: u32, want: i64) {
    let got = sys_rseq(ptr, len, flags, sig);
    let ok = got == want;
    if ok {
        PASSED.fetch_add(1, Ordering::Relaxed);
    } else {
        FAILED.fetch_add(1, Ordering::Relaxed);
    }
    println!("rseqtest: rseq({ptr:#x}, {len}, {flags:#x}, {sig:#x}) = {got} (want {want}): {name}");
    let mut full = [0u8; 64];
    let prefix = b"syscall-errors-";
    let n = (prefix.len() + name.len()).min(full.len());
    full[..prefix.len()].copy_from_slice(prefix);
    full[prefix.len()..n].copy_from_slice(&name.as_bytes()[..n - prefix.len()]);
    check(
        core::str::from_utf8(&full[..n]).unwrap_or("syscall-errors-case"),
        ok,
        format_args!("got {got}, want {want}"),
    );
}

fn tester(_: usize) -> i32 {
    let area = rt::rseq::area() as u64;
    let other = OTHER.0.get() as u64;
    let (len, wrong_len) = if is_v1() {
        (ORIG_RSEQ_SIZE, RSEQ_V2_SIZE)
    } else {
        (RSEQ_V2_SIZE, ORIG_RSEQ_SIZE)
    };
    let (einval, eperm, efault, ebusy) =
        (-errno::EINVAL, -errno::EPERM, -errno::EFAULT, -errno::EBUSY);
    let unreg = RSEQ_FLAG_UNREGISTER;
    println!(
        "rseqtest: thread {} (raw clone, registered by the runtime: {}), area {area:#x}, mode length {len}",
        rt::thread::current_tid(),
        rt::rseq::registered()
    );

    // Not registered.
    case(
        "unregister-unregistered",
        area,
        len,
        unreg,
        RSEQ_SIG,
        einval,
    );
    case("bad-flags", area, len, 1 << 2, RSEQ_SIG, einval);
    case("flags-minus-1", area, len, u32::MAX, RSEQ_SIG, einval);
    case("misaligned", area + 1, len, 0, RSEQ_SIG, einval);
    case("misaligned-8", area + 8, len, 0, RSEQ_SIG, einval);
    case("len-31", area, 31, 0, RSEQ_SIG, einval);
    case("len-0", area, 0, 0, RSEQ_SIG, einval);
    case("len-33-not-64-aligned", area + 32, 33, 0, RSEQ_SIG, einval);
    case("len-64-not-64-aligned", area + 32, 64, 0, RSEQ_SIG, einval);
    if is_linux() {
        // Linux's rule: the other length is taken too (and runs the other
        // version); unregistering needs that length.
        case("other-len", area, wrong_len, 0, RSEQ_SIG, 0);
        case("other-len-unregister", area, wrong_len, unreg, RSEQ_SIG, 0);
    } else {
        case("mode-mismatch-len", area, wrong_len, 0, RSEQ_SIG, einval);
    }
    case("null-len-0", 0, 0, 0, 0, einval);
    case("null", 0, len, 0, RSEQ_SIG, efault);
    case("unmapped", USER_UNMAPPED, len, 0, RSEQ_SIG, efault);
    case("kernel-address", KERNEL_ADDR, len, 0, RSEQ_SIG, efault);
    case("register", area, len, 0, RSEQ_SIG, 0);

    // Registered.
    case("double-register", area, len, 0, RSEQ_SIG, ebusy);
    case("register-other-sig", area, len, 0, RSEQ_SIG + 1, eperm);
    case("register-other-ptr", other, len, 0, RSEQ_SIG, einval);
    case("register-other-len", area, wrong_len, 0, RSEQ_SIG, einval);
    case("register-bad-flags", area, len, 1 << 2, RSEQ_SIG, einval);
    case(
        "unregister-other-sig",
        area,
        len,
        unreg,
        RSEQ_SIG + 1,
        eperm,
    );
    case(
        "unregister-other-len",
        area,
        wrong_len,
        unreg,
        RSEQ_SIG,
        einval,
    );
    case("unregister-other-ptr", other, len, unreg, RSEQ_SIG, einval);
    case(
        "unregister-extra-flags",
        area,
        len,
        unreg | 2,
        RSEQ_SIG,
        einval,
    );
    case("unregister", area, len, unreg, RSEQ_SIG, 0);
    case("unregister-twice", area, len, unreg, RSEQ_SIG, einval);
    case("register-again", area, len, 0, RSEQ_SIG, 0);
    case("unregister-again", area, len, unreg, RSEQ_SIG, 0);
    0
}

pub fn run() -> i32 {
    println!(
        "rseqtest: syscall-errors: rseq(2) error cases on an unregistered thread (the main thread stays registered)"
    );
    let r = thread::spawn_with(clone_flags::THREAD_FLAGS, 64 * 1024, tester, 0).map(|h| h.join());
    let (passed, failed) = (
        PASSED.load(Ordering::Relaxed),
        FAILED.load(Ordering::Relaxed),
    );
    // The main thread's registration is untouched: registering it again
    // with the same arguments is EBUSY.
    let main = rt::rseq::register(rt::rseq::mode_len(), 0);
    println!(
        "rseqtest: {passed} cases passed, {failed} failed; main thread re-register = {main} (want -EBUSY)"
    );
    let ok = check(
        "syscall-errors",
        r == Ok(0) && failed == 0 && passed > 0 && main == -errno::EBUSY,
        format_args!(
            "thread {r:?}, {failed} of {} cases failed, main re-register {main}",
            passed + failed
        ),
    );
    status(ok)
}
