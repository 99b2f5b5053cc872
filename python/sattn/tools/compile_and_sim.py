"""sattn_compile_and_sim: lower an MLIR attention op for the RoCC accelerator, run it on the RTL
under Verilator, and compare the output tensor with the reference.

Prints ``spec=<spec> checksum=<float>``, the simulator's lines (``verilator_tb: completed in <total_cycles> cycles ...``,
``rocc_counters(rtl): ...``, ``spec_info: ...``, ``rocc_hw: ...``, ``rocc_util: ...``) and a
verdict line ``compare: rocc vs reference ... -> PASS|FAIL``; the exit status is 1 on FAIL.

Selector hints: ``--prefer-bsr``/``--prefer-sw``/``--l1-bytes`` map to SATTN_PREFER_BSR,
SATTN_PREFER_SW and SATTN_HW_L1_BYTES; ``--use-hw-probe`` reads the accelerator's capability bits
first and sets SATTN_DISABLE_BSR / SATTN_DISABLE_SW for what it lacks. The work is
:func:`sattn.api.compile_and_sim`; this module is only its command line.
"""

from __future__ import annotations

import argparse

import xdsl  # noqa: F401  (imported early: a launcher under a bare python re-executes in the venv)

from sattn.api import compile_and_sim
from sattn.backends.rocc.driver import check_options
from sattn.cli.common import (
    add_input_arguments,
    add_strict_attributes,
    check_npy_out,
    guarded,
    report,
)
from sattn.cli.parser import ArgumentParser
from sattn.toolrun import check_keep_path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mlir", required=True, help="input .mlir file")
    parser.add_argument("--prefer-bsr", action="store_true", help="nudge the selector to block specs")
    parser.add_argument("--prefer-sw", action="store_true", help="nudge the selector to sliding window")
    parser.add_argument("--l1-bytes", type=int, default=None, help="L1 size for the cache-fit heuristic")
    parser.add_argument("--use-hw-probe", action="store_true",
                        help="read the accelerator's capability bits and disable what it lacks")
    add_strict_attributes(parser)
    add_input_arguments(parser)
    parser.add_argument("--out", help="write the RTL's output tensor here (.npy or .safetensors)")
    parser.add_argument("--lat", type=int, default=None, help="memory latency in cycles (default 20)")
    parser.add_argument("--bw", type=float, default=None, help="memory bandwidth in bytes/cycle (default 16)")
    parser.add_argument("--keep-dir", help="keep indices.txt/.desc and the memory images here")


def execute(args: argparse.Namespace) -> int:
    check_npy_out(args.out)
    check_options(args.lat, args.bw)  # the API's own check, before any work
    if args.keep_dir:
        check_keep_path(args.keep_dir, "--keep-dir")

    result = compile_and_sim(
        args.mlir, prefer_bsr=args.prefer_bsr, prefer_sw=args.prefer_sw, l1_bytes=args.l1_bytes,
        use_hw_probe=args.use_hw_probe, q=args.q, k=args.k, v=args.v, seed=args.seed, op=args.op,
        latency=args.lat, bandwidth=args.bw, keep_dir=args.keep_dir,
        strict_attributes=args.strict_attributes,
    )
    return report(result, args.out)


@guarded
def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="sattn_compile_and_sim.py", description=__doc__.split("\n")[0])
    add_arguments(parser)
    return execute(parser.parse_args(argv))
