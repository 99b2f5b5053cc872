/*
 * bsr with its block selection inside the kernel (comp_block_size = 0), as sattn.specs.bsr
 * defines it, so that the instruction count is the whole cost of the pattern. All scoring in
 * fp32, as the reference scores (sattn.specs.bsr, "fp32 block scores"):
 *   1. block sums (fp32) of K and of Qsum (the GQA group's queries, each row's heads added in
 *      head order), as the precision sees them (fp32 / bf16 values, i8 / i4 codes): the rows
 *      of a block added in row order from +0.0; a Qsum block sum is scaled once by
 *      fp32(1 / its row count) into the block mean;
 *   2. score[qb][kb] = (mean Qsum block qb . K block sum kb) * fp32(1 / rows of kb): fp32 fused
 *      multiply-adds in d order, one multiply per block (no divide per element);
 *   3. per query block keep keep_blocks key blocks: the diagonal, then the highest scores,
 *      ties to the lower block id (causal: only kb <= qb are candidates);
 *   4. every query of the block attends every key of its kept blocks (causal: j <= i) with
 *      the shared core, two rows per pass. The heads of a group share the selection.
 * stop_after = 2: steps 1-3 alone (the selection), no attention.
 * Sq < S = Skv (a KV cache): blocks are over the S positions, query row r sits at position
 * off + r; a query block's Qsum mean is over the query rows it holds, and only the blocks from
 * off / B on (those holding query rows) are ranked and attended.
 *
 * With the KV cache's K block sums given (c->kblock_sums, [Hkv, nb, D] fp32: the rows of a
 * block added in row order, as block_sum_f32 adds them; the cache updates its block's sum with
 * one D-wide add per appended token) step 1 reads them instead of the whole cache.
 *
 * Rounding (docs/precision.md): the sums and the scalings are the reference's, operation for
 * operation; only the D-term dot may be summed in another order by the reference's BLAS
 * sgemm, so the two can rank differently only two blocks whose scores agree to within fp32
 * rounding of that dot (the tests accept either block of such a near-tie).
 */
#include <riscv_vector.h>
#include <string.h>

#include "sattn_rvv.h"

/* One stored row's values d .. d + vl as fp32 (fp32 / bf16 values, i8 codes; not i4). */
static inline vfloat32m8_t load_row_f32(long prec, const uint8_t *row, long d, size_t vl) {
    if (prec == PREC_FP32) return __riscv_vle32_v_f32m8((const float *)row + d, vl);
    if (prec == PREC_BF16)
        return __riscv_vreinterpret_v_u32m8_f32m8(__riscv_vsll_vx_u32m8(
            __riscv_vzext_vf2_u32m8(__riscv_vle16_v_u16m4((const uint16_t *)row + d, vl), vl), 16, vl));
    return __riscv_vfcvt_f_x_v_f32m8(__riscv_vsext_vf4_i32m8(__riscv_vle8_v_i8m2((const int8_t *)row + d, vl), vl), vl);
}

/* Rows [r0, r1) of `nh` heads (hstride bytes apart) summed in fp32: each row's heads added in
 * head order (one head: the row itself), the rows added in row order from +0.0; out[d], d < D,
 * vectorised over D with the block's accumulator in registers. */
static void block_sum_f32(const ctx_t *c, const uint8_t *base, long hstride, long nh, long r0,
                          long r1, float *out) {
    const long D = c->D, rb = c->row_bytes;
    if (c->prec == PREC_I4) { /* byte e holds d = 2e (low nibble) and 2e + 1 (high nibble) */
        for (long e = 0; e < D / 2;) {
            const size_t vl = __riscv_vsetvl_e32m4((size_t)(D / 2 - e));
            vfloat32m4_t alo = __riscv_vfmv_v_f_f32m4(0.0f, vl), ahi = alo;
            for (long r = r0; r < r1; r++) {
                vfloat32m4_t tlo = alo, thi = ahi; /* set below (h = 0) */
                for (long h = 0; h < nh; h++) {
                    const vint8m1_t b = __riscv_vle8_v_i8m1((const int8_t *)(base + h * hstride + r * rb) + e, vl);
                    const vfloat32m4_t lo = __riscv_vfcvt_f_x_v_f32m4(__riscv_vsext_vf4_i32m4(
                        __riscv_vsra_vx_i8m1(__riscv_vsll_vx_i8m1(b, 4, vl), 4, vl), vl), vl);
                    const vfloat32m4_t hi = __riscv_vfcvt_f_x_v_f32m4(__riscv_vsext_vf4_i32m4(
                        __riscv_vsra_vx_i8m1(b, 4, vl), vl), vl);
                    tlo = h ? __riscv_vfadd_vv_f32m4(tlo, lo, vl) : lo;
                    thi = h ? __riscv_vfadd_vv_f32m4(thi, hi, vl) : hi;
                }
                alo = __riscv_vfadd_vv_f32m4(alo, tlo, vl);
                ahi = __riscv_vfadd_vv_f32m4(ahi, thi, vl);
            }
            __riscv_vsse32_v_f32m4(out + 2 * e, 8, alo, vl);
            __riscv_vsse32_v_f32m4(out + 2 * e + 1, 8, ahi, vl);
            e += (long)vl;
        }
        return;
    }
    if (nh == 1 && c->prec == PREC_FP32) {
        /* one head (the K sums: a prefill's pass over K), four rows per iteration */
        const long step = rb / 4;
        for (long d = 0; d < D;) {
            const size_t vl = __riscv_vsetvl_e32m8((size_t)(D - d));
            vfloat32m8_t a = __riscv_vfmv_v_f_f32m8(0.0f, vl);
            const float *row = (const float *)(base + r0 * rb) + d;
            long r = r0;
            for (; r + 4 <= r1; r += 4, row += 4 * step) {
                a = __riscv_vfadd_vv_f32m8(a, __riscv_vle32_v_f32m8(row, vl), vl);
                a = __riscv_vfadd_vv_f32m8(a, __riscv_vle32_v_f32m8(row + step, vl), vl);
                a = __riscv_vfadd_vv_f32m8(a, __riscv_vle32_v_f32m8(row + 2 * step, vl), vl);
                a = __riscv_vfadd_vv_f32m8(a, __riscv_vle32_v_f32m8(row + 3 * step, vl), vl);
            }
            for (; r < r1; r++, row += step) a = __riscv_vfadd_vv_f32m8(a, __riscv_vle32_v_f32m8(row, vl), vl);
            __riscv_vse32_v_f32m8(out + d, a, vl);
            d += (long)vl;
        }
        return;
    }
    for (long d = 0; d < D;) {
        const size_t vl = __riscv_vsetvl_e32m8((size_t)(D - d));
        vfloat32m8_t acc = __riscv_vfmv_v_f_f32m8(0.0f, vl);
        for (long r = r0; r < r1; r++) {
            vfloat32m8_t t = load_row_f32(c->prec, base + r * rb, d, vl);
            for (long h = 1; h < nh; h++)
                t = __riscv_vfadd_vv_f32m8(t, load_row_f32(c->prec, base + h * hstride + r * rb, d, vl), vl);
            acc = __riscv_vfadd_vv_f32m8(acc, t, vl);
        }
        __riscv_vse32_v_f32m8(out + d, acc, vl);
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

/* 2. Block scores of query block means x0 (and x1, or NULL) on key blocks j < n, as order keys
 * (k0, k1): (x . ks[j]) * w[j] in fp32, the dot fused multiply-adds in d order. ks: the K block
 * sums, [nb, D] rows D floats apart (a strided column load per d serves both query blocks). */
static void block_scores_f32(const float *x0, const float *x1, const float *ks, const float *w,
                             long D, long n, uint32_t *k0, uint32_t *k1) {
    const long st = D * 4;
    for (long j = 0; j < n;) {
        const size_t vl = __riscv_vsetvl_e32m8((size_t)(n - j));
        vfloat32m8_t a0 = __riscv_vfmv_v_f_f32m8(0.0f, vl), a1 = a0;
        const float *kp = ks + j * D;
        long d = 0;
        if (!x1) { /* one query block (a decode step): unrolled by 4, still in d order */
            for (; d + 4 <= D; d += 4, kp += 4) {
                a0 = __riscv_vfmacc_vf_f32m8(a0, x0[d], __riscv_vlse32_v_f32m8(kp, st, vl), vl);
                a0 = __riscv_vfmacc_vf_f32m8(a0, x0[d + 1], __riscv_vlse32_v_f32m8(kp + 1, st, vl), vl);
                a0 = __riscv_vfmacc_vf_f32m8(a0, x0[d + 2], __riscv_vlse32_v_f32m8(kp + 2, st, vl), vl);
                a0 = __riscv_vfmacc_vf_f32m8(a0, x0[d + 3], __riscv_vlse32_v_f32m8(kp + 3, st, vl), vl);
            }
        }
        for (; d < D; d++, kp++) {
            const vfloat32m8_t kv = __riscv_vlse32_v_f32m8(kp, st, vl);
            a0 = __riscv_vfmacc_vf_f32m8(a0, x0[d], kv, vl);
            if (x1) a1 = __riscv_vfmacc_vf_f32m8(a1, x1[d], kv, vl);
        }
        const vfloat32m8_t wv = __riscv_vle32_v_f32m8(w + j, vl);
        __riscv_vse32_v_u32m8(k0 + j, f32_order_keys(__riscv_vfmul_vv_f32m8(a0, wv, vl), vl), vl);
        if (x1) __riscv_vse32_v_u32m8(k1 + j, f32_order_keys(__riscv_vfmul_vv_f32m8(a1, wv, vl), vl), vl);
        j += (long)vl;
    }
}

int run_bsr(ctx_t *c) {
    const long S = c->S, Sq = c->Sq, off = c->off, D = c->D, B = c->block_size, rb = c->row_bytes;
    const long nb = (S + B - 1) / B, keepn = c->keep_blocks, qb0 = off / B;
    attend_fn attend = attend_lookup(c->prec, c->lmul);
    attend2_fn attend2 = attend2_lookup(c->prec, c->lmul);
    void *scratch = xmalloc(attend_scratch_bytes(c, S));
    float *qm = xmalloc((size_t)(nb * D) * 4); /* block means of Qsum, [nb, D] */
    float *ks = c->kblock_sums ? NULL : xmalloc((size_t)(nb * D) * 4); /* K block sums [nb, D] */
    float *w = xmalloc((size_t)nb * 4); /* fp32(1 / rows) of each key block */
    uint32_t *key = xmalloc((size_t)nb * 2 * 4), *work = xmalloc((size_t)nb * 5 * 4);
    int32_t *blk = xmalloc((size_t)nb * 2 * 4), *list = xmalloc((size_t)S * 4);
    long cursor = 0;
    for (long b = 0; b < nb;) {
        const size_t vl = __riscv_vsetvl_e32m8((size_t)(nb - b));
        __riscv_vse32_v_f32m8(w + b, __riscv_vfmv_v_f_f32m8(1.0f / (float)B, vl), vl);
        b += (long)vl;
    }
    w[nb - 1] = 1.0f / (float)(S - (nb - 1) * B);
    for (long g = 0; g < c->Hkv; g++) {
        /* qbase + i * rb: the row at position i (>= off) of the group's first head */
        const uint8_t *kbase = c->k + g * S * rb, *qbase = c->q + (g * c->group * Sq - off) * rb;
        /* 1. block sums: K's (without the cache's: the pass over the whole cache), then the
         * Qsum means of the blocks holding query rows */
        const float *ksum = c->kblock_sums ? c->kblock_sums + g * nb * D : ks;
        for (long b = 0; !c->kblock_sums && b < nb; b++) {
            const long r0 = b * B, r1 = r0 + B < S ? r0 + B : S;
            block_sum_f32(c, kbase, 0, 1, r0, r1, ks + b * D);
        }
        for (long b = qb0; b < nb; b++) {
            const long r0 = b * B > off ? b * B : off, r1 = b * B + B < S ? b * B + B : S;
            float *m = qm + b * D;
            block_sum_f32(c, qbase, Sq * rb, c->group, r0, r1, m);
            const float inv = 1.0f / (float)(r1 - r0);
            for (long d = 0; d < D;) {
                const size_t vl = __riscv_vsetvl_e32m8((size_t)(D - d));
                __riscv_vse32_v_f32m8(m + d, __riscv_vfmul_vf_f32m8(__riscv_vle32_v_f32m8(m + d, vl), inv, vl), vl);
                d += (long)vl;
            }
        }
        /* 2-3. query blocks in pairs (each K-sum column load scores both), top keep_blocks */
        for (long qb = qb0; qb < nb; qb += 2) {
            const int two = qb + 1 < nb;
            const long nc0 = c->causal ? qb + 1 : nb, nc1 = c->causal ? qb + 2 : nb;
            block_scores_f32(qm + qb * D, two ? qm + (qb + 1) * D : NULL, ksum, w, D,
                             two ? nc1 : nc0, key, key + nb);
            for (long t = 0; t < 1 + two; t++) {
                const long b = qb + t, nc = t ? nc1 : nc0;
                uint32_t *kr = key + t * nb;
                kr[b] = UINT32_MAX; /* the diagonal is always kept (above every score's key) */
                const long nk = topk_select_blocks_f32(kr, nc, keepn, work, blk);
                if (c->stop_after) continue; /* 2: the selection alone */
                bsr_attend_qblock(c, g, b, blk, nk, list, attend, attend2, scratch, &cursor);
            }
        }
    }
    return 0;
}
