"""The RoCC command stream of a bsr op (``spec = "bsr"``): its block selection on chip.

bsr needs no host selection on the accelerator: its program depends on the shape and the bsr
parameters only, so it is planned (and recorded by ``sattn-lower-rocc``) before any data
exists, as NSA's is (:mod:`sattn.transforms.rocc_nsa`). The KV cache keeps, after each KV
head's ``Skv`` token rows, the ``nb = ceil(Skv / B)`` compressed key rows: the mean of each
block of ``B`` rows (plain bsr: the block means of its score; compression scoring: the
compressed keys ``Kc``, ``C = comp_block_size = B``), stored in the precision's format
(:func:`sattn.backends.rocc.bsr.compressed_keys`). Per batch element, KV head and query block
``qb`` (the blocks holding query rows; row ``i`` at position ``p(i) = Skv - Sq + i``):

1. **SCORE** (``NSA_CTRL = SCORE | BSR``, ``| FIRST`` on the block's first job, ``| LAST`` on
   its last, ``| RAW`` for plain bsr), one job over the block's query rows and the group's
   heads (several when ``GROUP x rows`` exceeds 256 softmax rows or the score buffer:
   :func:`score_chunks`): each row attends the candidate blocks' compressed keys (one run
   ``[0, nk)`` per row, ``nk = qb + 1`` when causal, else ``nb``; ``K_BASE`` at the compressed
   rows; its output goes to a scratch region after the output, which the host ignores) and,
   when the job has drained, the scoring path adds each candidate block's score -- the
   compressed softmax probabilities (compression scoring) or the scaled dots ``q . Kc[kb]``
   (RAW: summed over the block's rows and the group's heads, ``rows x mean(Qsum) .
   mean(K_kb)`` times a positive constant, the block score's ranking), summed over the job's
   heads and rows -- into the block-score RAM; the diagonal block (the block holding
   ``NSA_POS``) is forced with +inf. The first job invalidates the scratchpad, a later one
   finds the compressed keys there. On the LAST job the top-n unit ranks the accumulated
   scores and writes the ``n' = min(n, candidates)`` kept blocks as runs
   ``(kb*B, min(B, Skv - kb*B))``.
2. **SELECT** (``NSA_CTRL = SELECT``, no index load): one job over the block's query rows;
   row ``r`` of the job reads the kept runs' keys ``j <= NSA_POS + r`` (causal: ``NSA_POS`` is
   the position of the job's first row; otherwise 0xFFFF, no cut), every kept K/V row fetched
   once for the block's rows and the group's heads.

When the head's tokens and compressed keys fit the scratchpad together (:func:`direct`), every
job sets ``DIRECT``: the SCORE jobs read the compressed keys as job keys ``Skv + c`` (``K_BASE``
at the tokens), the SELECT jobs keep key ``j`` at scratchpad row ``j``, and only the head's
first job invalidates, so ``dma_k`` is every compressed and kept K/V row once per KV head;
otherwise it is, per (element, KV head, query block), the ``nk`` compressed K/V rows plus the
kept blocks' rows. Only ``comp_block_size = block_size`` maps compressed
key ``c`` to block ``c`` as the scoring path does; another ``comp_block_size`` is refused
(:func:`check`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from sattn.errors import SattnError
from sattn.hw import isa
from sattn.hw.program import ALIGN, MAX_ROWS, F, Program, _load4, _sets, layout, program_info, setup
from sattn.ir.precisions import TABLE as PRECISION_TABLE
from sattn.precision import score_scales
from sattn.specs import bsr as spec
from sattn.specs import csr

#: NSA_CTRL bits (docs/rocc.md, "bsr on the accelerator").
SCORE, SELECT, BSR, FIRST, LAST, RAW, DIRECT = 1, 2, 4, 8, 16, 32, 64
#: NSA_POS of a SELECT job that cuts no row (non-causal): past every 16-bit key index.
NO_CUT = 0xFFFF


@dataclass(frozen=True)
class BsrChip:
    """What the on-chip selection of a bsr op needs: block size ``B``, blocks ``nb`` of the
    ``Skv`` keys, blocks kept ``n`` per query block (before the causal cap), causal, and
    whether the score is the compression softmax (``comp``) or the raw block dot."""

    block: int
    nb: int
    n: int
    causal: bool
    comp: bool

    def candidates(self, qb: int) -> int:
        """Blocks ``0 .. candidates-1`` a query block ranks (its compressed keys read)."""
        return qb + 1 if self.causal else self.nb

    def kept(self, qb: int) -> int:
        return min(self.n, self.candidates(qb))


def applies(params) -> bool:
    """Whether the RoCC backend runs ``params`` through this program (bsr, selected on chip)."""
    return params.spec == spec.PATTERN.name


def config(params, kv_len: int) -> BsrChip:
    """The :class:`BsrChip` of ``params`` over ``kv_len`` keys (blocks as :mod:`sattn.specs.bsr`
    places them: over the Skv positions)."""
    b = params.effective_block_size(kv_len)
    nb = csr.num_blocks(kv_len, b)
    return BsrChip(b, nb, spec.num_kept(params, nb), bool(params.causal), params.comp_block_size > 0)


def check(params, *, group: int, seq_len: int, kv_len: int, hw: isa.HwParams = isa.HW) -> BsrChip:
    """One line when the accelerator cannot select ``params``'s blocks on this shape (before
    any simulation; the hardware refuses the same with ``SHAPE``); else the config."""
    cfg = config(params, kv_len)
    if params.precision != "fp32":
        raise SattnError(
            f"rocc bsr: precision {params.precision}: the scoring path would rank the cache's "
            f"compressed keys as stored at {params.precision} (rounded block means), not bsr's "
            "fp32 block scores")
    if cfg.comp and params.comp_block_size != cfg.block:
        raise SattnError(
            f"rocc bsr: comp_block_size={params.comp_block_size} differs from block_size="
            f"{cfg.block}: the accelerator's scoring path maps compressed key c to block c "
            "(comp_block_size = block_size); run it with --backend reference or rvv")
    if cfg.n > hw.topn_max:
        raise SattnError(f"rocc bsr: {cfg.n} kept blocks per query block (of nb={cfg.nb}) exceed "
                         f"the top-n unit's TOPN_MAX={hw.topn_max}")
    if cfg.nb > hw.kv_rows:
        raise SattnError(f"rocc bsr: nb={cfg.nb} blocks (Skv={kv_len}, block_size={cfg.block}) "
                         f"exceed the block-score RAM's and the scratchpad's {hw.kv_rows} entries")
    if group * cfg.nb > hw.score_depth:
        raise SattnError(f"rocc bsr: {group} heads x {cfg.nb} compressed keys (Skv={kv_len}, "
                         f"block_size={cfg.block}) exceed the score buffer's SCORE_DEPTH="
                         f"{hw.score_depth} entries")
    if min(cfg.n, cfg.nb) * cfg.block > hw.kv_rows:
        raise SattnError(f"rocc bsr: {min(cfg.n, cfg.nb)} kept blocks x block_size={cfg.block} "
                         f"keys exceed the scratchpad's KV_ROWS={hw.kv_rows}")
    if kv_len > 0x10000:
        raise SattnError(f"rocc bsr: Skv={kv_len} keys exceed the 16-bit key index (65536)")
    if seq_len > MAX_ROWS:
        raise SattnError(f"rocc: Sq={seq_len} query rows exceed the accelerator's 16-bit "
                         f"SEQ_LEN/ROW_BASE registers (at most {MAX_ROWS} rows a head)")
    return cfg


def direct(cfg: BsrChip, kv_len: int, hw: isa.HwParams = isa.HW) -> bool:
    """Whether the KV head's tokens and compressed keys fit the scratchpad together (``Skv + nb
    <= KV_ROWS``): then the jobs address them at their own rows (``DIRECT``), the scratchpad
    is invalidated once per KV head, and every K/V row is fetched once; else the SELECT jobs
    place the kept blocks in slots, each query block fetching its own."""
    return kv_len + cfg.nb <= hw.kv_rows


def query_blocks(cfg: BsrChip, seq_len: int, kv_len: int) -> list[tuple[int, int, int]]:
    """``(qb, r0, r1)``: each query block holding query rows and its rows ``r0 .. r1-1``."""
    off = kv_len - seq_len
    out = []
    for qb in range(off // cfg.block, cfg.nb):
        r0 = max(0, qb * cfg.block - off)
        r1 = min(seq_len, (qb + 1) * cfg.block - off)
        out.append((qb, r0, r1))
    return out


#: Softmax rows (heads x query rows) a SCORE job's scoring path holds (m, l, 1/l each).
SCORE_ROWS = 256


def score_chunks(cfg: BsrChip, group: int, qb: int, r0: int, r1: int,
                 hw: isa.HwParams = isa.HW) -> list[tuple[int, int]]:
    """The query rows ``[c0, c1)`` of each SCORE job of query block ``qb`` (rows ``r0 .. r1-1``):
    as many rows a job as its ``group x rows`` softmax rows fit :data:`SCORE_ROWS` and their
    dots the score buffer (``group x rows x nk <= SCORE_DEPTH``)."""
    per = max(1, min(SCORE_ROWS // group, hw.score_depth // (group * cfg.candidates(qb))))
    return [(c, min(r1, c + per)) for c in range(r0, r1, per)]


def plan(params, *, precision: str, heads: int, kv_heads: int, seq_len: int, kv_len: int,
         head_dim: int, head_dim_v: int, batch: int, score_scale: float, out_scale: float,
         info: dict[str, Any], hw: isa.HwParams = isa.HW) -> Program:
    """The bsr program (module doc) of one op over a batch."""
    group = heads // kv_heads
    cfg = check(params, group=group, seq_len=seq_len, kv_len=kv_len, hw=hw)
    lay0 = layout(heads, kv_heads, seq_len, kv_len + cfg.nb, head_dim, precision,
                  head_dim_v=head_dim_v, batch=batch)
    one = (lay0.o_bytes + ALIGN - 1) // ALIGN * ALIGN
    lay = replace(lay0, o_bytes=2 * one)  # the output, then the SCORE jobs' scratch
    keys = kv_len + cfg.nb
    rb, vrb, orow = lay.row_bytes, lay.v_row_bytes, head_dim_v * 4
    out = [setup(precision_code=PRECISION_TABLE[precision].code, head_dim=head_dim,
                 seq_len=seq_len, num_keys=1, group=group, lay=lay, score_scale=score_scale,
                 out_scale=out_scale, head_dim_v=head_dim_v, hw=hw)]
    off = kv_len - seq_len
    near = direct(cfg, kv_len, hw)
    mode = SCORE | BSR | (0 if cfg.comp else RAW) | (DIRECT if near else 0)
    blocks = query_blocks(cfg, seq_len, kv_len)
    for g in range(batch * kv_heads):
        q_base = lay.q_base + g * group * seq_len * rb
        o_base = lay.o_base + g * group * seq_len * orow
        kb, vb = lay.k_base + g * keys * rb, lay.v_base + g * keys * vrb
        for qb, r0, r1 in blocks:
            nk, n_keep = cfg.candidates(qb), cfg.kept(qb)
            # DIRECT: the compressed keys are job keys Skv + c after the tokens, and only the
            # head's first job invalidates the scratchpad; else K_BASE at the compressed rows
            key0, base, vbase = (kv_len, kb, vb) if near else \
                (0, kb + kv_len * rb, vb + kv_len * vrb)
            first_of_head = qb == blocks[0][0]
            # 1. SCORE: the rows' compressed keys (one run a row), block scores accumulated
            chunks = score_chunks(cfg, group, qb, r0, r1, hw)
            for c0, c1 in chunks:
                rows = c1 - c0
                ctrl = mode | (FIRST if c0 == r0 else 0) | (LAST if c1 == r1 else 0)
                out += [np.array([(F["IDX_RESET"], 0, 0)], dtype=np.uint64),
                        _load4(F["LOAD_RUNS"], np.full(rows, nk << 16 | key0, dtype=np.uint64)),
                        _load4(F["LOAD_ROWPTR"], np.arange(rows + 1, dtype=np.uint64)),
                        np.array(_sets([("ROW_BASE", c0), ("ROW_COUNT", rows), ("Q_BASE", q_base),
                                        ("N_RUNS", rows), ("NUM_KEYS", key0 + nk),
                                        ("K_BASE", base), ("V_BASE", vbase),
                                        ("O_BASE", o_base + one), ("NSA_CTRL", ctrl),
                                        ("NSA_POS", off + c0), ("NSA_BLOCK", cfg.block),
                                        ("NSA_N", n_keep), ("NSA_LIMIT", kv_len)])
                                 + [(F["START"], int(c0 == r0 and (first_of_head or not near)), 0)],
                                 dtype=np.uint64)]
            # 2. SELECT: the block's rows over the kept blocks (runs from the top-n unit)
            out.append(np.array(_sets([
                ("NSA_CTRL", SELECT | (DIRECT if near else 0)), ("ROW_BASE", r0),
                ("ROW_COUNT", r1 - r0), ("N_RUNS", n_keep), ("NUM_KEYS", kv_len),
                ("NSA_POS", off + r0 if cfg.causal else NO_CUT),
                ("K_BASE", kb), ("V_BASE", vb), ("O_BASE", o_base)])
                + [(F["START"], 0 if near else 1, 0)], dtype=np.uint64))
    return Program(lay, np.concatenate(out), info)


def program(params, shape) -> Program:
    """The bsr program of an op (``params``: its resolved attributes, precision and scales)
    on operands of ``shape`` (:func:`plan`): what ``sattn-lower-rocc`` records and what the
    RoCC backend runs when the op has no record."""
    score, out_scale = score_scales(params, shape.head_dim)
    cfg = config(params, shape.kv_len)
    info = program_info("bsr", params, shape, shape.kv_len + cfg.nb)
    return plan(params, precision=params.precision, heads=shape.heads, kv_heads=shape.kv_heads,
                seq_len=shape.seq_len, kv_len=shape.kv_len, head_dim=shape.head_dim,
                head_dim_v=shape.head_dim_v, batch=shape.batch, score_scale=score,
                out_scale=out_scale, info=info)


def planned_for(params, shape) -> dict[str, Any]:
    """The resolved bsr parameters a program is planned for at ``shape`` (block size, blocks
    kept, causal, the compression block, precision), recorded beside it: a call whose
    parameters were edited is planned again."""
    cfg = config(params, shape.kv_len)
    return {"block_size": cfg.block, "keep_blocks": cfg.n, "causal": int(cfg.causal),
            "comp_block_size": params.comp_block_size, "precision": params.precision}


def kept_blocks(dump: str, cfg: BsrChip, *, batch: int, kv_heads: int, seq_len: int,
                kv_len: int) -> list[list[list[list[int]]]]:
    """The blocks the RTL kept, ``[B][Hkv][query block][rank]`` (query blocks from the first
    holding a row, the kept block ids in rank order), from the testbench's
    ``--dump-selection`` lines (one per LAST SCORE job, in program order)."""
    blocks = query_blocks(cfg, seq_len, kv_len)
    lines = [ln.split() for ln in dump.splitlines() if ln.strip()]
    if len(lines) != batch * kv_heads * len(blocks):
        raise SattnError(f"rocc bsr: the selection dump has {len(lines)} lines, expected "
                         f"{batch * kv_heads * len(blocks)} (one per query block's LAST SCORE job)")
    out: list[list[list[list[int]]]] = [[[] for _ in range(kv_heads)] for _ in range(batch)]
    it = iter(lines)
    for e in range(batch):
        for g in range(kv_heads):
            for qb, _, _ in blocks:
                parts = next(it)
                if len(parts) - 1 > cfg.kept(qb):
                    raise SattnError(f"rocc bsr: SCORE job {parts[0]} kept {len(parts) - 1} "
                                     f"blocks, more than {cfg.kept(qb)} (an edited NSA_N)")
                out[e][g].append([(int(w) & 0xFFFF) // cfg.block for w in parts[1:]
                                  if int(w) >> 16])
    return out
