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
    // Zero BSS (16-byte aligned bounds, see the linker script). Until the
    // MMU is on, this code runs at its physical address: only PC-relative
    // addressing (adrp) is used, no stack, no Rust.
    adrp    x0, __bss_start
    add     x0, x0, :lo12:__bss_start
    adrp    x1, __bss_end
    add     x1, x1, :lo12:__bss_end
2:  cmp     x0, x1
    b.hs    3f
    stp     xzr, xzr, [x0], #16
    b       2b
3:
    // The early tables: the one 1 GiB block of RAM that holds the kernel
    // image, as normal memory, reached both at its physical address (TTBR0:
    // the identity map the next instructions run from) and at KERNEL_OFFSET
    // + physical (TTBR1: where the kernel is linked). Nothing else, so no
    // device is ever mapped as normal memory (a speculative read could
    // touch it). `mm::init_early` replaces them.
    adrp    x0, early_tables
    adrp    x2, _start
    lsr     x2, x2, #30             // the block's index
    mov     x1, #{EARLY_BLOCK}
    orr     x3, x1, x2, lsl #30
    str     x3, [x0, x2, lsl #3]
    dsb     sy
    mov     x1, x0
    bl      enable_mmu
    ldr     x0, =5f                 // the link-time (high) address
    br      x0
5:
    // Stack of CPU 0: the top of the first per-CPU stack.
    ldr     x0, =__stacks_start
    mov     x1, #{BOOT_STACK_SIZE}
    add     sp, x0, x1

    ldr     x0, =exception_vectors
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

// Turns the MMU and the caches on with TTBR1 = x0 and TTBR0 = x1 (physical
// addresses), and Linux's split: 39-bit halves, 4 KiB granules. Runs and
// returns at the caller's (physical) address: TTBR0 must identity-map it.
enable_mmu:
    .cfi_startproc
    ldr     x2, ={MAIR_VALUE}
    msr     mair_el1, x2
    ldr     x2, ={TCR_VALUE}
    mrs     x3, id_aa64mmfr0_el1
    and     x3, x3, #0xf            // PARange
    cmp     x3, #5
    mov     x4, #5
    csel    x3, x3, x4, lo          // at most 48 bits
    bfi     x2, x3, #32, #3         // TCR_EL1.IPS
    msr     tcr_el1, x2
    msr     ttbr0_el1, x1
    msr     ttbr1_el1, x0
    dsb     ish
    tlbi    vmalle1
    dsb     ish
    isb
    mrs     x2, sctlr_el1
    orr     x2, x2, #(1 << 0)       // M
    orr     x2, x2, #(1 << 2)       // C
    orr     x2, x2, #(1 << 12)      // I
    msr     sctlr_el1, x2
    isb
    ret
    .cfi_endproc

// Replaces TTBR1 with x0 (a physical address) while running from the
// identity map in TTBR0, so that no instruction is fetched through the
// tables being replaced (Linux's `idmap_cpu_replace_ttbr1`). Called at its
// high address; returns there through the new tables.
.global __arch_replace_ttbr1
__arch_replace_ttbr1:
    .cfi_startproc
    adr     x1, 1f
    ldr     x2, ={KERNEL_OFFSET}
    sub     x1, x1, x2
    br      x1                      // on at the physical alias
1:  msr     ttbr1_el1, x0
    isb
    dsb     ish
    tlbi    vmalle1
    dsb     ish
    isb
    ret
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
    // The MMU on with the kernel's own TTBR1 and, for the next few
    // instructions at their physical address, the early identity tables
    // in TTBR0; then on at the high address, the app's TTBR0.
    adrp    x5, SECONDARY_BOOT
    add     x5, x5, :lo12:SECONDARY_BOOT
    ldr     x0, [x5, #8]            // ttbr1
    adrp    x1, early_tables
    bl      enable_mmu
    ldr     x0, =2f
    br      x0
2:
    ldr     x5, =SECONDARY_BOOT
    ldp     x1, x2, [x5, #16]       // ttbr0, sctlr
    ldr     x3, [x5]                // tcr
    msr     tcr_el1, x3
    msr     ttbr0_el1, x1
    dsb     ish
    tlbi    vmalle1
    dsb     ish
    isb
    msr     sctlr_el1, x2
    isb

    ldr     x0, =__stacks_start
    mov     x1, #{BOOT_STACK_SIZE}
    add     x2, x19, #1
    mul     x2, x2, x1
    add     x0, x0, x2
    mov     sp, x0

    ldr     x0, =exception_vectors
    msr     vbar_el1, x0
    mov     x0, #(3 << 20)
    msr     cpacr_el1, x0
    isb

    mov     x0, x19
    mov     x1, x20
    bl      secondary_main
3:  wfe
    b       3b
    .cfi_endproc

// The early translation tables (one level-1 table), zeroed with BSS and
// filled by primary_entry; secondaries use them as their identity map for
// the moment their MMU turns on.
.section .bss.early_tables, "aw", @nobits
.balign 4096
.global early_tables
early_tables:
    .space 4096
