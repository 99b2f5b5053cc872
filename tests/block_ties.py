"""Checking a bsr block selection made by another implementation (the RVV kernel) against the
definition, with near-ties handled.

The definition (:mod:`sattn.specs.bsr`): per query block keep ``n`` key blocks, the diagonal,
then the highest block scores ``mean(Qsum block) . mean(K block)``, ties to the lower block.
The reference computes the scores in float64 with a BLAS dgemm whose summation order depends
on the machine; the kernel sums in d order with fused multiply-adds. Two blocks whose exact
scores differ by less than both implementations' float64 rounding can therefore come out in
either order, and either pick is acceptable there (issue 9). Elsewhere the selection is
determined and must be the definition's.

The rounding bound of one score: with ``u = 2**-53`` and ``gamma(n) = n*u / (1 - n*u)``
(Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed., sec. 3.1), a block sum of
``m`` terms is off by at most ``gamma(m) * sum|x|``, a mean adds one rounding, and a D-term
dot product of the rounded means another ``gamma(D) * sum|a_d b_d|``. Bounding every mean's
error by ``gamma(m + 1) * mean|x|`` gives, for the score of (qb, kb),

    |computed - exact(qb, kb)| <= gamma(D + m_q + m_k + 2) * sum_d A_d B_d

with ``A``/``B`` the block means of ``|Qsum|``/``|K|`` (each >= the absolute mean) and
``m_q``/``m_k`` the terms each block sum adds (rows x heads). ``exact`` here is the dot of the
exact means, computed with rationals.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from sattn.reference.precision import selection_operands
from sattn.specs import bsr, csr
from sattn.specs.selection import GroupSelection

U = 2.0 ** -53


def gamma(n: int) -> float:
    return n * U / (1 - n * U)


def block_score_bounds(p, q, k) -> list[tuple[list[list[Fraction]], np.ndarray]]:
    """Per KV head: (exact block scores [nb][nb] as rationals, rounding bound [nb, nb])."""
    shape = p.shape()
    s, grp = shape.seq_len, shape.group
    b = p.effective_block_size(s)
    nb = csr.num_blocks(s, b)
    qs, ks = selection_operands(p, q, k)
    out = []
    for g in range(shape.kv_heads):
        qg = qs[g * grp:(g + 1) * grp].astype(np.float64)  # [grp, S, D]
        kg = ks[g].astype(np.float64)
        qm, km, qa, ka, lens = [], [], [], [], []
        for blk in range(nb):
            r0, r1 = blk * b, min(s, blk * b + b)
            n = r1 - r0
            lens.append(n)
            qm.append([sum((Fraction(x) for x in qg[:, r0:r1, d].ravel()), Fraction(0)) / n
                       for d in range(shape.head_dim)])
            km.append([sum((Fraction(x) for x in kg[r0:r1, d]), Fraction(0)) / n
                       for d in range(shape.head_dim)])
            qa.append(np.abs(qg[:, r0:r1]).sum(axis=(0, 1)) / n)
            ka.append(np.abs(kg[r0:r1]).sum(axis=0) / n)
        exact = [[sum((a * c for a, c in zip(qm[i], km[j])), Fraction(0)) for j in range(nb)]
                 for i in range(nb)]
        bound = np.array([[gamma(shape.head_dim + lens[i] * grp + lens[j] + 2)
                           * float(qa[i] @ ka[j]) for j in range(nb)] for i in range(nb)])
        out.append((exact, bound))
    return out


def kept_blocks(sel: GroupSelection, p) -> list[list[int]]:
    """Per query block, the key blocks its token rows take (the last row of a causal block
    sees all of them)."""
    s = p.shape().seq_len
    b = p.effective_block_size(s)
    out = []
    for qb in range(csr.num_blocks(s, b)):
        row = sel.row(min(s, qb * b + b) - 1)
        out.append(sorted({int(j) // b for j in row}))
    return out


def check_selection(p, q, k, mine: list[GroupSelection], reference) -> int:
    """Assert that ``mine`` (one token selection per KV head) is a valid bsr selection: the
    token rows are exactly the kept blocks' keys (``j <= i`` when causal), every query block
    keeps ``n`` blocks including the diagonal, and no dropped candidate beats a kept block by
    more than the rounding bound. Where no near-tie decides, it equals ``reference`` (the
    :class:`Selection` of ``sattn.specs``). Returns the number of query blocks whose choice
    went through a near-tie (for tests that want to see some)."""
    shape = p.shape()
    s = shape.seq_len
    b = p.effective_block_size(s)
    nb = csr.num_blocks(s, b)
    n = bsr.num_kept(p, nb)
    near = 0
    for g, (exact, bound) in enumerate(block_score_bounds(p, q, k)):
        got_blocks = kept_blocks(mine[g], p)
        ref_blocks = kept_blocks(reference.groups[g], p)
        # the token rows are the blocks' keys, nothing else
        mask = np.zeros((nb, nb), dtype=bool)
        for qb, blocks in enumerate(got_blocks):
            mask[qb, blocks] = True
        table = csr.mask_to_csr(mask)
        want_rows = bsr.expand(shape, p, table)
        np.testing.assert_array_equal(mine[g].indptr, want_rows.indptr)
        np.testing.assert_array_equal(mine[g].indices, want_rows.indices)
        for qb in range(nb):
            cands = list(range(qb + 1)) if p.causal else list(range(nb))
            kept = got_blocks[qb]
            assert qb in kept, f"kv head {g}, query block {qb}: the diagonal is not kept"
            assert len(kept) == min(n, len(cands)), (g, qb, kept)
            assert set(kept) <= set(cands), (g, qb, kept)
            dropped = [c for c in cands if c not in kept]
            tie = False
            for a in kept:
                if a == qb:
                    continue
                for c in dropped:
                    gap = float(exact[qb][c] - exact[qb][a])  # > 0: the dropped one is better
                    tol = bound[qb, a] + bound[qb, c]
                    assert gap <= tol, (f"kv head {g}, query block {qb}: kept block {a} but "
                                        f"dropped {c}, which scores {gap:.3g} higher "
                                        f"(rounding bound {tol:.3g})")
                    tie |= gap >= -tol
            if tie:
                near += 1
            else:
                assert kept == ref_blocks[qb], (g, qb, kept, ref_blocks[qb])
    return near
