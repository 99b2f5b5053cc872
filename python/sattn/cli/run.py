"""``sattn run``: run an MLIR attention op on a backend, print spec, checksum, density and the
backend's counters, compare with the reference, and optionally save the output tensor."""

from __future__ import annotations

import argparse

from sattn.api import run
from sattn.cli.common import add_input_arguments, add_strict_attributes, check_npy_out, report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mlir", required=True, help="input .mlir file ('-' reads stdin)")
    parser.add_argument("--backend", default="reference", choices=["reference", "rvv", "rocc"])
    add_strict_attributes(parser)
    add_input_arguments(parser)
    parser.add_argument("--out", help="write the output tensor here (.npy or .safetensors)")
    parser.add_argument("--no-compare", action="store_true",
                        help="do not compare a non-reference backend with the reference")
    for name in ("g_cmp", "g_slc", "g_swa"):
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, metavar="FILE",
                            help=f"spec nsa: the gate {name} [B, Sq, H] or [Sq, H] as .npy or "
                                 f"FILE.safetensors[:name] (default: the --qkv file's tensor "
                                 f"{name} if it holds one, else 1.0)")
    parser.add_argument("--max-error-data", metavar="FILE",
                        help="measure the max_error budget's errors on the q, k, v of this "
                             ".safetensors file (e.g. a `sattn capture` layer) instead of "
                             "synthetic data")


def execute(args: argparse.Namespace) -> int:
    check_npy_out(args.out)
    result = run(args.mlir, args.backend, args.q, args.k, args.v, seed=args.seed, op=args.op,
                 compare=args.backend != "reference" and not args.no_compare,
                 strict_attributes=args.strict_attributes, max_error_data=args.max_error_data,
                 gates={n: getattr(args, n) for n in ("g_cmp", "g_slc", "g_swa")})
    return report(result, args.out, density=True)
