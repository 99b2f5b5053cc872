"""``sattn run``: run an MLIR attention op on a backend, print spec, checksum, density and the
backend's counters, compare with the reference, and optionally save the output tensor."""

from __future__ import annotations

import argparse
import io

import numpy as np

from sattn.errors import SattnError
from sattn.toolrun import atomic_write


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mlir", required=True, help="input .mlir file ('-' reads stdin)")
    parser.add_argument("--backend", default="reference", choices=["reference", "rvv", "rocc"])
    parser.add_argument("--q", help="Q as .npy, float32 [H, S, D]")
    parser.add_argument("--k", help="K as .npy, float32 [H_kv, S, D]")
    parser.add_argument("--v", help="V as .npy, float32 [H_kv, S, D]")
    parser.add_argument("--out", help="write the output tensor here (.npy)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic data (default 0)")
    parser.add_argument("--op", type=int, default=None, help="which attention op when there are several")
    parser.add_argument("--no-compare", action="store_true",
                        help="do not compare a non-reference backend with the reference")


def execute(args: argparse.Namespace) -> int:
    from sattn.api import PIPELINE_OF, load_op
    from sattn.backends import get_backend
    from sattn.reference.data import resolve_inputs

    if args.out and not str(args.out).endswith(".npy"):
        raise SattnError(f"--out {args.out}: the output file must end in .npy")
    params = load_op(args.mlir, pipeline=PIPELINE_OF[args.backend], op=args.op)
    _, q, k, v = resolve_inputs(params, args.q, args.k, args.v, args.seed)
    result = get_backend(args.backend).run(params, q, k, v)
    print(f"spec={result.spec} checksum={result.checksum:.6f}")
    pairs = result.counters.get("selected_pairs")
    print(f"density={result.density:.6f}" + (f" selected_pairs={pairs}" if pairs is not None else ""))
    for line in result.lines:
        print(line)
    rc = 0
    if args.backend != "reference" and not args.no_compare:
        from sattn.reference.compare import verdict
        from sattn.reference.executor import attention

        v_ = verdict(args.backend, result.output, attention(params, q, k, v), params.precision)
        print(v_.line())
        rc = 0 if v_.passed else 1
    if args.out:
        buf = io.BytesIO()
        np.save(buf, np.asarray(result.output, dtype=np.float32))
        atomic_write(args.out, buf.getvalue())
    return rc
