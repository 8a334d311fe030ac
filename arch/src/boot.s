// Boot entry for every board: an arm64 Linux Image header, so that QEMU virt
// (raw Image) passes the DTB in x0 and the Raspberry Pi firmware can load the
// same bytes as kernel8.img. See Documentation/arch/arm64/booting.rst.

.section .text.head, "ax"
.global _start
_start:
    // The first instruction anything runs: no caller, so a debugger's
    // backtrace ends here (and in primary_entry and secondary_entry).
    .cfi_startproc
    .cfi_undefined x30
    b       primary_entry           // code0
    .cfi_endproc
    .long   0                       // code1
    .quad   0x80000                 // text_offset: load at RAM base + 512 KiB
    .quad   __kernel_size           // image_size, including BSS and stacks
    .quad   0x2                     // flags: little endian, 4 KiB pages
    .quad   0, 0, 0                 // res2..res4
    .ascii  "ARM\x64"               // magic
    .long   0                       // res5

.section .text.boot, "ax"
primary_entry:
    .cfi_startproc
    .cfi_undefined x30
    mov     x19, x0                 // DTB address (or 0)
    mrs     x20, CurrentEL
    ubfx    x20, x20, #2, #2        // the EL we were entered at
    mrs     x1, mpidr_el1
    and     x1, x1, #0xff           // Aff0: the CPU number on both boards
    cbnz    x1, park                // secondaries are started later, by PSCI or the spin table

    cmp     x20, #2
    b.ne    1f
    bl      el2_to_el1
1:
    // Stack of CPU 0: the top of the first per-CPU stack.
    adrp    x0, __stacks_start
    add     x0, x0, :lo12:__stacks_start
    mov     x1, #{BOOT_STACK_SIZE}
    add     sp, x0, x1

    // Zero BSS (16-byte aligned bounds, see the linker script).
    adrp    x0, __bss_start
    add     x0, x0, :lo12:__bss_start
    adrp    x1, __bss_end
    add     x1, x1, :lo12:__bss_end
2:  cmp     x0, x1
    b.hs    3f
    stp     xzr, xzr, [x0], #16
    b       2b
3:
    adrp    x0, exception_vectors
    add     x0, x0, :lo12:exception_vectors
    msr     vbar_el1, x0

    // EL0 may use FP/SIMD freely (CPACR_EL1.FPEN = 0b11). The kernel itself is
    // built soft-float and never touches those registers, so traps need not
    // save them (see README, "FP/SIMD policy").
    mov     x0, #(3 << 20)
    msr     cpacr_el1, x0
    isb

    mov     x0, x19
    mov     x1, x20
    bl      kernel_main
park:
    wfe
    b       park
    .cfi_endproc

// Leave EL2 for EL1 with nothing trapped to EL2 that the kernel uses.
// Returns (eret) to the caller's x30, at EL1h with DAIF masked.
.global el2_to_el1
el2_to_el1:
    .cfi_startproc
    mov     x0, #(1 << 31)          // HCR_EL2.RW: EL1 is AArch64; IRQs stay at EL1
    msr     hcr_el2, x0
    mrs     x0, cnthctl_el2
    orr     x0, x0, #3              // EL1PCTEN | EL1PCEN: EL1 owns the physical timer
    msr     cnthctl_el2, x0
    msr     cntvoff_el2, xzr        // virtual counter == physical counter
    mov     x0, #0x33ff             // CPTR_EL2: RES1 bits, TFP = 0 (no FP/SIMD trap)
    msr     cptr_el2, x0
    msr     hstr_el2, xzr
    mrs     x0, id_aa64pfr0_el1
    ubfx    x0, x0, #24, #4         // GIC system-register interface present?
    cbz     x0, 1f
    mrs     x0, S3_4_C12_C9_5       // ICC_SRE_EL2
    orr     x0, x0, #0xf            // SRE | DFB | DIB | Enable (EL1 may use ICC_SRE_EL1)
    msr     S3_4_C12_C9_5, x0
    isb
1:
    mrs     x0, midr_el1
    msr     vpidr_el2, x0
    mrs     x0, mpidr_el1
    msr     vmpidr_el2, x0
    ldr     x0, ={SCTLR_EL1_RESET}
    msr     sctlr_el1, x0
    mov     x0, #0x3c5              // EL1h, DAIF masked
    msr     spsr_el2, x0
    msr     elr_el2, x30
    isb
    eret
    .cfi_endproc

// Entry of CPUs 1..3, from PSCI CPU_ON (virt) or the spin table (Pi 4), at
// EL2 or EL1 with the MMU off. The MMU is turned on here, before any Rust
// runs, with the registers CPU 0 published (and cleaned to memory) in
// SECONDARY_BOOT: Rust code must not run with caches off and stale data.
.section .text.boot, "ax"
.global secondary_entry
secondary_entry:
    .cfi_startproc
    .cfi_undefined x30
    mrs     x20, CurrentEL
    ubfx    x20, x20, #2, #2
    mrs     x19, mpidr_el1
    and     x19, x19, #0xff
    cmp     x20, #2
    b.ne    1f
    bl      el2_to_el1
1:
    adrp    x0, SECONDARY_BOOT
    add     x0, x0, :lo12:SECONDARY_BOOT
    ldp     x1, x2, [x0]            // mair, tcr
    ldp     x3, x4, [x0, #16]       // ttbr0, sctlr
    msr     mair_el1, x1
    msr     tcr_el1, x2
    msr     ttbr0_el1, x3
    dsb     ish
    tlbi    vmalle1
    dsb     ish
    isb
    msr     sctlr_el1, x4
    isb

    adrp    x0, __stacks_start
    add     x0, x0, :lo12:__stacks_start
    mov     x1, #{BOOT_STACK_SIZE}
    add     x2, x19, #1
    mul     x2, x2, x1
    add     x0, x0, x2
    mov     sp, x0

    adrp    x0, exception_vectors
    add     x0, x0, :lo12:exception_vectors
    msr     vbar_el1, x0
    mov     x0, #(3 << 20)
    msr     cpacr_el1, x0
    isb

    mov     x0, x19
    mov     x1, x20
    bl      secondary_main
2:  wfe
    b       2b
    .cfi_endproc
