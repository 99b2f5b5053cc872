"""An independent, deliberately naive oracle for the tests: explicit Python loops over small
shapes, written from the documented semantics (docs/patterns/*.md), sharing no code with
``sattn.specs`` or ``sattn.reference`` except the published LSH hyperplane generator (which has
its own test against a pure-Python splitmix64)."""

from __future__ import annotations

import math

import ml_dtypes
import numpy as np

QMAX = {"i8": 127, "i4": 7}
DEFAULT_SCALE = {"i8": 0.05, "i4": 0.125}


def scales(p):
    d = DEFAULT_SCALE.get(p.precision, 1.0)
    return (p.scale_q or d, p.scale_k or d, p.scale_v or d)


def codes(x, precision, scale):
    """Values (fp32/bf16) or integer codes (i8/i4) as float64."""
    if precision == "fp32":
        return x.astype(np.float64)
    if precision == "bf16":
        return x.astype(ml_dtypes.bfloat16).astype(np.float64)
    qm = QMAX[precision]
    return np.clip(np.round(x.astype(np.float64) / scale), -qm, qm)


def values(x, precision, scale):
    c = codes(x, precision, scale)
    return c * scale if precision in QMAX else c


def _ceil_ratio(r, n):
    return max(1, min(n, math.ceil(r * n - 1e-9)))


def select(p, q, k):
    """Per KV head: list over rows of sorted key lists; plus (assign, L) for landmarks."""
    H, S, D = q.shape
    G = k.shape[0]
    grp = H // G
    sq, sk, _ = scales(p)
    qc = codes(q, p.precision, sq)
    kc = codes(k, p.precision, sk)
    causal = bool(p.causal)
    spec = p.spec
    out, assigns = [], []
    for g in range(G):
        qsum = [sum(qc[g * grp + h, i] for h in range(grp)) for i in range(S)]
        K = kc[g]

        def score(i, j, qsum=qsum, K=K):
            return float(np.dot(qsum[i], K[j]))

        def cands(i, js):
            return [j for j in js if not causal or j <= i]

        rows = []
        if spec == "dense":
            rows = [cands(i, range(S)) for i in range(S)]
        elif spec == "sliding_window":
            w = 64 if p.window_size is None else p.window_size
            for i in range(S):
                js = set()
                for t in range(-w, w + 1):
                    j = i + p.dilation * t
                    if p.wrap:
                        js.add(j % S)
                    elif 0 <= j < S:
                        js.add(j)
                rows.append(sorted(cands(i, js)))
        elif spec in ("bsr",):
            B = min(p.block_size or 64, S)
            nb = -(-S // B)
            blocks = [list(range(b * B, min(S, b * B + B))) for b in range(nb)]
            if p.comp_block_size:
                sc = _importance(p, q, k, g, grp, B, nb)
                n = (max(1, min(nb, p.topk_k)) if p.topk_k is not None
                     else _ceil_ratio(p.keep_ratio or 0.25, nb))
            else:
                qm = [np.mean([qsum[i] for i in bl], axis=0) for bl in blocks]
                km = [np.mean([K[j] for j in bl], axis=0) for bl in blocks]
                sc = [[float(np.dot(qm[a], km[b])) for b in range(nb)] for a in range(nb)]
                n = _ceil_ratio(p.keep_ratio or 0.25, nb)
            for qb in range(nb):
                cb = [b for b in range(nb) if not causal or b <= qb]
                order = sorted(cb, key=lambda b: (b != qb, -sc[qb][b], b))
                kept = sorted(order[:n])
                toks = [j for b in kept for j in blocks[b]]
                for i in blocks[qb]:
                    rows.append(cands(i, toks))
        elif spec == "block_local_global":
            B = min(p.block_size or 64, S)
            gt = p.global_tokens
            for i in range(S):
                js = set()
                for j in range(S):
                    if abs(j // B - i // B) <= 1 or j < gt or i < gt:
                        js.add(j)
                rows.append(sorted(cands(i, js)))
        elif spec == "nm_structured":
            n, m = p.nm_n, p.nm_m
            for i in range(S):
                keep = []
                for g0 in range(0, S, m):
                    grp_keys = cands(i, range(g0, min(S, g0 + m)))
                    keep += sorted(grp_keys, key=lambda j: (-score(i, j), j))[:n]
                rows.append(sorted(keep))
        elif spec == "topk_per_query":
            kk = p.topk_k or 64
            for i in range(S):
                c = cands(i, range(S))
                rows.append(sorted(sorted(c, key=lambda j: (-score(i, j), j))[:kk]))
        elif spec == "lsh":
            from sattn.specs.lsh import LSH_SEED, hyperplanes

            nb_ = p.lsh_buckets
            bits = 0 if nb_ <= 1 else math.ceil(math.log2(nb_))
            R = hyperplanes(D, bits, LSH_SEED).astype(np.float64)

            def bucket(x, bits=bits, R=R, nb_=nb_):
                code = 0
                for b in range(bits):
                    if float(np.dot(x, R[b])) >= 0:
                        code |= 1 << b
                return code % nb_

            kb = [bucket(K[j]) for j in range(S)]
            for i in range(S):
                bq = bucket(qsum[i])
                rows.append(cands(i, [j for j in range(S) if kb[j] == bq]))
        elif spec == "landmark":
            L = max(1, min(p.num_landmarks or 64, S))
            a = [(j * L) // S for j in range(S)]
            if p.landmark_iters:
                cen = [np.mean([K[j] for j in range(S) if a[j] == l], axis=0)
                       if any(x == l for x in a) else np.zeros(D) for l in range(L)]
                for _ in range(p.landmark_iters):
                    a = []
                    for j in range(S):
                        d = [float(np.dot(cen[l], cen[l]) - 2 * np.dot(K[j], cen[l])) for l in range(L)]
                        a.append(int(np.argmin(d)))
                    cen = [np.mean([K[j] for j in range(S) if a[j] == l], axis=0)
                           if any(x == l for x in a) else cen[l] for l in range(L)]
            assigns.append(a)
            for i in range(S):
                rows.append([l for l in range(L)
                             if any(x == l for x in a)
                             and (not causal or max(j for j in range(S) if a[j] == l) <= i)])
        else:
            raise AssertionError(spec)
        out.append(rows)
    return out, assigns


def _importance(p, q, k, g, grp, B, nb):
    _, S, D = q.shape
    sq, sk, _ = scales(p)
    qv = values(q, p.precision, sq)
    kv = values(k, p.precision, sk)[g]
    C = p.comp_block_size
    comps = [list(range(c0, min(S, c0 + C))) for c0 in range(0, S, C)]
    kcm = [np.mean([kv[j] for j in c], axis=0) for c in comps]
    imp = [[0.0] * nb for _ in range(nb)]
    for h in range(g * grp, (g + 1) * grp):
        for i in range(S):
            vis = [ci for ci, c in enumerate(comps) if not p.causal or c[0] <= i]
            s = {ci: float(np.dot(qv[h, i], kcm[ci])) / math.sqrt(D) for ci in vis}
            mx = max(s.values())
            e = {ci: math.exp(x - mx) for ci, x in s.items()}
            z = sum(e.values())
            for ci, x in e.items():
                imp[i // B][comps[ci][0] // B] += x / z
    return imp


def attention(p, q, k, v):
    """Loop-based masked attention in float64 for every precision."""
    H, S, D = q.shape
    G = k.shape[0]
    grp = H // G
    sel, assigns = select(p, q, k)
    sq, sk, sv = scales(p)
    integer = p.precision in QMAX
    qc = codes(q, p.precision, sq)
    kc = codes(k, p.precision, sk)
    vc = codes(v, p.precision, sv)
    out = np.zeros((H, S, D))
    for g in range(G):
        K, V = kc[g], vc[g]
        if p.spec == "landmark":
            a = assigns[g]
            L = max(1, min(p.num_landmarks or 64, S))
            K = np.zeros((L, D))
            V = np.zeros((L, D))
            for l in range(L):
                mem = [j for j in range(S) if a[j] == l]
                if mem:
                    K[l] = np.mean([kc[g][j] for j in mem], axis=0)
                    V[l] = np.mean([vc[g][j] for j in mem], axis=0)
            if integer:  # the mean of the codes, rounded half to even
                K, V = np.round(K), np.round(V)
            elif p.precision == "bf16":
                K = K.astype(np.float32).astype(ml_dtypes.bfloat16).astype(np.float64)
                V = V.astype(np.float32).astype(ml_dtypes.bfloat16).astype(np.float64)
        for h in range(g * grp, (g + 1) * grp):
            for i in range(S):
                js = sel[g][i]
                if not js:
                    continue
                s = [float(np.dot(qc[h, i], K[j])) / math.sqrt(D) * (sq * sk if integer else 1)
                     for j in js]
                mx = max(s)
                e = [math.exp(x - mx) for x in s]
                z = sum(e)
                acc = sum(e[t] / z * V[j] for t, j in enumerate(js))
                out[h, i] = acc * (sv if integer else 1)
    return out, sel
