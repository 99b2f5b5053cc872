"""``sattn-bufferize``: assign every operand a buffer, its size in bytes and its layout.

Q and the output are ``[H, Sq, D]`` (the output ``Dv`` wide), K and V ``[H_kv, Skv, D]`` (V
``Dv`` wide), all row-major
(``buffer_layout = "rowmajor"``: d fastest, then s, then head, then batch: with rank-4
operands ``[B, ...]`` every buffer, the index included, holds B of them). Inputs are stored in the
precision's format (fp32 4 bytes, bf16 2, i8 1, i4 two per byte); the output is fp32. The
index buffer holds int32 CSR rows per KV head, ``(S + 1) * 4 + nnz * 4`` bytes; ``nnz`` is
exact when ``sattn-materialize-indices`` ran on a static pattern (``index_exact = 1``), else
the pattern's upper bound::

    buffers = {q = 32768, k = 32768, v = 32768, out = 32768, index = 9220,
               index_exact = 1, total = 140292}
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from xdsl.dialects.builtin import StringAttr

from sattn.ir.attrs import UNIT, from_py
from sattn.ir.dialect import SattnOp
from sattn.ir.precisions import TABLE as PRECISION_TABLE
from sattn.ir.schema import AttentionParams
from sattn.selector import Hints
from sattn.specs import pattern_of
from sattn.transforms.common import AnnotatePass, selected_params

LAYOUT = "rowmajor"


@dataclass(frozen=True)
class BufferizePass(AnnotatePass):
    """Attach buffer sizes and the row-major layout."""

    name = "sattn-bufferize"

    def record(self, op: SattnOp, context: Hints) -> dict:
        return {
            "bufferized": UNIT,
            "buffer_layout": StringAttr(LAYOUT),
            "buffers": from_py(buffers(selected_params(op, context)), "buffers"),
        }


def _elem_bytes(n: int, precision: str) -> int:
    return PRECISION_TABLE[precision].storage_bytes(n)


def pair_bound(p: AttentionParams) -> int:
    """Upper bound of selected (query, key) pairs per KV head (the pattern's own; a KV-cache
    op's Sq rows each select at most the pattern's keys of a row over Skv keys)."""
    shape, pattern = p.shape(), pattern_of(p.spec)
    if shape.offset:
        return shape.seq_len * pattern.keys_bound(p, shape.kv_len)
    return pattern.pair_bound(p, shape.seq_len)


def buffers(p: AttentionParams) -> dict[str, Any]:
    shape = p.shape()
    h, hk, s, d = shape.heads, shape.kv_heads, shape.seq_len, shape.head_dim
    skv = shape.kv_len  # K and V hold the cache's Skv rows
    dv = shape.head_dim_v  # V and the output have Dv columns
    table = p.extra.get("index_table")
    exact = isinstance(table, dict) and "nnz" in table and not table.get("per_head")
    nnz = int(table["nnz"]) if exact else pair_bound(p)  # type: ignore[index]
    b = p.batch or 1  # data-dependent specs select per batch element: B index tables
    out = {
        "q": _elem_bytes(b * h * s * d, p.precision),
        "k": _elem_bytes(b * hk * skv * d, p.precision),
        "v": _elem_bytes(b * hk * skv * dv, p.precision),
        "out": 4 * b * h * s * dv,
        "index": b * hk * 4 * (s + 1 + nnz),
        "index_exact": int(exact),
    }
    out["total"] = out["q"] + out["k"] + out["v"] + out["out"] + out["index"]
    return out
