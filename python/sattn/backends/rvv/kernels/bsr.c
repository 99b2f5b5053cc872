/*
 * bsr with its block selection inside the kernel (comp_block_size = 0), as sattn.specs.bsr
 * defines it, so that the instruction count is the whole cost of the pattern:
 *   1. block means (float64) of K and of Qsum (the GQA group's queries summed), as the
 *      precision sees them (fp32 / bf16 values, i8 / i4 codes), over the rows a block has;
 *   2. score[qb][kb] = mean Qsum block qb . mean K block kb (float64);
 *   3. per query block keep keep_blocks key blocks: the diagonal, then the highest scores,
 *      ties to the lower block id (causal: only kb <= qb are candidates);
 *   4. every query of the block attends every key of its kept blocks (causal: j <= i) with
 *      the shared core, two rows per pass. The heads of a group share the selection.
 * stop_after = 2: steps 1-3 alone (the selection), no attention.
 * Sq < S = Skv (a KV cache): blocks are over the S positions, query row r sits at position
 * off + r; a query block's Qsum mean is over the query rows it holds, and only the blocks from
 * off / B on (those holding query rows) are ranked and attended.
 *
 * With the KV cache's K block sums given (c->kblock_sums, [Hkv, nb, D] float64: the rows of a
 * block added in order, as block_mean adds them; the cache updates its block's sum with one
 * D-wide add per appended token) step 1 reads them instead of the whole cache.
 *
 * Rounding (docs/rvv.md): the block sums add the rows (and, within a row, the group's heads)
 * in order in float64. Rows of fp32, bf16 or integer codes sum exactly in float64 unless a
 * block's values span more than ~2^(29 - log2(rows)) in magnitude, and exact sums equal
 * NumPy's pairwise ones; the means are the same correctly rounded divisions. The scores are
 * float64 fused multiply-adds in d order, where the reference's BLAS dgemm may sum in another
 * order: the two can only rank differently two blocks whose scores agree to within float64
 * rounding of a D-term dot product (the tests accept either block of such a near-tie).
 */
#include <riscv_vector.h>
#include <string.h>

#include "sattn_rvv.h"

/* Rows [r0, r1) of `nh` heads (hstride bytes apart) summed in float64 and divided by the row
 * count: out[d] for d < D, vectorised over D with the block's accumulator in registers. */
static void block_mean(const ctx_t *c, const uint8_t *base, long hstride, long nh, long r0,
                       long r1, double *out) {
    const long D = c->D, rb = c->row_bytes;
    const double len = (double)(r1 - r0);
    if (c->prec == PREC_I4) { /* byte e holds d = 2e (low nibble) and 2e + 1 (high nibble) */
        for (long e = 0; e < D / 2;) {
            size_t vl = __riscv_vsetvl_e8m1((size_t)(D / 2 - e));
            vfloat64m8_t alo = __riscv_vfmv_v_f_f64m8(0.0, vl), ahi = alo;
            for (long r = r0; r < r1; r++) {
                for (long h = 0; h < nh; h++) {
                    vint8m1_t b = __riscv_vle8_v_i8m1((const int8_t *)(base + h * hstride + r * rb) + e, vl);
                    vint8m1_t lo = __riscv_vsra_vx_i8m1(__riscv_vsll_vx_i8m1(b, 4, vl), 4, vl);
                    alo = __riscv_vfadd_vv_f64m8(alo, __riscv_vfwcvt_f_x_v_f64m8(__riscv_vsext_vf4_i32m4(lo, vl), vl), vl);
                    ahi = __riscv_vfadd_vv_f64m8(
                        ahi, __riscv_vfwcvt_f_x_v_f64m8(__riscv_vsext_vf4_i32m4(__riscv_vsra_vx_i8m1(b, 4, vl), vl), vl), vl);
                }
            }
            __riscv_vsse64_v_f64m8(out + 2 * e, 16, __riscv_vfdiv_vf_f64m8(alo, len, vl), vl);
            __riscv_vsse64_v_f64m8(out + 2 * e + 1, 16, __riscv_vfdiv_vf_f64m8(ahi, len, vl), vl);
            e += (long)vl;
        }
        return;
    }
    if (nh == 1 && c->prec == PREC_FP32) {
        /* one head (the K means: every step of a decode reads the whole cache here): the
         * widening add acc + f64(x) is the convert-then-add of the general path in one
         * instruction (the conversion is exact); two D-strips per pass over the rows, two rows
         * per iteration */
        const long step = rb / 4;
        for (long d = 0; d < D;) {
            const size_t vl0 = __riscv_vsetvl_e64m8((size_t)(D - d));
            /* the second strip only when it is as long as the first: one VL, no vsetvli
             * between the two strips' instructions */
            const size_t vl1 = D - d >= 2 * (long)vl0 ? vl0 : 0;
            vfloat64m8_t a0 = __riscv_vfmv_v_f_f64m8(0.0, vl0), a1 = a0;
            const float *row = (const float *)(base + r0 * rb) + d;
            long r = r0;
            if (vl1) {
                for (; r + 2 <= r1; r += 2, row += 2 * step) {
                    a0 = __riscv_vfwadd_wv_f64m8(a0, __riscv_vle32_v_f32m4(row, vl0), vl0);
                    a1 = __riscv_vfwadd_wv_f64m8(a1, __riscv_vle32_v_f32m4(row + vl0, vl0), vl0);
                    a0 = __riscv_vfwadd_wv_f64m8(a0, __riscv_vle32_v_f32m4(row + step, vl0), vl0);
                    a1 = __riscv_vfwadd_wv_f64m8(a1, __riscv_vle32_v_f32m4(row + step + vl0, vl0), vl0);
                }
                for (; r < r1; r++, row += step) {
                    a0 = __riscv_vfwadd_wv_f64m8(a0, __riscv_vle32_v_f32m4(row, vl0), vl0);
                    a1 = __riscv_vfwadd_wv_f64m8(a1, __riscv_vle32_v_f32m4(row + vl0, vl0), vl0);
                }
                __riscv_vse64_v_f64m8(out + d + vl0, __riscv_vfdiv_vf_f64m8(a1, len, vl0), vl0);
            } else {
                for (; r + 4 <= r1; r += 4, row += 4 * step) {
                    a0 = __riscv_vfwadd_wv_f64m8(a0, __riscv_vle32_v_f32m4(row, vl0), vl0);
                    a0 = __riscv_vfwadd_wv_f64m8(a0, __riscv_vle32_v_f32m4(row + step, vl0), vl0);
                    a0 = __riscv_vfwadd_wv_f64m8(a0, __riscv_vle32_v_f32m4(row + 2 * step, vl0), vl0);
                    a0 = __riscv_vfwadd_wv_f64m8(a0, __riscv_vle32_v_f32m4(row + 3 * step, vl0), vl0);
                }
                for (; r < r1; r++, row += step) a0 = __riscv_vfwadd_wv_f64m8(a0, __riscv_vle32_v_f32m4(row, vl0), vl0);
            }
            __riscv_vse64_v_f64m8(out + d, __riscv_vfdiv_vf_f64m8(a0, len, vl0), vl0);
            d += (long)(vl0 + vl1);
        }
        return;
    }
    for (long d = 0; d < D;) {
        size_t vl = __riscv_vsetvl_e64m8((size_t)(D - d));
        vfloat64m8_t acc = __riscv_vfmv_v_f_f64m8(0.0, vl);
        for (long r = r0; r < r1; r++) {
            for (long h = 0; h < nh; h++) {
                const uint8_t *row = base + h * hstride + r * rb;
                vfloat64m8_t x;
                if (c->prec == PREC_FP32) {
                    x = __riscv_vfwcvt_f_f_v_f64m8(__riscv_vle32_v_f32m4((const float *)row + d, vl), vl);
                } else if (c->prec == PREC_BF16) {
                    vuint32m4_t w = __riscv_vsll_vx_u32m4(
                        __riscv_vzext_vf2_u32m4(__riscv_vle16_v_u16m2((const uint16_t *)row + d, vl), vl), 16, vl);
                    x = __riscv_vfwcvt_f_f_v_f64m8(__riscv_vreinterpret_v_u32m4_f32m4(w), vl);
                } else {
                    x = __riscv_vfwcvt_f_x_v_f64m8(
                        __riscv_vsext_vf4_i32m4(__riscv_vle8_v_i8m1((const int8_t *)row + d, vl), vl), vl);
                }
                acc = __riscv_vfadd_vv_f64m8(acc, x, vl);
            }
        }
        __riscv_vse64_v_f64m8(out + d, __riscv_vfdiv_vf_f64m8(acc, len, vl), vl);
        d += (long)vl;
    }
}

/* The tokens of the kept key blocks blk[0..nk) (ascending), written to list; returns the count. */
static long expand_blocks(const int32_t *blk, long nk, long B, long S, int32_t *list) {
    long n = 0;
    for (long t = 0; t < nk; t++) {
        const long j0 = (long)blk[t] * B, len = S - j0 < B ? S - j0 : B;
        for (long u = 0; u < len;) {
            size_t vl = __riscv_vsetvl_e32m8((size_t)(len - u));
            __riscv_vse32_v_u32m8((uint32_t *)list + n + u,
                                  __riscv_vadd_vx_u32m8(__riscv_vid_v_u32m8(vl), (uint32_t)(j0 + u), vl), vl);
            u += (long)vl;
        }
        n += len;
    }
    return n;
}

/* The rows at positions [i0, i1) of head h attend their block's list (n keys; causal: position
 * i the prefix of the keys <= i, the diagonal block being the list's last, ending at i1 - 1),
 * two rows per pass. Position i is query row i - off. */
static void attend_block(ctx_t *c, long h, long i0, long i1, const int32_t *list, long n,
                         attend_fn attend, attend2_fn attend2, void *scratch, long last_with) {
    const long S = c->S, D = c->Dv, rb = c->row_bytes, g = h / c->group; /* D: output rows */
    const uint8_t *kb = c->k + g * S * rb, *vb = c->v + g * S * rb;
    const uint8_t *q = c->q + (h * c->Sq - c->off) * rb; /* row of position i: q + i * rb */
    float *o = c->out + (h * c->Sq - c->off) * D;
    const uint8_t *qrow = q + i0 * rb;
    float *out = o + i0 * D;
    long i = i0;
    if (attend2 && !c->causal && i1 - i0 >= 2) { /* every row sees the whole list: one call */
        const long np = (i1 - i0) / 2;
        keys_t u = {list, 0, 1, n};
        attend2(c, qrow, qrow + rb, kb, vb, &u, 0, n, 0, n, out, out + D, scratch, np, 0);
        i += 2 * np;
    } else if (attend2) {
        for (; i + 1 < i1; i += 2) {
            const long ma = n - (i1 - 1 - i), mb = ma + 1;
            keys_t u = {list, 0, 1, mb};
            attend2(c, q + i * rb, q + (i + 1) * rb, kb, vb, &u, 0, ma, 0,
                    mb, o + i * D, o + (i + 1) * D, scratch, 1, 0);
        }
    }
    for (; i < i1; i++) {
        keys_t ks = {list, 0, 1, c->causal ? n - (i1 - 1 - i) : n};
        if (i == i1 - 1 && last_with == -2) break; /* the previous head ran it */
        if (i == i1 - 1 && last_with >= 0) { /* with the same row of head last_with */
            const long d2 = (last_with - h) * c->Sq;
            attend2(c, q + i * rb, q + (d2 + i) * rb, kb, vb, &ks, 0, ks.n, 0, ks.n, o + i * D,
                    o + (d2 + i) * D, scratch, 1, 0);
            break;
        }
        attend(c, q + i * rb, kb, vb, &ks, o + i * D, scratch);
    }
}

/* 4. every query row of query block b (KV head g's group) attends every key of the kept key
 * blocks blk[0..nk) (ascending; causal: the diagonal block last, position i the prefix j <= i),
 * two rows per pass; the rows' selections are recorded. Shared with compblock.c. */
void bsr_attend_qblock(ctx_t *c, long g, long b, const int32_t *blk, long nk, int32_t *list,
                       attend_fn attend, attend2_fn attend2, void *scratch, long *cursor) {
    const long S = c->S, Sq = c->Sq, off = c->off, B = c->block_size, rb = c->row_bytes;
    const long i0 = b * B > off ? b * B : off, i1 = b * B + B < S ? b * B + B : S;
    const long n = expand_blocks(blk, nk, B, S, list);
    for (long i = i0; i < i1; i++)
        sel_record(c, g, i - off, list, c->causal ? n - (i1 - 1 - i) : n, cursor);
    if (attend2 && i1 - i0 == 1) {
        /* one row (a decode step): the group's heads in pairs, one call per pair
         * (what attend_block does for it, without its per-head set-up) */
        const long r = i0 - off, Dv = c->Dv, h1 = (g + 1) * c->group;
        const uint8_t *kb = c->k + g * S * rb, *vb = c->v + g * S * rb;
        keys_t u = {list, 0, 1, n};
        long h = g * c->group;
        for (; h + 1 < h1; h += 2)
            attend2(c, c->q + (h * Sq + r) * rb, c->q + ((h + 1) * Sq + r) * rb, kb, vb,
                    &u, 0, n, 0, n, c->out + (h * Sq + r) * Dv,
                    c->out + ((h + 1) * Sq + r) * Dv, scratch, 1, 0);
        if (h < h1) attend(c, c->q + (h * Sq + r) * rb, kb, vb, &u, c->out + (h * Sq + r) * Dv, scratch);
        return;
    }
    /* an odd block (decode: its one row) leaves its last row without a partner
     * row: the heads of the group run it in pairs (the same keys) */
    const int odd = attend2 && (i1 - i0) % 2;
    for (long h = g * c->group; h < (g + 1) * c->group; h++) {
        const long first = (h - g * c->group) % 2 == 0;
        const long with = !odd ? -1 : first ? (h + 1 < (g + 1) * c->group ? h + 1 : -1) : -2;
        attend_block(c, h, i0, i1, list, n, attend, attend2, scratch, with);
    }
}

int run_bsr(ctx_t *c) {
    const long S = c->S, Sq = c->Sq, off = c->off, D = c->D, B = c->block_size, rb = c->row_bytes;
    const long nb = (S + B - 1) / B, keepn = c->keep_blocks, qb0 = off / B;
    attend_fn attend = attend_lookup(c->prec, c->lmul);
    attend2_fn attend2 = attend2_lookup(c->prec, c->lmul);
    void *scratch = xmalloc(attend_scratch_bytes(c, S));
    double *qm = xmalloc((size_t)(nb * D) * 8); /* block means of Qsum, [nb, D] */
    double *kmt = xmalloc((size_t)(nb * D) * 8); /* block means of K, transposed [D, nb] */
    double *col = xmalloc((size_t)D * 8);
    uint64_t *key = xmalloc((size_t)nb * 2 * 8), *work = xmalloc((size_t)nb * 3 * 8);
    int32_t *blk = xmalloc((size_t)nb * 2 * 4), *list = xmalloc((size_t)S * 4);
    long cursor = 0;
    double *lens = NULL; /* with the block sums: each block's row count (the last partial) */
    if (c->kblock_sums) {
        lens = xmalloc((size_t)nb * 8);
        for (long b = 0; b < nb;) {
            size_t vl = __riscv_vsetvl_e64m8((size_t)(nb - b));
            __riscv_vse64_v_f64m8(lens + b, __riscv_vfmv_v_f_f64m8((double)B, vl), vl);
            b += (long)vl;
        }
        lens[nb - 1] = (double)(S - (nb - 1) * B);
    }
    for (long g = 0; g < c->Hkv; g++) {
        /* qbase + i * rb: the row at position i (>= off) of the group's first head */
        const uint8_t *kbase = c->k + g * S * rb, *qbase = c->q + (g * c->group * Sq - off) * rb;
        /* 1. block means: K's (without the cache's block sums: the pass over the whole cache),
         * then Qsum's of the blocks holding query rows */
        const double *ksum = c->kblock_sums ? c->kblock_sums + g * nb * D : NULL;
        for (long b = 0; !ksum && b < nb; b++) {
            const long r0 = b * B, r1 = r0 + B < S ? r0 + B : S;
            block_mean(c, kbase, 0, 1, r0, r1, col);
            for (long d = 0; d < D;) {
                size_t vl = __riscv_vsetvl_e64m8((size_t)(D - d));
                __riscv_vsse64_v_f64m8(kmt + d * nb + b, nb * 8, __riscv_vle64_v_f64m8(col + d, vl), vl);
                d += (long)vl;
            }
        }
        for (long b = qb0; b < nb; b++) {
            const long r0 = b * B, r1 = r0 + B < S ? r0 + B : S;
            block_mean(c, qbase, Sq * rb, c->group, r0 > off ? r0 : off, r1, qm + b * D);
        }
        /* 2-3. query blocks in pairs (each K-mean column load scores both), top keep_blocks */
        for (long qb = qb0; qb < nb; qb += 2) {
            const int two = qb + 1 < nb;
            const long nc0 = c->causal ? qb + 1 : nb, nc1 = c->causal ? qb + 2 : nb;
            if (ksum)
                score_sums(qm + qb * D, two ? qm + (qb + 1) * D : NULL, ksum, lens, D,
                           two ? nc1 : nc0, key, key + nb);
            else
                score_rows(qm + qb * D, two ? qm + (qb + 1) * D : NULL, kmt, nb, D, two ? nc1 : nc0,
                           1, (double *)key, (double *)(key + nb));
            for (long t = 0; t < 1 + two; t++) {
                const long b = qb + t, nc = t ? nc1 : nc0;
                uint64_t *kr = key + t * nb;
                kr[b] = UINT64_MAX; /* the diagonal is always kept */
                const long nk = topk_select(kr, nc, keepn, work, blk);
                if (c->stop_after) continue; /* 2: the selection alone */
                bsr_attend_qblock(c, g, b, blk, nk, list, attend, attend2, scratch, &cursor);
            }
        }
    }
    return 0;
}
