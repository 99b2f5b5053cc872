#!/usr/bin/env python3
"""RoCC key tiles at long context, measured on the RTL under Verilator (one run each).

Decode (Sq = 1) at Skv keys, H = 8, Hkv = 2, D = 64, fp32, for dense and sliding_window
(w = 512) side by side in one run: total cycles, dma_k (K and V bytes read), the selection's
density (selected pairs / (H x Skv)), the cycles ratio sparse/dense and that ratio over the
density (target: within 1.2x, decode is memory-bound), jobs and the host merge's modelled flops.
``--prefill S`` adds Sq = Skv = S for each of ``--prefill-patterns`` (sliding_window w = 512,
non-causal; bsr keep 0.05 over 64-token blocks, causal): cycles, refetch_factor (dma_k over
every selected K/V row once per KV head), dma_out (the partial records' traffic), Q bytes read
and the wall time of the Verilator run. Operands are ``sattn.reference.data.synthetic`` (seed
0), so bsr's data-dependent selection is the same in every run. The errors against the
reference are printed (max-normalised).

    nice -n 10 .venv/bin/python bench/rocc_stream.py [--skv 65536] [--window 512]
        [--prefill 16384] [--patterns dense sliding_window] [--prefill-patterns sliding_window bsr]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

from sattn.guard import guarded
from sattn.ir.schema import params_from_dict
from sattn.reference.compare import rel_error
from sattn.reference.data import synthetic
from sattn.reference.executor import attention
from sattn.specs import select_indices


def _run(attrs: dict, sq: int, skv: int, args) -> dict:
    from sattn.backends.rocc import driver

    p = params_from_dict({**attrs, "precision": "fp32", "seq_len": sq, "kv_len": skv,
                          "head_dim": args.head_dim, "num_heads": args.heads,
                          "gqa_group_size": args.heads // args.kv_heads})
    q, k, v = synthetic(p.shape())
    t0 = time.perf_counter()
    # bsr attends the host's table here (key tiles: its keep ratio keeps more blocks than the
    # on-chip top-n unit's 32); its on-chip selection is bench/rocc_cycles.py's
    given = {"selection": select_indices(p, p.shape(), q, k)} if p.spec == "bsr" else {}
    r = driver.run(p, q, k, v, **given)
    wall = time.perf_counter() - t0
    err = rel_error(r.output, attention(p, q, k, v))
    c = r.counters
    return {"cycles": c["total_cycles"], "dma_k": c["dma_k"], "dma_out": c["dma_out"],
            "refetch": c["refetch_factor"], "dma_q": c.get("dma_q"), "density": r.density, "jobs": c["jobs"],
            "merge_flops": c["host_merge_flops_model"], "merged": c["merged_rows"],
            "sim_s": r.timings["sim_s"], "wall_s": wall, "err": err}


@guarded  # SattnError: one line; Ctrl-C / SIGTERM stop Verilator with the bench
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--skv", type=int, default=65536)
    ap.add_argument("--window", type=int, default=512)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--head-dim", type=int, default=64)
    ap.add_argument("--patterns", nargs="*", default=["dense", "sliding_window"])
    ap.add_argument("--prefill", type=int, default=0, help="also Sq = Skv = this")
    ap.add_argument("--prefill-patterns", nargs="*", default=["sliding_window"],
                    choices=["sliding_window", "bsr"])
    args = ap.parse_args()
    pats = {"dense": {"spec": "dense"},
            "sliding_window": {"spec": "sliding_window", "window_size": args.window}}
    prefill_pats = {"sliding_window": pats["sliding_window"],
                    "bsr": {"spec": "bsr", "block_size": 64, "keep_ratio": 0.05, "causal": 1}}
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
        for name in args.prefill_patterns:
            print(f"prefill Sq=Skv={s} {name} {prefill_pats[name]} (running ...)", flush=True)
            g = _run(prefill_pats[name], s, s, args)
            print(f"prefill {name} cycles={g['cycles']} dma_k={g['dma_k']} "
                  f"refetch_factor={g['refetch']} dma_out={g['dma_out']} dma_q={g['dma_q']} "
                  f"density={g['density']:.5f} merged_rows={g['merged']} jobs={g['jobs']} "
                  f"merge_flops_model={g['merge_flops']} sim_s={g['sim_s']:.1f} "
                  f"wall_s={g['wall_s']:.1f} rel_err={g['err']:.2e}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
