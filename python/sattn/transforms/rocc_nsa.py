"""The RoCC command stream of an NSA op (``spec = "nsa"``): selection on chip.

NSA needs no host selection: its program depends on the shape and the NSA parameters only, so
it is planned (and recorded by ``sattn-lower-rocc``) before any data exists. Per batch element,
KV head and query row ``i`` (position ``p = Skv - Sq + i``), three jobs over one row and the
group's heads (docs/rocc.md, "NSA on the accelerator"):

1. **SCORE** (``NSA_CTRL = 1``): the row attends its ``nvis`` visible compressed keys (one run
   ``[0, nvis)``; ``K_BASE``/``V_BASE`` at the KV cache's compressed rows, kept after the head's
   ``Skv`` token rows) and writes ``o_cmp``; when it has drained, the scoring path sums the
   group's compressed probabilities into block scores (block ``p // b`` forced to 1.0 per head,
   blocks after it no candidates) and the top-n unit writes the ``n' = min(n, p // b + 1)``
   kept blocks as runs into run RAM entries ``0 .. n'-1``;
2. **SELECT** (``NSA_CTRL = 2``, no index load): the row attends those runs (the kept blocks'
   tokens ``j <= p``) and writes ``o_slc``;
3. **window** (``w > 0``): a plain job over the ``w`` keys ending at ``p`` (one run from
   ``K_BASE`` at key ``max(0, p - w + 1)``), writing ``o_swa``.

Every job invalidates the scratchpad, so ``dma_k`` is the three branches' K/V rows, each once
per GQA group: in decode at ``Skv`` a multiple of ``b``, ``token_load(Skv) x (K row + V row)``
per KV head (:func:`sattn.specs.nsa.token_load`). The output region holds the three branch
outputs ``[3][B, H, Sq, Dv]`` fp32; the host adds them with the gates
(:mod:`sattn.backends.rocc.nsa`). Only ``l = d = b`` maps compressed key ``c`` to block ``c``
as the scoring path does; the overlapping variant is refused (:func:`check`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from sattn.errors import SattnError
from sattn.hw import isa
from sattn.hw.program import (
    ALIGN,
    MAX_ROWS,
    F,
    Layout,
    Program,
    _load4,
    _sets,
    layout,
    program_info,
    setup,
)
from sattn.ir.precisions import TABLE as PRECISION_TABLE
from sattn.precision import score_scales
from sattn.specs import nsa as spec

#: Branch output regions, in order after ``o_base``.
BRANCHES = ("o_cmp", "o_slc", "o_swa")


def check(cfg: spec.NsaConfig, *, group: int, seq_len: int, kv_len: int,
          hw: isa.HwParams = isa.HW) -> None:
    """One line when the accelerator cannot run NSA with ``cfg`` on this shape (before any
    simulation; the hardware refuses the same with ``SHAPE``)."""
    if cfg.overlapping:
        raise SattnError(
            f"rocc nsa: the overlapping compression (comp_block_size={cfg.comp_block}, "
            f"comp_stride={cfg.stride}, block_size={cfg.block_size}) is not supported: the "
            "accelerator's scoring path maps compressed key c to selection block c (l = d = b); "
            "run it with --backend reference or rvv")
    nc = spec.num_compressed(kv_len, cfg)
    n = cfg.select_blocks
    if n > hw.topn_max:
        raise SattnError(f"rocc nsa: select_blocks={n} exceeds the top-n unit's TOPN_MAX="
                         f"{hw.topn_max}")
    if min(n, spec.num_blocks(kv_len, cfg)) * cfg.block_size > hw.kv_rows:
        raise SattnError(f"rocc nsa: select_blocks x block_size = {n} x {cfg.block_size} "
                         f"selected tokens exceed the scratchpad's KV_ROWS={hw.kv_rows}")
    if group * nc > hw.score_depth:
        raise SattnError(f"rocc nsa: {group} heads x {nc} compressed keys (Skv={kv_len}, "
                         f"block_size={cfg.block_size}) exceed the score buffer's "
                         f"SCORE_DEPTH={hw.score_depth} entries")
    if nc > hw.kv_rows:
        raise SattnError(f"rocc nsa: {nc} compressed keys exceed the scratchpad's KV_ROWS="
                         f"{hw.kv_rows}")
    if min(cfg.window_size, kv_len) > hw.kv_rows:
        raise SattnError(f"rocc nsa: window_size={cfg.window_size} exceeds the scratchpad's "
                         f"KV_ROWS={hw.kv_rows}")
    if kv_len > 0x10000:
        raise SattnError(f"rocc nsa: Skv={kv_len} keys exceed the 16-bit key index (65536)")
    if seq_len > MAX_ROWS:
        raise SattnError(f"rocc: Sq={seq_len} query rows exceed the accelerator's 16-bit "
                         f"SEQ_LEN/ROW_BASE registers (at most {MAX_ROWS} rows a head)")


def plan(cfg: spec.NsaConfig, *, precision: str, heads: int, kv_heads: int, seq_len: int,
         kv_len: int, head_dim: int, head_dim_v: int, batch: int, score_scale: float,
         out_scale: float, info: dict[str, Any], hw: isa.HwParams = isa.HW) -> Program:
    """The NSA program (module doc) of one op over a batch."""
    group = heads // kv_heads
    check(cfg, group=group, seq_len=seq_len, kv_len=kv_len, hw=hw)
    lay0 = layout(heads, kv_heads, seq_len, kv_len + spec.num_compressed(kv_len, cfg), head_dim,
                  precision, head_dim_v=head_dim_v, batch=batch)
    one = (lay0.o_bytes + ALIGN - 1) // ALIGN * ALIGN
    lay = replace(lay0, o_bytes=3 * one)
    nc = spec.num_compressed(kv_len, cfg)
    keys = kv_len + nc
    b, w = cfg.block_size, min(cfg.window_size, kv_len)
    rb, vrb, orow = lay.row_bytes, lay.v_row_bytes, head_dim_v * 4
    head = setup(precision_code=PRECISION_TABLE[precision].code, head_dim=head_dim,
                 seq_len=seq_len, num_keys=1, group=group, lay=lay, score_scale=score_scale,
                 out_scale=out_scale, head_dim_v=head_dim_v, hw=hw)
    out = [head]
    pos = spec.positions(seq_len, kv_len)
    nvis = spec.visible_compressed(pos, cfg)
    for g in range(batch * kv_heads):
        q_base = lay.q_base + g * group * seq_len * rb
        o_base = lay.o_base + g * group * seq_len * orow
        kb, vb = lay.k_base + g * keys * rb, lay.v_base + g * keys * vrb
        for i in range(seq_len):
            p, nv = int(pos[i]), int(nvis[i])
            n_keep = min(cfg.select_blocks, p // b + 1)
            rows = [("ROW_BASE", i), ("ROW_COUNT", 1), ("Q_BASE", q_base)]
            # 1. SCORE: the compressed keys, o_cmp, then the block selection
            out += [np.array([(F["IDX_RESET"], 0, 0)], dtype=np.uint64),
                    _load4(F["LOAD_RUNS"], np.array([nv << 16] if nv else [], dtype=np.uint64)),
                    _load4(F["LOAD_ROWPTR"], np.array([0, 1 if nv else 0], dtype=np.uint64)),
                    np.array(_sets(rows + [
                        ("N_RUNS", 1 if nv else 0), ("NUM_KEYS", max(1, nv)),
                        ("K_BASE", kb + kv_len * rb), ("V_BASE", vb + kv_len * vrb),
                        ("O_BASE", o_base), ("NSA_CTRL", 1), ("NSA_POS", p), ("NSA_BLOCK", b),
                        ("NSA_N", n_keep)]) + [(F["START"], 1, 0)], dtype=np.uint64)]
            # 2. SELECT: the kept blocks' tokens (runs from the top-n unit)
            out.append(np.array(_sets([("NSA_CTRL", 2), ("N_RUNS", n_keep), ("K_BASE", kb),
                                       ("V_BASE", vb), ("O_BASE", o_base + one)])
                                + [(F["START"], 1, 0)], dtype=np.uint64))
            # 3. window: the w keys ending at p
            if w:
                t0 = max(0, p - w + 1)
                out += [np.array([(F["IDX_RESET"], 0, 0)], dtype=np.uint64),
                        _load4(F["LOAD_RUNS"], np.array([(p - t0 + 1) << 16], dtype=np.uint64)),
                        _load4(F["LOAD_ROWPTR"], np.array([0, 1], dtype=np.uint64)),
                        np.array(_sets(rows + [
                            ("NSA_CTRL", 0), ("N_RUNS", 1), ("NUM_KEYS", p - t0 + 1),
                            ("K_BASE", kb + t0 * rb), ("V_BASE", vb + t0 * vrb),
                            ("O_BASE", o_base + 2 * one)]) + [(F["START"], 1, 0)], dtype=np.uint64)]
    return Program(lay, np.concatenate(out), info)


def program(params, shape) -> Program:
    """The NSA program of an op (``params``: its resolved NSA attributes, precision and
    scales) on operands of ``shape`` (:func:`plan`): what ``sattn-lower-rocc`` records and
    what the RoCC backend runs when the op has no record."""
    cfg = spec.config(params)
    score, out_scale = score_scales(params, shape.head_dim)
    info = program_info("nsa", params, shape, shape.kv_len + spec.num_compressed(shape.kv_len, cfg))
    return plan(cfg, precision=params.precision, heads=shape.heads, kv_heads=shape.kv_heads,
                seq_len=shape.seq_len, kv_len=shape.kv_len, head_dim=shape.head_dim,
                head_dim_v=shape.head_dim_v, batch=shape.batch, score_scale=score,
                out_scale=out_scale, info=info)


def planned_for(params) -> dict[str, Any]:
    """The NSA parameters a program is planned for (the call's resolved attributes), recorded
    beside it: a call whose parameters were edited is planned again."""
    return spec.PATTERN.call_attributes(params)


def branch_outputs(region: np.ndarray, lay: Layout, shape) -> np.ndarray:
    """The three branch outputs ``[3, B, H, Sq, Dv]`` of the output region (fp32 words)."""
    one = lay.o_bytes // 3 // 4
    n = shape.batch * shape.heads * shape.seq_len * shape.head_dim_v
    return np.stack([region[t * one: t * one + n] for t in range(3)]).reshape(
        3, shape.batch, shape.heads, shape.seq_len, shape.head_dim_v)


def kept_blocks(dump: str, cfg: spec.NsaConfig, *, batch: int, kv_heads: int, seq_len: int,
                kv_len: int) -> np.ndarray:
    """The blocks the RTL kept, ``[B, Hkv, Sq, min(n, blocks)]`` int64 in rank order (-1
    padded), from the testbench's ``--dump-selection`` lines (one per SCORE job, in program
    order: element, KV head, row)."""
    n = min(cfg.select_blocks, spec.num_blocks(kv_len, cfg))
    out = np.full((batch * kv_heads * seq_len, n), -1, dtype=np.int64)
    lines = [ln.split() for ln in dump.splitlines() if ln.strip()]
    if len(lines) != len(out):
        raise SattnError(f"rocc nsa: the selection dump has {len(lines)} lines, expected "
                         f"{len(out)} (one per SCORE job)")
    for r, parts in enumerate(lines):
        if len(parts) - 1 > n:
            raise SattnError(f"rocc nsa: SCORE job {parts[0]} kept {len(parts) - 1} blocks, more "
                             f"than the op's select_blocks={cfg.select_blocks} (an edited NSA_N)")
        for j, word in enumerate(parts[1:]):
            run = int(word)
            if run >> 16:
                out[r, j] = (run & 0xFFFF) // cfg.block_size
    return out.reshape(batch, kv_heads, seq_len, n)
