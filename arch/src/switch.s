// Context switch and FP/SIMD save/restore.

// void __arch_cpu_switch_to(struct CpuContext *prev, const struct CpuContext *next,
//                           u32 *prev_on_cpu)
// Saves the callee-saved registers, sp and lr of the running kernel thread in
// *prev, clears *prev_on_cpu (store-release: from now on another CPU may run
// prev), and resumes next where it last called this function (or at its
// entry trampoline). Linux's cpu_switch_to() plus finish_task_switch()'s
// `smp_store_release(&prev->on_cpu, 0)`.
.section .text.switch, "ax"
.global __arch_cpu_switch_to
__arch_cpu_switch_to:
    .cfi_startproc
    mov     x9, sp
    stp     x19, x20, [x0, #16 * 0]
    stp     x21, x22, [x0, #16 * 1]
    stp     x23, x24, [x0, #16 * 2]
    stp     x25, x26, [x0, #16 * 3]
    stp     x27, x28, [x0, #16 * 4]
    stp     x29, x9, [x0, #16 * 5]
    str     x30, [x0, #16 * 6]
    stlr    wzr, [x2]
    ldp     x19, x20, [x1, #16 * 0]
    ldp     x21, x22, [x1, #16 * 1]
    ldp     x23, x24, [x1, #16 * 2]
    ldp     x25, x26, [x1, #16 * 3]
    ldp     x27, x28, [x1, #16 * 4]
    ldp     x29, x9, [x1, #16 * 5]
    ldr     x30, [x1, #16 * 6]
    mov     sp, x9
    ret
    .cfi_endproc

// A new thread's first kernel instructions: its context's lr points here and
// its sp at its user TrapFrame (the top of its kernel stack). The kernel's
// `ret_from_fork_handler` (see handlers.rs) runs the exit-to-user work with
// the frame, then the thread leaves for EL0 through the one return path. It is the
// thread's outermost kernel frame: no return address, so a backtrace ends here.
.global __arch_ret_from_fork
__arch_ret_from_fork:
    .cfi_startproc
    .cfi_undefined x30
    mov     x0, sp
    bl      ret_from_fork_handler
    b       ret_to_user
    .cfi_endproc

// The kernel is built soft-float; these two routines are the only code that
// touches the FP/SIMD registers, on behalf of EL0.
.arch_extension fp
.arch_extension simd

// void __arch_fpsimd_save(struct FpState *st)
.global __arch_fpsimd_save
__arch_fpsimd_save:
    .cfi_startproc
    stp     q0, q1, [x0, #32 * 0]
    stp     q2, q3, [x0, #32 * 1]
    stp     q4, q5, [x0, #32 * 2]
    stp     q6, q7, [x0, #32 * 3]
    stp     q8, q9, [x0, #32 * 4]
    stp     q10, q11, [x0, #32 * 5]
    stp     q12, q13, [x0, #32 * 6]
    stp     q14, q15, [x0, #32 * 7]
    stp     q16, q17, [x0, #32 * 8]
    stp     q18, q19, [x0, #32 * 9]
    stp     q20, q21, [x0, #32 * 10]
    stp     q22, q23, [x0, #32 * 11]
    stp     q24, q25, [x0, #32 * 12]
    stp     q26, q27, [x0, #32 * 13]
    stp     q28, q29, [x0, #32 * 14]
    stp     q30, q31, [x0, #32 * 15]
    mrs     x1, fpsr
    mrs     x2, fpcr
    add     x0, x0, #512
    stp     x1, x2, [x0]
    ret
    .cfi_endproc

// void __arch_fpsimd_load(const struct FpState *st)
.global __arch_fpsimd_load
__arch_fpsimd_load:
    .cfi_startproc
    ldp     q0, q1, [x0, #32 * 0]
    ldp     q2, q3, [x0, #32 * 1]
    ldp     q4, q5, [x0, #32 * 2]
    ldp     q6, q7, [x0, #32 * 3]
    ldp     q8, q9, [x0, #32 * 4]
    ldp     q10, q11, [x0, #32 * 5]
    ldp     q12, q13, [x0, #32 * 6]
    ldp     q14, q15, [x0, #32 * 7]
    ldp     q16, q17, [x0, #32 * 8]
    ldp     q18, q19, [x0, #32 * 9]
    ldp     q20, q21, [x0, #32 * 10]
    ldp     q22, q23, [x0, #32 * 11]
    ldp     q24, q25, [x0, #32 * 12]
    ldp     q26, q27, [x0, #32 * 13]
    ldp     q28, q29, [x0, #32 * 14]
    ldp     q30, q31, [x0, #32 * 15]
    add     x0, x0, #512
    ldp     x1, x2, [x0]
    msr     fpsr, x1
    msr     fpcr, x2
    ret
    .cfi_endproc
