#!/usr/bin/env python3
"""Selector regret on held-out contests: how often does the selector pick the measured-cheapest
spec, on contests the cost weights were never fitted to?

Draws fresh random sliding_window-vs-bsr contests (:func:`sattn.sweep.random_cases`) from
seeds that no fit data used (``bench/data/selector_fit/*.json`` record theirs; a used seed is
refused), in both input forms: the shape from ``tile_S``/``tile_D`` (the spec's own form) and
explicit ``seq_len``/``head_dim``/``num_heads``. S 128-1024, D 32/64, window 2-128,
keep_ratio 0.05-0.9, block 16-128, fp32/bf16/i8, some GQA (block_local_global then competes),
some causal. Every candidate is measured on each backend: RVV instructions retired under qemu,
RoCC RTL cycles under Verilator, reference wall time (the fastest of 9 runs taken in
interleaved rounds, one contest at a time, single-threaded BLAS workers). The selector selects
for the backend measured (``SATTN_TARGET``).

Prints, per backend, the share of contests where the pick is the best or within 10% of it and
the worst regret (selected cost / best cost), per input form too, the misses, the wall-time
noise floor (how far two independent min-of-N estimates of one run disagree), the same
measurements scored with every target's weights, and the measured cost per modelled unit.
Target on each backend: >= 95% within 10% and worst regret <= 1.5.

    python bench/selector_regret.py [--seeds 101,102] [--n 25] [--backends reference,rvv,rocc]
                                    [--json DIR]
    python bench/selector_regret.py --grid bench     # the old fixed grid instead
"""

from __future__ import annotations

import argparse
import collections
import glob
import gzip
import json
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))

from sattn.cli.common import guarded
from sattn.errors import SattnError

FIT_DATA = os.path.join(HERE, "data", "selector_fit")
TARGET_WITHIN, TARGET_WORST = 0.95, 1.5


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def fit_seeds(folder: str = FIT_DATA) -> set[int]:
    """The random seeds the fit data in ``folder`` was drawn from."""
    seeds = set()
    for path in glob.glob(os.path.join(folder, "*.json*")):
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rt") as f:
            source = json.load(f).get("source") or {}
        if "random_seed" in source:
            seeds.add(int(source["random_seed"]))
    return seeds


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
        regrets = []
        for r in summary.per_case:
            if r.error or len(r.candidates) < 2:
                continue
            cost = {c.spec: c.cost for c in r.candidates}
            d = select_spec(params_from_dict(r.attrs), {"SATTN_TARGET": target})
            pick = d.spec if d.spec in cost else r.selected
            regrets.append(cost[pick] / min(cost.values()))
        within = sum(x <= 1.1 + 1e-12 for x in regrets) / len(regrets)
        mark = " (used)" if target == summary.target else ""
        parts.append(f"{target}{mark} {within:.1%} / worst {max(regrets):.2f}")
    print("scored with each target's weights (within 10% / worst regret): " + ", ".join(parts))


def form_of(attrs: dict) -> str:
    return "explicit" if "seq_len" in attrs else "tiles"


def report(summary) -> None:
    s = summary
    print(f"\n## {s.backend}: cost = {s.cost} ({'model' if s.cost.startswith('model_') else 'measured'}), "
          f"selected for target={s.target}")
    print(f"contests={s.cases} scored={s.scored} failed={s.failed}")
    met = s.within10_share >= TARGET_WITHIN and s.max_regret <= TARGET_WORST
    print(f"best={s.best_share:.1%}  best_or_within_10%={s.within10_share:.1%}  "
          f"mean_regret={s.mean_regret:.4f}  worst_regret={s.max_regret:.3f}  "
          f"target (>= 95%, <= 1.5x): {'MET' if met else 'MISSED'}")
    for form in ("tiles", "explicit"):
        rs = [r for r in s.per_case if r.error is None and len(r.candidates) >= 2
              and form_of(r.attrs) == form]
        if rs:
            print(f"  form {form:<8}: {len(rs)} contests, within 10% "
                  f"{sum(r.regret <= 1.1 + 1e-12 for r in rs) / len(rs):.1%}, "
                  f"worst {max(r.regret for r in rs):.3f}")
    misses = [r for r in s.per_case if r.error is None and r.regret > 1.1 + 1e-12]
    for r in sorted(misses, key=lambda r: -r.regret):
        costs = ", ".join(f"{c.spec} {c.cost:.4g}" for c in r.candidates)
        print(f"  miss {r.selected} -> best {r.best} regret {r.regret:.3f}: {r.attrs} | {costs}")
    failed = [r for r in s.per_case if r.error is not None]
    for r in failed:
        print(f"  FAILED {r.attrs}: {r.error}")
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


def parse_seeds(text: str) -> list[int]:
    try:
        seeds = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise SattnError(f"--seeds expects comma-separated integers, got {text!r}") from None
    if not seeds:
        raise SattnError("--seeds is empty")
    return seeds


@guarded
def main() -> int:
    from sattn.sweep import FORMS, GRIDS, grid_cases, random_cases, sweep, to_json
    from sattn.toolrun import atomic_write

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--backends", default="reference,rvv,rocc")
    ap.add_argument("--seeds", default="101,102",
                    help="random seeds of the contests (never one the fit data used)")
    ap.add_argument("--n", type=int, default=25, help="contests per seed and input form")
    ap.add_argument("--grid", choices=sorted(GRIDS), default=None,
                    help="measure this fixed grid instead of random contests")
    ap.add_argument("--jobs", type=int, default=None)
    ap.add_argument("--executor", default="local", choices=["local", "ray"])
    ap.add_argument("--json", metavar="DIR", default=None,
                    help="also write each backend's sweep (every contest and candidate) to "
                         "DIR/heldout-BACKEND.json")
    args = ap.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    for backend in backends:
        if backend not in ("reference", "rvv", "rocc"):
            raise SattnError(f"unknown backend '{backend}'")
    if args.n < 1:
        raise SattnError(f"--n must be >= 1, got {args.n}")
    if args.grid:
        cases = grid_cases(GRIDS[args.grid])
        print(f"# selector regret: {len(cases)} configurations ({args.grid} grid)")
    else:
        seeds = parse_seeds(args.seeds)
        used = sorted(set(seeds) & fit_seeds())
        if used:
            raise SattnError(f"--seeds {','.join(map(str, used))}: the fit data used "
                             f"{'this seed' if len(used) == 1 else 'these seeds'}; "
                             f"held-out contests need fresh ones")
        cases = [a for seed in seeds for form in FORMS for a in random_cases(seed, args.n, form)]
        print(f"# selector regret on held-out contests: {len(cases)} contests (seeds "
              f"{','.join(map(str, seeds))} x {args.n} per input form {'/'.join(FORMS)}; "
              f"fit seeds: {','.join(map(str, sorted(fit_seeds()))) or 'none'})")
    rows = []
    for backend in backends:
        # wall time is measured serially: parallel workers would disturb each other's clocks
        jobs = args.jobs or (1 if backend == "reference" else None)
        summary = sweep(cases, backend, jobs=jobs, executor=args.executor)
        report(summary)
        rows.append(summary)
        if args.json:
            os.makedirs(args.json, exist_ok=True)
            path = os.path.join(args.json, f"heldout-{backend}.json")
            atomic_write(path, json.dumps(to_json(summary), default=str))
            print(f"wrote {path}")
    print("\n| backend | cost (measured) | contests | best | best or within 10% | mean regret | worst regret | target |")
    print("|---|---|---|---|---|---|---|---|")
    for s in rows:
        met = s.within10_share >= TARGET_WITHIN and s.max_regret <= TARGET_WORST
        print(f"| {s.backend} | {s.cost} | {s.scored} | {s.best_share:.1%} | {s.within10_share:.1%} "
              f"| {s.mean_regret:.3f} | {s.max_regret:.2f} | {'met' if met else 'missed'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
