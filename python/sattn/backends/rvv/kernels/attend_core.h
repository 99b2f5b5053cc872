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
 * Precisions: bf16 loads 16-bit values and widens them with an integer shift; i8 multiplies
 * codes with a widening integer MAC into int32 (vsext + vwmacc) and dequantises the strip's
 * scores once; i4 keeps two codes per byte and unpacks nibbles in registers.
 */
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)

#if LMUL == 1
#define M32 m1
#define M16 mf2
#define M8 mf4
#elif LMUL == 2
#define M32 m2
#define M16 m1
#define M8 mf2
#elif LMUL == 4
#define M32 m4
#define M16 m2
#define M8 m1
#elif LMUL == 8
#define M32 m8
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

/* ---------------- vectorised exp2 for x <= 0 (shared by every precision) ---------------- */
#if PREC == PREC_FP32
static inline VF CAT(vexp2_, M32)(VF x, size_t vl) {
    x = RV(vfmax_vf_f32, M32)(x, -126.0f, vl);
    VI n = RV(vfcvt_x_f_v_i32, M32)(x, vl); /* round to nearest even */
    VF f = RV(vfsub_vv_f32, M32)(x, RV(vfcvt_f_x_v_f32, M32)(n, vl), vl); /* [-0.5, 0.5] */
    VF p = RV(vfmv_v_f_f32, M32)(0.0013395285932347178f, vl);
    p = RV(vfmadd_vv_f32, M32)(p, f, RV(vfmv_v_f_f32, M32)(0.009670767933130264f, vl), vl);
    p = RV(vfmadd_vv_f32, M32)(p, f, RV(vfmv_v_f_f32, M32)(0.05550340563058853f, vl), vl);
    p = RV(vfmadd_vv_f32, M32)(p, f, RV(vfmv_v_f_f32, M32)(0.24022211134433746f, vl), vl);
    p = RV(vfmadd_vv_f32, M32)(p, f, RV(vfmv_v_f_f32, M32)(0.6931471824645996f, vl), vl);
    p = RV(vfmadd_vv_f32, M32)(p, f, RV(vfmv_v_f_f32, M32)(1.0f, vl), vl);
    /* times 2^n: build the float 2^n from its exponent bits */
    VI e = RV(vsll_vx_i32, M32)(RV(vadd_vx_i32, M32)(n, 127, vl), 23, vl);
    return RV(vfmul_vv_f32, M32)(p, CAT(CAT(CAT(__riscv_vreinterpret_v_i32, M32), _f32), M32)(e), vl);
}
static inline float CAT(sexp2_, M32)(float x) {
    VF v = RV(vfmv_v_f_f32, M32)(x, 1);
    return CAT(CAT(__riscv_vfmv_f_s_f32, M32), _f32)(CAT(vexp2_, M32)(v, 1));
}
#endif
#define VEXP2 CAT(vexp2_, M32)
#define SEXP2 CAT(sexp2_, M32)

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

/* Two index strips in flight need 4 register groups besides the loads: not at LMUL 8. */
#define NS_IDX (LMUL < 8 ? 2 : 1)

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

/* The accumulator width of the output row: D floats, kept as [even d | odd d] for i4. */
static void FN(scale_acc)(float *oacc, long D, float f) {
    for (long d = 0; d < D;) {
        size_t vl = VSETVL(D - d);
        RV(vse32_v_f32, M32)(oacc + d, RV(vfmul_vf_f32, M32)(RV(vle32_v_f32, M32)(oacc + d, vl), f, vl), vl);
        d += vl;
    }
}

static void FN(attend)(const ctx_t *c, const uint8_t *qrow, const uint8_t *kbase,
                       const uint8_t *vbase, const keys_t *ks, float *out, void *scratch) {
    const long D = c->D, rb = c->row_bytes, n = ks->n;
    if (n <= 0) {
        for (long d = 0; d < D;) {
            size_t vl = VSETVL(D - d);
            RV(vse32_v_f32, M32)(out + d, RV(vfmv_v_f_f32, M32)(0.0f, vl), vl);
            d += vl;
        }
        return;
    }
    const size_t vlmax = VSETVLMAX();
    QS *qs = (QS *)scratch;
    float *oacc = (float *)((uint8_t *)scratch + ((D * sizeof(QS) + 63) & ~63L));
    float *pbuf = oacc + ((D + 15) & ~15L);
#if PREC == PREC_I8 || PREC == PREC_I4
    const float sscale = c->score_scale * LOG2E;
#endif
    FN(prep_q)(c, qrow, qs);
    for (long d = 0; d < D;) {
        size_t vl = VSETVL(D - d);
        RV(vse32_v_f32, M32)(oacc + d, RV(vfmv_v_f_f32, M32)(0.0f, vl), vl);
        d += vl;
    }
    float m = -__builtin_inff(), l = 0.0f;
    const long sbk = ks->stride * rb; /* bytes between consecutive keys of a strided range */
    for (long t = 0; t < n;) {
        /* ---- scores of one or two strips ---- */
        size_t vl0 = VSETVL(n - t), vl1 = 0;
        ACC a0 = ACC_ZERO(vl0), a1 = a0;
        if (!ks->idx) {
            if (n - t > (long)vl0) vl1 = VSETVL(n - t - vl0);
            const uint8_t *k0 = kbase + (ks->lo + t * ks->stride) * rb;
            const uint8_t *k1 = k0 + (long)vl0 * sbk;
            if (vl1) {
                a1 = ACC_ZERO(vl1);
#pragma clang loop unroll_count(2)
                for (long d = 0; d < D; d += DSTEP) {
                    MAC_S(a0, qs, d, k0 + COFF(d), sbk, vl0);
                    MAC_S(a1, qs, d, k1 + COFF(d), sbk, vl1);
                }
            } else {
#pragma clang loop unroll_count(4)
                for (long d = 0; d < D; d += DSTEP) MAC_S(a0, qs, d, k0 + COFF(d), sbk, vl0);
            }
        } else {
            VU off0 = RV(vmul_vx_u32, M32)(RV(vle32_v_u32, M32)((const uint32_t *)ks->idx + t, vl0), (uint32_t)rb, vl0);
            if (NS_IDX == 2 && n - t > (long)vl0) {
                vl1 = VSETVL(n - t - vl0);
                VU off1 = RV(vmul_vx_u32, M32)(RV(vle32_v_u32, M32)((const uint32_t *)ks->idx + t + vl0, vl1), (uint32_t)rb, vl1);
                a1 = ACC_ZERO(vl1);
#pragma clang loop unroll_count(2)
                for (long d = 0; d < D; d += DSTEP) {
                    MAC_X(a0, qs, d, kbase + COFF(d), off0, vl0);
                    MAC_X(a1, qs, d, kbase + COFF(d), off1, vl1);
                }
            } else {
#pragma clang loop unroll_count(4)
                for (long d = 0; d < D; d += DSTEP) MAC_X(a0, qs, d, kbase + COFF(d), off0, vl0);
            }
        }
        /* ---- online softmax ---- */
        VF s0 = TO_SCORE(a0, vl0), s1 = s0;
        vfloat32m1_t r = __riscv_vfmv_s_f_f32m1(-__builtin_inff(), 1);
        r = REDMAX(s0, r, vl0);
        if (vl1) {
            s1 = TO_SCORE(a1, vl1);
            r = REDMAX(s1, r, vl1);
        }
        float mx = __riscv_vfmv_f_s_f32m1_f32(r);
        if (mx > m) {
            if (l > 0.0f) {
                float corr = SEXP2(m - mx);
                l *= corr;
                FN(scale_acc)(oacc, D, corr);
            }
            m = mx;
        }
        vfloat32m1_t z = __riscv_vfmv_s_f_f32m1(0.0f, 1);
        VF p0 = VEXP2(RV(vfsub_vf_f32, M32)(s0, m, vl0), vl0);
        RV(vse32_v_f32, M32)(pbuf, p0, vl0);
        z = REDSUM(p0, z, vl0);
        if (vl1) {
            VF p1 = VEXP2(RV(vfsub_vf_f32, M32)(s1, m, vl1), vl1);
            RV(vse32_v_f32, M32)(pbuf + vl0, p1, vl1);
            z = REDSUM(p1, z, vl1);
        }
        l += __riscv_vfmv_f_s_f32m1_f32(z);
        /* ---- P.V over the strip's keys, vectorised over D ---- */
        const long nk = (long)(vl0 + vl1);
        const int32_t *ix = ks->idx ? ks->idx + t : 0;
        const uint8_t *v0 = vbase + (ks->lo + t * ks->stride) * rb;
#if PREC != PREC_I4
        for (long c0 = 0; c0 < D; c0 += 2 * (long)vlmax) {
            size_t va = VSETVL(D - c0), vb = 0;
            if (D - c0 > (long)va) vb = VSETVL(D - c0 - va);
            VF oa = RV(vle32_v_f32, M32)(oacc + c0, va), ob = oa;
            const long ca = c0 * ESZ, cb = (c0 + (long)va) * ESZ;
            if (vb) {
                ob = RV(vle32_v_f32, M32)(oacc + c0 + va, vb);
                if (ix) {
#pragma clang loop unroll_count(2)
                    for (long u = 0; u < nk; u++) {
                        const uint8_t *vr = vbase + (long)ix[u] * rb;
                        float p = pbuf[u];
                        oa = RV(vfmacc_vf_f32, M32)(oa, p, LOADV(vr + ca, va), va);
                        ob = RV(vfmacc_vf_f32, M32)(ob, p, LOADV(vr + cb, vb), vb);
                    }
                } else {
                    const uint8_t *vr = v0;
#pragma clang loop unroll_count(2)
                    for (long u = 0; u < nk; u++, vr += sbk) {
                        float p = pbuf[u];
                        oa = RV(vfmacc_vf_f32, M32)(oa, p, LOADV(vr + ca, va), va);
                        ob = RV(vfmacc_vf_f32, M32)(ob, p, LOADV(vr + cb, vb), vb);
                    }
                }
                RV(vse32_v_f32, M32)(oacc + c0 + va, ob, vb);
            } else {
                if (ix) {
#pragma clang loop unroll_count(2)
                    for (long u = 0; u < nk; u++)
                        oa = RV(vfmacc_vf_f32, M32)(oa, pbuf[u], LOADV(vbase + (long)ix[u] * rb + ca, va), va);
                } else {
                    const uint8_t *vr = v0 + ca;
#pragma clang loop unroll_count(2)
                    for (long u = 0; u < nk; u++, vr += sbk)
                        oa = RV(vfmacc_vf_f32, M32)(oa, pbuf[u], LOADV(vr, va), va);
                }
            }
            RV(vse32_v_f32, M32)(oacc + c0, oa, va);
        }
#else
        const long DB = D / 2;
        for (long c0 = 0; c0 < DB; c0 += (long)vlmax) {
            size_t va = VSETVL(DB - c0);
            VF olo = RV(vle32_v_f32, M32)(oacc + c0, va);
            VF ohi = RV(vle32_v_f32, M32)(oacc + DB + c0, va);
            for (long u = 0; u < nk; u++) {
                const uint8_t *vr = ix ? vbase + (long)ix[u] * rb : v0 + u * sbk;
                float p = pbuf[u];
                VI8 b = RV(vle8_v_i8, M8)((const int8_t *)vr + c0, va);
                olo = RV(vfmacc_vf_f32, M32)(olo, p, NIB_F(NIB_LO(b, va), va), va);
                ohi = RV(vfmacc_vf_f32, M32)(ohi, p, NIB_F(NIB_HI(b, va), va), va);
            }
            RV(vse32_v_f32, M32)(oacc + c0, olo, va);
            RV(vse32_v_f32, M32)(oacc + DB + c0, ohi, va);
        }
#endif
        t += nk;
    }
    /* ---- normalise: out = v_scale * o / l ---- */
    const float inv = c->v_scale / l;
#if PREC != PREC_I4
    for (long d = 0; d < D;) {
        size_t vl = VSETVL(D - d);
        RV(vse32_v_f32, M32)(out + d, RV(vfmul_vf_f32, M32)(RV(vle32_v_f32, M32)(oacc + d, vl), inv, vl), vl);
        d += vl;
    }
#else
    for (long e = 0; e < D / 2;) {
        size_t vl = VSETVL(D / 2 - e);
        RV(vsse32_v_f32, M32)(out + 2 * e, 8, RV(vfmul_vf_f32, M32)(RV(vle32_v_f32, M32)(oacc + e, vl), inv, vl), vl);
        RV(vsse32_v_f32, M32)(out + 2 * e + 1, 8, RV(vfmul_vf_f32, M32)(RV(vle32_v_f32, M32)(oacc + D / 2 + e, vl), inv, vl), vl);
        e += vl;
    }
#endif
}

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
#undef M32
#undef M16
#undef M8
