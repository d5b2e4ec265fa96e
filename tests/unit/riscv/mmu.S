# Sv39/Sv48/Sv57 paging (mappings, faults with stval, hardware A/D updates,
# superpages, SUM/MXR, MPRV, sfence.vma, page-crossing accesses) and PMP
# (NAPOT/TOR/NA4, locked entries, WARL).
    .include "common.inc"

    .equ PTE_V, 0x01
    .equ PTE_R, 0x02
    .equ PTE_W, 0x04
    .equ PTE_X, 0x08
    .equ PTE_U, 0x10
    .equ PTE_A, 0x40
    .equ PTE_D, 0x80

# reg <- PTE pointing at the page whose address is in src, with flags.
    .macro MKPTE reg, src, flags
    srli \reg, \src, 12
    slli \reg, \reg, 10
    ori \reg, \reg, \flags
    .endm

    .macro ENTER_S label
    li t3, 0x1800
    csrc mstatus, t3
    li t3, 1 << 11
    csrs mstatus, t3
    la t3, \label
    csrw mepc, t3
    mret
    .endm

    .text
main:
    la s0, pt_l2
    la s1, pt_l1
    la s2, pt_l0
    # L2[0]: identity gigapage for devices (RW); L2[2]: identity for RAM
    li a0, (0x0 << 10) | PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
    sd a0, 0(s0)
    li a0, (0x80000 << 10) | PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D
    sd a0, 16(s0)
    # L2[1] -> L1 -> L0 for VA 0x40000000..
    MKPTE a0, s1, PTE_V
    sd a0, 8(s0)
    MKPTE a0, s2, PTE_V
    sd a0, 0(s1)
    # L1[1]: 2 MiB page VA 0x40200000 -> PA 0x80200000
    li a0, (0x80200 << 10) | PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
    sd a0, 8(s1)
    # L1[2]: misaligned megapage (PA 0x80201000)
    li a0, (0x80201 << 10) | PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
    sd a0, 16(s1)
    # L0[0] RW without A/D; L0[1] read-only; L0[2] invalid; L0[3] user;
    # L0[4] execute-only
    la a1, target_page
    MKPTE a0, a1, PTE_V | PTE_R | PTE_W
    sd a0, 0(s2)
    MKPTE a0, a1, PTE_V | PTE_R | PTE_A
    sd a0, 8(s2)
    la a1, user_page
    MKPTE a0, a1, PTE_V | PTE_R | PTE_W | PTE_U | PTE_A | PTE_D
    sd a0, 24(s2)
    la a1, xonly_page
    MKPTE a0, a1, PTE_V | PTE_X | PTE_A
    sd a0, 32(s2)
    # data behind the megapage
    li a0, 0x80201230
    li a1, 0x5555
    sd a1, 0(a0)
    # satp = Sv39 | root
    srli a0, s0, 12
    li a1, 8 << 60
    or a0, a0, a1
    csrw satp, a0
    sfence.vma
    # instruction and load page faults go to S
    li a0, (1 << 12) | (1 << 13)
    csrw medeleg, a0
    ENTER_S s_code

s_code:
    li s3, 0x40000000
    # read: sets A only
    ld a0, 0(s3)
    CHECK a0, 0x1111
    ld a0, 0(s2)
    andi a0, a0, PTE_A | PTE_D
    CHECK a0, PTE_A
    # write: sets D
    li a1, 0x1112
    sd a1, 0(s3)
    ld a0, 0(s2)
    andi a0, a0, PTE_A | PTE_D
    CHECK a0, PTE_A | PTE_D
    la a2, target_page
    ld a0, 0(a2)
    CHECK a0, 0x1112
    # store to a read-only page: store page fault (to M), stval = VA
    li a4, 0x40001008
    sd a1, 0(a4)
    CHECK_TRAP m_trap_info, 15, 0x40001008
    ld a0, 0(a4)
    CHECK a0, 0x1113
    # invalid PTE: load page fault delegated to S
    li a4, 0x40002010
    ld a0, 0(a4)
    CHECK_TRAP s_trap_info, 13, 0x40002010
    # user page from S: only with SUM
    li a4, 0x40003000
    ld a0, 0(a4)
    CHECK_TRAP s_trap_info, 13, 0x40003000
    li a5, 1 << 18
    csrs sstatus, a5
    ld a0, 0(a4)
    CHECK a0, 0x4444
    csrc sstatus, a5
    # execute-only page: readable only with MXR
    li a4, 0x40004000
    ld a0, 0(a4)
    CHECK_TRAP s_trap_info, 13, 0x40004000
    li a5, 1 << 19
    csrs sstatus, a5
    ld a0, 0(a4)
    CHECK a0, 0x3333
    csrc sstatus, a5
    CHECK_TRAP_COUNT s_trap_info, 3
    # megapage
    li a4, 0x40201230
    ld a0, 0(a4)
    CHECK a0, 0x5555
    # misaligned megapage
    li a4, 0x40400000
    ld a0, 0(a4)
    CHECK_TRAP s_trap_info, 13, 0x40400000
    # non-canonical address
    li a4, 0x4000000000
    ld a0, 0(a4)
    CHECK_TRAP s_trap_info, 13, 0x4000000000
    # misaligned load within a page is emulated
    ld a0, 1(s3)
    CHECK a0, 0x1300000000000011
    # page-crossing store into the read-only page: fault on the second
    # page, nothing written to the first
    li a4, 0x40000ffc
    li a1, -1
    sd a1, 0(a4)
    CHECK_TRAP m_trap_info, 15, 0x40001000
    lwu a0, 0(a4)
    CHECK a0, 0
    # page-crossing load: VA 0x40001000 maps target_page again
    ld a0, 0(a4)
    CHECK a0, 0x0000111200000000
    # instruction page faults (delegated): invalid page, user page
    RESUME s_trap_info, 1f
    li a4, 0x40002000
    jr a4
1:  CHECK_TRAP s_trap_info, 12, 0x40002000
    RESUME s_trap_info, 2f
    li a4, 0x40003000
    jr a4
2:  CHECK_TRAP s_trap_info, 12, 0x40003000
    # remap VA 0x40000000 to other_page; sfence.vma makes it visible
    la a1, other_page
    MKPTE a0, a1, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
    sd a0, 0(s2)
    sfence.vma
    ld a0, 0(s3)
    CHECK a0, 0x2222
    RESUME m_trap_info, m_phase2
    ecall

m_phase2:
    CHECK_TRAP m_trap_info, 9, 0
    # MPRV with MPP=S: M-mode loads are translated
    li a0, 0x1800
    csrc mstatus, a0
    li a0, (1 << 17) | (1 << 11)
    csrs mstatus, a0
    li s3, 0x40000000
    ld a0, 0(s3)
    li a1, 1 << 17
    csrc mstatus, a1
    CHECK a0, 0x2222
    # MPRV with the reserved MPP=2 (QEMU 7.2): only U pages, with SUM
    li s9, (1 << 17) | (2 << 11)
    li s10, (1 << 17) | 0x1800
    csrc mstatus, s10
    csrs mstatus, s9
    ld a0, 0(s3)
    csrc mstatus, s10
    CHECK_TRAP m_trap_info, 13, 0x40000000
    li a4, 0x40003000
    csrs mstatus, s9
    ld a0, 0(a4)
    csrc mstatus, s10
    CHECK_TRAP m_trap_info, 13, 0x40003000
    li a0, 0x77
    li a1, 1 << 18
    csrs mstatus, a1
    csrs mstatus, s9
    ld a0, 0(a4)
    csrc mstatus, s10
    csrc mstatus, a1
    CHECK a0, 0x4444
    # Sv48: a level-3 root whose entry 0 is the Sv39 root
    la s4, pt_l3
    MKPTE a0, s0, PTE_V
    sd a0, 0(s4)
    srli a0, s4, 12
    li a1, 9 << 60
    or a0, a0, a1
    csrw satp, a0
    csrr a1, satp
    CHECKR a1, a0
    ENTER_S s_code48
s_code48:
    ld a0, 0(s3)
    CHECK a0, 0x2222
    li a4, 0x40002000
    ld a0, 0(a4)
    CHECK_TRAP s_trap_info, 13, 0x40002000
    # bits 63:48 must equal bit 47
    li a4, 0x0001000040000000
    ld a0, 0(a4)
    CHECK_TRAP s_trap_info, 13, 0x0001000040000000
    RESUME m_trap_info, m_phase57
    ecall

m_phase57:
    # Sv57: a level-4 root whose entry 0 is the Sv48 root; entry 1 a
    # level-4 leaf (256 TiB at PA 0), entry 2 the same but misaligned
    la s8, pt_l4
    MKPTE a0, s4, PTE_V
    sd a0, 0(s8)
    li a0, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
    sd a0, 8(s8)
    li a0, (1 << 10) | PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
    sd a0, 16(s8)
    srli a0, s8, 12
    li a1, 10 << 60
    or a0, a0, a1
    csrw satp, a0
    csrr a1, satp
    CHECKR a1, a0
    sfence.vma
    ENTER_S s_code57
s_code57:
    # through five levels to the 4 KiB page
    ld a0, 0(s3)
    CHECK a0, 0x2222
    # the level-4 leaf: VA (1 << 48) + PA
    li a4, (1 << 48) + 0x80201230
    ld a0, 0(a4)
    CHECK a0, 0x5555
    # misaligned level-4 leaf
    li a4, (2 << 48) + 0x80201230
    ld a0, 0(a4)
    CHECK_TRAP s_trap_info, 13, (2 << 48) + 0x80201230
    # invalid root entry
    li a4, (3 << 48)
    ld a0, 0(a4)
    CHECK_TRAP s_trap_info, 13, (3 << 48)
    # bits 63:57 must equal bit 56
    li a4, 0x0100000000000000
    ld a0, 0(a4)
    CHECK_TRAP s_trap_info, 13, 0x0100000000000000
    RESUME m_trap_info, m_phase3
    ecall

m_phase3:
    csrw satp, zero
    csrw medeleg, zero
    sfence.vma

    # --- PMP ---
    # WARL: W without R is reserved
    li a0, 0x1a
    csrw pmpcfg0, a0
    csrr a0, pmpcfg0
    CHECK a0, 0x18
    # entry 0: NAPOT 4 KiB at pmp_page, no permissions
    la s5, pmp_page
    srli a0, s5, 2
    ori a0, a0, (4096 / 8 - 1)
    csrw pmpaddr0, a0
    # entries 1-2: TOR [ro_page, ro_page + 4096) read-only
    la s6, ro_page
    srli a0, s6, 2
    csrw pmpaddr1, a0
    li a1, 4096
    add a0, s6, a1
    srli a0, a0, 2
    csrw pmpaddr2, a0
    # entry 3: NA4 on the first word of na4_page, read-only
    la s7, na4_page
    srli a0, s7, 2
    csrw pmpaddr3, a0
    li a0, 0x11090018
    csrw pmpcfg0, a0
    csrr a1, pmpcfg0
    CHECKR a1, a0
    # M ignores unlocked entries
    ld a0, 0(s5)
    sd a0, 0(s6)
    ENTER_S s_pmp
s_pmp:
    ld a0, 0(s5)
    la t3, m_trap_info
    ld a0, TI_CAUSE(t3)
    CHECK a0, 5
    ld a0, TI_TVAL(t3)
    CHECKR a0, s5
    ld a0, 0(s6)
    sd a0, 8(s6)
    la t3, m_trap_info
    ld a0, TI_CAUSE(t3)
    CHECK a0, 7
    ld a0, TI_TVAL(t3)
    addi a1, s6, 8
    CHECKR a0, a1
    # NA4: the word is read-only, its neighbour is not covered by it
    lw a0, 0(s7)
    sw a0, 4(s7)
    CHECK_TRAP_COUNT m_trap_info, 9
    sw a0, 0(s7)
    la t3, m_trap_info
    ld a0, TI_CAUSE(t3)
    CHECK a0, 7
    ld a0, TI_TVAL(t3)
    CHECKR a0, s7
    # an 8-byte load straddling the NA4 entry fails
    ld a0, 0(s7)
    la t3, m_trap_info
    ld a0, TI_CAUSE(t3)
    CHECK a0, 5
    # instruction fetch from a page without X
    RESUME m_trap_info, m_phase4
    jr s5

m_phase4:
    la t3, m_trap_info
    ld a0, TI_CAUSE(t3)
    CHECK a0, 1
    ld a0, TI_TVAL(t3)
    CHECKR a0, s5
    # locked entry 0 now binds M too, and cannot be changed
    li a0, 0x80
    csrs pmpcfg0, a0
    ld a0, 0(s5)
    la t3, m_trap_info
    ld a0, TI_CAUSE(t3)
    CHECK a0, 5
    li a0, 0x1f
    csrw pmpcfg0, a0
    csrr a0, pmpcfg0
    andi a0, a0, 0xff
    CHECK a0, 0x98
    csrw pmpaddr0, zero
    csrr a0, pmpaddr0
    beqz a0, test_fail_direct
    # access fault on a device that refuses the access
    li a0, 0x10000100
    lw a1, 0(a0)
    CHECK_TRAP m_trap_info, 5, 0x10000100
    sw a1, 0(a0)
    CHECK_TRAP m_trap_info, 7, 0x10000100
    # the scratch device reads back what was written
    li a0, 0x10000010
    li a1, 0x77
    sd a1, 0(a0)
    ld a2, 0(a0)
    CHECK a2, 0x77
    # misaligned MMIO load: split into the two aligned accesses of its
    # size that cover it (as QEMU 7.2): 0x77 at +0x10, and the scratch
    # pattern 0x0123456789abcdef ^ addr at +0x14
    li a3, 99
    la t3, m_trap_info
    sd zero, TI_COUNT(t3)
    lw a1, 2(a0)
    CHECK a1, 0xffffffffcdfb0000
    # lhu at +0x23: halves at +0x22 (0xcdcd) and +0x24 (0xcdcb)
    lhu a1, 0x13(a0)
    CHECK a1, 0xcbcd
    CHECK_TRAP_COUNT m_trap_info, 0
    # a piece that faults reports its own address
    li a0, 0x100000fe
    lw a1, 0(a0)
    CHECK_TRAP m_trap_info, 5, 0x10000100
    # misaligned MMIO store: byte by byte, lowest first; the byte at +0xff
    # is written before the one at +0x100 faults
    li a0, 0x100000ff
    li a1, 0x1234
    sh a1, 0(a0)
    CHECK_TRAP m_trap_info, 7, 0x10000100
    lbu a2, 0(a0)
    CHECK a2, 0x34
    PASS

test_fail_direct:
    li t5, 9999
    li t4, 0
    li t6, 0
    j test_fail

    .data
    .align 12
pt_l4: .fill 512, 8, 0
pt_l3: .fill 512, 8, 0
pt_l2: .fill 512, 8, 0
pt_l1: .fill 512, 8, 0
pt_l0: .fill 512, 8, 0
target_page:
    .dword 0x1111
    .dword 0x1113
    .fill 510, 8, 0
other_page:
    .dword 0x2222
    .dword 0x2222
    .fill 510, 8, 0
user_page:
    .dword 0x4444
    .fill 511, 8, 0
xonly_page:
    .dword 0x3333
    .fill 511, 8, 0
pmp_page:
    .dword 0x6666
    .fill 511, 8, 0
ro_page:
    .fill 512, 8, 0
na4_page:
    .fill 512, 8, 0
