"""The selector's terms of a KV-cache step (Sq < Skv; sattn.selector.terms_kv) against their
definitions, counted here by loops over positions, and the square model left as it was."""

from __future__ import annotations

import math

import pytest
from sattn.ir.schema import params_from_dict
from sattn.selector.cost import op_terms
from sattn.selector.terms import terms

H, G, D = 8, 4, 64


def _p(spec, sq, skv, **extra):
    attrs = dict(seq_len=sq, kv_len=skv, head_dim=D, num_heads=H, gqa_group_size=G, causal=1,
                 **extra)
    return params_from_dict(dict(attrs, spec=spec) if spec else attrs)


def _window_keys(sq, skv, w):
    """Per row, the keys of a causal window at position p(i) = Skv - Sq + i (a loop)."""
    rows = []
    for i in range(sq):
        pos = skv - sq + i
        rows.append([j for j in range(pos - w, pos + 1) if 0 <= j < skv])
    return rows


def _blg_keys(sq, skv, b):
    """Causal block_local_global without global tokens: blocks qb-1 and qb up to the row."""
    rows = []
    for i in range(sq):
        pos = skv - sq + i
        qb = pos // b
        rows.append([j for j in range(max(qb - 1, 0) * b, pos + 1)])
    return rows


@pytest.mark.parametrize("sq,skv", [(1, 4096), (4, 4096), (7, 1000), (1, 65536)])
@pytest.mark.parametrize("spec", ["sliding_window", "block_local_global"])
def test_rocc_terms_count_the_step_pairs_and_the_rows_it_reads(spec, sq, skv):
    p = _p(spec, sq, skv, window_size=300, block_size=64)
    rows = _window_keys(sq, skv, 300) if spec == "sliding_window" else _blg_keys(sq, skv, 64)
    t = op_terms("rocc", spec, p)
    pairs = sum(len(r) for r in rows)
    assert t["mac"] == pairs * H * math.ceil(D / 16)
    union = len(set().union(*map(set, rows)))
    kv_heads = H // G
    assert t["mem"] == (H * sq * D * (4 + 4) + kv_heads * 2 * union * D * 4) / 16
    assert t["rows"] == H * sq


@pytest.mark.parametrize("skv", [4096, 65536])
def test_bsr_step_scores_every_key_block(skv):
    """bsr's selection reads every key to rank the blocks: its selection terms grow with Skv
    while its attention terms (kept blocks) stay near keep_ratio x Skv."""
    p = _p("bsr", 1, skv, block_size=64, keep_ratio=0.05)
    t = op_terms("rvv", "bsr", p)
    assert t["sel_means"] == (H // G) * (skv + G * 1) * math.ceil(D / 32)
    nb = skv // 64
    kept = math.ceil(0.05 * nb)
    assert t["sel_blocks"] == (H // G) * (nb + kept)
    r = op_terms("reference", "bsr", p)
    assert r["sel_elems"] == (H // G) * (skv + G) * D * 2


@pytest.mark.parametrize("target", ["rvv", "rocc", "reference"])
@pytest.mark.parametrize("spec", ["sliding_window", "bsr", "block_local_global"])
def test_square_ops_keep_the_square_model(target, spec):
    p = params_from_dict({"spec": spec, "seq_len": 512, "head_dim": D, "num_heads": H, "gqa_group_size": G,
                              "causal": 1, "window_size": 32, "block_size": 64, "keep_ratio": 0.25})
    assert op_terms(target, spec, p) == terms(target, spec, p)


def test_decode_selection_is_not_the_one_row_square_op():
    """A decode step's cost grows with the cache for bsr (its scoring) and not for a window;
    before the KV-cache terms every candidate cost the same 'fixed' at Sq = 1."""
    from sattn.selector.cost import bsr_cost, sliding_window_cost
    from sattn.selector.hints import Hints
    for target in ("rvv", "rocc", "reference"):
        hints = Hints(target=target)
        small = _p(None, 1, 4096, window_size=512, keep_ratio=0.05, block_size=64)
        big = _p(None, 1, 65536, window_size=512, keep_ratio=0.05, block_size=64)
        assert bsr_cost(big, hints).total > 3 * bsr_cost(small, hints).total
        assert sliding_window_cost(big, hints).total == sliding_window_cost(small, hints).total


@pytest.mark.parametrize("target", ["rvv", "rocc", "reference"])
def test_a_kv_cache_op_with_comp_block_size_is_costed(target):
    """comp_block_size on a KV-cache op (Sq < Skv): sliding_window and block_local_global keep
    their KV-cache terms (it does not change the keys they attend), bsr with compression
    scoring is costed by the square model; the selection is made, no exception (found by the
    attribute fuzz test: a ValueError traceback from sattn opt)."""
    from sattn.selector.hints import Hints
    from sattn.selector.rules import select_spec

    p = params_from_dict({"block_size": 1, "tile_S": 1, "comp_block_size": 1, "kv_len": 2})
    assert p.shape().offset
    for spec in ("sliding_window", "block_local_global", "bsr"):
        assert op_terms(target, spec, p)
    assert select_spec(p, hints=Hints(target=target)).spec
