# RV64I/M ALU results, compressed encodings, loads/stores of every width,
# misaligned and page-crossing accesses.
    .include "common.inc"
    .text
main:
    # --- RV64I arithmetic and logic ---
    li a0, 0x7fffffffffffffff
    addi a1, a0, 1
    CHECK a1, 0x8000000000000000
    li a0, -5
    li a1, 3
    slt a2, a0, a1
    CHECK a2, 1
    sltu a2, a0, a1
    CHECK a2, 0
    slti a2, a0, -4
    CHECK a2, 1
    sltiu a2, a1, -1
    CHECK a2, 1
    xori a2, a0, -1
    CHECK a2, 4
    li a0, 0x8000000000000001
    srai a2, a0, 63
    CHECK a2, -1
    srli a2, a0, 63
    CHECK a2, 1
    slli a2, a0, 63
    CHECK a2, 0x8000000000000000
    li a1, 65
    sll a2, a0, a1
    CHECK a2, 2
    sra a2, a0, a1
    CHECK a2, 0xc000000000000000
    # W forms sign-extend 32-bit results
    li a0, 0x7fffffff
    addiw a2, a0, 1
    CHECK a2, 0xffffffff80000000
    li a0, 0x123456789
    addw a2, a0, zero
    CHECK a2, 0x23456789
    li a0, 0x80000000
    sraiw a2, a0, 4
    CHECK a2, 0xfffffffff8000000
    srliw a2, a0, 4
    CHECK a2, 0x08000000
    slliw a2, a0, 1
    CHECK a2, 0
    li a1, 33
    sllw a2, a0, a1
    CHECK a2, 0
    li a0, 1
    sllw a2, a0, a1
    CHECK a2, 2
    li a0, 5
    li a1, 7
    subw a2, a0, a1
    CHECK a2, -2
    lui a2, 0x80000
    CHECK a2, 0xffffffff80000000
7:  auipc a2, 0
    la a3, 7b
    CHECKR a2, a3
    # writes to x0 are discarded
    li x0, 5
    addi x0, x0, 7
    CHECK x0, 0

    li a0, 0x8000000000000000
    li a1, 67
    srl a2, a0, a1
    CHECK a2, 0x1000000000000000
    li a0, 0xffffffff80000000
    li a1, 35
    srlw a2, a0, a1
    CHECK a2, 0x10000000
    sraw a2, a0, a1
    CHECK a2, 0xfffffffff0000000
    fence
    fence rw, w
    fence.tso

    # --- Branches, taken and not taken ---
    li a0, -1
    li a1, 1
    blt a0, a1, 1f
    j test_fail_direct
1:  blt a1, a0, test_fail_direct
    bge a1, a0, 2f
    j test_fail_direct
2:  bge a0, a1, test_fail_direct
    bge a0, a0, 3f
    j test_fail_direct
3:  bltu a1, a0, 4f
    j test_fail_direct
4:  bltu a0, a1, test_fail_direct
    bgeu a0, a1, 5f
    j test_fail_direct
5:  bgeu a1, a0, test_fail_direct
    beq a0, a1, test_fail_direct
    bne a0, a0, test_fail_direct

    # --- M extension corner cases ---
    li a0, -100
    li a1, 7
    divw a2, a0, a1
    CHECK a2, -14
    remw a2, a0, a1
    CHECK a2, -2
    divu a2, a0, a1
    CHECK a2, 0x2492492492492484
    remu a2, a0, a1
    CHECK a2, 0
    li a0, 7
    li a1, 0
    div a2, a0, a1
    CHECK a2, -1
    divu a2, a0, a1
    CHECK a2, -1
    rem a2, a0, a1
    CHECK a2, 7
    remu a2, a0, a1
    CHECK a2, 7
    divw a2, a0, a1
    CHECK a2, -1
    remw a2, a0, a1
    CHECK a2, 7
    li a0, 0x8000000000000000
    li a1, -1
    div a2, a0, a1
    CHECK a2, 0x8000000000000000
    rem a2, a0, a1
    CHECK a2, 0
    li a0, 0xffffffff80000000
    divw a2, a0, a1
    CHECK a2, 0xffffffff80000000
    remw a2, a0, a1
    CHECK a2, 0
    li a0, -7
    li a1, 2
    div a2, a0, a1
    CHECK a2, -3
    rem a2, a0, a1
    CHECK a2, -1
    li a0, 0xfffffff9
    divuw a2, a0, a1
    CHECK a2, 0x7ffffffc
    remuw a2, a0, a1
    CHECK a2, 1
    li a0, 0x80000000
    li a1, 0
    divuw a2, a0, a1
    CHECK a2, -1
    remuw a2, a0, a1
    CHECK a2, 0xffffffff80000000
    li a0, -1
    li a1, -1
    mul a2, a0, a1
    CHECK a2, 1
    mulh a2, a0, a1
    CHECK a2, 0
    mulhu a2, a0, a1
    CHECK a2, 0xfffffffffffffffe
    mulhsu a2, a0, a1
    CHECK a2, -1
    li a0, 0x8000000000000000
    mulh a2, a0, a0
    CHECK a2, 0x4000000000000000
    li a1, 2
    mulhsu a2, a0, a1
    CHECK a2, -1
    li a0, 0x7fffffff
    mulw a2, a0, a0
    CHECK a2, 1
    li a0, 0x10000
    mulw a2, a0, a0
    CHECK a2, 0

    # --- Compressed instructions (explicit c.* forms) ---
    li a0, 10
    c.addi a0, -3
    CHECK a0, 7
    c.li a1, -32
    CHECK a1, -32
    c.lui a1, 0xfffe0
    CHECK a1, 0xfffffffffffe0000
    c.slli a0, 60
    CHECK a0, 0x7000000000000000
    c.srli a0, 60
    CHECK a0, 7
    li s0, -16
    c.srai s0, 2
    CHECK s0, -4
    c.andi s0, 6
    CHECK s0, 4
    li s1, 3
    c.sub s0, s1
    CHECK s0, 1
    c.xor s0, s1
    CHECK s0, 2
    c.or s0, s1
    CHECK s0, 3
    li s1, 1
    c.and s0, s1
    CHECK s0, 1
    li s0, 0x7fffffff
    c.addw s0, s1
    CHECK s0, 0xffffffff80000000
    c.subw s0, s1
    CHECK s0, 0x7fffffff
    li a0, 0x7fffffff
    c.addiw a0, 1
    CHECK a0, 0xffffffff80000000
    c.mv a1, a0
    CHECK a1, 0xffffffff80000000
    li a1, 5
    c.add a1, a1
    CHECK a1, 10
    mv s2, sp
    la sp, scratch
    c.addi16sp sp, 64
    la a0, scratch + 64
    CHECKR sp, a0
    c.addi4spn a1, sp, 16
    addi a0, a0, 16
    CHECKR a1, a0
    # c.lwsp/c.swsp/c.ldsp/c.sdsp/c.lw/c.sw/c.ld/c.sd
    li a0, 0x1122334455667788
    c.sdsp a0, 8(sp)
    c.ldsp a2, 8(sp)
    CHECK a2, 0x1122334455667788
    c.lwsp a2, 12(sp)
    CHECK a2, 0x11223344
    li a0, 0x89abcdef
    c.swsp a0, 16(sp)
    c.lwsp a2, 16(sp)
    CHECK a2, 0xffffffff89abcdef
    mv s0, sp
    c.lw a2, 16(s0)
    CHECK a2, 0xffffffff89abcdef
    c.sw s1, 20(s0)
    c.ld a3, 16(s0)
    CHECK a3, 0x0000000189abcdef
    c.sd a3, 24(s0)
    ld a4, 24(sp)
    CHECK a4, 0x0000000189abcdef
    mv sp, s2
    # c.j / c.jal-less jumps, c.jr, c.jalr, c.beqz, c.bnez
    li s0, 0
    c.beqz s0, 1f
    j test_fail_direct
1:  c.bnez s0, test_fail_direct
    la a0, 2f
    c.jr a0
    j test_fail_direct
2:  la a0, 3f
    c.jalr a0
4:  j 5f
3:  la a1, 4b
    CHECKR ra, a1
    ret
5:  c.j 6f
    j test_fail_direct
6:  c.nop

    # --- Loads and stores of every width ---
    la s0, scratch
    li a0, 0x8081828384858687
    sd a0, 0(s0)
    lb a1, 0(s0)
    CHECK a1, 0xffffffffffffff87
    lbu a1, 0(s0)
    CHECK a1, 0x87
    lh a1, 0(s0)
    CHECK a1, 0xffffffffffff8687
    lhu a1, 0(s0)
    CHECK a1, 0x8687
    lw a1, 4(s0)
    CHECK a1, 0xffffffff80818283
    lwu a1, 4(s0)
    CHECK a1, 0x80818283
    ld a1, 0(s0)
    CHECK a1, 0x8081828384858687
    li a0, 0x1234
    sb a0, 1(s0)
    sh a0, 2(s0)
    sw a0, 4(s0)
    ld a1, 0(s0)
    CHECK a1, 0x0000123412343487
    lb a1, -1(s0)
    addi s1, s0, 8
    lw a1, -8(s1)
    CHECK a1, 0x12343487

    # --- Misaligned accesses (emulated) ---
    li a0, 0x0102030405060708
    sd a0, 1(s0)
    ld a1, 1(s0)
    CHECK a1, 0x0102030405060708
    lw a1, 3(s0)
    CHECK a1, 0x03040506
    lh a1, 7(s0)
    CHECK a1, 0x0102
    lhu a1, 5(s0)
    CHECK a1, 0x0304
    lbu a1, 0(s0)
    CHECK a1, 0x87
    # Page-crossing: scratch_end is the last byte of a page
    la s1, page_end
    li a0, 0xa1a2a3a4a5a6a7a8
    sd a0, -3(s1)
    ld a1, -3(s1)
    CHECK a1, 0xa1a2a3a4a5a6a7a8
    lbu a1, -3(s1)
    CHECK a1, 0xa8
    lbu a1, 4(s1)
    CHECK a1, 0xa1
    lw a1, -1(s1)
    CHECK a1, 0xffffffffa3a4a5a6
    # No trap was taken so far
    CHECK_TRAP_COUNT m_trap_info, 0
    PASS

test_fail_direct:
    li t5, 9999
    li t4, 0
    li t6, 0
    j test_fail

    .data
    .align 4
scratch: .fill 64, 8, 0
    .align 12
    .fill 4096, 1, 0
page_end:
    .fill 64, 1, 0
