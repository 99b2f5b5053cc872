/*
 * Dense attention (the baseline) and sliding windows: the keys of a row are computed here,
 * not read from a table. Without wrap a window is one strided range
 *   j = i + dilation*t, t in [-w, w] (causal: t <= 0), clipped to [0, S);
 * with wrap (ring mode) the 2w+1 positions are taken modulo S. When 2w+1 reaches the length of
 * the ring {i + dilation*t mod S} the window is the whole orbit, a strided range again.
 */
#include "sattn_rvv.h"

static long gcd(long a, long b) {
    while (b) { long t = a % b; a = b; b = t; }
    return a;
}

int run_dense_window(ctx_t *c) {
    const long S = c->S, D = c->D, rb = c->row_bytes;
    attend_fn attend = attend_lookup(c->prec, c->lmul);
    void *scratch = xmalloc(attend_scratch_bytes(c, S));
    const long w = c->window, dil = c->dilation > 0 ? c->dilation : 1;
    const long orbit = S / gcd(dil % S ? dil % S : S, S);
    int32_t *list = xmalloc((size_t)(2 * w + 2 > 1 ? 2 * w + 2 : 1) * 4);
    for (long h = 0; h < c->H; h++) {
        const long g = h / c->group;
        const uint8_t *kb = c->k + g * S * rb, *vb = c->v + g * S * rb;
        for (long i = 0; i < S; i++) {
            keys_t ks = {0, 0, 1, 0};
            if (c->mode == MODE_DENSE) {
                ks.n = c->causal ? i + 1 : S;
            } else if (!c->wrap) {
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
                long n = 0;
                for (long t = -w; t <= w; t++) {
                    long j = ((i + dil * t) % S + S) % S;
                    if (!c->causal || j <= i) list[n++] = (int32_t)j;
                }
                ks.idx = list;
                ks.n = n;
            }
            attend(c, c->q + (h * S + i) * rb, kb, vb, &ks, c->out + (h * S + i) * D, scratch);
        }
    }
    return 0;
}

int run_table(ctx_t *c) {
    const long S = c->S, D = c->D, rb = c->row_bytes;
    attend_fn attend = attend_lookup(c->prec, c->lmul);
    void *scratch = xmalloc(attend_scratch_bytes(c, S));
    for (long h = 0; h < c->H; h++) {
        const long g = h / c->group;
        const uint8_t *kb = c->k + g * S * rb, *vb = c->v + g * S * rb;
        const int64_t *ip = c->indptr + g * (S + 1);
        for (long i = 0; i < S; i++) {
            keys_t ks = {c->indices + ip[i], 0, 1, ip[i + 1] - ip[i]};
            attend(c, c->q + (h * S + i) * rb, kb, vb, &ks, c->out + (h * S + i) * D, scratch);
        }
    }
    return 0;
}
