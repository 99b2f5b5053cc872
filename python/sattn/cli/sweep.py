"""``sattn sweep``: how good is the selector? Run a grid of shapes and attributes through every
spec it could choose, measure each on a backend (in parallel), report the share of cases where
its choice is the measured best, the mean regret, and each candidate's error against dense
attention. The measurement and the cost definitions are in :mod:`sattn.sweep`."""

from __future__ import annotations

import argparse
import json
import sys

from sattn.api import hint_env
from sattn.cli.common import add_strict_attributes
from sattn.errors import SattnError
from sattn.sweep import GRIDS, accuracy_table, case_table, check_cost, grid_cases, sweep, to_json
from sattn.toolrun import atomic_write, check_output_path


def _int_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def _float_list(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def _str_list(text: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in text.split(",") if x.strip())


#: axis flag -> (attribute, parser)
AXIS_FLAGS = {
    "--seq-lens": ("seq_len", _int_list),
    "--head-dims": ("head_dim", _int_list),
    "--windows": ("window_size", _int_list),
    "--keep-ratios": ("keep_ratio", _float_list),
    "--block-sizes": ("block_size", _int_list),
    "--gqa": ("gqa_group_size", _int_list),
    "--precisions": ("precision", _str_list),
    "--comp-block-sizes": ("comp_block_size", _int_list),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", default="reference", choices=["reference", "rvv", "rocc"])
    parser.add_argument("--grid", default="small", choices=sorted(GRIDS),
                        help="named grid of cases (default small); the axis flags override its axes")
    for flag, (attr, kind) in AXIS_FLAGS.items():
        parser.add_argument(flag, type=kind, default=None, metavar="A,B,..",
                            help=f"values of '{attr}'")
    parser.add_argument("--max-error", type=float, default=None,
                        help="accuracy budget: the selector picks the cheapest spec within it")
    parser.add_argument("--cost", default=None,
                        help="counter to compare (default: rvv model_cycles, rocc cycles, "
                             "reference wall_s; model_* are models, named so)")
    parser.add_argument("--threshold", type=float, default=1e-2,
                        help="off_share counts elements off dense by more than this x max|dense|")
    parser.add_argument("--jobs", "-j", type=int, default=None, help="parallel processes (default: CPUs)")
    parser.add_argument("--executor", default="local", choices=["local", "ray"],
                        help="local processes (default) or a Ray cluster (optional extra)")
    parser.add_argument("--ray-address", default=None, help="Ray cluster address (default: start a local one)")
    prefer = parser.add_mutually_exclusive_group()
    prefer.add_argument("--prefer-bsr", action="store_true", help="select with SATTN_PREFER_BSR")
    prefer.add_argument("--prefer-sw", action="store_true", help="select with SATTN_PREFER_SW")
    parser.add_argument("--l1-bytes", type=int, default=None, help="select with SATTN_HW_L1_BYTES")
    parser.add_argument("--target", default=None, choices=["rvv", "rocc", "reference"],
                        help="select for this target's cost model (SATTN_TARGET; default: the "
                             "backend being measured)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic data")
    parser.add_argument("--cases", action="store_true", help="print one line per case")
    parser.add_argument("--json", dest="json_out", default=None, help="write every case as JSON here")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    add_strict_attributes(parser, help="accepted like on every tool; the sweep reads no MLIR: "
                                       "its cases are built from the axes above and are "
                                       "always checked strictly")


def execute(args: argparse.Namespace) -> int:
    if args.jobs is not None and args.jobs < 1:
        raise SattnError(f"--jobs must be >= 1, got {args.jobs}")
    if not args.threshold > 0:
        raise SattnError(f"--threshold must be > 0, got {args.threshold}")
    if args.json_out and not str(args.json_out).endswith(".json"):
        raise SattnError(f"--json {args.json_out}: the file must end in .json")
    if args.json_out:
        check_output_path(args.json_out, "--json")  # a bad --json path fails before the sweep
    axes = dict(GRIDS[args.grid])
    for flag, (attr, _) in AXIS_FLAGS.items():
        values = getattr(args, flag[2:].replace("-", "_"))
        if values is not None:
            if not values:
                raise SattnError(f"{flag} needs at least one value")
            axes[attr] = values
    if args.cost is not None:
        check_cost(args.backend, args.cost)  # before any case runs
    fixed = {"max_error": args.max_error} if args.max_error is not None else {}
    env = hint_env(prefer_bsr=args.prefer_bsr, prefer_sw=args.prefer_sw, l1_bytes=args.l1_bytes)
    env["SATTN_TARGET"] = args.target or args.backend  # select for what is measured
    summary = sweep(grid_cases(axes, fixed), args.backend, cost=args.cost, jobs=args.jobs,
                    executor=args.executor, ray_address=args.ray_address,
                    threshold=args.threshold, seed=args.seed, env=env,
                    progress=not args.no_progress)
    if args.cases:
        print(case_table(summary))
    for line in summary.lines():
        print(line)
    print(accuracy_table(summary))
    if args.json_out:
        atomic_write(args.json_out, json.dumps(to_json(summary), indent=1, default=str))
    failures: dict[str, int] = {}
    for r in summary.per_case:
        if r.error:
            failures[r.error] = failures.get(r.error, 0) + 1
    for error, n in failures.items():  # on stderr, each distinct error once
        print(f"sweep: {n} case{'s' if n > 1 else ''} failed: {error}", file=sys.stderr)
    return 1 if summary.failed else 0
