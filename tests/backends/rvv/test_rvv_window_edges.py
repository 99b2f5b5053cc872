"""The sliding-window kernel at the edges of its definition, against the reference.

The kernel computes a window's keys itself (kernels/window.c) instead of reading them from the
reference's table, so every corner of the definition is a chance to disagree:
``j = i + dilation*t`` for ``t`` in ``[-w, w]``, ``wrap = 1`` takes ``j`` modulo S (offsets can
wrap past S more than once; positions that coincide after the modulo count once), ``causal``
keeps ``j <= i``. Ring rows that cross the ends of ``[0, S)`` are index lists, which the
attention core requires ascending: a list left in ``t`` order (row 0 of S 16, d 3, w 4 is
``4 7 10 13 0 3 6 9 12``) was taken for the contiguous run ``4..12`` and gave wrong rows.

Each case compares the kernel's output tensor to the reference attention (within the fp32
tolerance policy, sattn.reference.compare.attention_tolerance, row by row), the key
lists the kernel handed to its attention core (its selection dump) to the reference's selection,
and that selection to a brute-force reading of the definition (so the oracle is checked too).
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import need_tool
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sattn.backends.rvv import runner
from sattn.ir.schema import params_from_dict
from sattn.reference.compare import attention_tolerance
from sattn.reference.data import synthetic
from sattn.reference.executor import attention
from sattn.specs import select_indices

#: (S, window_size, dilation): each runs with wrap 0/1 and causal 0/1.
EDGES = [
    (16, 4, 3),    # the reported case: ring rows in t order look like one contiguous run
    (16, 5, 7),    # d*w = 35: offsets wrap past S twice
    (13, 9, 5),    # d*w = 45 > 3S and 2w+1 = 19 > S: the whole orbit (gcd 1)
    (12, 4, 3),    # gcd 3: orbit 4 < 2w+1 = 9, duplicates after the modulo
    (24, 2, 10),   # gcd 2: orbit 12, rows cross the ends with stride 10
    (30, 7, 4),    # gcd 2: orbit 15 == 2w+1 exactly
    (36, 11, 6),   # gcd 6: orbit 6 < 23, d*w = 66 > S
    (17, 3, 6),    # prime S, d*w = 18 >= S
    (20, 3, 20),   # d == S: every offset lands on i
    (18, 2, 25),   # d > S (d mod S = 7)
    (40, 6, 1),    # d = 1: ring rows are two contiguous runs, the middle ones batched in pairs
    (37, 5, 1),    # odd S: batched pairs leave one row
    (40, 19, 1),   # 2w+1 = 39, one short of the ring
    (40, 20, 1),   # 2w+1 = 41 > S: the whole ring
    (31, 0, 4),    # w = 0: the diagonal
    (1, 3, 2),     # a single row
]


@pytest.fixture(autouse=True)
def _tools():
    need_tool("qemu-riscv64")


def brute_keys(s: int, w: int, dil: int, wrap: int, causal: int) -> list[list[int]]:
    """The keys of every row straight from the definition (docs/patterns/sliding_window.md)."""
    rows = []
    for i in range(s):
        js = {i + dil * t for t in range(-w, w + 1)}
        js = {j % s for j in js} if wrap else {j for j in js if 0 <= j < s}
        rows.append(sorted(j for j in js if not causal or j <= i))
    return rows


def check_window(s: int, w: int, dil: int, wrap: int, causal: int, *, d: int = 8, heads: int = 2,
                 group: int = 1, vlen: int = 256, lmul: int = 8, seed: int = 0) -> None:
    """Kernel output == reference attention; kernel key lists == reference selection ==
    the definition."""
    p = params_from_dict({"seq_len": s, "head_dim": d, "num_heads": heads, "gqa_group_size": group,
                          "window_size": w, "dilation": dil, "wrap": wrap, "causal": causal,
                          "precision": "fp32"}).replace(spec="sliding_window")
    shape = p.shape()
    sel = select_indices(p, shape).groups[0]
    got_keys = [sel.indices[sel.indptr[i]:sel.indptr[i + 1]].tolist() for i in range(s)]
    assert got_keys == brute_keys(s, w, dil, wrap, causal)
    q, k, v = synthetic(shape, seed=seed)
    want = attention(p, q, k, v)
    res = runner.run(p, q, k, v, vlen=vlen, lmul=lmul, count=False, check_selection=True)
    # the key lists the attention core received (ascending, unique: what the core assumes)
    for g, mine in enumerate(res.kernel_selection):
        rows = [mine.indices[mine.indptr[i]:mine.indptr[i + 1]].tolist() for i in range(s)]
        wrong = [i for i in range(s) if rows[i] != got_keys[i]]
        assert not wrong, (f"S={s} w={w} d={dil} wrap={wrap} causal={causal}: kv head {g} row "
                           f"{wrong[0]} keys {rows[wrong[0]]}, want {got_keys[wrong[0]]}")
    out = res.output
    assert out.shape == want.shape
    tol = attention_tolerance(p, q, k, v, keys=max(len(r) for r in got_keys))
    err = np.abs(out.astype(np.float64) - want).max(axis=(0, 2))
    bad = np.flatnonzero(err > tol.bound)
    assert bad.size == 0, (f"S={s} w={w} d={dil} wrap={wrap} causal={causal} vlen={vlen} "
                           f"lmul={lmul}: rows {bad.tolist()} wrong (max err {err.max():.3g} > "
                           f"{tol.bound:.3g})")


@pytest.mark.parametrize("causal", (0, 1))
@pytest.mark.parametrize("wrap", (0, 1))
@pytest.mark.parametrize("s,w,dil", EDGES, ids=[f"S{s}-w{w}-d{d}" for s, w, d in EDGES])
def test_window_edges(s, w, dil, wrap, causal):
    check_window(s, w, dil, wrap, causal)


@pytest.mark.parametrize("vlen,lmul", [(128, 1), (512, 2)])
def test_ring_rows_other_strip_lengths(vlen, lmul):
    """Short strips (4 keys at VLEN 128, LMUL 1) split a ring row into several strips: each must
    see an ascending piece of the list."""
    check_window(40, 9, 7, 1, 0, vlen=vlen, lmul=lmul)
    check_window(33, 6, 5, 1, 1, vlen=vlen, lmul=lmul)


#: S, window, dilation, wrap, causal: windows up to past 2S (wraps, duplicates, whole rings),
#: dilations up to past 2S.
def _cases(max_s: int):
    return st.integers(1, max_s).flatmap(lambda s: st.tuples(
        st.just(s), st.integers(0, 2 * s + 2), st.integers(1, 2 * s + 3),
        st.integers(0, 1), st.integers(0, 1)))


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=_cases(40))
def test_window_random(case):
    s, w, dil, wrap, causal = case
    check_window(s, w, dil, wrap, causal)


@pytest.mark.slow
@settings(max_examples=400, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=_cases(130), d=st.sampled_from([8, 16, 40]), heads=st.sampled_from([(1, 1), (4, 2)]),
       vlen=st.sampled_from([128, 256, 512]), lmul=st.sampled_from([1, 2, 4, 8]),
       seed=st.integers(0, 3))
def test_window_random_wide(case, d, heads, vlen, lmul, seed):
    """The wide sweep: longer rows (several strips), other D, GQA, every VLEN/LMUL."""
    s, w, dil, wrap, causal = case
    check_window(s, w, dil, wrap, causal, d=d, heads=heads[0], group=heads[1], vlen=vlen,
                 lmul=lmul, seed=seed)
