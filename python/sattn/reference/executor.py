"""The reference backend: masked sparse attention in NumPy, the semantics every backend matches.

``out[h, i] = softmax_j(score(h, i, j)) . V[g, j]`` over the keys ``j`` that
:func:`sattn.specs.select_indices` selected for row ``i`` of KV head ``g = h // group``, with
``score = (Q[h,i] . K[g,j]) / sqrt(D)`` on the operands of the precision
(:mod:`sattn.reference.precision`): fp32 accumulation for fp32/bf16, an exact int32 dot times
``scale_q * scale_k / sqrt(D)`` for i8/i4, whose output is ``scale_v * (P . V_codes)``.
Softmax is fp32 with the row maximum subtracted. A row with no selected key yields zeros.
For landmark selections K/V are first compressed to segment means (see
:mod:`sattn.specs.landmark`).

Vectorised over query tiles: for a tile of rows the union of their selected keys is gathered,
scored with one matrix product, masked to each row's exact selection and reduced. Memory is
O(tile x union) per step; the selection itself is O(S x selected keys); nothing is O(S^2)
unless the pattern selects that much. No Python loop runs per query.
"""

from __future__ import annotations

import time

import numpy as np

from sattn.errors import SattnError
from sattn.ir.schema import AttentionParams
from sattn.reference import precision as prec
from sattn.reference.data import check_qkv
from sattn.result import RunResult
from sattn.specs import select_indices
from sattn.specs.selection import GroupSelection, Selection, compress_kv

#: Score elements (heads x rows x union keys) per tile.
TILE_ELEMENTS = 1 << 21


def _tile_rows(sel: GroupSelection, heads: int, block: int | None) -> int:
    maxc = int(sel.counts().max()) if sel.rows else 0
    if block:
        # whole query blocks per tile: rows of one block share their key blocks
        return block * max(1, 64 // block)
    t = 128
    while t > 16 and heads * t * (maxc + t) > TILE_ELEMENTS:
        t //= 2
    return t


def attend(
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    sel: GroupSelection,
    score_scale: float,
    v_scale: float = 1.0,
    block: int | None = None,
    exact_f64: bool = False,
) -> np.ndarray:
    """Masked softmax attention of one GQA group.

    ``q``: [heads, S, D] operands of the group's query heads; ``k``/``v``: [N, D] operands of
    the key space; ``sel``: the shared selection (S rows over N keys). Returns float32
    [heads, S, D]. ``exact_f64`` computes the dot in float64 (integer codes too long for an
    exact fp32 accumulation).
    """
    heads, s, d = q.shape
    n = k.shape[0]
    out = np.zeros((heads, s, d), dtype=np.float32)
    counts = sel.counts()
    pos = np.empty(n, dtype=np.int64)
    tile = _tile_rows(sel, heads, block)
    for r0 in range(0, s, tile):
        r1 = min(s, r0 + tile)
        a, b = int(sel.indptr[r0]), int(sel.indptr[r1])
        if a == b:
            continue
        idx = sel.indices[a:b]
        mark = np.zeros(n, dtype=bool)
        mark[idx] = True
        union = np.flatnonzero(mark)
        pos[union] = np.arange(len(union))
        c = counts[r0:r1]
        full = bool((c == len(union)).all())
        ku, vu = k[union], v[union]
        qt = q[:, r0:r1]
        if exact_f64:
            sc = (qt.astype(np.float64) @ ku.astype(np.float64).T).astype(np.float32)
        else:
            sc = qt @ ku.T  # [heads, rows, union]
        sc *= np.float32(score_scale)
        if not full:
            mask = np.zeros((r1 - r0, len(union)), dtype=bool)
            mask[np.repeat(np.arange(r1 - r0), c), pos[idx]] = True
            sc[:, ~mask] = -np.inf
        m = sc.max(axis=2, keepdims=True)
        m[~np.isfinite(m)] = 0.0  # empty rows: exp(-inf) = 0 everywhere
        sc -= m
        np.exp(sc, out=sc)
        denom = sc.sum(axis=2, keepdims=True)
        o = sc @ vu
        with np.errstate(invalid="ignore", divide="ignore"):
            o = np.where(denom > 0, o * (np.float32(v_scale) / denom), 0.0)
        out[:, r0:r1] = o
    return out


def landmark_operands(
    params: AttentionParams, ops: prec.Operands, assign: np.ndarray, landmarks: int
) -> tuple[np.ndarray, np.ndarray]:
    """Compressed K/V operands [H_kv, L, D] of a landmark selection: segment means of the
    operands. fp32/bf16 average the (rounded) values, bf16 rounds the means again; i8/i4
    average the integer codes and round the mean half to even (exactly: no scale involved)."""
    qmax = prec.QMAX.get(ops.precision)
    kc_all, vc_all = [], []
    for g in range(ops.k.shape[0]):
        kc, vc = compress_kv(ops.k[g], ops.v[g], assign[g], landmarks)
        if qmax is not None:
            kc, vc = (np.clip(np.rint(x), -qmax, qmax).astype(np.float32) for x in (kc, vc))
        elif ops.precision == "bf16":
            kc, vc = prec.round_bf16(kc), prec.round_bf16(vc)
        kc_all.append(kc)
        vc_all.append(vc)
    return np.stack(kc_all), np.stack(vc_all)


def attention(
    params: AttentionParams,
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    selection: Selection | None = None,
) -> np.ndarray:
    """The reference output float32 [H, S, D] (the oracle every backend is compared with)."""
    shape = check_qkv(q, k, v, params.gqa_group_size)
    if selection is None:
        selection = select_indices(params, shape, q, k)
    if selection.seq_len != shape.seq_len or len(selection.groups) != shape.kv_heads:
        raise SattnError(
            f"selection is for S={selection.seq_len} with {len(selection.groups)} KV heads, "
            f"but the inputs have S={shape.seq_len} with {shape.kv_heads}"
        )
    ops = prec.prepare(params, q, k, v)
    kk, vv = ops.k, ops.v
    if selection.key_space == "landmarks":
        kk, vv = landmark_operands(params, ops, selection.landmark_assign, selection.num_keys)
    grp = shape.group
    exact_f64 = prec.is_integer(ops.precision) and not ops.exact_int_dot_in_fp32
    out = np.empty_like(q)
    for g in range(shape.kv_heads):
        heads = slice(g * grp, (g + 1) * grp)
        out[heads] = attend(ops.q[heads], kk[g], vv[g], selection.groups[g], ops.score_scale,
                            ops.v_scale, selection.block_size, exact_f64)
    return out


def run(params: AttentionParams, q: np.ndarray, k: np.ndarray, v: np.ndarray, **options) -> RunResult:
    """The reference backend (``sattn run --backend reference``).

    Options: ``selection`` (a precomputed :class:`Selection`). Counters are exact counts of
    the work done: ``selected_pairs`` (query-key pairs over KV heads) and ``dense_pairs``.
    """
    shape = check_qkv(q, k, v, params.gqa_group_size)
    t0 = time.perf_counter()
    sel = options.get("selection") or select_indices(params, shape, q, k)
    t1 = time.perf_counter()
    out = attention(params, q, k, v, selection=sel)
    t2 = time.perf_counter()
    dense_pairs = shape.kv_heads * shape.seq_len * shape.seq_len
    counters = {"selected_pairs": sel.nnz, "dense_pairs": dense_pairs}
    line = (f"reference: precision={params.precision} H={shape.heads} kv_heads={shape.kv_heads} "
            f"S={shape.seq_len} D={shape.head_dim} selected_pairs={sel.nnz} "
            f"dense_pairs={dense_pairs} key_space={sel.key_space}")
    return RunResult(
        backend="reference", spec=sel.spec, output=out, density=sel.density, counters=counters,
        timings={"select_s": t1 - t0, "attend_s": t2 - t1}, lines=[line], params=params,
    )
