"""Properties of the patterns: degenerate settings equal dense attention, ring windows have
2w+1 keys, GQA groups share one selection, empty rows give zeros, causal composes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sattn.ir.schema import Shape, params_from_dict
from sattn.reference.data import synthetic
from sattn.reference.executor import attention
from sattn.specs import bsr, csr, select_indices
from tolerance import assert_attention_close, assert_same_selection

SHAPE = Shape(heads=4, seq_len=40, head_dim=16, group=2)


def params(spec, **attrs):
    return params_from_dict({"gqa_group_size": SHAPE.group, **attrs}).replace(spec=spec)


def dense_out(causal=0, precision="fp32"):
    q, k, v = synthetic(SHAPE, seed=3)
    return attention(params("dense", causal=causal, precision=precision), q, k, v)


@pytest.mark.parametrize("causal", [0, 1])
@pytest.mark.parametrize("precision", ["fp32", "i8"])
@pytest.mark.parametrize(
    "spec,attrs",
    [
        ("sliding_window", {"window_size": 40}),
        ("sliding_window", {"window_size": 1000}),
        ("topk_per_query", {"topk_k": 40}),
        ("nm_structured", {"nm_n": 4, "nm_m": 4}),
        ("nm_structured", {"nm_n": 7, "nm_m": 7}),
        ("bsr", {"keep_ratio": 1.0, "block_size": 8}),
        ("bsr", {"keep_ratio": 1.0, "block_size": 7, "comp_block_size": 3}),
        ("block_local_global", {"global_tokens": 40, "block_size": 8}),
        ("lsh", {"lsh_buckets": 1}),
        ("landmark", {"num_landmarks": 40}),
    ],
)
def test_degenerate_settings_equal_dense(spec, attrs, causal, precision):
    q, k, v = synthetic(SHAPE, seed=3)
    p = params(spec, causal=causal, precision=precision, **attrs)
    sel = select_indices(p, SHAPE, q, k)
    expect_nnz = SHAPE.kv_heads * (SHAPE.seq_len * (SHAPE.seq_len + 1) // 2 if causal
                                   else SHAPE.seq_len**2)
    assert sel.nnz == expect_nnz
    assert_attention_close(attention(p, q, k, v, sel), dense_out(causal, precision), p, q, k, v,
                           selection=sel, what=f"{spec} vs dense")


@pytest.mark.parametrize("w,dil,s", [(3, 1, 40), (5, 3, 40), (0, 1, 9), (4, 2, 9), (19, 1, 40)])
def test_ring_mode_has_2w_plus_1_keys(w, dil, s):
    shape = Shape(1, s, 8)
    assert 2 * w + 1 <= s // math.gcd(dil, s)
    sel = select_indices(params("sliding_window", window_size=w, dilation=dil, wrap=1,
                                gqa_group_size=1), shape)
    assert (sel.groups[0].counts() == 2 * w + 1).all()
    for i in (0, s // 2, s - 1):
        assert sel.groups[0].row(i).tolist() == sorted({(i + dil * t) % s for t in range(-w, w + 1)})


def test_ring_positions_that_coincide_are_kept_once():
    shape = Shape(1, 10, 8)
    sel = select_indices(params("sliding_window", window_size=4, dilation=5, wrap=1,
                                gqa_group_size=1), shape)
    assert sel.groups[0].row(3).tolist() == [3, 8]  # 3 + 5t mod 10


@pytest.mark.parametrize("spec,attrs", [
    ("topk_per_query", {"topk_k": 5}), ("nm_structured", {"nm_n": 1, "nm_m": 3}),
    ("bsr", {"block_size": 8, "keep_ratio": 0.3}), ("lsh", {"lsh_buckets": 4}),
    ("bsr", {"block_size": 8, "keep_ratio": 0.3, "comp_block_size": 4}),
    ("landmark", {"num_landmarks": 6, "landmark_iters": 2}),
])
def test_gqa_heads_share_one_selection(spec, attrs):
    """One selection per KV head; a group of identical heads selects what one head would."""
    q, k, v = synthetic(SHAPE, seed=5)
    p = params(spec, **attrs)
    sel = select_indices(p, SHAPE, q, k)
    assert len(sel.groups) == SHAPE.kv_heads and sel.group_size == SHAPE.group
    # every query head of group g uses groups[g]: recompute head by head with group size 1
    one = Shape(1, SHAPE.seq_len, SHAPE.head_dim, 1)
    for g in range(SHAPE.kv_heads):
        heads = slice(g * SHAPE.group, (g + 1) * SHAPE.group)
        qq = np.repeat(q[heads][:1], SHAPE.group, axis=0)  # identical heads in the group
        shared = select_indices(p, Shape(SHAPE.group, SHAPE.seq_len, SHAPE.head_dim, SHAPE.group),
                                qq, k[g:g + 1])
        single = select_indices(p.replace(gqa_group_size=1), one, q[heads][:1], k[g:g + 1])
        assert_same_selection(p, Shape(1, SHAPE.seq_len, SHAPE.head_dim, 1), q[heads][:1],
                              k[g:g + 1], shared.groups, single.groups, f"KV head {g}")
    out = attention(p, q, k, v, sel)
    for h in range(SHAPE.heads):
        g = h // SHAPE.group
        solo = attention(p.replace(gqa_group_size=1), q[h:h + 1], k[g:g + 1], v[g:g + 1],
                         selection=type(sel)(sel.spec, sel.seq_len, sel.num_keys, 1,
                                             (sel.groups[g],), sel.key_space,
                                             None if sel.landmark_assign is None
                                             else sel.landmark_assign[g:g + 1]))
        # one head alone is another BLAS call shape: another summation order
        assert_attention_close(out[h], solo[0], p, q[h:h + 1], k[g:g + 1], v[g:g + 1],
                               selection=sel, what=f"head {h} with its group vs alone")


def test_rows_without_keys_give_zeros():
    q, k, v = synthetic(SHAPE, seed=0)
    p = params("lsh", lsh_buckets=16, causal=1)
    sel = select_indices(p, SHAPE, q, k)
    out = attention(p, q, k, v, sel)
    empty = [(g, i) for g, gs in enumerate(sel.groups) for i in range(gs.rows) if gs.counts()[i] == 0]
    assert empty, "expected some rows with no key"
    for g, i in empty:
        assert not out[g * SHAPE.group:(g + 1) * SHAPE.group, i].any()
    full = [(g, i) for g, gs in enumerate(sel.groups) for i in range(gs.rows) if gs.counts()[i]]
    assert all(np.abs(out[g * SHAPE.group, i]).sum() > 0 for g, i in full)


def test_causal_landmarks_start_empty():
    q, k, v = synthetic(SHAPE, seed=0)
    p = params("landmark", num_landmarks=4, causal=1)
    sel = select_indices(p, SHAPE, q, k)
    # contiguous segments of 10 tokens: row i sees landmarks whose last member (9, 19, ..) <= i
    assert [sel.groups[0].counts()[i] for i in (0, 8, 9, 19, 39)] == [0, 0, 1, 2, 4]
    assert not attention(p, q, k, v, sel)[:, :9].any()


@pytest.mark.parametrize("spec,attrs", [
    ("dense", {}), ("sliding_window", {"window_size": 5, "dilation": 2}),
    ("sliding_window", {"window_size": 5, "wrap": 1}),
    ("block_local_global", {"block_size": 8, "global_tokens": 3}),
    ("lsh", {"lsh_buckets": 4}),
])
def test_causal_is_an_and_composition(spec, attrs):
    """For patterns without a budget, causal = the pattern's selection with j > i removed."""
    q, k, _ = synthetic(SHAPE, seed=2)
    plain = select_indices(params(spec, **attrs), SHAPE, q, k)
    causal = select_indices(params(spec, causal=1, **attrs), SHAPE, q, k)
    for a, b in zip(plain.groups, causal.groups):
        c = csr.causal(a)
        assert np.array_equal(c.indptr, b.indptr) and np.array_equal(c.indices, b.indices)


def test_budgets_are_spent_on_causal_candidates():
    q, k, _ = synthetic(SHAPE, seed=2)
    sel = select_indices(params("topk_per_query", topk_k=6, causal=1), SHAPE, q, k)
    assert sel.groups[0].counts().tolist() == [min(6, i + 1) for i in range(SHAPE.seq_len)]
    assert all((sel.groups[0].row(i) <= i).all() for i in range(SHAPE.seq_len))


def test_bsr_keeps_the_diagonal_and_ceil_keep_ratio_blocks():
    assert bsr.kept_blocks(0.1, 30) == 3 and bsr.kept_blocks(0.05, 256) == 13
    assert bsr.kept_blocks(0.001, 4) == 1 and bsr.kept_blocks(1.0, 7) == 7
    scores = np.arange(16, dtype=float).reshape(4, 4)  # block 3 scores highest everywhere
    table = bsr.rank_blocks(scores, 2, causal=False)
    assert [table.row(r).tolist() for r in range(4)] == [[0, 3], [1, 3], [2, 3], [2, 3]]
    ties = bsr.rank_blocks(np.zeros((4, 4)), 2, causal=False)  # ties go to the lower block
    assert [ties.row(r).tolist() for r in range(4)] == [[0, 1], [0, 1], [0, 2], [0, 3]]


def test_bsr_last_partial_block():
    shape = Shape(1, 21, 8)
    q, k, _ = synthetic(shape)
    sel = select_indices(params("bsr", block_size=8, keep_ratio=0.5, gqa_group_size=1), shape, q, k)
    table = sel.block_table[0]
    assert table.rows == 3 and table.counts().tolist() == [2, 2, 2]
    for qb in range(3):
        keys = [j for kb in table.row(qb) for j in range(kb * 8, min(21, kb * 8 + 8))]
        for i in range(qb * 8, min(21, qb * 8 + 8)):
            assert sel.groups[0].row(i).tolist() == keys
    # the fp32 row-order block sums (the last block partial): exact small integers here
    from sattn.specs.blocks import row_order_sums_f32
    assert row_order_sums_f32(np.arange(21.0)[:, None], 8)[:, 0].tolist() == [28.0, 92.0, 90.0]


def test_data_dependent_specs_need_data():
    from sattn.errors import SattnError

    with pytest.raises(SattnError, match="selects keys from the data"):
        select_indices(params("topk_per_query", topk_k=3), SHAPE)
    with pytest.raises(SattnError, match="no spec selected"):
        select_indices(params_from_dict({}), SHAPE)
