"""The selector's terms of a step against a KV cache: Sq query rows at positions
``Skv - Sq .. Skv - 1`` over Skv keys (decode, Sq = 1; chunked prefill).

The square model (:mod:`sattn.selector.terms`) counts the work of all S rows over S keys; a
KV-cache step does the work of its Sq rows only, but over keys reaching back Skv positions, and
a data-dependent pattern still scores every one of the Skv keys to select. Its terms are the
same units (so the same fitted weights apply), counted from the step's own lists:

- the static patterns' rows (sliding_window, block_local_global) are their exact selections,
  built here without data (:func:`sattn.specs.select_indices`; Sq rows, cheap): keys per row,
  index runs per row, the union of the rows' keys (the K/V rows a step reads);
- bsr's rows keep ``min(k, qb + 1)`` blocks of B keys (causal; the diagonal block up to the
  row's position), and its selection scores the query block against all ``ceil(Skv / B)`` key
  blocks: the K block means are a pass over all Skv keys per step.

Per target, what changes against the square model:

**rvv**: the rows run in pairs over the union of their keys; an odd last row (a decode step's
only row) runs paired with the next head of its GQA group (kernels/window.c, bsr.c); ``sel_means`` = K rows (Skv) + the group's query rows (G x Sq) in
float64 chunks, ``sel_scores`` = one query block's strips over the key blocks, ``sel_topk`` and
``sel_blocks`` for that block.
**rocc**: ``mac`` = pairs x ceil(D/16) per query head, ``mem`` = Q and the output of the Sq rows
plus the K and V rows the step reads (once per KV head: the union, not Skv), so ``mem_x`` is
where a decode step spends its cycles: it is memory-bound.
**reference**: the token path (one tile for a few rows): score elements = rows x union keys per
head, the gathered K/V union, the mask; bsr adds its block scoring over Skv keys.

The weights were fitted on square ops (docs/selector.md); their decode rankings are checked
against measured decode runs in bench/selector_regret.py's KV-cache cases.
"""

from __future__ import annotations

import math

import numpy as np

from sattn.ir.schema import AttentionParams
from sattn.selector.terms import (
    ELEMENT_BYTES,
    ROCC_BEAT,
    ROCC_LANES_QK,
    RVV_F64,
    TERMS,
    Op,
    _rvv_calls,
)
from sattn.specs import bsr, select_indices


def _static_rows(p: AttentionParams) -> tuple[np.ndarray, np.ndarray, int]:
    """(keys per row, index runs per row, union of the rows' keys) of one KV head."""
    sel = select_indices(p, p.shape()).groups[0]
    counts = sel.counts().astype(np.float64)
    runs = np.array([1 + int(np.count_nonzero(np.diff(sel.row(i)) != 1)) if c else 0
                     for i, c in enumerate(sel.counts())], dtype=np.float64)
    return counts, runs, int(np.unique(sel.indices).size)


def _bsr_rows(p: AttentionParams) -> tuple[np.ndarray, np.ndarray, int, int, int]:
    """(keys per row, runs per row, union keys, key blocks, kept blocks) of one KV head: rows
    keep ``min(k, qb + 1)`` blocks (causal; every query block ``k``), the diagonal one up to the
    row's position; kept blocks taken as not adjacent (runs = blocks)."""
    shape = p.shape()
    b = p.effective_block_size(shape.kv_len)
    nb = -(-shape.kv_len // b)
    keep = bsr.num_kept(p, nb)
    pos = shape.offset + np.arange(shape.seq_len)
    qb = pos // b
    kept = np.minimum(keep, qb + 1) if p.causal else np.full(len(qb), keep)
    own = (pos % b + 1) if p.causal else np.minimum(b, shape.kv_len - qb * b)
    keys = (kept - 1) * b + own
    blocks = np.unique(qb).size
    union = min(shape.kv_len, int(blocks * keep * b))
    return keys.astype(np.float64), kept.astype(np.float64), union, nb, keep


def _rows(spec: str, p: AttentionParams):
    if spec == "bsr":
        keys, runs, union, _, _ = _bsr_rows(p)
        return keys, runs, union
    return _static_rows(p)


def rvv_terms(spec: str, p: AttentionParams, op: Op) -> dict[str, float]:
    t = {name: 0.0 for name in TERMS["rvv"]}
    keys = _rows(spec, p)[0]
    sq = len(keys)
    # rows i, i+1 run as a pair over the union of their keys (i+1's, the longer); an odd last
    # row (decode: the only one) runs with the next head of its GQA group as the pair
    n = np.maximum(keys[0:sq - 1:2], keys[1:sq:2])
    count = np.full(len(n), float(op.H))
    if sq % 2:
        n, count = np.append(n, keys[-1]), np.append(count, op.H // 2)
    run = None
    if spec == "bsr":  # walked as runs of B keys
        run = np.full(len(n), float(p.effective_block_size(p.shape().kv_len)))
    t.update(_rvv_calls(op, n, count, float(count.sum()), float((sq % 2) * (op.H % 2)), run))
    if spec == "bsr":
        _, kept, _, nb, keep = _bsr_rows(p)
        chunks = math.ceil(op.D / RVV_F64)
        t["sel_means"] = float(op.Hkv * (p.shape().kv_len + op.G * sq) * chunks)
        strips = math.ceil(nb / RVV_F64)
        t["sel_scores"] = float(op.Hkv * strips * op.D)
        t["sel_topk"] = float(op.Hkv * strips * (1 + math.log2(max(nb, 2)))) if keep < nb else 0.0
        t["sel_blocks"] = float(op.Hkv * (nb + kept.sum()))
    t["fixed"] = 1.0
    return t


def rocc_terms(spec: str, p: AttentionParams, op: Op) -> dict[str, float]:
    keys, runs, union = _rows(spec, p)
    sq = len(keys)
    eb = ELEMENT_BYTES[p.precision]
    mac = float(keys.sum()) * op.H * math.ceil(op.D / ROCC_LANES_QK)
    mem = (op.H * sq * op.D * (eb + 4.0) + op.Hkv * 2 * union * op.D * eb) / ROCC_BEAT
    return {
        "mac": mac,
        "rows": float(op.H * sq),
        "runs": float(op.H * runs.sum()),
        "idx": op.Hkv * float(runs.sum() + sq + 1) / 4.0,
        "mem": mem,
        "mem_x": max(0.0, mem - mac),
        "fixed": 1.0,
    }


def reference_terms(spec: str, p: AttentionParams, op: Op) -> dict[str, float]:
    t = {name: 0.0 for name in TERMS["reference"]}
    keys, _, union = _rows(spec, p)
    sq, skv = len(keys), p.shape().kv_len
    t["prep"] = float((op.H * sq + 2 * op.Hkv * skv) * op.D) * (p.precision != "fp32")
    t["elems"] = float(op.H * sq * union)
    t["gather"] = 2.0 * op.Hkv * union * op.D if union < skv else 0.0
    t["bias"] = float(sq * union) if (keys < union).any() else 0.0
    t["tiles_token"] = 1.0
    t["fixed_token"] = 1.0
    if spec == "bsr":
        _, _, _, nb, _ = _bsr_rows(p)
        t["sel_calls"] = float(op.Hkv)
        t["sel_elems"] = float(op.Hkv * (skv + op.G * sq) * op.D * 2)
        t["sel_nb2"] = float(op.Hkv * nb)
    t["flops"] = 4.0 * op.D * t["elems"]
    return t


TARGET_TERMS = {"rvv": rvv_terms, "rocc": rocc_terms, "reference": reference_terms}


def terms(target: str, spec: str, p: AttentionParams, op: Op) -> dict[str, float]:
    """The terms of ``spec`` for the KV-cache op ``p`` (Sq < Skv) on ``target``."""
    # comp_block_size changes bsr's scoring only (sliding_window and block_local_global
    # attend the same keys with it); bsr with it is costed by the square model (cost.op_terms)
    if spec not in ("bsr", "sliding_window", "block_local_global") or (spec == "bsr" and p.comp_block_size):
        raise ValueError(f"no KV-cache terms for spec {spec!r}"
                         + (" with comp_block_size" if p.comp_block_size else ""))
    return TARGET_TERMS[target](spec, p.replace(spec=spec), op)
