"""sattn_calibrate_scales: derive symmetric per-tensor i8/i4 scales for an MLIR attention op
from its data (the synthetic sine/cosine tensors, or --q/--k/--v .npy files)."""

from __future__ import annotations

import argparse

import xdsl  # noqa: F401  (imported early: a launcher under a bare python re-executes in the venv)

from sattn import precision as _precision  # noqa: F401  (ml_dtypes)
from sattn.api import calibrate_scales
from sattn.cli.common import add_input_arguments, add_strict_attributes, guarded
from sattn.cli.parser import ArgumentParser
from sattn.reference.calibrate import calibrate_line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mlir", required=True, help="input .mlir file")
    parser.add_argument("--precision", required=True, choices=["i8", "i4"])
    add_strict_attributes(parser)
    add_input_arguments(parser)
    parser.add_argument("--percentile", type=float, default=None,
                        help="use this percentile of |x| instead of the maximum (e.g. 99.9)")


def execute(args: argparse.Namespace) -> int:
    scales = calibrate_scales(args.mlir, args.precision, args.percentile, op=args.op, q=args.q,
                              k=args.k, v=args.v, seed=args.seed,
                              strict_attributes=args.strict_attributes)
    method = "max-abs" if args.percentile is None else f"percentile-{args.percentile:g}"
    print(calibrate_line(args.precision, scales, method))
    return 0


@guarded
def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="sattn_calibrate_scales.py", description=__doc__)
    add_arguments(parser)
    return execute(parser.parse_args(argv))
