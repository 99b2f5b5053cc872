/*
 * Block selection inside the kernel for bsr with NSA-style compression scoring
 * (comp_block_size = C > 0), as sattn.specs.compression defines it:
 *   1. K (dequantised values) mean-pooled into compression blocks of C tokens (float64);
 *   2. every query head of the GQA group: p = softmax_c(Q[h,i] . Kc[c] / sqrt(D)) in float64
 *      (vectorised exp), causal: blocks starting after i are left out;
 *   3. importance[qb][kb] = sum over the group's heads and qb's rows of the p of the
 *      compression blocks whose first token lies in key block kb;
 *   4. per query block keep keep_blocks key blocks: the diagonal, then the most important
 *      (ties to the lower block; causal: kb <= qb). The heads of a group share the selection.
 * Then every query attends the keys of its kept blocks (causal: j <= i) with the core.
 * Sq < S = Skv: query row r sits at position i = off + r and adds to the block of i; only
 * the query blocks from off / B on (those holding query rows) are ranked.
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
    const long nc = (S + C - 1) / C, nb = (S + B - 1) / B, keepn = c->keep_blocks;
    attend_fn attend = attend_lookup(c->prec, c->lmul);
    void *scratch = xmalloc(attend_scratch_bytes(c, S));
    double *kc = xmalloc((size_t)(nc * D) * 8), *qd = xmalloc((size_t)D * 8);
    double *sc = xmalloc((size_t)nc * 8), *psum = xmalloc((size_t)nc * 8);
    double *imp = xmalloc((size_t)(nb * nb) * 8), *row = xmalloc((size_t)nb * 8), *tmp = xmalloc((size_t)nb * 8);
    float *f = xmalloc((size_t)D * 4);
    uint8_t *keep = xmalloc((size_t)nb);
    int32_t *list = xmalloc((size_t)S * 4);
    long cursor = 0;
    const double inv_sqrt_d = sqrt((double)D);
    for (long g = 0; g < c->Hkv; g++) {
        /* 1. compression keys */
        memset(kc, 0, (size_t)(nc * D) * 8);
        for (long j = 0; j < S; j++) {
            view_row(c, c->k + (g * S + j) * rb, c->scales[1], f);
            for (long d = 0; d < D; d++) kc[(j / C) * D + d] += (double)f[d];
        }
        for (long cb = 0; cb < nc; cb++) {
            long len = S - cb * C < C ? S - cb * C : C;
            for (long d = 0; d < D; d++) kc[cb * D + d] /= (double)len;
        }
        /* 2-3. importance */
        memset(imp, 0, (size_t)(nb * nb) * 8);
        for (long i = off; i < S; i++) { /* positions of the query rows */
            const long ncand = c->causal ? i / C + 1 : nc; /* blocks starting at or before i */
            memset(psum, 0, (size_t)nc * 8);
            for (long h = g * c->group; h < (g + 1) * c->group; h++) {
                view_row(c, c->q + (h * Sq + i - off) * rb, c->scales[0], f);
                for (long d = 0; d < D; d++) qd[d] = (double)f[d];
                double mx = -INFINITY;
                for (long cb = 0; cb < ncand; cb++) {
                    double s = 0.0;
                    for (long d = 0; d < D; d++) s += qd[d] * kc[cb * D + d];
                    sc[cb] = s / inv_sqrt_d;
                    if (sc[cb] > mx) mx = sc[cb];
                }
                double tot = 0.0;
                for (long cb = 0; cb < ncand;) {
                    size_t vl = __riscv_vsetvl_e64m8((size_t)(ncand - cb));
                    vfloat64m8_t e = vexp_f64(__riscv_vfsub_vf_f64m8(__riscv_vle64_v_f64m8(sc + cb, vl), mx, vl), vl);
                    __riscv_vse64_v_f64m8(sc + cb, e, vl);
                    cb += (long)vl;
                }
                for (long cb = 0; cb < ncand; cb++) tot += sc[cb];
                for (long cb = 0; cb < ncand; cb++) psum[cb] += sc[cb] / tot;
            }
            double *ir = imp + (i / B) * nb;
            for (long cb = 0; cb < ncand; cb++) ir[(cb * C) / B] += psum[cb];
        }
        /* 4. rank the key blocks of every query block, then attend */
        for (long qb = off / B; qb < nb; qb++) {
            const long nk = c->causal ? qb + 1 : nb;
            const long diag = qb < nb - 1 ? qb : nb - 1;
            for (long kb = 0; kb < nk; kb++) row[kb] = kb == diag ? INFINITY : imp[qb * nb + kb];
            topk_keep(row, nk, keepn, tmp, keep);
            long n = 0;
            for (long kb = 0; kb < nk; kb++) {
                if (!keep[kb]) continue;
                for (long j = kb * B; j < (kb + 1) * B && j < S; j++) list[n++] = (int32_t)j;
            }
            const uint8_t *kbase = c->k + g * S * rb, *vbase = c->v + g * S * rb;
            for (long i = qb * B > off ? qb * B : off; i < (qb + 1) * B && i < S; i++) {
                long m = n;
                if (c->causal) { /* ascending: the prefix j <= i */
                    m = 0;
                    while (m < n && list[m] <= i) m++;
                }
                attend_heads(c, g, i - off, kbase, vbase, list, m, attend, scratch, &cursor);
            }
        }
    }
    return 0;
}
