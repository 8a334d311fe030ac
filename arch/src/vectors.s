// Exception vectors. Every entry saves a TrapFrame (see trapframe.rs) on the
// current EL1 stack, calls a Rust handler with a pointer to it, restores it
// and erets. What happens in between (syscall, IRQ, fault, the exit-to-user
// work loop) is decided in Rust.
//
// A synchronous exception from EL0 (a syscall, mostly) first saves only what
// a Rust call may clobber: x0..x18, x30, SP_EL0, ELR and SPSR (and x19,
// which pairs with x18 in one store). x20..x29 are callee-saved under
// AAPCS64, so they still hold the user's values whenever the Rust fast
// handler has returned. The fast handler runs a syscall that needs nothing
// but its arguments and returns 0 when no exit work is due; the stub then
// restores the same registers and erets. Otherwise (a fault, a syscall
// that reads or rewrites the whole frame, exit work) it returns non-zero
// before anything reads or writes x20..x29 there, and the stub stores
// x20..x29 too, so that the slow handler, the exit work loop
// (signal delivery) and everything they call see the complete frame, and
// leaves through ret_to_user, which restores every register. So any frame
// that code outside the fast handler can see is complete.
//
// Before all this, a synchronous exception from EL0 enters the kernel's
// syscall fast lane, `el0_sync_lane` (kernel/src/entry/lane.rs): a few
// syscalls that only read the current task are answered there with two
// scratch registers, when the task has no work to do; every other
// exception reaches el0_sync with every register as the exception left it.
//
// Call frame information (.cfi_*) tells a debugger how to unwind out of a
// stub, so that gdb's `bt` ends cleanly:
// - a trap from EL0 has no kernel caller: the return address (x30) is
//   undefined, which makes the stub the outermost frame;
// - a trap from EL1 is a signal frame whose caller is the interrupted kernel
//   code: its pc is the ELR saved in the TrapFrame (DWARF register 32, the
//   return column of these stubs), every other register its saved copy, and
//   its sp the CFA, `sp + TF_SIZE` once the frame is pushed.

// The CFI of the first instructions of every stub: nothing pushed yet, and
// no caller known until ELR is stored.
.macro trap_cfi el
    .cfi_startproc
.if \el == 0
    .cfi_undefined x30
.else
    .cfi_signal_frame
    .cfi_return_column 32
    .cfi_undefined 32
.endif
.endm

// What a Rust call may clobber: x0..x18 and x30, then the interrupted sp
// (SP_EL0 from EL0, the EL1 stack above the frame from EL1), ELR and SPSR.
// x16 and x17 are scratch once stored.
.macro save_caller_saved el
    sub     sp, sp, #{TF_SIZE}
    .cfi_adjust_cfa_offset {TF_SIZE}
    stp     x0, x1, [sp, #16 * 0]
    stp     x2, x3, [sp, #16 * 1]
    stp     x4, x5, [sp, #16 * 2]
    stp     x6, x7, [sp, #16 * 3]
    stp     x8, x9, [sp, #16 * 4]
    stp     x10, x11, [sp, #16 * 5]
    stp     x12, x13, [sp, #16 * 6]
    stp     x14, x15, [sp, #16 * 7]
    stp     x16, x17, [sp, #16 * 8]
    // x19 rides with x18: a pair costs what x18 alone would.
    stp     x18, x19, [sp, #16 * 9]
.if \el == 0
    mrs     x16, sp_el0
.else
    add     x16, sp, #{TF_SIZE}
.endif
    stp     x30, x16, [sp, #{TF_SP} - 8]
    mrs     x16, elr_el1
    mrs     x17, spsr_el1
    stp     x16, x17, [sp, #{TF_PC}]
.endm

// The rest of a full frame, after save_caller_saved: the callee-saved
// registers, still the interrupted code's as long as only AAPCS64 code ran
// since.
.macro save_callee_saved
    stp     x20, x21, [sp, #16 * 10]
    stp     x22, x23, [sp, #16 * 11]
    stp     x24, x25, [sp, #16 * 12]
    stp     x26, x27, [sp, #16 * 13]
    stp     x28, x29, [sp, #16 * 14]
.endm

// The complete frame, not (yet) a syscall's.
.macro save_frame el
    save_caller_saved \el
    save_callee_saved
.if \el == 1
    // Each register was stored before anything overwrote it.
    .irp n, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29
    .cfi_rel_offset x\n, 8 * \n
    .endr
    .cfi_rel_offset x30, {TF_SP} - 8
    .cfi_rel_offset 32, {TF_PC}
.endif
    mov     x0, #-1
    stp     xzr, x0, [sp, #{TF_PC} + 16]   // orig_x0 = 0, syscallno = -1
.endm

// The inverse of save_caller_saved, then eret: x20..x29 hold what the
// interrupted code needs (untouched since the save, or restored).
.macro restore_caller_saved el
    ldp     x16, x17, [sp, #{TF_PC}]
    msr     elr_el1, x16
    msr     spsr_el1, x17
.if \el == 0
    ldp     x30, x16, [sp, #{TF_SP} - 8]
    msr     sp_el0, x16
.else
    ldr     x30, [sp, #{TF_SP} - 8]
.endif
    ldp     x18, x19, [sp, #16 * 9]
    ldp     x0, x1, [sp, #16 * 0]
    ldp     x2, x3, [sp, #16 * 1]
    ldp     x4, x5, [sp, #16 * 2]
    ldp     x6, x7, [sp, #16 * 3]
    ldp     x8, x9, [sp, #16 * 4]
    ldp     x10, x11, [sp, #16 * 5]
    ldp     x12, x13, [sp, #16 * 6]
    ldp     x14, x15, [sp, #16 * 7]
    ldp     x16, x17, [sp, #16 * 8]
    add     sp, sp, #{TF_SIZE}
    // Every register is live again and the pc is in ELR, out of DWARF's
    // reach: the eret itself has no known caller.
    .cfi_def_cfa_offset 0
.if \el == 1
    .cfi_undefined 32
.endif
    eret
.endm

// The inverse of save_frame, then eret.
.macro restore_frame el
    ldp     x20, x21, [sp, #16 * 10]
    ldp     x22, x23, [sp, #16 * 11]
    ldp     x24, x25, [sp, #16 * 12]
    ldp     x26, x27, [sp, #16 * 13]
    ldp     x28, x29, [sp, #16 * 14]
    restore_caller_saved \el
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
    // Lower EL, AArch64. The kernel's syscall fast lane first (it ends in
    // el0_sync unless it answered the syscall itself; see the top).
    vector  el0_sync_lane
    vector  el0_irq
    vector  el0_bad
    vector  el0_bad
    // Lower EL, AArch32: not supported.
    vector  el0_bad
    vector  el0_bad
    vector  el0_bad
    vector  el0_bad

// The fast handler returns 0 when nothing is left to do; otherwise x0 says
// what is left to the slow handler, on the complete frame (see the top).
.global el0_sync
el0_sync:
    trap_cfi 0
    save_caller_saved 0
    mov     x0, sp
    bl      el0_sync_fast_handler
    cbnz    x0, 1f
    .cfi_remember_state
    restore_caller_saved 0
    .cfi_restore_state
1:  save_callee_saved
    mov     x1, x0
    mov     x0, sp
    bl      el0_sync_slow_handler
    b       ret_to_user
    .cfi_endproc

el0_irq:
    trap_cfi 0
    save_frame 0
    mov     x0, sp
    bl      el0_irq_handler
    b       ret_to_user
    .cfi_endproc

el0_bad:
    trap_cfi 0
    save_frame 0
    mov     x0, sp
    bl      el0_bad_handler
    b       ret_to_user
    .cfi_endproc

// The one way back to EL0. The Rust handler has already run
// exit_to_user_mode() with interrupts masked. Entered with the frame pushed.
.global ret_to_user
ret_to_user:
    trap_cfi 0
    .cfi_adjust_cfa_offset {TF_SIZE}
    restore_frame 0
    .cfi_endproc

el1_sync:
    trap_cfi 1
    save_frame 1
    mov     x0, sp
    bl      el1_sync_handler
    restore_frame 1
    .cfi_endproc

el1_irq:
    trap_cfi 1
    save_frame 1
    mov     x0, sp
    bl      el1_irq_handler
    restore_frame 1
    .cfi_endproc

el1_bad:
    trap_cfi 1
    save_frame 1
    mov     x0, sp
    bl      el1_bad_handler
    restore_frame 1
    .cfi_endproc

// fn __arch_enter_user(tf: *mut TrapFrame) -> !
// First entry of a task into EL0: its frame sits at the top of its kernel
// stack, so the stack pointer becomes the frame and ret_to_user does the rest.
.global __arch_enter_user
__arch_enter_user:
    .cfi_startproc
    .cfi_undefined x30              // never returns: no caller to unwind to
    mov     sp, x0
    b       ret_to_user
    .cfi_endproc
