"""An independent float64 oracle of attention with Sq != Skv (decode against a KV cache,
chunked prefill), written from the issue's semantics (docs/patterns/README.md, "Positions"),
sharing no selection code with ``sattn.specs``.

Query row ``i`` of ``Sq`` sits at position ``p(i) = Skv - Sq + i``; every pattern is defined on
positions. The static patterns' selections are rebuilt here by loops over rows and positions
(and LSH and landmark with ``landmark_iters = 0`` outright); for the other data-dependent
patterns the oracle takes the selection's key sets and checks their defining property (top-k:
the kept scores are the k largest over [0, Skv) with causal applied at p(i); N:M per group of
keys; bsr: the diagonal block of p(i) plus the best-scoring key blocks, every key of them).
The attention itself is always recomputed here in float64.
"""

from __future__ import annotations

import math

import numpy as np
from naive_ref import QMAX, codes, scales
from sattn.ir import patterns as registry
from sattn.specs.lsh import LSH_SEED, hyperplanes

#: Attributes per built-in pattern (the variants the oracle knows; shared by its tests).
VARIANTS = {
    "dense": [{}],
    "sliding_window": [{"window_size": 5}, {"window_size": 3, "dilation": 3, "wrap": 1}],
    "block_local_global": [{"block_size": 16, "global_tokens": 3}],
    "bsr": [{"block_size": 16, "keep_ratio": 0.5}, {"block_size": 8, "keep_ratio": 0.3},
            {"block_size": 8, "comp_block_size": 4, "keep_ratio": 0.4},
            {"block_size": 16, "comp_block_size": 8, "topk_k": 2}],
    "nm_structured": [{"nm_n": 2, "nm_m": 5}],
    "topk_per_query": [{"topk_k": 7}],
    "lsh": [{"lsh_buckets": 4}],
    "landmark": [{"num_landmarks": 6}],
}


def builtin_names() -> list[str]:
    """The built-in patterns whose output is one softmax over their selection (this oracle's);
    the composite ones (nsa) have their own, tests/nsa_oracle.py (:func:`composite_names`)."""
    return [p.name for p in registry.patterns()
            if type(p).__module__.startswith("sattn.specs.") and not p.composite]


def composite_names() -> list[str]:
    """The built-in composite patterns (several gated softmaxes): nsa."""
    return [p.name for p in registry.patterns()
            if type(p).__module__.startswith("sattn.specs.") and p.composite]


#: Slack for comparing float64 selection scores of different summation orders (|score| < 1e3).
EPS = 1e-9


def _static_rows(p, sq, skv):
    """Per row, the sorted keys of a structural pattern, by loops over positions."""
    rows = []
    for i in range(sq):
        pos = skv - sq + i
        if p.spec == "dense":
            js = set(range(skv))
        elif p.spec == "sliding_window":
            w = p.window_size
            js = set()
            for t in range(-w, w + 1):
                j = pos + p.dilation * t
                if p.wrap:
                    js.add(j % skv)
                elif 0 <= j < skv:
                    js.add(j)
        elif p.spec == "block_local_global":
            b, gt = min(p.block_size, skv), p.global_tokens
            js = {j for j in range(skv) if abs(j // b - pos // b) <= 1 or j < gt or pos < gt}
        else:
            raise AssertionError(p.spec)
        rows.append(sorted(j for j in js if not p.causal or j <= pos))
    return rows


def _qsum(p, q, k, g):
    """The group's summed query codes [Sq, D] and K codes [Skv, D] of KV head g (float64)."""
    sq_, sk_, _ = scales(p)
    grp = q.shape[0] // k.shape[0]
    qc = codes(q, p.precision, sq_)
    kc = codes(k, p.precision, sk_)
    return qc[g * grp:(g + 1) * grp].sum(axis=0), kc[g]


def _check_ranked(kept, cands, score, n, what):
    """``kept`` (a subset of ``cands``) holds min(n, |cands|) keys, none scoring below a left-out one."""
    assert set(kept) <= set(cands), f"{what}: keys {sorted(set(kept) - set(cands))} are no candidates"
    assert len(kept) == min(n, len(cands)), f"{what}: {len(kept)} keys, want {min(n, len(cands))}"
    out = [score(j) for j in cands if j not in set(kept)]
    if kept and out:
        assert min(score(j) for j in kept) >= max(out) - EPS, f"{what}: a better key was left out"


def _checked_rows(p, q, k, sel, g):
    """The selection's rows of KV head g after checking the pattern's defining property."""
    sq, skv = q.shape[1], k.shape[1]
    gs = sel.groups[g]
    rows = [list(map(int, gs.row(i))) for i in range(sq)]
    qs, kc = _qsum(p, q, k, g)
    for i, row in enumerate(rows):
        pos = skv - sq + i
        cands = [j for j in range(skv) if not p.causal or j <= pos]

        def score(j, i=i):
            return float(np.dot(qs[i], kc[j]))
        what = f"{p.spec} head {g} row {i} (position {pos})"
        assert row == sorted(set(row)), f"{what}: not ascending and unique"
        if p.spec == "topk_per_query":
            _check_ranked(row, cands, score, p.topk_k, what)
        elif p.spec == "nm_structured":
            for g0 in range(0, skv, p.nm_m):
                grp_c = [j for j in cands if g0 <= j < g0 + p.nm_m]
                _check_ranked([j for j in row if g0 <= j < g0 + p.nm_m], grp_c, score,
                              p.nm_n, f"{what} group {g0 // p.nm_m}")
        elif p.spec == "bsr":
            b = min(p.block_size, skv)
            nb = -(-skv // b)
            qb = pos // b
            kept = sorted({j // b for j in row})
            assert qb in kept, f"{what}: the diagonal block {qb} is not kept"
            # the mean of the query rows the block holds, against each key block's mean
            held = [r for r in range(sq) if (skv - sq + r) // b == qb]
            qm = np.mean([qs[r] for r in held], axis=0)

            def bscore(kb, qm=qm, b=b):
                return float(np.dot(qm, np.mean(kc[kb * b:(kb + 1) * b], axis=0)))
            ratio = 0.25 if p.keep_ratio is None else p.keep_ratio  # the documented default
            n = max(1, min(nb, math.ceil(ratio * nb - 1e-9)))
            if p.comp_block_size:
                imp = _importance(p, q, k, g, b, held)
                n = max(1, min(nb, p.topk_k)) if p.topk_k is not None else n

                def bscore(kb, imp=imp):
                    return imp[kb]
            bc = [kb for kb in range(nb) if (not p.causal or kb <= qb) and kb != qb]
            _check_ranked([kb for kb in kept if kb != qb], bc, bscore, n - 1, what)
            want = [j for kb in kept for j in range(kb * b, min(skv, kb * b + b))
                    if not p.causal or j <= pos]
            assert row == want, f"{what}: not every key of the kept blocks"
        else:
            raise AssertionError(p.spec)
    return rows


def _importance(p, q, k, g, b, held):
    """NSA-style importance of every key block for the query block holding rows ``held``:
    per query head of the group and row, the softmax over the compression blocks (means of
    ``comp_block_size`` keys, visible when they start at or before the row's position when
    causal) of the scaled scores on the values as the precision sees them, summed into the
    selection block of each compression block's first key."""
    sq, skv, d = q.shape[1], k.shape[1], q.shape[2]
    sq_, sk_, _ = scales(p)
    qv = codes(q, p.precision, sq_) * (sq_ if p.precision in QMAX else 1.0)
    kv = codes(k, p.precision, sk_)[g] * (sk_ if p.precision in QMAX else 1.0)
    c = p.comp_block_size
    starts = list(range(0, skv, c))
    kcm = [np.mean(kv[c0:c0 + c], axis=0) for c0 in starts]
    grp = q.shape[0] // k.shape[0]
    imp = [0.0] * (-(-skv // b))
    for h in range(g * grp, (g + 1) * grp):
        for r in held:
            pos = skv - sq + r
            vis = [t for t, c0 in enumerate(starts) if not p.causal or c0 <= pos]
            sc = {t: float(np.dot(qv[h, r], kcm[t])) / math.sqrt(d) for t in vis}
            mx = max(sc.values())
            e = {t: math.exp(x - mx) for t, x in sc.items()}
            z = sum(e.values())
            for t, x in e.items():
                imp[starts[t] // b] += x / z
    return imp


def _lsh_rows(p, q, k, g):
    sq, skv = q.shape[1], k.shape[1]
    qs, kc = _qsum(p, q, k, g)
    nbk = p.lsh_buckets
    bits = math.ceil(math.log2(nbk)) if nbk > 1 else 0
    planes = hyperplanes(q.shape[2], bits, LSH_SEED).astype(np.float64)

    def bucket(x):
        return sum(1 << b for b in range(bits) if float(np.dot(x, planes[b])) >= 0) % nbk
    kb = [bucket(kc[j]) for j in range(skv)]
    return [[j for j in range(skv) if kb[j] == bucket(qs[i]) and (not p.causal or j <= skv - sq + i)]
            for i in range(sq)]


def oracle(p, q, k, v, sel):
    """float64 attention [H, Sq, Dv] and the rows it attended (per KV head); V [Hkv, Skv, Dv]
    may have another last dimension than Q and K (scores use D, the weighted sum Dv)."""
    (h_, sq, d), (g_, skv) = q.shape, k.shape[:2]
    sq_, sk_, sv_ = scales(p)
    integer = p.precision in QMAX
    qc, kc, vc = (codes(x, p.precision, s) for x, s in ((q, sq_), (k, sk_), (v, sv_)))
    out = np.zeros((h_, sq, v.shape[-1]))
    all_rows = []
    for g in range(g_):
        kk, vv = kc[g], vc[g]
        if p.spec in ("dense", "sliding_window", "block_local_global"):
            rows = _static_rows(p, sq, skv)
        elif p.spec == "lsh":
            rows = _lsh_rows(p, q, k, g)
        elif p.spec == "landmark":
            nl = min(p.num_landmarks, skv)
            a = [(j * nl) // skv for j in range(skv)]  # landmark_iters = 0: even segments
            assert list(sel.landmark_assign[g]) == a
            kk = np.array([np.mean([kc[g][j] for j in range(skv) if a[j] == m], axis=0)
                           for m in range(nl)])
            vv = np.array([np.mean([vc[g][j] for j in range(skv) if a[j] == m], axis=0)
                           for m in range(nl)])
            if integer:
                kk, vv = np.round(kk), np.round(vv)
            elif p.precision == "bf16":
                kk, vv = (codes(x.astype(np.float32), "bf16", 1.0) for x in (kk, vv))
            rows = [[m for m in range(nl)
                     if not p.causal or max(j for j in range(skv) if a[j] == m) <= skv - sq + i]
                    for i in range(sq)]
        else:
            rows = _checked_rows(p, q, k, sel, g)
        all_rows.append(rows)
        for h in range(g * (h_ // g_), (g + 1) * (h_ // g_)):
            for i, js in enumerate(rows):
                if not js:
                    continue
                s = np.array([float(np.dot(qc[h, i], kk[j])) for j in js]) / math.sqrt(d)
                s *= sq_ * sk_ if integer else 1.0
                e = np.exp(s - s.max())
                out[h, i] = (e / e.sum()) @ vv[js] * (sv_ if integer else 1.0)
    return out, all_rows


def oracle_batched(p, q, k, v, sels):
    """float64 attention [B, H, Sq, Dv] of rank-4 Q, K, V: :func:`oracle` of every batch
    element on its own (``sels``: the selection of each element, for the data-dependent
    patterns' key sets), and the rows of each element."""
    outs, rows = [], []
    for b in range(q.shape[0]):
        o, r = oracle(p, q[b], k[b], v[b], sels[b])
        outs.append(o)
        rows.append(r)
    return np.stack(outs), rows
