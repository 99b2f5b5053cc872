#!/usr/bin/env python3
"""sattn's dense RVV kernel next to IREE on the same attention, same inputs, same qemu, same plugin.

Dense fp32 attention, one head, S x D (default 1024 x 64): sattn's dense kernel (LMUL 8) and
IREE's llvm-cpu code for riscv64 +v in two input forms (``iree_linalg_ext.attention``; linalg
matmul + softmax + matmul), each statically linked into a small harness
(sattn.backends.rvv.peer.iree) and run under ``qemu-riscv64 -cpu rv64,v=true,vlen=VLEN`` with
the counting plugin around the dispatches. Printed per row: measured instructions and vector
instructions, instructions per (query, key) pair, modelled cycles (sattn.backends.rvv.cycle_model,
a model, not a measurement) and their ratio to sattn's, and the output's error against a
float64 reference with the fp32 bound (gamma_n, n = D + 2S + 16). A missing ``iree`` extra
skips with one line.

    python bench/rvv_vs_iree.py [--seq 1024] [--head-dim 64] [--vlen 256] [--dlen 128]
        [--mem-bytes-per-cycle 16] [--forms attention linalg]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

import numpy as np
from sattn.backends.rvv import cycle_model, runner
from sattn.backends.rvv.peer import iree
from sattn.errors import SattnError
from sattn.guard import guarded
from sattn.ir.schema import params_from_dict
from sattn.reference.data import synthetic


@guarded  # SattnError: one line; Ctrl-C / SIGTERM stop the tools it runs, scratch removed
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seq", type=int, default=1024)
    ap.add_argument("--head-dim", type=int, default=64)
    ap.add_argument("--vlen", type=int, default=256, choices=runner.VLENS)
    ap.add_argument("--dlen", type=int, default=cycle_model.DEFAULT_DLEN)
    ap.add_argument("--mem-bytes-per-cycle", type=int, default=cycle_model.DEFAULT_MEM_BYTES)
    ap.add_argument("--forms", nargs="+", default=list(iree.FORMS), choices=iree.FORMS)
    args = ap.parse_args(argv)
    if args.seq < 1 or args.head_dim < 1:
        ap.error(f"--seq and --head-dim must be >= 1, got {args.seq} and {args.head_dim}")
    if not iree.available():
        print(iree.main_skip_line())
        return 0
    s, d = args.seq, args.head_dim
    machine = cycle_model.machine_for(args.vlen, args.dlen, args.mem_bytes_per_cycle)
    p = params_from_dict({"seq_len": s, "head_dim": d, "num_heads": 1}).replace(spec="dense")
    q, k, v = (a[0] for a in synthetic(p.shape()))
    want = iree.reference64(q, k, v)
    tol = iree.fp32_tolerance(s, d)
    pairs = s * s
    print(f"# dense fp32 attention S={s} D={d}, one head, same inputs; qemu-riscv64 vlen={args.vlen}, "
          f"counting plugin around the kernel / the dispatches; iree-base-compiler {iree.iree_version()}")
    print(f"# model_cycles: modelled, not measured: {machine.describe()} (in-order, single issue, "
          "no overlap, no memory latency)")
    print(f"# error: max|out - float64 reference| / max|reference|, bound gamma_n = {tol:.2e}")
    print(f"{'kernel':<16} {'instructions':>13} {'vector':>12} {'instr/pair':>10} {'model_cycles':>14} "
          f"{'cyc/pair':>9} {'instr_ratio':>11} {'cycle_ratio':>11} {'rel_err':>9} {'ok':>4} {'time':>6}")
    rows = []
    t0 = time.perf_counter()
    r = runner.run(p, q[None], k[None], v[None], vlen=args.vlen, lmul=runner.DEFAULT_LMUL,
                   dlen=machine.dlen, mem_bytes_per_cycle=machine.mem_bytes_per_cycle)
    rows.append((f"sattn(lmul={runner.DEFAULT_LMUL})", r.counters, r.output[0], time.perf_counter() - t0))
    notes = []
    for form in args.forms:
        t0 = time.perf_counter()
        pr = iree.run(form, q, k, v, vlen=args.vlen, machine=machine)
        rows.append((f"iree({form})", pr.counters, pr.output, time.perf_counter() - t0))
        notes.append(pr.lines()[0])
    base = rows[0][1]
    ok_all = True
    for name, c, out, dt in rows:
        err = float(np.abs(out - want).max() / np.abs(want).max())
        ok = err <= tol
        ok_all &= ok
        print(f"{name:<16} {c['instructions']:>13,} {c['vector']:>12,} {c['instructions'] / pairs:>10.2f} "
              f"{c['model_cycles']:>14,} {c['model_cycles'] / pairs:>9.2f} "
              f"{c['instructions'] / base['instructions']:>10.2f}x {c['model_cycles'] / base['model_cycles']:>10.2f}x "
              f"{err:>9.2e} {'yes' if ok else 'NO':>4} {dt:>5.1f}s", flush=True)
    for n in notes:
        print(f"# {n}")
    print("# instr_ratio / cycle_ratio: the row over sattn's (measured instructions / modelled cycles); "
          "rtz_sites: vector conversions given the qemu 7.2 work-around (one scalar fcvt each, counted)")
    return 0 if ok_all else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except SattnError as e:  # one line, no traceback (a missing tool, a failed compile or run)
        print(f"rvv_vs_iree: error: {e}", file=sys.stderr)
        sys.exit(e.exit_code)
