/*
 * Entry, trap entries and privilege switching of the ISA test programs.
 * QEMU's virt board (-bios none) and riscv-isa-runner both start the hart
 * in M-mode at 0x80000000.
 */
    .equ MAGIC, 0x5a17        /* a7 of the ecall that ends run_in_mode */
    .equ FRAME, 256

    .section .text.start, "ax"
    .option norelax
    .globl _start
_start:
    la sp, m_stack_top
    la t0, m_trap_stack_top
    csrw mscratch, t0
    la t0, s_trap_stack_top
    csrw sscratch, t0
    la t0, m_trap_entry
    csrw mtvec, t0
    la t0, s_trap_entry
    csrw stvec, t0
    /* PMP entry 0: the whole address space RWX (NAPOT), so S/U can run. */
    li t0, -1
    csrw pmpaddr0, t0
    li t0, 0x1f
    csrw pmpcfg0, t0
    /* FPU on (FS = Initial), fcsr clear. */
    li t0, 1 << 13
    csrs mstatus, t0
    csrwi fcsr, 0
    la t0, __bss_start
    la t1, __bss_end
1:  bgeu t0, t1, 2f
    sd zero, 0(t0)
    addi t0, t0, 8
    j 1b
2:  call main
    call finish
3:  j 3b

/*
 * Saves all registers on the handler's own stack (from the scratch CSR),
 * recognises the ecall that ends run_in_mode, else calls the C handler
 * with the frame and returns with xret.
 */
    .macro TRAP_ENTRY name, scratch, cause, ret, cfun, magic
    .text
    .align 4
    .globl \name
\name:
    csrrw sp, \scratch, sp
    addi sp, sp, -FRAME
    .irp r, 1,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    sd x\r, \r * 8(sp)
    .endr
    csrr t0, \scratch
    sd t0, 16(sp)
    csrr t0, \cause
    addi t0, t0, -8
    li t1, 3
    bgeu t0, t1, 1f
    li t1, MAGIC
    bne a7, t1, 1f
    j \magic
1:  mv a0, sp
    call \cfun
    .irp r, 1,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    ld x\r, \r * 8(sp)
    .endr
    addi sp, sp, FRAME
    csrrw sp, \scratch, sp
    \ret
    .endm

    TRAP_ENTRY m_trap_entry, mscratch, mcause, mret, m_trap_c, m_magic
    TRAP_ENTRY s_trap_entry, sscratch, scause, sret, s_trap_c, s_magic

/* The lower mode is done (a0 = result): back to run_in_mode's caller. */
m_magic:
    la t1, m_trap_stack_top
    csrw mscratch, t1
    la t0, mode_ctx
    ld ra, 0(t0)
    ld sp, 8(t0)
    ld gp, 16(t0)
    ld tp, 24(t0)
    .irp r, 0,1,2,3,4,5,6,7,8,9,10,11
    ld s\r, 32 + \r * 8(t0)
    .endr
    ret

/* A delegated U ecall reached S: pass it on to M (a0, a7 unchanged). */
s_magic:
    la t1, s_trap_stack_top
    csrw sscratch, t1
    ecall
4:  j 4b

/* u64 run_in_mode(int mode, u64 (*fn)(u64), u64 arg, u64 off) */
    .globl run_in_mode
run_in_mode:
    la t0, mode_ctx
    sd ra, 0(t0)
    sd sp, 8(t0)
    sd gp, 16(t0)
    sd tp, 24(t0)
    .irp r, 0,1,2,3,4,5,6,7,8,9,10,11
    sd s\r, 32 + \r * 8(t0)
    .endr
    li t1, 3 << 11
    csrc mstatus, t1
    slli t1, a0, 11
    csrs mstatus, t1
    add t1, a1, a3
    csrw mepc, t1
    la ra, mode_exit_stub
    add ra, ra, a3
    la sp, lower_stack_top
    add sp, sp, a3
    mv a0, a2
    mret

    .globl mode_exit_stub
mode_exit_stub:
    li a7, MAGIC
    ecall
5:  j 5b

    .bss
    .align 4
mode_ctx:
    .skip 8 * 16
    .align 12
    .skip 8192
m_stack_top:
    .skip 4096
m_trap_stack_top:
    .skip 4096
s_trap_stack_top:
    .skip 4096
    .globl lower_stack_top
lower_stack_top:
