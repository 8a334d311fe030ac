// Exception vectors. Every entry saves a full TrapFrame (see trapframe.rs) on
// the current EL1 stack, calls one Rust handler with a pointer to it, restores
// it and erets. What happens in between (syscall, IRQ, fault, the exit-to-user
// work loop) is decided in Rust; there is exactly one return path to EL0.

.macro save_frame el
    sub     sp, sp, #{TF_SIZE}
    stp     x0, x1, [sp, #16 * 0]
    stp     x2, x3, [sp, #16 * 1]
    stp     x4, x5, [sp, #16 * 2]
    stp     x6, x7, [sp, #16 * 3]
    stp     x8, x9, [sp, #16 * 4]
    stp     x10, x11, [sp, #16 * 5]
    stp     x12, x13, [sp, #16 * 6]
    stp     x14, x15, [sp, #16 * 7]
    stp     x16, x17, [sp, #16 * 8]
    stp     x18, x19, [sp, #16 * 9]
    stp     x20, x21, [sp, #16 * 10]
    stp     x22, x23, [sp, #16 * 11]
    stp     x24, x25, [sp, #16 * 12]
    stp     x26, x27, [sp, #16 * 13]
    stp     x28, x29, [sp, #16 * 14]
.if \el == 0
    mrs     x21, sp_el0
.else
    add     x21, sp, #{TF_SIZE}
.endif
    stp     x30, x21, [sp, #{TF_SP} - 8]
    mrs     x22, elr_el1
    mrs     x23, spsr_el1
    stp     x22, x23, [sp, #{TF_PC}]
    mov     x0, #-1
    stp     xzr, x0, [sp, #{TF_PC} + 16]   // orig_x0 = 0, syscallno = -1
.endm

.macro restore_frame el
    ldp     x22, x23, [sp, #{TF_PC}]
    msr     elr_el1, x22
    msr     spsr_el1, x23
    ldp     x30, x21, [sp, #{TF_SP} - 8]
.if \el == 0
    msr     sp_el0, x21
.endif
    ldp     x0, x1, [sp, #16 * 0]
    ldp     x2, x3, [sp, #16 * 1]
    ldp     x4, x5, [sp, #16 * 2]
    ldp     x6, x7, [sp, #16 * 3]
    ldp     x8, x9, [sp, #16 * 4]
    ldp     x10, x11, [sp, #16 * 5]
    ldp     x12, x13, [sp, #16 * 6]
    ldp     x14, x15, [sp, #16 * 7]
    ldp     x16, x17, [sp, #16 * 8]
    ldp     x18, x19, [sp, #16 * 9]
    ldp     x20, x21, [sp, #16 * 10]
    ldp     x22, x23, [sp, #16 * 11]
    ldp     x24, x25, [sp, #16 * 12]
    ldp     x26, x27, [sp, #16 * 13]
    ldp     x28, x29, [sp, #16 * 14]
    add     sp, sp, #{TF_SIZE}
    eret
.endm

.macro vector target
    .balign 128
    b       \target
.endm

.section .text.vectors, "ax"
.balign 2048
.global exception_vectors
exception_vectors:
    // Current EL with SP_EL0: never used (the kernel always runs on SP_EL1).
    vector  el1_bad
    vector  el1_bad
    vector  el1_bad
    vector  el1_bad
    // Current EL with SP_ELx.
    vector  el1_sync
    vector  el1_irq
    vector  el1_bad
    vector  el1_bad
    // Lower EL, AArch64.
    vector  el0_sync
    vector  el0_irq
    vector  el0_bad
    vector  el0_bad
    // Lower EL, AArch32: not supported.
    vector  el0_bad
    vector  el0_bad
    vector  el0_bad
    vector  el0_bad

el0_sync:
    save_frame 0
    mov     x0, sp
    bl      el0_sync_handler
    b       ret_to_user

el0_irq:
    save_frame 0
    mov     x0, sp
    bl      el0_irq_handler
    b       ret_to_user

el0_bad:
    save_frame 0
    mov     x0, sp
    bl      el0_bad_handler
    b       ret_to_user

// The one way back to EL0. The Rust handler has already run
// exit_to_user_mode() with interrupts masked.
.global ret_to_user
ret_to_user:
    restore_frame 0

el1_sync:
    save_frame 1
    mov     x0, sp
    bl      el1_sync_handler
    restore_frame 1

el1_irq:
    save_frame 1
    mov     x0, sp
    bl      el1_irq_handler
    restore_frame 1

el1_bad:
    save_frame 1
    mov     x0, sp
    bl      el1_bad_handler
    restore_frame 1

// fn __arch_enter_user(tf: *mut TrapFrame) -> !
// First entry of a task into EL0: its frame sits at the top of its kernel
// stack, so the stack pointer becomes the frame and ret_to_user does the rest.
.global __arch_enter_user
__arch_enter_user:
    mov     sp, x0
    b       ret_to_user
