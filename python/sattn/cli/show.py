"""``sattn show --mlir F --out mask.png``: draw the selected query-by-key pattern of an op
(after selection, on the op's synthetic data or the given tensors) with its block grid."""

from __future__ import annotations

import argparse

from sattn.api import pattern
from sattn.cli.common import add_input_arguments, add_strict_attributes
from sattn.toolrun import atomic_write, check_output_path
from sattn.viz import image_format, render_pattern


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mlir", required=True, help="input .mlir file ('-' reads stdin)")
    parser.add_argument("--out", required=True, help="picture to write (.png, .svg or .pdf)")
    parser.add_argument("--head", type=int, default=0, help="KV head to draw (default 0)")
    parser.add_argument("--grid", type=int, default=None,
                        help="block grid every N tokens (default: the pattern's block size; 0: none)")
    add_strict_attributes(parser)
    add_input_arguments(parser)  # data-dependent patterns select on Q/K
    parser.add_argument("--title", default="", help="title (default: spec, S and density)")


def execute(args: argparse.Namespace) -> int:
    fmt = image_format(args.out)  # check the name and its directory before any work
    check_output_path(args.out, "--out")
    sel = pattern(args.mlir, q=args.q, k=args.k, v=args.v, seed=args.seed, op=args.op,
                  strict_attributes=args.strict_attributes)
    data = render_pattern(sel, title=args.title, kv_head=args.head, grid=args.grid, fmt=fmt)
    atomic_write(args.out, data)
    print(f"show: spec={sel.spec} S={sel.seq_len} keys={sel.num_keys} "
          f"density={sel.density:.4f} -> {args.out}")
    return 0
