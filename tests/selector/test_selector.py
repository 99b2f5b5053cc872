"""The selector: rule order, probes, overrides, the cost formulas and the explanation."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sattn.errors import SattnError
from sattn.ir.schema import SPECS, params_from_dict
from sattn.selector import MODELS, RULES, Hints, select_spec
from sattn.selector.cost import blg_cost, bsr_cost, sliding_window_cost


def sel(env=None, **attrs):
    return select_spec(params_from_dict(attrs), env=env or {})


@pytest.mark.parametrize(
    "attrs, spec, rule",
    [
        ({"global_tokens": 8, "block_size": 64, "tile_M": 16, "tile_D": 32, "tile_S": 128}, "block_local_global", "global_tokens"),
        ({"nm_n": 2, "nm_m": 4, "topk_k": 3}, "nm_structured", "nm"),
        ({"topk_k": 3, "lsh_buckets": 4}, "topk_per_query", "topk"),
        ({"lsh_buckets": 4, "num_landmarks": 8}, "lsh", "lsh"),
        ({"num_landmarks": 8, "window_size": 4}, "landmark", "landmark"),
        ({"window_size": 8, "tile_D": 32, "tile_S": 128}, "sliding_window", "cost_model"),
        ({"keep_ratio": 0.5}, "bsr", "cost_model"),
        ({}, "bsr", "default_bsr"),
        ({"spec": "dense", "global_tokens": 3}, "dense", "attr_spec"),
        ({"force_spec": "lsh", "spec": "dense"}, "lsh", "attr_force_spec"),
    ],
)
def test_rules_in_spec_order(attrs, spec, rule) -> None:
    d = sel(**attrs)
    assert (d.spec, d.rule) == (spec, rule)
    assert d.rule in RULES


def test_disabled_forcing_rules_fall_through() -> None:
    attrs = {"nm_n": 1, "nm_m": 2, "topk_k": 2, "lsh_buckets": 2, "num_landmarks": 2, "window_size": 1}
    env = {"SATTN_DISABLE_NM": "1", "SATTN_DISABLE_TOPK": "yes"}
    d = sel(env, **attrs)
    assert (d.spec, d.rule) == ("lsh", "lsh")
    assert len(d.skipped) == 2 and "SATTN_DISABLE_NM" in d.skipped[0]
    env.update(SATTN_DISABLE_LSH="1", SATTN_DISABLE_LANDMARK="1")
    assert sel(env, **attrs).spec == "sliding_window"


def test_force_env_beats_everything() -> None:
    d = sel({"SATTN_FORCE_SPEC": "bsr", "SATTN_DISABLE_BSR": "1"}, spec="dense", global_tokens=4)
    assert (d.spec, d.rule) == ("bsr", "env_force_spec")


def test_disabling_both_cost_candidates() -> None:
    env = {"SATTN_DISABLE_SW": "1", "SATTN_DISABLE_BSR": "1"}
    d = sel(env, window_size=2, keep_ratio=0.5)
    assert (d.spec, d.rule) == ("dense", "fallback_dense")
    assert {c.spec: c.status for c in d.candidates}["sliding_window"] == "disabled by SATTN_DISABLE_SW"


@pytest.mark.parametrize(
    "env, message",
    [
        ({"SATTN_FORCE_SPEC": "banded"}, "SATTN_FORCE_SPEC must be one of"),
        ({"SATTN_HW_L1_BYTES": "-4"}, "SATTN_HW_L1_BYTES expects a positive integer, got '-4'"),
        ({"SATTN_HW_L1_BYTES": "32k"}, "SATTN_HW_L1_BYTES expects a positive integer, got '32k'"),
        ({"SATTN_PREFER_BSR": "1", "SATTN_PREFER_SW": "on"}, "both set"),
    ],
)
def test_bad_hints(env, message) -> None:
    with pytest.raises(SattnError, match=message.replace("(", r"\(")):
        Hints.from_env(env)


def test_hint_parsing() -> None:
    h = Hints.from_env({"SATTN_HW_L1_BYTES": "0x10000", "SATTN_PREFER_SW": "true", "SATTN_DISABLE_BSR": "0"})
    assert (h.l1_bytes, h.prefer_sw, h.prefer_bsr, h.disabled) == (65536, True, False, frozenset())


def test_cost_is_the_weighted_terms_times_the_nudges() -> None:
    """cost = (sum of weight x term) x multipliers; the explanation lists both."""
    from sattn.selector.terms import terms

    p = params_from_dict({"window_size": 8, "tile_D": 32, "tile_S": 128})
    c = sliding_window_cost(p, Hints())
    assert c is not None
    t = terms("rvv", "sliding_window", p)
    assert c.total == pytest.approx(MODELS["rvv"].apply(t))
    assert c.terms["gqa_x"] == 1 and c.terms["prefer_x"] == 1
    assert f"keys={t['keys']:.4g}" in c.describe()
    assert f"weights(rvv)=[d_steps {MODELS['rvv'].weights['d_steps']:.4g}" in c.describe()
    # GQA penalty: 1 + 0.1*(G-1) on the same per-head work x 4 heads
    g4 = sliding_window_cost(params_from_dict({"window_size": 8, "tile_D": 32, "tile_S": 128,
                                               "gqa_group_size": 4}), Hints())
    t4 = terms("rvv", "sliding_window", params_from_dict({"window_size": 8, "tile_D": 32,
                                                          "tile_S": 128, "gqa_group_size": 4}))
    assert g4 is not None and g4.total == pytest.approx(MODELS["rvv"].apply(t4) * 1.3)


def test_bsr_l1_hint_is_relative_to_the_default() -> None:
    """The cache fit (tM + 2B) * tD * eb / L1 is 1.5 at the default L1 for 64-token blocks and
    64-wide tiles; the weights were fitted there, so the factor is fit(L1) / 1.5."""
    p = params_from_dict({"keep_ratio": 0.25, "block_size": 64, "seq_len": 512, "head_dim": 64})
    c = bsr_cost(p, Hints())
    assert c is not None and c.terms["l1_x"] == 1
    big = bsr_cost(p, Hints(l1_bytes=1 << 20))
    assert big is not None and big.terms["l1_x"] == pytest.approx(1 / 1.5)
    assert big.total == pytest.approx(c.total / 1.5)
    small = bsr_cost(p, Hints(l1_bytes=16384))
    assert small is not None and small.terms["l1_x"] == pytest.approx(3.0 / 1.5)
    sw = sliding_window_cost(p.replace(window_size=8), Hints(l1_bytes=1 << 20))
    assert sw is not None and "l1_x" not in sw.terms  # a window has no block working set


def test_blg_competes_only_under_nudges_and_comp_discount() -> None:
    base = {"block_size": 16, "window_size": 16, "seq_len": 128, "head_dim": 64, "tile_D": 32}
    d = sel(**base)
    assert {c.spec: c.status for c in d.candidates}["block_local_global"].startswith("not competing")
    p = params_from_dict(dict(base, gqa_group_size=2, num_heads=2, comp_block_size=2))
    c = blg_cost(p, Hints())
    assert c is not None and c.terms["comp_x"] == pytest.approx(1 - 0.25 * (1 - 2 / 16))
    assert sel(**dict(base, gqa_group_size=2, num_heads=2)).spec == "sliding_window"
    assert sel(**dict(base, gqa_group_size=2, num_heads=2, comp_block_size=2)).spec == "block_local_global"


def test_prefer_hints_multiply_costs() -> None:
    # window 20: sliding_window models 0.80x bsr's cost, within the nudges' 0.75 / 1.1
    attrs = {"window_size": 20, "keep_ratio": 0.375, "block_size": 16, "seq_len": 128, "head_dim": 64, "tile_D": 32}
    plain = {c.spec: c.cost.total for c in sel(**attrs).candidates if c.cost}
    bsr = {c.spec: c.cost.total for c in sel({"SATTN_PREFER_BSR": "1"}, **attrs).candidates if c.cost}
    assert bsr["bsr"] == pytest.approx(plain["bsr"] * 0.75)
    assert bsr["sliding_window"] == pytest.approx(plain["sliding_window"] * 1.1)
    assert sel(**attrs).spec == "sliding_window"
    assert sel({"SATTN_PREFER_BSR": "1"}, **attrs).spec == "bsr"


def test_explain_lists_every_candidate_and_rule() -> None:
    text = sel(window_size=4, keep_ratio=0.5, seq_len=256).explain()
    lines = text.splitlines()
    assert lines[0] == "selection: spec=sliding_window rule=cost_model"
    assert "cheapest computable candidate: sliding_window" in lines[1]
    assert lines[2].strip().startswith("hints: force=none prefer=none l1_bytes=32768")
    cand = [line for line in lines if line.strip().startswith("candidate")]
    assert [c.split()[1] for c in cand] == ["bsr", "sliding_window", "block_local_global"]
    assert "chosen" in cand[1] and "keys=" in cand[1]


attr_values = st.fixed_dictionaries(
    {},
    optional={
        "global_tokens": st.integers(0, 64),
        "topk_k": st.integers(1, 64),
        "lsh_buckets": st.integers(1, 16),
        "num_landmarks": st.integers(0, 32),
        "window_size": st.integers(0, 512),
        "dilation": st.integers(1, 4),
        "keep_ratio": st.floats(0.01, 1.0),
        "block_size": st.integers(1, 256),
        "tile_S": st.integers(1, 1024),
        "tile_M": st.integers(1, 256),
        "tile_D": st.integers(1, 256),
        "precision": st.sampled_from(["fp32", "bf16", "i8", "i4"]),
        "gqa_group_size": st.sampled_from([1, 2, 4]),
        "comp_block_size": st.integers(0, 64),
        "seq_len": st.integers(1, 8192),
    },
)


@settings(max_examples=200, deadline=None)
@given(attr_values, st.sampled_from([{}, {"SATTN_PREFER_BSR": "1"}, {"SATTN_PREFER_SW": "1"},
                                     {"SATTN_HW_L1_BYTES": "65536"}, {"SATTN_DISABLE_BSR": "1"},
                                     {"SATTN_TARGET": "rocc"}, {"SATTN_TARGET": "reference"}]))
def test_selector_total_and_consistent(attrs, env) -> None:
    d = sel(env, **attrs)
    assert d.spec in SPECS
    costs = [c for c in d.candidates if c.cost is not None]
    assert all(math.isfinite(c.cost.total) and c.cost.total > 0 for c in costs)
    if d.rule == "cost_model":
        chosen = [c for c in d.candidates if c.status == "chosen"]
        assert len(chosen) == 1 and chosen[0].spec == d.spec
        ok = [c.cost.total for c in d.candidates if c.status in ("ok", "chosen")]
        assert chosen[0].cost.total == min(ok)
    forced = select_spec(params_from_dict(attrs), env={**env, "SATTN_FORCE_SPEC": "landmark"})
    assert forced.spec == "landmark"
