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
from sattn.ir.schema import AttentionParams, Shape
from sattn.reference import precision as prec
from sattn.reference.data import check_qkv
from sattn.result import RunResult
from sattn.specs import bsr, bsr_tables, select_indices
from sattn.specs.selection import GroupSelection, Selection, compress_kv

#: Score elements (heads x rows x union keys) per tile.
TILE_ELEMENTS = 1 << 21


def _tile_rows(groups: tuple[GroupSelection, ...] | None, heads: int, block: int | None) -> int:
    if block:
        # whole query blocks per tile: the rows of one block share their key blocks
        return block * max(1, 64 // block)
    maxc = max((int(g.counts().max()) if g.rows else 0) for g in groups)
    t = 128
    while t > 16 and heads * t * (maxc + t) > TILE_ELEMENTS:
        t //= 2
    return t


def _tile_keys(
    sel: GroupSelection | None, r0: int, r1: int, num_keys: int, pos: np.ndarray,
    table: GroupSelection | None = None, block: int | None = None, causal: bool = False,
):
    """(union of the keys of rows r0..r1-1, additive 0/-inf mask [rows, union] or None when
    every row selects the whole union), or None when the rows select nothing. With a block
    table the union comes from the key blocks of the tile's query blocks (no scan of tokens)."""
    if sel is None:  # block table only (bsr): every row takes its blocks, causal cuts j > i
        qb0, qb1 = r0 // block, -(-r1 // block)
        kbs = np.unique(table.indices[table.indptr[qb0] : table.indptr[qb1]])
        union = (kbs.astype(np.int64)[:, None] * block + np.arange(block)[None, :]).ravel()
        union = union[union < num_keys]
        keep = None
        if qb1 - qb0 > 1:  # the tile's query blocks may keep different key blocks
            keep = np.zeros((r1 - r0, len(union)), dtype=bool)
            for j in range(qb0, qb1):
                keep[j * block - r0 : min(r1, (j + 1) * block) - r0] = np.isin(
                    union // block, table.row(j))[None, :]
        if causal:
            below = union[None, :] <= np.arange(r0, r1)[:, None]
            keep = below if keep is None else keep & below
        if keep is None or keep.all():
            return union, None
        return union, np.where(keep, np.float32(0), np.float32(-np.inf))
    a, b = int(sel.indptr[r0]), int(sel.indptr[r1])
    if a == b:
        return None
    c = sel.indptr[r0 + 1 : r1 + 1] - sel.indptr[r0:r1]
    idx = sel.indices[a:b]
    if table is not None and block:
        kbs = table.indices[table.indptr[r0 // block] : table.indptr[-(-r1 // block)]]
        if r1 - r0 > block:
            kbs = np.unique(kbs)
        union = (kbs.astype(np.int64)[:, None] * block + np.arange(block)[None, :]).ravel()
        union = union[union < num_keys]
    else:
        mark = np.zeros(num_keys, dtype=bool)
        mark[idx] = True
        union = np.flatnonzero(mark)
    if (c == len(union)).all():
        return union, None
    pos[union] = np.arange(len(union))
    bias = np.full((r1 - r0, len(union)), -np.inf, dtype=np.float32)
    bias[np.repeat(np.arange(r1 - r0), c), pos[idx]] = 0.0
    return union, bias


def attend(
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    groups: tuple[GroupSelection, ...] | None,
    score_scale: float,
    v_scale: float = 1.0,
    block: int | None = None,
    exact_f64: bool = False,
    tables: tuple[GroupSelection, ...] | None = None,
    causal: bool = False,
) -> np.ndarray:
    """Masked softmax attention of every head.

    ``q``: [H, S, D] operands; ``k``/``v``: [H_kv, N, D] operands of the key space;
    ``groups``: one selection (S rows over N keys) per KV head, shared by the H/H_kv query
    heads of its group. Returns float32 [H, S, D]. ``exact_f64`` computes the dot in float64
    (integer codes too long for an exact fp32 accumulation). ``tables`` (block patterns: the
    block table per KV head, blocks of ``block`` tokens) speed up finding a tile's keys; with
    ``groups=None`` the tables alone define the selection (bsr: every key of the kept blocks,
    ``j <= i`` when ``causal``), so the token rows never need to be built.
    """
    h, s, d = q.shape
    g, n, _ = k.shape
    grp = h // g
    out = np.zeros((g, grp, s, d), dtype=np.float32)
    qg = q.reshape(g, grp, s, d)
    if groups is None:
        shared, sels = False, (None,) * len(tables)
    else:
        shared = all(x is groups[0] for x in groups)  # structural patterns: one selection object
        sels = groups[:1] if shared else groups
    pos = np.empty(n, dtype=np.int64)
    tile = _tile_rows(groups, h, block)
    for r0 in range(0, s, tile):
        r1 = min(s, r0 + tile)
        parts = [_tile_keys(sel, r0, r1, n, pos, tables[i] if tables else None, block, causal)
                 for i, sel in enumerate(sels)]
        if all(p is None for p in parts):
            continue
        if shared:
            union, bias = parts[0]
            ku, vu = k[:, union], v[:, union]  # [G, U, D]
        else:
            width = max(len(p[0]) for p in parts if p is not None)
            ku = np.zeros((g, width, d), dtype=k.dtype)
            vu = np.zeros((g, width, d), dtype=v.dtype)
            need_bias = any(p is None or p[1] is not None or len(p[0]) < width for p in parts)
            bias = np.full((g, 1, r1 - r0, width), -np.inf, np.float32) if need_bias else None
            for i, p in enumerate(parts):
                if p is None:
                    continue
                u = len(p[0])
                ku[i, :u], vu[i, :u] = k[i, p[0]], v[i, p[0]]
                if bias is not None:
                    bias[i, 0, :, :u] = 0.0 if p[1] is None else p[1]
        rows = r1 - r0
        # 3-D contiguous operands: numpy hands each [grp*rows, D] x [D, U] slice to BLAS
        qt = np.ascontiguousarray(qg[:, :, r0:r1]).reshape(g, grp * rows, d)
        kt = np.ascontiguousarray(ku.transpose(0, 2, 1))
        if exact_f64:
            sc = (qt.astype(np.float64) @ kt.astype(np.float64)).astype(np.float32)
        else:
            sc = qt @ kt  # [G, grp*rows, U]
        sc *= np.float32(score_scale)
        if bias is not None:
            sc.reshape(g, grp, rows, -1)[...] += bias
        m = sc.max(axis=2, keepdims=True)
        m[~np.isfinite(m)] = 0.0  # empty rows: exp(-inf) = 0 everywhere
        sc -= m
        np.exp(sc, out=sc)
        denom = sc.sum(axis=2, keepdims=True)
        o = sc @ vu  # [G, grp*rows, D]
        with np.errstate(invalid="ignore", divide="ignore"):
            o *= np.where(denom > 0, np.float32(v_scale) / denom, np.float32(0.0))
        o = o.reshape(g, grp, rows, d)
        out[:, :, r0:r1] = o
    return out.reshape(h, s, d)


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
    if selection is None and params.spec == "bsr":
        # bsr rows are whole key blocks: attend from the block tables, never build token rows
        return _attend_tables(params, shape, q, k, v, bsr_tables(params, shape, q, k))
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
    return attend(ops.q, kk, vv, selection.groups, ops.score_scale, ops.v_scale,
                  selection.block_size, _exact_f64(ops), selection.block_table)


def _attend_tables(params: AttentionParams, shape: Shape, q: np.ndarray, k: np.ndarray,
                   v: np.ndarray, tables: tuple[GroupSelection, ...]) -> np.ndarray:
    ops = prec.prepare(params, q, k, v)
    return attend(ops.q, ops.k, ops.v, None, ops.score_scale, ops.v_scale,
                  params.effective_block_size(shape.seq_len), _exact_f64(ops), tables,
                  bool(params.causal))


def _exact_f64(ops: prec.Operands) -> bool:
    return prec.is_integer(ops.precision) and not ops.exact_int_dot_in_fp32


def run(params: AttentionParams, q: np.ndarray, k: np.ndarray, v: np.ndarray, **options) -> RunResult:
    """The reference backend (``sattn run --backend reference``).

    Options: ``selection`` (a precomputed :class:`Selection`). Counters are exact counts of
    the work done: ``selected_pairs`` (query-key pairs over KV heads) and ``dense_pairs``.
    """
    shape = check_qkv(q, k, v, params.gqa_group_size)
    t0 = time.perf_counter()
    sel = options.get("selection")
    if sel is None and params.spec == "bsr":  # block tables suffice (see attention())
        tables = bsr_tables(params, shape, q, k)
        t1 = time.perf_counter()
        out = _attend_tables(params, shape, q, k, v, tables)
        nnz, key_space = sum(bsr.table_nnz(shape, params, t) for t in tables), "tokens"
    else:
        sel = sel if sel is not None else select_indices(params, shape, q, k)
        t1 = time.perf_counter()
        out = attention(params, q, k, v, selection=sel)
        nnz, key_space = sel.nnz, sel.key_space
    t2 = time.perf_counter()
    dense_pairs = shape.kv_heads * shape.seq_len * shape.seq_len
    counters = {"selected_pairs": nnz, "dense_pairs": dense_pairs}
    line = (f"reference: precision={params.precision} H={shape.heads} kv_heads={shape.kv_heads} "
            f"S={shape.seq_len} D={shape.head_dim} selected_pairs={nnz} "
            f"dense_pairs={dense_pairs} key_space={key_space}")
    return RunResult(
        backend="reference", spec=params.spec, output=out, density=nnz / dense_pairs,
        counters=counters,
        timings={"select_s": t1 - t0, "attend_s": t2 - t1}, lines=[line], params=params,
    )
