"""The fp32 tolerance policy (sattn.reference.compare, docs/precision.md "Tolerance policy"):
computations that only sum in another order pass it, real bugs fail it.

An independent fp32 path is written here: a streaming (online) softmax that takes each row's
keys one at a time, in a chosen order, rescaling at every key, with every dot product summed
term by term backwards; no BLAS anywhere. It must agree with the reference (BLAS, tiled) within
the bound, whatever the order, for every precision. The same path with a bug (one key dropped,
a wrong key, the rescale forgotten) and the reference on a perturbed selection must not.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from sattn.ir.schema import Shape, params_from_dict
from sattn.reference import precision as prec
from sattn.reference.compare import (
    U32,
    attention_tolerance,
    gamma,
    max_keys,
    path_error,
    score_bound,
    verdict,
)
from sattn.reference.data import synthetic
from sattn.reference.executor import attention, landmark_operands
from sattn.specs import select_indices

SHAPE = Shape(heads=4, seq_len=64, head_dim=32, group=2)

CASES = [
    ("dense", {}),
    ("sliding_window", {"window_size": 6, "causal": 1}),
    ("bsr", {"block_size": 8, "keep_ratio": 0.5}),
    ("topk_per_query", {"topk_k": 12}),
    ("landmark", {"num_landmarks": 10, "landmark_iters": 1}),
]


def _setup(spec, attrs, precision, shape=SHAPE, seed=2):
    p = params_from_dict({**attrs, "gqa_group_size": shape.group, "precision": precision}
                         ).replace(spec=spec)
    q, k, v = synthetic(shape, seed=seed)
    return p, q, k, v, select_indices(p, shape, q, k)


def streaming(p, q, k, v, sel, order="forward", drop=None, swap=None, rescale=True):
    """fp32 online softmax, one key at a time per row, in ``order`` ("forward", "reverse",
    "shuffle"); bugs on request: ``drop=(head, row)`` leaves out that row's median key,
    ``swap=(head, row)`` reads key 0 in place of it, ``rescale=False`` forgets alpha."""
    ops = prec.prepare(p, q, k, v)
    kk, vv = ops.k, ops.v
    if sel.key_space == "landmarks":
        kk, vv = landmark_operands(p, ops, sel.landmark_assign, sel.num_keys)
    h, s, d = q.shape
    grp = sel.group_size
    f32 = np.float32
    out = np.zeros((h, s, d), dtype=f32)
    rng = np.random.default_rng(0)
    for head in range(h):
        g = sel.groups[head // grp]
        n = int(g.counts().max()) if g.rows else 0
        idx = np.full((s, n), -1, dtype=np.int64)
        for i in range(s):
            row = g.row(i).astype(np.int64)
            if drop is not None and drop == (head, i):
                row = np.delete(row, len(row) // 2)
            if swap is not None and swap == (head, i):
                row = row.copy()
                row[len(row) // 2] = 0 if row[len(row) // 2] else 1
            idx[i, :len(row)] = row
        steps = {"forward": range(n), "reverse": range(n - 1, -1, -1),
                 "shuffle": rng.permutation(n)}[order]
        qh = ops.q[head].astype(f32)
        kh, vh = kk[head // grp].astype(f32), vv[head // grp].astype(f32)
        m = np.full(s, -np.inf, dtype=f32)
        lsum = np.zeros(s, dtype=f32)
        acc = np.zeros((s, d), dtype=f32)
        for t in steps:
            j = idx[:, t]
            ok = j >= 0
            kj, vj = kh[np.maximum(j, 0)], vh[np.maximum(j, 0)]
            sc = np.zeros(s, dtype=f32)
            for dd in range(d - 1, -1, -1):
                sc = sc + qh[:, dd] * kj[:, dd]
            sc = sc * f32(ops.score_scale)
            m_new = np.where(ok, np.maximum(m, sc), m)
            with np.errstate(invalid="ignore"):
                alpha = np.where(np.isfinite(m), np.exp(m - m_new), f32(0)).astype(f32)
            pj = np.where(ok, np.exp(sc - m_new), f32(0)).astype(f32)
            if not rescale:
                alpha = np.where(np.isfinite(m), f32(1), f32(0)).astype(f32)
            lsum = lsum * alpha + pj
            acc = acc * alpha[:, None] + pj[:, None] * vj
            m = m_new
        with np.errstate(invalid="ignore", divide="ignore"):
            out[head] = np.where(lsum[:, None] > 0, acc * (f32(ops.v_scale) / lsum[:, None]), 0)
    return out


def test_gamma_is_highams_bound():
    assert gamma(1) == pytest.approx(U32 / (1 - U32), rel=1e-15)
    assert gamma(0) == 0 and gamma(2**24) == math.inf and gamma(2**25) == math.inf
    assert gamma(10) < gamma(11) < 11 * U32 * 1.000001
    # n roundings of a product stay within gamma(n): (1 + u)^n - 1 <= gamma(n)
    for n in (1, 7, 1000):
        assert (1 + U32) ** n - 1 <= gamma(n)


def test_score_bound_is_an_upper_bound_and_cheap():
    rng = np.random.default_rng(1)
    q, k = rng.standard_normal((50, 16)), rng.standard_normal((70, 16)) * 3
    exact = (np.abs(q) @ np.abs(k).T).max() * 0.25
    a = score_bound(q, k, 0.25)
    assert exact <= a <= exact * 16  # Hoelder with the largest norms: never below the truth


@pytest.mark.parametrize("precision", ["fp32", "bf16", "i8"])
@pytest.mark.parametrize("spec,attrs", CASES, ids=[c[0] for c in CASES])
def test_reordered_sums_pass(spec, attrs, precision):
    p, q, k, v, sel = _setup(spec, attrs, precision)
    ref = attention(p, q, k, v, selection=sel)
    tol = attention_tolerance(p, q, k, v, keys=max_keys(sel))
    paths = {o: streaming(p, q, k, v, sel, order=o) for o in ("forward", "reverse", "shuffle")}
    for name, out in paths.items():
        ver = verdict(name, out, ref, tol)
        assert ver.passed, ver.line()
        assert ver.max_abs_err > 0 or precision != "fp32"  # the orders really differ
    fwd, rev = paths["forward"], paths["reverse"]
    assert np.abs(fwd.astype(np.float64) - rev).max() <= tol.bound


@pytest.mark.parametrize("precision", ["fp32", "i8"])
@pytest.mark.parametrize("spec,attrs", CASES, ids=[c[0] for c in CASES])
def test_bugs_fail(spec, attrs, precision):
    p, q, k, v, sel = _setup(spec, attrs, precision)
    ref = attention(p, q, k, v, selection=sel)
    tol = attention_tolerance(p, q, k, v, keys=max_keys(sel))
    row = (1, SHAPE.seq_len - 1)  # a query head of KV head 0, the last row (every key visible)
    bugs = {
        "one key dropped": streaming(p, q, k, v, sel, drop=row),
        "a wrong key": streaming(p, q, k, v, sel, swap=row),
        "no rescale": streaming(p, q, k, v, sel, order="reverse", rescale=False),
    }
    for name, out in bugs.items():
        ver = verdict(name, out, ref, tol)
        assert not ver.passed, f"{name}: {ver.line()}"
        assert ver.max_abs_err > 3 * tol.bound, f"{name} only just fails: {ver.line()}"


def test_a_dropped_key_fails_on_long_rows():
    """Dense S = 256, D = 64: the bound grows with n (the running sums), a dropped key's effect
    shrinks like 1/n; every row's median key still moves its row by more than the bound."""
    shape = Shape(1, 256, 64)
    p, q, k, v, sel = _setup("dense", {}, "fp32", shape=shape, seed=3)
    ref = attention(p, q, k, v, selection=sel)
    tol = attention_tolerance(p, q, k, v, keys=256)
    missed = []
    for i in range(0, 256, 17):
        g = sel.groups[0]
        row = g.row(i)
        keep = np.ones(g.nnz, dtype=bool)
        keep[g.indptr[i] + len(row) // 2] = False
        indptr = g.indptr.copy()
        indptr[i + 1:] -= 1
        cut = type(g)(indptr, g.indices[keep])
        out = attention(p, q, k, v, selection=type(sel)(sel.spec, sel.seq_len, sel.num_keys, 1,
                                                        (cut,)))
        if np.abs(out[0, i].astype(np.float64) - ref[0, i]).max() <= tol.bound:
            missed.append(i)
    assert not missed, f"rows {missed}: a dropped key stays within the bound {tol.bound:.3e}"


def test_path_error_terms():
    """Integer codes drop the D-term score rounding; more keys and larger scores cost more."""
    base = path_error(64, 100, 8.0)
    assert path_error(64, 100, 8.0, exact_dot=True) < base
    assert path_error(64, 200, 8.0) > base and path_error(64, 100, 16.0) > base
    assert path_error(64, 100, 8.0, mean_terms=10) > base
    # the order of magnitude the doc states: D = 64, n = 100, |scores| <= 8
    assert 1e-5 < base < 2e-4
