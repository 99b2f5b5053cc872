"""The reference NSA attention: the three branches of :mod:`sattn.specs.nsa`, gated, in fp32.

``out = g_cmp * o_cmp + g_slc * o_slc + g_swa * o_swa`` per query head and row, where each
branch is a softmax (max subtracted, fp32) with the score scale ``1/sqrt(D)``:

- ``o_cmp`` over the compressed keys/values a row sees (zero when it sees none);
- ``o_slc`` over the tokens ``j <= p`` of the blocks :func:`sattn.specs.nsa.select_blocks`
  keeps for the row's KV head (shared by the heads of a GQA group);
- ``o_swa`` over ``j in [p - w + 1, p]`` (absent when ``w = 0``).

Shapes: Q ``[B, H, Sq, D]``, K ``[B, Hkv, Skv, D]``, V ``[B, Hkv, Skv, Dv]`` (rank 3: B = 1),
gates ``[B, Sq, H]`` (rank 2 ``[Sq, H]`` with rank-3 Q), 1.0 when not given; the output has
Q's rank with ``Dv`` last. Memory is O(rows of a tile x keys a row reads): the tile of rows is
sized so that no intermediate exceeds :data:`TILE_ELEMENTS`, never O(Sq x Skv).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sattn.errors import SattnError
from sattn.reference.compare import gamma, path_error, score_bound
from sattn.reference.data import check_finite
from sattn.specs import nsa

#: Largest intermediate (scores or gathered keys) per tile, in elements.
TILE_ELEMENTS = 1 << 22


@dataclass(frozen=True)
class NsaResult:
    """The output and, per (batch, KV head, row), the kept blocks (-1 padded)."""

    output: np.ndarray  # float32, Q's rank, last dim Dv
    blocks: np.ndarray  # int64 [B, Hkv, Sq, n]


def _as_rank4(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim == 3:
        return x[None]
    if x.ndim != 4:
        raise SattnError(f"nsa: {name} must be [B, H, S, D] or [H, S, D], got shape {list(x.shape)}")
    return x


def _gates(g, b: int, sq: int, h: int, name: str) -> np.ndarray:
    if g is None:
        return np.ones((b, sq, h), np.float32)
    g = np.asarray(g, dtype=np.float32)
    if g.ndim == 2:
        g = g[None]
    if g.shape != (b, sq, h):
        raise SattnError(f"nsa: {name} must be [B, Sq, H] = {[b, sq, h]}, got {list(g.shape)}")
    check_finite(g, f"nsa: {name}")
    return g


def _softmax_rows(scores: np.ndarray) -> np.ndarray:
    """fp32 softmax over the last axis with the row maximum subtracted; an all -inf row gives
    zeros."""
    m = scores.max(axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, np.float32(0))
    e = np.exp(scores - m)
    s = e.sum(axis=-1, keepdims=True, dtype=np.float32)
    return e / np.where(s > 0, s, np.float32(1))


def _tile(sq: int, per_row: int) -> int:
    return max(1, min(sq, TILE_ELEMENTS // max(1, per_row)))


def attention(q, k, v, cfg: nsa.NsaConfig, *, g_cmp=None, g_slc=None, g_swa=None) -> NsaResult:
    """NSA attention (module doc) as the reference computes it."""
    rank = np.asarray(q).ndim
    q4, k4, v4 = (_as_rank4(x, n).astype(np.float32, copy=False) for x, n in ((q, "Q"), (k, "K"), (v, "V")))
    b, h, sq, d = q4.shape
    bk, hkv, skv, dk = k4.shape
    if (bk, hkv, skv) != v4.shape[:3] or dk != d or bk != b:
        raise SattnError(f"nsa: shapes Q {list(q4.shape)}, K {list(k4.shape)}, V {list(v4.shape)} "
                         "do not fit ([B,H,Sq,D], [B,Hkv,Skv,D], [B,Hkv,Skv,Dv])")
    if hkv == 0 or h % hkv:
        raise SattnError(f"nsa: {h} query heads are not a multiple of {hkv} KV heads")
    for x, n in ((q4, "Q"), (k4, "K"), (v4, "V")):
        check_finite(x, f"nsa: {n}")
    grp, dv = h // hkv, v4.shape[-1]
    gates = [_gates(x, b, sq, h, n) for x, n in ((g_cmp, "g_cmp"), (g_slc, "g_slc"), (g_swa, "g_swa"))]
    pos = nsa.positions(sq, skv)
    scale = np.float32(cfg.score_scale(d))
    nc, nsb = nsa.num_compressed(skv, cfg), nsa.num_blocks(skv, cfg)
    n = min(cfg.select_blocks, nsb)
    bs, w = cfg.block_size, min(cfg.window_size, skv)
    nvis = nsa.visible_compressed(pos, cfg)
    out = np.zeros((b, h, sq, dv), np.float32)
    kept = np.full((b, hkv, sq, n), -1, np.int64)
    # the widest intermediate per row: compressed scores, gathered selected keys, window slab
    rows = _tile(sq, max(grp * nc, n * bs * max(d, dv, grp), grp * (w + 1) + w * max(d, dv)))
    for bi in range(b):
        kc, vc = nsa.compress(k4[bi], cfg), nsa.compress(v4[bi], cfg)  # [Hkv, nc, D|Dv]
        for g in range(hkv):
            qg = q4[bi, g * grp : (g + 1) * grp]  # [G, Sq, D]
            for r0 in range(0, sq, rows):
                r1 = min(sq, r0 + rows)
                p, qt = pos[r0:r1], qg[:, r0:r1] * scale
                # compression branch
                sc = qt @ kc[g].T  # [G, R, nc]
                sc[:, np.arange(nc)[None, :] >= nvis[r0:r1, None]] = -np.inf
                pc = _softmax_rows(sc)
                o_cmp = pc @ vc[g]
                # selection branch: the group's blocks, then their tokens j <= p
                blocks = nsa.select_blocks(nsa.block_scores(pc, p, cfg, nsb), p, cfg)
                kept[bi, g, r0:r1] = blocks
                tok = (np.maximum(blocks, 0)[:, :, None] * bs + np.arange(bs)).reshape(r1 - r0, n * bs)
                ok = (np.repeat(blocks >= 0, bs, axis=1)) & (tok <= p[:, None])
                tok = np.minimum(tok, skv - 1)
                ks, vs = k4[bi, g][tok], v4[bi, g][tok]  # [R, n*b, D|Dv]
                ss = np.matmul(qt.transpose(1, 0, 2), ks.transpose(0, 2, 1))  # [R, G, n*b]
                ss[np.broadcast_to(~ok[:, None, :], ss.shape)] = -np.inf
                o_slc = np.matmul(_softmax_rows(ss), vs).transpose(1, 0, 2)  # [G, R, Dv]
                acc = gates[0][bi, r0:r1, g * grp : (g + 1) * grp].T[:, :, None] * o_cmp
                acc += gates[1][bi, r0:r1, g * grp : (g + 1) * grp].T[:, :, None] * o_slc
                if w:
                    # window branch on the contiguous key slab of the tile
                    lo = max(0, int(p[0]) - w + 1)
                    slab_k, slab_v = k4[bi, g, lo : p[-1] + 1], v4[bi, g, lo : p[-1] + 1]
                    j = np.arange(lo, p[-1] + 1)
                    sw = qt @ slab_k.T  # [G, R, slab]
                    sw[:, (j[None, :] > p[:, None]) | (j[None, :] < p[:, None] - w + 1)] = -np.inf
                    o_swa = _softmax_rows(sw) @ slab_v
                    acc += gates[2][bi, r0:r1, g * grp : (g + 1) * grp].T[:, :, None] * o_swa
                out[bi, g * grp : (g + 1) * grp, r0:r1] = acc
    return NsaResult(out[0] if rank == 3 else out, kept)


def tolerance(q, k, v, cfg: nsa.NsaConfig, gates=(None, None, None)) -> float:
    """The element-wise bound on |a - b| between two computations of :func:`attention` on the
    same kept blocks (docs/precision.md, "Tolerance policy"): each branch's path error
    (:func:`sattn.reference.compare.path_error`; the compressed branch's keys and values are
    means of ``l`` rows) times max|V| and the largest gate, for both sides, plus the rounding
    of the gated sum (two products and two additions)."""
    q4, k4, v4 = (_as_rank4(x, n).astype(np.float64) for x, n in ((q, "Q"), (k, "K"), (v, "V")))
    d, skv = q4.shape[-1], k4.shape[-2]
    a = score_bound(q4, k4, cfg.score_scale(d))
    vmax = float(np.abs(v4).max()) if v4.size else 0.0
    gmax = [1.0 if g is None else float(np.abs(np.asarray(g)).max()) for g in gates]
    eps = [path_error(d, nsa.num_compressed(skv, cfg), a, mean_terms=cfg.comp_block),
           path_error(d, cfg.select_blocks * cfg.block_size, a),
           path_error(d, max(1, cfg.window_size), a) if cfg.window_size else 0.0]
    branch = sum(2 * e * gm * vmax for e, gm in zip(eps, gmax))
    return branch + 2 * gamma(4) * sum(gmax) * vmax
