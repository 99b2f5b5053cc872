#!/usr/bin/env python3
"""RoCC batches and Dv != D, measured on the RTL under Verilator (one run each, side by side).

Batch: B elements as ONE program against the B elements' own single-element programs, run one
after another: total cycles of both ways and their ratio (jobs run one after another either way,
so one program saves only the other programs' setup commands: a ratio just below 1), and dma_k
and pairs (equal by definition). Dv: a decode step (Sq = 1) at Skv keys, H = 8, Hkv = 2,
D = 64, sliding_window (w = 512), fp32, at Dv = D/2, D, 2D: total cycles, dma_k against the
formula (selected K rows x D + V rows x Dv, 4 bytes each, once per KV head) and the cycles
relative to Dv = D. Errors against the reference are printed (max-normalised).

    nice -n 10 .venv/bin/python bench/rocc_batch_dv.py [--batch 2] [--skv 4096] [--seq 256]
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

import numpy as np
from sattn.guard import guarded
from sattn.ir.schema import params_from_dict
from sattn.reference.compare import rel_error
from sattn.reference.data import check_qkv
from sattn.reference.executor import attention
from sattn.specs import select_indices


def _operands(shape_q, shape_k, shape_v, seed=0):
    rng = np.random.default_rng(seed)
    return tuple(rng.standard_normal(s).astype(np.float32) for s in (shape_q, shape_k, shape_v))


def batch_rows(args) -> None:
    from sattn.backends.rocc import driver

    h, g, d, s, b = 8, 2, 64, args.seq, args.batch
    print(f"batch: B={b} H={h} Hkv={g} Sq=Skv={s} D={d} fp32, one program vs {b} programs")
    print("| pattern | cycles (one program) | cycles (B programs) | ratio | dma_k (one) | "
          "dma_k (B) | pairs | rel_err |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for attrs in ({"spec": "sliding_window", "window_size": 32},
                  {"spec": "topk_per_query", "topk_k": 32}):
        p = params_from_dict({**attrs, "gqa_group_size": h // g})
        q, k, v = _operands((b, h, s, d), (b, g, s, d), (b, g, s, d))
        one = driver.run(p, q, k, v)
        parts = [driver.run(p, q[e], k[e], v[e]) for e in range(b)]
        c1 = one.counters["total_cycles"]
        cb = sum(r.counters["total_cycles"] for r in parts)
        err = max(rel_error(one.output[e], attention(p, q[e], k[e], v[e])) for e in range(b))
        print(f"| {attrs['spec']} | {c1} | {cb} | {c1 / cb:.4f} | {one.counters['dma_k']} | "
              f"{sum(r.counters['dma_k'] for r in parts)} | {one.counters['pairs']} | "
              f"{err:.1e} |", flush=True)


def dv_rows(args) -> None:
    from sattn.backends.rocc import driver

    h, g, d, skv = 8, 2, 64, args.skv
    print(f"\nDv: decode Sq=1 Skv={skv} H={h} Hkv={g} D={d} fp32 sliding_window w=512")
    print("| Dv | cycles | / cycles(Dv=D) | dma_k | formula | rel_err |")
    print("|---:|---:|---:|---:|---:|---:|")
    p = params_from_dict({"spec": "sliding_window", "window_size": 512, "gqa_group_size": h // g})
    base = None
    rows = []
    for dv in (d // 2, d, 2 * d):
        q, k, v = _operands((h, 1, d), (g, skv, d), (g, skv, dv))
        r = driver.run(p, q, k, v)
        sel = select_indices(p, check_qkv(q, k, v, h // g), q, k)
        distinct = sum(len(np.unique(x.indices)) for x in sel.groups)
        formula = distinct * (d + dv) * 4
        err = rel_error(r.output, attention(p, q, k, v))
        rows.append((dv, r.counters["total_cycles"], r.counters["dma_k"], formula, err))
        if dv == d:
            base = r.counters["total_cycles"]
    for dv, cyc, dma, formula, err in rows:
        print(f"| {dv} | {cyc} | {cyc / base:.4f} | {dma} | {formula} | {err:.1e} |")


@guarded  # SattnError: one line; Ctrl-C / SIGTERM stop the tools it runs, scratch removed
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--skv", type=int, default=4096)
    args = ap.parse_args()
    batch_rows(args)
    dv_rows(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
