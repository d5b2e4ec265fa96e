# A extension: LR/SC success and failure (value-compare sc as QEMU 7.2),
# every AMO (W and D), misaligned atomics trap with QEMU 7.2's causes.
    .include "common.inc"

# Zeroes the M handler's trap count and cause.
    .macro CLEAR_TRAP info
    la t3, \info
    sd zero, TI_COUNT(t3)
    sd zero, TI_CAUSE(t3)
    .endm

# Checks the cause of the last M trap and that its tval is reg.
    .macro CHECK_MTRAP_REG cause, reg
    la t3, m_trap_info
    ld s11, TI_CAUSE(t3)
    CHECK s11, \cause
    la t3, m_trap_info
    ld s11, TI_TVAL(t3)
    CHECKR s11, \reg
    .endm

    .text
main:
    la s0, word
    # --- LR/SC ---
    li a0, 100
    sd a0, 0(s0)
    lr.d a1, (s0)
    CHECK a1, 100
    li a2, 200
    sc.d a3, a2, (s0)
    CHECK a3, 0
    ld a1, 0(s0)
    CHECK a1, 200
    # sc without a reservation fails and does not store
    li a2, 300
    sc.d a3, a2, (s0)
    CHECK a3, 1
    ld a1, 0(s0)
    CHECK a1, 200
    # sc to a different address than the reservation fails
    lr.d a1, (s0)
    addi a4, s0, 8
    sc.d a3, a2, (a4)
    CHECK a3, 1
    # reservation is consumed by a failed sc too
    sc.d a3, a2, (s0)
    CHECK a3, 1
    # lr.w sign-extends; sc.w stores 32 bits
    li a0, 0x80000000
    sw a0, 16(s0)
    addi s1, s0, 16
    lr.w a1, (s1)
    CHECK a1, 0xffffffff80000000
    li a2, 0x123456789
    sc.w a3, a2, (s1)
    CHECK a3, 0
    ld a1, 16(s0)
    CHECK a1, 0x23456789
    # a trap between lr and sc breaks the reservation
    lr.d a1, (s0)
    ecall
    sc.d a3, a2, (s0)
    CHECK a3, 1
    CHECK_TRAP m_trap_info, 11, 0

    # --- AMOs (64-bit) ---
    li a0, 10
    sd a0, 0(s0)
    li a2, 5
    amoadd.d a1, a2, (s0)
    CHECK a1, 10
    ld a1, 0(s0)
    CHECK a1, 15
    li a2, 0xff
    amoand.d a1, a2, (s0)
    ld a1, 0(s0)
    CHECK a1, 15
    li a2, 0x30
    amoor.d a1, a2, (s0)
    ld a1, 0(s0)
    CHECK a1, 0x3f
    li a2, 0x0f
    amoxor.d a1, a2, (s0)
    ld a1, 0(s0)
    CHECK a1, 0x30
    li a2, -1
    amoswap.d a1, a2, (s0)
    CHECK a1, 0x30
    li a2, 5
    amomin.d a1, a2, (s0)
    CHECK a1, -1
    ld a1, 0(s0)
    CHECK a1, -1
    amomax.d a1, a2, (s0)
    ld a1, 0(s0)
    CHECK a1, 5
    li a2, -1
    amominu.d a1, a2, (s0)
    ld a1, 0(s0)
    CHECK a1, 5
    amomaxu.d a1, a2, (s0)
    ld a1, 0(s0)
    CHECK a1, -1
    # rd = x0 still performs the operation
    li a2, 2
    amoadd.d zero, a2, (s0)
    ld a1, 0(s0)
    CHECK a1, 1

    # --- AMOs (32-bit): sign-extended results, signed vs unsigned ---
    li a0, 0x7fffffff
    sw a0, 0(s1)
    li a2, 1
    amoadd.w a1, a2, (s1)
    CHECK a1, 0x7fffffff
    lw a1, 0(s1)
    CHECK a1, 0xffffffff80000000
    li a2, 1
    amomin.w a1, a2, (s1)
    lw a1, 0(s1)
    CHECK a1, 0xffffffff80000000
    amominu.w a1, a2, (s1)
    lw a1, 0(s1)
    CHECK a1, 1
    li a2, 0xfffffffe
    amomaxu.w a1, a2, (s1)
    lwu a1, 0(s1)
    CHECK a1, 0xfffffffe
    li a2, 3
    amomax.w a1, a2, (s1)
    CHECK a1, 0xfffffffffffffffe
    lw a1, 0(s1)
    CHECK a1, 3
    # the upper word next to a .w AMO is untouched
    li a0, -1
    sd a0, 0(s1)
    amoswap.w a1, zero, (s1)
    ld a1, 0(s1)
    CHECK a1, 0xffffffff00000000

    # --- Misaligned atomics trap (no emulation), causes as QEMU 7.2 ---
    addi a0, s0, 1
    lr.d a1, (a0)
    la t3, m_trap_info
    ld a1, TI_CAUSE(t3)
    CHECK a1, 4
    la t3, m_trap_info
    ld a1, TI_TVAL(t3)
    CHECKR a1, a0
    # a misaligned AMO raises load (not store/AMO) address misaligned
    addi a0, s0, 2
    amoadd.w a1, a2, (a0)
    CHECK_MTRAP_REG 4, a0
    # a misaligned sc without a matching reservation just fails
    CLEAR_TRAP m_trap_info
    li a1, 77
    sc.w a1, a2, (a0)
    CHECK a1, 1
    CHECK_TRAP_COUNT m_trap_info, 0
    # ... and so does one to an unmapped address (no access is made)
    li a0, 0x10000100
    li a1, 77
    sc.d a1, a2, (a0)
    CHECK a1, 1
    CHECK_TRAP_COUNT m_trap_info, 0
    # lr.w then sc.d at the same (word-aligned) address: cause 4
    addi a0, s0, 4
    lr.w a1, (a0)
    sc.d a1, a2, (a0)
    CHECK_MTRAP_REG 4, a0
    CLEAR_TRAP m_trap_info

    # --- sc compares the value lr loaded (QEMU 7.2) ---
    # an own store that changes the value makes sc fail
    li a0, 7
    sd a0, 0(s0)
    lr.d a1, (s0)
    li a0, 8
    sd a0, 0(s0)
    li a2, 9
    sc.d a3, a2, (s0)
    CHECK a3, 1
    ld a1, 0(s0)
    CHECK a1, 8
    # one that stores the same value does not
    lr.d a1, (s0)
    sd a1, 0(s0)
    sc.d a3, a2, (s0)
    CHECK a3, 0
    ld a1, 0(s0)
    CHECK a1, 9
    # lr.d then sc.w: stores if the low words match, reports failure
    # unless the doubleword lr loaded was a sign-extended word
    li a0, 0x1234567800000002
    sd a0, 0(s0)
    lr.d a1, (s0)
    li a2, 5
    sc.w a3, a2, (s0)
    CHECK a3, 1
    ld a1, 0(s0)
    CHECK a1, 0x1234567800000005
    li a0, 2
    sd a0, 0(s0)
    lr.d a1, (s0)
    sc.w a3, a2, (s0)
    CHECK a3, 0
    ld a1, 0(s0)
    CHECK a1, 5
    # lr.w then sc.d: compared with the sign-extended word
    li a0, 0xffffffff80000000
    sd a0, 0(s0)
    lr.w a1, (s0)
    sc.d a3, a2, (s0)
    CHECK a3, 0
    ld a1, 0(s0)
    CHECK a1, 5
    # mret drops the reservation
    lr.d a1, (s0)
    la a0, 1f
    csrw mepc, a0
    li a0, 3 << 11
    csrs mstatus, a0
    mret
1:  sc.d a3, a2, (s0)
    CHECK a3, 1
    # AMO on a faulting MMIO address: store access fault
    li a0, 0x10000100
    amoadd.d a1, a2, (a0)
    CHECK_TRAP m_trap_info, 7, 0x10000100
    PASS

    .data
    .align 4
word: .fill 8, 8, 0
