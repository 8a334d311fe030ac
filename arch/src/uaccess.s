// User access with fault fixup, in the manner of Linux's arm64 uaccess:
// every instruction that may fault on a user address has an entry in
// __ex_table (faulting instruction, fixup address). The EL1 sync handler
// looks the faulting PC up there and resumes at the fixup instead of
// treating the fault as a kernel bug. The entries of the accesses the fault
// handler must not page memory in for (Linux's pagefault_disable()
// sections) go to __ex_table_nofault, the table's second part.
//
// LDTR*/STTR* are unprivileged: at EL1 they are checked against EL0
// permissions, so an EL1-only (kernel) page faults exactly as it would for
// the app, and PAN does not apply to them.

.macro extable insn, fixup, table=__ex_table
    .pushsection \table, "a"
    .balign 8
    .quad   \insn, \fixup
    .popsection
.endm

.section .text.uaccess, "ax"

// Each routine is a leaf that keeps sp and x30: the default CFI (caller's pc
// in x30, CFA = sp) is all a debugger needs to unwind out of one, from a
// breakpoint or from the fault that its fixup handles.

// The bodies of the copies, each a leaf: (to, from, n) in x0..x2, the
// number of bytes NOT copied (0 on success) back in x0.
.macro copy_from_user_body table
    .cfi_startproc
    cbz     x2, 2f
1:  ldtrb   w3, [x1]
    extable 1b, 9f, \table
    strb    w3, [x0], #1
    add     x1, x1, #1
    subs    x2, x2, #1
    b.ne    1b
2:  mov     x0, #0
    ret
9:  mov     x0, x2
    ret
    .cfi_endproc
.endm

.macro copy_to_user_body table
    .cfi_startproc
    cbz     x2, 2f
1:  ldrb    w3, [x1], #1
3:  sttrb   w3, [x0]
    extable 3b, 9f, \table
    add     x0, x0, #1
    subs    x2, x2, #1
    b.ne    1b
2:  mov     x0, #0
    ret
9:  mov     x0, x2
    ret
    .cfi_endproc
.endm

// One naturally aligned 4- or 8-byte access (Linux's get_user/put_user of
// a word): the load returns (value, 0) in x0/x1, or (unchanged, 1) when it
// faults; the store returns 0, or 1 when it faults. A faulting LDTR writes
// no register, so x0 is never half-loaded.
.macro get_user_body reg, table
    .cfi_startproc
1:  ldtr    \reg, [x0]
    extable 1b, 9f, \table
    mov     x1, #0
    ret
9:  mov     x1, #1
    ret
    .cfi_endproc
.endm

.macro put_user_body reg, table
    .cfi_startproc
1:  sttr    \reg, [x0]
    extable 1b, 9f, \table
    mov     x0, #0
    ret
9:  mov     x0, #1
    ret
    .cfi_endproc
.endm

// UserWord __arch_get_user_u32(const u32 __user *from), and the others:
// (addr) for the loads, (addr, value) for the stores.
.global __arch_get_user_u32
__arch_get_user_u32:
    get_user_body w0, __ex_table

.global __arch_get_user_u64
__arch_get_user_u64:
    get_user_body x0, __ex_table

.global __arch_put_user_u32
__arch_put_user_u32:
    put_user_body w1, __ex_table

.global __arch_put_user_u64
__arch_put_user_u64:
    put_user_body x1, __ex_table

// usize __arch_copy_from_user(u8 *to, const u8 __user *from, usize n)
.global __arch_copy_from_user
__arch_copy_from_user:
    copy_from_user_body __ex_table

// usize __arch_copy_to_user(u8 __user *to, const u8 *from, usize n)
.global __arch_copy_to_user
__arch_copy_to_user:
    copy_to_user_body __ex_table

// The same copies for callers that must not sleep or take locks on a fault
// (Linux's pagefault_disable() sections): their entries are in
// __ex_table_nofault, by which the fault handler recognises them and goes
// straight to the fixup instead of paging memory in.

// usize __arch_copy_from_user_nofault(u8 *to, const u8 __user *from, usize n)
.global __arch_copy_from_user_nofault
__arch_copy_from_user_nofault:
    copy_from_user_body __ex_table_nofault

// usize __arch_copy_to_user_nofault(u8 __user *to, const u8 *from, usize n)
.global __arch_copy_to_user_nofault
__arch_copy_to_user_nofault:
    copy_to_user_body __ex_table_nofault

.global __arch_get_user_u32_nofault
__arch_get_user_u32_nofault:
    get_user_body w0, __ex_table_nofault

.global __arch_get_user_u64_nofault
__arch_get_user_u64_nofault:
    get_user_body x0, __ex_table_nofault

.global __arch_put_user_u32_nofault
__arch_put_user_u32_nofault:
    put_user_body w1, __ex_table_nofault

.global __arch_put_user_u64_nofault
__arch_put_user_u64_nofault:
    put_user_body x1, __ex_table_nofault

// i64 __arch_futex_cmpxchg(u32 __user *uaddr, u32 old, u32 new, u64 pan)
// Linux's futex_atomic_cmpxchg_inatomic: if the word at uaddr holds old,
// store new (release, then a full barrier); either way return the value
// found (zero-extended), -1 on a fault, -2 when 128 tries lost the
// exclusive monitor. Exclusives have no unprivileged form, so these are
// privileged accesses: with pan != 0 PSTATE.PAN is cleared around them
// (msr pan, #0 / #1, encoded by hand) and set again on every way out. The
// caller has checked the address with access_ok; an EL0 read-only page
// is read-only at EL1 too, so the store faults where the app's would.
.global __arch_futex_cmpxchg
__arch_futex_cmpxchg:
    .cfi_startproc
    mov     x6, #128
    cbz     x3, 1f
    .inst   0xd500409f
1:  ldxr    w4, [x0]
    extable 1b, 9f
    cmp     w4, w1
    b.ne    3f
2:  stlxr   w5, w2, [x0]
    extable 2b, 9f
    cbz     w5, 4f
    subs    x6, x6, #1
    b.ne    1b
    mov     x4, #-2
    b       5f
3:  clrex
    b       5f
4:  dmb     ish
5:  cbz     x3, 6f
    .inst   0xd500419f
6:  mov     x0, x4
    ret
9:  cbz     x3, 10f
    .inst   0xd500419f
10: mov     x0, #-1
    ret
    .cfi_endproc

// i64 __arch_probe_privileged_read(const u64 *addr)
// A *privileged* load (subject to PAN): 0 if it read, -1 if it faulted.
// Used once at boot to verify that PAN really blocks kernel access to user pages.
.global __arch_probe_privileged_read
__arch_probe_privileged_read:
    .cfi_startproc
1:  ldr     x1, [x0]
    extable 1b, 9f
    mov     x0, #0
    ret
9:  mov     x0, #-1
    ret
    .cfi_endproc

// u64 __arch_semihosting_call(u64 op, u64 arg)
// Returns the call's result in x0, or x0 unchanged-ish (-1) if semihosting is
// not enabled (HLT is then an undefined instruction, fixed up here), so the
// kernel can fall back to PSCI on real hardware.
.global __arch_semihosting_call
__arch_semihosting_call:
    .cfi_startproc
1:  hlt     #0xf000
    extable 1b, 9f
    ret
9:  mov     x0, #-1
    ret
    .cfi_endproc
