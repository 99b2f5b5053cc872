#!/usr/bin/env python3
"""NSA against dense attention, side by side in one run: RVV instructions and the reference's time.

H = 8 query heads over Hkv = 2 KV heads (GQA groups of 4), D = 64, fp32, NSA with b = 64,
n = 16, w = 512 (l = d = b; ``--overlap`` for the paper's l = 32, d = 16), synthetic data.

- **decode** (one query row against Skv cached keys, default 8,192 / 16,384 / 65,536): RVV
  instructions of the ``nsa`` kernel (kernels/nsa.c: the whole algorithm in the counted region)
  and of the dense kernel on the same tensors, their ratio, and the token-load ratio
  ``(Skv/b + n*b + w) / Skv`` (:func:`sattn.specs.nsa.token_load`); the issue's target is the
  ratio within 1.3x of it. Two NSA figures: ``own`` compresses K and V inside the kernel (every
  call reads the whole cache once), ``cache`` reads the KV cache's compressed keys
  (:func:`sattn.backends.rvv.nsa.compressed_kv`: kept by the cache, not counted) — the target
  is about the second.
- **prefill** (Sq = Skv, default 4,096): the same two kernels, the density (the (row, key) pairs
  NSA's three branches read over the causal dense pairs, from the reference's kept blocks), the
  scoring floor (the kernel with ``stop_after = 2``: compression, compressed scores and softmax, block
  scores and top-n, no attention, over the dense count) and the target 1.3 x (density + floor).
- **reference**: the best wall time of :func:`sattn.reference.nsa.attention` over ``--repeat``
  runs against torch's dense ``scaled_dot_product_attention`` on the same tensors (causal,
  ``enable_gqa``), each SDPA call next to a reference call so machine load hits both alike.
- **RoCC** (decode, default 8,192 / 16,384 / 65,536): the accelerator RTL under Verilator
  (memory latency 20 cycles, 16 B/cycle), NSA with its selection on chip
  (:mod:`sattn.backends.rocc.nsa`: SCORE, SELECT and window jobs; the KV cache's compressed keys
  in memory) against dense attention on the same tensors (key tiles, host merge): total cycles
  and ``dma_k`` (K and V bytes read), their ratios against the token-load ratio, the cycles the
  scoring path and top-n unit were busy (``select_cycles``, measured), and the target: cycles
  ratio within 1.2x the token-load ratio. The gated sum is the host's (not in the cycles).

- **RoCC prefill** (``--rocc-prefill 4096``, not run by default: about an hour of Verilator):
  causal NSA against causal dense on the RTL, cycles and ``dma_k``, against the pairs ratio.

    python bench/nsa.py [--decode 8192 16384 65536] [--prefill 4096] [--rocc-decode 8192 ...]
        [--rocc-prefill 4096] [--repeat 3] [--overlap] [--no-rvv] [--no-reference] [--strict]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

import numpy as np
from sattn.backends.rocc import backend as rocc
from sattn.backends.rvv import nsa as rvv_nsa
from sattn.backends.rvv import runner
from sattn.guard import guarded
from sattn.ir.schema import params_from_dict
from sattn.reference import nsa as ref_nsa
from sattn.specs import nsa as spec
from sattn.specs.nsa import NsaConfig
from sdpa_timing import sdpa_seconds

HEADS, KV_HEADS, HEAD_DIM = 8, 2, 64
#: The issue's targets: decode ratio within DECODE_TARGET x the token-load ratio; prefill ratio
#: at most PREFILL_TARGET x (density + scoring floor).
DECODE_TARGET, PREFILL_TARGET = 1.3, 1.3
#: The accelerator's decode target: cycles(nsa)/cycles(dense) within ROCC_TARGET x the token load.
ROCC_TARGET = 1.2


def tensors(sq: int, skv: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((1, HEADS, sq, HEAD_DIM), dtype=np.float32)
    k = rng.standard_normal((1, KV_HEADS, skv, HEAD_DIM), dtype=np.float32)
    v = rng.standard_normal((1, KV_HEADS, skv, HEAD_DIM), dtype=np.float32)
    return q, k, v


#: The RoCC scoring path maps compressed key c to block c: no overlapping compression there.
ROCC_NO_OVERLAP = "# RoCC: the overlapping compression is not supported by the scoring path (l = d = b)"


def dense_params(causal: bool):
    """Dense attention over the same heads, the side-by-side baseline of every table."""
    return params_from_dict({"spec": "dense", "causal": int(causal), "gqa_group_size": HEADS // KV_HEADS})


def dense_instructions(q, k, v) -> int:
    return runner.run(dense_params(True), q[0], k[0], v[0]).counters["instructions"]


def time_reference(q, k, v, cfg, repeat: int):
    """(best reference time, best SDPA time, the reference's result)."""
    best, sdpa, res = math.inf, None, None
    sdpa_seconds(q[:, :, -1:], k, v, causal=False)  # warm-up
    for _ in range(repeat):
        t = time.perf_counter()
        res = ref_nsa.attention(q, k, v, cfg)
        best = min(best, time.perf_counter() - t)
        ts = sdpa_seconds(q, k, v, causal=q.shape[2] > 1)
        if ts is not None:
            sdpa = ts if sdpa is None else min(sdpa, ts)
    return best, sdpa, res


def fmt(x, spec_: str = ".4f") -> str:
    return "-" if x is None else format(x, spec_)


def timing_cells(t_ref, t_sdpa) -> str:
    """The reference and SDPA times and their ratio, '-' where not timed."""
    ratio = t_ref / t_sdpa if t_ref and t_sdpa else None
    return f"{fmt(t_ref):>8} {fmt(t_sdpa):>8} {fmt(ratio, '.2f'):>8}"


def print_head(head: str) -> None:
    print(head)
    print("-" * len(head))


def nsa_params(cfg: NsaConfig):
    return params_from_dict({"spec": "nsa", "block_size": cfg.block_size,
                             "select_blocks": cfg.select_blocks, "window_size": cfg.window_size,
                             "gqa_group_size": HEADS // KV_HEADS})


def rocc_prefill(sizes: list[int], cfg: NsaConfig, overlap: bool) -> None:
    """Causal prefill on the RTL: NSA (three jobs per row and KV head, selection on chip) against
    causal dense attention on the same tensors. ``pairs`` is the (row, key) pairs NSA's branches
    read over the causal dense pairs (from the reference's kept blocks); ``dma_k/tl`` is NSA's
    K/V bytes over those pairs' K and V rows, once per KV head (1.0: every row fetches exactly
    its own keys, nothing shared between rows)."""
    if overlap:
        print(ROCC_NO_OVERLAP)
        return
    head = (f"{'rocc prefill S':>14} {'dense_cyc':>11} {'nsa_cyc':>11} {'select_cyc':>10} {'cyc_ratio':>9} "
            f"{'pairs':>7} {'cyc/pairs':>9} {'dense_dma_k':>11} {'nsa_dma_k':>11} {'dma_ratio':>9} "
            f"{'dma_k/tl':>8} {'verilator_s':>11}")
    print_head(head)
    for s in sizes:
        q, k, v = tensors(s, s)
        print(f"# rocc prefill S={s}: dense (causal), then nsa (Verilator, ~135 k cycles/s) ...", flush=True)
        t0 = time.perf_counter()
        dense = rocc.run(dense_params(True), q[0], k[0], v[0]).counters
        nsa_c = rocc.run(nsa_params(cfg), q, k, v).counters
        secs = time.perf_counter() - t0
        pairs = rvv_nsa.row_pairs(ref_nsa.attention(q, k, v, cfg).blocks, s, cfg)
        dense_pairs = KV_HEADS * s * (s + 1) // 2
        row_bytes = 2 * HEAD_DIM * 4  # a K row and a V row, fp32
        rc = nsa_c["total_cycles"] / dense["total_cycles"]
        pr = pairs / dense_pairs
        print(f"{s:>14} {dense['total_cycles']:>11} {nsa_c['total_cycles']:>11} {nsa_c['select_cycles']:>10} "
              f"{rc:>9.4f} {pr:>7.4f} {rc / pr:>9.3f} {dense['dma_k']:>11} {nsa_c['dma_k']:>11} "
              f"{nsa_c['dma_k'] / dense['dma_k']:>9.3f} {nsa_c['dma_k'] / (pairs * row_bytes):>8.3f} "
              f"{secs:>11.0f}", flush=True)


@guarded  # SattnError: one line; Ctrl-C / SIGTERM stop qemu with the bench
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--decode", type=int, nargs="*", default=[8192, 16384, 65536])
    ap.add_argument("--prefill", type=int, nargs="*", default=[4096])
    ap.add_argument("--rocc-decode", type=int, nargs="*", default=[8192, 16384, 65536],
                    help="decode Skv on the RoCC RTL (Verilator)")
    ap.add_argument("--rocc-prefill", type=int, nargs="*", default=[],
                    help="prefill S on the RoCC RTL (Verilator; 4,096 is about an hour)")
    ap.add_argument("--no-rvv", action="store_true",
                    help="skip the RVV kernels (the decode and prefill tables keep the reference's times)")
    ap.add_argument("--repeat", type=int, default=3, help="reference / SDPA timing runs")
    ap.add_argument("--overlap", action="store_true", help="the paper's l = 32, d = 16 compression")
    ap.add_argument("--no-reference", action="store_true", help="skip the reference timing")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = ap.parse_args()
    cfg = NsaConfig(block_size=64, select_blocks=16, window_size=512,
                    comp_block_size=32 if args.overlap else None, comp_stride=16 if args.overlap else None)
    print(f"# nsa: H={HEADS} Hkv={KV_HEADS} D={HEAD_DIM} fp32, b={cfg.block_size} n={cfg.select_blocks} "
          f"w={cfg.window_size} l={cfg.comp_block} d={cfg.stride}; RVV VLEN {runner.DEFAULT_VLEN} "
          f"LMUL {runner.DEFAULT_LMUL}; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
          flush=True)
    missed: list[str] = []
    rvv_on = not args.no_rvv
    if args.no_rvv and args.no_reference:
        args.decode, args.prefill = [], []
    if args.decode:
        head = (f"{'decode Skv':>10} {'dense_insn':>11} {'nsa_own':>10} {'nsa_cache':>10} {'own/dense':>9} "
                f"{'cache/dense':>11} {'token_load':>10} {'cache/tl':>8} {'target':>6} {'ref_s':>8} "
                f"{'sdpa_s':>8} {'ref/sdpa':>8}")
        print_head(head)
    for skv in args.decode:
        q, k, v = tensors(1, skv)
        tl = spec.token_load(skv, cfg) / skv
        dense = own = cached = rc = None
        verdict = "-"
        if rvv_on:
            dense = dense_instructions(q, k, v)
            own = rvv_nsa.run(q, k, v, cfg, blocks=False).counters["instructions"]
            cached = rvv_nsa.run(q, k, v, cfg, blocks=False, comp_cache=True).counters["instructions"]
            rc = cached / dense
            verdict = "met" if rc <= DECODE_TARGET * tl else "MISSED"
            if verdict == "MISSED":
                missed.append(f"decode Skv={skv}: cache/dense {rc:.4f} > {DECODE_TARGET} x token load {tl:.4f}")
        t_ref = t_sdpa = None
        if not args.no_reference:
            t_ref, t_sdpa, _ = time_reference(q, k, v, cfg, args.repeat)
        print(f"{skv:>10} {fmt(dense, 'd'):>11} {fmt(own, 'd'):>10} {fmt(cached, 'd'):>10} "
              f"{fmt(own and own / dense):>9} {fmt(rc):>11} {tl:>10.4f} {fmt(rc and rc / tl, '.3f'):>8} "
              f"{verdict:>6} {timing_cells(t_ref, t_sdpa)}", flush=True)
    if args.prefill:
        head = (f"{'prefill S':>10} {'dense_insn':>11} {'nsa_insn':>11} {'floor_insn':>11} {'ratio':>7} "
                f"{'density':>7} {'floor':>7} {'bound':>7} {'target':>6} {'ref_s':>8} {'sdpa_s':>8} "
                f"{'ref/sdpa':>8}")
        print_head(head)
    for s in args.prefill:
        q, k, v = tensors(s, s)
        dense = nsa_i = floor_i = None
        if rvv_on:
            print(f"# prefill S={s}: dense kernel ...", flush=True)
            dense = dense_instructions(q, k, v)
            print("# nsa kernel, then its scoring-only pass ...", flush=True)
            nsa_i = rvv_nsa.run(q, k, v, cfg, blocks=False).counters["instructions"]
            floor_i = rvv_nsa.run(q, k, v, cfg, blocks=False, stop_after=2).counters["instructions"]
        print("# reference (kept blocks for the density, time against SDPA) ...", flush=True)
        t_ref = t_sdpa = None
        if args.no_reference:
            res = ref_nsa.attention(q, k, v, cfg)
        else:
            t_ref, t_sdpa, res = time_reference(q, k, v, cfg, args.repeat)
        dense_pairs = KV_HEADS * s * (s + 1) // 2  # causal
        density = rvv_nsa.row_pairs(res.blocks, s, cfg) / dense_pairs
        ratio = floor = bound = None
        verdict = "-"
        if rvv_on:
            ratio, floor = nsa_i / dense, floor_i / dense
            bound = PREFILL_TARGET * (density + floor)
            verdict = "met" if ratio <= bound else "MISSED"
            if verdict == "MISSED":
                missed.append(f"prefill S={s}: ratio {ratio:.4f} > {PREFILL_TARGET} x (density "
                              f"{density:.4f} + floor {floor:.4f})")
        print(f"{s:>10} {fmt(dense, 'd'):>11} {fmt(nsa_i, 'd'):>11} {fmt(floor_i, 'd'):>11} {fmt(ratio):>7} "
              f"{density:>7.4f} {fmt(floor):>7} {fmt(bound):>7} {verdict:>6} {timing_cells(t_ref, t_sdpa)}",
              flush=True)
    if args.rocc_decode:
        if args.overlap:
            print(ROCC_NO_OVERLAP)
            args.rocc_decode = []
        else:
            head = (f"{'rocc Skv':>10} {'dense_cyc':>10} {'nsa_cyc':>9} {'select_cyc':>10} {'cyc_ratio':>9} "
                    f"{'dense_dma_k':>11} {'nsa_dma_k':>10} {'dma_ratio':>9} {'token_load':>10} "
                    f"{'cyc/tl':>6} {'target':>6}")
            print_head(head)
    for skv in args.rocc_decode:
        q, k, v = tensors(1, skv)
        print(f"# rocc decode Skv={skv}: dense, then nsa (Verilator, ~135 k cycles/s) ...", flush=True)
        dense = rocc.run(dense_params(False), q[0], k[0], v[0]).counters
        nsa_c = rocc.run(nsa_params(cfg), q, k, v).counters
        tl = spec.token_load(skv, cfg) / skv
        rc = nsa_c["total_cycles"] / dense["total_cycles"]
        rd = nsa_c["dma_k"] / dense["dma_k"]
        verdict = "met" if rc <= ROCC_TARGET * tl else "MISSED"
        if verdict == "MISSED":
            missed.append(f"rocc decode Skv={skv}: cycles ratio {rc:.4f} > {ROCC_TARGET} x token load {tl:.4f}")
        print(f"{skv:>10} {dense['total_cycles']:>10} {nsa_c['total_cycles']:>9} {nsa_c['select_cycles']:>10} "
              f"{rc:>9.5f} {dense['dma_k']:>11} {nsa_c['dma_k']:>10} {rd:>9.5f} {tl:>10.5f} {rc / tl:>6.3f} "
              f"{verdict:>6}", flush=True)
    if args.rocc_prefill:
        rocc_prefill(args.rocc_prefill, cfg, args.overlap)
    for m in missed:
        print(f"target missed: {m}")
    return 1 if missed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
