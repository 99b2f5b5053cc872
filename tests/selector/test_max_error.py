"""The ``max_error`` budget in ``select_spec``: the cheapest candidate whose error against dense
fp32 attention on the synthetic data is within the budget, measured here with the independent
loop oracle (``naive_ref``), not with the selector's own estimate."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest
from naive_ref import attention as naive_attention
from sattn.ir.schema import params_from_dict
from sattn.reference.data import synthetic
from sattn.selector import RULES, select_spec

# S=64, D=16: sliding_window is the cheapest (cost model) and the least accurate, bsr dearer and
# closer, dense exact.
BASE = {"seq_len": 64, "head_dim": 16, "window_size": 8, "keep_ratio": 0.75, "block_size": 16}


def measured_error(attrs: dict, spec: str) -> float:
    """max|out - dense| / max|dense| of ``spec`` on the synthetic data, by the loop oracle."""
    p = params_from_dict(attrs)
    q, k, v = synthetic(p.shape(), 0)
    dense, _ = naive_attention(p.replace(spec="dense", precision="fp32"), q, k, v)
    out, _ = naive_attention(p.replace(spec=spec), q, k, v)
    return float(np.abs(out - dense).max() / np.abs(dense).max())


ERRORS = {s: measured_error(BASE, s) for s in ("sliding_window", "bsr", "dense")}


def test_fixture_orders_cost_against_error() -> None:
    # the case is interesting only if the cheapest spec is not the most accurate
    d = select_spec(params_from_dict(BASE), env={})
    assert (d.spec, d.rule) == ("sliding_window", "cost_model")
    assert ERRORS["sliding_window"] > ERRORS["bsr"] > ERRORS["dense"] == 0.0


@pytest.mark.parametrize("budget", [2.0, 1.0, 0.5, 0.1, 1e-3])
def test_chosen_spec_is_within_budget(budget: float) -> None:
    d = select_spec(params_from_dict({**BASE, "max_error": budget}), env={})
    assert d.rule == "max_error" and "max_error" in RULES
    assert measured_error(BASE, d.spec) <= budget
    # the cheapest within budget: every cheaper candidate is over it
    cost = {c.spec: c.cost.total for c in d.candidates if c.cost is not None}
    for spec, c in cost.items():
        if spec in ERRORS and c < cost.get(d.spec, float("inf")):
            assert ERRORS[spec] > budget, (spec, d.spec)
    explained = d.explain()
    assert explained.startswith(f"selection: spec={d.spec} rule=max_error")
    assert f"within max_error={budget:g}: {d.spec}" in explained


def test_budget_picks_expected_specs() -> None:
    pick = {b: select_spec(params_from_dict({**BASE, "max_error": b}), env={}).spec
            for b in (2.0, 1.0, 0.1)}
    assert pick == {2.0: "sliding_window", 1.0: "bsr", 0.1: "dense"}


def test_tighter_budget_never_picks_larger_error() -> None:
    budgets = [3.0, 2.0, 1.5, 1.0, 0.6, 0.3, 0.1, 1e-2, 1e-4]
    errs = [measured_error(BASE, select_spec(params_from_dict({**BASE, "max_error": b}), env={}).spec)
            for b in budgets]
    assert all(tight <= loose for loose, tight in pairwise(errs)), errs


def test_default_bsr_is_budgeted_and_explicit_spec_is_not() -> None:
    attrs = {"seq_len": 64, "head_dim": 16, "block_size": 16}
    assert select_spec(params_from_dict(attrs), env={}).rule == "default_bsr"
    d = select_spec(params_from_dict({**attrs, "max_error": 1e-2}), env={})
    assert (d.spec, d.rule) == ("dense", "max_error")
    # the user's explicit choice (attribute or environment) is kept whatever the budget
    d = select_spec(params_from_dict({**BASE, "spec": "sliding_window", "max_error": 1e-3}), env={})
    assert (d.spec, d.rule) == ("sliding_window", "attr_spec")
    d = select_spec(params_from_dict({**BASE, "max_error": 1e-3}), env={"SATTN_FORCE_SPEC": "bsr"})
    assert (d.spec, d.rule) == ("bsr", "env_force_spec")


def test_no_candidate_within_budget_keeps_the_most_accurate() -> None:
    # dense is exact at fp32, so only a quantized op can miss every budget: dense at i8 still
    # carries the quantization error
    attrs = {**BASE, "precision": "i8"}
    d = select_spec(params_from_dict({**attrs, "max_error": 1e-9}), env={})
    errs = {s: measured_error(attrs, s) for s in ("sliding_window", "bsr", "dense")}
    assert min(errs.values()) > 1e-9
    assert d.rule == "max_error" and errs[d.spec] == min(errs.values())
    assert "no candidate within max_error=1e-09" in d.explain()
