"""The reference NSA (sattn.specs.nsa, sattn.reference.nsa) against the independent loop
implementation of tests/nsa_oracle.py (written from docs/patterns/nsa.md: one query row at a
time, float64, full windows only), and against plain attention where a branch reduces to it."""

from __future__ import annotations

import math

import numpy as np
import pytest
from nsa_oracle import check_blocks, check_output, rnd
from sattn.errors import SattnError
from sattn.reference import nsa as ref_nsa
from sattn.specs import nsa
from sattn.specs.nsa import NsaConfig


def check_against_oracle(q, k, v, cfg, gates=(None, None, None)):
    got = ref_nsa.attention(q, k, v, cfg, g_cmp=gates[0], g_slc=gates[1], g_swa=gates[2])
    check_blocks(q, k, cfg, got.blocks)
    check_output(got.output, q, k, v, cfg, got.blocks, gates)
    return got


@pytest.mark.parametrize("grp", [1, 2, 4])
@pytest.mark.parametrize("window", [0, 20])
def test_prefill_matches_oracle(grp, window):
    hkv, s = 2, 90
    q, k, v = rnd((2, hkv * grp, s, 16), 1), rnd((2, hkv, s, 16), 2), rnd((2, hkv, s, 8), 3)
    cfg = NsaConfig(block_size=16, select_blocks=3, window_size=window)
    check_against_oracle(q, k, v, cfg)


def test_gates_and_dv_and_sq_below_skv():
    """Sq != Skv (rows at positions Skv - Sq + i), gates per row and head, Dv != D."""
    q, k, v = rnd((1, 4, 7, 16), 4), rnd((1, 2, 70, 16), 5), rnd((1, 2, 70, 24), 6)
    gates = tuple(np.random.default_rng(7 + t).uniform(0, 1, (1, 7, 4)).astype(np.float32) for t in range(3))
    got = check_against_oracle(q, k, v, NsaConfig(block_size=8, select_blocks=2, window_size=9), gates)
    assert got.output.shape == (1, 4, 7, 24)


def test_overlapping_compression_matches_oracle():
    """The paper's overlapping variant scaled down (l = 8, d = 4, l' = 16: the ratios of
    l = 32, d = 16, l' = 64), on a length that is not a multiple of anything."""
    q, k, v = rnd((1, 4, 75, 16), 8), rnd((1, 2, 75, 16), 9), rnd((1, 2, 75, 16), 10)
    cfg = NsaConfig(block_size=16, select_blocks=2, window_size=5, comp_block_size=8, comp_stride=4)
    assert cfg.overlapping
    check_against_oracle(q, k, v, cfg)


def test_decode_is_the_last_row_of_prefill():
    q, k, v = rnd((1, 4, 77, 16), 11), rnd((1, 2, 77, 16), 12), rnd((1, 2, 77, 16), 13)
    cfg = NsaConfig(block_size=8, select_blocks=3, window_size=10)
    full = ref_nsa.attention(q, k, v, cfg)
    for sq in (1, 4):
        step = ref_nsa.attention(q[:, :, -sq:], k, v, cfg)
        np.testing.assert_array_equal(step.blocks, full.blocks[:, :, -sq:])
        err = float(np.abs(step.output - full.output[:, :, -sq:]).max())
        assert err <= ref_nsa.tolerance(q, k, v, cfg)


def test_rank3_inputs_give_rank3_output():
    q, k, v = rnd((4, 40, 8), 14), rnd((2, 40, 8), 15), rnd((2, 40, 8), 16)
    cfg = NsaConfig(block_size=8, select_blocks=2, window_size=4)
    got = ref_nsa.attention(q, k, v, cfg)
    assert got.output.shape == (4, 40, 8)
    np.testing.assert_array_equal(got.output, ref_nsa.attention(q[None], k[None], v[None], cfg).output[0])


def _plain(q, k, v, keep):
    """Plain attention over keep[i] (bool [Sq, Skv]) for one head, float64."""
    s = (q.astype(np.float64) @ k.astype(np.float64).T) / math.sqrt(q.shape[-1])
    s[~keep] = -np.inf
    e = np.exp(s - s.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)) @ v.astype(np.float64)


def test_branches_reduce_to_plain_attention():
    """Selection that keeps every block is causal attention; the window branch alone is the
    attention over the w keys ending at p (not sliding_window's +-w)."""
    s, w = 64, 6
    q, k, v = rnd((1, 2, s, 16), 17), rnd((1, 1, s, 16), 18), rnd((1, 1, s, 16), 19)
    cfg = NsaConfig(block_size=8, select_blocks=8, window_size=w)
    zero, one = np.zeros((1, s, 2), np.float32), np.ones((1, s, 2), np.float32)
    bound = ref_nsa.tolerance(q, k, v, cfg)
    i, j = np.arange(s)[:, None], np.arange(s)[None, :]
    slc = ref_nsa.attention(q, k, v, cfg, g_cmp=zero, g_slc=one, g_swa=zero).output
    swa = ref_nsa.attention(q, k, v, cfg, g_cmp=zero, g_slc=zero, g_swa=one).output
    for h in range(2):
        assert np.abs(slc[0, h] - _plain(q[0, h], k[0, 0], v[0, 0], j <= i)).max() <= bound
        assert np.abs(swa[0, h] - _plain(q[0, h], k[0, 0], v[0, 0], (j <= i) & (j > i - w))).max() <= bound


def test_compression_sees_only_whole_windows():
    """A query before the end of the first window sees no compressed key: o_cmp = 0."""
    q, k, v = rnd((1, 1, 20, 8), 20), rnd((1, 1, 20, 8), 21), rnd((1, 1, 20, 8), 22)
    cfg = NsaConfig(block_size=8, select_blocks=1)
    ones, zero = np.ones((1, 20, 1), np.float32), np.zeros((1, 20, 1), np.float32)
    cmp = ref_nsa.attention(q, k, v, cfg, g_cmp=ones, g_slc=zero, g_swa=zero).output
    assert np.all(cmp[0, 0, :7] == 0) and np.all(np.abs(cmp[0, 0, 7:]).sum(axis=1) > 0)
    np.testing.assert_array_equal(nsa.visible_compressed(np.array([6, 7, 14, 15, 19]), cfg), [0, 1, 1, 2, 2])


def test_own_block_always_kept_and_later_blocks_never():
    q, k, v = rnd((1, 8, 100, 16), 23), rnd((1, 2, 100, 16), 24), rnd((1, 2, 100, 16), 25)
    cfg = NsaConfig(block_size=10, select_blocks=4)
    blocks = ref_nsa.attention(q, k, v, cfg).blocks
    own = np.arange(100) // 10
    for g in range(2):
        assert all(own[i] in blocks[0, g, i] for i in range(100))
        assert np.all(blocks[0, g] <= own[:, None])


def test_long_decode_step_matches_oracle():
    """One decode row against 65,536 keys (the reference's memory stays O(keys read))."""
    skv = 65536
    q, k, v = rnd((1, 2, 1, 8), 26), rnd((1, 1, skv, 8), 27), rnd((1, 1, skv, 8), 28)
    cfg = NsaConfig(block_size=64, select_blocks=16, window_size=512)
    check_against_oracle(q, k, v, cfg)
    assert nsa.token_load(skv, cfg) == skv // 64 + 16 * 64 + 512


@pytest.mark.parametrize("kwargs, message", [
    ({"block_size": 0}, "block_size must be a positive integer"),
    ({"block_size": 16, "select_blocks": -1}, "select_blocks must be a positive integer"),
    ({"block_size": 16, "window_size": -3}, "window_size must be a non-negative integer"),
    ({"block_size": 16, "comp_block_size": 8, "comp_stride": 16}, "exceeds comp_block_size"),
    ({"block_size": 16, "comp_block_size": 12, "comp_stride": 8}, "must be multiples of comp_stride"),
    ({"block_size": 16, "scale": float("nan")}, "scale must be a positive finite number"),
])
def test_bad_config_is_one_clear_error(kwargs, message):
    with pytest.raises(SattnError, match=message):
        NsaConfig(**kwargs)


def test_bad_shapes_and_values_are_one_clear_error():
    cfg = NsaConfig(block_size=8)
    q, k, v = rnd((1, 2, 9, 8), 0), rnd((1, 1, 8, 8), 1), rnd((1, 1, 8, 8), 2)
    with pytest.raises(SattnError, match="9 query rows exceed the 8 keys"):
        ref_nsa.attention(q, k, v, cfg)
    with pytest.raises(SattnError, match="query heads are not a multiple"):
        ref_nsa.attention(rnd((1, 3, 8, 8), 0), rnd((1, 2, 8, 8), 1), rnd((1, 2, 8, 8), 2), cfg)
    with pytest.raises(SattnError, match=r"g_slc must be \[B, Sq, H\]"):
        ref_nsa.attention(q[:, :, :8], k, v, cfg, g_slc=np.ones((1, 8, 3)))
    with pytest.raises(SattnError, match=r"nsa: g_swa contains inf"):
        ref_nsa.attention(q[:, :, :8], k, v, cfg, g_swa=np.full((1, 8, 2), np.inf))
    bad = k.copy()
    bad[0, 0, 3, 1] = np.nan
    with pytest.raises(SattnError, match=r"nsa: K contains nan at \[0, 0, 3, 1\]"):
        ref_nsa.attention(q[:, :, :8], bad, v, cfg)


def test_exact_ties_go_to_the_lower_block():
    """Zero queries: every visible compressed key has the same probability, so every earlier
    block ties exactly; the kept ones are p's block and the lowest indices."""
    s, bs, n = 400, 4, 5
    q, k, v = np.zeros((1, 2, s, 8), np.float32), rnd((1, 1, s, 8), 29), rnd((1, 1, s, 8), 30)
    blocks = ref_nsa.attention(q, k, v, NsaConfig(block_size=bs, select_blocks=n)).blocks[0, 0]
    for i in range(s):
        own = i // bs
        want = {own, *range(min(n - 1, own))}
        kept = [x for x in blocks[i].tolist() if x >= 0]
        assert set(kept) == want and len(kept) == len(want), (i, kept)


@pytest.mark.parametrize("budget", [0, 1 << 30])
def test_selected_branch_both_paths_match_oracle(budget, monkeypatch):
    """The selected branch's two paths -- a product per row over its own kept tokens (budget 0)
    and one product per tile over the union of the tile's kept blocks, masked (budget large) --
    each against the oracle, with rows whose kept blocks differ (GQA 4, Dv != D, a partial last
    block)."""
    real = nsa._selected_branch
    monkeypatch.setattr(nsa, "_selected_branch",
                        lambda *a: real(*a[:-1], budget))
    q, k, v = rnd((1, 8, 75, 16), 11), rnd((1, 2, 75, 16), 12), rnd((1, 2, 75, 12), 13)
    check_against_oracle(q, k, v, NsaConfig(block_size=8, select_blocks=3, window_size=10))
