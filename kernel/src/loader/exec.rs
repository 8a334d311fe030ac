//! Loading the app: its ELF — embedded in the kernel image, or, in a loader
//! kernel, the initrd the boot loader placed in RAM — is mapped into the
//! user window from its program headers and started the way Linux starts a
//! static executable (argc, argv, envp, auxv on the stack), so that a static
//! Linux binary and one of ours start alike.

use crate::loader::elf::{self, Elf};
use crate::loader::user_stack;
use crate::mm::{self, USER_BASE, USER_STACK_SIZE, USER_STACK_TOP};
use abi::auxv::*;
use alloc::vec::Vec;
use arch::TrapFrame;
use arch::mmu::MapKind;
use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

/// The app's ELF, embedded at build time (kernel/build.rs); empty in a
/// loader kernel, whose program comes from the initrd.
static APP_ELF: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/app.elf"));
/// The embedded app's name (its crate).
const EMBEDDED_NAME: &str = env!("RSEQ_APP_NAME");
/// The name of a program from the initrd when `init=` gives none.
const DEFAULT_INIT: &str = "init";
/// Where a static PIE (`ET_DYN`) is placed: its lowest page at the bottom
/// of the user window, where our own apps are linked.
const ET_DYN_BASE: u64 = USER_BASE;

/// The program's name, in the `[boot]`, `[exit]` and `[kill]` lines and as
/// `argv[0]`: `init=` from the command line, else the embedded app's name.
/// A value that prints the name [`load_app`] recorded.
pub static APP_NAME: AppName = AppName;

/// See [`APP_NAME`].
pub struct AppName;

/// The recorded name: set once by [`load_app`] on CPU 0 before any other
/// CPU or thread runs, read afterwards.
static NAME_PTR: AtomicPtr<u8> = AtomicPtr::new(core::ptr::null_mut());
static NAME_LEN: AtomicUsize = AtomicUsize::new(0);

impl AppName {
    /// The name as a string.
    pub fn get(&self) -> &'static str {
        let (ptr, len) = (
            NAME_PTR.load(Ordering::Acquire),
            NAME_LEN.load(Ordering::Acquire),
        );
        if ptr.is_null() {
            return EMBEDDED_NAME;
        }
        // SAFETY: `ptr`/`len` come from a leaked `&'static str` stored by
        // `set_name`, never freed or changed afterwards.
        unsafe { core::str::from_utf8_unchecked(core::slice::from_raw_parts(ptr, len)) }
    }
}

impl core::fmt::Display for AppName {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.get())
    }
}

/// Records the program's name for [`APP_NAME`], copied to the heap for good.
fn set_name(name: &str) {
    let name: &'static str = alloc::string::String::from(name).leak();
    NAME_LEN.store(name.len(), Ordering::Release);
    NAME_PTR.store(name.as_ptr().cast_mut(), Ordering::Release);
}

/// Whether this is a loader kernel: no embedded app, the program comes
/// from the initrd.
pub fn is_loader() -> bool {
    APP_ELF.is_empty()
}

/// Where the program's ELF comes from.
#[derive(Clone, Copy, Debug)]
pub enum Source {
    /// Embedded in the kernel image.
    Embedded,
    /// The initrd at `[start, end)` in RAM, checked to lie in RAM the
    /// kernel does not use (see `boot::start`).
    Initrd {
        /// First byte.
        start: u64,
        /// One past the last byte.
        end: u64,
    },
    /// A loader kernel booted without an initrd.
    NoInitrd,
    /// The DTB names an initrd outside free RAM.
    InitrdOutsideRam {
        /// First byte.
        start: u64,
        /// One past the last byte.
        end: u64,
    },
}

/// Linux's HWCAP_FP | HWCAP_ASIMD: what every aarch64 CPU here has.
const HWCAP: u64 = (1 << 0) | (1 << 1);
/// `AT_CLKTCK`: Linux's USER_HZ, the unit of `times()`.
const CLK_TCK: u64 = 100;
/// `AT_PLATFORM`: Linux's ELF_PLATFORM on arm64.
const PLATFORM: &str = "aarch64";

/// Why the app could not be started.
#[derive(Debug)]
pub enum ExecError {
    /// The ELF is not a valid program image (`true`: it came from the
    /// initrd).
    Elf(elf::ElfError, bool),
    /// A loader kernel, and the boot loader passed no initrd.
    NoInitrd,
    /// The initrd the DTB names is not in RAM the kernel leaves free.
    InitrdOutsideRam(u64, u64),
    /// Out of memory or page tables.
    Map(arch::mmu::MapError),
    /// argv/envp do not fit on the initial stack.
    Stack,
}

impl core::fmt::Display for ExecError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ExecError::Elf(e, false) => write!(f, "bad app image: {e}"),
            ExecError::Elf(e, true) => {
                write!(f, "the initrd is not a program this kernel runs: {e}")
            }
            ExecError::NoInitrd => f.write_str(
                "no program: this kernel loads its program from an initrd, and none was passed \
                 (QEMU -initrd FILE; config.txt initramfs FILE followkernel)",
            ),
            ExecError::InitrdOutsideRam(start, end) => write!(
                f,
                "the initrd at {start:#x}..{end:#x} overlaps the kernel image or lies outside RAM"
            ),
            ExecError::Map(e) => write!(f, "cannot map the app: {e:?}"),
            ExecError::Stack => write!(f, "arguments do not fit on the initial stack"),
        }
    }
}

/// Maps the program from `source` and its stack; returns the frame that
/// starts it at EL0. `name` is `init=` (see [`APP_NAME`]), `args` the words
/// after `--` (`argv[1..]`), `env` the `env=` variables (after `RSEQ_OS=1`,
/// which every program gets). A program from the initrd is copied out of
/// it, and the initrd's frames then go to the frame allocator.
pub fn load_app<'e>(
    source: Source,
    name: Option<&str>,
    args: &str,
    env: impl Iterator<Item = &'e str>,
) -> Result<TrapFrame, ExecError> {
    set_name(match (name, source) {
        (Some(name), _) => name,
        (None, Source::Embedded) => EMBEDDED_NAME,
        (None, _) => DEFAULT_INIT,
    });
    let (bytes, initrd): (&[u8], _) = match source {
        Source::Embedded => (APP_ELF, None),
        Source::NoInitrd => return Err(ExecError::NoInitrd),
        Source::InitrdOutsideRam { start, end } => {
            return Err(ExecError::InitrdOutsideRam(start, end));
        }
        Source::Initrd { start, end } => {
            // SAFETY: boot checked that `[start, end)` is RAM (in the
            // kernel's linear map) outside the kernel image, the heap and
            // the frame bitmap, and its frames are reserved: nothing writes
            // it while it is read.
            let bytes = unsafe {
                core::slice::from_raw_parts(
                    arch::mmu::phys_to_virt(start) as *const u8,
                    (end - start) as usize,
                )
            };
            (bytes, Some((start, end)))
        }
    };
    let tf = map_program(bytes, initrd.is_some(), args, env)?;
    if let Some((start, end)) = initrd {
        mm::release_initrd(start, end);
    }
    Ok(tf)
}

/// The part of the main stack populated at exec: room for the initial
/// stack (argument and environment strings, pointers, auxiliary vector)
/// of any command line the kernel accepts.
const STACK_INITIAL: u64 = 128 << 10;

/// Registers one area of the new program.
fn add_area(start: u64, end: u64, kind: MapKind, anon: bool) -> Result<(), ExecError> {
    mm::mmap::add_loaded_area(start, end, kind, anon)
        .map_err(|_| ExecError::Map(arch::mmu::MapError::OutOfTables))
}

/// [`load_app`] once the ELF's bytes are known.
fn map_program<'e>(
    bytes: &[u8],
    from_initrd: bool,
    args: &str,
    env: impl Iterator<Item = &'e str>,
) -> Result<TrapFrame, ExecError> {
    let image: Elf = elf::parse(bytes, mm::USER_START..mm::IMAGE_LIMIT, ET_DYN_BASE)
        .map_err(|e| ExecError::Elf(e, from_initrd))?;
    mm::mmap::clear_areas();
    if from_initrd {
        debug_assert!(image.is_dynamic() || image.load_bias() == 0);
        pr_info!(
            "[exec] {}: {} bytes from the initrd, {} at {:#x}, entry {:#x}",
            APP_NAME,
            bytes.len(),
            if image.is_dynamic() {
                "static PIE"
            } else {
                "ET_EXEC"
            },
            image.load_segments().map(|s| s.vaddr).min().unwrap_or(0),
            image.entry()
        );
    }
    // The break starts after the highest segment (Linux's `elf_brk`).
    mm::brk::set_start(
        image
            .load_segments()
            .map(|s| s.page_range().end)
            .max()
            .unwrap_or(mm::USER_BASE),
    );
    for seg in image.load_segments() {
        let pages = seg.page_range();
        if pages.is_empty() {
            continue;
        }
        let kind = if seg.perm.exec {
            MapKind::UserText
        } else if seg.perm.write {
            MapKind::UserData
        } else {
            MapKind::UserRodata
        };
        let pa = mm::map_user_zeroed(pages.start, pages.end - pages.start, kind)
            .map_err(ExecError::Map)?;
        add_area(pages.start, pages.end, kind, false)?;
        let bytes = image.segment_bytes(&seg);
        let dst = pa + (seg.vaddr - pages.start);
        // SAFETY: `[pa, pa + pages)` are fresh frames just mapped for this
        // segment, in the kernel's linear map; `bytes` fits (filesz <= memsz).
        unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), dst as *mut u8, bytes.len()) };
    }

    map_sigpage().map_err(ExecError::Map)?;

    // The main stack is one anonymous area; only its top, where the
    // arguments, environment and auxiliary vector go, gets frames now.
    let stack_bottom = USER_STACK_TOP - USER_STACK_SIZE;
    let initial = USER_STACK_TOP - STACK_INITIAL;
    let stack_pa =
        mm::map_user_zeroed(initial, STACK_INITIAL, MapKind::UserData).map_err(ExecError::Map)?;
    add_area(stack_bottom, USER_STACK_TOP, MapKind::UserData, true)?;
    if mm::mmap::eager() {
        mm::populate_user_pages(stack_bottom, initial - stack_bottom, MapKind::UserData)
            .map_err(ExecError::Map)?;
    }
    // SAFETY: the stack's top frames were just allocated contiguously and
    // zeroed; nothing else refers to them until the app runs.
    let stack =
        unsafe { core::slice::from_raw_parts_mut(stack_pa as *mut u8, STACK_INITIAL as usize) };

    let mut argv: Vec<&str> = Vec::new();
    argv.push(APP_NAME.get());
    argv.extend(args.split_whitespace());
    let mut envp: Vec<&str> = alloc::vec!["RSEQ_OS=1"];
    envp.extend(env);
    // Linux's order (create_elf_tables()); the stack builder adds
    // AT_RANDOM, AT_EXECFN and AT_PLATFORM.
    let mut auxv: Vec<(u64, u64)> = alloc::vec![
        (AT_HWCAP, HWCAP),
        (AT_PAGESZ, arch::PAGE_SIZE as u64),
        (AT_CLKTCK, CLK_TCK),
    ];
    if let Some(phdr) = image.phdr_vaddr() {
        auxv.push((AT_PHDR, phdr));
    }
    auxv.extend([
        (AT_PHENT, elf::PHDR_SIZE),
        (AT_PHNUM, image.phnum() as u64),
        // No interpreter: a static program, PIE or not, is its own loader.
        (AT_BASE, 0),
        (AT_FLAGS, 0),
        (AT_ENTRY, image.entry()),
        // The only user is root, as for Linux's init.
        (AT_UID, 0),
        (AT_EUID, 0),
        (AT_GID, 0),
        (AT_EGID, 0),
        (AT_SECURE, 0),
        (AT_HWCAP2, 0),
        (AT_RSEQ_FEATURE_SIZE, abi::rseq::RSEQ_FEATURE_SIZE as u64),
        (AT_RSEQ_ALIGN, abi::rseq::RSEQ_ALIGN as u64),
    ]);
    let random = boot_random();
    let sp = user_stack::build_initial_stack(
        stack,
        USER_STACK_TOP,
        &argv,
        &envp,
        &auxv,
        &random,
        Some(PLATFORM),
    )
    .map_err(|_| ExecError::Stack)?;
    Ok(TrapFrame::new_user(image.entry(), sp))
}

/// The signal-return trampoline page: `mov x8, #__NR_rt_sigreturn; svc #0`,
/// used as the handler's return address when SA_RESTORER is not given, as
/// Linux uses the vDSO's `__kernel_rt_sigreturn`.
fn map_sigpage() -> Result<(), arch::mmu::MapError> {
    /// `movz x8, #imm16` with the immediate in bits 5..21, and `svc #0`.
    const MOVZ_X8: u32 = 0xd280_0008;
    const SVC_0: u32 = 0xd400_0001;
    const TRAMPOLINE: [u32; 2] = [MOVZ_X8 | (abi::nr::RT_SIGRETURN as u32) << 5, SVC_0];
    const _: () = assert!(abi::nr::RT_SIGRETURN < 1 << 16);
    let pa = mm::map_user_zeroed(mm::SIGPAGE, arch::PAGE_SIZE as u64, MapKind::UserText)?;
    mm::mmap::add_loaded_area(
        mm::SIGPAGE,
        mm::SIGPAGE + arch::PAGE_SIZE as u64,
        MapKind::UserText,
        false,
    )
    .map_err(|_| arch::mmu::MapError::OutOfTables)?;
    // SAFETY: a fresh frame just mapped for this page.
    unsafe { core::ptr::copy_nonoverlapping(TRAMPOLINE.as_ptr(), pa as *mut u32, 2) };
    Ok(())
}

/// 16 bytes for AT_RANDOM. Not cryptographic: the counter mixed with
/// splitmix64 is enough for a stack-protector canary in a test kernel.
fn boot_random() -> [u8; 16] {
    let mut x = arch::timer::counter();
    let mut out = [0u8; 16];
    for chunk in out.chunks_mut(8) {
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        chunk.copy_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out
}
