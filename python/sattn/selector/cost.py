"""The selector's cost model: sliding_window vs bsr (vs block_local_global under the spec's
GQA and compression-block nudges), per target.

Each spec's formula gives *terms* in element operations (below); the target's fitted
:class:`Weights` turn them into a modelled cost in the target's unit (RVV instructions, RoCC
cycles, reference nanoseconds), per query head::

    cost = (k_work*work + k_score*score + k_load*load + k_fixed) * multipliers

The weights were fitted to the ``bench`` grid of ``bench/selector_regret.py``
(docs/selector.md: the fit, its data and the coefficients); the multipliers (GQA penalty,
compression discount, preferences) are the spec's nudges and are not fitted.

Notation (all from :class:`AttentionParams`): ``S``, ``D`` the shape; ``tM``, ``tS``, ``tD``
the tile hints (defaults 64, 128, 64); ``Dp = ceil(D/tD)*tD``; ``eb`` bytes per element of the
precision (fp32 4, bf16 2, i8 1, i4 0.5); ``G`` = gqa_group_size; ``g = min(global_tokens, S)``;
``L1`` the cache size hint. The formulas (docs/selector.md explains them)::

    sliding_window  keys  = min(S, 2w+1) + g
                    work  = 2*S*keys*D                              (QK^T and PV MACs)
                    load  = ceil(S/tM) * (ceil(min(S, tM+2*w*dil)/tS)*tS + g) * 2*Dp
                    cost  = (kw*work + kl*load + k0) * (1 + 0.1*(G-1)) * prefer

    bsr             B = block_size (default 64, <= S), nb = ceil(S/B),
                    keep  = clamp(ceil(keep_ratio*nb), 1, nb)
                    work  = 2*S*keep*B*D ; score = 2*S*D + nb^2*D
                    fit   = max(1, (tM + 2*B)*tD*eb / L1)          (L1 cache-fit)
                    load  = nb*keep*B*2*Dp*fit
                    cost  = (kw*work + ks*score + kl*load + k0) * prefer

    block_local_global
                    kb    = 1 if nb == 1 else 3*nb-2                (diagonal +- 1 block)
                    work  = 2*D*(kb*B*B + 2*g*S) ; load = (kb*B + nb*g)*2*Dp*fit
                    cost  = (kw*work + kl*load + k0) * comp * prefer,
                    comp  = 1 - 0.25*(1 - C/B) if 0 < C=comp_block_size < B else 1

``prefer``: SATTN_PREFER_BSR multiplies block costs by 0.75 and sliding_window by 1.1;
SATTN_PREFER_SW the other way round. The numbers are a model, never reported as measured.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from sattn.ir.schema import DEFAULT_TILES, AttentionParams
from sattn.selector.hints import TARGETS, Hints

#: Relative sliding-window penalty per extra query head in a GQA group.
GQA_PENALTY = 0.1
#: Largest block-cost discount from compression-block scoring (comp_block_size -> 0).
COMP_DISCOUNT = 0.25
#: Multipliers of the preference hints: the preferred family's cost, the other's.
PREFER_FAVOUR = 0.75
PREFER_DISFAVOUR = 1.1



@dataclass(frozen=True)
class Weights:
    """A target's weights of one spec's cost terms: ``kw*work + ks*score + kl*load + k0``."""

    work: float
    load: float
    fixed: float
    score: float = 0.0  # bsr's block scoring; the other specs have no score term

    def apply(self, work: float, load: float, score: float = 0.0) -> float:
        """The weighted sum of the terms."""
        return self.work * work + self.score * score + self.load * load + self.fixed

    def describe(self, has_score: bool = False) -> str:
        score = f", score {_fmt(self.score)}" if has_score else ""
        return f"work {_fmt(self.work)}{score}, load {_fmt(self.load)}, fixed {_fmt(self.fixed)}"


@dataclass(frozen=True)
class TargetModel:
    """The fitted weights of one target, and the unit its modelled costs come out in."""

    unit: str
    sliding_window: Weights
    bsr: Weights
    block_local_global: Weights


#: Per-target weights, fitted by non-negative relative least squares of each spec's measured
#: cost per query head on its formula's terms (docs/selector.md, "Fitted weights"):
#: rvv and rocc on the 288 ``bench`` configurations (instructions under qemu, Verilator
#: cycles), the reference on two runs of them (wall time, min of 9 interleaved runs).
#: Reproduce or refit: ``python bench/fit_selector.py --fit bench/data/selector_fit/*.json``.
MODELS: dict[str, TargetModel] = {
    "rvv": TargetModel(
        unit="instructions",
        sliding_window=Weights(work=0.0809, load=0.689, fixed=2870.0),
        bsr=Weights(work=0.0402, score=2.79, load=0.59, fixed=9580.0),
        block_local_global=Weights(work=0.0729, load=0.862, fixed=3180.0),
    ),
    "rocc": TargetModel(
        unit="cycles",
        sliding_window=Weights(work=0.0236, load=0.038, fixed=27.6),
        bsr=Weights(work=0.032, score=0.114, load=0.0016, fixed=224.0),
        block_local_global=Weights(work=0.0325, load=0.00816, fixed=153.0),
    ),
    "reference": TargetModel(
        unit="ns",
        sliding_window=Weights(work=0.0, load=4.19, fixed=0.0),
        bsr=Weights(work=0.0, score=23.6, load=1.83, fixed=47800.0),
        block_local_global=Weights(work=0.0659, load=6.81, fixed=0.0),
    ),
}
assert set(MODELS) == set(TARGETS)


def weights(spec: str, hints: Hints) -> Weights:
    """The weights of ``spec``'s terms for the hints' target."""
    return getattr(MODELS[hints.target], spec)


ELEMENT_BYTES = {"fp32": 4.0, "bf16": 2.0, "i8": 1.0, "i4": 0.5}
BLOCK_SPECS = ("bsr", "block_local_global")


@dataclass(frozen=True)
class Cost:
    """A modelled cost and the terms it is made of (for the explanation)."""

    total: float
    terms: dict[str, float] = field(default_factory=dict)
    #: how the terms were weighted (``weights(rvv)=[work .., load .., fixed ..]``), if at all
    weighting: str = ""

    def describe(self) -> str:
        parts = ", ".join(f"{k}={_fmt(v)}" for k, v in self.terms.items())
        tail = f" {self.weighting}" if self.weighting else ""
        return f"{_fmt(self.total)} [{parts}]{tail}"


def _fmt(v: float) -> str:
    return f"{v:.4g}"


@dataclass(frozen=True)
class Geometry:
    """Shape and tile values the formulas use."""

    S: int
    D: int
    tM: int
    tS: int
    tD: int
    Dp: int
    eb: float
    G: int
    g: int

    @classmethod
    def of(cls, p: AttentionParams) -> Geometry:
        shape = p.shape()
        s, d = shape.seq_len, shape.head_dim
        tm = p.tile_M or DEFAULT_TILES["tile_M"]
        ts = p.tile_S or DEFAULT_TILES["tile_S"]
        td = p.tile_D or DEFAULT_TILES["tile_D"]
        return cls(
            S=s, D=d, tM=tm, tS=ts, tD=td, Dp=math.ceil(d / td) * td,
            eb=ELEMENT_BYTES[p.precision], G=p.gqa_group_size, g=min(p.global_tokens, s),
        )


def _weighting(hints: Hints, k: Weights, has_score: bool = False) -> str:
    return f"weights({hints.target})=[{k.describe(has_score)}]"


def prefer_factor(spec: str, hints: Hints) -> float:
    """The SATTN_PREFER_* multiplier for one candidate."""
    block = spec in BLOCK_SPECS
    if hints.prefer_bsr:
        return PREFER_FAVOUR if block else PREFER_DISFAVOUR
    if hints.prefer_sw:
        return PREFER_DISFAVOUR if block else PREFER_FAVOUR
    return 1.0


def cache_fit(geo: Geometry, block: int, hints: Hints) -> float:
    """>= 1: how many times the per-step block working set (Q tile, K and V block) overflows L1."""
    working_set = (geo.tM + 2 * block) * geo.tD * geo.eb
    return max(1.0, working_set / hints.l1_bytes)


def sliding_window_cost(p: AttentionParams, hints: Hints) -> Cost | None:
    """None when window_size is not set (the cost cannot be computed)."""
    if p.window_size is None:
        return None
    geo = Geometry.of(p)
    w = p.window_size
    keys = min(geo.S, 2 * w + 1) + geo.g
    work = 2.0 * geo.S * keys * geo.D
    span = min(geo.S, geo.tM + 2 * w * p.dilation)
    load = math.ceil(geo.S / geo.tM) * (math.ceil(span / geo.tS) * geo.tS + geo.g) * 2.0 * geo.Dp
    gqa = 1.0 + GQA_PENALTY * (geo.G - 1)
    pref = prefer_factor("sliding_window", hints)
    k = weights("sliding_window", hints)
    total = k.apply(work, load) * gqa * pref
    return Cost(total, {"work": work, "load": load, "gqa_x": gqa, "prefer_x": pref},
                _weighting(hints, k))


def bsr_cost(p: AttentionParams, hints: Hints) -> Cost | None:
    """None when keep_ratio is not set."""
    if p.keep_ratio is None:
        return None
    geo = Geometry.of(p)
    b = p.effective_block_size(geo.S)
    nb = math.ceil(geo.S / b)
    keep = min(nb, max(1, math.ceil(p.keep_ratio * nb)))
    work = 2.0 * geo.S * keep * b * geo.D
    score = 2.0 * geo.S * geo.D + float(nb * nb * geo.D)
    fit = cache_fit(geo, b, hints)
    load = nb * keep * b * 2.0 * geo.Dp * fit
    pref = prefer_factor("bsr", hints)
    k = weights("bsr", hints)
    total = k.apply(work, load, score) * pref
    return Cost(total, {"work": work, "score": score, "load": load, "fit_x": fit, "prefer_x": pref},
                _weighting(hints, k, has_score=True))


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
    geo = Geometry.of(p)
    b = p.effective_block_size(geo.S)
    nb = math.ceil(geo.S / b)
    kb = 1 if nb == 1 else 3 * nb - 2
    work = 2.0 * geo.D * (kb * b * b + 2 * geo.g * geo.S)
    fit = cache_fit(geo, b, hints)
    load = (kb * b + nb * geo.g) * 2.0 * geo.Dp * fit
    c = p.comp_block_size
    comp = 1.0 - COMP_DISCOUNT * (1.0 - c / b) if 0 < c < b else 1.0
    pref = prefer_factor("block_local_global", hints)
    k = weights("block_local_global", hints)
    total = k.apply(work, load) * comp * pref
    return Cost(total, {"work": work, "load": load, "fit_x": fit, "comp_x": comp, "prefer_x": pref},
                _weighting(hints, k))


#: The candidates of the cost comparison, in tie-break order, with what they need.
COST_MODELS = (
    ("bsr", bsr_cost, "needs keep_ratio"),
    ("sliding_window", sliding_window_cost, "needs window_size"),
    ("block_local_global", blg_cost, "needs block_size and gqa_group_size > 1 or 0 < comp_block_size < block_size"),
)
