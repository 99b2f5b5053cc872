/*
 * Landmark (compressed) attention inside the kernel, as sattn.specs.landmark defines it:
 * tokens are assigned to L landmarks (contiguous segments, then landmark_iters k-means
 * iterations in fp32 over K as the precision sees it: nearest centre by |c|^2 - 2 K.c, ties
 * to the lower id; empty landmarks keep their centre; centres are the fp32 means of their
 * members added in key order, |c|^2 adds the rounded squares in d order, as the reference
 * does; only the K.c dot products may be summed in another order there); the compressed
 * K/V of a landmark is the float32 mean of its members (i8/i4: the mean code rounded half to
 * even; bf16: the mean rounded to bf16), and a query attends every non-empty landmark
 * (causal: those whose last member is <= p(i), the position off + i of query row i of Sq).
 * stop_after = 2: the selection alone (assignment, k-means, compressed K/V), no attention.
 */
#include <math.h>
#include <riscv_vector.h>
#include <string.h>

#include "sattn_rvv.h"

static uint16_t bf16_rne(float x) {
    uint32_t b;
    memcpy(&b, &x, 4);
    return (uint16_t)((b + 0x7FFF + ((b >> 16) & 1)) >> 16);
}

/* Store one float row of D values (codes for i8/i4) in the kernel's storage format. */
static void store_row(const ctx_t *c, const float *x, long D, uint8_t *row) {
    for (long d = 0; d < D; d++) {
        switch (c->prec) {
        case PREC_FP32: ((float *)row)[d] = x[d]; break;
        case PREC_BF16: ((uint16_t *)row)[d] = bf16_rne(x[d]); break;
        case PREC_I8: ((int8_t *)row)[d] = (int8_t)x[d]; break;
        default:
            if (d & 1) row[d >> 1] = (uint8_t)((row[d >> 1] & 0x0F) | (((int)x[d] & 0xF) << 4));
            else row[d >> 1] = (uint8_t)((int)x[d] & 0xF);
        }
    }
}

static inline void add_row_f32(float *dst, const float *src, long n);

/* centres[l] = fp32 mean of the members of l (empty: unchanged): the members' rows (kf, ks
 * floats apart) added in key order in fp32 from +0.0, the sum divided by the member count,
 * vectorised over D (sattn.specs.landmark: the same operations). */
static void centre_means(const float *kf, long ks, const int32_t *a, long S, long D, long L,
                         float *cen, float *sums, long *cnt) {
    memset(sums, 0, (size_t)(L * D) * 4);
    memset(cnt, 0, (size_t)L * 8);
    for (long j = 0; j < S; j++) {
        cnt[a[j]]++;
        add_row_f32(sums + a[j] * D, kf + j * ks, D);
    }
    for (long l = 0; l < L; l++) {
        if (!cnt[l]) continue;
        const float n = (float)cnt[l];
        for (long d = 0; d < D;) {
            size_t vl = __riscv_vsetvl_e32m8((size_t)(D - d));
            __riscv_vse32_v_f32m8(cen + l * D + d, __riscv_vfdiv_vf_f32m8(__riscv_vle32_v_f32m8(sums + l * D + d, vl), n, vl), vl);
            d += (long)vl;
        }
    }
}

/* |c|^2 in fp32 as the reference adds it: the D products rounded, then added in d order from
 * +0.0 (an ordered reduction: vfredosum adds its elements in order). */
static float norm2_f32(const float *c, long D) {
    vfloat32m1_t acc = __riscv_vfmv_s_f_f32m1(0.0f, 1);
    for (long d = 0; d < D;) {
        size_t vl = __riscv_vsetvl_e32m8((size_t)(D - d));
        const vfloat32m8_t x = __riscv_vle32_v_f32m8(c + d, vl);
        acc = __riscv_vfredosum_vs_f32m8_f32m1(__riscv_vfmul_vv_f32m8(x, x, vl), acc, vl);
        d += (long)vl;
    }
    return __riscv_vfmv_f_s_f32m1_f32(acc);
}

/* dst[0..n) += src[0..n) in fp32 (vector code, element by element: the same sums). */
static inline void add_row_f32(float *dst, const float *src, long n) {
    for (long d = 0; d < n;) {
        size_t vl = __riscv_vsetvl_e32m8((size_t)(n - d));
        __riscv_vse32_v_f32m8(dst + d, __riscv_vfadd_vv_f32m8(__riscv_vle32_v_f32m8(dst + d, vl),
                                                            __riscv_vle32_v_f32m8(src + d, vl), vl), vl);
        d += (long)vl;
    }
}

/* One k-means assignment step in fp32, vectorised over keys: for l = 0..L-1 in order, dist =
 * |c_l|^2 - 2 K.c_l (K.c_l: fp32 fused multiply-adds in d order over K's fp32 columns kt
 * [D, S]), key j moves to l when dist < its best so far (l = 0 always): ties to the lower id.
 * Two landmarks per pass over the columns (each column load serves both; l is decided before
 * l + 1, as in a loop over l). */
static void assign(const float *kt, const float *cen, long S, long D, long L, float *best, int32_t *a,
                   float *dot0, float *dot1) {
    for (long l = 0; l < L; l += 2) {
        const int two = l + 1 < L;
        const float cc0 = norm2_f32(cen + l * D, D), cc1 = two ? norm2_f32(cen + (l + 1) * D, D) : 0.0f;
        const float *c0 = cen + l * D, *c1 = two ? c0 + D : c0;
        /* the dot products, 8 d per sweep over the keys with the 16 centre values in scalar
         * registers (the accumulators go through dot0 / dot1; the adds stay in d order) */
        long d = 0;
        for (; d + 8 <= D; d += 8) {
            const float x0 = c0[d], x1 = c0[d + 1], x2 = c0[d + 2], x3 = c0[d + 3], x4 = c0[d + 4],
                        x5 = c0[d + 5], x6 = c0[d + 6], x7 = c0[d + 7];
            const float y0 = c1[d], y1 = c1[d + 1], y2 = c1[d + 2], y3 = c1[d + 3], y4 = c1[d + 4],
                        y5 = c1[d + 5], y6 = c1[d + 6], y7 = c1[d + 7];
            for (long j = 0; j < S;) {
                const size_t vl = __riscv_vsetvl_e32m8((size_t)(S - j));
                vfloat32m8_t a0, a1;
                if (d == 0) {
                    a0 = __riscv_vfmv_v_f_f32m8(0.0f, vl);
                    a1 = a0;
                } else {
                    a0 = __riscv_vle32_v_f32m8(dot0 + j, vl);
                    a1 = __riscv_vle32_v_f32m8(dot1 + j, vl);
                }
                const float *kp = kt + d * S + j;
#define TWO(e, x, y) do { vfloat32m8_t k_ = __riscv_vle32_v_f32m8(kp + (e) * S, vl); \
        a0 = __riscv_vfmacc_vf_f32m8(a0, x, k_, vl); a1 = __riscv_vfmacc_vf_f32m8(a1, y, k_, vl); } while (0)
                TWO(0, x0, y0); TWO(1, x1, y1); TWO(2, x2, y2); TWO(3, x3, y3);
                TWO(4, x4, y4); TWO(5, x5, y5); TWO(6, x6, y6); TWO(7, x7, y7);
#undef TWO
                __riscv_vse32_v_f32m8(dot0 + j, a0, vl);
                __riscv_vse32_v_f32m8(dot1 + j, a1, vl);
                j += (long)vl;
            }
        }
        for (; d < D; d++) /* D not a multiple of 8: the last d one at a time */
            for (long j = 0; j < S;) {
                const size_t vl = __riscv_vsetvl_e32m8((size_t)(S - j));
                const vfloat32m8_t z = __riscv_vfmv_v_f_f32m8(0.0f, vl), kv = __riscv_vle32_v_f32m8(kt + d * S + j, vl);
                __riscv_vse32_v_f32m8(dot0 + j, __riscv_vfmacc_vf_f32m8(d ? __riscv_vle32_v_f32m8(dot0 + j, vl) : z, c0[d], kv, vl), vl);
                __riscv_vse32_v_f32m8(dot1 + j, __riscv_vfmacc_vf_f32m8(d ? __riscv_vle32_v_f32m8(dot1 + j, vl) : z, c1[d], kv, vl), vl);
                j += (long)vl;
            }
        for (long j = 0; j < S;) {
            size_t vl = __riscv_vsetvl_e32m8((size_t)(S - j));
            const vfloat32m8_t a0 = __riscv_vle32_v_f32m8(dot0 + j, vl), a1 = __riscv_vle32_v_f32m8(dot1 + j, vl);
            /* cc - 2 dot: the doubling is exact, one rounding, as the reference's */
            vfloat32m8_t dist = __riscv_vfrsub_vf_f32m8(__riscv_vfmul_vf_f32m8(a0, 2.0f, vl), cc0, vl);
            if (l == 0) {
                __riscv_vse32_v_f32m8(best + j, dist, vl);
                __riscv_vse32_v_i32m8(a + j, __riscv_vmv_v_x_i32m8(0, vl), vl);
            } else {
                vbool4_t lt = __riscv_vmflt_vv_f32m8_b4(dist, __riscv_vle32_v_f32m8(best + j, vl), vl);
                __riscv_vse32_v_f32m8_m(lt, best + j, dist, vl);
                __riscv_vse32_v_i32m8_m(lt, a + j, __riscv_vmv_v_x_i32m8((int32_t)l, vl), vl);
            }
            if (two) {
                dist = __riscv_vfrsub_vf_f32m8(__riscv_vfmul_vf_f32m8(a1, 2.0f, vl), cc1, vl);
                vbool4_t lt = __riscv_vmflt_vv_f32m8_b4(dist, __riscv_vle32_v_f32m8(best + j, vl), vl);
                __riscv_vse32_v_f32m8_m(lt, best + j, dist, vl);
                __riscv_vse32_v_i32m8_m(lt, a + j, __riscv_vmv_v_x_i32m8((int32_t)(l + 1), vl), vl);
            }
            j += (long)vl;
        }
    }
}

int run_landmark(ctx_t *c) {
    const long S = c->S, Sq = c->Sq, off = c->off, D = c->D, Dv = c->Dv, L = c->landmarks,
               rb = c->row_bytes;
    const long qmax = c->prec == PREC_I8 ? 127 : 7;
    attend_fn attend = attend_lookup(c->prec, c->lmul);
    attend2_fn attend2 = attend2_lookup(c->prec, c->lmul);
    void *scratch = xmalloc(attend_scratch_bytes(c, L));
    int32_t *a = xmalloc((size_t)S * 4), *list = xmalloc((size_t)L * 4);
    float *cen = xmalloc((size_t)(L * D) * 4), *sums = xmalloc((size_t)(L * D) * 4);
    float *best = xmalloc((size_t)S * 4), *dots = xmalloc((size_t)S * 2 * 4);
    long *cnt = xmalloc((size_t)L * 8), *last = xmalloc((size_t)L * 8), cursor = 0;
    const int direct = c->prec == PREC_FP32; /* fp32 rows are read as they are stored */
    float *vfb = direct ? NULL : xmalloc((size_t)(S * Dv) * 4), *kc = xmalloc((size_t)(L * D) * 4);
    float *vc = xmalloc((size_t)(L * Dv) * 4);
    uint8_t *kst = xmalloc((size_t)(L * rb)), *vst = xmalloc((size_t)(L * rb));
    int32_t *buf = xmalloc((size_t)L * 4);
    for (long g = 0; g < c->Hkv; g++) {
        const float *kf = direct ? (const float *)(c->k + g * S * rb) : key_floats(c, g);
        const long ks = direct ? rb / 4 : D; /* floats between rows of kf (and of vf) */
        for (long j = 0; j < S; j++) a[j] = (int32_t)(j * L / S);
        if (c->landmark_iters > 0) {
            const float *kt = key_columns_f32(c, g);
            memset(cen, 0, (size_t)(L * D) * 4);
            centre_means(kf, ks, a, S, D, L, cen, sums, cnt);
            for (long it = 0; it < c->landmark_iters; it++) {
                assign(kt, cen, S, D, L, best, a, dots, dots + S);
                centre_means(kf, ks, a, S, D, L, cen, sums, cnt);
            }
        }
        /* compressed K/V: float32 means of the members' values (codes for i8/i4) */
        const float *vf = (const float *)(c->v + g * S * rb);
        const long vs = direct ? rb / 4 : Dv;
        if (!direct) {
            for (long j = 0; j < S; j++) row_to_float_n(c, c->v + (g * S + j) * rb, Dv, vfb + j * Dv);
            vf = vfb;
        }
        memset(kc, 0, (size_t)(L * D) * 4);
        memset(vc, 0, (size_t)(L * Dv) * 4);
        memset(cnt, 0, (size_t)L * 8);
        for (long l = 0; l < L; l++) last[l] = -1;
        for (long j = 0; j < S; j++) {
            long l = a[j];
            cnt[l]++;
            last[l] = j;
            add_row_f32(kc + l * D, kf + j * ks, D);
            add_row_f32(vc + l * Dv, vf + j * vs, Dv);
        }
        long np = 0;
        for (long l = 0; l < L; l++) {
            if (!cnt[l]) continue;
            list[np++] = (int32_t)l;
            for (long d = 0; d < D; d++) {
                float kx = kc[l * D + d] / (float)cnt[l];
                if (c->prec == PREC_I8 || c->prec == PREC_I4)
                    kx = fminf(fmaxf(rintf(kx), (float)-qmax), (float)qmax);
                kc[l * D + d] = kx;
            }
            for (long d = 0; d < Dv; d++) {
                float vx = vc[l * Dv + d] / (float)cnt[l];
                if (c->prec == PREC_I8 || c->prec == PREC_I4)
                    vx = fminf(fmaxf(rintf(vx), (float)-qmax), (float)qmax);
                vc[l * Dv + d] = vx;
            }
            store_row(c, kc + l * D, D, kst + l * rb);
            store_row(c, vc + l * Dv, Dv, vst + l * rb);
        }
        if (c->stop_after) { /* 2: the selection alone: each row's landmarks, no attention */
            for (long i = 0; i < Sq; i++) {
                long n = 0;
                if (c->causal)
                    for (long u = 0; u < np; u++)
                        if (last[list[u]] <= off + i) buf[n++] = list[u];
                sel_record(c, g, i, c->causal ? buf : list, c->causal ? n : np, &cursor);
            }
            continue;
        }
        if (!c->causal && attend2) {
            /* every row attends the same landmarks: two rows per pass (each compressed K/V row
             * load serves both), the heads of the group in turn */
            for (long i = 0; i < Sq; i++) sel_record(c, g, i, list, np, &cursor);
            keys_t u = {list, 0, 1, np};
            long i = 0;
            for (; i + 1 < Sq; i += 2)
                for (long h = g * c->group; h < (g + 1) * c->group; h++)
                    attend2(c, c->q + (h * Sq + i) * rb, c->q + (h * Sq + i + 1) * rb, kst, vst, &u,
                            0, np, 0, np, c->out + (h * Sq + i) * Dv, c->out + (h * Sq + i + 1) * Dv,
                            scratch, 1, 0);
            if (i < Sq)
                for (long h = g * c->group; h < (g + 1) * c->group; h++)
                    attend(c, c->q + (h * Sq + i) * rb, kst, vst, &u, c->out + (h * Sq + i) * Dv, scratch);
            continue;
        }
        for (long i = 0; i < Sq; i++) {
            long n = np;
            const int32_t *row = list;
            if (c->causal) {
                n = 0;
                for (long u = 0; u < np; u++)
                    if (last[list[u]] <= off + i) buf[n++] = list[u];
                row = buf;
            }
            attend_heads(c, g, i, kst, vst, row, n, attend, scratch, &cursor);
        }
    }
    return 0;
}
