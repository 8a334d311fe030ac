//! Loading the app: the ELF embedded in the kernel image is mapped into the
//! user window from its program headers and started the way Linux starts a
//! static executable (argc, argv, envp, auxv on the stack), so that one day a
//! Linux binary differs from ours only in the runtime it links.

use crate::loader::elf::{self, Elf};
use crate::loader::user_stack;
use crate::mm::{self, USER_BASE, USER_END, USER_STACK_SIZE, USER_STACK_TOP};
use abi::auxv::*;
use alloc::vec::Vec;
use arch::TrapFrame;
use arch::mmu::MapKind;

/// The app's ELF, embedded at build time (kernel/build.rs).
static APP_ELF: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/app.elf"));
/// The app's name (its crate), also argv[0].
pub const APP_NAME: &str = env!("RSEQ_APP_NAME");

/// Linux's HWCAP_FP | HWCAP_ASIMD: what every aarch64 CPU here has.
const HWCAP: u64 = (1 << 0) | (1 << 1);

/// Why the app could not be started.
#[derive(Debug)]
pub enum ExecError {
    /// The embedded ELF is not a valid app image.
    Elf(elf::ElfError),
    /// Out of memory or page tables.
    Map(arch::mmu::MapError),
    /// argv/envp do not fit on the initial stack.
    Stack,
}

impl core::fmt::Display for ExecError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ExecError::Elf(e) => write!(f, "bad app image: {e}"),
            ExecError::Map(e) => write!(f, "cannot map the app: {e:?}"),
            ExecError::Stack => write!(f, "arguments do not fit on the initial stack"),
        }
    }
}

/// Maps the app and its stack; returns the frame that starts it at EL0.
pub fn load_app(args: &str) -> Result<TrapFrame, ExecError> {
    let image: Elf = elf::parse(APP_ELF, USER_BASE..USER_END).map_err(ExecError::Elf)?;
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
        let bytes = image.segment_bytes(&seg);
        let dst = pa + (seg.vaddr - pages.start);
        // SAFETY: `[pa, pa + pages)` are fresh frames just mapped for this
        // segment, in the kernel's linear map; `bytes` fits (filesz <= memsz).
        unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), dst as *mut u8, bytes.len()) };
    }

    map_sigpage().map_err(ExecError::Map)?;

    let stack_bottom = USER_STACK_TOP - USER_STACK_SIZE;
    let stack_pa = mm::map_user_zeroed(stack_bottom, USER_STACK_SIZE, MapKind::UserData)
        .map_err(ExecError::Map)?;
    // SAFETY: the stack frames were just allocated contiguously and zeroed;
    // nothing else refers to them until the app runs.
    let stack =
        unsafe { core::slice::from_raw_parts_mut(stack_pa as *mut u8, USER_STACK_SIZE as usize) };

    let mut argv: Vec<&str> = Vec::new();
    argv.push(APP_NAME);
    argv.extend(args.split_whitespace());
    let mut auxv: Vec<(u64, u64)> = alloc::vec![
        (AT_PAGESZ, arch::PAGE_SIZE as u64),
        (AT_HWCAP, HWCAP),
        (AT_CLKTCK, 100),
        (AT_ENTRY, image.entry()),
        (AT_PHENT, elf::PHDR_SIZE),
        (AT_PHNUM, image.phnum() as u64),
        (AT_RSEQ_FEATURE_SIZE, abi::rseq::RSEQ_FEATURE_SIZE as u64),
        (AT_RSEQ_ALIGN, abi::rseq::RSEQ_ALIGN as u64),
    ];
    if let Some(phdr) = image.phdr_vaddr() {
        auxv.push((AT_PHDR, phdr));
    }
    let random = boot_random();
    let sp = user_stack::build_initial_stack(
        stack,
        USER_STACK_TOP,
        &argv,
        &["RSEQ_OS=1"],
        &auxv,
        &random,
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
