# Traps and privilege: illegal instructions (mtval), ecall from U/S/M,
# delegation to S, mret/sret state transitions, vectored interrupts and
# priorities, wfi, CSR access rules and WARL fields, counters.
    .include "common.inc"

# Enters mode (0 U, 1 S) at label by mret.
    .macro ENTER mode, label
    li t3, 0x1800
    csrc mstatus, t3
    li t3, \mode << 11
    csrs mstatus, t3
    la t3, \label
    csrw mepc, t3
    mret
    .endm

    .text
main:
    # --- Illegal instructions: mtval holds the instruction bits ---
    .word 0xffffffff
    CHECK_TRAP m_trap_info, 2, 0xffffffff
    .half 0x0000
    CHECK_TRAP m_trap_info, 2, 0
    .word 0xc0001073     # csrw cycle, zero (read-only CSR)
    CHECK_TRAP m_trap_info, 2, 0xc0001073
    csrr a0, 0x7ff
    CHECK_TRAP m_trap_info, 2, 0x7ff02573
    csrw mhartid, a0
    CHECK_TRAP m_trap_info, 2, 0xf1451073
pmpcfg1_insn:
    csrr a0, pmpcfg1
    CHECK_TRAP m_trap_info, 2, 0x3a102573
    CHECK_TRAP_COUNT m_trap_info, 6
    la t3, m_trap_info
    ld a0, TI_EPC(t3)
    la a1, pmpcfg1_insn
    CHECKR a0, a1

    # --- ecall / ebreak from M ---
    ecall
    CHECK_TRAP m_trap_info, 11, 0
    la t3, m_trap_info
    ld a0, TI_STATUS(t3)
    srli a0, a0, 11
    andi a0, a0, 3
    CHECK a0, 3
ebreak_pc:
    ebreak
    # mtval is 0 for ebreak, as QEMU 7.2 (the epc is the ebreak)
    la a1, ebreak_pc
    la t3, m_trap_info
    ld a0, TI_EPC(t3)
    CHECKR a0, a1
    CHECK_TRAP m_trap_info, 3, 0
    c.ebreak
    CHECK_TRAP m_trap_info, 3, 0

    # --- ecall from S and U (not delegated) ---
    RESUME m_trap_info, back1
    ENTER 1, in_s1
in_s1:
    ecall
    j test_fail_direct
back1:
    CHECK_TRAP m_trap_info, 9, 0
    la t3, m_trap_info
    ld a0, TI_STATUS(t3)
    srli a0, a0, 11
    andi a0, a0, 3
    CHECK a0, 1
    RESUME m_trap_info, back2
    ENTER 0, in_u1
in_u1:
    ecall
    j test_fail_direct
back2:
    CHECK_TRAP m_trap_info, 8, 0

    # --- Delegation: U ecall to S, then ebreak (not delegated) to M ---
    li a0, 1 << 8
    csrw medeleg, a0
    csrr a1, medeleg
    CHECK a1, 0x100
    li a0, -1
    csrw medeleg, a0
    csrr a1, medeleg
    CHECK a1, 0xf0bfff
    li a0, 1 << 8
    csrw medeleg, a0
    RESUME m_trap_info, back3
    ENTER 0, in_u2
in_u2:
    ecall
u2_ebreak:
    ebreak
    j test_fail_direct
back3:
    CHECK_TRAP s_trap_info, 8, 0
    CHECK_TRAP m_trap_info, 3, 0
    la a1, u2_ebreak
    la t3, m_trap_info
    ld a0, TI_EPC(t3)
    CHECKR a0, a1
    la t3, s_trap_info
    ld a0, TI_STATUS(t3)
    andi a0, a0, 0x100
    CHECK a0, 0
    la a1, in_u2
    ld a0, TI_EPC(t3)
    CHECKR a0, a1
    csrw medeleg, zero

    # --- mret/sret state transitions ---
    # mret: MIE <- MPIE, MPIE <- 1, MPP <- U, MPRV cleared (MPP != M)
    li a0, 0x20088
    csrc mstatus, a0
    li a0, 0x20080 | (1 << 11)
    csrs mstatus, a0
    la a0, 1f
    csrw mepc, a0
    mret
1:  # now in S: read sstatus (MIE is not visible), ecall back to M
    csrr s0, sstatus
    RESUME m_trap_info, 2f
    ecall
2:  csrr a0, mstatus
    la t3, m_trap_info
    ld a0, TI_STATUS(t3)
    # at the ecall MIE was 1 (from mret's MPIE), so now MPIE=1, MIE=0;
    # MPRV was cleared by mret; MPP=S
    li a1, 0x21888
    and a0, a0, a1
    CHECK a0, 0x0880
    # sret from S to U: SIE <- SPIE, SPIE <- 1, SPP <- U
    li a0, 0x122
    csrc mstatus, a0
    li a0, 0x20
    csrs mstatus, a0
    RESUME m_trap_info, 4f
    ENTER 1, 3f
3:  la a0, 5f
    csrw sepc, a0
    sret
5:  ecall
4:  la t3, m_trap_info
    ld a0, TI_CAUSE(t3)
    CHECK a0, 8
    ld a0, TI_STATUS(t3)
    andi a0, a0, 0x122
    CHECK a0, 0x22

    # --- Privilege checks ---
    # M CSR from S; satp with TVM; sret with TSR; wfi with TW; wfi in U
    li a0, 0x700000
    csrs mstatus, a0
    ENTER 1, 7f
7:  csrr a0, sstatus
    csrr a0, mstatus
    csrr a0, satp
    sret
    wfi
    RESUME m_trap_info, 6f
    ecall
6:  li a0, 0x700000
    csrc mstatus, a0
    CHECK_TRAP_COUNT m_trap_info, 19
    ENTER 0, 9f
9:  wfi
    csrr a0, sstatus
    RESUME m_trap_info, 8f
    ecall
8:  CHECK_TRAP_COUNT m_trap_info, 22
    # sfence.vma from U is illegal, from S fine
    ENTER 0, 11f
11: sfence.vma
    RESUME m_trap_info, 10f
    ecall
10: CHECK_TRAP m_trap_info, 8, 0
    CHECK_TRAP_COUNT m_trap_info, 24

    # --- CSR values and WARL fields ---
    csrr a0, misa
    CHECK a0, 0x800000000014112d
    csrr a0, mhartid
    CHECK a0, 0
    csrr a0, mvendorid
    CHECK a0, 0
    csrr a0, mstatus
    srli a0, a0, 32
    andi a0, a0, 0xf
    CHECK a0, 0xa
    # MPP = 2 is reserved, but QEMU 7.2 keeps it
    li a0, 0x1800
    csrc mstatus, a0
    li a0, 0x1000
    csrs mstatus, a0
    csrr a0, mstatus
    li a1, 0x1800
    and a0, a0, a1
    CHECK a0, 0x1000
    # ... and mret with it goes to U (an ecall from U, MPP back to 0)
    RESUME m_trap_info, 12f
    la a0, 13f
    csrw mepc, a0
    mret
13: ecall
12: CHECK_TRAP m_trap_info, 8, 0
    la t3, m_trap_info
    ld a0, TI_STATUS(t3)
    li a1, 0x1800
    and a0, a0, a1
    CHECK a0, 0
    # satp: unsupported mode ignored, Sv48 accepted, bare clears
    li a0, 0x1000000000000001
    csrw satp, a0
    csrr a0, satp
    CHECK a0, 0
    li a0, 0x9000000000000005
    csrw satp, a0
    csrr a0, satp
    CHECK a0, 0x9000000000000005
    li a0, 0xa000000000000006
    csrw satp, a0
    csrr a0, satp
    CHECK a0, 0xa000000000000006
    csrw satp, zero
    # mideleg: S, VS and LCOFI bits (QEMU 7.2, even without H); sie/sip
    # are masked views
    li a0, -1
    csrw mideleg, a0
    csrr a0, mideleg
    CHECK a0, 0x2666
    li a0, -1
    csrw mie, a0
    csrr a0, mie
    CHECK a0, 0x2eee
    csrr a0, sie
    CHECK a0, 0x2222
    li a0, 0x20
    csrw mideleg, a0
    csrr a0, sie
    CHECK a0, 0x20
    csrw sie, zero
    csrr a0, mie
    CHECK a0, 0x2ece
    # mip: S, VS and LCOFI bits writable; sip: SSIP and LCOFIP
    li a0, -1
    csrw mideleg, a0
    csrw mip, a0
    csrr a0, mip
    CHECK a0, 0x2666
    csrw mip, zero
    csrw sip, a0
    csrr a0, mip
    CHECK a0, 0x2002
    csrr a0, sip
    CHECK a0, 0x2002
    csrw mip, zero
    csrw mie, zero
    csrw mie, zero
    csrw mideleg, zero
    # mtvec mode 2/3 are reserved
    csrr s0, mtvec
    li a0, 0x80000002
    csrw mtvec, a0
    csrr a0, mtvec
    CHECK a0, 0x80000000
    csrw mtvec, s0
    # mepc bit 0 is always zero
    li a0, 0x80000003
    csrw mepc, a0
    csrr a0, mepc
    CHECK a0, 0x80000002

    # 16 PMP entries: pmpaddr16.. and pmpcfg4.. are hardwired to zero
    li a0, -1
    csrw pmpaddr16, a0
    csrr a1, pmpaddr16
    CHECK a1, 0
    csrw pmpcfg4, a0
    csrr a1, pmpcfg4
    CHECK a1, 0
    csrr a1, pmpaddr15
    CHECK a1, 0x3fffffffffffff
    # mhpmcounter3..18 hold what is written (no events); 19.. are zero
    li a0, 0x1234
    csrw mhpmcounter3, a0
    csrr a1, mhpmcounter3
    CHECK a1, 0x1234
    csrr a1, hpmcounter3
    CHECK a1, 0x1234
    csrw mhpmcounter18, a0
    csrr a1, mhpmcounter18
    CHECK a1, 0x1234
    csrw mhpmcounter19, a0
    csrr a1, mhpmcounter19
    CHECK a1, 0
    csrw mhpmevent4, a0
    csrr a1, mhpmevent4
    CHECK a1, 0x1234

    # mcountinhibit stops mcycle/minstret; menvcfg/senvcfg keep FIOM only
    li a0, 5
    csrw mcountinhibit, a0
    csrr a1, mcountinhibit
    CHECK a1, 5
    csrr a1, minstret
    nop
    csrr a2, minstret
    CHECKR a1, a2
    csrw mcycle, zero
    csrr a1, mcycle
    CHECK a1, 0
    csrw mcountinhibit, zero
    li a0, -1
    csrw menvcfg, a0
    csrr a1, menvcfg
    CHECK a1, 1
    csrw senvcfg, a0
    csrr a1, senvcfg
    CHECK a1, 1
    csrw menvcfg, zero
    csrw senvcfg, zero
    # plain read/write S CSRs
    li a0, 0x80001000
    csrw stvec, a0
    csrr a1, stvec
    CHECKR a1, a0
    li a0, 0x1234
    csrw scause, a0
    csrr a1, scause
    CHECK a1, 0x1234
    csrw stval, a0
    csrr a1, stval
    CHECK a1, 0x1234
    csrw mtval, a0
    csrr a1, mtval
    CHECK a1, 0x1234
    csrw scounteren, a0
    csrr a1, scounteren
    CHECK a1, 0x1234
    csrw scounteren, zero

    # --- Counters ---
    csrr a0, instret
    csrr a1, instret
    sub a0, a1, a0
    CHECK a0, 1
    csrr a0, minstret
    nop
    nop
    csrr a1, minstret
    sub a0, a1, a0
    CHECK a0, 3
    li a0, 1000
    csrw minstret, a0
    csrr a1, minstret
    CHECK a1, 1000
    csrr a0, cycle
    csrr a0, time
    # U without mcounteren: illegal; with both enables: allowed
    csrw mcounteren, zero
    ENTER 0, 13f
13: rdcycle a0
    rdtime a0
    RESUME m_trap_info, 12f
    ecall
12: CHECK_TRAP m_trap_info, 8, 0
    CHECK_TRAP_COUNT m_trap_info, 28
    li a0, 7
    csrw mcounteren, a0
    csrw scounteren, a0
    RESUME m_trap_info, 14f
    ENTER 0, 15f
15: rdinstret a0
    rdtime a1
    ecall
14: CHECK_TRAP_COUNT m_trap_info, 29
    csrw mcounteren, zero
    csrw scounteren, zero

    # --- Vectored interrupts ---
    la a0, mvec
    ori a0, a0, 1
    csrw mtvec, a0
    li a0, 0x88
    csrw mie, a0
    csrsi mstatus, 8
    # MSIP raised by the board: taken at the next block boundary
    li a0, TESTDEV
    li a1, 1
    sd a1, 32(a0)
    j 16f
16: CHECK s1, 3
    # MSIP and MTIP both pending: software first, then timer
    li s1, 0
    csrci mstatus, 8
    li a0, TESTDEV
    li a1, 1
    sd a1, 32(a0)
    sd a1, 48(a0)
    csrsi mstatus, 8
    j 17f
17: CHECK s1, 3
    CHECK s2, 7
    # With MIE clear in M, pending interrupts wait...
    csrci mstatus, 8
    li s1, 0
    li a0, TESTDEV
    li a1, 1
    sd a1, 32(a0)
    j 18f
18: CHECK s1, 0
    csrr a0, mip
    CHECK a0, 0x8
    # ...but an M interrupt preempts S regardless of MIE
    RESUME m_trap_info, 19f
    ENTER 1, 20f
20: j 21f
21: ecall
19: CHECK s1, 3
    CHECK_TRAP m_trap_info, 9, 0

    # wfi with MIE off: the board raises MTIP, wfi completes, no trap
    csrci mstatus, 8
    li a0, 0x80
    csrw mie, a0
    li s1, 0
    wfi
    csrr a0, mip
    andi a0, a0, 0x80
    CHECK a0, 0x80
    CHECK s1, 0
    li a0, TESTDEV
    sd zero, 48(a0)
    csrr a0, mip
    CHECK a0, 0

    # Delegated supervisor software interrupt, vectored stvec, taken in U
    la a0, svec
    ori a0, a0, 1
    csrw stvec, a0
    li a0, 2
    csrw mideleg, a0
    csrw mie, a0
    li s1, 0
    csrs mip, a0
    RESUME m_trap_info, 22f
    ENTER 0, 23f
23: j 24f
24: ecall
22: CHECK s1, 1
    la t3, m_trap_info
    ld a0, TI_CAUSE(t3)
    CHECK a0, 8
    csrr a0, scause
    CHECK a0, 0x8000000000000001
    # taken as soon as U is entered, before its first instruction
    csrr a0, sepc
    la a1, 23b
    CHECKR a0, a1

    # mip.SEIP reads as software bit | external line, but csrs/csrc do not
    # latch the line into the software bit
    csrw mie, zero
    csrw mideleg, zero
    li a0, TESTDEV
    li a1, 1
    sd a1, 40(a0)
    csrr a2, mip
    CHECK a2, 0x200
    csrsi mip, 2
    csrr a2, mip
    CHECK a2, 0x202
    sd zero, 40(a0)
    csrr a2, mip
    CHECK a2, 0x002
    # the software SEIP bit is separate and writable by M
    li a1, 0x200
    csrs mip, a1
    csrr a2, mip
    CHECK a2, 0x202
    csrw mip, zero
    csrr a2, mip
    CHECK a2, 0
    PASS

test_fail_direct:
    li t5, 9999
    li t4, 0
    li t6, 0
    j test_fail

# Vector tables: entry n at base + 4n.  The handlers record the cause in
# s1 (first) / s2 (second) and clear the source.
    .option push
    .option norvc
    .align 8
mvec:
    j m_trap                # exceptions use the base address
    .rept 2
    j test_fail_direct
    .endr
    j m_soft
    .rept 3
    j test_fail_direct
    .endr
    j m_timer
    .rept 8
    j test_fail_direct
    .endr
    .option pop
m_soft:
    li t3, TESTDEV
    sd zero, 32(t3)
    csrr t3, mcause
    slli t3, t3, 1
    srli t3, t3, 1
    mv s1, t3
    mret
m_timer:
    li t3, TESTDEV
    sd zero, 48(t3)
    csrr s2, mcause
    slli s2, s2, 1
    srli s2, s2, 1
    mret

    .option push
    .option norvc
    .align 8
svec:
    j s_trap
    j s_soft
    .rept 14
    j test_fail_direct
    .endr
    .option pop
s_soft:
    csrci sip, 2
    li s1, 1
    sret
