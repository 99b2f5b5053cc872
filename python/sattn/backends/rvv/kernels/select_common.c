/*
 * Helpers the data-dependent patterns share: the operands as the precision sees them and
 * float64 selection scores, so that the kernel ranks keys exactly as sattn.specs does
 * (float64 dot products of the rounded values / integer codes; ties to the lower index).
 */
#include <riscv_vector.h>
#include <string.h>

#include "sattn_rvv.h"

/* One stored row as floats: fp32 values, widened bf16 values, or the i8/i4 integer codes. */
void row_to_float(const ctx_t *c, const uint8_t *row, float *out) {
    const long D = c->D;
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

/* Qsum[g, i]: the GQA group's queries summed in float64, in head order (as NumPy sums them). */
void query_sum(const ctx_t *c, long g, long i, float *tmp, double *out) {
    const long D = c->D;
    for (long d = 0; d < D; d++) out[d] = 0.0;
    for (long h = g * c->group; h < (g + 1) * c->group; h++) {
        row_to_float(c, c->q + (h * c->S + i) * c->row_bytes, tmp);
        for (long d = 0; d < D; d++) out[d] += (double)tmp[d];
    }
}

/* out[j] = sum_d x[d] * kf[j, d] in float64 for j < nkeys, vectorised over keys. */
void dot_keys_f64(const double *x, const float *kf, long D, long nkeys, double *out) {
    for (long j = 0; j < nkeys;) {
        size_t vl = __riscv_vsetvl_e64m8((size_t)(nkeys - j));
        vfloat64m8_t acc = __riscv_vfmv_v_f_f64m8(0.0, vl);
        const float *kp = kf + j * D;
        for (long d = 0; d < D; d++) {
            vfloat32m4_t k32 = __riscv_vlse32_v_f32m4(kp + d, D * 4, vl);
            acc = __riscv_vfmacc_vf_f64m8(acc, x[d], __riscv_vfwcvt_f_f_v_f64m8(k32, vl), vl);
        }
        __riscv_vse64_v_f64m8(out + j, acc, vl);
        j += (long)vl;
    }
}

/* Vectorised float64 exp (Cody-Waite range reduction, degree-11 Taylor on |r| <= ln2/2;
 * relative error about 1e-15). x >= -700. */
vfloat64m8_t vexp_f64(vfloat64m8_t x, size_t vl) {
    const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
    x = __riscv_vfmax_vf_f64m8(x, -700.0, vl);
    vfloat64m8_t nf = __riscv_vfmul_vf_f64m8(x, 1.4426950408889634, vl);
    vint64m8_t n = __riscv_vfcvt_x_f_v_i64m8(nf, vl);
    nf = __riscv_vfcvt_f_x_v_f64m8(n, vl);
    vfloat64m8_t r = __riscv_vfnmsac_vf_f64m8(x, ln2_hi, nf, vl);
    r = __riscv_vfnmsac_vf_f64m8(r, ln2_lo, nf, vl);
    static const double coef[12] = {1.0, 1.0, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720,
                                    1.0 / 5040, 1.0 / 40320, 1.0 / 362880, 1.0 / 3628800,
                                    1.0 / 39916800};
    vfloat64m8_t p = __riscv_vfmv_v_f_f64m8(coef[11], vl);
    for (int i = 10; i >= 0; i--)
        p = __riscv_vfmadd_vv_f64m8(p, r, __riscv_vfmv_v_f_f64m8(coef[i], vl), vl);
    vint64m8_t e = __riscv_vsll_vx_i64m8(__riscv_vadd_vx_i64m8(n, 1023, vl), 52, vl);
    return __riscv_vfmul_vv_f64m8(p, __riscv_vreinterpret_v_i64m8_f64m8(e), vl);
}

/* Indices j < n with keep[j] (bytes) appended to out in ascending order; returns the count. */
long compress_true(const uint8_t *keep, long n, long base, int32_t *out) {
    long cnt = 0;
    for (long j = 0; j < n;) {
        size_t vl = __riscv_vsetvl_e8m2((size_t)(n - j));
        vbool4_t m = __riscv_vmsne_vx_u8m2_b4(__riscv_vle8_v_u8m2(keep + j, vl), 0, vl);
        vuint32m8_t ids = __riscv_vadd_vx_u32m8(__riscv_vid_v_u32m8(vl), (uint32_t)(base + j), vl);
        vuint32m8_t sel = __riscv_vcompress_vm_u32m8(ids, m, vl);
        long c = (long)__riscv_vcpop_m_b4(m, vl);
        __riscv_vse32_v_u32m8((uint32_t *)out + cnt, sel, (size_t)c);
        cnt += c;
        j += (long)vl;
    }
    return cnt;
}

/* The value of rank k (0-based) in descending order of a[0..n) (a is permuted). */
double kth_largest(double *a, long n, long k) {
    long lo = 0, hi = n - 1;
    while (lo < hi) {
        double pivot = a[lo + (hi - lo) / 2];
        long i = lo, j = hi;
        while (i <= j) {
            while (a[i] > pivot) i++;
            while (a[j] < pivot) j--;
            if (i <= j) {
                double t = a[i]; a[i] = a[j]; a[j] = t;
                i++; j--;
            }
        }
        if (k <= j) hi = j;
        else if (k >= i) lo = i;
        else return a[k];
    }
    return a[k];
}

/* Top-k of sc[0..n) (ties to the lower index) as a keep mask; tmp holds n doubles. */
void topk_keep(const double *sc, long n, long k, double *tmp, uint8_t *keep) {
    if (k >= n) {
        memset(keep, 1, (size_t)n);
        return;
    }
    memcpy(tmp, sc, (size_t)n * 8);
    double thr = kth_largest(tmp, n, k - 1);
    long greater = 0;
    for (long j = 0; j < n; j++) greater += sc[j] > thr;
    long need = k - greater;
    for (long j = 0; j < n; j++) {
        int eq = sc[j] == thr && need > 0;
        keep[j] = (uint8_t)(sc[j] > thr || eq);
        need -= eq;
    }
}
