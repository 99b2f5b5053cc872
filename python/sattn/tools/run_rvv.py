"""``sattn_run_rvv_from_mlir.py``: lower an MLIR file with ``sattn-lower-rvv``, run the RVV
kernel of the selected spec under qemu-riscv64 and print what it computed and measured:

    spec=<spec> checksum=<float64 sum of the kernel's output tensor>
    rvv_config: ... / rvv_counters: total=.. vector=.. vector_mem=.. scalar=..
    rvv_cycles(model): cycles=.. vlen=.. dlen=.. mem_bytes_per_cycle=.. scalar_ipc=.. ...
    autotune: ...            (with --autotune)
    <the verdict line against the reference>   (unless --no-compare)

Selector flags map to SATTN_PREFER_BSR / SATTN_PREFER_SW / SATTN_HW_L1_BYTES (and, with
--use-hw-probe, SATTN_DISABLE_BSR / SATTN_DISABLE_SW from the RoCC model's capability bits);
attribute flags override the op's attributes before selection.
"""

from __future__ import annotations

import argparse
import math
import sys

import sattn.precision  # noqa: F401  (its imports make a launcher without deps re-exec)
from sattn.api import run_rvv_from_mlir
from sattn.backends.rvv.autotune import tuned_attrs, write_back
from sattn.cli.common import (
    add_strict_attributes,
    add_tensor_arguments,
    check_npy_out,
    finish,
    guarded,
    print_result,
)
from sattn.cli.parser import ArgumentParser
from sattn.errors import SattnError
from sattn.toolrun import check_keep_path, check_output_path

#: Attribute-override flags: flag name -> (attribute, type).
OVERRIDES: dict[str, tuple[str, type]] = {
    "--gqa_group_size": ("gqa_group_size", int),
    "--comp_block_size": ("comp_block_size", int),
    "--dilation": ("dilation", int),
    "--wrap": ("wrap", int),
    "--landmarks": ("num_landmarks", int),
    "--landmark_iters": ("landmark_iters", int),
    "--window_size": ("window_size", int),
    "--block_size": ("block_size", int),
    "--global_tokens": ("global_tokens", int),
    "--topk_k": ("topk_k", int),
    "--nm_n": ("nm_n", int),
    "--nm_m": ("nm_m", int),
    "--lsh_buckets": ("lsh_buckets", int),
    "--keep_ratio": ("keep_ratio", float),
    "--causal": ("causal", int),
    "--seq_len": ("seq_len", int),
    "--head_dim": ("head_dim", int),
    "--num_heads": ("num_heads", int),
    "--precision": ("precision", str),
}
SCALE_FLAGS = ("q", "k", "v")


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="sattn_run_rvv_from_mlir.py", description=__doc__.split("\n")[0])
    p.add_argument("--mlir", required=True, help="input .mlir file")
    p.add_argument("--op", type=int, default=None, help="which attention op when there are several")
    add_strict_attributes(p)
    for flag, (attr, typ) in OVERRIDES.items():
        kw: dict = {"type": typ, "default": None, "help": f"override attribute '{attr}'"}
        if flag == "--precision":
            kw["choices"] = ["fp32", "bf16", "i8", "i4"]
        p.add_argument(flag, dest=attr, **kw)
    for t in SCALE_FLAGS:
        p.add_argument(f"--scale_{t}_x1000", type=float, default=None,
                       help=f"scale_{t} in thousandths (i8/i4), e.g. 50 for 0.05 (what "
                            "sattn_calibrate_scales.py prints; decimals allowed)")
        p.add_argument(f"--scale_{t}", type=float, default=None, help=f"scale_{t} (i8/i4)")
    p.add_argument("--prefer-bsr", action="store_true", help="nudge the selector to block specs")
    p.add_argument("--prefer-sw", action="store_true", help="nudge the selector to sliding window")
    p.add_argument("--l1-bytes", type=int, default=None, help="L1 size for the cache-fit heuristic")
    p.add_argument("--use-hw-probe", action="store_true",
                   help="read the RoCC model's capability bits and disable missing patterns")
    p.add_argument("--autotune", action="store_true", help="sweep LMUL/block sizes, run the best")
    p.add_argument("--autotune-out", default=None,
                   help="with --autotune: write the op with the winning attributes to this .mlir")
    p.add_argument("--vlen", type=int, default=None, choices=[128, 256, 512],
                   help="vector length in bits (default: SATTN_VLEN, else 256; a lowered "
                        "file's vector_strips record)")
    p.add_argument("--lmul", type=int, default=None, choices=[1, 2, 4, 8],
                   help="LMUL of the kernels (default 8; a lowered file's vector_strips record)")
    p.add_argument("--dlen", type=int, default=None,
                   help="modelled vector datapath width in bits for rvv_cycles(model) (default 128)")
    p.add_argument("--mem-bytes-per-cycle", type=int, default=None,
                   help="modelled vector memory port, bytes per cycle (default 16)")
    p.add_argument("--scalar-ipc", type=float, default=None,
                   help="modelled scalar instructions per cycle (default 1)")
    add_tensor_arguments(p)
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic data")
    p.add_argument("--out", help="write the kernel's output tensor here (.npy or .safetensors)")
    p.add_argument("--keep", help="keep the kernel's input/output files in this directory")
    p.add_argument("--no-compare", action="store_true", help="skip the comparison with the reference")
    return p


def overrides_from(args: argparse.Namespace) -> dict:
    """Attribute overrides given on the command line (None = not given)."""
    out = {attr: getattr(args, attr) for attr, _ in OVERRIDES.values()}
    for t in SCALE_FLAGS:
        milli, plain = getattr(args, f"scale_{t}_x1000"), getattr(args, f"scale_{t}")
        if milli is not None and plain is not None:
            raise SattnError(f"give --scale_{t} or --scale_{t}_x1000, not both")
        if milli is not None:
            if not (math.isfinite(milli) and milli > 0):
                raise SattnError(f"--scale_{t}_x1000 must be > 0 (and finite), got {milli}")
            out[f"scale_{t}"] = milli / 1000.0
        elif plain is not None:
            out[f"scale_{t}"] = plain
    return {k: v for k, v in out.items() if v is not None}


@guarded
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    check_npy_out(args.out)
    if args.autotune_out and not args.autotune:
        raise SattnError("--autotune-out needs --autotune")
    if args.autotune_out:
        check_output_path(args.autotune_out, "--autotune-out")
    if args.keep:
        check_keep_path(args.keep, "--keep")

    options = {}
    if args.vlen is not None:
        options["vlen"] = args.vlen
    for opt in ("dlen", "mem_bytes_per_cycle", "scalar_ipc"):
        if getattr(args, opt) is not None:
            options[opt] = getattr(args, opt)
    if args.lmul is not None:
        options["lmul"] = args.lmul
    if args.keep:
        options["keep"] = args.keep
    overrides = overrides_from(args)
    result = run_rvv_from_mlir(
        args.mlir, prefer_bsr=args.prefer_bsr, prefer_sw=args.prefer_sw, l1_bytes=args.l1_bytes,
        use_hw_probe=args.use_hw_probe, autotune=args.autotune, q=args.q, k=args.k, v=args.v,
        seed=args.seed, op=args.op, overrides=overrides, compare=not args.no_compare,
        strict_attributes=args.strict_attributes, **options)
    print_result(result)
    if args.autotune_out:
        note = next((ln for ln in result.lines if ln.startswith("autotune:")), "")
        write_back(args.mlir, args.autotune_out, tuned_attrs(result.params), note, op=args.op)
        print(f"autotune: wrote {args.autotune_out}")
    return finish(result, args.out)


if __name__ == "__main__":
    sys.exit(main())
