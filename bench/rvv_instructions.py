#!/usr/bin/env python3
"""Dynamic instruction counts of the RVV kernels under qemu, every pattern side by side.

For S in (1024, 4096), D = 64, one query head, fp32, VLEN 256: each pattern at its natural
parameters runs once with the counting plugin; the table prints the measured count, the
density (selected / dense pairs), the ratio sparse / dense-kernel count, that ratio divided
by the density (target for the static patterns: <= 1.3), and instructions per attended pair
against the ideal (design: (2*D + 14) / VL vector instructions per pair, VL = VLEN/32 * 4
lanes at LMUL 4; target for the dense kernel: within 2x). Beside the measured counts, the
modelled cycles of the region (sattn.backends.rvv.cycle_model: the measured vector profile
costed on an in-order machine with a DLEN-bit datapath; a model, not a measurement) and
modelled cycles per attended pair.

The data-dependent patterns have a target against the dense count of the same run (issue 12):
the kernels of topk_per_query, nm_structured and bsr with compression scoring also run with
``stop_after = 1`` -- their scoring pass only, over the keys (or compressed keys) the method
must score -- and with ``stop_after = 2`` (scoring and selection, no attention); ``floor`` is
the scoring pass's count / the dense count, ``+select`` the same for scoring and selection.
Targets: topk_per_query and nm_structured <= 1.3 x (floor + density) with floor <= 0.6;
bsr+comp <= 1.3 x (density + floor); lsh <= 2 x density; landmark <= (1 + landmark_iters) x
density; the static patterns <= 1.3 x density. ``bound`` prints the target, ``met`` whether the
row's sparse/dense ratio is within it.

    python bench/rvv_instructions.py [--seq 1024 4096] [--vlen 256] [--lmul 8] [--dlen 128]
        [--mem-bytes-per-cycle 16] [--patterns ...]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

from sattn.backends.rvv import cycle_model, runner
from sattn.guard import guarded
from sattn.ir.schema import params_from_dict
from sattn.reference.data import synthetic

#: pattern -> (spec, attributes): the natural parameters of each pattern.
PATTERNS: dict[str, tuple[str, dict]] = {
    "dense": ("dense", {}),
    "sliding_window": ("sliding_window", {"window_size": 64}),
    "bsr": ("bsr", {"block_size": 64, "keep_ratio": 0.125}),
    "block_local_global": ("block_local_global", {"block_size": 64, "global_tokens": 16}),
    "topk_per_query": ("topk_per_query", {"topk_k": 64}),
    "nm_structured": ("nm_structured", {"nm_n": 2, "nm_m": 4}),
    "lsh": ("lsh", {"lsh_buckets": 8}),
    "landmark": ("landmark", {"num_landmarks": 64, "landmark_iters": 2}),
    "bsr+comp": ("bsr", {"block_size": 64, "comp_block_size": 16, "keep_ratio": 0.125}),
}
STATIC = ("sliding_window", "bsr", "block_local_global")
#: Patterns whose kernels have a separate scoring pass (runner.STOP_AFTER_MODES[1]).
PHASED = ("topk_per_query", "nm_structured", "bsr+comp")


def target(name: str, attrs: dict, density: float, floor: float | None) -> float | None:
    """The row's target for sparse/dense (see the module doc); None: no target (dense)."""
    if name in STATIC:
        return 1.3 * density
    if name in PHASED:
        return 1.3 * (density + floor)
    if name == "lsh":
        return 2.0 * density
    if name == "landmark":
        return (1 + attrs["landmark_iters"]) * density
    return None


@guarded  # SattnError: one line; Ctrl-C / SIGTERM stop the tools it runs, scratch removed
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seq", type=int, nargs="+", default=[1024, 4096])
    ap.add_argument("--head-dim", type=int, default=64)
    ap.add_argument("--vlen", type=int, default=256)
    ap.add_argument("--lmul", type=int, default=runner.DEFAULT_LMUL)
    ap.add_argument("--patterns", nargs="+", default=list(PATTERNS), choices=list(PATTERNS))
    ap.add_argument("--dlen", type=int, default=cycle_model.DEFAULT_DLEN)
    ap.add_argument("--mem-bytes-per-cycle", type=int, default=cycle_model.DEFAULT_MEM_BYTES)
    args = ap.parse_args()
    machine = cycle_model.machine_for(args.vlen, args.dlen, args.mem_bytes_per_cycle)
    d = args.head_dim
    ideal = runner.ideal_per_pair(d, args.vlen, 4)
    print(f"# RVV kernels, fp32, D={d}, VLEN={args.vlen}, LMUL={args.lmul}; measured with the "
          f"qemu plugin (kernel region only)")
    print(f"# ideal vector instructions per pair (design, LMUL 4): {ideal:.2f}")
    print(f"# model_cycles: modelled, not measured: {machine.describe()} (in-order, single issue, "
          "no overlap, no memory latency; VL of register-AVL vsetvli taken as VLMAX)")
    print("# floor / +select: the kernel's scoring pass / scoring and selection alone, over the "
          "dense count (stop_after = 1 / 2, measured in the same run); bound: the row's target "
          "for sparse/dense")
    hdr = (f"{'S':>5} {'pattern':<19} {'instructions':>13} {'vector':>12} {'density':>8} "
           f"{'sparse/dense':>12} {'ratio/dens':>10} {'floor':>6} {'+select':>7} {'bound':>6} "
           f"{'met':>3} {'instr/pair':>10} {'vs ideal':>8} "
           f"{'model_cycles':>13} {'model_cyc/pair':>14} {'time':>6}")
    print(hdr)
    ok = True
    for s in args.seq:
        dense_count = None
        names = ["dense"] + [p for p in args.patterns if p != "dense"]
        for name in names:
            spec, attrs = PATTERNS[name]
            p = params_from_dict({"seq_len": s, "head_dim": d, "num_heads": 1, **attrs}).replace(spec=spec)
            q, k, v = synthetic(p.shape())
            t0 = time.time()
            r = runner.run(p, q, k, v, vlen=args.vlen, lmul=args.lmul, dlen=machine.dlen,
                           mem_bytes_per_cycle=machine.mem_bytes_per_cycle)
            mc = r.counters["model_cycles"]
            n = r.counters["instructions"]
            pairs = r.counters["selected_pairs"]
            if name == "dense":
                dense_count = n
            ratio = n / dense_count
            per_pair = n / pairs if pairs else float("nan")
            rd = ratio / r.density
            floor = sel = None
            if name in PHASED:
                floor = runner.run(p, q, k, v, vlen=args.vlen, lmul=args.lmul,
                                   stop_after=1).counters["instructions"] / dense_count
                sel = runner.run(p, q, k, v, vlen=args.vlen, lmul=args.lmul,
                                 stop_after=2).counters["instructions"] / dense_count
            dt = time.time() - t0
            bound = target(name, attrs, r.density, floor)
            met = "-" if bound is None else "yes" if ratio <= bound else "NO"
            flag = ""
            if bound is not None and ratio > bound:
                flag, ok = f" (> bound {bound:.4f})", False
            if name in ("topk_per_query", "nm_structured") and floor > 0.6:
                flag, ok = flag + " (floor > 0.6)", False
            if name == "dense" and per_pair > 2 * ideal:
                flag, ok = " (>2x ideal)", False
            fl = f"{floor:>6.4f}" if floor is not None else f"{'-':>6}"
            se = f"{sel:>7.4f}" if sel is not None else f"{'-':>7}"
            bd = f"{bound:>6.4f}" if bound is not None else f"{'-':>6}"
            if name in args.patterns:
                print(f"{s:>5} {name:<19} {n:>13,} {r.counters['vector']:>12,} {r.density:>8.4f} "
                      f"{ratio:>12.4f} {rd:>10.2f} {fl} {se} {bd} {met:>3} {per_pair:>10.2f} "
                      f"{per_pair / ideal:>7.2f}x {mc:>13,} "
                      f"{mc / pairs if pairs else float('nan'):>14.2f} {dt:>5.1f}s{flag}",
                      flush=True)
    print("# targets: every row's sparse/dense within its bound (static patterns 1.3 x density; "
          "topk_per_query, nm_structured 1.3 x (floor + density), floor <= 0.6; bsr+comp 1.3 x "
          "(density + floor); lsh 2 x density; landmark (1 + iters) x density); dense instr/pair "
          "<= 2x ideal: " + ("met" if ok else "NOT met (flagged rows)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
