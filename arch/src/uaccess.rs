//! Checked user access: `copy_from_user`, `copy_to_user` and the
//! exception-fixup table that turns a fault inside them into `-EFAULT`.
//!
//! Two checks, as in Linux: `access_ok` rejects any range that is not wholly
//! inside the user window (so a kernel address never reaches a load), and the
//! unprivileged `LDTR`/`STTR` accesses fault on an unmapped or EL1-only page,
//! which the fixup table converts into a short copy.

use core::ops::Range;

unsafe extern "C" {
    fn __arch_copy_from_user(to: *mut u8, from: u64, n: usize) -> usize;
    fn __arch_copy_to_user(to: u64, from: *const u8, n: usize) -> usize;
    fn __arch_copy_from_user_nofault(to: *mut u8, from: u64, n: usize) -> usize;
    fn __arch_copy_to_user_nofault(to: u64, from: *const u8, n: usize) -> usize;
    fn __arch_get_user_u32(from: u64) -> UserWord;
    fn __arch_get_user_u64(from: u64) -> UserWord;
    fn __arch_put_user_u32(to: u64, val: u32) -> u64;
    fn __arch_put_user_u64(to: u64, val: u64) -> u64;
    fn __arch_get_user_u32_nofault(from: u64) -> UserWord;
    fn __arch_get_user_u64_nofault(from: u64) -> UserWord;
    fn __arch_put_user_u32_nofault(to: u64, val: u32) -> u64;
    fn __arch_put_user_u64_nofault(to: u64, val: u64) -> u64;
    fn __arch_probe_privileged_read(addr: u64) -> i64;
    fn __arch_futex_cmpxchg(uaddr: u64, old: u32, new: u32, pan: u64) -> i64;
    static __start___ex_table: ExtableEntry;
    static __start___ex_table_nofault: ExtableEntry;
    static __stop___ex_table: ExtableEntry;
}

/// One `__ex_table` entry: a faulting instruction and where to resume.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ExtableEntry {
    /// Address of the instruction that may fault.
    pub insn: u64,
    /// Address to continue at when it does.
    pub fixup: u64,
}

/// A user access failed: the address was outside the user window or faulted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault;

/// The user address window, `[start, end)`, set once at boot.
static mut USER_WINDOW: Range<u64> = 0..0;

/// Sets the user window that `access_ok` checks against.
///
/// # Safety
///
/// Call once at boot, before any user access and before other CPUs run.
pub unsafe fn set_user_window(window: Range<u64>) {
    // SAFETY: single-threaded boot, per this function's contract.
    unsafe { USER_WINDOW = window };
}

/// Linux's `access_ok()`: the whole range lies in the user window (no wrap).
#[inline]
pub fn access_ok(addr: u64, len: usize) -> bool {
    // SAFETY: written once at boot before any reader exists.
    let window = unsafe { &*core::ptr::addr_of!(USER_WINDOW) };
    match addr.checked_add(len as u64) {
        Some(end) => addr >= window.start && end <= window.end,
        None => false,
    }
}

/// Copies `dst.len()` bytes from user address `src` into `dst`.
pub fn copy_from_user(dst: &mut [u8], src: u64) -> Result<(), Fault> {
    from_user(dst, src, __arch_copy_from_user)
}

/// Copies `src` to user address `dst`.
pub fn copy_to_user(dst: u64, src: &[u8]) -> Result<(), Fault> {
    to_user(dst, src, __arch_copy_to_user)
}

/// Reads a plain-old-data value from user memory (Linux's `get_user`).
/// A naturally aligned 4- or 8-byte value is one `LDTR`, anything else a
/// byte copy.
#[inline]
pub fn get_user<T: Copy + Default>(addr: u64) -> Result<T, Fault> {
    read_value(addr, &FAULTING)
}

/// Writes a plain-old-data value to user memory (Linux's `put_user`).
/// A naturally aligned 4- or 8-byte value is one `STTR`, anything else a
/// byte copy.
#[inline]
pub fn put_user<T: Copy>(addr: u64, val: T) -> Result<(), Fault> {
    write_value(addr, val, &FAULTING)
}

/// [`get_user`] for a caller that must not have the fault handler page
/// memory in (Linux's accesses under `pagefault_disable()`): a page
/// without a frame fails like an unmapped one.
#[inline]
pub fn get_user_nofault<T: Copy + Default>(addr: u64) -> Result<T, Fault> {
    read_value(addr, &NOFAULT)
}

/// [`put_user`] without paging memory in (see [`get_user_nofault`]).
#[inline]
pub fn put_user_nofault<T: Copy>(addr: u64, val: T) -> Result<(), Fault> {
    write_value(addr, val, &NOFAULT)
}

/// What a word load returns: the value (zero-extended) and whether it
/// faulted, in x0 and x1.
#[repr(C)]
struct UserWord {
    val: u64,
    fault: u64,
}

/// One family of user accessors: the byte copies and the word accesses,
/// either those the fault handler may page memory in for or the
/// `_nofault` ones.
struct Accessors {
    copy_from: FromUser,
    copy_to: ToUser,
    get32: unsafe extern "C" fn(u64) -> UserWord,
    get64: unsafe extern "C" fn(u64) -> UserWord,
    put32: unsafe extern "C" fn(u64, u32) -> u64,
    put64: unsafe extern "C" fn(u64, u64) -> u64,
}

const FAULTING: Accessors = Accessors {
    copy_from: __arch_copy_from_user,
    copy_to: __arch_copy_to_user,
    get32: __arch_get_user_u32,
    get64: __arch_get_user_u64,
    put32: __arch_put_user_u32,
    put64: __arch_put_user_u64,
};

const NOFAULT: Accessors = Accessors {
    copy_from: __arch_copy_from_user_nofault,
    copy_to: __arch_copy_to_user_nofault,
    get32: __arch_get_user_u32_nofault,
    get64: __arch_get_user_u64_nofault,
    put32: __arch_put_user_u32_nofault,
    put64: __arch_put_user_u64_nofault,
};

/// A `T` that one word access can move: 4 or 8 bytes at an address
/// aligned to that size.
#[inline(always)]
fn word_sized<T>(addr: u64) -> bool {
    let size = core::mem::size_of::<T>();
    (size == 4 || size == 8) && addr.is_multiple_of(size as u64)
}

/// Whether the faulting kernel instruction at `pc` is one of the
/// `_nofault` accesses (its entry is in the table's `__ex_table_nofault`
/// part): the fault handler must not page memory in for it.
pub fn in_nofault(pc: u64) -> bool {
    // SAFETY: the linker script places the `__ex_table_nofault` entries
    // between these two symbols, as an array of `ExtableEntry`.
    let table = unsafe {
        let start = &raw const __start___ex_table_nofault;
        let stop = &raw const __stop___ex_table;
        core::slice::from_raw_parts(start, stop.offset_from(start) as usize)
    };
    table.iter().any(|e| e.insn == pc)
}

/// The `asm!` lines that add the `_nofault` exception table entry
/// `(insn, fixup)` (two label references: `1b`, `3b`, `{fault}`), so the
/// table's layout and section name are written once.
macro_rules! ex_table_nofault_entry {
    ($insn:literal, $fixup:literal) => {
        concat!(
            ".pushsection __ex_table_nofault, \"a\"\n",
            ".balign 8\n",
            ".quad ",
            $insn,
            ", ",
            $fixup,
            "\n",
            ".popsection"
        )
    };
}

/// Defines one `unsafe_put_user_nofault_*`: `$store` is the `STTR` of the
/// width, naming the value `{val}`.
macro_rules! put_user_nofault {
    ($(#[$doc:meta])* $name:ident: $ty:ty = $store:literal) => {
        $(#[$doc])*
        #[inline(always)]
        pub unsafe fn $name<const OFF: i16>(base: u64, val: $ty) -> Result<(), Fault> {
            // SAFETY: an unprivileged store to a user address, with an
            // exception table entry (the `_nofault` part) that resumes at
            // `fault`.
            unsafe {
                core::arch::asm!(
                    concat!("1: ", $store, ", [{base}, #{off}]"),
                    ex_table_nofault_entry!("1b", "{fault}"),
                    base = in(reg) base,
                    off = const OFF,
                    val = in(reg) val,
                    fault = label { return Err(Fault) },
                    options(nostack, preserves_flags),
                );
            }
            Ok(())
        }
    };
}

put_user_nofault!(
    /// Linux's `unsafe_put_user()` of a `u64` inside a user access section
    /// with page faults disabled: one inline `STTR` at `base + OFF`, no
    /// `access_ok` and no call; a fault (unmapped, not writable by EL0, or a
    /// page without a frame, which is not paged in) is `Err(Fault)` and
    /// stores nothing. `OFF` is the offset of a field in a structure at
    /// `base`, within the instruction's -256..=255.
    ///
    /// # Safety
    ///
    /// `base + OFF` is 8-aligned and the 8 bytes there passed [`access_ok`]
    /// (for example as part of a larger area checked once, Linux's
    /// `user_access_begin()`). The access is unprivileged, so even a kernel
    /// address would only fault; the check keeps the contract of the other
    /// accessors.
    unsafe_put_user_nofault_u64: u64 = "sttr {val}"
);

put_user_nofault!(
    /// [`unsafe_put_user_nofault_u64`] of a `u32`.
    ///
    /// # Safety
    ///
    /// As there, 4-aligned and 4 bytes.
    unsafe_put_user_nofault_u32: u32 = "sttr {val:w}"
);

/// Linux's `unsafe_get_user()` of a `u64` with page faults disabled: one
/// inline `LDTR` (see [`unsafe_put_user_nofault_u64`]) and the test of a
/// flag its fixup clears (a fixup cannot branch to a Rust label from an
/// access with an output).
///
/// # Safety
///
/// As [`unsafe_put_user_nofault_u64`].
#[inline(always)]
pub unsafe fn unsafe_get_user_nofault_u64<const OFF: i16>(base: u64) -> Result<u64, Fault> {
    let val: u64;
    let ok: u32;
    // SAFETY: an unprivileged load from a user address, with an exception
    // table entry (the `_nofault` part) whose fixup clears `ok` and
    // resumes after the load; it touches only the declared registers.
    unsafe {
        core::arch::asm!(
            "mov {ok:w}, #1",
            "1: ldtr {val}, [{base}, #{off}]",
            "2:",
            ".pushsection .text.uaccess_fixup, \"ax\"",
            "3: mov {ok:w}, #0",
            "b 2b",
            ".popsection",
            ex_table_nofault_entry!("1b", "3b"),
            base = in(reg) base,
            off = const OFF,
            val = out(reg) val,
            ok = out(reg) ok,
            options(nostack, preserves_flags, readonly),
        );
    }
    if ok == 0 { Err(Fault) } else { Ok(val) }
}

type FromUser = unsafe extern "C" fn(*mut u8, u64, usize) -> usize;
type ToUser = unsafe extern "C" fn(u64, *const u8, usize) -> usize;

#[inline(always)]
fn from_user(dst: &mut [u8], src: u64, copy: FromUser) -> Result<(), Fault> {
    if !access_ok(src, dst.len()) {
        return Err(Fault);
    }
    // SAFETY: `dst` is a valid kernel buffer of that length; faults on the
    // user side are fixed up by the exception table and reported as a short copy.
    let left = unsafe { copy(dst.as_mut_ptr(), src, dst.len()) };
    if left == 0 { Ok(()) } else { Err(Fault) }
}

#[inline(always)]
fn to_user(dst: u64, src: &[u8], copy: ToUser) -> Result<(), Fault> {
    if !access_ok(dst, src.len()) {
        return Err(Fault);
    }
    // SAFETY: as in `from_user`.
    let left = unsafe { copy(dst, src.as_ptr(), src.len()) };
    if left == 0 { Ok(()) } else { Err(Fault) }
}

#[inline(always)]
fn read_value<T: Copy + Default>(addr: u64, acc: &Accessors) -> Result<T, Fault> {
    if word_sized::<T>(addr) {
        if !access_ok(addr, core::mem::size_of::<T>()) {
            return Err(Fault);
        }
        // SAFETY: the address is in the user window and aligned; a fault
        // on it is fixed up by the exception table and reported in `fault`.
        let r = unsafe {
            if core::mem::size_of::<T>() == 4 {
                (acc.get32)(addr)
            } else {
                (acc.get64)(addr)
            }
        };
        if r.fault != 0 {
            return Err(Fault);
        }
        // SAFETY: `T` is plain data of exactly the bytes loaded (4 or 8,
        // little-endian as in memory; for 4 the low half of `val`), and
        // every bit pattern the app can write is a valid `T`, as below.
        return Ok(unsafe {
            if core::mem::size_of::<T>() == 4 {
                core::mem::transmute_copy::<u32, T>(&(r.val as u32))
            } else {
                core::mem::transmute_copy::<u64, T>(&r.val)
            }
        });
    }
    let copy = acc.copy_from;
    let mut val = T::default();
    // SAFETY: `T: Copy` is plain data here (integers and #[repr(C)] structs of
    // integers); every bit pattern the app can write is a valid `T`.
    let bytes = unsafe {
        core::slice::from_raw_parts_mut((&raw mut val).cast::<u8>(), core::mem::size_of::<T>())
    };
    from_user(bytes, addr, copy)?;
    Ok(val)
}

#[inline(always)]
fn write_value<T: Copy>(addr: u64, val: T, acc: &Accessors) -> Result<(), Fault> {
    if word_sized::<T>(addr) {
        if !access_ok(addr, core::mem::size_of::<T>()) {
            return Err(Fault);
        }
        // SAFETY: the address is in the user window and aligned (a fault
        // is fixed up and reported); `val` is `Copy` data of exactly the
        // bytes stored.
        let fault = unsafe {
            if core::mem::size_of::<T>() == 4 {
                (acc.put32)(addr, core::mem::transmute_copy::<T, u32>(&val))
            } else {
                (acc.put64)(addr, core::mem::transmute_copy::<T, u64>(&val))
            }
        };
        return if fault == 0 { Ok(()) } else { Err(Fault) };
    }
    let copy = acc.copy_to;
    // SAFETY: viewing a `Copy` value's bytes for the duration of the copy.
    let bytes = unsafe {
        core::slice::from_raw_parts((&raw const val).cast::<u8>(), core::mem::size_of::<T>())
    };
    to_user(addr, bytes, copy)
}

/// What [`futex_cmpxchg`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmpxchg {
    /// The word held this value: the new one was stored if it equals the
    /// expected one.
    Found(u32),
    /// The word kept changing under the exclusive monitor: try again
    /// later (Linux's `-EAGAIN`).
    Busy,
}

/// Linux's `futex_atomic_cmpxchg_inatomic()`: atomically replaces the
/// 4-aligned user word at `addr` with `new` if it holds `old`, and
/// returns what it held. A fault (unmapped, or not writable by EL0) is
/// `Fault`; nothing is stored then.
pub fn futex_cmpxchg(addr: u64, old: u32, new: u32) -> Result<Cmpxchg, Fault> {
    if !access_ok(addr, 4) || !addr.is_multiple_of(4) {
        return Err(Fault);
    }
    let pan = u64::from(crate::cpu::has_pan());
    // SAFETY: the word is inside the user window and aligned; a fault on
    // it is fixed up by the exception table, and PAN is set again on
    // every way out of the routine.
    match unsafe { __arch_futex_cmpxchg(addr, old, new, pan) } {
        -1 => Err(Fault),
        -2 => Ok(Cmpxchg::Busy),
        v => Ok(Cmpxchg::Found(v as u32)),
    }
}

/// Does a privileged load from `addr` fault? True when PAN blocks it.
///
/// # Safety
///
/// `addr` must be mapped (the point is to test the permission, not the mapping).
pub unsafe fn privileged_read_faults(addr: u64) -> bool {
    // SAFETY: the load is covered by the fixup table; the caller promises the
    // address is mapped, so only a permission fault can occur.
    unsafe { __arch_probe_privileged_read(addr) != 0 }
}

/// Linux's `search_exception_tables()`: the fixup for a faulting kernel PC.
pub fn search_exception_tables(pc: u64) -> Option<u64> {
    // SAFETY: the linker script places every `__ex_table` entry between these
    // two symbols, as an array of `ExtableEntry`.
    let table = unsafe {
        let start = &raw const __start___ex_table;
        let stop = &raw const __stop___ex_table;
        core::slice::from_raw_parts(start, stop.offset_from(start) as usize)
    };
    table.iter().find(|e| e.insn == pc).map(|e| e.fixup)
}
