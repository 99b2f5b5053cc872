#!/usr/bin/env python3
"""Selector regret benchmark: how often does the selector pick the measured-cheapest spec?

Runs the ``bench`` grid of :mod:`sattn.sweep` (288 configurations: S in 64/128/256, D in
16/32, window 2/8/24/64, keep_ratio 1/8..1/2, block 16/32, GQA 1/2) through every spec the
selector could choose, on the reference (measured cost: wall time, fastest of 9 runs taken in
interleaved rounds, one case at a time, single-threaded BLAS) and on the RVV kernels (measured
cost: instructions retired under qemu); ``--backends reference,rvv,rocc`` adds the RoCC RTL
(Verilator cycles). The selector selects for the backend measured (``SATTN_TARGET``: each
target has its own fitted cost weights, docs/selector.md).

Prints, per backend, the share of configurations where the selector's pick is the best or
within 10% of it, the mean regret (selected cost / best cost), the misses grouped by
(selected -> best), the wall-time noise floor (how far two independent min-of-N estimates of
the same run disagree), the same measurements scored with every target's weights (why one set
of weights does not fit all backends), and the measured cost per modelled unit per spec.
Target: >= 90% best-or-within-10% on every backend.

    python bench/selector_regret.py [--backends reference,rvv] [--jobs N] [--executor ray]
"""

from __future__ import annotations

import argparse
import collections
import os
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

from sattn.cli.common import guarded
from sattn.errors import SattnError


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def noise_report(summary) -> None:
    """The wall-time noise floor: per candidate, the relative disagreement of the min of the
    even and of the odd rounds (:func:`sattn.sweep.noise`); and how many scored decisions are
    closer than that (selected and best within the noise of either)."""
    noise = [c.noise for r in summary.per_case for c in r.candidates]
    if not any(noise):
        print("noise floor: none (a deterministic count)")
        return
    close = 0
    for r in summary.per_case:
        if r.error is None and r.regret > 1.0:
            sel = next(c for c in r.candidates if c.spec == r.selected)
            best = next(c for c in r.candidates if c.spec == r.best)
            close += r.regret - 1.0 <= max(sel.noise, best.noise)
    n = len(summary.per_case[0].candidates[0].samples)
    print(f"noise floor (min of the {(n + 1) // 2} even-round and of the {n // 2} odd-round runs "
          f"of one candidate disagree by): median {statistics.median(noise):.1%}, "
          f"p90 {_pct(noise, 0.9):.1%}, max {max(noise):.0%}; "
          f"{close} of the non-best picks are closer to the best than that")


def cross_targets(summary) -> None:
    """The same measurements scored with every target's cost weights."""
    from sattn.ir.schema import params_from_dict
    from sattn.selector import TARGETS, select_spec

    parts = []
    for target in TARGETS:
        within = regrets = n = 0
        for r in summary.per_case:
            if r.error or len(r.candidates) < 2:
                continue
            cost = {c.spec: c.cost for c in r.candidates}
            d = select_spec(params_from_dict(r.attrs), {"SATTN_TARGET": target})
            pick = d.spec if d.spec in cost else r.selected
            regret = cost[pick] / min(cost.values())
            n += 1
            within += regret <= 1.1 + 1e-12
            regrets += regret
        mark = " (used)" if target == summary.target else ""
        parts.append(f"{target}{mark} {within / n:.1%} / {regrets / n:.3f}")
    print("scored with each target's weights (within 10% / mean regret): " + ", ".join(parts))


def report(summary) -> None:
    s = summary
    print(f"\n## {s.backend}: cost = {s.cost} ({'model' if s.cost.startswith('model_') else 'measured'}), "
          f"selected for target={s.target}")
    print(f"configurations={s.cases} scored={s.scored} failed={s.failed}")
    print(f"best={s.best_share:.1%}  best_or_within_10%={s.within10_share:.1%}  "
          f"mean_regret={s.mean_regret:.4f}  max_regret={s.max_regret:.3f}  "
          f"target>=90%: {'MET' if s.within10_share >= 0.9 else 'MISSED'}")
    misses = collections.defaultdict(list)
    for r in s.per_case:
        if r.error is None and r.regret > 1.1:
            misses[(r.selected, r.best)].append(r)
    if misses:
        print("misses (regret > 1.1) by selected -> best:")
        for (sel, best), rs in sorted(misses.items(), key=lambda kv: -len(kv[1])):
            ws = sorted({r.attrs["window_size"] for r in rs})
            kr = sorted({r.attrs["keep_ratio"] for r in rs})
            print(f"  {sel:>18} -> {best:<18} n={len(rs):3d} mean_regret="
                  f"{statistics.mean(r.regret for r in rs):.3f} window_size={ws} keep_ratio={kr}")
    noise_report(s)
    cross_targets(s)
    ratios = collections.defaultdict(list)
    for r in s.per_case:
        for c in r.candidates:
            if c.model_cost:
                ratios[c.spec].append(c.cost / c.model_cost)
    print("measured cost per modelled unit (median [min, max]) -- equal ratios = a well-ranked model:")
    for spec, xs in sorted(ratios.items()):
        print(f"  {spec:<20} {statistics.median(xs):.4g} [{min(xs):.4g}, {max(xs):.4g}] n={len(xs)}")


@guarded
def main() -> int:
    from sattn.sweep import GRIDS, grid_cases, sweep

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--backends", default="reference,rvv")
    ap.add_argument("--jobs", type=int, default=None)
    ap.add_argument("--executor", default="local", choices=["local", "ray"])
    ap.add_argument("--grid", default="bench", choices=sorted(GRIDS))
    args = ap.parse_args()
    cases = grid_cases(GRIDS[args.grid])
    print(f"# selector regret: {len(cases)} configurations ({args.grid} grid)")
    rows = []
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        if backend not in ("reference", "rvv", "rocc"):
            raise SattnError(f"unknown backend '{backend}'")
        # wall time is measured serially: parallel workers would disturb each other's clocks
        jobs = args.jobs or (1 if backend == "reference" else None)
        summary = sweep(cases, backend, jobs=jobs, executor=args.executor)
        report(summary)
        rows.append(summary)
    print("\n| backend | cost | target | configurations | best | best or within 10% | mean regret | max regret |")
    print("|---|---|---|---|---|---|---|---|")
    for s in rows:
        print(f"| {s.backend} | {s.cost} | {s.target} | {s.scored} | {s.best_share:.1%} "
              f"| {s.within10_share:.1%} | {s.mean_regret:.3f} | {s.max_regret:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
