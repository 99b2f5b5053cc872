"""The shared "selections equal up to near-ties" helper (tests/tolerance.py) can fail: a wrong
key, block or bucket is rejected; a tie that exists only up to the scores' fp32 rounding may go
either way; an exact tie (integer codes: no rounding at all) must go to the lower index."""

from __future__ import annotations

import numpy as np
import pytest
from sattn.ir.schema import params_from_dict
from sattn.reference.compare import U32, gamma
from sattn.reference.data import synthetic
from sattn.reference.precision import selection_operands
from sattn.specs import select_indices
from tolerance import same_selection_problems


def _case(spec, precision="fp32", s=32, d=16, heads=2, group=2, **attrs):
    p = params_from_dict({"seq_len": s, "head_dim": d, "num_heads": heads, "gqa_group_size": group,
                          "precision": precision, **attrs}).replace(spec=spec)
    q, k, _ = synthetic(p.shape(), seed=6)
    return p, q, k


def _rows(sel):
    return [[g.row(i).tolist() for i in range(g.rows)] for g in sel.groups]


def _swap(rows, r, out_key, in_key):
    new = [list(x) for x in rows]
    new[r] = sorted(set(new[r]) - {out_key} | {in_key})
    return new


@pytest.mark.parametrize("spec,attrs", [
    ("topk_per_query", {"topk_k": 5}), ("topk_per_query", {"topk_k": 5, "causal": 1}),
    ("nm_structured", {"nm_n": 2, "nm_m": 4}), ("bsr", {"block_size": 4, "keep_ratio": 0.3}),
    ("bsr", {"block_size": 4, "keep_ratio": 0.5, "comp_block_size": 2, "causal": 1}),
    ("lsh", {"lsh_buckets": 4}), ("landmark", {"num_landmarks": 5, "landmark_iters": 2}),
])
def test_a_selection_equals_itself_and_a_wrong_key_fails(spec, attrs):
    p, q, k = _case(spec, **attrs)
    sel = select_indices(p, p.shape(), q, k)
    assert same_selection_problems(p, p.shape(), q, k, sel, sel) == []
    rows = _rows(sel)
    r = 31  # the last row: every key is a candidate
    if spec == "bsr":  # a kept key block traded for a dropped one (whole blocks, all 4 rows)
        b = 4
        kept = sorted({j // b for j in rows[0][r]})
        drop = next(kb for kb in kept if kb != r // b)
        add = next(kb for kb in range(8) if kb not in kept)
        bad = [list(x) for x in rows]
        for i in range(r // b * b, r // b * b + b):
            keys = set(bad[0][i]) - set(range(drop * b, drop * b + b))
            bad[0][i] = sorted(keys | set(range(add * b, add * b + b)))
    elif spec == "nm_structured":  # the best key of the first group of 4 swapped for another
        first = [j for j in rows[0][r] if j < 4]
        bad = [_swap(rows[0], r, first[0], next(j for j in range(4) if j not in first))] + rows[1:]
    else:
        absent = next(j for j in range(32) if j not in rows[0][r])
        bad = [_swap(rows[0], r, rows[0][r][0], absent)] + rows[1:]
    problems = same_selection_problems(p, p.shape(), q, k, bad, sel)
    assert problems and all(x.startswith(("got", "KV head 0")) for x in problems), problems


def test_dropped_forced_diagonal_block_fails():
    p, q, k = _case("bsr", block_size=4, keep_ratio=0.25)
    rows = _rows(select_indices(p, p.shape(), q, k))
    bad = [list(x) for x in rows]
    for i in range(4):  # query block 0 keeps 2 blocks: its diagonal replaced by another block
        other = min({j // 4 for j in rows[0][i]} - {0})
        alt = next(kb for kb in range(8) if kb not in (0, other))
        bad[0][i] = sorted(set(range(other * 4, other * 4 + 4)) | set(range(alt * 4, alt * 4 + 4)))
    problems = same_selection_problems(p, p.shape(), q, k, bad, rows)
    assert any("forced" in x for x in problems), problems


@pytest.mark.parametrize("precision,either", [("fp32", True), ("i8", False)])
def test_ties_in_rounding_go_either_way_exact_ties_to_the_lower_key(precision, either):
    """K rows 3 and 19 identical: their scores tie in exact arithmetic, and topk_k is chosen so
    that row 0 keeps exactly one of them. In fp32 each score carries fp32 rounding (the kernel's
    and another BLAS kernel's summation orders may rank them either way), so keeping 19 over 3
    is accepted; with i8 codes the scores are exact integers and the lower key 3 must win."""
    p, q, k = _case("topk_per_query", precision=precision, heads=1, group=1, topk_k=1)
    k = k.copy()
    k[0, 19] = k[0, 3]
    qs, ks = selection_operands(p, q, k)
    scores = qs[0, 0] @ ks[0].T
    above = int((scores > scores[3]).sum())
    p = p.replace(topk_k=above + 1)
    rows = _rows(select_indices(p, p.shape(), q, k))
    assert 3 in rows[0][0] and 19 not in rows[0][0]
    bad = [_swap(rows[0], 0, 3, 19)]
    problems = same_selection_problems(p, p.shape(), q, k, bad, rows)
    if either:
        assert problems == []
    else:
        assert any("exact tie" in x for x in problems), problems
    # keeping neither (a third key instead) is wrong either way
    other = next(j for j in range(32) if j not in rows[0][0] and j != 19)
    assert same_selection_problems(p, p.shape(), q, k, [_swap(rows[0], 0, 3, other)], rows)


def test_lsh_bucket_must_be_consistent():
    p, q, k = _case("lsh", lsh_buckets=2)
    sel = select_indices(p, p.shape(), q, k)
    rows = _rows(sel)
    bad = [list(x) for x in rows]
    r = next(i for i in range(32) if 0 < len(rows[0][i]) < 32)
    bad[0][r] = sorted(set(range(32)) - set(rows[0][r]))  # the other bucket's keys
    assert same_selection_problems(p, p.shape(), q, k, bad, rows)


def test_lsh_projection_within_rounding_of_zero_takes_either_bucket():
    """Query 5 is orthogonal to the hyperplane in exact arithmetic (q = (R[1], -R[0], 0, ..)):
    its projection is 0, which another summation order may round to either sign, so a row
    holding the other bucket's keys is accepted there; at an unambiguous query it is not."""
    from sattn.specs import lsh

    p, q, k = _case("lsh", heads=1, group=1, lsh_buckets=2)
    plane = lsh.hyperplanes(16, 1)[0]
    q = q.copy()
    q[0, 5] = 0.0
    q[0, 5, 0], q[0, 5, 1] = plane[1], -plane[0]
    rows = _rows(select_indices(p, p.shape(), q, k))
    for i in (5, 6):
        other = sorted(set(range(32)) - set(rows[0][i]))
        bad = [list(x) for x in rows[0]]
        bad[i] = other
        problems = same_selection_problems(p, p.shape(), q, k, [bad], rows)
        assert (problems == []) == (i == 5), (i, problems)


@pytest.mark.parametrize("spec,factor,either", [
    ("topk_per_query", 0.25, True), ("topk_per_query", 4.0, False),
    ("nm_structured", 0.25, True), ("nm_structured", 4.0, False),
])
def test_fp32_near_tie_window_is_the_fp32_score_bound(spec, factor, either):
    """Top-k and N:M score in fp32 (sattn.specs.gqa): a score is within e = gamma(D + group) *
    u32 * sum_d |q_d k_d| of its exact value (u32 = 2^-24), so two keys may be ranked either way
    when their exact scores differ by less than the rounding of both sides, 4e (each side's
    score and the helper's own). Key 1 is key 0 with the component of the largest |q_d| moved
    so that its exact score differs by factor * 4e: a quarter of the window is a near-tie
    (either key is a correct selection), four windows are not (the lower score must go)."""
    attrs = {"topk_k": 1} if spec == "topk_per_query" else {"nm_n": 1, "nm_m": 2}
    p, q, k = _case(spec, heads=1, group=1, **attrs)
    qs, _ = selection_operands(p, q, k)
    d = int(np.argmax(np.abs(qs[0, 31])))
    k = k.copy()
    k[0, 1] = k[0, 0]
    _, ks = selection_operands(p, q, k)
    err = gamma(16 + 1, U32) * float(np.abs(qs[0, 31]) @ np.abs(ks[0, 0]))
    k[0, 1, d] = np.float32(k[0, 0, d] + factor * 4 * err / qs[0, 31, d])
    _, ks = selection_operands(p, q, k)
    sc = ks[0] @ qs[0, 31]
    gap = abs(sc[1] - sc[0])
    assert (gap < 4 * err) == either and gap > 1e6 * np.finfo(np.float64).eps * abs(sc[0])
    if spec == "topk_per_query":  # row 31 keeps exactly one of keys 0 and 1
        p = p.replace(topk_k=int((sc > max(sc[0], sc[1])).sum()) + 1)
    rows = _rows(select_indices(p, p.shape(), q, k))
    kept, dropped = (0, 1) if 0 in rows[0][31] else (1, 0)
    assert dropped not in rows[0][31]
    problems = same_selection_problems(p, p.shape(), q, k, [_swap(rows[0], 31, kept, dropped)], rows)
    assert (problems == []) == either, problems


@pytest.mark.parametrize("factor,either", [(0.25, True), (4.0, False)])
def test_bsr_fp32_block_score_near_tie(factor, either):
    """bsr scores blocks in fp32 (sattn.specs.bsr): a block score is within e = gamma(D + b *
    group + b + 4) * u32 * mean|Qsum| . mean|K| of its exact value, so two key blocks may be
    ranked either way when their exact scores differ by less than 4e (both sides' rounding).
    K block 2 is K block 1 with one element moved so that its exact score for query block 7
    differs by factor * 4e: a quarter of the window is a near-tie (keeping either block is a
    correct selection), four windows are not (the lower score must go)."""
    from tolerance import _block_scores

    b, qb = 4, 7
    p, q, k = _case("bsr", heads=1, group=1, block_size=b, keep_ratio=0.5)
    qs, _ = selection_operands(p, q, k)
    qmean = qs[0, qb * b:qb * b + b].mean(axis=0)
    dim = int(np.argmax(np.abs(qmean)))
    k = k.copy()
    k[0, 2 * b:3 * b] = k[0, b:2 * b]
    err = _block_scores(p, p.shape(), q, k)[0][1][qb, 1]
    k[0, 2 * b, dim] = np.float32(k[0, b, dim] + factor * 4 * err * b / qmean[dim])
    scores, errs = _block_scores(p, p.shape(), q, k)[0]
    gap = abs(scores[qb, 2] - scores[qb, 1])
    assert (gap < 2 * (errs[qb, 1] + errs[qb, 2])) == either
    assert gap > 1e6 * np.finfo(np.float64).eps * abs(scores[qb, 1])
    # the diagonal, every block above both, then exactly one of blocks 1 and 2
    above = int((np.delete(scores[qb], [1, 2, qb]) > max(scores[qb, 1], scores[qb, 2])).sum())
    p = p.replace(keep_ratio=(above + 2) / 8)
    rows = _rows(select_indices(p, p.shape(), q, k))
    blocks = {j // b for j in rows[0][qb * b]}
    assert len(blocks & {1, 2}) == 1, blocks
    kept, dropped = (1, 2) if 1 in blocks else (2, 1)
    bad = [list(x) for x in rows[0]]
    for i in range(qb * b, qb * b + b):
        bad[i] = sorted(set(bad[i]) - set(range(kept * b, kept * b + b))
                        | set(range(dropped * b, dropped * b + b)))
    problems = same_selection_problems(p, p.shape(), q, k, [bad], rows)
    assert (problems == []) == either, problems


@pytest.mark.parametrize("near", [True, False])
def test_landmark_key_within_fp32_rounding_of_two_centres_is_flagged(near):
    """landmark's k-means distances are fp32 (sattn.specs.landmark): a key whose two nearest
    centres lie within the rounding of the dot products may be assigned either way, and since
    a flipped assignment moves every later centre the helper must flag such data. Two
    landmarks, one iteration: key 20 (segment 1) is moved along c1 - c0 onto the point where
    its two distances are equal in exact arithmetic (c1 moves with it; bisection in float64),
    then rounded to fp32: flagged. Moved on to a margin of 1e-2, about 300 times the bound
    (3e-5 for this key): not flagged (and the unmodified data is not either)."""
    from sattn.specs import landmark
    from tolerance import landmark_margin_problems

    p, q, k = _case("landmark", heads=1, group=1, num_landmarks=2, landmark_iters=1)
    assert landmark_margin_problems(p, p.shape(), q, k) == []
    k = k.copy()
    kg = k[0].astype(np.float64)
    c0 = kg[:16].mean(axis=0)
    rest = kg[16:].sum(axis=0) - kg[20]
    w = (rest + kg[20]) / 16 - c0

    def gap(t):  # dist to c0 minus dist to c1 (|c|^2 - 2 k.c), key 20 at c0 + t w
        x = c0 + t * w
        c1 = (rest + x) / 16
        return (c0 @ c0 - 2 * x @ c0) - (c1 @ c1 - 2 * x @ c1)

    lo, hi = 0.0, 1.0
    while gap(hi) < 0:
        hi *= 2
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if gap(mid) < 0 else (lo, mid)
    t = hi
    if not near:  # a margin of 1e-2 (the bound, 4 gamma(D) |k| . |c| + u |dist| per side: 3e-5)
        t += 1e-2 / abs((gap(t + 1e-3) - gap(t)) / 1e-3)
    k[0, 20] = (c0 + t * w).astype(np.float32)
    cen, _a = next(landmark.centres_and_assignments(k[0], 2, 1))
    d32 = landmark.distances(k[0], cen)[20]
    assert (abs(float(d32[0]) - float(d32[1])) < 1e-4) == near
    problems = landmark_margin_problems(p, p.shape(), q, k)
    assert (problems != []) == near, problems
    if near:
        assert "keys [20]" in problems[0]
