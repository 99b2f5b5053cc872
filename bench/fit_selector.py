#!/usr/bin/env python3
"""Fit the selector's per-target cost weights (``sattn.selector.cost.MODELS``) to sweep data.

The method of docs/selector.md ("Targets and fitted weights"): for each target (the backend a
sweep JSON measured) and each spec of the cost comparison separately, non-negative least
squares of the *relative* error of the measured cost per query head (``cost / num_heads``) on
the spec formula's terms ``[work, (score,) load, 1]``, times the spec's multipliers (GQA
penalty, compression discount; not fitted). The non-negative optimum is found exactly by
solving every subset of the terms and keeping the best solution with no negative weight. The
weights are rounded to 3 significant digits, as ``cost.py`` holds them; reference wall times
(``wall_s``) are fitted in nanoseconds.

Measure (the ``bench`` grid of :mod:`sattn.sweep`, every candidate measured; writes the sweep
JSON, as ``sattn sweep --grid bench --backend B --json OUT`` does)::

    python bench/fit_selector.py --measure rvv --json rvv.json

Fit (prints, per target, the ``MODELS`` entry to paste into cost.py, whether it equals the one
there, and the best-or-within-10% share / mean regret the fitted weights give on each file)::

    python bench/fit_selector.py --fit bench/data/selector_fit/*.json

The data the weights in cost.py were fitted to is in ``bench/data/selector_fit/`` (rvv and
rocc: one run each, deterministic counts; reference: two runs of interleaved wall times).
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

from sattn.cli.common import guarded
from sattn.errors import SattnError
from sattn.ir.schema import params_from_dict
from sattn.selector.cost import COST_MODELS, MODELS, Cost, TargetModel, Weights
from sattn.selector.hints import TARGETS, Hints
from sattn.sweep import DEFAULT_COST, GRIDS, grid_cases, sweep, to_json
from sattn.toolrun import atomic_write, check_output_path

#: The terms each spec's weights apply to, in :class:`Weights` field order of cost.py.
TERMS: dict[str, tuple[str, ...]] = {
    "sliding_window": ("work", "load", "fixed"),
    "bsr": ("work", "score", "load", "fixed"),
    "block_local_global": ("work", "load", "fixed"),
}
#: The spec's nudges: multiply the weighted sum, are not fitted (cost.py).
MULTIPLIERS = ("gqa_x", "comp_x", "prefer_x")
#: Measured cost name -> (unit of the target's modelled cost, factor to it).
UNITS: dict[str, tuple[str, float]] = {
    "instructions": ("instructions", 1.0),
    "cycles": ("cycles", 1.0),
    "wall_s": ("ns", 1e9),
}
WITHIN = 1.1  # "best or within 10%"

COST_FNS: dict[str, Callable[..., Cost | None]] = {spec: fn for spec, fn, _ in COST_MODELS}


# ---------------------------------------------------------------------------------------------
# measuring


def measure(backend: str, out: str, grid: str, jobs: int | None) -> None:
    """Sweep ``grid`` on ``backend`` (every candidate measured, selecting for that backend) and
    write the sweep's JSON to ``out``."""
    check_output_path(out, "--json")  # a bad path fails before minutes of measuring
    # wall time is measured serially: parallel workers would disturb each other's clocks
    jobs = jobs or (1 if backend == "reference" else None)
    summary = sweep(grid_cases(GRIDS[grid]), backend, jobs=jobs, progress=True)
    for line in summary.lines():
        print(line)
    atomic_write(out, json.dumps(to_json(summary), default=str))
    print(f"wrote {out}")


# ---------------------------------------------------------------------------------------------
# fitting


@dataclass
class Sample:
    """One measured candidate: its spec, the formula's terms (multipliers applied) and its
    measured cost per query head in the target's unit."""

    spec: str
    x: np.ndarray
    y: float


@dataclass
class Case:
    """One configuration with >= 2 measured candidates: the selector had a choice."""

    samples: list[Sample]


@dataclass
class SweepFile:
    """A sweep JSON: what it measured and its scored cases."""

    path: str
    target: str
    cases: list[Case]


def _read_json(path: str) -> dict[str, Any]:
    try:
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rt") as f:
            return json.load(f)
    except FileNotFoundError:
        raise SattnError(f"{path}: no such file") from None
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise SattnError(f"{path}: not a sweep JSON file ({e})") from None


def terms(spec: str, attrs: dict[str, Any], target: str) -> np.ndarray:
    """The spec formula's terms for one configuration, times its multipliers (cost.py)."""
    cost = COST_FNS[spec](params_from_dict(attrs), Hints(target=target))
    if cost is None:
        raise SattnError(f"{spec} has no cost for {attrs}")
    t = {**cost.terms, "fixed": 1.0}
    mult = float(np.prod([t.get(m, 1.0) for m in MULTIPLIERS]))
    return np.array([t[name] * mult for name in TERMS[spec]])


def load(path: str) -> SweepFile:
    """Read a ``sattn sweep --json`` file (or its gzip) measured with the backend's default cost."""
    data = _read_json(path)
    try:
        backend, cost, rows = data["backend"], data["cost"], data["per_case"]
    except (KeyError, TypeError):
        raise SattnError(f"{path}: not a sweep JSON file (needs backend, cost, per_case)") from None
    if backend not in TARGETS:
        raise SattnError(f"{path}: backend '{backend}' is not a selector target")
    if cost != DEFAULT_COST[backend]:
        raise SattnError(f"{path}: cost '{cost}' is not {backend}'s measured cost "
                         f"'{DEFAULT_COST[backend]}' the weights are fitted to")
    unit, scale = UNITS[cost]
    if MODELS[backend].unit != unit:
        raise SattnError(f"{path}: {cost} is not in {backend}'s unit {MODELS[backend].unit}")
    cases = []
    for r in rows:
        if r.get("error") or len(r["candidates"]) < 2:
            continue  # failed, or nothing to choose from
        heads = params_from_dict(r["attrs"]).shape().heads  # the formulas are per query head
        cases.append(Case([Sample(c["spec"], terms(c["spec"], r["attrs"], backend),
                                  c["cost"] * scale / heads)
                           for c in r["candidates"] if c["spec"] in TERMS]))
    if not cases:
        raise SattnError(f"{path}: no case with two or more measured candidates")
    return SweepFile(path, backend, cases)


def nnls_relative(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``argmin_b sum(((x @ b - y) / y)^2)`` subject to ``b >= 0``, exactly: the optimum is the
    unconstrained least-squares solution on its support, so solve every subset of the columns
    and keep the best one with no negative weight."""
    a = x / y[:, None]
    ones = np.ones_like(y)
    n = x.shape[1]
    best: tuple[float, np.ndarray] | None = None
    for k in range(1, n + 1):
        for cols in itertools.combinations(range(n), k):
            b, *_ = np.linalg.lstsq(a[:, cols], ones, rcond=None)
            if (b < 0).any():
                continue
            full = np.zeros(n)
            full[list(cols)] = b
            err = float(((a @ full - ones) ** 2).sum())
            if best is None or err < best[0]:
                best = (err, full)
    assert best is not None  # a single positive column always has a non-negative solution
    return best[1]


def round3(v: float) -> float:
    """3 significant digits, as the weights in cost.py are written."""
    return float(f"{v:.3g}")


def fit(files: list[SweepFile], target: str) -> TargetModel:
    """The target's weights, fitted to every sample of its files, rounded to 3 digits."""
    fitted = {}
    for spec, names in TERMS.items():
        samples = [s for f in files for c in f.cases for s in c.samples if s.spec == spec]
        if not samples:
            raise SattnError(f"no measured {spec} candidate for target {target}")
        b = nnls_relative(np.array([s.x for s in samples]), np.array([s.y for s in samples]))
        fitted[spec] = Weights(**{n: round3(v) for n, v in zip(names, b)})
    return TargetModel(unit=MODELS[target].unit, **fitted)


def modelled(model: TargetModel, s: Sample) -> float:
    """The modelled cost of one candidate under ``model``'s weights."""
    k: Weights = getattr(model, s.spec)
    return float(np.dot([getattr(k, n) for n in TERMS[s.spec]], s.x))


def regret(data: SweepFile, model: TargetModel) -> tuple[float, float]:
    """Best-or-within-10% share and mean regret of picking the cheapest modelled candidate
    (ties: cost.py's order) on the measured costs."""
    order = list(COST_FNS)
    regrets = []
    for case in data.cases:
        pick = min(case.samples, key=lambda s: (modelled(model, s), order.index(s.spec)))
        regrets.append(pick.y / min(s.y for s in case.samples))
    within = sum(r <= WITHIN + 1e-12 for r in regrets) / len(regrets)
    return within, sum(regrets) / len(regrets)


def model_source(target: str, model: TargetModel) -> str:
    """The ``MODELS`` entry of cost.py for ``model``."""
    lines = [f'    "{target}": TargetModel(', f'        unit="{model.unit}",']
    for spec, names in TERMS.items():
        k = getattr(model, spec)
        args = ", ".join(f"{n}={getattr(k, n)!r}" for n in names)
        lines.append(f"        {spec}=Weights({args}),")
    lines.append("    ),")
    return "\n".join(lines)


def fit_files(paths: list[str]) -> None:
    """Fit every target the files measured; print its cost.py entry and the regret per file."""
    files = [load(p) for p in paths]
    for target in [t for t in TARGETS if any(f.target == t for f in files)]:
        own = [f for f in files if f.target == target]
        model = fit(own, target)
        samples = sum(len(c.samples) for f in own for c in f.cases)
        same = "equals" if model == MODELS[target] else "DIFFERS from"
        print(f"# {target}: {samples} measured candidates in {sum(len(f.cases) for f in own)} "
              f"cases; {same} sattn.selector.cost.MODELS['{target}']")
        print(model_source(target, model))
        for f in own:
            within, mean = regret(f, model)
            print(f"#   {f.path}: best or within 10% {within:.1%}, mean regret {mean:.4f}")


@guarded
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--measure", choices=TARGETS, metavar="BACKEND",
                    help="sweep the grid on this backend (rvv, rocc, reference) first")
    ap.add_argument("--json", dest="json_out", metavar="OUT.json",
                    help="where --measure writes the sweep (then fitted with the --fit files)")
    ap.add_argument("--grid", default="bench", choices=sorted(GRIDS),
                    help="grid --measure sweeps (default bench, the grid of cost.py's fit)")
    ap.add_argument("--jobs", type=int, default=None,
                    help="parallel processes of --measure (default: 1 on reference, else CPUs)")
    ap.add_argument("--fit", nargs="+", default=[], metavar="SWEEP.json",
                    help="sweep JSON files (.json or .json.gz) to fit the weights to")
    args = ap.parse_args()
    if args.measure and not args.json_out:
        raise SattnError("--measure needs --json OUT.json (where to write the sweep)")
    if args.json_out and not args.measure:
        raise SattnError("--json is where --measure writes; give --measure BACKEND too")
    if not args.measure and not args.fit:
        raise SattnError("nothing to do: give --measure BACKEND --json OUT.json and/or --fit FILES")
    if args.jobs is not None and args.jobs < 1:
        raise SattnError(f"--jobs must be >= 1, got {args.jobs}")
    paths = list(args.fit)
    if args.measure:
        if not args.json_out.endswith(".json"):
            raise SattnError(f"--json {args.json_out}: the file must end in .json")
        for p in paths:  # a bad --fit file fails before the measurement, not after
            load(p)
        measure(args.measure, args.json_out, args.grid, args.jobs)
        paths.append(args.json_out)
    fit_files(paths)
    return 0


if __name__ == "__main__":
    sys.exit(main())
