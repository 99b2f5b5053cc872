#!/usr/bin/env python3
"""Fit the selector's per-target cost weights (``sattn.selector.cost.MODELS``) to measurements.

The method of docs/selector.md ("Targets and fitted weights"): for each target (the backend a
sweep JSON measured), one weight per term of :mod:`sattn.selector.terms` (shared by every
spec: the specs run the same core), fitted by non-negative least squares of the *relative*
error of every measured candidate's cost on its terms times the spec's multipliers (GQA
penalty, compression discount, L1 and preference factors: the spec's nudges, not fitted).
The non-negative optimum is found with the Lawson-Hanson active-set method (Lawson and
Hanson, Solving Least Squares Problems, 1974, ch. 23). The weights are rounded to 3
significant digits, as ``cost.py`` holds them; reference wall times (``wall_s``) are fitted
in nanoseconds.

Measure random contests in both input forms (:func:`sattn.sweep.random_cases`: the shape
from tile_S/tile_D, and explicit seq_len/head_dim/num_heads), every candidate measured;
writes the sweep JSON with its seed (the held-out benchmark, ``bench/selector_heldout.py``,
refuses seeds that fit data used)::

    python bench/fit_selector.py --measure rvv --random 11 --n 40 --json rvv-11.json

Fit (prints, per target, the ``MODELS`` entry to paste into cost.py, whether it equals the one
there, and the best-or-within-10% share / mean and worst regret the fitted weights give on
each file, and on ``--score`` files the fit did not see)::

    python bench/fit_selector.py --fit bench/data/selector_fit/*.json

The data the weights in cost.py were fitted to is in ``bench/data/selector_fit/`` (rvv and
rocc: deterministic counts; reference: wall times, fastest of 9 interleaved runs).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

from sattn.cli.common import guarded
from sattn.errors import SattnError
from sattn.ir.schema import params_from_dict
from sattn.selector.cost import COST_MODELS, MODELS, MULTIPLIERS, TargetModel
from sattn.selector.hints import TARGETS, Hints
from sattn.selector.terms import TERMS, terms
from sattn.sweep import (
    DEFAULT_COST,
    FORMS,
    GRIDS,
    grid_cases,
    random_cases,
    sweep,
    to_json,
)
from sattn.toolrun import atomic_write, check_output_path

#: Measured cost name -> (unit of the target's modelled cost, factor to it).
UNITS: dict[str, tuple[str, float]] = {
    "instructions": ("instructions", 1.0),
    "model_cycles": ("model_cycles", 1.0),
    "cycles": ("cycles", 1.0),
    "wall_s": ("ns", 1e9),
}
WITHIN = 1.1  # "best or within 10%"
ORDER = [spec for spec, _, _ in COST_MODELS]  # tie-break order of the selector
COST_FNS = {spec: fn for spec, fn, _ in COST_MODELS}


# ---------------------------------------------------------------------------------------------
# measuring


def contest_cases(seed: int, n: int) -> list[dict[str, Any]]:
    """``n`` random contests of each input form drawn from ``seed`` (:func:`sattn.sweep.random_cases`)."""
    return [a for form in FORMS for a in random_cases(seed, n, form)]


def measure(backend: str, out: str, grid: str, jobs: int | None,
            seed: int | None = None, n: int = 0) -> None:
    """Sweep ``grid`` (or, with ``seed``, ``n`` random contests per input form) on ``backend``
    (every candidate measured, selecting for that backend) and write the sweep's JSON to
    ``out`` (random contests record their seed: the held-out benchmark refuses it)."""
    check_output_path(out, "--json")  # a bad path fails before minutes of measuring
    # wall time is measured serially: parallel workers would disturb each other's clocks
    jobs = jobs or (1 if backend == "reference" else None)
    cases = grid_cases(GRIDS[grid]) if seed is None else contest_cases(seed, n)
    summary = sweep(cases, backend, jobs=jobs, progress=True)
    for line in summary.lines():
        print(line)
    data = to_json(summary)
    data["source"] = ({"grid": grid} if seed is None
                      else {"random_seed": seed, "per_form": n, "forms": list(FORMS)})
    atomic_write(out, json.dumps(data, default=str))
    print(f"wrote {out}")


# ---------------------------------------------------------------------------------------------
# fitting


@dataclass
class Sample:
    """One measured candidate: its spec, the terms (multipliers applied) and its measured cost
    in the target's unit."""

    spec: str
    x: np.ndarray
    y: float


@dataclass
class Case:
    """One contest with >= 2 measured candidates: the selector had a choice."""

    attrs: dict[str, Any]
    samples: list[Sample]


@dataclass
class SweepFile:
    """A sweep JSON: what it measured, its scored cases and where they came from."""

    path: str
    target: str
    cases: list[Case]
    source: dict[str, Any]


def _read_json(path: str) -> dict[str, Any]:
    try:
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rt") as f:
            return json.load(f)
    except FileNotFoundError:
        raise SattnError(f"{path}: no such file") from None
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise SattnError(f"{path}: not a sweep JSON file ({e})") from None


def features(spec: str, attrs: dict[str, Any], target: str) -> np.ndarray:
    """The terms of one candidate on ``target`` (TERMS order) times its multipliers (cost.py)."""
    p = params_from_dict(attrs)
    cost = COST_FNS[spec](p, Hints(target=target))
    if cost is None:
        raise SattnError(f"{spec} has no cost for {attrs}")
    mult = float(np.prod([cost.terms.get(m, 1.0) for m in MULTIPLIERS]))
    t = terms(target, spec, p)
    return np.array([t[name] * mult for name in TERMS[target]])


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
        cases.append(Case(r["attrs"], [Sample(c["spec"], features(c["spec"], r["attrs"], backend),
                                              c["cost"] * scale)
                                       for c in r["candidates"] if c["spec"] in COST_FNS]))
    if not cases:
        raise SattnError(f"{path}: no case with two or more measured candidates")
    return SweepFile(path, backend, cases, data.get("source") or {})


def nnls(a: np.ndarray, b: np.ndarray, max_iter: int = 1000) -> np.ndarray:
    """``argmin_x |a x - b|^2`` subject to ``x >= 0`` (Lawson-Hanson active set): move the
    variable with the largest positive gradient into the passive set, solve least squares on
    the passive set, step back to the feasible region when a passive variable turns negative."""
    n = a.shape[1]
    passive = np.zeros(n, dtype=bool)
    x = np.zeros(n)
    grad = a.T @ (b - a @ x)
    tol = 1e-10 * max(1.0, float(np.abs(grad).max()))
    for _ in range(max_iter):
        if passive.all() or (grad[~passive] <= tol).all():
            break
        passive[np.argmax(np.where(passive, -np.inf, grad))] = True
        while True:
            z = np.zeros(n)
            z[passive] = np.linalg.lstsq(a[:, passive], b, rcond=None)[0]
            if (z[passive] > 0).all():
                x = z
                break
            neg = passive & (z <= 0)
            alpha = float(np.min(x[neg] / (x[neg] - z[neg])))
            x = x + alpha * (z - x)
            passive &= x > 1e-12 * max(1.0, float(np.abs(x).max()))
            x[~passive] = 0.0
        grad = a.T @ (b - a @ x)
    return x


def round3(v: float) -> float:
    """3 significant digits, as the weights in cost.py are written."""
    return float(f"{v:.3g}")


def fit(files: list[SweepFile], target: str) -> TargetModel:
    """The target's weights, fitted to every sample of its files, rounded to 3 digits."""
    samples = [s for f in files for c in f.cases for s in c.samples]
    x = np.array([s.x for s in samples])
    y = np.array([s.y for s in samples])
    scale = np.maximum(np.abs(x).max(axis=0), 1e-300)  # columns of comparable size
    w = nnls(x / scale / y[:, None], np.ones(len(y))) / scale
    return TargetModel(unit=MODELS[target].unit,
                       weights={n: round3(v) for n, v in zip(TERMS[target], w)})


def modelled(model: TargetModel, target: str, s: Sample) -> float:
    """The modelled cost of one candidate under ``model``'s weights."""
    return float(sum(model.weights[n] * v for n, v in zip(TERMS[target], s.x)))


def regret(data: SweepFile, model: TargetModel) -> tuple[float, float, float]:
    """Best-or-within-10% share, mean and worst regret of picking the cheapest modelled
    candidate (ties: cost.py's order) on the measured costs."""
    regrets = []
    for case in data.cases:
        pick = min(case.samples,
                   key=lambda s: (modelled(model, data.target, s), ORDER.index(s.spec)))
        regrets.append(pick.y / min(s.y for s in case.samples))
    within = sum(r <= WITHIN + 1e-12 for r in regrets) / len(regrets)
    return within, sum(regrets) / len(regrets), max(regrets)


def model_source(target: str, model: TargetModel) -> str:
    """The ``MODELS`` entry of cost.py for ``model``."""
    items = [f'"{n}": {model.weights[n]!r}' for n in TERMS[target]]
    lines, line = [], "        weights={"
    for i, item in enumerate(items):
        piece = item + ("," if i < len(items) - 1 else "},")
        if len(line) + len(piece) + 1 > 96:
            lines.append(line.rstrip())
            line = "                 "
        line += piece + " "
    lines.append(line.rstrip())
    return "\n".join([f'    "{target}": TargetModel(', f'        unit="{model.unit}",', *lines,
                      "    ),"])


def fit_files(paths: list[str], score_paths: list[str] | None = None) -> None:
    """Fit every target the files measured; print its cost.py entry and the regret per file
    (the fit's files, then the ``score_paths`` it did not see)."""
    files = [load(p) for p in paths]
    others = [load(p) for p in score_paths or []]
    for target in [t for t in TARGETS if any(f.target == t for f in files)]:
        own = [f for f in files if f.target == target]
        model = fit(own, target)
        samples = sum(len(c.samples) for f in own for c in f.cases)
        same = "equals" if dict(model.weights) == dict(MODELS[target].weights) else "DIFFERS from"
        print(f"# {target}: {samples} measured candidates in {sum(len(f.cases) for f in own)} "
              f"cases; {same} sattn.selector.cost.MODELS['{target}']")
        print(model_source(target, model))
        for f in own + [o for o in others if o.target == target]:
            within, mean, worst = regret(f, model)
            tag = "fit" if f in own else "not fitted"
            print(f"#   {f.path} ({tag}): best or within 10% {within:.1%}, mean regret "
                  f"{mean:.4f}, worst {worst:.3f}")


@guarded
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--measure", choices=TARGETS, metavar="BACKEND",
                    help="sweep the grid on this backend (rvv, rocc, reference) first")
    ap.add_argument("--json", dest="json_out", metavar="OUT.json",
                    help="where --measure writes the sweep (then fitted with the --fit files)")
    ap.add_argument("--grid", default="bench", choices=sorted(GRIDS),
                    help="grid --measure sweeps (default bench, the grid of cost.py's fit)")
    ap.add_argument("--random", type=int, default=None, metavar="SEED",
                    help="--measure random contests drawn from SEED instead of the grid")
    ap.add_argument("--n", type=int, default=40,
                    help="random contests per input form (default 40)")
    ap.add_argument("--jobs", type=int, default=None,
                    help="parallel processes of --measure (default: 1 on reference, else CPUs)")
    ap.add_argument("--fit", nargs="+", default=[], metavar="SWEEP.json",
                    help="sweep JSON files (.json or .json.gz) to fit the weights to")
    ap.add_argument("--score", nargs="+", default=[], metavar="SWEEP.json",
                    help="sweep JSON files to score the fitted weights on (not fitted)")
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
        measure(args.measure, args.json_out, args.grid, args.jobs, args.random, args.n)
        paths.append(args.json_out)
    fit_files(paths, args.score)
    return 0


if __name__ == "__main__":
    sys.exit(main())
