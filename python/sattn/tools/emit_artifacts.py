"""sattn_emit_artifacts: write the index table ``S.txt`` and descriptor ``S.desc`` of an MLIR
attention op (format: docs/artifacts.md), the one source both the RVV and RoCC flows read.

The writer itself lives with the RoCC backend (:func:`sattn.backends.rocc.artifacts.emit_for_op`,
through :func:`sattn.api.emit`); it selects on the synthetic data (or --q/--k/--v) first.
"""

from __future__ import annotations

import argparse

import xdsl  # noqa: F401  (imported early: a launcher under a bare python re-executes in the venv)

from sattn import precision as _precision  # noqa: F401  (ml_dtypes)
from sattn.api import emit
from sattn.cli.common import add_input_arguments, add_strict_attributes, guarded
from sattn.cli.parser import ArgumentParser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mlir", required=True, help="input .mlir file")
    parser.add_argument("--out-stem", required=True, help="write <stem>.txt and <stem>.desc")
    parser.add_argument("--pipeline", default="sattn-lower-rocc",
                        help="pipeline that selects the spec (default sattn-lower-rocc)")
    add_strict_attributes(parser)
    add_input_arguments(parser)  # data-dependent patterns select on Q/K


def execute(args: argparse.Namespace) -> int:
    sel, txt, desc = emit(args.mlir, args.out_stem, pipeline=args.pipeline, op=args.op,
                          q=args.q, k=args.k, v=args.v, seed=args.seed,
                          strict_attributes=args.strict_attributes)
    print(f"emit: spec={sel.spec} index_nnz={sel.nnz} wrote {txt} and {desc}")
    return 0


@guarded
def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="sattn_emit_artifacts.py", description=__doc__.split("\n")[0])
    add_arguments(parser)
    return execute(parser.parse_args(argv))
