/*
 * Landmark (compressed) attention inside the kernel, as sattn.specs.landmark defines it:
 * tokens are assigned to L landmarks (contiguous segments, then landmark_iters k-means
 * iterations in float64 over K as the precision sees it: nearest centre by
 * |c|^2 - 2 K.c, ties to the lower id; empty landmarks keep their centre); the compressed
 * K/V of a landmark is the float32 mean of its members (i8/i4: the mean code rounded half to
 * even; bf16: the mean rounded to bf16), and a query attends every non-empty landmark
 * (causal: those whose last member is <= p(i), the position off + i of query row i of Sq).
 */
#include <math.h>
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

/* centres[l] = float64 mean of the members of l (empty: unchanged). */
static void centre_means(const float *kf, const int32_t *a, long S, long D, long L, double *cen,
                         double *sums, long *cnt) {
    memset(sums, 0, (size_t)(L * D) * 8);
    memset(cnt, 0, (size_t)L * 8);
    for (long j = 0; j < S; j++) {
        cnt[a[j]]++;
        for (long d = 0; d < D; d++) sums[a[j] * D + d] += (double)kf[j * D + d];
    }
    for (long l = 0; l < L; l++)
        if (cnt[l])
            for (long d = 0; d < D; d++) cen[l * D + d] = sums[l * D + d] / (double)cnt[l];
}

int run_landmark(ctx_t *c) {
    const long S = c->S, Sq = c->Sq, off = c->off, D = c->D, Dv = c->Dv, L = c->landmarks,
               rb = c->row_bytes;
    const long qmax = c->prec == PREC_I8 ? 127 : 7;
    attend_fn attend = attend_lookup(c->prec, c->lmul);
    void *scratch = xmalloc(attend_scratch_bytes(c, L));
    int32_t *a = xmalloc((size_t)S * 4), *list = xmalloc((size_t)L * 4);
    double *cen = xmalloc((size_t)(L * D) * 8), *sums = xmalloc((size_t)(L * D) * 8);
    double *dots = xmalloc((size_t)S * 8), *best = xmalloc((size_t)S * 8);
    long *cnt = xmalloc((size_t)L * 8), *last = xmalloc((size_t)L * 8), cursor = 0;
    float *vf = xmalloc((size_t)(S * Dv) * 4), *kc = xmalloc((size_t)(L * D) * 4);
    float *vc = xmalloc((size_t)(L * Dv) * 4);
    uint8_t *kst = xmalloc((size_t)(L * rb)), *vst = xmalloc((size_t)(L * rb));
    for (long g = 0; g < c->Hkv; g++) {
        float *kf = key_floats(c, g);
        for (long j = 0; j < S; j++) a[j] = (int32_t)(j * L / S);
        if (c->landmark_iters > 0) {
            memset(cen, 0, (size_t)(L * D) * 8);
            centre_means(kf, a, S, D, L, cen, sums, cnt);
            for (long it = 0; it < c->landmark_iters; it++) {
                for (long l = 0; l < L; l++) {
                    double cc = 0.0;
                    for (long d = 0; d < D; d++) cc += cen[l * D + d] * cen[l * D + d];
                    dot_keys_f64(cen + l * D, kf, D, S, dots);
                    for (long j = 0; j < S; j++) {
                        double dist = cc - 2.0 * dots[j];
                        if (l == 0 || dist < best[j]) { best[j] = dist; a[j] = (int32_t)l; }
                    }
                }
                centre_means(kf, a, S, D, L, cen, sums, cnt);
            }
        }
        /* compressed K/V: float32 means of the members' values (codes for i8/i4) */
        for (long j = 0; j < S; j++) row_to_float_n(c, c->v + (g * S + j) * rb, Dv, vf + j * Dv);
        memset(kc, 0, (size_t)(L * D) * 4);
        memset(vc, 0, (size_t)(L * Dv) * 4);
        memset(cnt, 0, (size_t)L * 8);
        for (long l = 0; l < L; l++) last[l] = -1;
        for (long j = 0; j < S; j++) {
            long l = a[j];
            cnt[l]++;
            last[l] = j;
            for (long d = 0; d < D; d++) kc[l * D + d] += kf[j * D + d];
            for (long d = 0; d < Dv; d++) vc[l * Dv + d] += vf[j * Dv + d];
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
        for (long i = 0; i < Sq; i++) {
            long n = np;
            const int32_t *row = list;
            int32_t *vis = list + np; /* room: list has L entries, np <= L; reuse tail below */
            if (c->causal) {
                static int32_t *buf;
                static long cap;
                if (cap < L) { buf = xmalloc((size_t)L * 4); cap = L; }
                n = 0;
                for (long u = 0; u < np; u++)
                    if (last[list[u]] <= off + i) buf[n++] = list[u];
                row = buf;
            }
            (void)vis;
            attend_heads(c, g, i, kst, vst, row, n, attend, scratch, &cursor);
        }
    }
    return 0;
}
