"""Sq != Skv (decode against a KV cache, chunked prefill): the reference against an oracle
written here from the issue's semantics (docs/patterns/README.md, "Positions").

Query row ``i`` of ``Sq`` sits at position ``p(i) = Skv - Sq + i``; every pattern is defined on
positions. The static patterns' selections are rebuilt here by loops over rows and positions;
for the data-dependent ones the oracle takes the selection's key sets and checks their defining
property (top-k: the kept scores are the k largest over [0, Skv) with causal applied at p(i);
N:M per group; bsr: the diagonal block of p(i) plus the best key blocks; LSH and landmark are
rebuilt outright). The attention itself is always recomputed here in float64.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from naive_ref import QMAX, codes, scales
from sattn.errors import SattnError
from sattn.ir import patterns as registry
from sattn.ir.schema import Shape, params_from_dict
from sattn.reference.data import check_qkv
from sattn.reference.executor import attention
from sattn.specs import select_indices
from sattn.specs.lsh import LSH_SEED, hyperplanes
from tolerance import assert_attention_close

H, G, D = 4, 2, 16
SHAPES = [(1, 64), (4, 64), (24, 64), (5, 37)]
PRECISIONS = ["fp32", "bf16", "i8", "i4"]
#: Slack for comparing float64 selection scores of different summation orders (|score| < 1e3).
EPS = 1e-9

#: Attributes per built-in pattern (the variants the oracle knows).
VARIANTS = {
    "dense": [{}],
    "sliding_window": [{"window_size": 5}, {"window_size": 3, "dilation": 3, "wrap": 1}],
    "block_local_global": [{"block_size": 16, "global_tokens": 3}],
    "bsr": [{"block_size": 16, "keep_ratio": 0.5}, {"block_size": 8, "keep_ratio": 0.3}],
    "nm_structured": [{"nm_n": 2, "nm_m": 5}],
    "topk_per_query": [{"topk_k": 7}],
    "lsh": [{"lsh_buckets": 4}],
    "landmark": [{"num_landmarks": 6}],
}


def builtin_names() -> list[str]:
    return [p.name for p in registry.patterns() if type(p).__module__.startswith("sattn.specs.")]


def test_every_builtin_pattern_has_an_oracle():
    assert sorted(builtin_names()) == sorted(VARIANTS)


def _tensors(sq, skv, seed):
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((H, sq, D)).astype(np.float32)
    k = rng.standard_normal((G, skv, D)).astype(np.float32)
    v = rng.standard_normal((G, skv, D)).astype(np.float32)
    return q, k, v


# ------------------------------------------------------------------------------- the oracle

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
    grp = H // G
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
            bc = [kb for kb in range(nb) if (not p.causal or kb <= qb) and kb != qb]
            n = max(1, min(nb, math.ceil(p.keep_ratio * nb - 1e-9)))
            _check_ranked([kb for kb in kept if kb != qb], bc, bscore, n - 1, what)
            want = [j for kb in kept for j in range(kb * b, min(skv, kb * b + b))
                    if not p.causal or j <= pos]
            assert row == want, f"{what}: not every key of the kept blocks"
        else:
            raise AssertionError(p.spec)
    return rows


def _lsh_rows(p, q, k, g):
    sq, skv = q.shape[1], k.shape[1]
    qs, kc = _qsum(p, q, k, g)
    nbk = p.lsh_buckets
    bits = math.ceil(math.log2(nbk)) if nbk > 1 else 0
    planes = hyperplanes(D, bits, LSH_SEED).astype(np.float64)

    def bucket(x):
        return sum(1 << b for b in range(bits) if float(np.dot(x, planes[b])) >= 0) % nbk
    kb = [bucket(kc[j]) for j in range(skv)]
    return [[j for j in range(skv) if kb[j] == bucket(qs[i]) and (not p.causal or j <= skv - sq + i)]
            for i in range(sq)]


def oracle(p, q, k, v, sel):
    """float64 attention [H, Sq, D] and the rows it attended (per KV head)."""
    sq, skv = q.shape[1], k.shape[1]
    sq_, sk_, sv_ = scales(p)
    integer = p.precision in QMAX
    qc, kc, vc = (codes(x, p.precision, s) for x, s in ((q, sq_), (k, sk_), (v, sv_)))
    out = np.zeros((H, sq, D))
    all_rows = []
    for g in range(G):
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
        for h in range(g * (H // G), (g + 1) * (H // G)):
            for i, js in enumerate(rows):
                if not js:
                    continue
                s = np.array([float(np.dot(qc[h, i], kk[j])) for j in js]) / math.sqrt(D)
                s *= sq_ * sk_ if integer else 1.0
                e = np.exp(s - s.max())
                out[h, i] = (e / e.sum()) @ vv[js] * (sv_ if integer else 1.0)
    return out, all_rows


# ------------------------------------------------------------------------------- the tests

CASES = [(name, j, attrs) for name, vs in VARIANTS.items() for j, attrs in enumerate(vs)]


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("sq,skv", SHAPES)
@pytest.mark.parametrize("causal", [0, 1])
@pytest.mark.parametrize("name,variant,attrs", CASES, ids=[f"{n}{j}" for n, j, _ in CASES])
def test_reference_against_oracle(name, variant, attrs, causal, sq, skv, precision):
    p = params_from_dict({"spec": name, "causal": causal, "precision": precision,
                          "gqa_group_size": H // G, **attrs})
    q, k, v = _tensors(sq, skv, seed=sq * 1000 + skv + variant)
    shape = Shape(H, sq, D, H // G, kv_len=skv)
    sel = select_indices(p, shape, q, k)
    assert (sel.seq_len, len(sel.groups)) == (sq, G)
    want, rows = oracle(p, q, k, v, sel)
    if sel.key_space == "tokens":
        assert sel.num_keys == skv
        for g in range(G):
            got_rows = [list(map(int, sel.groups[g].row(i))) for i in range(sq)]
            assert got_rows == rows[g], f"KV head {g}: selection differs from the oracle"
    got = attention(p, q, k, v)  # selects by itself (its own fast paths included)
    assert got.shape == (H, sq, D)
    assert_attention_close(got, want, p, q, k, v, selection=sel,
                           what=f"{name} Sq={sq} Skv={skv} causal={causal} {precision}")


STATIC = ["dense", "sliding_window", "block_local_global"]


@pytest.mark.parametrize("name", STATIC)
@pytest.mark.parametrize("causal", [0, 1])
def test_static_rows_are_the_last_rows_of_the_square_selection(name, causal):
    """A structural pattern on positions: Sq < Skv is the last Sq rows of the Skv x Skv one."""
    p = params_from_dict({"spec": name, "causal": causal, **VARIANTS[name][0]})
    square = select_indices(p, Shape(1, 64, D)).groups[0]
    for sq in (1, 4, 24, 64):
        part = select_indices(p, Shape(1, sq, D, kv_len=64)).groups[0]
        for i in range(sq):
            assert np.array_equal(part.row(i), square.row(64 - sq + i))


@pytest.mark.parametrize("name,variant,attrs", CASES, ids=[f"{n}{j}" for n, j, _ in CASES])
def test_sq_equal_skv_is_bit_identical(name, variant, attrs):
    """kv_len = seq_len (explicit, or from K) is self-attention, bit for bit: the same
    selection and the same output as without kv_len."""
    base = {"spec": name, "causal": 1, "gqa_group_size": H // G, "num_heads": H,
            "seq_len": 48, "head_dim": D, **attrs}
    p0 = params_from_dict(base)
    p1 = params_from_dict({**base, "kv_len": 48})
    q, k, v = _tensors(48, 48, seed=7 + variant)
    assert p1.shape() == p0.shape() == Shape(H, 48, D, H // G)
    s0 = select_indices(p0, check_qkv(q, k, v, H // G), q, k)
    s1 = select_indices(p1, Shape(H, 48, D, H // G, kv_len=48), q, k)
    for a, b in zip(s0.groups, s1.groups):
        assert np.array_equal(a.indptr, b.indptr) and np.array_equal(a.indices, b.indices)
    assert np.array_equal(attention(p0, q, k, v), attention(p1, q, k, v))


def test_decode_row_matches_the_prefill_last_row():
    """Decode (Sq = 1) attends what the last row of the prefill over Skv attends."""
    for name in STATIC:
        p = params_from_dict({"spec": name, "causal": 1, **VARIANTS[name][0]})
        q, k, v = _tensors(64, 64, seed=3)
        q, k, v = q[:1], k[:1], v[:1]  # one head, no group
        full = attention(p, q, k, v)
        one = attention(p, q[:, -1:], k, v)
        assert_attention_close(one, full[:, -1:], p, q[:, -1:], k, v, keys=64)


def test_bad_shapes_one_line():
    q = np.zeros((2, 8, 16), np.float32)
    with pytest.raises(SattnError, match=r"^Q has shape \(2, 8, 16\) but K has \(2, 4, 16\): "
                                         r"Sq=8 query rows exceed Skv=4 keys"):
        check_qkv(q, np.zeros((2, 4, 16), np.float32), np.zeros((2, 4, 16), np.float32))
    with pytest.raises(SattnError, match=r"^K has shape \(2, 9, 16\) but V has shape \(2, 10, 16\)"):
        check_qkv(q, np.zeros((2, 9, 16), np.float32), np.zeros((2, 10, 16), np.float32))
    with pytest.raises(SattnError, match=r"^attribute 'kv_len' must be >= 1, got 0$"):
        params_from_dict({"kv_len": 0})
    with pytest.raises(SattnError, match=r"^attribute 'kv_len'=4 is less than seq_len=8"):
        params_from_dict({"kv_len": 4, "seq_len": 8})
    with pytest.raises(SattnError, match=r"^Sq=8 query rows exceed Skv=4 keys"):
        Shape(1, 8, 16, kv_len=4)
    p = params_from_dict({"seq_len": 4, "kv_len": 64})
    assert p.shape() == Shape(1, 4, 64, kv_len=64) and p.shape().offset == 60
