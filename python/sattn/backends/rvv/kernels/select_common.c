/*
 * Helpers the data-dependent patterns share: the operands as the precision sees them and fp32
 * selection scores, so that the kernel ranks keys as sattn.specs does (fp32 dot products of
 * the rounded values / integer codes, ranked by their order-preserving 32-bit image; ties to
 * the lower index).
 */
#include <riscv_vector.h>
#include <stdlib.h>
#include <string.h>

#include "sattn_rvv.h"

/* One stored row as floats: fp32 values, widened bf16 values, or the i8/i4 integer codes. */
void row_to_float(const ctx_t *c, const uint8_t *row, float *out) { row_to_float_n(c, row, c->D, out); }

void row_to_float_n(const ctx_t *c, const uint8_t *row, long D, float *out) {
    for (long d = 0; d < D; d++) {
        switch (c->prec) {
        case PREC_FP32: out[d] = ((const float *)row)[d]; break;
        case PREC_BF16: {
            uint32_t b = (uint32_t)((const uint16_t *)row)[d] << 16;
            memcpy(&out[d], &b, 4);
            break;
        }
        case PREC_I8: out[d] = (float)((const int8_t *)row)[d]; break;
        default: {
            int8_t byte = ((const int8_t *)row)[d >> 1];
            out[d] = (float)((d & 1) ? (byte >> 4) : (int8_t)(byte << 4) >> 4);
        }
        }
    }
}

/* K of KV head g as floats [S, D] (values or codes; see row_to_float). */
float *key_floats(const ctx_t *c, long g) {
    const long S = c->S, D = c->D;
    float *kf = xmalloc((size_t)(S * D) * 4);
    for (long j = 0; j < S; j++) row_to_float(c, c->k + (g * S + j) * c->row_bytes, kf + j * D);
    return kf;
}

/* Up to this k, topk_select_blocks_f32 finds its threshold by successive maxima (a round per distinct
 * value from the top: two short passes) instead of the threshold search (up to 32 splits,
 * each a pass over the candidates): bsr's keep_blocks at decode is a few blocks. */
#define TOPK_ROUNDS 8

/* ---------------- fp32 selection scores (topk_per_query, nm_structured; bsr's top blocks) ----
 * The group score Qsum . K in fp32, as sattn.specs.gqa scores these patterns: Qsum adds the
 * group's heads in head order in fp32, the dot product is fused multiply-adds in d order.
 * Scores are kept as their order-preserving 32-bit image (f32_order_keys), so every ranking is
 * an unsigned integer compare and equal scores have equal keys. */

/* K of KV head g as fp32 columns [D, S] (kt[d*S + j] = K[j, d] as the precision sees it): the
 * scoring loop reads one unit-stride vector per d. fp32 storage is read straight from the
 * rows (a strided load per column strip); the other precisions go through key_floats. */
float *key_columns_f32(const ctx_t *c, long g) {
    const long S = c->S, D = c->D;
    float *kt = xmalloc((size_t)(S * D) * 4);
    const float *src = (const float *)(c->k + g * S * c->row_bytes);
    long stride = c->row_bytes;
    float *kf = NULL;
    if (c->prec != PREC_FP32) {
        kf = key_floats(c, g);
        src = kf;
        stride = D * 4;
    }
    for (long d = 0; d < D; d++) {
        for (long j = 0; j < S;) {
            size_t vl = __riscv_vsetvl_e32m8((size_t)(S - j));
            __riscv_vse32_v_f32m8(kt + d * S + j,
                                  __riscv_vlse32_v_f32m8((const float *)((const uint8_t *)src + j * stride) + d,
                                                         stride, vl), vl);
            j += (long)vl;
        }
    }
    (void)kf; /* arena memory: not freed (xmalloc) */
    return kt;
}

/* Qsum[g, i] in fp32: the group's query rows (as the precision sees them) added in head order. */
void query_sum_f32(const ctx_t *c, long g, long i, float *tmp, float *out) {
    const long D = c->D;
    if (c->group == 1 && c->prec == PREC_FP32) {
        memcpy(out, c->q + (g * c->Sq + i) * c->row_bytes, (size_t)D * 4);
        return;
    }
    for (long d = 0; d < D; d++) out[d] = 0.0f;
    for (long h = g * c->group; h < (g + 1) * c->group; h++) {
        row_to_float(c, c->q + (h * c->Sq + i) * c->row_bytes, tmp);
        for (long d = 0; d < D;) {
            size_t vl = __riscv_vsetvl_e32m8((size_t)(D - d));
            __riscv_vse32_v_f32m8(out + d, __riscv_vfadd_vv_f32m8(__riscv_vle32_v_f32m8(out + d, vl),
                                                                  __riscv_vle32_v_f32m8(tmp + d, vl), vl), vl);
            d += (long)vl;
        }
    }
}

/* acc[j] (+)= sum_{e < 8} x[e] * kt[e*S + j] over the keys j < n, for one row (x1 NULL) or
 * two: the eight q values of each row stay in scalar registers over the whole sweep (one K
 * column strip load serves both rows), the accumulators go through memory once per 8 d. The
 * additions stay in d order: the result is the fused multiply-adds in d order. */
static void chunk8(const float *x0, const float *x1, const float *kt, long S, long n, float *f0,
                   float *f1, int first) {
    const float a0 = x0[0], a1 = x0[1], a2 = x0[2], a3 = x0[3], a4 = x0[4], a5 = x0[5], a6 = x0[6],
                a7 = x0[7];
#define MAC8(acc, c0, c1, c2, c3, c4, c5, c6, c7) do { \
        acc = __riscv_vfmacc_vf_f32m8(acc, c0, __riscv_vle32_v_f32m8(kp, vl), vl); \
        acc = __riscv_vfmacc_vf_f32m8(acc, c1, __riscv_vle32_v_f32m8(kp + S, vl), vl); \
        acc = __riscv_vfmacc_vf_f32m8(acc, c2, __riscv_vle32_v_f32m8(kp + 2 * S, vl), vl); \
        acc = __riscv_vfmacc_vf_f32m8(acc, c3, __riscv_vle32_v_f32m8(kp + 3 * S, vl), vl); \
        acc = __riscv_vfmacc_vf_f32m8(acc, c4, __riscv_vle32_v_f32m8(kp + 4 * S, vl), vl); \
        acc = __riscv_vfmacc_vf_f32m8(acc, c5, __riscv_vle32_v_f32m8(kp + 5 * S, vl), vl); \
        acc = __riscv_vfmacc_vf_f32m8(acc, c6, __riscv_vle32_v_f32m8(kp + 6 * S, vl), vl); \
        acc = __riscv_vfmacc_vf_f32m8(acc, c7, __riscv_vle32_v_f32m8(kp + 7 * S, vl), vl); } while (0)
    if (!x1) {
        for (long j = 0; j < n;) {
            const size_t vl = __riscv_vsetvl_e32m8((size_t)(n - j));
            const float *kp = kt + j;
            vfloat32m8_t acc = first ? __riscv_vfmv_v_f_f32m8(0.0f, vl) : __riscv_vle32_v_f32m8(f0 + j, vl);
            MAC8(acc, a0, a1, a2, a3, a4, a5, a6, a7);
            __riscv_vse32_v_f32m8(f0 + j, acc, vl);
            j += (long)vl;
        }
        return;
    }
    const float b0 = x1[0], b1 = x1[1], b2 = x1[2], b3 = x1[3], b4 = x1[4], b5 = x1[5], b6 = x1[6],
                b7 = x1[7];
    for (long j = 0; j < n;) {
        const size_t vl = __riscv_vsetvl_e32m8((size_t)(n - j));
        const float *kp = kt + j;
        vfloat32m8_t p0, p1;
        if (first) {
            p0 = __riscv_vfmv_v_f_f32m8(0.0f, vl);
            p1 = p0;
        } else {
            p0 = __riscv_vle32_v_f32m8(f0 + j, vl);
            p1 = __riscv_vle32_v_f32m8(f1 + j, vl);
        }
#define PAIR(e, c, dd) do { vfloat32m8_t k_ = __riscv_vle32_v_f32m8(kp + (e) * S, vl); \
        p0 = __riscv_vfmacc_vf_f32m8(p0, c, k_, vl); p1 = __riscv_vfmacc_vf_f32m8(p1, dd, k_, vl); } while (0)
        PAIR(0, a0, b0); PAIR(1, a1, b1); PAIR(2, a2, b2); PAIR(3, a3, b3);
        PAIR(4, a4, b4); PAIR(5, a5, b5); PAIR(6, a6, b6); PAIR(7, a7, b7);
#undef PAIR
        __riscv_vse32_v_f32m8(f0 + j, p0, vl);
        __riscv_vse32_v_f32m8(f1 + j, p1, vl);
        j += (long)vl;
    }
#undef MAC8
}

/* Scores of keys j < n0 for one query sum x0 (x1 NULL) or of j < n0 and j < n1 (n1 >= n0) for
 * two (each column load serves both), stored as order keys in k0 / k1; lmax0 / lmax1 (if not
 * NULL; VLMAX entries) get the lane maxima of the row's own keys: entry r the largest key of
 * the keys j = r (mod VLMAX), j below n0 / n1 (0 when there is none). The scores are the fused
 * multiply-adds in d order (8 d per sweep over the keys, chunk8). */
void score_keys_f32(const float *x0, const float *x1, const float *kt, long S, long D, long n0,
                    long n1, uint32_t *k0, uint32_t *k1, uint32_t *lmax0, uint32_t *lmax1) {
    const long nkeys = x1 ? n1 : n0;
    float *f0 = (float *)k0, *f1 = (float *)k1; /* the scores, made keys in place below */
    long d = 0;
    for (; d + 8 <= D; d += 8)
        chunk8(x0 + d, x1 ? x1 + d : NULL, kt + d * S, S, nkeys, f0, f1, d == 0);
    for (; d < D; d++) { /* D not a multiple of 8: the last d one at a time */
        for (long j = 0; j < nkeys;) {
            const size_t vl = __riscv_vsetvl_e32m8((size_t)(nkeys - j));
            const vfloat32m8_t kv = __riscv_vle32_v_f32m8(kt + d * S + j, vl);
            const vfloat32m8_t z = __riscv_vfmv_v_f_f32m8(0.0f, vl);
            __riscv_vse32_v_f32m8(f0 + j, __riscv_vfmacc_vf_f32m8(d ? __riscv_vle32_v_f32m8(f0 + j, vl) : z, x0[d], kv, vl), vl);
            if (x1)
                __riscv_vse32_v_f32m8(f1 + j, __riscv_vfmacc_vf_f32m8(d ? __riscv_vle32_v_f32m8(f1 + j, vl) : z, x1[d], kv, vl), vl);
            j += (long)vl;
        }
    }
    /* lane maxima: lane r of the running max holds the largest key j = r (mod VLMAX) of the row */
    const size_t vm = __riscv_vsetvlmax_e32m8();
    vuint32m8_t m0 = __riscv_vmv_v_x_u32m8(0, vm), m1 = m0;
    for (long j = 0; j < nkeys;) {
        const size_t vl = __riscv_vsetvl_e32m8((size_t)(nkeys - j));
        vuint32m8_t o0 = f32_order_keys(__riscv_vle32_v_f32m8(f0 + j, vl), vl);
        __riscv_vse32_v_u32m8(k0 + j, o0, vl);
        if (lmax0 && j < n0) {
            const size_t v0 = n0 - j < (long)vl ? (size_t)(n0 - j) : vl;
            m0 = __riscv_vmaxu_vv_u32m8_tu(m0, m0, o0, v0);
        }
        if (x1) {
            vuint32m8_t o1 = f32_order_keys(__riscv_vle32_v_f32m8(f1 + j, vl), vl);
            __riscv_vse32_v_u32m8(k1 + j, o1, vl);
            if (lmax1) m1 = __riscv_vmaxu_vv_u32m8_tu(m1, m1, o1, vl);
        }
        j += (long)vl;
    }
    if (lmax0) __riscv_vse32_v_u32m8(lmax0, m0, vm);
    if (lmax1 && x1) __riscv_vse32_v_u32m8(lmax1, m1, vm);
}

static void minmax_u32(const uint32_t *a, long n, uint32_t *lo, uint32_t *hi) {
    size_t vl0 = __riscv_vsetvl_e32m8((size_t)n);
    vuint32m8_t mn = __riscv_vle32_v_u32m8(a, vl0), mx = mn;
    for (long j = (long)vl0; j < n;) {
        size_t vl = __riscv_vsetvl_e32m8((size_t)(n - j));
        vuint32m8_t x = __riscv_vle32_v_u32m8(a + j, vl);
        mn = __riscv_vminu_vv_u32m8_tu(mn, mn, x, vl);
        mx = __riscv_vmaxu_vv_u32m8_tu(mx, mx, x, vl);
        j += (long)vl;
    }
    *lo = __riscv_vmv_x_s_u32m1_u32(
        __riscv_vredminu_vs_u32m8_u32m1(mn, __riscv_vmv_s_x_u32m1(UINT32_MAX, 1), vl0));
    *hi = __riscv_vmv_x_s_u32m1_u32(
        __riscv_vredmaxu_vs_u32m8_u32m1(mx, __riscv_vmv_s_x_u32m1(0, 1), vl0));
}

static long split_u32(const uint32_t *a, long n, uint32_t pivot, uint32_t *ge, uint32_t *lt) {
    long nge = 0, nlt = 0;
    for (long j = 0; j < n;) {
        size_t vl = __riscv_vsetvl_e32m8((size_t)(n - j));
        vuint32m8_t x = __riscv_vle32_v_u32m8(a + j, vl);
        vbool4_t m = __riscv_vmsgeu_vx_u32m8_b4(x, pivot, vl);
        long c = (long)__riscv_vcpop_m_b4(m, vl);
        __riscv_vse32_v_u32m8(ge + nge, __riscv_vcompress_vm_u32m8(x, m, vl), (size_t)c);
        __riscv_vse32_v_u32m8(lt + nlt, __riscv_vcompress_vm_u32m8(x, __riscv_vmnot_m_b4(m, vl), vl),
                              vl - (size_t)c);
        nge += c;
        nlt += (long)vl - c;
        j += (long)vl;
    }
    return nge;
}

/* The k-th largest of key[0..n) (k < n) by the threshold search of topk_select (on 32-bit
 * keys: at most 32 splits), and how many keys equal to it are kept (need_eq). */
static uint32_t threshold_u32(const uint32_t *key, long n, long k, uint32_t *work, long *need_eq) {
    uint32_t *buf[3] = {work, work + n, work + 2 * n};
    const uint32_t *r = key;
    long nr = n, need = k;
    int cur = -1;
    for (;;) {
        uint32_t lo, hi;
        minmax_u32(r, nr, &lo, &hi);
        if (need == nr) { *need_eq = n; return lo; }
        if (need == 1) { *need_eq = 1; return hi; }
        if (lo == hi) { *need_eq = need; return lo; }
        int bit = 31 - __builtin_clz(lo ^ hi);
        uint32_t pivot = hi >> bit << bit;
        int a = (cur + 1) % 3, b = (cur + 2) % 3;
        if (cur < 0) a = 0, b = 1;
        long nge = split_u32(r, nr, pivot, buf[a], buf[b]);
        if (nge >= need) {
            r = buf[a], nr = nge, cur = a;
        } else {
            r = buf[b], nr -= nge, need -= nge, cur = b;
        }
    }
}

/* topk_threshold_rounds on 32-bit keys (a top-k of k <= TOPK_ROUNDS: bsr's kept blocks). */
static uint32_t threshold_rounds_u32(const uint32_t *key, long n, long k, long *need_eq) {
    uint32_t lim = UINT32_MAX; /* the candidates: keys <= lim */
    long above = 0;            /* keys above the candidates */
    for (;;) {
        vuint32m1_t mx = __riscv_vmv_s_x_u32m1(0, 1);
        for (long j = 0; j < n;) {
            size_t vl = __riscv_vsetvl_e32m8((size_t)(n - j));
            vuint32m8_t kv = __riscv_vle32_v_u32m8(key + j, vl);
            mx = __riscv_vredmaxu_vs_u32m8_u32m1_m(__riscv_vmsleu_vx_u32m8_b4(kv, lim, vl), kv, mx, vl);
            j += (long)vl;
        }
        const uint32_t m = __riscv_vmv_x_s_u32m1_u32(mx);
        long eq = 0;
        for (long j = 0; j < n;) {
            size_t vl = __riscv_vsetvl_e32m8((size_t)(n - j));
            eq += (long)__riscv_vcpop_m_b4(__riscv_vmseq_vx_u32m8_b4(__riscv_vle32_v_u32m8(key + j, vl), m, vl), vl);
            j += (long)vl;
        }
        if (above + eq >= k || m == 0) { /* m == 0: every key left is 0 (k < n: enough) */
            *need_eq = k - above;
            return m;
        }
        above += eq;
        lim = m - 1;
    }
}

/* Emit (ascending) the ids of the keys above thr and the first need_eq equal to it; ids NULL:
 * the ids are the positions. Returns the count. */
static long emit_top_u32(const uint32_t *key, const int32_t *ids, long n, uint32_t thr, long need_eq,
                         int32_t *out) {
    long cnt = 0;
    for (long j = 0; j < n;) {
        size_t vl = __riscv_vsetvl_e32m8((size_t)(n - j));
        vuint32m8_t kv = __riscv_vle32_v_u32m8(key + j, vl);
        vbool4_t keep = __riscv_vmsgtu_vx_u32m8_b4(kv, thr, vl);
        if (need_eq > 0) {
            vbool4_t eq = __riscv_vmseq_vx_u32m8_b4(kv, thr, vl);
            long ce = (long)__riscv_vcpop_m_b4(eq, vl);
            if (ce > need_eq)
                eq = __riscv_vmand_mm_b4(
                    eq, __riscv_vmsltu_vx_u32m8_b4(__riscv_viota_m_u32m8(eq, vl), (uint32_t)need_eq, vl), vl);
            need_eq -= ce < need_eq ? ce : need_eq;
            keep = __riscv_vmor_mm_b4(keep, eq, vl);
        }
        vuint32m8_t iv = ids ? __riscv_vle32_v_u32m8((const uint32_t *)ids + j, vl)
                             : __riscv_vadd_vx_u32m8(__riscv_vid_v_u32m8(vl), (uint32_t)j, vl);
        long c = (long)__riscv_vcpop_m_b4(keep, vl);
        __riscv_vse32_v_u32m8((uint32_t *)out + cnt, __riscv_vcompress_vm_u32m8(iv, keep, vl), (size_t)c);
        cnt += c;
        j += (long)vl;
    }
    return cnt;
}

/*
 * Top-k of the order keys key[0..n) (score_keys_f32), ties to the lower index, written to out
 * ascending; returns min(k, n). With the row's lane maxima lmax (nl = VLMAX entries, every
 * lane holding at least one key: n >= nl) and k <= nl: the lanes partition the keys, each lane
 * holds a key equal to its maximum, so at least k keys are >= the k-th largest lane maximum,
 * which is therefore <= the k-th largest key; one pass keeps the candidates at or above it with
 * their ids (every key that can be kept, and every key equal to the k-th largest), and the
 * threshold search runs on those only. Otherwise it runs on all n. work holds 5 * n uint32.
 */
long topk_select_f32(const uint32_t *key, long n, long k, const uint32_t *lmax, long nl,
                     uint32_t *work, int32_t *out) {
    if (k >= n) return emit_top_u32(key, NULL, n, 0, n, out);
    const uint32_t *ck = key;
    const int32_t *ci = NULL;
    long nc = n;
    if (lmax && nl >= k && n >= nl) {
        uint32_t lo, hi;
        long eq;
        if (k == nl) minmax_u32(lmax, nl, &lo, &hi);
        else lo = threshold_u32(lmax, nl, k, work, &eq);
        uint32_t *cand = work + 3 * n;
        int32_t *cid = (int32_t *)(work + 4 * n);
        nc = 0;
        for (long j = 0; j < n;) {
            size_t vl = __riscv_vsetvl_e32m8((size_t)(n - j));
            vuint32m8_t kv = __riscv_vle32_v_u32m8(key + j, vl);
            vbool4_t m = __riscv_vmsgeu_vx_u32m8_b4(kv, lo, vl);
            long c = (long)__riscv_vcpop_m_b4(m, vl);
            __riscv_vse32_v_u32m8(cand + nc, __riscv_vcompress_vm_u32m8(kv, m, vl), (size_t)c);
            __riscv_vse32_v_u32m8((uint32_t *)cid + nc,
                                  __riscv_vcompress_vm_u32m8(
                                      __riscv_vadd_vx_u32m8(__riscv_vid_v_u32m8(vl), (uint32_t)j, vl), m, vl),
                                  (size_t)c);
            nc += c;
            j += (long)vl;
        }
        ck = cand;
        ci = cid;
        if (nc == k) return emit_top_u32(ck, ci, nc, 0, nc, out);
    }
    long need_eq;
    uint32_t thr = threshold_u32(ck, nc, k, work, &need_eq);
    return emit_top_u32(ck, ci, nc, thr, need_eq, out);
}

/* Top-k of block order keys (bsr's kept blocks, with or without compression scoring), ties to
 * the lower index, ascending in out; returns min(k, n). No lane-maximum prefilter (a few
 * blocks); k <= TOPK_ROUNDS finds the threshold by successive maxima. work: 3 * n uint32. */
long topk_select_blocks_f32(const uint32_t *key, long n, long k, uint32_t *work, int32_t *out) {
    if (k >= n) return emit_top_u32(key, NULL, n, 0, n, out);
    long need_eq;
    const uint32_t thr = k <= TOPK_ROUNDS ? threshold_rounds_u32(key, n, k, &need_eq)
                                          : threshold_u32(key, n, k, work, &need_eq);
    return emit_top_u32(key, NULL, n, thr, need_eq, out);
}

/* The scores whose order keys are k (the inverse of f32_order_keys). */
static inline vfloat32m8_t f32_from_keys(vuint32m8_t k, size_t vl) {
    vint32m8_t b = __riscv_vreinterpret_v_u32m8_i32m8(k);
    vint32m8_t flip = __riscv_vor_vx_i32m8(__riscv_vnot_v_i32m8(__riscv_vsra_vx_i32m8(b, 31, vl), vl), INT32_MIN, vl);
    return __riscv_vreinterpret_v_i32m8_f32m8(__riscv_vxor_vv_i32m8(b, flip, vl));
}

/*
 * N:M of the order keys key[0..n) (key must have room for n rounded up to m; padded here with
 * 0, below every score's key): key u is kept when fewer than nkeep members of its group beat it
 * (a higher score, or an equal one earlier in the group). Vectorised over keys: for each
 * distance t = 1..m-1 every key gathers its group partner (u + t) mod m; the partner is earlier
 * exactly when that wrapped. When m divides VLMAX every strip starts a group, so the partners'
 * offsets within a strip and the wrap masks are the same for every strip: nm_pattern makes them
 * once per run (pat: m - 1 rows of VLMAX offsets, then m - 1 wrap masks; 8 * m * VLMAX bytes;
 * it returns 0 when m does not divide VLMAX, and pat is then NULL here) and they are loaded per
 * strip. Writes the kept indices ascending to out; with masked (not NULL) also masked[j] = the
 * score of key j when kept, -inf when not (j < n). Returns the count.
 */
int nm_pattern(long m, void *pat) {
    const long vlmax = (long)__riscv_vsetvlmax_e32m8();
    if (m <= 1 || vlmax % m) return 0;
    uint32_t *offs = (uint32_t *)pat;
    uint8_t *wraps = (uint8_t *)(offs + (m - 1) * vlmax);
    const long mb = (vlmax + 7) / 8;
    memset(wraps, 0, (size_t)((m - 1) * mb));
    for (long t = 1; t < m; t++)
        for (long u = 0; u < vlmax; u++) {
            const long pos = u % m, q = pos + t;
            offs[(t - 1) * vlmax + u] = (uint32_t)((u - pos + (q >= m ? q - m : q)) * 4);
            wraps[(t - 1) * mb + u / 8] |= (uint8_t)((q >= m) << (u % 8));
        }
    return 1;
}

long nm_select_u32(uint32_t *key, long n, long nkeep, long m, int32_t *out, float *masked, const void *pat) {
    long padded = (n + m - 1) / m * m;
    for (long j = n; j < padded; j++) key[j] = 0;
    const long vlmax = (long)__riscv_vsetvlmax_e32m8();
    long cnt = 0;
    if (pat) {
        const uint32_t *offs = (const uint32_t *)pat;
        const uint8_t *wraps = (const uint8_t *)(offs + (m - 1) * vlmax);
        const long mb = (vlmax + 7) / 8;
        for (long j = 0; j < n;) {
            const size_t vl = __riscv_vsetvl_e32m8((size_t)(n - j));
            const vuint32m8_t su = __riscv_vle32_v_u32m8(key + j, vl);
            vuint32m8_t beat = __riscv_vmv_v_x_u32m8(0, vl);
            for (long t = 1; t < m; t++) {
                const vuint32m8_t sv = __riscv_vluxei32_v_u32m8(key + j, __riscv_vle32_v_u32m8(offs + (t - 1) * vlmax, vl), vl);
                const vbool4_t wrap = __riscv_vlm_v_b4(wraps + (t - 1) * mb, vl);
                const vbool4_t b = __riscv_vmor_mm_b4(
                    __riscv_vmsgtu_vv_u32m8_b4(sv, su, vl),
                    __riscv_vmand_mm_b4(__riscv_vmseq_vv_u32m8_b4(sv, su, vl), wrap, vl), vl);
                beat = __riscv_vadd_vx_u32m8_mu(b, beat, beat, 1, vl);
            }
            const vbool4_t keep = __riscv_vmsltu_vx_u32m8_b4(beat, (uint32_t)nkeep, vl);
            if (masked)
                __riscv_vse32_v_f32m8(masked + j, __riscv_vfmerge_vfm_f32m8(f32_from_keys(su, vl), -__builtin_inff(),
                                                                           __riscv_vmnot_m_b4(keep, vl), vl), vl);
            const long c = (long)__riscv_vcpop_m_b4(keep, vl);
            __riscv_vse32_v_u32m8((uint32_t *)out + cnt,
                                  __riscv_vcompress_vm_u32m8(__riscv_vadd_vx_u32m8(__riscv_vid_v_u32m8(vl), (uint32_t)j, vl), keep, vl),
                                  (size_t)c);
            cnt += c;
            j += (long)vl;
        }
        return cnt;
    }
    for (long j = 0; j < n;) {
        size_t vl = __riscv_vsetvl_e32m8((size_t)(n - j));
        vuint32m8_t idx = __riscv_vadd_vx_u32m8(__riscv_vid_v_u32m8(vl), (uint32_t)j, vl);
        vuint32m8_t pos = __riscv_vremu_vx_u32m8(idx, (uint32_t)m, vl);
        vuint32m8_t base = __riscv_vsub_vv_u32m8(idx, pos, vl);
        vuint32m8_t su = __riscv_vle32_v_u32m8(key + j, vl);
        vuint32m8_t beat = __riscv_vmv_v_x_u32m8(0, vl);
        for (long t = 1; t < m; t++) {
            vuint32m8_t q = __riscv_vadd_vx_u32m8(pos, (uint32_t)t, vl);
            vbool4_t wrap = __riscv_vmsgeu_vx_u32m8_b4(q, (uint32_t)m, vl);
            q = __riscv_vsub_vx_u32m8_mu(wrap, q, q, (uint32_t)m, vl);
            vuint32m8_t off = __riscv_vsll_vx_u32m8(__riscv_vadd_vv_u32m8(base, q, vl), 2, vl);
            vuint32m8_t sv = __riscv_vluxei32_v_u32m8(key, off, vl);
            vbool4_t b = __riscv_vmor_mm_b4(
                __riscv_vmsgtu_vv_u32m8_b4(sv, su, vl),
                __riscv_vmand_mm_b4(__riscv_vmseq_vv_u32m8_b4(sv, su, vl), wrap, vl), vl);
            beat = __riscv_vadd_vx_u32m8_mu(b, beat, beat, 1, vl);
        }
        vbool4_t keep = __riscv_vmsltu_vx_u32m8_b4(beat, (uint32_t)nkeep, vl);
        if (masked)
            __riscv_vse32_v_f32m8(masked + j, __riscv_vfmerge_vfm_f32m8(f32_from_keys(su, vl), -__builtin_inff(),
                                                                       __riscv_vmnot_m_b4(keep, vl), vl), vl);
        long c = (long)__riscv_vcpop_m_b4(keep, vl);
        __riscv_vse32_v_u32m8((uint32_t *)out + cnt, __riscv_vcompress_vm_u32m8(idx, keep, vl), (size_t)c);
        cnt += c;
        j += (long)vl;
    }
    return cnt;
}
