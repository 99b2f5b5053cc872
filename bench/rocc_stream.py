#!/usr/bin/env python3
"""RoCC key tiles at long context, measured on the RTL under Verilator (one run each).

Decode (Sq = 1) at Skv keys, H = 8, Hkv = 2, D = 64, fp32, for dense and sliding_window
(w = 512) side by side in one run: total cycles, dma_k (K and V bytes read), the selection's
density (selected pairs / (H x Skv)), the cycles ratio sparse/dense and that ratio over the
density (target: within 1.2x, decode is memory-bound), jobs and the host merge's modelled flops.
``--prefill S`` adds Sq = Skv = S for sliding_window: cycles, refetch_factor (dma_k over every
selected K/V row once per KV head), dma_out (the partial records' traffic) and the wall time
of the Verilator run. The errors against the reference are printed (max-normalised).

    nice -n 10 .venv/bin/python bench/rocc_stream.py [--skv 65536] [--window 512]
        [--prefill 16384] [--patterns dense sliding_window]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

import numpy as np
from sattn.ir.schema import params_from_dict
from sattn.reference.compare import rel_error
from sattn.reference.executor import attention


def _operands(sq: int, skv: int, heads: int, kv_heads: int, d: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((heads, sq, d)).astype(np.float32)
    k = rng.standard_normal((kv_heads, skv, d)).astype(np.float32)
    v = rng.standard_normal((kv_heads, skv, d)).astype(np.float32)
    return q, k, v


def _run(attrs: dict, sq: int, skv: int, args) -> dict:
    from sattn.backends.rocc import driver

    p = params_from_dict({**attrs, "precision": "fp32", "gqa_group_size": args.heads // args.kv_heads})
    q, k, v = _operands(sq, skv, args.heads, args.kv_heads, args.head_dim)
    t0 = time.perf_counter()
    r = driver.run(p, q, k, v)
    wall = time.perf_counter() - t0
    err = rel_error(r.output, attention(p, q, k, v))
    c = r.counters
    return {"cycles": c["total_cycles"], "dma_k": c["dma_k"], "dma_out": c["dma_out"],
            "refetch": c["refetch_factor"], "density": r.density, "jobs": c["jobs"],
            "merge_flops": c["host_merge_flops_model"], "merged": c["merged_rows"],
            "sim_s": r.timings["sim_s"], "wall_s": wall, "err": err}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--skv", type=int, default=65536)
    ap.add_argument("--window", type=int, default=512)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--head-dim", type=int, default=64)
    ap.add_argument("--patterns", nargs="*", default=["dense", "sliding_window"])
    ap.add_argument("--prefill", type=int, default=0, help="also Sq = Skv = this, sliding_window")
    args = ap.parse_args()
    pats = {"dense": {"spec": "dense"},
            "sliding_window": {"spec": "sliding_window", "window_size": args.window}}
    got = {}
    for name in args.patterns:
        print(f"decode Sq=1 Skv={args.skv} H={args.heads} Hkv={args.kv_heads} D={args.head_dim} "
              f"fp32: running {name} ...", flush=True)
        got[name] = _run(pats[name], 1, args.skv, args)
    if got:
        print(f"{'pattern':<16}{'cycles':>10}{'dma_k':>12}{'density':>10}{'cyc/dense':>11}"
              f"{'/density':>10}{'jobs':>6}{'merge_flops_model':>19}{'sim_s':>8}{'rel_err':>10}")
    dense = got.get("dense")
    for name, g in got.items():
        ratio = g["cycles"] / dense["cycles"] if dense else float("nan")
        print(f"{name:<16}{g['cycles']:>10}{g['dma_k']:>12}{g['density']:>10.5f}{ratio:>11.5f}"
              f"{ratio / g['density']:>10.3f}{g['jobs']:>6}{g['merge_flops']:>19}"
              f"{g['sim_s']:>8.1f}{g['err']:>10.2e}")
    if args.prefill:
        s = args.prefill
        print(f"prefill Sq=Skv={s} sliding_window w={args.window} (running ...)", flush=True)
        g = _run(pats["sliding_window"], s, s, args)
        print(f"prefill cycles={g['cycles']} dma_k={g['dma_k']} refetch_factor={g['refetch']} "
              f"dma_out={g['dma_out']} merged_rows={g['merged']} jobs={g['jobs']} "
              f"sim_s={g['sim_s']:.1f} wall_s={g['wall_s']:.1f} rel_err={g['err']:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
