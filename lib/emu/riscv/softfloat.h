/*
 * IEEE 754 binary32/binary64 arithmetic in software, with RISC-V's
 * choices: tininess detected after rounding, NaN results are always the
 * canonical NaN, five rounding modes (including round-to-max-magnitude,
 * which host FPUs lack).  Values are raw bit patterns (binary32 in the low
 * 32 bits).  Exception flags are ORed into *fl using the fflags layout.
 */
#ifndef QX_EMU_RISCV_SOFTFLOAT_H
#define QX_EMU_RISCV_SOFTFLOAT_H

#include <stdbool.h>
#include <stdint.h>

enum {
    SF_RNE = 0,   /* to nearest, ties to even */
    SF_RTZ = 1,   /* towards zero */
    SF_RDN = 2,   /* down */
    SF_RUP = 3,   /* up */
    SF_RMM = 4,   /* to nearest, ties to max magnitude */
};

enum {
    SF_NX = 1,    /* inexact */
    SF_UF = 2,    /* underflow */
    SF_OF = 4,    /* overflow */
    SF_DZ = 8,    /* divide by zero */
    SF_NV = 16,   /* invalid */
};

typedef struct SfFmt {
    unsigned ebits;   /* exponent bits */
    unsigned fbits;   /* fraction bits */
} SfFmt;

extern const SfFmt sf_f32;
extern const SfFmt sf_f64;

uint64_t sf_default_nan(const SfFmt *f);

uint64_t sf_add(const SfFmt *f, uint64_t a, uint64_t b, int rm,
                unsigned *fl);
uint64_t sf_sub(const SfFmt *f, uint64_t a, uint64_t b, int rm,
                unsigned *fl);
uint64_t sf_mul(const SfFmt *f, uint64_t a, uint64_t b, int rm,
                unsigned *fl);
uint64_t sf_div(const SfFmt *f, uint64_t a, uint64_t b, int rm,
                unsigned *fl);
uint64_t sf_sqrt(const SfFmt *f, uint64_t a, int rm, unsigned *fl);
/* a * b + c with a single rounding. */
uint64_t sf_fma(const SfFmt *f, uint64_t a, uint64_t b, uint64_t c, int rm,
                unsigned *fl);

/*
 * Float to integer of 'bits' (32 or 64) bits, signed or not, with RISC-V
 * saturation; 32-bit results are sign-extended to 64 bits.
 */
uint64_t sf_to_int(const SfFmt *f, uint64_t a, bool is_signed,
                   unsigned bits, int rm, unsigned *fl);
/* Integer (low 'bits' bits of v, signed or not) to float. */
uint64_t sf_from_int(const SfFmt *f, uint64_t v, bool is_signed,
                     unsigned bits, int rm, unsigned *fl);
/* Format conversion. */
uint64_t sf_convert(const SfFmt *to, const SfFmt *from, uint64_t a, int rm,
                    unsigned *fl);

/* feq (quiet), flt and fle (signaling). */
bool sf_eq(const SfFmt *f, uint64_t a, uint64_t b, unsigned *fl);
bool sf_lt(const SfFmt *f, uint64_t a, uint64_t b, unsigned *fl);
bool sf_le(const SfFmt *f, uint64_t a, uint64_t b, unsigned *fl);
/* fmin/fmax of the F/D 2.2 spec (-0 < +0, NaN only if both are NaN). */
uint64_t sf_min(const SfFmt *f, uint64_t a, uint64_t b, unsigned *fl);
uint64_t sf_max(const SfFmt *f, uint64_t a, uint64_t b, unsigned *fl);
/* fclass mask. */
unsigned sf_classify(const SfFmt *f, uint64_t a);

#endif
