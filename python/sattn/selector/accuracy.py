"""Accuracy in the selector: how far each candidate spec's output is from dense attention, and
the ``max_error`` budget (pick the cheapest candidate whose error fits).

Error of a candidate, measured on the op's synthetic inputs (:func:`sattn.reference.data.synthetic`
of its shape) through the reference executor, against *dense fp32* attention on the same inputs
(the truth the sparsity and the precision both approximate)::

    max_rel_error = max|out - dense| / max|dense|
    off_share     = share of output elements with |out - dense| > threshold * max|dense|

These are estimates for the user's data, exact for the synthetic data. To measure them on real
tensors instead, name a ``.safetensors`` file holding ``q``, ``k`` and ``v`` of the op's shape
(a layer file of ``sattn capture``) in the environment variable ``SATTN_MAX_ERROR_DATA``
(:attr:`sattn.selector.hints.Hints.max_error_data`; ``sattn run --max-error-data FILE``,
``api.run(..., max_error_data=FILE)``); the decision's reason then names the file. The budget rule
(:func:`apply_budget`) applies only when the cost model decided (rule ``cost_model`` or
``default_bsr``): an explicit pattern attribute or override is the user's choice. Candidates
are tried in increasing modelled cost; when none fits the budget, ``dense`` at the op's
precision is chosen when it fits (sparsity adds no error to it), else the most accurate.
Whenever the budget applied, the decision's rule is ``max_error`` (its reason keeps the cost
model's and adds the measured errors).

:func:`sattn.selector.rules.select_spec` calls :func:`apply_budget` on its ``cost_model`` and
``default_bsr`` decisions.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from sattn.errors import SattnError
from sattn.ir.schema import AttentionParams
from sattn.reference.data import load_inputs, synthetic
from sattn.reference.executor import attention
from sattn.selector.decision import Candidate, Decision

#: Default threshold of ``off_share``, relative to max|dense|.
DEFAULT_THRESHOLD = 1e-2

#: Decision rules the budget may override.
BUDGET_RULES = ("cost_model", "default_bsr")

#: Environment variable naming a ``.safetensors`` file (tensors q, k, v) whose data replaces
#: the synthetic inputs of the error estimates.
DATA_VAR = "SATTN_MAX_ERROR_DATA"


@dataclass(frozen=True)
class Accuracy:
    """Deviation of one output from dense fp32 attention on the same inputs."""

    max_rel_error: float
    off_share: float
    threshold: float

    def describe(self) -> str:
        return f"max_rel_err={self.max_rel_error:.3e} off_share={self.off_share:.4f}"


def measure(out: np.ndarray, dense: np.ndarray, threshold: float = DEFAULT_THRESHOLD) -> Accuracy:
    """The :class:`Accuracy` of ``out`` against the dense output ``dense``."""
    out64 = np.asarray(out, dtype=np.float64)
    ref = np.asarray(dense, dtype=np.float64)
    scale = float(np.abs(ref).max()) if ref.size else 0.0
    diff = np.abs(out64 - ref)
    err = float(diff.max()) if diff.size else 0.0
    rel = err / scale if scale > 0 else err
    off = float((diff > threshold * (scale if scale > 0 else 1.0)).mean()) if diff.size else 0.0
    return Accuracy(rel, off, threshold)


def dense_output(params: AttentionParams, q: np.ndarray, k: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Dense fp32 attention (causal when the op is): the truth the errors are measured against."""
    return attention(params.replace(spec="dense", precision="fp32"), q, k, v)


def budget_inputs(params: AttentionParams, seed: int = 0, data: str | None = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(q, k, v) the errors are measured on: the tensors q, k, v of the ``.safetensors`` file
    ``data`` (``SATTN_MAX_ERROR_DATA``), which must have the op's shape, else the synthetic
    data of the op's shape."""
    path = data
    if not path:
        return synthetic(params.shape(), seed)
    if not path.lower().endswith(".safetensors"):
        raise SattnError(f"{DATA_VAR}={path}: expected a .safetensors file holding q, k and v "
                         "(what `sattn capture` writes)")
    got = load_inputs(params.replace(batch=None), path, qkv_what=DATA_VAR)
    want = params.shape()
    if got.shape != want:
        have = f"H={got.shape.heads} S={got.shape.seq_len} D={got.shape.head_dim}"
        need = f"H={want.heads} S={want.seq_len} D={want.head_dim}"
        raise SattnError(f"{DATA_VAR}={path}: its tensors have {have} but the op has {need}; "
                         "the max_error estimates need data of the op's shape")
    return got.q, got.k, got.v


def estimate(params: AttentionParams, specs: list[str] | tuple[str, ...], *, seed: int = 0,
             threshold: float = DEFAULT_THRESHOLD, data: str | None = None) -> dict[str, Accuracy]:
    """The :class:`Accuracy` of each spec in ``specs`` for ``params`` on the inputs of
    :func:`budget_inputs` (synthetic, or the tensors of the file ``data``)."""
    q, k, v = budget_inputs(params, seed, data)
    dense = dense_output(params, q, k, v)
    return {s: measure(attention(params.replace(spec=s), q, k, v), dense, threshold) for s in specs}


def apply_budget(params: AttentionParams, decision, *, seed: int = 0):
    """The decision under ``params.max_error``: the cheapest usable candidate whose estimated
    ``max_rel_error`` is within the budget (see the module docstring). Returns ``decision``
    unchanged when there is no budget or another rule decided."""
    budget = params.max_error
    if budget is None or decision.rule not in BUDGET_RULES:
        return decision
    usable = [c for c in decision.candidates if c.status in ("ok", "chosen") and c.cost is not None]
    usable.sort(key=lambda c: c.cost.total)
    specs = [c.spec for c in usable] or [decision.spec]
    if "dense" not in specs:
        specs.append("dense")
    data = decision.hints.max_error_data
    errors = estimate(params, specs, seed=seed, data=data)
    pick = next((s for s in specs if errors[s].max_rel_error <= budget), None)
    if pick is None:
        pick = min(specs, key=lambda s: errors[s].max_rel_error)
        why = f"no candidate within max_error={budget:g}; most accurate: {pick}"
    else:
        why = f"cheapest candidate within max_error={budget:g}: {pick}"
    why += " (" + ", ".join(f"{s} {errors[s].max_rel_error:.3g}" for s in specs) + ")"
    if data:
        why += f" measured on {data}"
    if pick == decision.spec:
        return replace(decision, rule="max_error", reason=decision.reason + "; " + why)
    cands = tuple(
        Candidate(c.spec, c.cost, "chosen" if c.spec == pick else
                  (f"over budget (err {errors[c.spec].max_rel_error:.3g})"
                   if c.spec in errors and errors[c.spec].max_rel_error > budget else
                   ("ok" if c.status == "chosen" else c.status)))
        for c in decision.candidates
    )
    return Decision(pick, "max_error", decision.reason + "; " + why, cands, decision.hints,
                    decision.skipped)
