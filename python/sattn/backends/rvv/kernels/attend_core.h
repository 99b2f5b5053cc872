/*
 * The attention core, instantiated by attend.c once per (precision, LMUL): PREC is one of
 * PREC_*, LMUL one of 1, 2, 4, 8. Nothing here is run-time generic in the inner loops.
 *
 * One query row at a time, online (streaming) softmax over strips of keys:
 *   scores  vectorised over keys: s[key] += q[d] * K[key, d] (strided or indexed loads of a
 *           column of K), two strips in flight so each scalar q[d] serves 2*VL keys;
 *           q is pre-scaled by score_scale*log2(e) so the softmax uses exp2;
 *   softmax running max m and sum l; p = exp2(s - m) with a vectorised exp2 (range
 *           reduction + degree-5 polynomial, 3.7e-7 relative), no scalar expf;
 *   P.V     vectorised over D: o[d] += p[key] * V[key, d], two D-chunks per pass.
 * D is the query/key dimension (scores), Dv the value dimension (P.V and the output row).
 * Precisions: bf16 loads 16-bit values and widens them with an integer shift; i8 multiplies
 * codes with a widening integer MAC into int32 (vsext + vwmacc) and dequantises the strip's
 * scores once; i4 keeps two codes per byte and unpacks nibbles in registers.
 */
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)

#if LMUL == 1
#define M32 m1
#define MB b32
#define M16 mf2
#define M8 mf4
#elif LMUL == 2
#define M32 m2
#define MB b16
#define M16 m1
#define M8 mf2
#elif LMUL == 4
#define M32 m4
#define MB b8
#define M16 m2
#define M8 m1
#elif LMUL == 8
#define M32 m8
#define MB b4
#define M16 m4
#define M8 m2
#endif

#if PREC == PREC_FP32
#define PNAME fp32
#elif PREC == PREC_BF16
#define PNAME bf16
#elif PREC == PREC_I8
#define PNAME i8
#else
#define PNAME i4
#endif

#define FN(name) CAT(CAT(CAT(name, _), PNAME), CAT(_, M32))
#define RV(op, m) CAT(CAT(__riscv_, op), m)
#define VF CAT(CAT(vfloat32, M32), _t)
#define VI CAT(CAT(vint32, M32), _t)
#define VU CAT(CAT(vuint32, M32), _t)
#define VI16 CAT(CAT(vint16, M16), _t)
#define VU16 CAT(CAT(vuint16, M16), _t)
#define VI8 CAT(CAT(vint8, M8), _t)
#define VSETVL(n) RV(vsetvl_e32, M32)(n)
#define VSETVLMAX() RV(vsetvlmax_e32, M32)()

/* ---------------- vectorised exp2 for x <= 0 (shared by every precision) ----------------
 * Round to nearest n, f = x - n in [-0.5, 0.5], degree-5 polynomial (3.7e-7 relative), then
 * 2^n is added straight into the exponent field of p (p in [0.70, 1.42], n in [-126, 0]:
 * no overflow; at n = -126 the result is below 2^-126 either way). 15 vector instructions. */
#if PREC == PREC_FP32
static inline VF CAT(vexp2_, M32)(VF x, size_t vl) {
    x = RV(vfmax_vf_f32, M32)(x, -126.0f, vl);
    VI n = RV(vfcvt_x_f_v_i32, M32)(x, vl); /* round to nearest even */
    VF f = RV(vfsub_vv_f32, M32)(x, RV(vfcvt_f_x_v_f32, M32)(n, vl), vl); /* [-0.5, 0.5] */
    /* Horner as multiply then add-scalar: no splatted constants, so no extra live registers */
    VF p = RV(vfadd_vf_f32, M32)(RV(vfmul_vf_f32, M32)(f, 0.0013395285932347178f, vl), 0.009670767933130264f, vl);
    p = RV(vfadd_vf_f32, M32)(RV(vfmul_vv_f32, M32)(p, f, vl), 0.05550340563058853f, vl);
    p = RV(vfadd_vf_f32, M32)(RV(vfmul_vv_f32, M32)(p, f, vl), 0.24022211134433746f, vl);
    p = RV(vfadd_vf_f32, M32)(RV(vfmul_vv_f32, M32)(p, f, vl), 0.6931471824645996f, vl);
    p = RV(vfadd_vf_f32, M32)(RV(vfmul_vv_f32, M32)(p, f, vl), 1.0f, vl);
    VI e = RV(vadd_vv_i32, M32)(CAT(CAT(CAT(__riscv_vreinterpret_v_f32, M32), _i32), M32)(p), RV(vsll_vx_i32, M32)(n, 23, vl), vl);
    return CAT(CAT(CAT(__riscv_vreinterpret_v_i32, M32), _f32), M32)(e);
}
#endif
#if PREC == PREC_FP32 && LMUL == 1
/* exp2 of one scalar (the rescale factor of a running max), at LMUL 1 for every instance */
static inline float sexp2_m1(float x) {
    return __riscv_vfmv_f_s_f32m1_f32(vexp2_m1(__riscv_vfmv_v_f_f32m1(x, 1), 1));
}
#endif
#define VEXP2 CAT(vexp2_, M32)
#define SEXP2 sexp2_m1
#if LMUL == 1
#define TRUNC1(x) (x)
#else
#define TRUNC1(x) CAT(CAT(__riscv_vlmul_trunc_v_f32, M32), _f32m1)(x)
#endif

#define U2F CAT(CAT(CAT(__riscv_vreinterpret_v_u32, M32), _f32), M32)
#define REDMAX CAT(CAT(CAT(__riscv_vfredmax_vs_f32, M32), _f32), m1)
#define REDSUM CAT(CAT(CAT(__riscv_vfredusum_vs_f32, M32), _f32), m1)

/* ---------------- precision hooks ---------------- */
#if PREC == PREC_FP32 || PREC == PREC_BF16
#define QS float
#define ACC VF
#define ACC_ZERO(vl) RV(vfmv_v_f_f32, M32)(0.0f, vl)
#define TO_SCORE(a, vl) (a)
#else
#define QS int16_t
#define ACC VI
#define ACC_ZERO(vl) RV(vmv_v_x_i32, M32)(0, vl)
#define TO_SCORE(a, vl) RV(vfmul_vf_f32, M32)(RV(vfcvt_f_x_v_f32, M32)(a, vl), sscale, vl)
#endif

#if PREC == PREC_FP32
#define DSTEP 1
#define COFF(d) ((d) * 4)
#define MAC1(acc, q, src, vl) RV(vfmacc_vf_f32, M32)(acc, q, src, vl)
#define K_S(p, sb, vl) RV(vlse32_v_f32, M32)((const float *)(p), sb, vl)
#define K_X(p, off, vl) RV(vluxei32_v_f32, M32)((const float *)(p), off, vl)
#define MAC_S(acc, qs, d, p, sb, vl) acc = MAC1(acc, qs[d], K_S(p, sb, vl), vl)
#define MAC_X(acc, qs, d, p, off, vl) acc = MAC1(acc, qs[d], K_X(p, off, vl), vl)
#define ESZ 4
#define LOADV(p, vl) RV(vle32_v_f32, M32)((const float *)(p), vl)
#elif PREC == PREC_BF16
#define DSTEP 1
#define COFF(d) ((d) * 2)
#define WIDEN16(h, vl) U2F(RV(vsll_vx_u32, M32)(RV(vzext_vf2_u32, M32)(h, vl), 16, vl))
#define MAC_S(acc, qs, d, p, sb, vl) \
    acc = RV(vfmacc_vf_f32, M32)(acc, qs[d], WIDEN16(RV(vlse16_v_u16, M16)((const uint16_t *)(p), sb, vl), vl), vl)
#define MAC_X(acc, qs, d, p, off, vl) \
    acc = RV(vfmacc_vf_f32, M32)(acc, qs[d], WIDEN16(RV(vluxei32_v_u16, M16)((const uint16_t *)(p), off, vl), vl), vl)
#define ESZ 2
#define LOADV(p, vl) WIDEN16(RV(vle16_v_u16, M16)((const uint16_t *)(p), vl), vl)
#elif PREC == PREC_I8
#define DSTEP 1
#define COFF(d) (d)
#define WMAC(acc, q, b, vl) RV(vwmacc_vx_i32, M32)(acc, q, RV(vsext_vf2_i16, M16)(b, vl), vl)
#define MAC_S(acc, qs, d, p, sb, vl) acc = WMAC(acc, qs[d], RV(vlse8_v_i8, M8)((const int8_t *)(p), sb, vl), vl)
#define MAC_X(acc, qs, d, p, off, vl) acc = WMAC(acc, qs[d], RV(vluxei32_v_i8, M8)((const int8_t *)(p), off, vl), vl)
#define ESZ 1
#define LOADV(p, vl) RV(vfcvt_f_x_v_f32, M32)(RV(vsext_vf4_i32, M32)(RV(vle8_v_i8, M8)((const int8_t *)(p), vl), vl), vl)
#else /* i4: byte e of a row holds d = 2e (low nibble) and d = 2e + 1 (high nibble) */
#define DSTEP 2
#define COFF(d) ((d) >> 1)
#define WMAC(acc, q, b, vl) RV(vwmacc_vx_i32, M32)(acc, q, RV(vsext_vf2_i16, M16)(b, vl), vl)
#define NIB_LO(b, vl) RV(vsra_vx_i8, M8)(RV(vsll_vx_i8, M8)(b, 4, vl), 4, vl)
#define NIB_HI(b, vl) RV(vsra_vx_i8, M8)(b, 4, vl)
#define MAC_PAIR(acc, qs, d, b, vl) do { VI8 b_ = (b); \
        acc = WMAC(acc, qs[d], NIB_LO(b_, vl), vl); acc = WMAC(acc, qs[(d) + 1], NIB_HI(b_, vl), vl); } while (0)
#define MAC_S(acc, qs, d, p, sb, vl) MAC_PAIR(acc, qs, d, RV(vlse8_v_i8, M8)((const int8_t *)(p), sb, vl), vl)
#define MAC_X(acc, qs, d, p, off, vl) MAC_PAIR(acc, qs, d, RV(vluxei32_v_i8, M8)((const int8_t *)(p), off, vl), vl)
#define ESZ 1
#define NIB_F(b, vl) RV(vfcvt_f_x_v_f32, M32)(RV(vsext_vf4_i32, M32)(b, vl), vl)
#endif


/* q row (storage precision) -> qs: pre-scaled floats (fp32/bf16) or int16 codes (i8/i4). */
static void FN(prep_q)(const ctx_t *c, const uint8_t *qrow, QS *qs) {
    const long D = c->D;
#if PREC == PREC_FP32 || PREC == PREC_BF16
    const float sc = c->score_scale * LOG2E;
    for (long d = 0; d < D;) {
        size_t vl = VSETVL(D - d);
#if PREC == PREC_FP32
        VF x = LOADV(qrow + 4 * d, vl);
#else
        VF x = LOADV(qrow + 2 * d, vl);
#endif
        RV(vse32_v_f32, M32)(qs + d, RV(vfmul_vf_f32, M32)(x, sc, vl), vl);
        d += vl;
    }
#elif PREC == PREC_I8
    for (long d = 0; d < D;) {
        size_t vl = VSETVL(D - d);
        RV(vse16_v_i16, M16)(qs + d, RV(vsext_vf2_i16, M16)(RV(vle8_v_i8, M8)((const int8_t *)qrow + d, vl), vl), vl);
        d += vl;
    }
#else
    const long DB = D / 2;
    for (long e = 0; e < DB;) {
        size_t vl = VSETVL(DB - e);
        VI8 b = RV(vle8_v_i8, M8)((const int8_t *)qrow + e, vl);
        RV(vsse16_v_i16, M16)(qs + 2 * e, 4, RV(vsext_vf2_i16, M16)(NIB_LO(b, vl), vl), vl);
        RV(vsse16_v_i16, M16)(qs + 2 * e + 1, 4, RV(vsext_vf2_i16, M16)(NIB_HI(b, vl), vl), vl);
        e += vl;
    }
#endif
}

/* The accumulator width of the output row: Dv floats (the value dimension), kept as [even d | odd d] for i4. */
static void FN(scale_acc)(float *oacc, long D, float f) {
    for (long d = 0; d < D;) {
        size_t vl = VSETVL(D - d);
        RV(vse32_v_f32, M32)(oacc + d, RV(vfmul_vf_f32, M32)(RV(vle32_v_f32, M32)(oacc + d, vl), f, vl), vl);
        d += vl;
    }
}

/* One strip of keys: contiguous (kp/vp point at the first key, sb bytes apart) or gathered
 * through byte offsets (ix != NULL, kp/vp are the K/V bases). */
typedef struct {
    const uint8_t *kp, *vp;
    const int32_t *ix;
    long sb;
    size_t vl;
} FN(strip_t);

/* Strip of keys [t, t+vl) of a row. Index rows whose strip is one ascending run are treated
 * as contiguous (ascending unique indices: last - first == vl - 1 means no gaps). */
static inline FN(strip_t) FN(make_strip)(const keys_t *ks, long t, size_t vl, const uint8_t *kbase,
                                         const uint8_t *vbase, long rb) {
    FN(strip_t) st;
    st.vl = vl;
    if (!ks->idx) {
        long off = (ks->lo + t * ks->stride) * rb;
        st.kp = kbase + off; st.vp = vbase + off; st.ix = 0; st.sb = ks->stride * rb;
    } else if (ks->idx[t + vl - 1] - ks->idx[t] == (long)vl - 1) {
        long off = (long)ks->idx[t] * rb;
        st.kp = kbase + off; st.vp = vbase + off; st.ix = 0; st.sb = rb;
    } else {
        st.kp = kbase; st.vp = vbase; st.ix = ks->idx + t; st.sb = rb;
    }
    return st;
}

/* P.V of one strip: o[chunk] += p[u] * V[key u][chunk] for the strip's keys. */
static inline void FN(pv_strip)(const ctx_t *c, const FN(strip_t) *st, const float *pbuf,
                                float *oacc, const uint8_t **vptr) {
    const long D = c->Dv, nk = (long)st->vl;
    const size_t vlmax = VSETVLMAX();
    if (st->ix) { /* gathered keys: one pointer per key, computed once for all chunks */
        for (long u = 0; u < nk; u++) vptr[u] = st->vp + (long)st->ix[u] * st->sb;
    }
#if PREC != PREC_I4
    for (long c0 = 0; c0 < D; c0 += (long)vlmax) {
        size_t va = VSETVL(D - c0);
        const long ca = c0 * ESZ;
        VF o = RV(vle32_v_f32, M32)(oacc + c0, va);
        if (st->ix) {
            long u = 0;
            for (; u + 4 <= nk; u += 4) {
                o = RV(vfmacc_vf_f32, M32)(o, pbuf[u], LOADV(vptr[u] + ca, va), va);
                o = RV(vfmacc_vf_f32, M32)(o, pbuf[u + 1], LOADV(vptr[u + 1] + ca, va), va);
                o = RV(vfmacc_vf_f32, M32)(o, pbuf[u + 2], LOADV(vptr[u + 2] + ca, va), va);
                o = RV(vfmacc_vf_f32, M32)(o, pbuf[u + 3], LOADV(vptr[u + 3] + ca, va), va);
            }
            for (; u < nk; u++) o = RV(vfmacc_vf_f32, M32)(o, pbuf[u], LOADV(vptr[u] + ca, va), va);
        } else {
            const uint8_t *vr = st->vp + ca;
            const long sb = st->sb;
            long u = 0;
            for (; u + 4 <= nk; u += 4) {
                o = RV(vfmacc_vf_f32, M32)(o, pbuf[u], LOADV(vr, va), va);
                vr += sb;
                o = RV(vfmacc_vf_f32, M32)(o, pbuf[u + 1], LOADV(vr, va), va);
                vr += sb;
                o = RV(vfmacc_vf_f32, M32)(o, pbuf[u + 2], LOADV(vr, va), va);
                vr += sb;
                o = RV(vfmacc_vf_f32, M32)(o, pbuf[u + 3], LOADV(vr, va), va);
                vr += sb;
            }
            for (; u < nk; u++, vr += sb) o = RV(vfmacc_vf_f32, M32)(o, pbuf[u], LOADV(vr, va), va);
        }
        RV(vse32_v_f32, M32)(oacc + c0, o, va);
    }
#else
    const long DB = D / 2;
    for (long c0 = 0; c0 < DB; c0 += (long)vlmax) {
        size_t va = VSETVL(DB - c0);
        VF olo = RV(vle32_v_f32, M32)(oacc + c0, va);
        VF ohi = RV(vle32_v_f32, M32)(oacc + DB + c0, va);
        for (long u = 0; u < nk; u++) {
            const uint8_t *vr = st->ix ? vptr[u] : st->vp + u * st->sb;
            float p = pbuf[u];
            VI8 b = RV(vle8_v_i8, M8)((const int8_t *)vr + c0, va);
            olo = RV(vfmacc_vf_f32, M32)(olo, p, NIB_F(NIB_LO(b, va), va), va);
            ohi = RV(vfmacc_vf_f32, M32)(ohi, p, NIB_F(NIB_HI(b, va), va), va);
        }
        RV(vse32_v_f32, M32)(oacc + c0, olo, va);
        RV(vse32_v_f32, M32)(oacc + DB + c0, ohi, va);
    }
#endif
}

/* Scores of one strip, vectorised over its keys (the d loop walks a column of K). */
static inline VF FN(scores_strip)(const ctx_t *c, const FN(strip_t) *st, const QS *qs) {
    const long D = c->D;
    const size_t vl = st->vl;
    ACC a = ACC_ZERO(vl);
#if PREC == PREC_I8 || PREC == PREC_I4
    const float sscale = c->score_scale * LOG2E;
#endif
    if (st->ix) {
        VU off = RV(vmul_vx_u32, M32)(RV(vle32_v_u32, M32)((const uint32_t *)st->ix, vl), (uint32_t)st->sb, vl);
#pragma clang loop unroll_count(4)
        for (long d = 0; d < D; d += DSTEP) MAC_X(a, qs, d, st->kp + COFF(d), off, vl);
    } else {
        const long sb = st->sb;
#pragma clang loop unroll_count(4)
        for (long d = 0; d < D; d += DSTEP) MAC_S(a, qs, d, st->kp + COFF(d), sb, vl);
    }
    return TO_SCORE(a, vl);
}

/* Scores of two full contiguous strips at once: each scalar q[d] serves 2*VL keys. */
static inline void FN(scores_pair)(const ctx_t *c, const FN(strip_t) *s0, const FN(strip_t) *s1,
                                   const QS *qs, VF *out0, VF *out1) {
    const long D = c->D, sb = s0->sb;
    const size_t vl = s0->vl;
    ACC a0 = ACC_ZERO(vl), a1 = ACC_ZERO(vl);
#if PREC == PREC_I8 || PREC == PREC_I4
    const float sscale = c->score_scale * LOG2E;
#endif
    const uint8_t *k0 = s0->kp, *k1 = s1->kp;
#pragma clang loop unroll_count(2)
    for (long d = 0; d < D; d += DSTEP) {
        MAC_S(a0, qs, d, k0 + COFF(d), sb, vl);
        MAC_S(a1, qs, d, k1 + COFF(d), sb, vl);
    }
    *out0 = TO_SCORE(a0, vl);
    *out1 = TO_SCORE(a1, vl);
}

#if PREC != PREC_I4
/* Score of single keys vectorised over D (a dot product and one reduction): for the few keys
 * left after the full strips, where a whole strip pass over D would be wasted. */
static inline float FN(score_dot)(const ctx_t *c, const uint8_t *krow, const QS *qs) {
    const long D = c->D;
#if PREC == PREC_FP32 || PREC == PREC_BF16
    vfloat32m1_t r = __riscv_vfmv_s_f_f32m1(0.0f, 1);
    for (long d = 0; d < D;) {
        size_t vl = VSETVL(D - d);
        VF prod = RV(vfmul_vv_f32, M32)(LOADV(krow + d * ESZ, vl), RV(vle32_v_f32, M32)(qs + d, vl), vl);
        r = REDSUM(prod, r, vl);
        d += vl;
    }
    return __riscv_vfmv_f_s_f32m1_f32(r);
#else
    vint32m1_t r = __riscv_vmv_s_x_i32m1(0, 1);
    for (long d = 0; d < D;) {
        size_t vl = VSETVL(D - d);
        VI prod = RV(vwmul_vv_i32, M32)(RV(vsext_vf2_i16, M16)(RV(vle8_v_i8, M8)((const int8_t *)krow + d, vl), vl),
                                        RV(vle16_v_i16, M16)(qs + d, vl), vl);
        r = CAT(CAT(CAT(__riscv_vredsum_vs_i32, M32), _i32), m1)(prod, r, vl);
        d += vl;
    }
    return (float)__riscv_vmv_x_s_i32m1_i32(r) * (c->score_scale * LOG2E);
#endif
}
#endif

static void FN(attend)(const ctx_t *c, const uint8_t *qrow, const uint8_t *kbase,
                       const uint8_t *vbase, const keys_t *ks, float *out, void *scratch) {
    const long D = c->D, Dv = c->Dv, rb = c->row_bytes, n = ks->n;
    if (n <= 0) {
        for (long d = 0; d < Dv;) {
            size_t vl = VSETVL(Dv - d);
            RV(vse32_v_f32, M32)(out + d, RV(vfmv_v_f_f32, M32)(0.0f, vl), vl);
            d += vl;
        }
        return;
    }
    const size_t vlmax = VSETVLMAX();
    QS *qs = (QS *)scratch;
    float *oacc = (float *)((uint8_t *)scratch + ((D * sizeof(QS) + 63) & ~63L));
    float *pbuf = oacc + ((Dv + 15) & ~15L);
    const uint8_t **vptr = (const uint8_t **)(pbuf + 2 * 4096 / 32 * 8);
    FN(prep_q)(c, qrow, qs);
    for (long d = 0; d < Dv;) {
        size_t vl = VSETVL(Dv - d);
        RV(vse32_v_f32, M32)(oacc + d, RV(vfmv_v_f_f32, M32)(0.0f, vl), vl);
        d += vl;
    }
#if PREC != PREC_I4
    /* below this many keys, per-key dot products beat one more strip pass over D */
    const long dot_max = D / (4 * ((D + (long)vlmax - 1) / (long)vlmax));
#endif
    float m = -__builtin_inff(), l = 0.0f;
    for (long t = 0; t < n;) {
        const long r = n - t;
        FN(strip_t) st[2];
        int ns = 1;
        VF s0, s1;
        /* ---- scores ---- */
#if PREC != PREC_I4
        if (r <= dot_max && t > 0) {
            /* the few keys left after the full strips: per-key dot products over D are
             * cheaper than one more strip pass over D */
            for (long u = 0; u < r; u++) {
                long j = ks->idx ? ks->idx[t + u] : ks->lo + (t + u) * ks->stride;
                pbuf[u] = FN(score_dot)(c, kbase + j * rb, qs);
            }
            if (ks->idx) {
                st[0].kp = kbase; st[0].vp = vbase; st[0].ix = ks->idx + t; st[0].sb = rb;
            } else {
                st[0].kp = kbase + (ks->lo + t * ks->stride) * rb;
                st[0].vp = vbase + (ks->lo + t * ks->stride) * rb;
                st[0].ix = 0; st[0].sb = ks->stride * rb;
            }
            st[0].vl = VSETVL(r);
            s0 = RV(vle32_v_f32, M32)(pbuf, st[0].vl);
        } else
#endif
        {
            st[0] = FN(make_strip)(ks, t, VSETVL(r), kbase, vbase, rb);
            if (r >= 2 * (long)vlmax && !st[0].ix) {
                st[1] = FN(make_strip)(ks, t + (long)vlmax, vlmax, kbase, vbase, rb);
                if (!st[1].ix && st[1].sb == st[0].sb) ns = 2;
            }
            if (ns == 2)
                FN(scores_pair)(c, &st[0], &st[1], qs, &s0, &s1);
            else
                s0 = FN(scores_strip)(c, &st[0], qs);
        }
        /* ---- online softmax ---- */
        vfloat32m1_t rm = __riscv_vfmv_s_f_f32m1(-__builtin_inff(), 1);
        rm = REDMAX(s0, rm, st[0].vl);
        if (ns == 2) rm = REDMAX(s1, rm, st[1].vl);
        float mx = __riscv_vfmv_f_s_f32m1_f32(rm);
        if (mx > m) {
            if (l > 0.0f) {
                float corr = SEXP2(m - mx);
                l *= corr;
                FN(scale_acc)(oacc, Dv, corr);
            }
            m = mx;
        }
        vfloat32m1_t z = __riscv_vfmv_s_f_f32m1(0.0f, 1);
        VF p0 = VEXP2(RV(vfsub_vf_f32, M32)(s0, m, st[0].vl), st[0].vl);
        RV(vse32_v_f32, M32)(pbuf, p0, st[0].vl);
        z = REDSUM(p0, z, st[0].vl);
        if (ns == 2) {
            VF p1 = VEXP2(RV(vfsub_vf_f32, M32)(s1, m, st[1].vl), st[1].vl);
            RV(vse32_v_f32, M32)(pbuf + vlmax, p1, st[1].vl);
            z = REDSUM(p1, z, st[1].vl);
        }
        l += __riscv_vfmv_f_s_f32m1_f32(z);
        /* ---- P.V, vectorised over Dv ---- */
        FN(pv_strip)(c, &st[0], pbuf, oacc, vptr);
        t += (long)st[0].vl;
        if (ns == 2) {
            FN(pv_strip)(c, &st[1], pbuf + vlmax, oacc, vptr);
            t += (long)st[1].vl;
        }
    }
    /* ---- normalise: out = v_scale * o / l ---- */
    const float inv = c->v_scale / l;
#if PREC != PREC_I4
    for (long d = 0; d < Dv;) {
        size_t vl = VSETVL(Dv - d);
        RV(vse32_v_f32, M32)(out + d, RV(vfmul_vf_f32, M32)(RV(vle32_v_f32, M32)(oacc + d, vl), inv, vl), vl);
        d += vl;
    }
#else
    for (long e = 0; e < Dv / 2;) {
        size_t vl = VSETVL(Dv / 2 - e);
        RV(vsse32_v_f32, M32)(out + 2 * e, 8, RV(vfmul_vf_f32, M32)(RV(vle32_v_f32, M32)(oacc + e, vl), inv, vl), vl);
        RV(vsse32_v_f32, M32)(out + 2 * e + 1, 8, RV(vfmul_vf_f32, M32)(RV(vle32_v_f32, M32)(oacc + Dv / 2 + e, vl), inv, vl), vl);
        e += vl;
    }
#endif
}

#if PREC != PREC_I4
/* ---------------- two query rows over one key list ----------------
 * Rows that share their keys (dense rows, neighbouring window rows, the query rows of one
 * block, the heads of a GQA group) load every K column and V row once for both: per key
 * strip one load serves two multiply-adds. Row r only sees the keys at list positions
 * [lo_r, hi_r); the others get a score of -1e30 (a finite sentinel: exp2 of it vanishes and a
 * strip with no visible key cannot produce NaN).
 *
 * Instruction economy (every instruction counts the same under the qemu plugin, whatever its
 * LMUL): the scalar operands of the vfmacc.vf (q[d] in the scores, p[key] in P.V) are kept
 * interleaved for the two rows ([a0 b0 a1 b1 ...]) so one pointer and immediate offsets reach
 * both; the d and key loops are unrolled by 8 and bump pointers, so per d (per key) the
 * scalar work is the two operand loads and one address add. */
#if PREC == PREC_FP32
#define KT VF
#define KLD_S(p, sb, vl) RV(vlse32_v_f32, M32)((const float *)(p), sb, vl)
#define KLD_X(p, off, vl) RV(vluxei32_v_f32, M32)((const float *)(p), off, vl)
#define KMAC(acc, q, x, vl) RV(vfmacc_vf_f32, M32)(acc, q, x, vl)
#define QLOAD(p, vl) RV(vle32_v_f32, M32)(p, vl)
#define QSTORE2(p, x, vl) RV(vsse32_v_f32, M32)(p, 8, x, vl)
#elif PREC == PREC_BF16
#define KT VF
#define KLD_S(p, sb, vl) WIDEN16(RV(vlse16_v_u16, M16)((const uint16_t *)(p), sb, vl), vl)
#define KLD_X(p, off, vl) WIDEN16(RV(vluxei32_v_u16, M16)((const uint16_t *)(p), off, vl), vl)
#define KMAC(acc, q, x, vl) RV(vfmacc_vf_f32, M32)(acc, q, x, vl)
#define QLOAD(p, vl) RV(vle32_v_f32, M32)(p, vl)
#define QSTORE2(p, x, vl) RV(vsse32_v_f32, M32)(p, 8, x, vl)
#else
#define KT VI16
#define KLD_S(p, sb, vl) RV(vsext_vf2_i16, M16)(RV(vlse8_v_i8, M8)((const int8_t *)(p), sb, vl), vl)
#define KLD_X(p, off, vl) RV(vsext_vf2_i16, M16)(RV(vluxei32_v_i8, M8)((const int8_t *)(p), off, vl), vl)
#define KMAC(acc, q, x, vl) RV(vwmacc_vx_i32, M32)(acc, q, x, vl)
#define QLOAD(p, vl) RV(vle16_v_i16, M16)(p, vl)
#define QSTORE2(p, x, vl) RV(vsse16_v_i16, M16)(p, 4, x, vl)
#endif

static inline VF FN(mask_outside)(VF s, long t, long lo, long hi, size_t vl) {
    if (t >= lo && t + (long)vl <= hi) return s;
    VU pos = RV(vadd_vx_u32, M32)(RV(vid_v_u32, M32)(vl), (uint32_t)t, vl);
    s = RV(vfmerge_vfm_f32, M32)(s, -1e30f, CAT(CAT(CAT(__riscv_vmsltu_vx_u32, M32), _), MB)(pos, (uint32_t)lo, vl), vl);
    return RV(vfmerge_vfm_f32, M32)(s, -1e30f, CAT(CAT(CAT(__riscv_vmsgeu_vx_u32, M32), _), MB)(pos, (uint32_t)hi, vl), vl);
}

/* online-softmax update of one row for a strip of scores; leaves p in pbuf[0], pbuf[2], ...
 * (the other row's p sits in between). The max reduction starts from the strip itself and
 * the sum reduction from the running sum, so neither needs an initial vector. */
static inline void FN(softmax_strip)(VF s, size_t vl, float *m, float *l, float *oacc, long D, float *pbuf) {
    float mx = __riscv_vfmv_f_s_f32m1_f32(REDMAX(s, TRUNC1(s), vl));
    if (mx > *m) {
        if (*m > -__builtin_inff()) {
            float corr = SEXP2(*m - mx);
            *l *= corr;
            FN(scale_acc)(oacc, D, corr);
        }
        *m = mx;
    }
    VF p = VEXP2(RV(vfsub_vf_f32, M32)(s, *m, vl), vl);
    RV(vsse32_v_f32, M32)(pbuf, 8, p, vl);
    *l = __riscv_vfmv_f_s_f32m1_f32(REDSUM(p, __riscv_vfmv_s_f_f32m1(*l, 1), vl));
    /* use the sum here: otherwise the reduction sinks to the end of the strip and p stays
     * live across the other row's softmax, which then spills */
    __asm__ volatile("" ::"f"(*l));
}

/* Length of the ascending run at the start of ix[0..m) (ix[u] == ix[0] + u), m <= VLMAX. */
static inline long FN(run_len)(const int32_t *ix, size_t m) {
    if ((long)ix[m - 1] - ix[0] == (long)m - 1) return (long)m; /* ascending unique: no gap */
    VU want = RV(vadd_vx_u32, M32)(RV(vid_v_u32, M32)(m), (uint32_t)ix[0], m);
    long f = CAT(__riscv_vfirst_m_, MB)(CAT(CAT(CAT(__riscv_vmsne_vv_u32, M32), _), MB)(
        RV(vle32_v_u32, M32)((const uint32_t *)ix, m), want, m), m);
    return f < 0 ? (long)m : f;
}

/* Scores of one key (row krow) for both rows, vectorised over D: one K load serves both. */
static inline void FN(score_dot2)(const ctx_t *c, const uint8_t *krow, const QS *qa, const QS *qb,
                                  float *out) {
    const long D = c->D;
#if PREC == PREC_FP32 || PREC == PREC_BF16
    vfloat32m1_t ra = __riscv_vfmv_s_f_f32m1(0.0f, 1), rb = ra;
    for (long d = 0; d < D;) {
        size_t vl = VSETVL(D - d);
        VF k = LOADV(krow + d * ESZ, vl);
        ra = REDSUM(RV(vfmul_vv_f32, M32)(k, QLOAD(qa + d, vl), vl), ra, vl);
        rb = REDSUM(RV(vfmul_vv_f32, M32)(k, QLOAD(qb + d, vl), vl), rb, vl);
        d += vl;
    }
    out[0] = __riscv_vfmv_f_s_f32m1_f32(ra);
    out[1] = __riscv_vfmv_f_s_f32m1_f32(rb);
#else
    vint32m1_t ra = __riscv_vmv_s_x_i32m1(0, 1), rb = ra;
    for (long d = 0; d < D;) {
        size_t vl = VSETVL(D - d);
        VI16 k = RV(vsext_vf2_i16, M16)(RV(vle8_v_i8, M8)((const int8_t *)krow + d, vl), vl);
        ra = CAT(CAT(CAT(__riscv_vredsum_vs_i32, M32), _i32), m1)(RV(vwmul_vv_i32, M32)(k, QLOAD(qa + d, vl), vl), ra, vl);
        rb = CAT(CAT(CAT(__riscv_vredsum_vs_i32, M32), _i32), m1)(RV(vwmul_vv_i32, M32)(k, QLOAD(qb + d, vl), vl), rb, vl);
        d += vl;
    }
    const float sscale = c->score_scale * LOG2E;
    out[0] = (float)__riscv_vmv_x_s_i32m1_i32(ra) * sscale;
    out[1] = (float)__riscv_vmv_x_s_i32m1_i32(rb) * sscale;
#endif
}

/* Scores of nk keys for both rows when D fits one vector: per key one K row load, row b's q
 * reloaded (row a's stays in registers: four register groups are all there is at LMUL 8),
 * two products, two reductions; out is interleaved [a0 b0 a1 b1 ...]. */
static inline void FN(dots2_short)(const ctx_t *c, const FN(strip_t) *st, long nk, const QS *qa,
                                   const QS *qb, float *out) {
    const size_t D = (size_t)c->D;
#if PREC == PREC_FP32 || PREC == PREC_BF16
    const VF a = QLOAD(qa, D);
    const vfloat32m1_t z = __riscv_vfmv_s_f_f32m1(0.0f, 1);
#define DOT2_ONE(kr) do { VF k_ = LOADV(kr, D); float ra_, rb_; \
        ra_ = __riscv_vfmv_f_s_f32m1_f32(REDSUM(RV(vfmul_vv_f32, M32)(k_, a, D), z, D)); \
        rb_ = __riscv_vfmv_f_s_f32m1_f32(REDSUM(RV(vfmul_vv_f32, M32)(k_, QLOAD(qb, D), D), z, D)); \
        __asm__("" : "+f"(ra_), "+f"(rb_)); /* keep fsw (not vsetivli + vse32 + vsetvli) */ \
        out[0] = ra_; out[1] = rb_; out += 2; } while (0)
#else
    const VI16 a = QLOAD(qa, D);
    const vint32m1_t z = __riscv_vmv_s_x_i32m1(0, 1);
    const float sscale = c->score_scale * LOG2E;
#define REDI CAT(CAT(CAT(__riscv_vredsum_vs_i32, M32), _i32), m1)
#define DOT2_ONE(kr) do { VI16 k_ = RV(vsext_vf2_i16, M16)(RV(vle8_v_i8, M8)((const int8_t *)(kr), D), D); \
        out[0] = (float)__riscv_vmv_x_s_i32m1_i32(REDI(RV(vwmul_vv_i32, M32)(k_, a, D), z, D)) * sscale; \
        out[1] = (float)__riscv_vmv_x_s_i32m1_i32(REDI(RV(vwmul_vv_i32, M32)(k_, QLOAD(qb, D), D), z, D)) * sscale; \
        out += 2; } while (0)
#endif
    if (st->ix) {
        const long rb = c->row_bytes;
        for (long u = 0; u < nk; u++) DOT2_ONE(st->kp + (long)st->ix[u] * rb);
    } else {
        const uint8_t *kr = st->kp;
        for (long u = 0; u < nk; u++, kr += st->sb) DOT2_ONE(kr);
    }
#undef DOT2_ONE
#ifdef REDI
#undef REDI
#endif
}

/* one d of the two-row scores: K column (loaded by LD) times q[d] of each row */
#define SC1(LD, j) do { KT x_ = LD(kq + COFF(j)); \
        xa = KMAC(xa, qp[2 * (j)], x_, vl); xb = KMAC(xb, qp[2 * (j) + 1], x_, vl); } while (0)
#define SCORES2(LD) do { \
        long d = 0; \
        for (; d + 8 <= D; d += 8, kq += COFF(8), qp += 16) { \
            SC1(LD, 0); SC1(LD, 1); SC1(LD, 2); SC1(LD, 3); \
            SC1(LD, 4); SC1(LD, 5); SC1(LD, 6); SC1(LD, 7); } \
        for (; d < D; d++, kq += COFF(1), qp += 2) SC1(LD, 0); } while (0)
/* one key of the two-row P.V: V row (at VP) times p[key] of each row */
#define PV1(VP, j) do { VF x_ = LOADV(VP, va); \
        ya = RV(vfmacc_vf_f32, M32)(ya, pp[2 * (j)], x_, va); \
        yb = RV(vfmacc_vf_f32, M32)(yb, pp[2 * (j) + 1], x_, va); } while (0)

static void FN(attend2)(const ctx_t *c, const uint8_t *qra, const uint8_t *qrb, const uint8_t *kbase,
                        const uint8_t *vbase, const keys_t *ks0, long alo, long ahi, long blo, long bhi,
                        float *outa, float *outb, void *scratch, long npairs, long lo_step) {
    const long D = c->D, Dv = c->Dv, rb = c->row_bytes, n = ks0->n;
    keys_t kk = *ks0; /* the keys of the current pair */
    const keys_t *ks = &kk;
    const size_t vlmax = VSETVLMAX();
    const long Dp = (D + 15) & ~15L, Dvp = (Dv + 15) & ~15L;
    QS *qa = (QS *)scratch, *qb = qa + Dp, *qi = qb + Dp; /* qi: [qa0 qb0 qa1 qb1 ...] */
    float *oa = (float *)(qi + 2 * Dp), *ob = oa + Dvp;
    float *pi = ob + Dvp; /* [pa0 pb0 pa1 pb1 ...] of the current strip */
    const uint8_t **vptr = (const uint8_t **)(pi + 2 * 4096 / 32 * 8);
#if PREC == PREC_I8
    const float sscale = c->score_scale * LOG2E;
#endif
    /* below this many keys, per-key dot products (measured: 17 instructions per key for both
     * rows at one D-chunk) beat one more strip pass over D (6.4 per d, plus its softmax) */
    const long dot_max = D / (2 * ((D + (long)vlmax - 1) / (long)vlmax));
    /* npairs pairs of rows: pair p is rows (a + 2p, b + 2p) over the keys shifted by
     * p * lo_step (consecutive dense or window row pairs); everything above is set up once */
    for (long pj = 0; pj < npairs; pj++, qra += 2 * rb, qrb += 2 * rb, outa += 2 * Dv, outb += 2 * Dv,
                                       kk.lo += lo_step) {
        FN(prep_q)(c, qra, qa);
        FN(prep_q)(c, qrb, qb);
        for (long d = 0; d < D;) {
            size_t vl = VSETVL(D - d);
            QSTORE2(qi + 2 * d, QLOAD(qa + d, vl), vl);
            QSTORE2(qi + 2 * d + 1, QLOAD(qb + d, vl), vl);
            d += vl;
        }
        for (long d = 0; d < 2 * Dvp;) {
            size_t vl = VSETVL(2 * Dvp - d);
            RV(vse32_v_f32, M32)(oa + d, RV(vfmv_v_f_f32, M32)(0.0f, vl), vl);
            d += vl;
        }
        float ma = -__builtin_inff(), la = 0.0f, mb = -__builtin_inff(), lb = 0.0f;
        for (long t = 0; t < n;) {
            const long r = n - t;
            size_t vl = VSETVL(r);
            FN(strip_t) st;
            int dot = r <= dot_max;
            st.sb = rb;
            st.ix = 0;
            if (!ks->idx) {
                const long off = (ks->lo + t * ks->stride) * rb;
                st.kp = kbase + off; st.vp = vbase + off; st.sb = ks->stride * rb;
            } else {
                const long run = FN(run_len)(ks->idx + t, vl);
                if (run < (long)vl && !dot && run <= dot_max) {
                    /* a short run before a full contiguous strip (the global tokens ahead of the
                     * local blocks): score it with dot products, keep the next strip contiguous */
                    const long r2 = r - run, v2 = r2 < (long)vlmax ? r2 : (long)vlmax;
                    if (FN(run_len)(ks->idx + t + run, (size_t)v2) == v2) {
                        vl = VSETVL(run);
                        dot = 1;
                    }
                }
                if (run >= (long)vl) {
                    const long off = (long)ks->idx[t] * rb;
                    st.kp = kbase + off; st.vp = vbase + off;
                } else {
                    st.kp = kbase; st.vp = vbase; st.ix = ks->idx + t;
                }
            }
            st.vl = vl;
            VF sa, sb2;
            if (dot) {
                if (D <= (long)vlmax)
                    FN(dots2_short)(c, &st, (long)vl, qa, qb, pi);
                else
                    for (long u = 0; u < (long)vl; u++) {
                        const uint8_t *kr = st.ix ? kbase + (long)st.ix[u] * rb : st.kp + u * st.sb;
                        FN(score_dot2)(c, kr, qa, qb, pi + 2 * u);
                    }
                sa = RV(vlse32_v_f32, M32)(pi, 8, vl);
                sb2 = RV(vlse32_v_f32, M32)(pi + 1, 8, vl);
            } else {
                ACC xa = ACC_ZERO(vl), xb = ACC_ZERO(vl);
                const uint8_t *kq;
                const QS *qp = qi;
                if (st.ix) {
                    VU off = RV(vmul_vx_u32, M32)(RV(vle32_v_u32, M32)((const uint32_t *)st.ix, vl), (uint32_t)rb, vl);
                    kq = kbase;
    #define LDX(p) KLD_X(p, off, vl)
                    SCORES2(LDX);
    #undef LDX
                } else {
                    const long sb = st.sb;
                    kq = st.kp;
    #define LDS(p) KLD_S(p, sb, vl)
                    SCORES2(LDS);
    #undef LDS
                }
                sa = TO_SCORE(xa, vl);
                sb2 = TO_SCORE(xb, vl);
            }
            sa = FN(mask_outside)(sa, t, alo, ahi, vl);
            sb2 = FN(mask_outside)(sb2, t, blo, bhi, vl);
            /* row b's scores wait in its p slots while row a's softmax runs (the exp needs every
             * free register group: keeping them live costs a spill and a reload of 8 registers) */
            RV(vsse32_v_f32, M32)(pi + 1, 8, sb2, vl);
            FN(softmax_strip)(sa, vl, &ma, &la, oa, Dv, pi);
            FN(softmax_strip)(RV(vlse32_v_f32, M32)(pi + 1, 8, vl), vl, &mb, &lb, ob, Dv, pi + 1);
            /* ---- P.V: one V row load serves both rows ---- */
            const long nk = (long)vl;
            if (st.ix) { /* one pointer per key, vectorised, computed once for all D-chunks */
                for (long u = 0; u < nk;) {
                    size_t v64 = __riscv_vsetvl_e64m8((size_t)(nk - u));
                    vuint64m8_t a = __riscv_vzext_vf2_u64m8(__riscv_vle32_v_u32m4((const uint32_t *)st.ix + u, v64), v64);
                    a = __riscv_vmadd_vx_u64m8(a, (uint64_t)rb, __riscv_vmv_v_x_u64m8((uint64_t)(uintptr_t)vbase, v64), v64);
                    __riscv_vse64_v_u64m8((uint64_t *)(vptr + u), a, v64);
                    u += (long)v64;
                }
            }
            for (long c0 = 0; c0 < Dv; c0 += (long)vlmax) {
                size_t va = VSETVL(Dv - c0);
                const long ca = c0 * ESZ;
                VF ya = RV(vle32_v_f32, M32)(oa + c0, va), yb = RV(vle32_v_f32, M32)(ob + c0, va);
                const float *pp = pi;
                long u = 0;
                if (st.ix) {
                    const uint8_t *const *vq = vptr;
                    for (; u + 8 <= nk; u += 8, vq += 8, pp += 16) {
                        PV1(vq[0] + ca, 0); PV1(vq[1] + ca, 1); PV1(vq[2] + ca, 2); PV1(vq[3] + ca, 3);
                        PV1(vq[4] + ca, 4); PV1(vq[5] + ca, 5); PV1(vq[6] + ca, 6); PV1(vq[7] + ca, 7);
                    }
                    for (; u < nk; u++, vq++, pp += 2) PV1(vq[0] + ca, 0);
                } else {
                    const uint8_t *vr = st.vp + ca;
                    const long sbv = st.sb;
                    for (; u + 8 <= nk; u += 8, pp += 16) {
                        PV1(vr, 0); vr += sbv; PV1(vr, 1); vr += sbv; PV1(vr, 2); vr += sbv; PV1(vr, 3); vr += sbv;
                        PV1(vr, 4); vr += sbv; PV1(vr, 5); vr += sbv; PV1(vr, 6); vr += sbv; PV1(vr, 7); vr += sbv;
                    }
                    for (; u < nk; u++, vr += sbv, pp += 2) PV1(vr, 0);
                }
                RV(vse32_v_f32, M32)(oa + c0, ya, va);
                RV(vse32_v_f32, M32)(ob + c0, yb, va);
            }
            t += nk;
        }
        const float ia = c->v_scale / la, ib = c->v_scale / lb;
        for (long d = 0; d < Dv;) {
            size_t vl = VSETVL(Dv - d);
            RV(vse32_v_f32, M32)(outa + d, RV(vfmul_vf_f32, M32)(RV(vle32_v_f32, M32)(oa + d, vl), ia, vl), vl);
            RV(vse32_v_f32, M32)(outb + d, RV(vfmul_vf_f32, M32)(RV(vle32_v_f32, M32)(ob + d, vl), ib, vl), vl);
            d += vl;
        }
    }
}
#undef SC1
#undef SCORES2
#undef PV1
#undef QLOAD
#undef QSTORE2
#undef KT
#undef KLD_S
#undef KLD_X
#undef KMAC
#endif

#if PREC == PREC_FP32
/* Online-softmax update of one row for a strip of scaled scores of which some are -inf (keys
 * not kept): their p is exactly 0 (the exp2 clamps at -126, so it is merged in); a row that has
 * seen no kept key yet (m = -inf) gets p = 0 for the whole strip. */
static inline void FN(softmax_masked)(VF s, size_t vl, float *m, float *l, float *oacc, long Dv,
                                      float *pbuf) {
    float mx = __riscv_vfmv_f_s_f32m1_f32(REDMAX(s, TRUNC1(s), vl));
    if (mx > *m) {
        if (*m > -__builtin_inff()) {
            float corr = SEXP2(*m - mx);
            *l *= corr;
            FN(scale_acc)(oacc, Dv, corr);
        }
        *m = mx;
    }
    VF p;
    if (*m == -__builtin_inff()) {
        p = RV(vfmv_v_f_f32, M32)(0.0f, vl);
    } else {
        p = VEXP2(RV(vfsub_vf_f32, M32)(s, *m, vl), vl);
        p = RV(vfmerge_vfm_f32, M32)(p, 0.0f, CAT(CAT(CAT(__riscv_vmfeq_vf_f32, M32), _), MB)(s, -__builtin_inff(), vl), vl);
    }
    RV(vsse32_v_f32, M32)(pbuf, 8, p, vl);
    *l = __riscv_vfmv_f_s_f32m1_f32(REDSUM(p, __riscv_vfmv_s_f_f32m1(*l, 1), vl));
    __asm__ volatile("" ::"f"(*l));
}

/* Attention of two query rows (outb NULL: one, row a) over the contiguous keys [0, n) whose
 * raw scores q . K[j] are known (sa, sb; -inf: a key the row does not keep): the selection's
 * own scores (N:M with one query head per KV head, fp32: the group score is the head's score),
 * so only the softmax and P.V run here -- no second Q.K pass. Every V row load serves both
 * rows; a key that one row does not keep has p = 0 there (an exact no-op in the sums). */
void FN(attend_scored2)(const ctx_t *c, const float *sa, const float *sb, long n,
                        const uint8_t *vbase, float *outa, float *outb, void *scratch) {
    const long Dv = c->Dv, rb = c->row_bytes, Dvp = (Dv + 15) & ~15L;
    const size_t vlmax = VSETVLMAX();
    float *oa = (float *)scratch, *ob = oa + Dvp, *pi = ob + Dvp; /* pi: [pa0 pb0 pa1 pb1 ...] */
    const float sc = c->score_scale * LOG2E;
    for (long d = 0; d < 2 * Dvp;) {
        size_t vl = VSETVL(2 * Dvp - d);
        RV(vse32_v_f32, M32)(oa + d, RV(vfmv_v_f_f32, M32)(0.0f, vl), vl);
        d += vl;
    }
    float ma = -__builtin_inff(), la = 0.0f, mb = -__builtin_inff(), lb = 0.0f;
    if (!outb) sb = sa;
    for (long t = 0; t < n;) {
        const size_t vl = VSETVL(n - t);
        FN(softmax_masked)(RV(vfmul_vf_f32, M32)(RV(vle32_v_f32, M32)(sa + t, vl), sc, vl), vl, &ma, &la,
                           oa, Dv, pi);
        FN(softmax_masked)(RV(vfmul_vf_f32, M32)(RV(vle32_v_f32, M32)(sb + t, vl), sc, vl), vl, &mb, &lb,
                           ob, Dv, pi + 1);
        const uint8_t *vr0 = vbase + t * rb;
        for (long c0 = 0; c0 < Dv; c0 += (long)vlmax) {
            const size_t va = VSETVL(Dv - c0);
            VF ya = RV(vle32_v_f32, M32)(oa + c0, va), yb = RV(vle32_v_f32, M32)(ob + c0, va);
            const float *vr = (const float *)(vr0 + c0 * 4), *pp = pi;
            const long step = rb / 4;
#pragma clang loop unroll_count(8)
            for (long u = 0; u < (long)vl; u++, vr += step, pp += 2) {
                VF x = RV(vle32_v_f32, M32)(vr, va);
                ya = RV(vfmacc_vf_f32, M32)(ya, pp[0], x, va);
                yb = RV(vfmacc_vf_f32, M32)(yb, pp[1], x, va);
            }
            RV(vse32_v_f32, M32)(oa + c0, ya, va);
            RV(vse32_v_f32, M32)(ob + c0, yb, va);
        }
        t += (long)vl;
    }
    const float ia = la > 0.0f ? c->v_scale / la : 0.0f, ib = lb > 0.0f ? c->v_scale / lb : 0.0f;
    for (long d = 0; d < Dv;) {
        size_t vl = VSETVL(Dv - d);
        RV(vse32_v_f32, M32)(outa + d, RV(vfmul_vf_f32, M32)(RV(vle32_v_f32, M32)(oa + d, vl), ia, vl), vl);
        if (outb)
            RV(vse32_v_f32, M32)(outb + d, RV(vfmul_vf_f32, M32)(RV(vle32_v_f32, M32)(ob + d, vl), ib, vl), vl);
        d += vl;
    }
}
#endif

/* ---------------- end of one instantiation: drop the per-instance names ---------------- */
#undef PNAME
#undef QS
#undef ACC
#undef ACC_ZERO
#undef TO_SCORE
#undef DSTEP
#undef COFF
#undef MAC1
#undef K_S
#undef K_X
#undef MAC_S
#undef MAC_X
#undef ESZ
#undef LOADV
#undef WIDEN16
#undef WMAC
#undef NIB_LO
#undef NIB_HI
#undef MAC_PAIR
#undef NIB_F
#undef TRUNC1
#undef M32
#undef MB
#undef M16
#undef M8
