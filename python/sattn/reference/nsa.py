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

import numpy as np

from sattn import precision as prec
from sattn.reference.compare import gamma, path_error, score_bound
from sattn.reference.data import check_finite
from sattn.specs import nsa

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
