"""The selector's cost model: sliding_window vs bsr (vs block_local_global under the spec's
GQA and compression-block nudges), per target.

Each candidate's *terms* are counts of the work its backend does for the whole op, derived
from the backend's loop structure (:mod:`sattn.selector.terms`: RVV instructions' units,
RoCC cycles' units, the reference's elements and tiles). The target's fitted weights (one
per term, shared by the specs: they run the same core) turn them into a modelled cost in the
target's unit, and the spec's nudges multiply it::

    cost = (sum_t k_t * term_t) * multipliers

The weights are fitted to measurements of random contests in both input forms
(``bench/fit_selector.py``, data in ``bench/data/selector_fit/``; docs/selector.md). The
multipliers are the spec's nudges, the same on every target and not fitted:

    sliding_window      x (1 + 0.1*(G-1))                    GQA: more per-head work
    block_local_global  x (1 - 0.25*(1 - C/B)) if 0 < C < B  compression-block scoring
    bsr, block_local_global  x fit(L1)/fit(32768)            L1 cache fit (SATTN_HW_L1_BYTES)
    every candidate     x 0.75 / 1.1                         SATTN_PREFER_BSR / SATTN_PREFER_SW

with ``fit(L1) = max(1, (tM + 2*B) * tD * eb / L1)`` the number of times a step's block working
set (a Q tile and one K and one V block, ``tD`` wide) overflows L1; the weights are fitted at
the default L1, so the factor is 1 unless the hint changes L1 (a larger L1 favours blocks).
The numbers are a model, never reported as measured.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sattn.ir.schema import DEFAULT_TILES, AttentionParams
from sattn.selector import terms_kv
from sattn.selector.hints import DEFAULT_L1_BYTES, TARGETS, Hints
from sattn.selector.terms import ELEMENT_BYTES, TERMS, Op, terms

#: Relative sliding-window penalty per extra query head in a GQA group.
GQA_PENALTY = 0.1
#: Largest block-cost discount from compression-block scoring (comp_block_size -> 0).
COMP_DISCOUNT = 0.25
#: Multipliers of the preference hints: the preferred family's cost, the other's.
PREFER_FAVOUR = 0.75
PREFER_DISFAVOUR = 1.1


@dataclass(frozen=True)
class TargetModel:
    """One target's fitted weight per term (:data:`sattn.selector.terms.TERMS`) and the unit
    its modelled costs come out in."""

    unit: str
    weights: Mapping[str, float]

    def apply(self, t: Mapping[str, float]) -> float:
        """The weighted sum of the terms."""
        return sum(k * t.get(name, 0.0) for name, k in self.weights.items())


#: Per-target weights, fitted by non-negative least squares of the relative error of every
#: measured candidate's cost on its terms (docs/selector.md, "Targets and fitted weights").
#: Reproduce or refit: ``python bench/fit_selector.py --fit bench/data/selector_fit/*.json``.
MODELS: dict[str, TargetModel] = {
    "rvv": TargetModel(
        unit="model_cycles",
        weights={"d_steps": 94.4, "dot_keys": 117.0, "keys": 56.4, "widen": 10.4,
                 "strips": 703.0, "pairs": 800.0, "calls": 0.0, "sel_means": 60.2,
                 "sel_scores": 0.0, "sel_topk": 0.0, "sel_blocks": 1560.0, "sel_comp": 3.12,
                 "sel_comp_el": 74.2, "fixed": 25800.0},
    ),
    "rocc": TargetModel(
        unit="cycles",
        weights={"mac": 1.02, "rows": 0.0, "runs": 0.0, "idx": 1.95, "mem": 0.0443,
                 "mem_x": 0.773, "fixed": 410.0},
    ),
    "reference": TargetModel(
        unit="ns",
        weights={"prep": 1.55, "elems": 1.46, "flops": 0.0108, "gather": 0.568, "bias": 1.01,
                 "tiles_band": 66400.0, "tiles_block": 55300.0, "tiles_token": 139000.0,
                 "sel_calls": 240000.0, "sel_loops": 0.0, "sel_elems": 2.08, "sel_nb2": 0.0,
                 "sel_comp": 0.0567, "sel_comp_el": 1.33, "fixed_band": 321000.0,
                 "fixed_block": 329000.0, "fixed_token": 501000.0},
    ),
}
assert set(MODELS) == set(TARGETS)
assert all(set(MODELS[t].weights) == set(TERMS[t]) for t in TARGETS)

BLOCK_SPECS = ("bsr", "block_local_global")


@dataclass(frozen=True)
class Cost:
    """A modelled cost, the terms and multipliers it is made of, and the weights applied."""

    total: float
    terms: dict[str, float] = field(default_factory=dict)
    #: how the terms were weighted (``weights(rvv)=[d_steps 5.86, ...]``), if at all
    weighting: str = ""

    def describe(self) -> str:
        parts = ", ".join(f"{k}={_fmt(v)}" for k, v in self.terms.items())
        tail = f" {self.weighting}" if self.weighting else ""
        return f"{_fmt(self.total)} [{parts}]{tail}"


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def prefer_factor(spec: str, hints: Hints) -> float:
    """The SATTN_PREFER_* multiplier for one candidate."""
    block = spec in BLOCK_SPECS
    if hints.prefer_bsr:
        return PREFER_FAVOUR if block else PREFER_DISFAVOUR
    if hints.prefer_sw:
        return PREFER_DISFAVOUR if block else PREFER_FAVOUR
    return 1.0


def cache_fit(p: AttentionParams, block: int, l1_bytes: int) -> float:
    """>= 1: how many times the per-step block working set (a Q tile and one K and one V
    block, tile_D wide) overflows an L1 of ``l1_bytes``."""
    tm = p.tile_M or DEFAULT_TILES["tile_M"]
    td = p.tile_D or DEFAULT_TILES["tile_D"]
    return max(1.0, (tm + 2 * block) * td * ELEMENT_BYTES[p.precision] / l1_bytes)


def l1_factor(p: AttentionParams, hints: Hints) -> float:
    """The SATTN_HW_L1_BYTES multiplier of a block candidate: its cache fit at the hinted L1
    over the cache fit at the default L1 the weights were fitted at (1 by default)."""
    block = p.effective_block_size(p.shape().kv_len)
    return cache_fit(p, block, hints.l1_bytes) / cache_fit(p, block, DEFAULT_L1_BYTES)


def op_terms(target: str, spec: str, p: AttentionParams) -> dict[str, float]:
    """The terms of ``spec`` for ``p``: the square model, or a KV-cache step's
    (:mod:`sattn.selector.terms_kv`) when Sq < Skv -- but for bsr with compression scoring,
    which the KV-cache terms do not model: the square model's terms of the op then."""
    if p.shape().offset and not (spec == "bsr" and p.comp_block_size):
        return terms_kv.terms(target, spec, p, Op.of(p))
    return terms(target, spec, p)


def _cost(spec: str, p: AttentionParams, hints: Hints, mult: dict[str, float]) -> Cost:
    model = MODELS[hints.target]
    t = op_terms(hints.target, spec, p)
    total = model.apply(t)
    for v in mult.values():
        total *= v
    shown = {k: v for k, v in t.items() if v and model.weights[k]}
    weights = ", ".join(f"{k} {_fmt(model.weights[k])}" for k in shown)
    return Cost(total, {**shown, **mult}, f"weights({hints.target})=[{weights}]")


def sliding_window_cost(p: AttentionParams, hints: Hints) -> Cost | None:
    """None when window_size is not set (the cost cannot be computed)."""
    if p.window_size is None:
        return None
    gqa = 1.0 + GQA_PENALTY * (p.gqa_group_size - 1)
    return _cost("sliding_window", p, hints,
                 {"gqa_x": gqa, "prefer_x": prefer_factor("sliding_window", hints)})


def bsr_cost(p: AttentionParams, hints: Hints) -> Cost | None:
    """None when keep_ratio is not set."""
    if p.keep_ratio is None:
        return None
    return _cost("bsr", p, hints,
                 {"l1_x": l1_factor(p, hints), "prefer_x": prefer_factor("bsr", hints)})


def blg_competes(p: AttentionParams) -> bool:
    """block_local_global joins the comparison only under the spec's nudges (GQA or
    compression blocks smaller than the block) and when block_size is given."""
    if p.block_size is None:
        return False
    return p.gqa_group_size > 1 or 0 < p.comp_block_size < p.block_size


def blg_cost(p: AttentionParams, hints: Hints) -> Cost | None:
    """None unless block_size is set (global_tokens > 0 forces the spec before costs matter)."""
    if p.block_size is None:
        return None
    b = p.effective_block_size(p.shape().kv_len)
    c = p.comp_block_size
    comp = 1.0 - COMP_DISCOUNT * (1.0 - c / b) if 0 < c < b else 1.0
    return _cost("block_local_global", p, hints,
                 {"comp_x": comp, "l1_x": l1_factor(p, hints),
                  "prefer_x": prefer_factor("block_local_global", hints)})


#: The candidates of the cost comparison, in tie-break order, with what they need.
COST_MODELS = (
    ("bsr", bsr_cost, "needs keep_ratio"),
    ("sliding_window", sliding_window_cost, "needs window_size"),
    ("block_local_global", blg_cost, "needs block_size and gqa_group_size > 1 or 0 < comp_block_size < block_size"),
)

#: The spec's nudges: multiply the weighted sum, are not fitted.
MULTIPLIERS = ("gqa_x", "comp_x", "l1_x", "prefer_x")
