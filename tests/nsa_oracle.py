"""An independent loop implementation of NSA (docs/patterns/nsa.md), shared by the tests of the
reference (tests/reference/test_nsa.py) and of the front door (tests/frontdoor/test_nsa_run.py).

One (batch, head, row) at a time, float64, full windows only, written from the semantics and
sharing no code with ``sattn.specs.nsa``: compressed keys/values are means of ``l`` rows every
``d``, a row at ``p = Skv - Sq + i`` sees those whose window ends at or before ``p``; block
scores are the group's compressed probabilities mapped by the paper's eq. 9, 1.0 for ``p``'s
block per head; the top ``n`` (ties to the lower block) of blocks ``0 .. p // b``; the window is
``[p - w + 1, p]``; the output is the gated sum.

Precision: the oracle computes on whatever values it is given. For i8/i4 the tests give it the
integer codes with ``scale = scale_q * scale_k / sqrt(D)`` and ``v_scale = scale_v`` and the
compressed means rounded to codes (``compress_round``), for bf16 the rounded values and the
means rounded to bf16 (tests/naive_ref.py makes both, independently of sattn).
"""

from __future__ import annotations

import math

import numpy as np
from sattn.reference import nsa as ref_nsa
from sattn.reference.compare import gamma, path_error, score_bound
from sattn.specs import nsa


def _softmax_out(s: np.ndarray, vals: np.ndarray) -> np.ndarray:
    if s.size == 0:
        return np.zeros(vals.shape[-1])
    e = np.exp(s - s.max())
    return (e / e.sum()) @ vals


def _windows(x, wins, st, l, width, compress_round):
    """The compressed rows (means of ``l`` rows from ``c * st``, zero padded) of ``x``."""
    out = np.array([x[c * st : c * st + l].sum(axis=0) / l for c in wins]).reshape(-1, width)
    return compress_round(out) if compress_round is not None else out


def oracle_scores(q, k, bi, g, grp, i, sq, cfg, scale=None, compress_round=None):
    """Row ``i``'s block scores (float64) for KV head ``g``: the group's compressed
    probabilities, eq. 9, 1.0 for p's block per head, summed; only blocks 0..p//b."""
    skv, d = k.shape[2], q.shape[3]
    scale = 1 / math.sqrt(d) if scale is None else scale
    p = skv - sq + i
    l, st, b = cfg.comp_block, cfg.stride, cfg.block_size
    wins = [c for c in range(skv) if c * st + l - 1 <= p]
    own = p // b
    score = np.zeros(own + 1)
    kc = _windows(k[bi, g].astype(np.float64), wins, st, l, d, compress_round)
    for h in range(g * grp, (g + 1) * grp):
        if wins:
            s = kc @ q[bi, h, i].astype(np.float64) * scale
            prob = np.exp(s - s.max())
            prob /= prob.sum()
        for j in range(own + 1):
            if j == own:
                score[j] += 1.0
                continue
            tot = 0.0
            for a in range(b // st):
                for c in range(l // st):
                    src = (b // st) * j - a - c
                    if 0 <= src < len(wins):
                        tot += prob[src]
            score[j] += tot
    return score


def oracle(q, k, v, cfg, gates=(None, None, None), blocks_override=None, *, scale=None,
           v_scale=1.0, compress_round=None):
    """NSA, one (batch, head, row) at a time, float64. ``blocks_override[bi][g][i]``: use these
    kept blocks instead of the oracle's own ranking (for near-ties). ``scale``: the score scale
    (default 1/sqrt(D)); ``v_scale`` multiplies the output; ``compress_round`` is applied to the
    compressed keys and values (see the module doc)."""
    b_, h_, sq, d = q.shape
    _, hkv, skv, _ = k.shape
    dv, grp = v.shape[-1], h_ // hkv
    scale = 1 / math.sqrt(d) if scale is None else scale
    l, st, bs, w = cfg.comp_block, cfg.stride, cfg.block_size, cfg.window_size
    out = np.zeros((b_, h_, sq, dv))
    chosen = {}
    for bi in range(b_):
        for h in range(h_):
            g = h // grp
            kk, vv = k[bi, g].astype(np.float64), v[bi, g].astype(np.float64)
            for i in range(sq):
                p = skv - sq + i
                qi = q[bi, h, i].astype(np.float64) * scale
                wins = [c for c in range(skv) if c * st + l - 1 <= p]
                kc = _windows(kk, wins, st, l, d, compress_round)
                vc = _windows(vv, wins, st, l, dv, compress_round)
                o_cmp = _softmax_out(kc @ qi, vc)
                if blocks_override is not None:
                    kept = [x for x in blocks_override[bi][g][i] if x >= 0]
                else:
                    if (bi, g, i) not in chosen:
                        sc = oracle_scores(q, k, bi, g, grp, i, sq, cfg, scale, compress_round)
                        chosen[bi, g, i] = sorted(range(len(sc)), key=lambda j: (-sc[j], j))[: cfg.select_blocks]
                    kept = chosen[bi, g, i]
                toks = sorted(j for blk in kept for j in range(blk * bs, min(skv, blk * bs + bs)) if j <= p)
                o_slc = _softmax_out(kk[toks] @ qi, vv[toks])
                win = list(range(max(0, p - w + 1), p + 1)) if w else []
                o_swa = _softmax_out(kk[win] @ qi, vv[win])
                gv = [1.0 if gt is None else float(gt[bi, i, h]) for gt in gates]
                out[bi, h, i] = v_scale * (gv[0] * o_cmp + gv[1] * o_slc + gv[2] * o_swa)
    return out, chosen


def tie_bound(q, k, cfg, grp, scale=None) -> float:
    """How far two block scores may move between fp32 and float64 scoring: each head's
    compressed probabilities carry the fp32 path error (relative, probabilities <= 1), eq. 9
    adds up to (b/d)(l/d) of them, and the group sums G heads."""
    d, skv = q.shape[-1], k.shape[-2]
    a = score_bound(q, k, 1 / math.sqrt(d) if scale is None else scale)
    eps = path_error(d, nsa.num_compressed(skv, cfg), a, mean_terms=cfg.comp_block)
    terms = (cfg.block_size // cfg.stride) * (cfg.comp_block // cfg.stride)
    return 2 * grp * terms * (eps + gamma(terms + grp))


def check_blocks(q, k, cfg, blocks, *, scale=None, compress_round=None) -> None:
    """The kept ``blocks`` [B, Hkv, Sq, n] are the oracle's ranking up to near-ties (within
    :func:`tie_bound`), each once, exact ties to the lower index."""
    b_, h_, sq, _ = q.shape
    hkv = k.shape[1]
    grp = h_ // hkv
    tb = tie_bound(q, k, cfg, grp, scale)
    for bi in range(b_):
        for g in range(hkv):
            for i in range(sq):
                sc = oracle_scores(q, k, bi, g, grp, i, sq, cfg, scale, compress_round)
                mine = [x for x in blocks[bi, g, i] if x >= 0]
                assert len(mine) == min(cfg.select_blocks, len(sc)), (bi, g, i, mine)
                assert len(set(mine)) == len(mine)
                dropped = [j for j in range(len(sc)) if j not in mine]
                if dropped:
                    worst_kept = min(sc[j] for j in mine)
                    best_dropped = max(sc[j] for j in dropped)
                    assert best_dropped <= worst_kept + tb, (bi, g, i, mine, sc)
                    for j in dropped:  # exact ties go to the lower index
                        assert not any(sc[j] == sc[x] and j < x for x in mine), (bi, g, i, j, mine)


def check_output(got, q, k, v, cfg, blocks, gates=(None, None, None), *, scale=None,
                 v_scale=1.0, compress_round=None, values=None) -> float:
    """``got`` [B, H, Sq, Dv] against the oracle on the same kept ``blocks``, within the
    reference's bound (:func:`sattn.reference.nsa.tolerance` on ``values``, the (q, k, v) as
    values: the dequantised codes for i8/i4; default the inputs). Returns the max error."""
    want, _ = oracle(q, k, v, cfg, gates, blocks_override=blocks, scale=scale, v_scale=v_scale,
                     compress_round=compress_round)
    vq, vk, vv = values if values is not None else (q, k, v)
    bound = ref_nsa.tolerance(vq, vk, vv, cfg, gates)
    err = float(np.abs(np.asarray(got, np.float64) - want).max())
    assert err <= bound, f"max error {err:.3g} > bound {bound:.3g}"
    return err


def rnd(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
