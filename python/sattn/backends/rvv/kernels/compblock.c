/*
 * Block selection inside the kernel for bsr with NSA-style compression scoring
 * (comp_block_size = C > 0), as sattn.specs.compression defines it, all in fp32:
 *   1. K (dequantised values) mean-pooled into compression blocks of C tokens: the rows
 *      added in row order from +0.0, the sum divided by the row count;
 *   2. every query head of the GQA group: p = softmax_c(Q[h,i] . Kc[c] / fp32(sqrt(D))),
 *      vectorised over the compression blocks (the attention core's vectorised exp2), causal:
 *      blocks starting after i are left out;
 *   3. importance[qb][kb] = sum over the group's heads and qb's rows of the p of the
 *      compression blocks whose first token lies in key block kb;
 *   4. per query block keep keep_blocks key blocks: the diagonal, then the most important
 *      (ties to the lower block; causal: kb <= qb). The heads of a group share the selection.
 * Then every query attends the keys of its kept blocks (causal: j <= i) with bsr's block
 * attention (bsr_attend_qblock: two rows per pass).
 * Sq < S = Skv: query row r sits at position i = off + r and adds to the block of i; only
 * the query blocks from off / B on (those holding query rows) are ranked.
 * The reference computes the same fp32 operations; its exp, its summation orders (BLAS sgemm,
 * pairwise sums) may differ by their rounding, so two key blocks whose importances agree
 * within it may be ranked either way (docs/precision.md).
 */
#include <math.h>
#include <riscv_vector.h>
#include <string.h>

#include "sattn_rvv.h"

/* Values as the precision sees them (i8/i4: code * scale, rounded to float32). */
static void view_row(const ctx_t *c, const uint8_t *row, double scale, float *out) {
    row_to_float(c, row, out);
    if (c->prec == PREC_I8 || c->prec == PREC_I4)
        for (long d = 0; d < c->D; d++) out[d] = (float)((double)out[d] * scale);
}

int run_compblock(ctx_t *c) {
    const long S = c->S, Sq = c->Sq, off = c->off, D = c->D, C = c->comp_block_size,
               B = c->block_size, rb = c->row_bytes;
    const long nc = (S + C - 1) / C, nb = (S + B - 1) / B, keepn = c->keep_blocks, qb0 = off / B;
    attend_fn attend = attend_lookup(c->prec, c->lmul);
    attend2_fn attend2 = attend2_lookup(c->prec, c->lmul);
    void *scratch = xmalloc(attend_scratch_bytes(c, S));
    float *kc = xmalloc((size_t)(nc * D) * 4), *kct = xmalloc((size_t)(nc * D) * 4);
    float *sc = xmalloc((size_t)nc * 4);
    float *pacc = xmalloc((size_t)((nb - qb0) * nc) * 4); /* [query block][compression block] */
    float *row = xmalloc((size_t)nb * 4);
    uint32_t *key = xmalloc((size_t)nb * 4), *work = xmalloc((size_t)nb * 5 * 4);
    float *f = xmalloc((size_t)D * 4);
    int32_t *blk = xmalloc((size_t)nb * 4), *list = xmalloc((size_t)S * 4);
    long cursor = 0;
    const float sqrt_d = sqrtf((float)D);
    for (long g = 0; g < c->Hkv; g++) {
        /* 1. compression keys (fp32 means of the rows as the precision sees them), then
         * transposed to columns [D, nc]: the scoring loop reads one unit-stride vector per d */
        memset(kc, 0, (size_t)(nc * D) * 4);
        for (long j = 0; j < S; j++) {
            view_row(c, c->k + (g * S + j) * rb, c->scales[1], f);
            float *kr = kc + (j / C) * D;
            for (long d = 0; d < D;) {
                size_t vl = __riscv_vsetvl_e32m8((size_t)(D - d));
                __riscv_vse32_v_f32m8(kr + d, __riscv_vfadd_vv_f32m8(__riscv_vle32_v_f32m8(kr + d, vl),
                                                                    __riscv_vle32_v_f32m8(f + d, vl), vl), vl);
                d += (long)vl;
            }
        }
        for (long cb = 0; cb < nc; cb++) {
            const float len = (float)(S - cb * C < C ? S - cb * C : C);
            for (long d = 0; d < D;) {
                size_t vl = __riscv_vsetvl_e32m8((size_t)(D - d));
                __riscv_vsse32_v_f32m8(kct + d * nc + cb, nc * 4,
                                       __riscv_vfdiv_vf_f32m8(__riscv_vle32_v_f32m8(kc + cb * D + d, vl), len, vl), vl);
                d += (long)vl;
            }
        }
        /* 2-3. per query row and head: p = softmax over the visible compression blocks,
         * vectorised over them, added into its query block's row of pacc */
        memset(pacc, 0, (size_t)((nb - qb0) * nc) * 4);
        for (long i = off; i < S; i++) { /* positions of the query rows */
            const long ncand = c->causal ? i / C + 1 : nc; /* blocks starting at or before i */
            float *pr = pacc + (i / B - qb0) * nc;
            for (long h = g * c->group; h < (g + 1) * c->group; h++) {
                view_row(c, c->q + (h * Sq + i - off) * rb, c->scales[0], f);
                vfloat32m1_t mx = __riscv_vfmv_s_f_f32m1(-INFINITY, 1);
                for (long cb = 0; cb < ncand;) {
                    size_t vl = __riscv_vsetvl_e32m8((size_t)(ncand - cb));
                    vfloat32m8_t a = __riscv_vfmv_v_f_f32m8(0.0f, vl);
                    const float *kp = kct + cb;
                    for (long d = 0; d < D; d++, kp += nc)
                        a = __riscv_vfmacc_vf_f32m8(a, f[d], __riscv_vle32_v_f32m8(kp, vl), vl);
                    a = __riscv_vfdiv_vf_f32m8(a, sqrt_d, vl);
                    mx = __riscv_vfredmax_vs_f32m8_f32m1(a, mx, vl);
                    __riscv_vse32_v_f32m8(sc + cb, a, vl);
                    cb += (long)vl;
                }
                const float m = __riscv_vfmv_f_s_f32m1_f32(mx);
                vfloat32m1_t tot = __riscv_vfmv_s_f_f32m1(0.0f, 1);
                for (long cb = 0; cb < ncand;) {
                    size_t vl = __riscv_vsetvl_e32m8((size_t)(ncand - cb));
                    vfloat32m8_t e = vexp2_f32(__riscv_vfmul_vf_f32m8(
                        __riscv_vfsub_vf_f32m8(__riscv_vle32_v_f32m8(sc + cb, vl), m, vl), LOG2E, vl), vl);
                    __riscv_vse32_v_f32m8(sc + cb, e, vl);
                    tot = __riscv_vfredosum_vs_f32m8_f32m1(e, tot, vl);
                    cb += (long)vl;
                }
                const float t = __riscv_vfmv_f_s_f32m1_f32(tot);
                for (long cb = 0; cb < ncand;) {
                    size_t vl = __riscv_vsetvl_e32m8((size_t)(ncand - cb));
                    __riscv_vse32_v_f32m8(pr + cb, __riscv_vfadd_vv_f32m8(__riscv_vle32_v_f32m8(pr + cb, vl),
                        __riscv_vfdiv_vf_f32m8(__riscv_vle32_v_f32m8(sc + cb, vl), t, vl), vl), vl);
                    cb += (long)vl;
                }
            }
        }
        if (c->stop_after == 1) continue;
        /* 4. per query block: importance of each key block (its compression blocks' sums),
         * the diagonal forced in, the top keep_blocks (ties to the lower block), then attend */
        for (long qb = qb0; qb < nb; qb++) {
            const long nk = c->causal ? qb + 1 : nb;
            const long diag = qb < nb - 1 ? qb : nb - 1;
            const float *pr = pacc + (qb - qb0) * nc;
            for (long kb = 0; kb < nb; kb++) row[kb] = 0.0f;
            for (long cb = 0; cb < nc; cb++) row[(cb * C) / B] += pr[cb];
            for (long kb = 0; kb < nk;) {
                size_t vl = __riscv_vsetvl_e32m8((size_t)(nk - kb));
                __riscv_vse32_v_u32m8(key + kb, f32_order_keys(__riscv_vle32_v_f32m8(row + kb, vl), vl), vl);
                kb += (long)vl;
            }
            key[diag] = UINT32_MAX; /* the diagonal is always kept */
            const long nkept = topk_select_blocks_f32(key, nk, keepn, work, blk);
            if (c->stop_after) continue;
            bsr_attend_qblock(c, g, qb, blk, nkept, list, attend, attend2, scratch, &cursor);
        }
    }
    return 0;
}
