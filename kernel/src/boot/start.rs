//! `kernel_main`: the boot sequence on CPU 0, from the assembly entry to the
//! app's first instruction at EL0.

use super::{dtb, secondary};
use crate::loader::exec;
use crate::power::STATUS_BOOT_ERROR;
use crate::sched::{self, percpu, task};
use crate::{console, irqchip, mm};
use abi::cmdline::{self, KernelSelftest};
use boards::BOARD;

/// Called by `arch/src/boot.s` at EL1 on CPU 0's boot stack, at its high address (the MMU on with the early tables),
/// interrupts masked, BSS zeroed. `dtb` is what the loader put in x0.
/// The symbol is `arch::handlers!`'s.
pub fn kernel_main(dtb: u64, entry_el: u64) -> ! {
    // Before the DTB is read, map the board's largest RAM so the DTB (and
    // everything else in RAM) is reachable; `init_memory` trims it. First:
    // until then the early tables map devices as normal memory.
    mm::init_early(BOARD.ram_base, BOARD.ram_size_max, BOARD.devices);
    console::init();

    let info = dtb::probe(&BOARD, dtb, entry_el);
    arch::psci::set_conduit(info.psci);
    let (ram_base, ram_size) = info.ram;
    let source = program_source(info.initrd, ram_base + ram_size.min(BOARD.ram_size_max));
    let initrd = match source {
        exec::Source::Initrd { start, end } => Some((start, end)),
        _ => None,
    };
    let (heap, heap_size) = mm::init_memory(
        ram_base,
        BOARD.ram_size_max,
        ram_size,
        info.dtb_range,
        initrd,
    );
    mm::verify_kernel_wx();

    let config = match cmdline::parse(info.cmdline()) {
        Ok(config) => config,
        Err(e) => {
            println!("[boot-error] {e}");
            crate::process::end::shutdown(STATUS_BOOT_ERROR)
        }
    };
    console::set_loglevel(config.loglevel);
    crate::rseq_hooks::access::set_debug(config.rseq_debug);
    crate::syscall::stats::set_trace(config.strace);
    mm::mmap::set_overcommit(config.overcommit);
    crate::rseq_hooks::slice::slice_init(config.rseq_slice_ext, config.rseq_slice_us);
    if config.foreign > 0 {
        pr_info!(
            "[cmdline] skipped {} firmware/Linux boot options",
            config.foreign
        );
    }
    pr_debug!(
        "[debug] dtb={dtb:#x} ({}) ram={:#x}+{:#x} gic={:?} psci={:?} cmdline=\"{}\"",
        if info.dtb_range.is_some() {
            "parsed"
        } else {
            "absent"
        },
        ram_base,
        ram_size,
        info.gic,
        info.psci,
        info.cmdline()
    );
    pr_debug!("[debug] kernel heap {heap:#x}+{heap_size:#x}");
    pr_info!(
        "[mm] kernel W^X verified; user window {:#x}..{:#x}",
        mm::USER_START,
        mm::TASK_SIZE
    );
    let (frames, _) = mm::frame_counts();
    pr_info!(
        "[mm] {} KiB of frames for user pages, page tables and kernel stacks; threads_max={}",
        frames * arch::PAGE_SIZE as u64 / 1024,
        task::threads_max()
    );

    // SAFETY: single-threaded boot, before any user access.
    unsafe { arch::uaccess::set_user_window(mm::USER_START..mm::TASK_SIZE) };
    arch::timer::allow_el0_virtual_counter();

    let tf = match exec::load_app(source, config.init, config.app_args, config.env.iter()) {
        Ok(tf) => tf,
        Err(e) => {
            println!("[boot-error] {e}");
            crate::process::end::shutdown(STATUS_BOOT_ERROR)
        }
    };
    let pan = super::pan::check_pan(tf.sp);

    let gic_version = irqchip::init(info.gic, info.cpus, config.hz);
    secondary::cpu_up(0);
    secondary::start_secondaries(info.cpus);
    println!(
        "[boot] rseq-os {} board={} el=EL{} cntfrq={} memory={:#x}+{:#x} gic=GICv{} cpus={} pan={} hz={} rseq={} app={}",
        env!("CARGO_PKG_VERSION"),
        BOARD.name,
        entry_el,
        arch::timer::cntfrq(),
        ram_base,
        ram_size,
        gic_version,
        percpu::nr_online(),
        if pan { "on" } else { "off" },
        config.hz,
        crate::rseq_hooks::stats::mode_name(),
        exec::APP_NAME,
    );

    if let Some(test) = config.selftest {
        println!("[selftest] provoking a kernel data abort ({test:?})");
    }
    match config.selftest {
        Some(KernelSelftest::KernelFault) => provoke_kernel_fault(),
        Some(KernelSelftest::FaultUnderMmLock) => mm::with_lock_held(provoke_kernel_fault),
        Some(KernelSelftest::FaultUnderConsoleLock) => {
            crate::console::with_lock_held(provoke_kernel_fault)
        }
        None => {}
    }

    // The app's main thread (TID 1) starts on CPU 0; this boot context
    // becomes CPU 0's idle thread.
    let main = crate::process::clone::create_thread(tf, 0).expect("the main thread");
    main.cpus_allowed
        .store(u64::MAX, core::sync::atomic::Ordering::Relaxed);
    // The baseline a soak compares the shutdown line's heap_used against,
    // printed before the thread can run: once enqueued, an idle CPU may
    // take it at once, and its first output would cut this line in two.
    println!("[heap] start heap_used={}", mm::heap_used());
    sched::enqueue(main, 0);
    sched::cpu_idle()
}

/// Where the program comes from: embedded in the image, or, for a loader
/// kernel, the initrd the DTB names, when that lies in RAM after the kernel
/// image (below `ram_end`). An initrd given to a kernel with an embedded app
/// is not used (its frames go to the allocator like any other).
fn program_source(initrd: Option<(u64, u64)>, ram_end: u64) -> exec::Source {
    if !exec::is_loader() {
        return exec::Source::Embedded;
    }
    match initrd {
        None => exec::Source::NoInitrd,
        Some((start, end)) if start >= mm::kernel_image_end() && end <= ram_end => {
            exec::Source::Initrd { start, end }
        }
        Some((start, end)) => exec::Source::InitrdOutsideRam { start, end },
    }
}

/// `selftest=kernel-fault`: a load from page 0, which is never mapped. Must
/// end in the kernel panic report, not in a hang.
fn provoke_kernel_fault() {
    // SAFETY: deliberately unsound — the point is to fault; the fault path
    // never returns here.
    unsafe { core::ptr::read_volatile(core::ptr::without_provenance::<u64>(0x8)) };
}
