"""bsr (``spec = "bsr"``, block top-k and compression scoring) on the RoCC accelerator, its
block selection on chip.

The program (:mod:`sattn.transforms.rocc_bsr`) runs, per (batch element, KV head, query
block), a SCORE job per query row (the scoring path accumulates the block scores, the top-n
unit ranks them on the block's last row) and one SELECT job over the block's rows (the kept
blocks). The host's part is the KV cache's compressed key rows in memory (each KV head's block
means, as the RVV bsr kernel's cache and NSA's keep them, stored in the precision's format:
:func:`compressed_keys`); nothing is selected on the host. The blocks the RTL kept are read
back (the testbench's ``--dump-selection``) into ``RunResult.blocks``.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from sattn import precision as prec
from sattn import resources
from sattn.backends.rocc import driver
from sattn.errors import SattnError
from sattn.hw.program import Program, recorded_or_planned
from sattn.reference.data import check_qkv
from sattn.result import RunResult
from sattn.specs import nsa as nsa_spec
from sattn.specs.compression import compression_keys
from sattn.toolrun import scratch_dir
from sattn.transforms import rocc_bsr as bsr_program

#: Options :func:`run_op` accepts (the RoCC backend's, less ``selection`` / ``host_select``).
OPTIONS = ("latency", "bandwidth", "keep_dir", "timeout", "max_cycles")


def compressed_keys(k: np.ndarray, block: int, precision: str) -> np.ndarray:
    """The KV cache's compressed key rows of ``k`` ``[B, Hkv, Skv, D]`` (the precision's operand
    values: fp32 / bf16 values, i8 / i4 codes): each block of ``block`` rows' mean (the fp32
    row-order sum over the rows it holds, :func:`sattn.specs.compression.compression_keys`),
    stored as the precision stores a mean (bf16 rounding, i8 / i4 the nearest code, half to
    even: :func:`sattn.specs.nsa.compressed_view`), ``[B, Hkv, nb, D]`` float32."""
    out = np.stack([np.stack([compression_keys(kh, block) for kh in ke]) for ke in k])
    view = nsa_spec.compressed_view(precision)
    return out if view is None else view(out)


def program_to_run(params, shape) -> Program:
    """The op's recorded ``rocc_program`` as written (an edited register write is what runs),
    unless it was planned for other bsr parameters (an edited call: its ``bsr`` entry), for
    operands of another shape, or elided; else the plan
    (:func:`sattn.transforms.rocc_bsr.program`)."""
    return recorded_or_planned(params.extra.get("rocc_program"), bsr_program.program(params, shape),
                               "bsr", bsr_program.planned_for(params, shape))


def off_chip_reason(params, q: np.ndarray, k: np.ndarray, v: np.ndarray) -> str | None:
    """Why the accelerator cannot select ``params``'s blocks on these operands (the planner's
    refusal, :func:`sattn.transforms.rocc_bsr.check`: a precision other than fp32, compression
    blocks other than the selection blocks, more kept blocks than the top-n unit holds, more
    blocks than the block-score RAM or the score buffer), or None when it can. Operands that
    do not fit each other are refused here in their own line."""
    shape = check_qkv(q, k, v, params.gqa_group_size)
    try:
        bsr_program.check(params, group=shape.group, seq_len=shape.seq_len, kv_len=shape.kv_len)
    except SattnError as e:
        return str(e)
    return None


def run_op(params, q: np.ndarray, k: np.ndarray, v: np.ndarray, **options: Any) -> RunResult:
    """Run an op of ``spec = "bsr"`` on the RTL, its blocks selected on chip: Q ``[B, H, Sq,
    D]`` (or rank 3), K/V ``[B, Hkv, Skv, D|Dv]``. Options: ``latency``, ``bandwidth``,
    ``keep_dir``, ``timeout``, ``max_cycles`` (as :func:`sattn.backends.rocc.driver.run`)."""
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise SattnError(f"rocc: option {unknown[0]!r} does not apply to spec bsr selected on chip")
    latency, bandwidth, rank, shape, (q, k, v) = driver.checked_operands(params, q, k, v, options)
    b, hkv, sq, skv = shape.batch, shape.kv_heads, shape.seq_len, shape.kv_len
    t0 = time.perf_counter()
    cfg = bsr_program.check(params, group=shape.group, seq_len=sq, kv_len=skv)
    # the run's cost before any planning: every row's kept keys plus its candidates' scores
    bound = b * hkv * sq * (min(skv, cfg.n * cfg.block) + cfg.nb)
    resources.require(resources.rocc(params, shape, bound, latency=latency, bandwidth=bandwidth))
    ops = prec.prepare(params, q, k, v)
    kc = compressed_keys(ops.k, cfg.block, params.precision)  # [B, Hkv, nb, D]
    # V rows beside them: the SCORE jobs' outputs are discarded (zeros: any rows would do)
    vc = np.zeros((*ops.v.shape[:2], cfg.nb, ops.v.shape[3]), np.float32)
    kk = np.concatenate([ops.k, kc], axis=2)
    vv = np.concatenate([ops.v, vc], axis=2)
    prog = program_to_run(params, shape)
    t1 = time.perf_counter()
    exe = driver.simulator()
    t2 = time.perf_counter()
    blocks_of = bsr_program.query_blocks(cfg, sq, skv)
    with scratch_dir(options.get("keep_dir"), "keep_dir (--keep-dir)") as work:
        sel_path = work / "selection.txt"
        kept_rows = sum(cfg.kept(qb) for qb, _, _ in blocks_of) * cfg.block
        cand = sum(cfg.candidates(qb) for qb, _, _ in blocks_of)
        dd = shape.head_dim + shape.head_dim_v
        budget = options.get("max_cycles") or int(
            50 * (b * shape.heads * (sq * (cand // max(1, len(blocks_of))) + sq * kept_rows)
                  * dd / 16 + b * hkv * (cand + kept_rows) * dd * 4 / bandwidth
                  + prog.jobs * (300 + latency + 2 * shape.group * cfg.nb)) + 1_000_000)
        proc, region = driver.simulate(exe, work, prog, (ops.q, kk, vv), params.precision,
                                       latency=latency, bandwidth=bandwidth, max_cycles=budget,
                                       timeout=options.get("timeout"),
                                       extra=("--dump-selection", str(sel_path)))
        t3 = time.perf_counter()
        kept = bsr_program.kept_blocks(sel_path.read_text(), cfg, batch=b, kv_heads=hkv,
                                       seq_len=sq, kv_len=skv)
    n = b * shape.heads * sq * shape.head_dim_v
    out = region[:n].reshape(b, shape.heads, sq, shape.head_dim_v).astype(np.float32)
    lines = [ln for ln in proc.stdout.decode().splitlines() if ln.startswith(driver._LINE_PREFIXES)]
    counters = driver.parse_counters(lines)
    rows = kv_rows_read(cfg, kept, blocks_of, skv)
    min_kv = rows * (prog.layout.row_bytes + prog.layout.v_row_bytes)
    pairs = _pairs(kept, blocks_of, cfg, sq, skv) * shape.group
    host = {"partial_records": 0, "merged_rows": 0, "max_partials": 0, "host_merge_flops_model": 0,
            "min_kv_bytes": min_kv,
            "refetch_factor": round(counters["dma_k"] / min_kv, 4) if min_kv else 1.0,
            "bsr_jobs": prog.jobs}
    counters.update(host)
    lines.append(f"{driver._HOST} " + " ".join(f"{k}={v}" for k, v in host.items()))
    score = "compression softmax" if cfg.comp else "raw block dot"
    lines.append(f"rocc_bsr: B={cfg.block} n={cfg.n} causal={int(cfg.causal)} score={score} "
                 "selection=on-chip (scoring path + top-n unit)")
    res = RunResult(backend="rocc", spec="bsr", output=out if rank == 4 else out[0],
                    density=pairs / shape.group / (b * hkv * sq * skv), counters=counters,
                    timings={"select_s": t1 - t0, "build_s": t2 - t1, "sim_s": t3 - t2},
                    lines=lines, params=params)
    res.blocks = kept if rank == 4 else kept[0]  # type: ignore[attr-defined]
    return res


def kv_rows_read(cfg, kept, blocks_of, skv: int) -> int:
    """The K/V rows the program reads, each once where it can (the minimum, ``min_kv_bytes``):
    per KV head, DIRECT (:func:`sattn.transforms.rocc_bsr.direct`) the compressed rows of the
    most candidates and every kept block's rows once; else per query block its candidates'
    compressed rows and its kept blocks' rows."""
    lens = np.minimum(cfg.block, skv - np.arange(cfg.nb) * cfg.block)
    near = bsr_program.direct(cfg, skv)
    rows = 0
    for per_g in (g for e in kept for g in e):
        if near:
            rows += max(cfg.candidates(qb) for qb, _, _ in blocks_of)
            rows += int(lens[sorted({kb for ks in per_g for kb in ks})].sum())
        else:
            rows += sum(cfg.candidates(qb) + int(lens[ks].sum())
                        for (qb, _, _), ks in zip(blocks_of, per_g))
    return rows


def _pairs(kept, blocks_of, cfg, sq: int, skv: int) -> int:
    """(query row, key) pairs of one head of each KV head attended: the kept blocks' keys
    ``j <= p(i)`` (causal) per row."""
    off = skv - sq
    total = 0
    for per_g in (g for e in kept for g in e):
        for (qb, r0, r1), ks in zip(blocks_of, per_g):
            for kb in ks:
                lo, hi = kb * cfg.block, min(skv, (kb + 1) * cfg.block)
                if cfg.causal:
                    pos = np.arange(r0, r1) + off
                    total += int(np.clip(pos + 1 - lo, 0, hi - lo).sum())
                else:
                    total += (r1 - r0) * (hi - lo)
    return total


__all__ = ["OPTIONS", "compressed_keys", "run_op"]
