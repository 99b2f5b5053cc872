"""The reference NSA attention: the three branches of :mod:`sattn.specs.nsa`, gated, in fp32.

``out = g_cmp * o_cmp + g_slc * o_slc + g_swa * o_swa`` per query head and row, where each
branch is a softmax (max subtracted, fp32) with the score scale ``1/sqrt(D)``:

- ``o_cmp`` over the compressed keys/values a row sees (zero when it sees none);
- ``o_slc`` over the tokens ``j <= p`` of the blocks :func:`sattn.specs.nsa.select_blocks`
  keeps for the row's KV head (shared by the heads of a GQA group);
- ``o_swa`` over ``j in [p - w + 1, p]`` (absent when ``w = 0``).

Shapes: Q ``[B, H, Sq, D]``, K ``[B, Hkv, Skv, D]``, V ``[B, Hkv, Skv, Dv]`` (rank 3: B = 1),
gates ``[B, Sq, H]`` (rank 2 ``[Sq, H]`` with rank-3 Q), 1.0 when not given; the output has
Q's rank with ``Dv`` last. The computation is :func:`sattn.specs.nsa.attention` (the pattern's
own, which the executor reaches through the pattern's ``attend`` hook); memory is O(rows of a
tile x keys a row reads), never O(Sq x Skv).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from sattn import precision as prec
from sattn.reference.compare import gamma, path_error, score_bound
from sattn.reference.data import check_finite, check_qkv
from sattn.specs import nsa, pattern_of

#: The result of :func:`attention` (output, kept blocks, pairs scored).
NsaResult = nsa.NsaResult


def attention(q, k, v, cfg: nsa.NsaConfig, *, g_cmp=None, g_slc=None, g_swa=None,
              compressed=None, blocks=None) -> nsa.NsaResult:
    """NSA attention (module doc; :func:`sattn.specs.nsa.attention`) after refusing NaN and
    infinities in Q, K, V and the gates (one line naming the tensor and the index).
    ``blocks`` (int ``[B, Hkv, Sq, n]``, -1 padded, e.g. what a kernel kept at a near-tie):
    attend these kept blocks instead of ranking the block scores (:func:`selection_tie_bound`)."""
    for x, n in ((q, "Q"), (k, "K"), (v, "V"), (g_cmp, "g_cmp"), (g_slc, "g_slc"), (g_swa, "g_swa")):
        if x is not None:
            check_finite(np.asarray(x, dtype=np.float32), f"nsa: {n}")
    return nsa.attention(q, k, v, cfg, g_cmp=g_cmp, g_slc=g_slc, g_swa=g_swa, compressed=compressed,
                         blocks=blocks)


def tolerance(q, k, v, cfg: nsa.NsaConfig, gates=(None, None, None)) -> float:
    """The element-wise bound on |a - b| between two computations of :func:`attention` on the
    same kept blocks (docs/precision.md, "Tolerance policy"): each branch's path error
    (:func:`sattn.reference.compare.path_error`; the compressed branch's keys and values are
    means of ``l`` rows) times max|V| and the largest gate, for both sides, plus the rounding
    of the gated sum (two products and two additions)."""
    q4, k4, v4 = (nsa.as_rank4(x, n).astype(np.float64) for x, n in ((q, "Q"), (k, "K"), (v, "V")))
    d, skv = q4.shape[-1], k4.shape[-2]
    a = score_bound(q4, k4, cfg.score_scale(d))
    vmax = float(np.abs(v4).max()) if v4.size else 0.0
    gmax = [1.0 if g is None else float(np.abs(np.asarray(g)).max()) for g in gates]
    eps = [path_error(d, nsa.num_compressed(skv, cfg), a, mean_terms=cfg.comp_block),
           path_error(d, cfg.select_blocks * cfg.block_size, a),
           path_error(d, max(1, cfg.window_size), a) if cfg.window_size else 0.0]
    branch = sum(2 * e * gm * vmax for e, gm in zip(eps, gmax))
    return branch + 2 * gamma(4) * sum(gmax) * vmax


def op_tolerance(params, q, k, v, gates=None) -> float:
    """:func:`tolerance` for an op's run (``params``: its NSA attributes, precision and
    scales) on the float inputs ``q``, ``k``, ``v`` with ``gates`` (None or three, each None
    for 1.0): the bound on the values the precision computes with
    (:func:`sattn.precision.view`). Both sides store the compressed keys and values the same
    way (:func:`sattn.specs.nsa.compressed_view`), so their means differ only by fp32 rounding,
    which :func:`tolerance` covers (``mean_terms = l``)."""
    scales = prec.resolved_scales(params)
    views = [prec.view(np.asarray(x, dtype=np.float32), params.precision, s)
             for x, s in zip((q, k, v), scales)]
    return tolerance(*views, nsa.config(params), tuple(gates) if gates is not None else (None,) * 3)


def selection_tie_bound(q, k, cfg: nsa.NsaConfig) -> float:
    """The absolute bound on how far two fp32 computations of one block score
    (:func:`sattn.specs.nsa.block_scores`: the reference's, a kernel's, or fp32 against exact
    arithmetic) may differ, so that two blocks whose scores lie within it of each other may be
    ranked either way (docs/patterns/nsa.md, "Tolerance and ties").

    Each head's compressed probability ``P_h[c]`` is a softmax output whose value is at most 1:
    one path puts it within ``eps`` of exact (:func:`sattn.reference.compare.path_error` of
    ``D``-term scores against ``nc`` compressed keys that are means of ``l`` rows, with ``V`` a
    one-hot row, ``max|V| = 1``). A block score adds ``T = (b/d)(l/d)`` such probabilities
    (eq. 9) for each of the ``G`` heads, at most ``G T`` terms of magnitude <= 1 each: the
    terms' errors add up to ``G T eps``, and the fp32 additions, in any order, to
    ``gamma(G T) G T``. Two paths differ by the sum of both: ``2 G T (eps + gamma(G T))``.
    (The forced block's score is ``G`` exactly on every path.)"""
    q4, k4 = (nsa.as_rank4(x, n).astype(np.float64) for x, n in ((q, "Q"), (k, "K")))
    d, skv = q4.shape[-1], k4.shape[-2]
    grp = q4.shape[1] // max(1, k4.shape[1])
    a = score_bound(q4, k4, cfg.score_scale(d))
    eps = path_error(d, nsa.num_compressed(skv, cfg), a, mean_terms=cfg.comp_block)
    terms = grp * (cfg.block_size // cfg.stride) * (cfg.comp_block // cfg.stride)
    return 2 * terms * (eps + gamma(terms))


@dataclasses.dataclass(frozen=True)
class BlockCheck:
    """A kernel's kept blocks against the reference's ranking (:func:`check_kept_blocks`)."""

    rows: int  # (batch, KV head, row) triples checked
    differ: int  # of those, where the kept set differs from the reference's
    tie_margin: float  # how far below a dropped block's reference score a kept one may lie
    problem: str | None = None  # the first row that is not a correct selection, or None

    @property
    def correct(self) -> bool:
        return self.problem is None


def check_kept_blocks(params, q, k, blocks) -> BlockCheck:
    """Whether ``blocks`` (int ``[B, Hkv, Sq, n]``, -1 padded: what a kernel kept for an op of
    ``params`` on Q, K) is a correct selection by the near-tie rule (docs/patterns/nsa.md,
    "Tolerance and ties"; docs/precision.md, "A correct selection"): every row keeps
    ``min(n, own + 1)`` distinct candidate blocks ``0 .. own`` (``own`` = the block of its
    position), and where its set differs from the reference's, no block it dropped beats a
    block it kept by more than ``tie_margin`` in the reference's fp32 block scores. A kernel
    ranks j above x when its own score of j is at least its score of x; each side's score is
    within :func:`selection_tie_bound` ``tb`` of the other's, so the reference's scores of such
    j and x differ by at most ``2 tb``: the margin."""
    ops = nsa.operands(params, q, k)
    q4, k4 = nsa.as_rank4(ops.q, "Q"), nsa.as_rank4(ops.k, "K")
    cfg = dataclasses.replace(nsa.config(params), scale=float(ops.score_scale))
    bsz, h, sq, _ = q4.shape
    hkv, skv = k4.shape[1], k4.shape[2]
    grp = h // hkv
    nsb = nsa.num_blocks(skv, cfg)
    n = min(cfg.select_blocks, nsb)
    blocks = np.asarray(blocks)
    margin = 2 * selection_tie_bound(q4, k4, cfg)
    if blocks.shape != (bsz, hkv, sq, n):
        return BlockCheck(0, 0, margin, f"kept blocks of shape {list(blocks.shape)}, expected "
                                        f"{[bsz, hkv, sq, n]} [B, Hkv, Sq, n]")
    pos = nsa.positions(sq, skv)
    nvis = nsa.visible_compressed(pos, cfg)
    rows = nsa.rows_per_tile(sq, grp * nsa.num_compressed(skv, cfg) + nsb)
    differ = 0
    for bi in range(bsz):
        kcs = nsa.compress(k4[bi], cfg)
        if ops.compressed is not None:
            kcs = ops.compressed(kcs)
        for g in range(hkv):
            qg = q4[bi, g * grp:(g + 1) * grp]
            for r0 in range(0, sq, rows):
                r1 = min(sq, r0 + rows)
                p = pos[r0:r1]
                pc = nsa.compressed_probabilities(qg[:, r0:r1] * np.float32(cfg.scale), kcs[g],
                                                  nvis[r0:r1])
                score = nsa.block_scores(pc, p, cfg, nsb)
                ref = nsa.select_blocks(score, p, cfg)
                for t in range(r1 - r0):
                    i, own = r0 + t, int(p[t]) // cfg.block_size
                    mine = [int(x) for x in blocks[bi, g, i] if x >= 0]
                    where = f"row {i} of KV head {g}" + (f" (batch {bi})" if bsz > 1 else "")
                    want = min(n, own + 1)
                    if (len(mine) != want or len(set(mine)) != want
                            or not all(0 <= x <= own for x in mine)):
                        return BlockCheck(bsz * hkv * sq, differ, margin,
                                          f"{where} kept blocks {mine}: expected {want} distinct "
                                          f"blocks of 0..{own}")
                    theirs = {int(x) for x in ref[t] if x >= 0}
                    if set(mine) == theirs:
                        continue
                    differ += 1
                    sc = score[t].astype(np.float64)
                    kept = min(mine, key=lambda x: sc[x])
                    dropped = max((x for x in range(own + 1) if x not in mine), key=lambda x: sc[x])
                    if sc[dropped] - sc[kept] > margin:
                        return BlockCheck(
                            bsz * hkv * sq, differ, margin,
                            f"{where} kept block {kept} (reference score {sc[kept]:.9g}) and "
                            f"dropped block {dropped} ({sc[dropped]:.9g}), more than the near-tie "
                            f"margin {margin:.3g} apart (kept {sorted(mine)}, the reference "
                            f"{sorted(theirs)})")
    return BlockCheck(bsz * hkv * sq, differ, margin)


def op_attention(params, q, k, v, gates=None, blocks=None) -> np.ndarray:
    """The reference output of an nsa op (as :func:`sattn.reference.executor.attention` gives
    it: the precision's operands, ``scale_v``) attending the kept ``blocks`` (int ``[B, Hkv,
    Sq, n]``) instead of ranking its own: the reference on a kernel's own selection."""
    shape = check_qkv(q, k, v, params.gqa_group_size)
    return pattern_of(params.spec).attend(params, shape, q, k, v, gates, blocks=blocks)[0]
