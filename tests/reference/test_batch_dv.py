"""Batch B > 1 and a value dimension Dv != D on the reference: Q [B, H, Sq, D], K [B, Hkv, Skv, D],
V [B, Hkv, Skv, Dv] (docs/patterns/README.md, "Shapes"), against the independent float64 oracle
of ``tests/decode_oracle.py`` run on every batch element (static patterns: rows rebuilt by loops
over positions; data-dependent ones: each element's own key sets, checked for the pattern's
defining property, attention recomputed); batch elements are independent; B = 1 and Dv = D are
the unbatched computation bit for bit; bad shapes are one line each."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import need_module
from decode_oracle import VARIANTS, builtin_names, oracle_batched
from sattn.errors import SattnError
from sattn.interop.torch import flex_attention
from sattn.ir.schema import Shape, params_from_dict
from sattn.reference.data import check_qkv, load_inputs, synthetic
from sattn.reference.executor import attention, run
from sattn.specs import select_indices
from tolerance import assert_attention_close

H, G, D, SKV = 4, 2, 8, 24
STATIC = ("dense", "sliding_window", "block_local_global")
#: (B, Dv) combinations: B in {1, 3} x Dv in {D, D/2, 2D}.
BATCH_DV = [(b, dv) for b in (1, 3) for dv in (D, D // 2, 2 * D)]


def _tensors(b, sq, skv, dv, seed):
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((b, H, sq, D)).astype(np.float32)
    k = rng.standard_normal((b, G, skv, D)).astype(np.float32)
    v = rng.standard_normal((b, G, skv, dv)).astype(np.float32)
    return q, k, v


def _params(name, precision, causal=1, **extra):
    return params_from_dict({"spec": name, "causal": causal, "precision": precision,
                             "gqa_group_size": H // G, **VARIANTS[name][0], **extra})


@pytest.mark.parametrize("precision", ["fp32", "i8"])
@pytest.mark.parametrize("sq", [SKV, 1, 4])
@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_batched_dv_against_oracle(name, sq, precision):
    p = _params(name, precision)
    for b, dv in BATCH_DV:
        what = f"{name} B={b} Dv={dv} Sq={sq} Skv={SKV} {precision}"
        q, k, v = _tensors(b, sq, SKV, dv, seed=100 * b + dv + sq)
        one = Shape(H, sq, D, H // G, kv_len=SKV)
        # each element selects from its own Q and K (the oracle checks the property on them)
        sels = [select_indices(p, one, q[e], k[e]) for e in range(b)]
        want, rows = oracle_batched(p, q, k, v, sels)
        if name in STATIC:  # rows rebuilt by the oracle's loops: the selection must be them
            for e in range(b):
                for g in range(G):
                    got_rows = [list(map(int, sels[e].groups[g].row(i))) for i in range(sq)]
                    assert got_rows == rows[e][g], f"{what}: element {e} KV head {g}"
        got = attention(p, q, k, v)  # selects by itself, element by element
        assert got.shape == (b, H, sq, dv), what
        for e in range(b):
            assert_attention_close(got[e], want[e], p, q[e], k[e], v[e], selection=sels[e],
                                   what=f"{what} element {e}")
        res = run(p, q, k, v)
        assert np.array_equal(res.output, got), f"{what}: run() and attention() differ"
        assert res.counters == {"selected_pairs": sum(s.nnz for s in sels),
                                "dense_pairs": b * G * sq * SKV}, what


@pytest.mark.parametrize("name", builtin_names())
def test_elements_independent_and_unbatched_bits(name):
    """Permuting the batch permutes the output bit for bit; every element's output is the
    unbatched [H, S, D] computation of that element bit for bit (so B = 1 is today's result);
    Dv = D through a rank-4 B = 1 input is the rank-3 result bit for bit."""
    p = _params(name, "fp32", causal=0)
    q, k, v = _tensors(3, 12, SKV, D // 2, seed=5)
    out = attention(p, q, k, v)
    perm = [2, 0, 1]
    assert np.array_equal(attention(p, q[perm], k[perm], v[perm]), out[perm])
    for e in range(3):
        assert np.array_equal(out[e], attention(p, q[e], k[e], v[e])), f"element {e}"
    q1, k1, v1 = _tensors(1, SKV, SKV, D, seed=6)
    assert np.array_equal(attention(p, q1, k1, v1)[0], attention(p, q1[0], k1[0], v1[0]))
    assert np.array_equal(run(p, q1, k1, v1).output[0], run(p, q1[0], k1[0], v1[0]).output)


def test_data_dependent_selection_follows_each_element():
    """A data-dependent pattern's keys come from each element's own Q and K: swapping one
    element's data for another's changes that element's output only."""
    p = _params("topk_per_query", "fp32", causal=0)
    q, k, v = _tensors(2, 8, SKV, D, seed=9)
    out = attention(p, q, k, v)
    q2, k2 = q.copy(), k.copy()
    q2[1], k2[1] = q[0], k[0]
    out2 = attention(p, q2, k2, v)
    assert np.array_equal(out2[0], out[0])
    assert np.array_equal(out2[1], attention(p, q[0], k[0], v[1]))
    assert not np.array_equal(out2[1], out[1])


def test_synthetic_and_attributes_give_batch_and_dv():
    """Attributes batch and head_dim_v shape the generated inputs; B = 1 keeps the formula's
    values bit for bit (the batch term adds 0)."""
    p = params_from_dict({"spec": "sliding_window", "window_size": 2, "batch": 2,
                          "seq_len": 16, "head_dim": 8, "head_dim_v": 4})
    shape = p.shape()
    assert (shape.batch, shape.head_dim_v) == (2, 4)
    got = load_inputs(p)
    assert [x.shape for x in (got.q, got.k, got.v)] == [(2, 1, 16, 8), (2, 1, 16, 8),
                                                       (2, 1, 16, 4)]
    assert not np.array_equal(got.q[0], got.q[1])
    one = synthetic(Shape(1, 16, 8))
    s = np.arange(1, 17, dtype=np.float64)[:, None]
    want_q = np.sin(0.013 * s * np.arange(1, 9)[None, :])[None].astype(np.float32)
    assert np.array_equal(one[0], want_q)
    assert np.array_equal(got.q[0], one[0]) and np.array_equal(got.k[0], one[1])
    res = run(p, got.q, got.k, got.v)
    assert res.output.shape == (2, 1, 16, 4)
    assert " B=2 " in res.lines[0] and " Dv=4 " in res.lines[0]
    assert params_from_dict({"head_dim": 8}).shape().head_dim_v == 8


def _one_line(exc: pytest.ExceptionInfo, *parts: str) -> None:
    msg = str(exc.value)
    assert "\n" not in msg, msg
    for part in parts:
        assert part in msg, msg


def test_hostile_shapes_one_line():
    q, k, v = _tensors(2, 8, SKV, D, seed=1)
    p = _params("dense", "fp32")
    cases = [
        ((q[:0], k[:0], v[:0]), ["Q has an empty batch (B=0)"]),
        ((q, k, v[..., :0]), ["V has an empty value dimension (Dv=0)"]),
        ((q, k[:1], v[:1]), ["the batch B must match (2 vs 1)"]),
        ((q, k, v[:1]), ["K has shape (2, 2, 24, 8) but V has shape (1, 2, 24, 8)"]),
        ((q, k[:, :, :20], v), ["but V has shape", "but for V's last dimension Dv"]),
        ((q, k[0], v[0]), ["Q, K and V must have the same rank"]),
        ((q, k[..., :4], v), ["D must match"]),
    ]
    for args, parts in cases:
        with pytest.raises(SattnError) as exc:
            attention(p, *args)
        _one_line(exc, *parts)
    with pytest.raises(SattnError) as exc:
        load_inputs(p, q, k[:1], v[:1])
    _one_line(exc, "Q, K and V disagree on the batch B", "Q (2, 4, 8, 8)", "K (1, 2, 24, 8)")
    with pytest.raises(SattnError) as exc:
        attention(p, q, k, v, selection=select_indices(p, check_qkv(q[0], k[0], v[0], 2)))
    _one_line(exc, "one selection given for a batch of B=2")
    for attrs, want in (({"batch": 0}, "attribute 'batch' must be >= 1, got 0"),
                        ({"head_dim_v": 0}, "attribute 'head_dim_v' must be >= 1, got 0")):
        with pytest.raises(SattnError) as exc:
            params_from_dict(attrs)
        _one_line(exc, want)


@pytest.mark.parametrize("name", ["sliding_window", "topk_per_query", "bsr"])
def test_flex_attention_batched_dv(name):
    """FlexAttention (an independent implementation) with a batch and Dv != D agrees with the
    reference element by element (fp32 policy)."""
    need_module("torch")
    p = _params(name, "fp32", causal=0)
    q, k, v = _tensors(2, SKV, SKV, D // 2, seed=21)
    got = flex_attention(p, q, k, v)
    want = attention(p, q, k, v)
    assert got.shape == want.shape == (2, H, SKV, D // 2)
    for e in range(2):
        sel = select_indices(p, check_qkv(q[e], k[e], v[e], H // G), q[e], k[e])
        assert_attention_close(got[e], want[e], p, q[e], k[e], v[e], selection=sel,
                               what=f"{name} element {e}")
