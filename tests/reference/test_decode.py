"""Sq != Skv (decode against a KV cache, chunked prefill): the reference against the float64
oracle of ``tests/decode_oracle.py``, written from the position rule ``p(i) = Skv - Sq + i``
(docs/patterns/README.md, "Positions"), for every built-in pattern and precision; Sq = Skv is
self-attention bit for bit; bad shapes are one line."""

from __future__ import annotations

import numpy as np
import pytest
from decode_oracle import VARIANTS, builtin_names, composite_names, oracle
from sattn.errors import SattnError
from sattn.ir.schema import Shape, params_from_dict
from sattn.reference.data import check_qkv
from sattn.reference.executor import attention
from sattn.specs import select_indices
from tolerance import assert_attention_close

H, G, D = 4, 2, 16
SHAPES = [(1, 64), (4, 64), (24, 64), (5, 37)]
PRECISIONS = ["fp32", "bf16", "i8", "i4"]
def test_every_builtin_pattern_has_an_oracle():
    assert sorted(builtin_names()) == sorted(VARIANTS)
    # the composite one has its own (tests/nsa_oracle.py, tests/frontdoor/test_nsa_run.py)
    assert composite_names() == ["nsa"]


def _tensors(sq, skv, seed):
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((H, sq, D)).astype(np.float32)
    k = rng.standard_normal((G, skv, D)).astype(np.float32)
    v = rng.standard_normal((G, skv, D)).astype(np.float32)
    return q, k, v


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


def test_a_pattern_without_positions_is_cut_from_the_square_selection():
    """A plugin pattern whose select_group knows only S (``positions = False``): Sq < Skv is
    the last Sq rows of its Skv x Skv selection (the position rule), not an Sq x Sq one."""
    from sattn.specs.pattern import Pattern
    from sattn.specs.selection import GroupSelection

    class Stride(Pattern):
        name = "stride_for_test"

        def select_group(self, shape, params):
            s = shape.seq_len
            return GroupSelection.from_dense(
                np.array([[j % 3 == i % 3 and j <= i for j in range(s)] for i in range(s)]))

    p = params_from_dict({})
    sel = Stride().select(p, Shape(1, 3, D, kv_len=10))
    assert sel.num_keys == 10
    assert [list(map(int, sel.groups[0].row(i))) for i in range(3)] == [
        [1, 4, 7], [2, 5, 8], [0, 3, 6, 9]]
