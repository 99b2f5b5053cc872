/*
 * The gather-attention core, instantiated for every (precision, LMUL) pair from
 * attend_core.h, and the run-time lookup main.c uses to pick one.
 */
#include <riscv_vector.h>
#include <string.h>

#include "sattn_rvv.h"


/* attend_lmuls.h instantiates the core at LMUL 1, 2, 4 and 8 for the current PREC. */
#define PREC PREC_FP32
#include "attend_lmuls.h"
#undef PREC

#define PREC PREC_BF16
#include "attend_lmuls.h"
#undef PREC

#define PREC PREC_I8
#include "attend_lmuls.h"
#undef PREC

#define PREC PREC_I4
#include "attend_lmuls.h"
#undef PREC

static const attend_fn table[PREC_COUNT][4] = {
    {attend_fp32_m1, attend_fp32_m2, attend_fp32_m4, attend_fp32_m8},
    {attend_bf16_m1, attend_bf16_m2, attend_bf16_m4, attend_bf16_m8},
    {attend_i8_m1, attend_i8_m2, attend_i8_m4, attend_i8_m8},
    {attend_i4_m1, attend_i4_m2, attend_i4_m4, attend_i4_m8},
};

static const attend2_fn table2[PREC_COUNT][4] = {
    {attend2_fp32_m1, attend2_fp32_m2, attend2_fp32_m4, attend2_fp32_m8},
    {attend2_bf16_m1, attend2_bf16_m2, attend2_bf16_m4, attend2_bf16_m8},
    {attend2_i8_m1, attend2_i8_m2, attend2_i8_m4, attend2_i8_m8},
    {0, 0, 0, 0}, /* i4: rows run one at a time */
};

/* The core's exp2 (x <= 0) for the other kernels (nsa.c's compressed softmax). */
vfloat32m8_t vexp2_f32(vfloat32m8_t x, size_t vl) { return vexp2_m8(x, vl); }

attend2_fn attend2_lookup(long prec, long lmul) {
    int li = lmul == 1 ? 0 : lmul == 2 ? 1 : lmul == 4 ? 2 : lmul == 8 ? 3 : -1;
    if (prec < 0 || prec >= PREC_COUNT || li < 0) return 0;
    return table2[prec][li];
}

attend_scored2_fn attend_scored2_lookup(long prec, long lmul) {
    static const attend_scored2_fn fp32[4] = {attend_scored2_fp32_m1, attend_scored2_fp32_m2,
                                              attend_scored2_fp32_m4, attend_scored2_fp32_m8};
    int li = lmul == 1 ? 0 : lmul == 2 ? 1 : lmul == 4 ? 2 : lmul == 8 ? 3 : -1;
    return prec == PREC_FP32 && li >= 0 ? fp32[li] : 0;
}

attend_fn attend_lookup(long prec, long lmul) {
    int li = lmul == 1 ? 0 : lmul == 2 ? 1 : lmul == 4 ? 2 : lmul == 8 ? 3 : -1;
    if (prec < 0 || prec >= PREC_COUNT || li < 0) return 0;
    return table[prec][li];
}

size_t attend_scratch_bytes(const ctx_t *c, long max_keys) {
    (void)max_keys;
    const long D = c->D > c->Dv ? c->D : c->Dv; /* q rows are D, accumulators Dv */
    /* qs, qs of a second row and both interleaved (<= 4 bytes per d) + two accumulators (D floats each) + pbuf (two strips: 2 * 4096/32 * 8 floats)
     * + one V pointer per key of a strip (4096/32 * 8) */
    return (size_t)(6 * ((D + 15) & ~15L) * 4 + 2 * 4096 / 32 * 8 * 4 + 4096 / 32 * 8 * 8 + 256);
}
