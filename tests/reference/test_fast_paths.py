"""The executor's structural fast paths (selection=None): the sliding-window band
(attend_band) and the bsr block gather (attend_blocks) against the naive loop oracle and the
token-selection path, plus the threading helper they run on."""

from __future__ import annotations

import numpy as np
import pytest
from naive_ref import attention as naive_attention
from sattn.ir.schema import Shape, params_from_dict
from sattn.reference import threads
from sattn.reference.compare import path_error, score_bound
from sattn.reference.data import synthetic
from sattn.reference.executor import _is_band, attend_band, attention, band_pairs, run
from sattn.specs import select_indices
from tolerance import assert_agree, assert_attention_close, groups_from_rows

# S large enough for the band path with dilation 2 (S // dilation >= 64) and several 64-row
# tiles, small enough for the naive loops
SHAPE = Shape(heads=4, seq_len=150, head_dim=8, group=2)


def make(spec, attrs, **more):
    return params_from_dict({**attrs, "gqa_group_size": SHAPE.group, **more}).replace(spec=spec)


@pytest.mark.parametrize("precision", ["fp32", "bf16", "i8", "i4"])
@pytest.mark.parametrize("causal", [0, 1])
@pytest.mark.parametrize("attrs", [
    {"window_size": 0},
    {"window_size": 5},
    {"window_size": 40},  # slab wider than a tile, both edges masked
    {"window_size": 7, "dilation": 2},
    {"window_size": 500},  # the band covers every key
])
def test_band_path_matches_naive(attrs, causal, precision):
    p = make("sliding_window", attrs, causal=causal, precision=precision)
    assert _is_band(p, SHAPE)
    q, k, v = synthetic(SHAPE, seed=2)
    want, want_sel = naive_attention(p, q, k, v)
    got = attention(p, q, k, v)  # no selection given: the band path
    assert got.dtype == np.float32 and got.shape == q.shape
    assert_attention_close(got, want, p, q, k, v,
                           keys=max(len(r) for rows in want_sel for r in rows),
                           what="band path vs the naive oracle")
    r = run(p, q, k, v)
    pairs = sum(len(row) for rows in want_sel for row in rows)
    assert r.counters["selected_pairs"] == pairs == select_indices(p, SHAPE, q, k).nnz
    np.testing.assert_array_equal(r.output, got)


@pytest.mark.parametrize("precision", ["fp32", "i8"])
@pytest.mark.parametrize("causal", [0, 1])
@pytest.mark.parametrize("attrs", [
    {"block_size": 16, "keep_ratio": 0.3},  # partial last block (150 = 9 * 16 + 6)
    {"block_size": 25, "keep_ratio": 0.5},  # whole blocks
    {"block_size": 8, "keep_ratio": 0.2},  # 8 query blocks per tile
    {"block_size": 7, "keep_ratio": 0.4, "comp_block_size": 3},
    {"block_size": 64, "keep_ratio": 1.0},  # every block: dense
])
def test_block_path_matches_naive(attrs, causal, precision):
    p = make("bsr", attrs, causal=causal, precision=precision)
    q, k, v = synthetic(SHAPE, seed=5)
    want, want_sel = naive_attention(p, q, k, v)
    got = attention(p, q, k, v)  # no selection given: the block-table path
    # the oracle ranks blocks with its own float64 sums: the same tables up to near-ties
    assert_agree(p, SHAPE, q, k, v, want, groups_from_rows(want_sel, SHAPE.seq_len),
                 select_indices(p, SHAPE, q, k), got, "naive oracle vs the block-table path")
    pairs = sum(len(row) for rows in want_sel for row in rows)
    assert run(p, q, k, v).counters["selected_pairs"] == pairs


@pytest.mark.parametrize("attrs", [
    {"window_size": 100},
    {"window_size": 33, "dilation": 3, "causal": 1},
    {"window_size": 1, "causal": 1},
])
def test_band_path_equals_token_path_over_many_tiles(attrs):
    shape = Shape(2, 1000, 16, 1)
    q, k, v = synthetic(shape, seed=7)
    p = params_from_dict(attrs).replace(spec="sliding_window")
    sel = select_indices(p, shape, q, k)
    assert_attention_close(attention(p, q, k, v), attention(p, q, k, v, selection=sel),
                           p, q, k, v, selection=sel, what="band path vs token path")
    assert 2 * band_pairs(1000, attrs["window_size"], attrs.get("dilation", 1),
                          bool(attrs.get("causal"))) == sel.nnz


def test_wrap_and_huge_dilation_take_the_token_path():
    shape = Shape(1, 100, 8)
    assert not _is_band(params_from_dict({"wrap": 1}).replace(spec="sliding_window"), shape)
    assert not _is_band(params_from_dict({"dilation": 2}).replace(spec="sliding_window"), shape)
    assert _is_band(params_from_dict({"dilation": 1}).replace(spec="sliding_window"), shape)


def test_band_of_integer_codes_with_an_f64_dot():
    """exact_f64 (long integer dots) gives the same result as the fp32 dot on small codes."""
    rng = np.random.default_rng(0)
    q, k, v = (rng.integers(-7, 8, (2, 130, 8)).astype(np.float32) for _ in range(3))
    a = attend_band(q, k, v, 9, 1, True, 0.01, 0.5, exact_f64=False)
    b = attend_band(q, k, v, 9, 1, True, 0.01, 0.5, exact_f64=True)
    # both dots are exact: the policy's bound for integer codes, 10 keys (causal window of 9)
    eps = path_error(8, 10, score_bound(q, k, 0.01), exact_dot=True)
    assert np.abs(a.astype(np.float64) - b).max() <= 2 * eps * 0.5 * np.abs(v).max()


def test_serial_and_threaded_runs_agree(monkeypatch):
    shape = Shape(4, 300, 16, 2)
    q, k, v = synthetic(shape, seed=1)
    cases = [params_from_dict({**a, "gqa_group_size": 2}).replace(spec=s)
             for s, a in (("sliding_window", {"window_size": 20}),
                          ("bsr", {"block_size": 16, "keep_ratio": 0.3}),
                          ("nm_structured", {"nm_n": 1, "nm_m": 4}))]
    outs = []
    for n in ("1", "3"):
        monkeypatch.setenv("SATTN_REFERENCE_THREADS", n)
        assert threads.workers() == int(n)
        outs.append([attention(p, q, k, v) for p in cases])
    for p, a, b in zip(cases, *outs):
        assert_attention_close(a, b, p, q, k, v, selection=select_indices(p, shape, q, k),
                               what=f"{p.spec}: 1 vs 3 threads")


def test_parallel_map_runs_everything_and_raises(monkeypatch):
    monkeypatch.setenv("SATTN_REFERENCE_THREADS", "2")
    seen = []
    threads.parallel_map(seen.append, range(10))
    assert sorted(seen) == list(range(10))

    def boom(i):
        if i == 3:
            raise ValueError("tile 3")

    with pytest.raises(ValueError, match="tile 3"):
        threads.parallel_map(boom, range(6))


def test_single_threaded_blas_restores_the_count(monkeypatch):
    monkeypatch.delenv("SATTN_REFERENCE_THREADS", raising=False)
    controls = threads._find_controls()
    if not controls:  # no control: the tiles must run serially (no oversubscription)
        assert threads.workers() == 1
        return
    before = [get() for get, _ in controls]
    with threads.single_threaded_blas():
        with threads.single_threaded_blas():  # re-entrant
            assert [get() for get, _ in controls] == [1] * len(controls)
        assert [get() for get, _ in controls] == [1] * len(controls)
    assert [get() for get, _ in controls] == before
