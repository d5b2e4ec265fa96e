# Self-modifying code: stores to code followed by fence.i execute the new
# code (in another block, in the block doing the store, in a loop already
# translated, in an instruction straddling two pages).
    .include "common.inc"
    .text
main:
    # --- a function in a data page, rewritten ---
    la s0, smc_func
    jalr s0
    CHECK a0, 1
    la a1, tmpl_li2
    lw a2, 0(a1)
    sw a2, 0(s0)
    fence.i
    jalr s0
    CHECK a0, 2

    # --- patching the instruction after the store, same block ---
    la a1, patch_target
    la a2, tmpl_li42
    lw a2, 0(a2)
    sw a2, 0(a1)
    fence.i
    .option push
    .option norvc
patch_target:
    li a0, 7
    .option pop
    CHECK a0, 42

    # --- a hot loop, patched after it ran ---
    li s1, 0
    li s2, 0
1:  jal loop_body
    addi s1, s1, 1
    li a0, 10
    bne s1, a0, 1b
    CHECK s2, 10
    la a1, loop_body
    la a2, tmpl_addi3
    lw a2, 0(a2)
    sw a2, 0(a1)
    fence.i
    li s1, 0
2:  jal loop_body
    addi s1, s1, 1
    li a0, 10
    bne s1, a0, 2b
    CHECK s2, 40

    # --- a 16-bit instruction replaced by another ---
    la a1, c_target
    la a2, tmpl_cli5
    lhu a2, 0(a2)
    sh a2, 0(a1)
    fence.i
    jal c_func
    CHECK a0, 5

    # --- an instruction straddling two pages ---
    jal straddle
    CHECK a0, 0x12345000
    # rewrite the upper half (on the second page): lui a0, 0x54321
    la a1, straddle_insn
    la a2, tmpl_lui
    lhu a3, 2(a2)
    sh a3, 2(a1)
    lhu a3, 0(a2)
    sh a3, 0(a1)
    fence.i
    jal straddle
    CHECK a0, 0x54321000
    PASS

    .option push
    .option norvc
loop_body:
    addi s2, s2, 1
    ret
c_func:
    .option rvc
c_target:
    c.li a0, 3
    ret
    .option norvc

tmpl_li2:  li a0, 2
tmpl_li42: li a0, 42
tmpl_addi3: addi s2, s2, 3
tmpl_lui:  lui a0, 0x54321
    .option rvc
tmpl_cli5: c.li a0, 5
    .option norvc

    .balign 4096
    .skip 4096 - 6
straddle:
    .option rvc
    c.nop
    c.nop
    .option norvc
straddle_insn:
    lui a0, 0x12345
    ret
    .option pop

    .data
    .align 4
    .option push
    .option norvc
smc_func:
    li a0, 1
    ret
    .option pop
