"""What each candidate spec costs each target, counted from the backend's own loop structure.

A *term* is a count of one unit of work the backend performs for the whole op (every head),
derived from the code that runs it -- not a tile-rounded guess. The target's fitted weights
(:data:`sattn.selector.cost.MODELS`: one weight per term, shared by every spec, since the
specs run the same core) turn the terms into a modelled cost. Tiles are size hints only: no
term rounds anything to ``tile_S`` (which is S when the shape comes from the tiles).

Notation: ``S`` keys and queries, ``D`` head dim, ``H`` query heads, ``Hkv`` KV heads,
``G = H / Hkv``, ``w`` window_size, ``B`` block size, ``nb = ceil(S/B)``, ``k`` kept blocks per
query block (``ceil(keep_ratio*nb)``; causal: ``min(k, qb+1)``), ``eb`` bytes per element.

**rvv** (instructions retired in the kernel region; VLEN 256, LMUL 8, the runner's defaults:
a strip is ``VL = 64`` keys; ``c = ceil(D/64)`` D-chunks). The core (kernels/attend_core.h)
runs two query rows over one key list per call (``attend2``); per row pair and list of ``n``
keys it makes ``ceil(n/VL)`` strips; a strip is scored by a pass over d (``d_steps``: D per
strip) unless it is a tail of at most ``D / (2c)`` keys, or a leading run that short before a
contiguous strip, which per-key dot products score (``dot_keys``; :func:`_walk`); P.V costs per key and chunk (``keys``); softmax, masking and strip set-up per
strip (``strips``); row-pair set-up per pair (``pairs``); a call per ``calls``. bf16 and i8
widen every K-column and V-row load (``widen``: 2 instructions per load, i4 3, counted on
``d_steps + keys``). Row lists:

- sliding_window: rows i, i+1 over the union of their windows, ``min(S-1, i+1+w) -
  max(0, i-w) + 1`` keys (causal: up to i+1); interior rows run as one call;
- bsr: the rows of a query block over its kept blocks' keys (``k*B``, the diagonal block
  partial at the end), walked as runs of B keys (kept blocks taken as not adjacent: adjacent
  ones merge into longer runs, which only makes the walk cheaper), one call per non-causal
  block, causal row pairs over their prefixes;
  plus the in-kernel selection (kernels/bsr.c): block means (``sel_means``: rows x (G+1)
  heads x ceil(D/32) float64 chunks), block scores (``sel_scores``: per pair of query blocks,
  ceil(nc/32) strips x D), the top-k threshold search (``sel_topk``: ceil(nc/32) strips x
  (1 + log2 nc) passes where k < nc) and the per-block bookkeeping (``sel_blocks``); with
  compression blocks (kernels/compblock.c) instead every query head's scalar dot products with
  the compression keys (``sel_comp``) and their softmax and pooling (``sel_comp_el``), the
  heads of a group attending in pairs;
- block_local_global: index-table rows (kernels/window.c), pairs over blocks qb-1..qb+1 and
  the global keys, one call per pair plus the list comparison (``strips`` again).

Rows the core runs one at a time (i4, dilated or ring windows, compression-scored bsr without
GQA, an odd last row) count 0.55 of a pair
(the single-row loops issue ~3.5 instructions per d and per key against 6.4 and 6.25).

**rocc** (cycles of the RTL under Verilator; 16 QK and 16 P.V lanes, 16-byte memory beats):
``mac`` = query-key pairs x ceil(D/16) (the QK array needs D/16 cycles per key, P.V runs
beside it), ``rows`` = H*S (row start, softmax drain, finalize), ``runs`` = index runs the
gather walks (H x runs per row; a window row is one run, a bsr row one per maximal group of
adjacent kept blocks), ``idx`` = index words the host loads (runs + row pointers, 4 per
instruction, per KV head), ``mem`` = bytes read and written / 16 (Q, K and V once per KV head,
the fp32 output), ``mem_x`` = ``max(0, mem - mac)``: where memory, not the MAC array, bounds
the run (tiny windows).

**reference** (wall nanoseconds of the NumPy executor; ``reference/executor.py``):
``prep`` = elements of Q, K, V converted to the precision's operands; ``elems`` = score
elements computed (masked, exponentiated, summed: the band path scores a whole slab of
``rows + w + ahead`` keys per 64-row tile, the block path ``kept*B`` keys per row with the
padding of blocks that keep fewer, the token path the union of a tile's keys); ``flops`` =
2*D per element and GEMM (QK and PV); ``tiles_*`` = tiles of each path (Python and thread-pool
overhead per tile); ``gather`` = K/V elements the block and token paths copy; ``bias`` =
elements of a mask built (causal or padded block tiles, token tiles, the token path's CSR);
``sel_*`` = bsr's block scoring in NumPy (``sel_calls`` per KV head, ``sel_loops`` its
pairwise-sum steps, ``sel_elems`` the elements converted and summed, ``sel_nb2`` the ranked
scores; ``sel_comp``/``sel_comp_el`` the float64 compression scoring and its softmax);
``fixed_*`` once per op and path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from sattn.ir.schema import AttentionParams
from sattn.specs import bsr, sliding_window

#: The RVV runner's default vector length and LMUL (``sattn.backends.rvv.runner``; a test
#: checks they agree): keys per strip of the core, doubles per float64 vector.
RVV_VLEN, RVV_LMUL = 256, 8
RVV_STRIP = RVV_VLEN * RVV_LMUL // 32
RVV_F64 = RVV_VLEN * RVV_LMUL // 64
#: Extra vector instructions per K-column / V-row load that widens a stored element to fp32.
RVV_WIDEN = {"fp32": 0.0, "bf16": 2.0, "i8": 2.0, "i4": 3.0}
#: A row the core runs alone, as a share of a row pair's work (see the module docstring).
RVV_SINGLE_ROW = 0.55
#: The accelerator's QK lanes (elements of q.k per cycle) and memory beat (``sattn.hw.isa``; a
#: test checks they agree).
ROCC_LANES_QK, ROCC_BEAT = 16, 16
#: Elements per tile of the reference executor (``executor.TILE_ELEMENTS``).
REF_TILE_ELEMENTS = 1 << 21
#: Pair-list length above which the terms are evaluated on an even sample (bounded time).
_MAX_PAIRS = 1 << 14

ELEMENT_BYTES = {"fp32": 4.0, "bf16": 2.0, "i8": 1.0, "i4": 0.5}

#: Every term of every target, in the order weights and explanations list them.
TERMS: dict[str, tuple[str, ...]] = {
    "rvv": ("d_steps", "dot_keys", "keys", "widen", "strips", "pairs", "calls",
            "sel_means", "sel_scores", "sel_topk", "sel_blocks", "sel_comp", "sel_comp_el",
            "fixed"),
    "rocc": ("mac", "rows", "runs", "idx", "mem", "mem_x", "fixed"),
    "reference": ("prep", "elems", "flops", "gather", "bias", "tiles_band", "tiles_block",
                  "tiles_token", "sel_calls", "sel_loops", "sel_elems", "sel_nb2", "sel_comp",
                  "sel_comp_el", "fixed_band", "fixed_block", "fixed_token"),
}


@dataclass(frozen=True)
class Op:
    """The shape and the attributes the terms depend on."""

    S: int
    D: int
    H: int
    Hkv: int
    G: int
    prec: str
    causal: bool
    window: int
    dilation: int
    wrap: bool
    B: int
    nb: int
    keep: int
    g: int  # global tokens (block_local_global)
    comp: int  # comp_block_size (bsr scored on compression blocks when > 0)

    @property
    def nc(self) -> int:
        """Compression blocks."""
        return -(-self.S // self.comp) if self.comp > 0 else 0

    @property
    def eb(self) -> float:
        return ELEMENT_BYTES[self.prec]

    @classmethod
    def of(cls, p: AttentionParams) -> Op:
        shape = p.shape()
        s = shape.seq_len
        b = p.effective_block_size(s)
        nb = -(-s // b)
        return cls(S=s, D=shape.head_dim, H=shape.heads, Hkv=shape.kv_heads, G=shape.group,
                   prec=p.precision, causal=bool(p.causal),
                   window=sliding_window.window(p), dilation=p.dilation, wrap=bool(p.wrap),
                   B=b, nb=nb, keep=bsr.num_kept(p, nb),
                   g=min(p.global_tokens, s), comp=p.comp_block_size)


def _sample(n: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """At most _MAX_PAIRS (value, weight) pairs standing for ``n`` with weights ``w``."""
    if len(n) <= _MAX_PAIRS:
        return n, w
    idx = np.linspace(0, len(n) - 1, _MAX_PAIRS).astype(np.int64)
    return n[idx], w[idx] * (w.sum() / w[idx].sum())


def _block_len(op: Op, qb: np.ndarray) -> np.ndarray:
    return np.minimum(op.B, op.S - qb * op.B)


# ------------------------------------------------------------------------------------- rvv


@lru_cache(maxsize=1 << 16)
def _walk(n: int, run: int, dot_max: int) -> tuple[int, int, int]:
    """(strip passes over d, keys scored by dot products, strips) of the two-row core over a
    list of ``n`` keys made of ascending runs of ``run`` keys (the last one shorter), as
    ``attend2`` walks it: a strip takes up to VL keys; a tail of at most ``dot_max`` keys is
    scored by dot products, and so is a short leading run (<= dot_max) when the keys after it
    fill a contiguous strip (kernels/attend_core.h)."""
    passes = dots = strips = 0
    t = 0
    while t < n:
        r = n - t
        vl = min(r, RVV_STRIP)
        dot = r <= dot_max
        head = min(run - t % run, vl)
        if head < vl and not dot and head <= dot_max:
            v2 = min(r - head, RVV_STRIP)
            nxt = min(run, n - (t + head))
            if nxt >= v2:
                vl, dot = head, True
        strips += 1
        if dot:
            dots += vl
        else:
            passes += 1
        t += vl
    return passes, dots, strips


def _walk_scaled(n: float, run: float, dot_max: int) -> tuple[float, float, float]:
    """:func:`_walk` for any length: lists longer than 4096 keys scale the walk of 4096."""
    run_i = max(1, round(run))
    if n <= 4096:
        return _walk(round(n), run_i, dot_max)
    a, b, c = _walk(4096, run_i, dot_max)
    f = n / 4096
    return a * f, b * f, c * f


def _rvv_calls(op: Op, n: np.ndarray, count: np.ndarray, calls: float, single: float = 0.0,
               run: np.ndarray | None = None) -> dict[str, float]:
    """Core terms of row pairs: ``count[i]`` pairs over ``n[i]`` union keys (ascending runs of
    ``run[i]`` keys; None: one contiguous range) in ``calls`` calls, and ``single`` rows run
    alone over about the same lists (weighted RVV_SINGLE_ROW)."""
    n, count = np.asarray(n, dtype=np.float64), np.asarray(count, dtype=np.float64)
    run = n if run is None else np.broadcast_to(np.asarray(run, dtype=np.float64), n.shape)
    (n, count), run = _sample(n, count), _sample(run, count)[0]
    c = math.ceil(op.D / RVV_STRIP)
    dot_max = op.D // (2 * c)
    walks = np.array([_walk_scaled(float(a), float(b), dot_max) for a, b in zip(n, run)]
                     ).reshape(-1, 3)

    passes, dots, strips = walks[:, 0], walks[:, 1], walks[:, 2]
    if not count.sum() and single:  # rows one at a time only: count them as 0.55 pairs
        count, single = np.full(len(n), RVV_SINGLE_ROW * single / max(1, len(n))), 0.0
    total = count.sum()
    scale = (total + RVV_SINGLE_ROW * single) / total if total else 0.0
    t = {
        "d_steps": float((count * passes).sum()) * op.D * scale,
        "dot_keys": float((count * dots).sum()) * c * scale,
        "keys": float((count * n).sum()) * c * scale,
        "strips": float((count * strips).sum()) * scale,
        "pairs": float(total) * scale,
        "calls": float(calls),
    }
    t["widen"] = RVV_WIDEN[op.prec] * (t["d_steps"] + t["keys"])
    return t


def _window_pairs(op: Op) -> tuple[np.ndarray, np.ndarray, float, float]:
    """(union keys per row pair, pairs of that size, calls, single rows) of one head."""
    s, w = op.S, op.window
    ahead = 0 if op.causal else w
    if op.wrap or op.dilation > 1 or op.prec == "i4":
        # rows one at a time (strided ranges, ring lists): about 2w+1 (causal w+1) keys each
        span = min(s, (w + 1 + ahead)) if not op.wrap else min(s, 2 * w + 1)
        return np.array([float(span)]), np.array([0.0]), float(s), float(s)
    i = np.arange(0, s - 1, 2, dtype=np.float64)
    n = np.minimum(s - 1, i + 1 + ahead) - np.maximum(0, i - w) + 1
    last = s - 1 if op.causal else s - 1 - w
    batched = (i >= w) & (i + 1 <= last)
    calls = float((~batched).sum() + (1 if batched.any() else 0))
    return n, np.ones_like(n), calls, float(s % 2)


def _bsr_lists(op: Op) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per query block: (rows, kept blocks, kept keys) of one KV head."""
    qb = np.arange(op.nb)
    rows = _block_len(op, qb).astype(np.float64)
    kept = np.minimum(op.keep, qb + 1) if op.causal else np.full(op.nb, op.keep)
    others = op.B if op.causal or op.nb == 1 else (op.S - rows) / max(1, op.nb - 1)
    return rows, kept.astype(np.float64), rows + (kept - 1) * others


def _blg_lists(op: Op) -> tuple[np.ndarray, np.ndarray, float]:
    """(union keys per row pair, pairs of that size, single rows) of one head of
    block_local_global: rows of block qb take blocks qb-1..qb+1 and the global keys ahead of
    them (causal: up to the row); global queries (i < g) take every key."""
    qb = np.arange(op.nb)
    rows = _block_len(op, qb)
    lo = np.maximum(qb - 1, 0) * op.B
    hi = np.minimum((qb + 2) * op.B, op.S)
    ahead = np.minimum(op.g, lo)
    if op.causal:  # pairs (i, i+1) of the block: keys lo..i+1 and the global ones
        qbs = np.repeat(qb, rows // 2)
        first = np.concatenate([np.arange(0, int(r) - 1, 2) for r in rows])
        n = qbs * 0 + (qbs * op.B + first + 2 - lo[qbs]) + ahead[qbs]
        count = np.ones(len(n))
    else:
        n, count = (hi - lo + ahead).astype(np.float64), (rows // 2).astype(np.float64)
    if op.g:  # the global query rows see everything
        n = np.append(n, float(op.S))
        count = np.append(count, op.g / 2)
    return n.astype(np.float64), count, float((rows % 2).sum())


def rvv_terms(spec: str, op: Op) -> dict[str, float]:
    """Terms of ``spec`` on the RVV kernels (module docstring)."""
    t = {name: 0.0 for name in TERMS["rvv"]}
    if spec == "sliding_window":
        n, cnt, calls, single = _window_pairs(op)
        core = _rvv_calls(op, n, cnt * op.H, calls * op.H, single * op.H)
    elif spec == "bsr" and op.comp:
        # kernels/compblock.c: compression keys, every query head's softmax over them (scalar
        # dot products, vectorised exp), importance pooled per block, ranked per query block;
        # then each row's heads attend the kept blocks (two heads per call)
        rows, kept, keys = _bsr_lists(op)
        per_row = np.repeat(keys, rows.astype(np.int64))
        core = _rvv_calls(op, per_row, np.full(len(per_row), float(op.Hkv * (op.G // 2))),
                          len(per_row) * op.Hkv * (op.G // 2), float(op.S * op.Hkv * (op.G % 2)))
        ncand = (np.arange(op.S) // op.comp + 1).sum() if op.causal else op.S * op.nc
        core["sel_comp"] = float(op.Hkv * op.G * ncand * op.D)
        core["sel_comp_el"] = float(op.Hkv * (op.G * ncand + op.S * op.D))
        core["sel_blocks"] = op.Hkv * float(op.nb * op.nb + kept.sum())
    elif spec == "bsr":
        rows, kept, keys = _bsr_lists(op)
        nc = (np.arange(op.nb) + 1) if op.causal else np.full(op.nb, op.nb)
        run = np.full(op.nb, float(op.B))  # kept blocks taken as isolated runs (see above)
        if op.causal:  # row pairs over their prefixes: the diagonal block's keys up to the row
            qb = np.repeat(np.arange(op.nb), (rows // 2).astype(np.int64))
            first = np.concatenate([np.arange(0, int(r) - 1, 2) for r in rows]) if len(qb) else qb
            n = (kept[qb] - 1) * op.B + first + 2
            core = _rvv_calls(op, n, np.full(len(n), float(op.H)), len(n) * op.H,
                              float((rows % 2).sum()) * op.H, run[qb])
        else:
            core = _rvv_calls(op, keys, (rows // 2) * op.H, op.nb * op.H,
                              float((rows % 2).sum()) * op.H, run)
        strips = np.ceil(nc / RVV_F64)
        core["sel_means"] = op.Hkv * op.S * (op.G + 1) * math.ceil(op.D / RVV_F64)
        second = np.minimum(np.arange(0, op.nb, 2) + 1, op.nb - 1)  # query blocks in pairs
        core["sel_scores"] = op.Hkv * float(strips[second].sum()) * op.D
        core["sel_topk"] = op.Hkv * float((strips * (1 + np.log2(np.maximum(nc, 2))))[op.keep < nc].sum())
        core["sel_blocks"] = op.Hkv * float(op.nb + kept.sum())
    elif spec == "block_local_global":
        n, count, singles = _blg_lists(op)
        core = _rvv_calls(op, n, count * op.H, count.sum() * op.H, singles * op.H)
        core["strips"] += float((count * op.H * np.ceil(n / RVV_STRIP)).sum())  # is_prefix
    else:
        raise ValueError(f"no rvv terms for spec {spec!r}")
    t.update(core)
    t["fixed"] = 1.0
    return t


# ------------------------------------------------------------------------------------ rocc


def _rocc(op: Op, pairs: float, runs_per_row: float) -> dict[str, float]:
    mac = pairs * op.H * math.ceil(op.D / ROCC_LANES_QK)
    mem = (op.H * op.S * op.D * (op.eb + 4.0) + op.Hkv * 2 * op.S * op.D * op.eb) / ROCC_BEAT
    return {
        "mac": mac,
        "rows": float(op.H * op.S),
        "runs": op.H * op.S * runs_per_row,
        "idx": op.Hkv * op.S * (runs_per_row + 1.0) / 4.0,
        "mem": mem,
        "mem_x": max(0.0, mem - mac),
        "fixed": 1.0,
    }


def window_pairs(s: int, w: int, dilation: int, causal: bool) -> int:
    """Selected (query, key) pairs of one head of a non-wrapping window (closed form per
    residue class, as ``reference.executor.band_pairs`` counts them)."""
    total = 0
    ahead = 0 if causal else w
    for c in range(min(dilation, s)):
        n = len(range(c, s, dilation))
        lo_w, hi_w = min(w, n - 1), min(ahead, n - 1)
        # sum over i of min(n-1, i+ahead) - max(0, i-w) + 1
        total += n * (1 + lo_w + hi_w) - lo_w * (lo_w + 1) // 2 - hi_w * (hi_w + 1) // 2
    return total


def rocc_terms(spec: str, op: Op) -> dict[str, float]:
    """Terms of ``spec`` on the RoCC RTL (module docstring)."""
    if spec == "sliding_window":
        if op.wrap:
            pairs = op.S * min(op.S, 2 * op.window + 1)
            runs = 1.5
        else:
            pairs = window_pairs(op.S, op.window, op.dilation, op.causal)
            runs = 1.0 if op.dilation == 1 else pairs / op.S
        return _rocc(op, float(pairs), runs)
    if spec == "bsr":
        rows, kept, keys = _bsr_lists(op)
        pairs = float((rows * keys).sum())
        if op.causal:  # the diagonal block keeps its lower triangle
            pairs -= float((rows * (rows - 1) / 2).sum())
        # expected maximal runs of k kept blocks among the candidates (adjacent ones merge)
        cands = (np.arange(op.nb) + 1) if op.causal else np.full(op.nb, op.nb)
        runs = kept * (cands - kept + 1) / cands
        return _rocc(op, pairs, float((rows * runs).sum()) / op.S)
    if spec == "block_local_global":
        qb = np.arange(op.nb)
        rows = _block_len(op, qb).astype(np.float64)
        lo = np.maximum(qb - 1, 0) * op.B
        span = np.minimum((qb + 2) * op.B, op.S) - lo
        if op.causal:  # row i takes keys lo..i
            pairs = float((rows * (qb * op.B - lo + 1) + rows * (rows - 1) / 2).sum())
        else:
            pairs = float((rows * span).sum())
        pairs += float((rows * np.minimum(op.g, lo)).sum())  # global keys ahead of the blocks
        pairs += op.g * (op.S - 3 * op.B)  # global queries see every key (about)
        return _rocc(op, max(pairs, 0.0), 1.0 + (op.g > 0))
    raise ValueError(f"no rocc terms for spec {spec!r}")


# ------------------------------------------------------------------------------- reference


def reference_terms(spec: str, op: Op) -> dict[str, float]:
    """Terms of ``spec`` on the NumPy reference executor (module docstring)."""
    t = {name: 0.0 for name in TERMS["reference"]}
    # fp32 operands are the inputs as they are; bf16 rounds, i8/i4 quantise Q, K and V
    t["prep"] = float((op.H + 2 * op.Hkv) * op.S * op.D) * (op.prec != "fp32")
    if spec == "sliding_window":  # executor.attend_band: 64-row tiles over a key slab
        ahead = 0 if op.causal else op.window
        rows = 64
        while rows > 8 and op.H * rows * (rows + op.window + ahead) > REF_TILE_ELEMENTS:
            rows //= 2
        r0 = np.arange(0, op.S, rows)
        r1 = np.minimum(op.S, r0 + rows)
        width = np.minimum(op.S, r1 + ahead) - np.maximum(0, r0 - op.window)
        t["elems"] = float(op.H * ((r1 - r0) * width).sum())
        t["tiles_band"] = float(len(r0))
        t["fixed_band"] = 1.0
    elif spec == "bsr":  # bsr_tables, then executor.attend_blocks from the block tables
        rows, kept, _ = _bsr_lists(op)
        kmax = float(kept.max())  # query blocks keeping fewer are padded to the most kept
        nq = max(1, 64 // op.B)
        t["elems"] = op.H * op.nb * op.B * kmax * op.B
        t["tiles_block"] = float(-(-op.nb // nq))
        t["gather"] = 2.0 * op.Hkv * op.nb * kmax * op.B * op.D
        if op.causal or kmax > kept.min() or op.S % op.B:
            t["bias"] = op.Hkv * op.nb * op.B * kmax * op.B
        t["sel_calls"] = float(op.Hkv)
        t["sel_loops"] = op.Hkv * 2.0 * (op.B // 8 + op.B % 8 + 1)
        as_is = op.G == 1 and op.prec == "fp32"  # else the group's operands are converted
        t["sel_elems"] = float(op.Hkv * op.S * op.D * (2 + (0 if as_is else op.G + 1)))
        t["sel_nb2"] = float(op.Hkv * op.nb * op.nb)
        if op.comp:  # specs.compression.importance: fp32 softmax over compression blocks
            t["sel_comp"] = float(op.Hkv * op.G * op.S * op.nc * op.D)
            t["sel_comp_el"] = float(op.Hkv * op.G * op.S * op.nc + op.Hkv * op.S * op.nb)
            t["sel_elems"] = float(op.Hkv * op.S * op.D * (op.G + 1))
        t["fixed_block"] = 1.0
    elif spec == "block_local_global":  # structural CSR, then executor.attend by tiles
        rows = op.B * max(1, 64 // op.B)
        r0 = np.arange(0, op.S, rows)
        r1 = np.minimum(op.S, r0 + rows)
        lo = np.maximum(r0 // op.B - 1, 0) * op.B
        hi = np.minimum((-(-r1 // op.B) + 1) * op.B, op.S)
        union = hi - lo + np.minimum(op.g, lo)
        t["elems"] = float(op.H * ((r1 - r0) * union).sum())
        t["gather"] = 2.0 * op.Hkv * float(union.sum()) * op.D
        # the mask of every tile and the CSR of the selection (about 3 blocks per row)
        t["bias"] = float(((r1 - r0) * union).sum()) + op.S * min(op.S, 3 * op.B + op.g)
        t["tiles_token"] = float(len(r0))
        t["fixed_token"] = 1.0
    else:
        raise ValueError(f"no reference terms for spec {spec!r}")
    t["flops"] = 4.0 * op.D * t["elems"]
    return t


TARGET_TERMS = {"rvv": rvv_terms, "rocc": rocc_terms, "reference": reference_terms}


def terms(target: str, spec: str, p: AttentionParams) -> dict[str, float]:
    """The terms of ``spec`` for the op ``p`` on ``target`` (every name of TERMS[target])."""
    return TARGET_TERMS[target](spec, Op.of(p))
