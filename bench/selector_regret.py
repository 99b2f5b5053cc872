#!/usr/bin/env python3
"""Selector regret benchmark: how often does the selector pick the measured-cheapest spec?

Runs the ``bench`` grid of :mod:`sattn.sweep` (288 configurations: S in 64/128/256, D in
16/32, window 2/8/24/64, keep_ratio 1/8..1/2, block 16/32, GQA 1/2) through every spec the
selector could choose, on the reference (measured cost: wall time, fastest of 5, run serially) and on the RVV
kernels (measured cost: instructions retired under qemu). Prints, per backend, the share of
configurations where the selector's pick is the best or within 10% of it, the mean regret
(selected cost / best cost), and the misses grouped by (selected -> best). For the tuning of
:mod:`sattn.selector.cost` it prints, per spec, the measured cost per modelled unit: a cost
model that ranks correctly has similar ratios for every spec. Target: >= 90% best-or-within-10%.

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


def report(summary) -> None:
    s = summary
    print(f"\n## {s.backend}: cost = {s.cost} ({'model' if s.cost.startswith('model_') else 'measured'})")
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
    print("\n| backend | cost | configurations | best | best or within 10% | mean regret | max regret |")
    print("|---|---|---|---|---|---|---|")
    for s in rows:
        print(f"| {s.backend} | {s.cost} | {s.scored} | {s.best_share:.1%} | {s.within10_share:.1%} "
              f"| {s.mean_regret:.3f} | {s.max_regret:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
