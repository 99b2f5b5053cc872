/*
 * Dense attention (the baseline) and sliding windows: the keys of a row are computed here,
 * not read from a table. Query row r sits at position i = off + r (Sq < S = Skv: a KV cache;
 * everything below is about positions). Without wrap a window is one strided range
 *   j = i + dilation*t, t in [-w, w] (causal: t <= 0), clipped to [0, S);
 * with wrap (ring mode) the 2w+1 positions are taken modulo S. When 2w+1 reaches the length of
 * the ring {i + dilation*t mod S} the window is the whole orbit, a strided range again; a row
 * whose window does not cross the ends of [0, S) is the unclipped strided range. Any other ring
 * row is an index list, and index lists must be ascending and unique (keys_t): the ring
 * positions in t order are not (row 0, S 16, d 3, w 4 is 4 7 10 13 0 3 6 9 12, which the core
 * would take for the contiguous run 4..12), so they are built as a rotation of the sorted ring
 * window of row 0: row i = (base + i) mod S, i.e. base[m:] + i - S then base[:m] + i.
 */
#include <riscv_vector.h>

#include "sattn_rvv.h"

static long gcd(long a, long b) {
    while (b) { long t = a % b; a = b; b = t; }
    return a;
}

/* The ring window of row 0, ascending: {dil*t mod S : t in [-w, w]}, distinct because
 * 2w+1 < orbit. Built once per run: a mark per position, then one scan (the marks live in the
 * arena like every buffer here). Returns its length. */
static long ring_base(long S, long w, long dil, int32_t *base) {
    uint8_t *mark = xmalloc((size_t)S);
    for (long j = 0; j < S; j++) mark[j] = 0;
    for (long t = -w; t <= w; t++) mark[((dil % S) * (t % S) % S + S) % S] = 1;
    long n = 0;
    for (long j = 0; j < S; j++)
        if (mark[j]) base[n++] = (int32_t)j;
    return n;
}

/* dst[u] = src[u] + add for u < n, vectorised. */
static void add_copy(int32_t *dst, const int32_t *src, long n, int32_t add) {
    for (long u = 0; u < n;) {
        size_t vl = __riscv_vsetvl_e32m8((size_t)(n - u));
        __riscv_vse32_v_i32m8(dst + u, __riscv_vadd_vx_i32m8(__riscv_vle32_v_i32m8(src + u, vl), add, vl), vl);
        u += (long)vl;
    }
}

/* Ring rows as index lists: the sorted ring window of row 0 (ring_base) and the scratch the
 * row is written to (one pointer argument: row_keys is called per row, not inlined). */
typedef struct {
    const int32_t *base;
    long nbase;
    int32_t *list;
} ring_t;

/* The keys of the row at position i (see the header comment). */
static keys_t row_keys(const ctx_t *c, long i, long orbit, const ring_t *ring) {
    const long S = c->S, w = c->window, dil = c->dilation > 0 ? c->dilation : 1;
    keys_t ks = {0, 0, 1, 0};
    if (c->mode == MODE_DENSE) {
        ks.n = c->causal ? i + 1 : S;
    } else if (!c->wrap || (i - dil * w >= 0 && i + dil * w < S)) {
        /* clipped to [0, S); a ring row that does not cross the ends is the same range */
        long tmin = -(i / dil < w ? i / dil : w);
        long tmax = (S - 1 - i) / dil < w ? (S - 1 - i) / dil : w;
        if (c->causal && tmax > 0) tmax = 0;
        ks.lo = i + dil * tmin;
        ks.stride = dil;
        ks.n = tmax - tmin + 1;
    } else if (2 * w + 1 >= orbit) {
        long g0 = S / orbit; /* the orbit of i: j = i mod g0 + g0*u */
        ks.lo = i % g0;
        ks.stride = g0;
        ks.n = c->causal ? (i - ks.lo) / g0 + 1 : orbit;
    } else {
        /* row i = (base + i) mod S: base[m:] wraps below i (base[m] >= S - i), base[:m] does
         * not; both parts stay ascending, so the row is the wrapped part then the rest */
        const int32_t *base = ring->base;
        const long nbase = ring->nbase;
        int32_t *list = ring->list;
        long lo = 0, hi = nbase;
        while (lo < hi) {
            long mid = (lo + hi) / 2;
            if (base[mid] < S - i) lo = mid + 1; else hi = mid;
        }
        const long m = lo; /* >= 1: base[0] = 0 */
        add_copy(list, base + m, nbase - m, (int32_t)(i - S));
        /* causal keeps j <= i: every wrapped key (< i) and, of the rest, only base[0] = 0 */
        add_copy(list + nbase - m, base, c->causal ? 1 : m, (int32_t)i);
        ks.idx = list;
        ks.n = c->causal ? nbase - m + 1 : nbase;
    }
    return ks;
}

int run_dense_window(ctx_t *c) {
    const long S = c->S, Sq = c->Sq, off = c->off, Dv = c->Dv, rb = c->row_bytes;
    attend_fn attend = attend_lookup(c->prec, c->lmul);
    attend2_fn attend2 = attend2_lookup(c->prec, c->lmul);
    void *scratch = xmalloc(attend_scratch_bytes(c, S));
    const long w = c->window, dil = c->dilation > 0 ? c->dilation : 1;
    const long orbit = S / gcd(dil % S ? dil % S : S, S);
    /* a ring window shorter than its orbit: the sorted window of row 0, rotated per row */
    const int ring_list = c->mode == MODE_WINDOW && c->wrap && 2 * w + 1 < orbit;
    const size_t cap = (size_t)(ring_list ? 2 * w + 1 : 1) * 4;
    int32_t *base = xmalloc(cap);
    const ring_t ring = {base, ring_list ? ring_base(S, w, dil, base) : 0, xmalloc(cap)};
    if (c->sel_indptr) {
        /* the selection dump (check_selection): every row's keys as the core receives them,
         * index lists as they are (they must be ascending), strided ranges written out */
        int32_t *rowbuf = xmalloc((size_t)S * 4);
        long cursor = 0;
        for (long g = 0; g < c->Hkv; g++) {
            for (long r = 0; r < Sq; r++) {
                keys_t ks = row_keys(c, off + r, orbit, &ring);
                if (!ks.idx) {
                    for (long u = 0; u < ks.n; u++) rowbuf[u] = (int32_t)(ks.lo + u * ks.stride);
                }
                sel_record(c, g, r, ks.idx ? ks.idx : rowbuf, ks.n, &cursor);
            }
        }
    }
    long pending = -1; /* a head whose last row the previous head already ran (with its own) */
    for (long h = 0; h < c->H; h++) {
        const long g = h / c->group;
        const uint8_t *kb = c->k + g * S * rb, *vb = c->v + g * S * rb;
        for (long r = 0; r < Sq; r++) {
            const long i = off + r; /* the row's position */
            if (r == Sq - 1 && pending == h) break;
            keys_t ks = row_keys(c, i, orbit, &ring);
            if (attend2 && r == Sq - 1 && (h + 1) % c->group) {
                /* a last row without a partner row (decode: the only row): the next head of
                 * the GQA group has the same keys here, so the two heads go in one pass */
                attend2(c, c->q + (h * Sq + r) * rb, c->q + ((h + 1) * Sq + r) * rb, kb, vb, &ks,
                        0, ks.n, 0, ks.n, c->out + (h * Sq + r) * Dv, c->out + ((h + 1) * Sq + r) * Dv,
                        scratch, 1, 0);
                pending = h + 1;
                break;
            }
            if (attend2 && r + 1 < Sq && !ks.idx && ks.stride == 1) {
                /* rows i and i+1 over the union of their (contiguous, non-decreasing) ranges */
                keys_t kb2 = row_keys(c, i + 1, orbit, &ring);
                if (!kb2.idx && kb2.stride == 1 && kb2.lo >= ks.lo && kb2.lo <= ks.lo + ks.n) {
                    long hi_a = ks.lo + ks.n, hi_b = kb2.lo + kb2.n;
                    keys_t u = {0, ks.lo, 1, (hi_b > hi_a ? hi_b : hi_a) - ks.lo};
                    /* the following pairs look the same, shifted by 2 keys (window) or not at
                     * all (dense), while every row keeps its full, unclipped range: one call */
                    long np = 1, step = 0;
                    if (c->mode == MODE_DENSE && !c->causal) {
                        np = (Sq - r) / 2;
                    } else if (c->mode == MODE_WINDOW && dil == 1 && i >= w && (!c->wrap || ring_list)) {
                        /* rows with a full, unclipped range (causal ring rows near the end also
                         * see wrapped keys); positions end at S - 1 with the query rows */
                        const long last = c->causal && !c->wrap ? S - 1 : S - 1 - w;
                        if (i + 1 <= last) np = (last - i + 1) / 2;
                        step = 2;
                    }
                    attend2(c, c->q + (h * Sq + r) * rb, c->q + (h * Sq + r + 1) * rb, kb, vb, &u,
                            0, ks.n, kb2.lo - ks.lo, hi_b - ks.lo,
                            c->out + (h * Sq + r) * Dv, c->out + (h * Sq + r + 1) * Dv, scratch, np, step);
                    r += 2 * np - 1;
                    continue;
                }
            }
            attend(c, c->q + (h * Sq + r) * rb, kb, vb, &ks, c->out + (h * Sq + r) * Dv, scratch);
        }
    }
    return 0;
}

int run_table(ctx_t *c) {
    const long S = c->S, Sq = c->Sq, Dv = c->Dv, rb = c->row_bytes;
    attend_fn attend = attend_lookup(c->prec, c->lmul);
    attend2_fn attend2 = attend2_lookup(c->prec, c->lmul);
    void *scratch = xmalloc(attend_scratch_bytes(c, S));
    if (Sq == 1 && attend2) {
        /* a decode step: each GQA group's heads in pairs over the group's one list (what the
         * loop below does for Sq = 1, without its per-row pairing tests) */
        for (long g = 0; g < c->Hkv; g++) {
            const uint8_t *kb = c->k + g * S * rb, *vb = c->v + g * S * rb;
            const keys_t u = {c->indices + c->indptr[2 * g], 0, 1, c->indptr[2 * g + 1] - c->indptr[2 * g]};
            long h = g * c->group;
            const long h1 = h + c->group;
            for (; u.n > 0 && h + 1 < h1; h += 2)
                attend2(c, c->q + h * rb, c->q + (h + 1) * rb, kb, vb, &u, 0, u.n, 0, u.n,
                        c->out + h * Dv, c->out + (h + 1) * Dv, scratch, 1, 0);
            for (; h < h1; h++) attend(c, c->q + h * rb, kb, vb, &u, c->out + h * Dv, scratch);
        }
        return 0;
    }
    long pending = -1; /* a head whose last row the previous head already ran */
    for (long h = 0; h < c->H; h++) {
        const long g = h / c->group;
        const uint8_t *kb = c->k + g * S * rb, *vb = c->v + g * S * rb;
        const int64_t *ip = c->indptr + g * (Sq + 1);
        for (long i = 0; i < Sq; i++) {
            const int32_t *la = c->indices + ip[i];
            const long na = ip[i + 1] - ip[i];
            if (i == Sq - 1 && pending == h) break;
            if (attend2 && i == Sq - 1 && (h + 1) % c->group && na > 0) {
                /* the last row without a partner row: with the next head of the group (the
                 * same list) in one pass, as run_dense_window does */
                keys_t u = {la, 0, 1, na};
                attend2(c, c->q + (h * Sq + i) * rb, c->q + ((h + 1) * Sq + i) * rb, kb, vb, &u,
                        0, na, 0, na, c->out + (h * Sq + i) * Dv, c->out + ((h + 1) * Sq + i) * Dv,
                        scratch, 1, 0);
                pending = h + 1;
                break;
            }
            if (attend2 && i + 1 < Sq && na > 0) {
                /* neighbouring rows whose lists nest (equal, or one a prefix of the other) */
                const int32_t *lb = c->indices + ip[i + 1];
                const long nb = ip[i + 2] - ip[i + 1];
                int a_in_b = nb >= na && is_prefix(la, na, lb, nb);
                int b_in_a = !a_in_b && nb > 0 && na >= nb && is_prefix(lb, nb, la, na);
                if (a_in_b || b_in_a) {
                    keys_t u = {a_in_b ? lb : la, 0, 1, a_in_b ? nb : na};
                    attend2(c, c->q + (h * Sq + i) * rb, c->q + (h * Sq + i + 1) * rb, kb, vb, &u,
                            0, na, 0, nb, c->out + (h * Sq + i) * Dv, c->out + (h * Sq + i + 1) * Dv,
                            scratch, 1, 0);
                    i++;
                    continue;
                }
            }
            keys_t ks = {la, 0, 1, na};
            attend(c, c->q + (h * Sq + i) * rb, kb, vb, &ks, c->out + (h * Sq + i) * Dv, scratch);
        }
    }
    return 0;
}

int is_prefix(const int32_t *a, long na, const int32_t *b, long nb) {
    if (na > nb) return 0;
    for (long t = 0; t < na;) {
        size_t vl = __riscv_vsetvl_e32m8((size_t)(na - t));
        vbool4_t ne = __riscv_vmsne_vv_i32m8_b4(__riscv_vle32_v_i32m8(a + t, vl),
                                                __riscv_vle32_v_i32m8(b + t, vl), vl);
        if (__riscv_vcpop_m_b4(ne, vl)) return 0;
        t += (long)vl;
    }
    return 1;
}
