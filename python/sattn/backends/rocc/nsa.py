"""NSA (``spec = "nsa"``) on the RoCC accelerator, its block selection on chip.

The program (:mod:`sattn.transforms.rocc_nsa`) runs three jobs per (batch element, KV head, query
row): SCORE (the compressed branch ``o_cmp``, then the scoring path and the top-n unit choose
the blocks), SELECT (the kept blocks, ``o_slc``) and the window (``o_swa``). The host's part:
the KV cache's compressed keys and values in memory (as NSA's decoding keeps them: the mean of
each ``b`` rows, stored as the reference stores a compressed key, :func:`compressed_rows`), and
after the run the gated sum ``g_cmp * o_cmp + g_slc * o_slc + g_swa * o_swa`` in fp32 -- on the
host, outside the accelerator's cycles; its flops are reported as a model
(``host_gate_flops_model``). The blocks the RTL kept are read back (the testbench's
``--dump-selection``) into ``RunResult.blocks``.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from sattn.backends.rocc import driver
from sattn.errors import SattnError
from sattn.hw.program import Program, recorded_or_planned
from sattn.result import RunResult
from sattn.specs import nsa as spec
from sattn.toolrun import scratch_dir
from sattn.transforms import rocc_nsa as nsa_program

#: Options :func:`run_op` accepts (the RoCC backend's).
OPTIONS = ("latency", "bandwidth", "keep_dir", "timeout", "max_cycles", "gates", "selection")


def compressed_rows(x: np.ndarray, cfg: spec.NsaConfig, precision: str) -> np.ndarray:
    """The KV cache's compressed rows of ``x`` ``[..., Skv, E]`` (the precision's operand values:
    fp32 / bf16 values, i8 / i4 codes), exactly the reference's (:func:`sattn.specs.nsa.compress`,
    then :func:`sattn.specs.nsa.compressed_view`): ``[..., nc, E]`` float32."""
    c = spec.compress(x, cfg)
    view = spec.compressed_view(precision)
    return c if view is None else view(c)


def gated_sum(branches: np.ndarray, gates) -> tuple[np.ndarray, int]:
    """``g_cmp * o_cmp + g_slc * o_slc + g_swa * o_swa`` of ``branches`` ``[3, B, H, Sq, Dv]``
    in fp32 (the reference's order), gates ``[B, Sq, H]`` or None (1.0), and the model of its
    flops (a product and an addition per gated term and element)."""
    _, b, h, sq, dv = branches.shape
    acc = None
    for t in range(3):
        g = None if gates is None else gates[t]
        g4 = (np.ones((b, sq, h), np.float32) if g is None
              else np.asarray(g, np.float32).reshape(b, sq, h))
        term = g4.transpose(0, 2, 1)[..., None] * branches[t]
        acc = term if acc is None else acc + term
    return acc.astype(np.float32), 5 * b * h * sq * dv


def program_to_run(params, shape) -> Program:
    """The op's recorded ``rocc_program`` as written (an edited register write is what runs),
    unless it was planned for other NSA parameters (an edited call: its ``nsa`` entry), for
    operands of another shape, or elided; else the plan
    (:func:`sattn.transforms.rocc_nsa.program`)."""
    return recorded_or_planned(params.extra.get("rocc_program"), nsa_program.program(params, shape),
                               "nsa", nsa_program.planned_for(params))


def run_op(params, q: np.ndarray, k: np.ndarray, v: np.ndarray, **options: Any) -> RunResult:
    """Run an op of ``spec = "nsa"`` on the RTL: the :class:`NsaConfig
    <sattn.specs.nsa.NsaConfig>` from the call's ``block_size``, ``select_blocks``,
    ``window_size``, ``comp_block_size``, ``comp_stride`` (:func:`sattn.specs.nsa.config`),
    Q ``[B, H, Sq, D]`` (or rank 3), K/V ``[B, Hkv, Skv, D|Dv]``. Options: ``gates``
    ``(g_cmp, g_slc, g_swa)`` (None: 1.0), ``latency``, ``bandwidth``, ``keep_dir``,
    ``timeout``, ``max_cycles`` (as :func:`sattn.backends.rocc.driver.run`)."""
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise SattnError(f"rocc: option {unknown[0]!r} does not apply to spec nsa")
    if options.get("selection") is not None:
        raise SattnError("rocc: spec nsa selects its blocks on chip; a selection= cannot be given")
    cfg = spec.config(params)
    latency, bandwidth, rank, shape, (q, k, v) = driver.checked_operands(params, q, k, v, options)
    b, h, hkv, sq, skv = shape.batch, shape.heads, shape.kv_heads, shape.seq_len, shape.kv_len
    gates = options.get("gates")
    if gates is not None:
        gates = tuple(None if g is None else spec._gates(g, b, sq, h, n)
                      for g, n in zip(gates, ("g_cmp", "g_slc", "g_swa")))
    t0 = time.perf_counter()
    ops = spec.operands(params, q, k, v)
    kc = compressed_rows(ops.k, cfg, params.precision)  # [B, Hkv, nc, D]
    vc = compressed_rows(ops.v, cfg, params.precision)
    kk = np.concatenate([ops.k, kc], axis=2)
    vv = np.concatenate([ops.v, vc], axis=2)
    prog = program_to_run(params, shape)
    t1 = time.perf_counter()
    exe = driver.simulator()
    t2 = time.perf_counter()
    with scratch_dir(options.get("keep_dir"), "keep_dir (--keep-dir)") as work:
        sel_path = work / "selection.txt"
        load = b * hkv * sq * spec.token_load(skv, cfg)
        budget = options.get("max_cycles") or int(
            50 * (load * h // hkv * (shape.head_dim + shape.head_dim_v) / 16
                  + load * (shape.head_dim + shape.head_dim_v) * 4 / bandwidth
                  + prog.jobs * (200 + latency + 2 * h // hkv * kc.shape[2])) + 1_000_000)
        proc, region = driver.simulate(exe, work, prog, (ops.q, kk, vv), params.precision,
                                       latency=latency, bandwidth=bandwidth, max_cycles=budget,
                                       timeout=options.get("timeout"),
                                       extra=("--dump-selection", str(sel_path)))
        t3 = time.perf_counter()
        branches = nsa_program.branch_outputs(region, prog.layout, shape)
        blocks = nsa_program.kept_blocks(sel_path.read_text(), cfg, batch=b, kv_heads=hkv,
                                         seq_len=sq, kv_len=skv)
    if not cfg.window_size:
        branches[2] = 0.0
    out, flops = gated_sum(branches, gates)
    if not cfg.window_size:
        flops = 3 * b * h * sq * shape.head_dim_v
    lines = [ln for ln in proc.stdout.decode().splitlines() if ln.startswith(driver._LINE_PREFIXES)]
    counters = driver.parse_counters(lines)
    pos = spec.positions(sq, skv)
    nvis = spec.visible_compressed(pos, cfg)
    first = np.maximum(blocks, 0) * cfg.block_size  # kept tokens j <= p, [B, Hkv, Sq]
    toks = np.where(blocks >= 0, np.minimum(cfg.block_size, pos[:, None] + 1 - first), 0).sum(-1)
    rows = (nvis[None, None] + toks + np.minimum(cfg.window_size, pos + 1)[None, None])
    min_kv = int(rows.sum()) * (prog.layout.row_bytes + prog.layout.v_row_bytes)
    # no key tiles (every job fits the scratchpad): no partial records to merge
    host = {"partial_records": 0, "merged_rows": 0, "max_partials": 0, "host_merge_flops_model": 0,
            "host_gate_flops_model": flops, "min_kv_bytes": min_kv,
            "refetch_factor": round(counters["dma_k"] / min_kv, 4) if min_kv else 1.0,
            "nsa_jobs": prog.jobs}
    counters.update(host)
    lines.append(f"{driver._HOST} " + " ".join(f"{k}={v}" for k, v in host.items()))
    lines.append(f"rocc_nsa: b={cfg.block_size} n={cfg.select_blocks} w={cfg.window_size} "
                 f"selection=on-chip (scoring path + top-n unit) gated_sum=host")
    res = RunResult(backend="rocc", spec="nsa", output=out if rank == 4 else out[0],
                    density=float(rows.sum()) / (b * hkv * sq * skv), counters=counters,
                    timings={"select_s": t1 - t0, "build_s": t2 - t1, "sim_s": t3 - t2},
                    lines=lines, params=params)
    res.blocks = blocks  # type: ignore[attr-defined]
    res.branches = branches  # type: ignore[attr-defined]
    return res


__all__ = ["OPTIONS", "compressed_rows", "gated_sum", "run_op"]
