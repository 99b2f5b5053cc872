"""The reference backend: masked sparse attention in NumPy, the semantics every backend matches.

``out[b, h, i] = softmax_j(score(b, h, i, j)) . V[b, g, j]`` over the keys ``j`` that
:func:`sattn.specs.select_indices` selected for row ``i`` of KV head ``g = h // group``, with
``score = (Q[h,i] . K[g,j]) / sqrt(D)`` on the operands of the precision
(:mod:`sattn.precision`): fp32 accumulation for fp32/bf16, an exact int32 dot times
``scale_q * scale_k / sqrt(D)`` for i8/i4, whose output is ``scale_v * (P . V_codes)``.
Softmax is fp32 with the row maximum subtracted. A row with no selected key yields zeros.
Q and K have D columns, V and the output Dv (which may differ: it only changes the P.V side).
A batch (rank-4 tensors) runs element by element: each selects from its own Q and K, and
memory is that of one element.
For landmark selections K/V are first compressed to segment means (see
:mod:`sattn.specs.landmark`). A composite pattern (nsa: three gated softmaxes) is not one
softmax over a selection: the executor calls its ``attend`` hook
(:meth:`sattn.specs.pattern.Pattern.attend`) on the checked inputs instead, with its gates.

Vectorised over query tiles: for a tile of rows the union of their selected keys is gathered,
scored with one matrix product, masked to each row's exact selection and reduced. Memory is
O(tile x union) per step; the selection itself is O(S x selected keys); nothing is O(S^2)
unless the pattern selects that much. No Python loop runs per query.

Two structural fast paths compute the same thing without index lists when the executor selects
by itself (``selection=None``): :func:`attend_band` (sliding_window without wrap, and dense as
the band of half-width S - 1: each query tile scores a contiguous key slab, -inf only on the
slab's two triangular edges) and
:func:`attend_blocks` (bsr: the kept key blocks of each query block are gathered block-wise
from the block tables). Tiles are independent and run on every core
(:mod:`sattn.reference.threads`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np

from sattn import precision as prec
from sattn import resources
from sattn.errors import SattnError
from sattn.ir.schema import AttentionParams, Shape
from sattn.reference.data import check_finite, check_qkv, check_values
from sattn.reference.threads import parallel_map, single_threaded_blas
from sattn.result import RunResult
from sattn.specs import pattern_of, select_indices
from sattn.specs.recorded import recorded_selection
from sattn.specs.selection import GroupSelection, Selection, compress_kv

#: Every counter :func:`run` reports (``RunResult.counters`` keys).
COUNTERS: tuple[str, ...] = ("selected_pairs", "dense_pairs")

#: Score elements (heads x rows x union keys) per tile.
TILE_ELEMENTS = 1 << 21


def _tile_rows(groups: tuple[GroupSelection, ...], heads: int, block: int | None) -> int:
    if block:
        # whole query blocks per tile: the rows of one block share their key blocks
        return block * max(1, 64 // block)
    maxc = max((int(g.counts().max()) if g.rows else 0) for g in groups)
    t = 128
    while t > 16 and heads * t * (maxc + t) > TILE_ELEMENTS:
        t //= 2
    return t


def _tile_keys(
    sel: GroupSelection, r0: int, r1: int, num_keys: int, pos: np.ndarray,
    table: GroupSelection | None = None, block: int | None = None,
):
    """(union of the keys of rows r0..r1-1, additive 0/-inf mask [rows, union] or None when
    every row selects the whole union), or None when the rows select nothing. With a block
    table the union comes from the key blocks of the tile's query blocks (no scan of tokens)."""
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


def _scores(qt: np.ndarray, kt: np.ndarray, score_scale: float, exact_f64: bool) -> np.ndarray:
    """``(qt @ kt) * score_scale`` in float32 (the dot in float64 when ``exact_f64``)."""
    if exact_f64:
        sc = (qt.astype(np.float64) @ kt.astype(np.float64)).astype(np.float32)
    elif math.frexp(score_scale)[0] == 0.5:
        # a power of two (1/sqrt(64) = 1/8) scales every partial sum exactly: scaling the
        # [rows, D] queries gives the same bits as scaling the [rows, keys] scores, cheaper
        return (qt * np.float32(score_scale)) @ kt
    else:
        sc = qt @ kt
    sc *= np.float32(score_scale)
    return sc


def _softmax_pv(sc: np.ndarray, vt: np.ndarray, v_scale: float, may_be_empty: bool) -> np.ndarray:
    """Row softmax of the masked scores ``sc`` [..., M, U] (overwritten) times ``vt`` [..., U, D],
    times ``v_scale``; rows whose scores are all -inf give zeros when ``may_be_empty``."""
    m = sc.max(axis=-1, keepdims=True)
    if may_be_empty:
        m[~np.isfinite(m)] = 0.0  # empty rows: exp(-inf) = 0 everywhere
    sc -= m
    np.exp(sc, out=sc)
    denom = sc.sum(axis=-1, keepdims=True)
    o = sc @ vt
    if may_be_empty:
        with np.errstate(invalid="ignore", divide="ignore"):
            o *= np.where(denom > 0, np.float32(v_scale) / denom, np.float32(0.0))
    else:  # the row maximum contributes exp(0) = 1: denom >= 1
        o *= np.float32(v_scale) / denom
    return o


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

    ``q``: [H, S, D] operands; ``k``: [H_kv, N, D] and ``v``: [H_kv, N, Dv] operands of the key
    space; ``groups``: one selection (S rows over N keys) per KV head, shared by the H/H_kv query
    heads of its group. Returns float32 [H, S, Dv]. ``exact_f64`` computes the dot in float64
    (integer codes too long for an exact fp32 accumulation). ``tables`` (block patterns: the
    block table per KV head, blocks of ``block`` tokens) speed up finding a tile's keys; with
    ``groups=None`` the tables alone define the selection (bsr: every key of the kept blocks,
    ``j <= i`` when ``causal``), so the token rows never need to be built
    (:func:`attend_blocks`).
    """
    if groups is None:
        return attend_blocks(q, k, v, tables, block, causal, score_scale, v_scale, exact_f64)
    h, s, d = q.shape
    g, n, _ = k.shape
    dv = v.shape[-1]
    grp = h // g
    out = np.zeros((g, grp, s, dv), dtype=np.float32)
    qg = q.reshape(g, grp, s, d)
    shared = all(x is groups[0] for x in groups)  # structural patterns: one selection object
    sels = groups[:1] if shared else groups
    tile = _tile_rows(groups, h, block)

    def one_tile(r0: int) -> None:
        r1 = min(s, r0 + tile)
        pos = np.empty(n, dtype=np.int64)  # per tile: tiles run on several threads
        parts = [_tile_keys(sel, r0, r1, n, pos, tables[i] if tables else None, block)
                 for i, sel in enumerate(sels)]
        if all(p is None for p in parts):
            return
        if shared:
            union, bias = parts[0]
            # every key (a dense decode step): the cache itself, not a gathered copy of it
            ku, vu = (k, v) if len(union) == n else (k[:, union], v[:, union])  # [G, U, D]
        else:
            width = max(len(p[0]) for p in parts if p is not None)
            ku = np.zeros((g, width, d), dtype=k.dtype)
            vu = np.zeros((g, width, dv), dtype=v.dtype)
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
        sc = _scores(qt, kt, score_scale, exact_f64)  # [G, grp*rows, U]
        if bias is not None:
            sc.reshape(g, grp, rows, -1)[...] += bias
        o = _softmax_pv(sc, vu, v_scale, True)  # [G, grp*rows, Dv]
        out[:, :, r0:r1] = o.reshape(g, grp, rows, dv)

    parallel_map(one_tile, range(0, s, tile))
    return out.reshape(h, s, dv)


def _head_chunk(g: int, elements_per_head: int) -> int:
    """KV heads per tile so that a tile's score block stays about TILE_ELEMENTS."""
    hc = g
    while hc > 1 and hc * elements_per_head > TILE_ELEMENTS:
        hc = -(-hc // 2)
    return hc


def band_pairs(seq_len: int, window: int, dilation: int, causal: bool) -> int:
    """Selected (query, key) pairs of one KV head of a non-wrapping sliding window, counted
    without building it: query ``i`` takes ``i + dilation * t``, ``-window <= t <= window``
    (``t <= 0`` when causal), inside ``[0, S)``."""
    total = 0
    ahead = 0 if causal else window
    for c in range(min(dilation, seq_len)):
        n = len(range(c, seq_len, dilation))  # queries (and keys) with residue c
        i = np.arange(n, dtype=np.int64)
        total += int((np.minimum(n - 1, i + ahead) - np.maximum(0, i - window) + 1).sum())
    return total


def attend_band(
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    window: int,
    dilation: int = 1,
    causal: bool = False,
    score_scale: float = 1.0,
    v_scale: float = 1.0,
    exact_f64: bool = False,
) -> np.ndarray:
    """Attention over a non-wrapping (dilated, optionally causal) sliding window, without
    index lists: equal to :func:`attend` on :func:`sattn.specs.sliding_window.select`.

    Queries and keys of one residue ``c`` modulo ``dilation`` form a dilation-1 band of
    half-width ``window``. A tile of ``t`` consecutive queries of it scores the contiguous key
    slab ``[r0 - window, r1 + window)`` (clipped; ``r1`` when causal) with one batched product
    over the heads; only the slab's first and last ``t`` columns hold keys outside some row's
    band, so only those two triangles are set to -inf (no mask over the whole tile).
    """
    h, s, d = q.shape
    g = k.shape[0]
    dv = v.shape[-1]
    grp = h // g
    out = np.empty((g, grp, s, dv), dtype=np.float32)
    ahead = 0 if causal else window
    rows = 64  # tile rows: the masked triangles cost (rows - 1) / (rows + 2 * window)
    while rows > 8 and h * rows * (rows + window + ahead) > TILE_ELEMENTS:
        rows //= 2
    hc = _head_chunk(g, grp * rows * (rows + window + ahead))
    tasks = []
    residues = []
    for c in range(min(dilation, s)):
        if dilation == 1:
            qs, ks, vs = q, k, v
        else:  # a contiguous copy of every residue's rows keeps each key slab one view
            qs, ks, vs = (np.ascontiguousarray(x[:, c::dilation]) for x in (q, k, v))
        n = ks.shape[1]
        residues.append((qs.reshape(g, grp, n, d), ks, vs, out[:, :, c::dilation], n))
        tasks += [(len(residues) - 1, g0, r0) for r0 in range(0, n, rows)
                  for g0 in range(0, g, hc)]

    def one_tile(task: tuple[int, int, int]) -> None:
        ci, g0, r0 = task
        qg, ks, vs, og, n = residues[ci]
        g1, r1 = min(g, g0 + hc), min(n, r0 + rows)
        t = r1 - r0
        lo, hi = max(0, r0 - window), min(n, r1 + ahead)
        qt = qg[g0:g1, :, r0:r1].reshape(g1 - g0, grp * t, d)
        sc = _scores(qt, ks[g0:g1, lo:hi].transpose(0, 2, 1), score_scale, exact_f64)
        # slab column of row i's first / last key; only columns < max(a) or > min(b) can be out
        i = np.arange(r0, r1)
        a = np.maximum(i - window, lo) - lo
        b = np.minimum(i + ahead, hi - 1) - lo
        width = hi - lo
        sc4 = sc.reshape(g1 - g0, grp, t, width)
        left, right = int(a.max()), int(b.min()) + 1
        if left > 0:
            np.copyto(sc4[..., :left], -np.inf, where=np.arange(left)[None, :] < a[:, None])
        if right < width:
            np.copyto(sc4[..., right:], -np.inf,
                      where=np.arange(right, width)[None, :] > b[:, None])
        o = _softmax_pv(sc, vs[g0:g1, lo:hi], v_scale, False)  # every row keeps key i
        og[g0:g1, :, r0:r1] = o.reshape(g1 - g0, grp, t, dv)

    parallel_map(one_tile, tasks)
    return out.reshape(h, s, dv)


def attend_blocks(
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    tables: tuple[GroupSelection, ...],
    block: int,
    causal: bool = False,
    score_scale: float = 1.0,
    v_scale: float = 1.0,
    exact_f64: bool = False,
) -> np.ndarray:
    """Attention of a block table per KV head (bsr): every query of query block ``qb`` takes
    every key of the kept key blocks (``j <= i`` when ``causal``); equal to :func:`attend` on
    the expanded token rows (:func:`sattn.specs.bsr.expand`).

    The kept blocks of a query block are gathered block-wise into a contiguous
    [heads, kept * block, D] buffer (one fancy index per tile, no token lists) and scored with
    one batched product. Rows keeping fewer blocks are padded with a -inf block; a bias is
    only built for tiles that need one (padding, a partial last block, causal).
    """
    h, s, d = q.shape
    g = k.shape[0]
    dv = v.shape[-1]
    grp = h // g
    nb = -(-s // block)
    padded = nb * block
    counts = np.stack([t.counts() for t in tables])  # [G, nb]
    kept = max(1, int(counts.max()))
    # [G, nb, kept] key block ids; padding slots repeat the query block itself (a valid id)
    idx = np.repeat(np.arange(nb)[None, :, None], g, axis=0).repeat(kept, axis=2)
    for gi, t in enumerate(tables):
        r = np.repeat(np.arange(nb), t.counts())
        idx[gi, r, np.arange(t.nnz) - t.indptr[r]] = t.indices
    pad = np.arange(kept)[None, None, :] >= counts[:, :, None]
    if padded != s:  # zero rows complete the last block; their keys get -inf, rows are cut
        q, k, v = (np.concatenate([x, np.zeros((x.shape[0], padded - s, x.shape[-1]), x.dtype)],
                                  axis=1) for x in (q, k, v))
    q5 = q.reshape(g, grp, nb, block, d)
    k4, v4 = k.reshape(g, nb, block, d), v.reshape(g, nb, block, dv)
    out = np.empty((g, grp, nb, block, dv), dtype=np.float32)
    nq = max(1, 64 // block)  # query blocks per tile: >= 64 rows
    while nq > 1 and g * grp * nq * block * kept * block > TILE_ELEMENTS:
        nq //= 2
    hc = _head_chunk(g, grp * nq * block * kept * block)
    u = np.arange(block)
    last_partial = padded != s

    def one_tile(task: tuple[int, int]) -> None:
        g0, b0 = task
        g1, b1 = min(g, g0 + hc), min(nb, b0 + nq)
        gn, qn = g1 - g0, b1 - b0
        kb = idx[g0:g1, b0:b1]  # [gn, qn, kept]
        heads = np.arange(g0, g1)[:, None, None]
        kt = k4[heads, kb].reshape(gn * qn, kept * block, d)
        vt = v4[heads, kb].reshape(gn * qn, kept * block, dv)
        qt = q5[g0:g1, :, b0:b1].transpose(0, 2, 1, 3, 4).reshape(gn * qn, grp * block, d)
        sc = _scores(qt, kt.transpose(0, 2, 1), score_scale, exact_f64)
        tpad = pad[g0:g1, b0:b1]
        if causal or tpad.any() or (last_partial and (kb == nb - 1).any()):
            j = kb[..., None] * block + u  # [gn, qn, kept, block] key token ids
            keep = ~tpad[..., None] & (j < s)
            keep = np.broadcast_to(keep[:, :, None], (gn, qn, block, kept, block))
            if causal:
                i = (np.arange(b0, b1)[:, None] * block + u)[None, :, :, None, None]
                keep = keep & (j[:, :, None] <= i)
            bias = np.where(keep, np.float32(0), np.float32(-np.inf))
            sc.reshape(gn, qn, grp, block, kept * block)[...] += bias.reshape(
                gn, qn, 1, block, kept * block)
            o = _softmax_pv(sc, vt, v_scale, True)
        else:
            o = _softmax_pv(sc, vt, v_scale, False)
        out[g0:g1, :, b0:b1] = o.reshape(gn, qn, grp, block, dv).transpose(0, 2, 1, 3, 4)

    parallel_map(one_tile, [(g0, b0) for b0 in range(0, nb, nq) for g0 in range(0, g, hc)])
    return out.reshape(h, padded, dv)[:, :s]


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
    selection: Selection | Sequence[Selection] | None = None,
    gates: Sequence[np.ndarray | None] | None = None,
) -> np.ndarray:
    """The reference output float32 [H, Sq, Dv], or [B, H, Sq, Dv] for rank-4 inputs (the oracle
    every backend is compared with).

    Q [H, Sq, D], K [H_kv, Skv, D], V [H_kv, Skv, Dv], or all three with a leading batch B:
    each batch element is attended on its own (a data-dependent pattern selects from that
    element's Q and K), one after the other, so memory is that of one element.
    ``selection``: a precomputed :class:`Selection` (B = 1), or one per batch element.
    ``gates``: a composite pattern's extra inputs (nsa: ``(g_cmp, g_slc, g_swa)``, each
    ``[B, Sq, H]`` or None for 1.0). Inputs are checked first (:func:`_check`: the values the
    run reads), and a run that would not fit the machine is refused
    (:func:`sattn.resources.reference`)."""
    shape = check_qkv(q, k, v, params.gqa_group_size)
    if pattern_of(params.spec).composite:
        return _composite(params, shape, q, k, v, selection, gates)[0]
    _no_gates(params, gates)
    sels = _selections(params, shape, selection)
    _check(params, shape, q, k, v, sels)
    if q.ndim == 3:
        return _attention_checked(params, shape, q, k, v, sels[0])
    out = np.empty(q.shape[:-1] + (shape.head_dim_v,), np.float32)
    for b in range(shape.batch):
        out[b] = _attention_checked(params, shape.element, q[b], k[b], v[b], sels[b])
    return out


def _no_gates(params: AttentionParams, gates) -> None:
    if gates is not None and any(g is not None for g in gates):
        raise SattnError(f"gates (g_cmp, g_slc, g_swa) are inputs of spec nsa only; spec "
                         f"'{params.spec}' has none")


def _composite(params: AttentionParams, shape: Shape, q: np.ndarray, k: np.ndarray,
               v: np.ndarray, selection, gates) -> tuple[np.ndarray, int]:
    """(output, pairs) of a composite pattern (:meth:`sattn.specs.pattern.Pattern.attend`) on
    checked inputs: the values of Q, K, V (:func:`check_values`), finite gates, the memory."""
    if selection is not None:
        raise SattnError(f"spec '{params.spec}' selects inside its attention: a precomputed "
                         "selection cannot be given")
    gates = tuple(gates) if gates is not None else (None, None, None)
    if len(gates) != 3:
        raise SattnError(f"spec '{params.spec}' takes three gates (g_cmp, g_slc, g_swa), got "
                         f"{len(gates)}")
    check_values(params, q, k, v)
    for g, name in zip(gates, ("g_cmp", "g_slc", "g_swa")):
        if g is not None:
            check_finite(np.asarray(g, dtype=np.float32), f"gate {name}")
    resources.require(resources.reference(params, shape))
    return pattern_of(params.spec).attend(params, shape, q, k, v, gates)


def _selections(params: AttentionParams, shape: Shape,
                selection: Selection | Sequence[Selection] | None) -> list[Selection | None]:
    """One selection per batch element, or None where the element selects from its data: the
    given ones, else a lowered op's edited index table, else (a KV cache and a static pattern)
    the selection made before the inputs are checked. A selection that needs no data is made
    once and shared by every element."""
    if selection is None or isinstance(selection, Selection):
        if selection is not None and shape.batch > 1:
            raise SattnError(f"one selection given for a batch of B={shape.batch}: give one "
                             "per batch element (data-dependent patterns select per element)")
        sels = [selection] * shape.batch
    else:
        sels = list(selection)
        if len(sels) != shape.batch:
            raise SattnError(f"{len(sels)} selections given for a batch of B={shape.batch}")
    if any(s is None for s in sels):
        one = shape.element
        made = recorded_selection(params, one)  # a lowered op's edited index table
        made = _static_kv_cache_selection(params, one, made)
        sels = [made if s is None else s for s in sels]
    return sels


def _attention_checked(params: AttentionParams, shape: Shape, q: np.ndarray, k: np.ndarray,
                       v: np.ndarray, selection: Selection | None) -> np.ndarray:
    """:func:`attention` on inputs :func:`_check` has passed."""
    pattern = pattern_of(params.spec)
    if selection is None and hasattr(pattern, "block_tables") and not shape.offset:
        # rows are whole key blocks (bsr): attend from the block tables, never build token rows
        return _attend_tables(params, shape, q, k, v, _block_tables(params, shape, q, k))
    if selection is None and _is_band(params, shape):
        # dense and a non-wrapping window are bands: attend slab by slab, no index lists
        return _attend_band(params, q, k, v)
    if selection is None:
        selection = select_indices(params, shape, q, k)
    if selection.seq_len != shape.seq_len or len(selection.groups) != shape.kv_heads:
        raise SattnError(
            f"selection is for S={selection.seq_len} with {len(selection.groups)} KV heads, "
            f"but the inputs have S={shape.seq_len} with {shape.kv_heads}"
        )
    if selection.key_space == "tokens" and selection.num_keys != shape.kv_len:
        raise SattnError(f"selection is over {selection.num_keys} keys, but K and V have "
                         f"Skv={shape.kv_len}")
    ops = prec.prepare(params, q, k, v)
    kk, vv = ops.k, ops.v
    if selection.key_space == "landmarks":
        kk, vv = landmark_operands(params, ops, selection.landmark_assign, selection.num_keys)
    return attend(ops.q, kk, vv, selection.groups, ops.score_scale, ops.v_scale,
                  selection.block_size, _exact_f64(ops), selection.block_table)


def _static_kv_cache_selection(params: AttentionParams, shape: Shape,
                               selection: Selection | None) -> Selection | None:
    """With Sq < Skv (a KV cache) a pattern that selects without looking at the data selects
    before the inputs are checked, so that :func:`_check` reads only the K/V rows the run uses."""
    if selection is None and shape.offset and not pattern_of(params.spec).data_dependent:
        return select_indices(params, shape)
    return selection


def _rows_read(params: AttentionParams, shape: Shape, selection: Selection | None) -> np.ndarray | None:
    """The K/V rows (token ids, any KV head) a KV-cache run of a static pattern reads, or None
    for all of them (Sq = Skv, a data-dependent pattern that scores every key, landmark means,
    or a selection reading most of the cache)."""
    if (selection is None or not shape.offset or selection.key_space != "tokens"
            or pattern_of(params.spec).data_dependent):
        return None
    read = np.zeros(shape.kv_len, dtype=bool)
    for g in selection.groups:
        read[g.indices] = True
    rows = np.flatnonzero(read)
    # gathering more than half the cache costs more than checking all of it
    return rows if 2 * len(rows) <= shape.kv_len else None


def _check(params: AttentionParams, shape: Shape, q: np.ndarray, k: np.ndarray, v: np.ndarray,
           selections: list[Selection | None]) -> None:
    """Check the values the run reads and that it fits the machine.

    A decode step of a static pattern reads its selected K/V rows only: those are what
    :func:`check_values` sees (a pass over the whole cache would cost more than the step; rows
    no query reads cannot change the output). The checks are monotone in the rows (non-finite
    values, largest values, row norms, the keys a row can sum), so a failure on the rows read
    is a failure on the whole tensors too: the message is then the whole tensors' (indices into
    the cache as given). ``selections``: one per batch element (the resources are those of one
    element: elements run one after the other)."""
    first = selections[0] if selections else None
    shared = all(s is first for s in selections)  # a static selection serves every element
    rows = _rows_read(params, shape, first) if shared else None
    if rows is None:
        check_values(params, q, k, v)
    else:
        try:
            check_values(params, q, k[..., rows, :], v[..., rows, :])
        except SattnError:
            check_values(params, q, k, v)
            raise
    pairs = (max(s.nnz for s in selections)
             if selections and all(s is not None for s in selections) else None)
    resources.require(resources.reference(params, shape, pairs))


def _attend_tables(params: AttentionParams, shape: Shape, q: np.ndarray, k: np.ndarray,
                   v: np.ndarray, tables: tuple[GroupSelection, ...]) -> np.ndarray:
    ops = prec.prepare(params, q, k, v)
    return attend(ops.q, ops.k, ops.v, None, ops.score_scale, ops.v_scale,
                  params.effective_block_size(shape.seq_len), _exact_f64(ops), tables,
                  bool(params.causal))


def _block_tables(params: AttentionParams, shape: Shape, q: np.ndarray,
                  k: np.ndarray) -> tuple[GroupSelection, ...]:
    # the block scores are tiny GEMMs ([nb, D] x [D, nb] per KV head): multi-threaded
    # OpenBLAS took 170 ms for what one thread does in 1-2 ms when the cores were shared
    with single_threaded_blas():
        return pattern_of(params.spec).block_tables(params, shape, q, k)


_bsr_tables = _block_tables  # the name the tests know


def band_of(params: AttentionParams, shape: Shape) -> tuple[int, int] | None:
    """(half-width, dilation) when :func:`attend_band` computes this selection (the pattern's
    :meth:`band`: dense, a band of half-width S - 1, no index lists, O(S x D) memory at any S;
    sliding_window without wrap, with residue classes long enough for slab tiles), else None."""
    band = getattr(pattern_of(params.spec), "band", None)
    if band is None or shape.offset:  # Sq < Skv: the token path (rows are not the keys' rows)
        return None
    return band(params, shape.seq_len)


def _is_band(params: AttentionParams, shape: Shape) -> bool:
    return band_of(params, shape) is not None


def _band_pairs(params: AttentionParams, seq_len: int) -> int:
    n = pattern_of(params.spec).pair_count(params, seq_len)
    assert n is not None  # a band has a closed-form count
    return n


def _attend_band(params: AttentionParams, q: np.ndarray, k: np.ndarray,
                 v: np.ndarray) -> np.ndarray:
    ops = prec.prepare(params, q, k, v)
    w, dil = band_of(params, Shape(q.shape[0], q.shape[1], q.shape[2], params.gqa_group_size))
    # (band_of reads S and the offset only: Dv does not change the band)
    return attend_band(ops.q, ops.k, ops.v, w, dil, bool(params.causal), ops.score_scale,
                       ops.v_scale, _exact_f64(ops))


def _kv_note(shape: Shape) -> str:
    """`` Skv=N`` when the keys outnumber the query rows (else nothing: the line as before)."""
    return f" Skv={shape.kv_len}" if shape.offset else ""


def _exact_f64(ops: prec.Operands) -> bool:
    return prec.is_integer(ops.precision) and not ops.exact_int_dot_in_fp32


def run(params: AttentionParams, q: np.ndarray, k: np.ndarray, v: np.ndarray, **options) -> RunResult:
    """The reference backend (``sattn run --backend reference``).

    Q/K/V as for :func:`attention` (rank 4: a batch, each element run on its own). Options:
    ``selection`` (a precomputed :class:`Selection`, or one per batch element). Counters are
    exact counts of the work done, summed over the batch: ``selected_pairs`` (query-key pairs
    over KV heads) and ``dense_pairs``.
    """
    shape = check_qkv(q, k, v, params.gqa_group_size)
    if pattern_of(params.spec).composite:
        return _run_composite(params, shape, q, k, v, options)
    _no_gates(params, options.get("gates"))
    t0 = time.perf_counter()
    sels = _selections(params, shape, options.get("selection"))
    t_static = time.perf_counter() - t0  # a static KV-cache selection counts as selection
    _check(params, shape, q, k, v, sels)
    one = shape.element
    if q.ndim == 3:
        out, nnz, key_space, t_sel, t_att = _run_one(params, one, q, k, v, sels[0])
    else:
        out = np.empty(q.shape[:-1] + (shape.head_dim_v,), np.float32)
        nnz, t_sel, t_att = 0, 0.0, 0.0
        for b in range(shape.batch):
            out[b], n, key_space, ts, ta = _run_one(params, one, q[b], k[b], v[b], sels[b])
            nnz, t_sel, t_att = nnz + n, t_sel + ts, t_att + ta
    dense_pairs = shape.batch * shape.kv_heads * shape.seq_len * shape.kv_len
    counters = {"selected_pairs": nnz, "dense_pairs": dense_pairs}
    line = (f"reference: precision={params.precision}{_batch_note(shape)} H={shape.heads} "
            f"kv_heads={shape.kv_heads} S={shape.seq_len}{_kv_note(shape)} D={shape.head_dim}"
            f"{_dv_note(shape)} selected_pairs={nnz} dense_pairs={dense_pairs} "
            f"key_space={key_space}")
    return RunResult(
        backend="reference", spec=params.spec, output=out, density=nnz / dense_pairs,
        counters=counters,
        timings={"select_s": t_static + t_sel, "attend_s": t_att}, lines=[line], params=params,
    )


def _run_composite(params: AttentionParams, shape: Shape, q: np.ndarray, k: np.ndarray,
                   v: np.ndarray, options: dict) -> RunResult:
    """:func:`run` of a composite pattern (nsa): its ``attend`` hook with the ``gates``
    option; ``selected_pairs`` counts the (row, key) pairs its branches score (nsa: the
    compressed keys, selected tokens and window keys of every row, over KV heads)."""
    t0 = time.perf_counter()
    out, pairs = _composite(params, shape, q, k, v, options.get("selection"),
                            options.get("gates"))
    dense_pairs = shape.batch * shape.kv_heads * shape.seq_len * shape.kv_len
    key_space = "compressed+tokens"
    line = (f"reference: precision={params.precision}{_batch_note(shape)} H={shape.heads} "
            f"kv_heads={shape.kv_heads} S={shape.seq_len}{_kv_note(shape)} D={shape.head_dim}"
            f"{_dv_note(shape)} selected_pairs={pairs} dense_pairs={dense_pairs} "
            f"key_space={key_space}")
    return RunResult(
        backend="reference", spec=params.spec, output=out, density=pairs / dense_pairs,
        counters={"selected_pairs": pairs, "dense_pairs": dense_pairs},
        timings={"select_s": 0.0, "attend_s": time.perf_counter() - t0}, lines=[line],
        params=params,
    )


def _batch_note(shape: Shape) -> str:
    """`` B=N`` for a batch (else nothing: the line as before)."""
    return f" B={shape.batch}" if shape.batch != 1 else ""


def _dv_note(shape: Shape) -> str:
    """`` Dv=N`` when V's dimension differs from D (else nothing: the line as before)."""
    return f" Dv={shape.head_dim_v}" if shape.head_dim_v != shape.head_dim else ""


def _run_one(params: AttentionParams, shape: Shape, q: np.ndarray, k: np.ndarray,
             v: np.ndarray, sel: Selection | None
             ) -> tuple[np.ndarray, int, str, float, float]:
    """(output, selected pairs, key space, select seconds, attend seconds) of one batch
    element ([H, S, D] tensors; its selection from :func:`_selections`, inputs checked)."""
    t0 = time.perf_counter()
    pattern = pattern_of(params.spec)
    if sel is None and hasattr(pattern, "block_tables") and not shape.offset:  # (attention())
        tables = _block_tables(params, shape, q, k)
        t1 = time.perf_counter()
        out = _attend_tables(params, shape, q, k, v, tables)
        nnz, key_space = sum(pattern.table_nnz(params, shape, t) for t in tables), "tokens"
    elif sel is None and _is_band(params, shape):  # the band needs no index lists
        t1 = time.perf_counter()
        out = _attend_band(params, q, k, v)
        nnz = shape.kv_heads * _band_pairs(params, shape.seq_len)
        key_space = "tokens"
    else:
        sel = sel if sel is not None else select_indices(params, shape, q, k)
        t1 = time.perf_counter()
        out = _attention_checked(params, shape, q, k, v, sel)
        nnz, key_space = sel.nnz, sel.key_space
    return out, nnz, key_space, t1 - t0, time.perf_counter() - t1
