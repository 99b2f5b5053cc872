"""The tolerance policy in the tests (docs/precision.md, "Tolerance policy").

- :func:`assert_attention_close`: two fp32 computations of one attention (another code path,
  another BLAS kernel, a kernel under qemu, the RTL, a float64 oracle) agree element by element
  within :func:`sattn.reference.compare.attention_tolerance`.
- :func:`assert_same_selection`: two selections of a data-dependent pattern agree up to
  near-ties. A selection ranks scores (top-k, N:M, bsr block ranks, compression-block
  importance), reads score signs (LSH) or nearest centres (landmark k-means), and every
  score carries the rounding error of its own fp32 or float64 computation (another summation order
  gives another last bit). Where two candidates tie within that bound, either may be kept;
  everywhere else the selections must be the same, and exact ties (integer codes, zero
  scores: no rounding at all) must go to the lower index as the patterns define. Each side is
  checked against scores recomputed here, so a wrong key is caught even when both sides agree
  on nothing else.
- :func:`reference_on`: when two selections legitimately differ at a near-tie, each output is
  compared with the reference attention on its own selection, with the fp32 bound.

The score bounds use Higham's gamma with the unit roundoff of the score's precision (fp32 for
top-k, N:M, LSH projections, bsr block scores and landmark k-means; float64 for the
compression importance): a dot of D terms is
within ``gamma(D) * sum|terms|`` of the exact value, whatever the order.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
from sattn.reference.compare import U32, U64, attention_tolerance, gamma, max_keys
from sattn.reference.precision import resolved_scales, selection_operands, view
from sattn.specs import bsr, csr, landmark, lsh, topk_per_query
from sattn.specs.selection import GroupSelection, Selection

#: Relative error bound of an fp32 exp in selection scores: NumPy's float32 exp is within a few
#: ulp (u = 6e-8 each); the RVV kernels' vexp2_f32 is within 3.7e-7 (kernels/attend_core.h)
#: on its argument x * log2(e), whose fp32 rounding is counted in the score bound: 1e-6
#: covers both.
EXP32_REL = 1e-6


# ---------------------------------------------------------------------------------------------
# outputs


def assert_attention_close(got, want, params, q, k, v, *, keys: int | None = None,
                           selection: Selection | None = None, what: str = "",
                           partials: int = 1):
    """``got`` and ``want`` are two computations of ``attention(params, q, k, v)``: every
    element within the policy's bound (``keys``: the longest row; from ``selection`` when given,
    else the whole key space; ``partials``: the most key-tile records a row was merged from).
    Returns the Tolerance used."""
    if keys is None:
        keys = max_keys(selection)
    tol = attention_tolerance(params, q, k, v, keys=keys, partials=partials)
    got64, want64 = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got64.shape == want64.shape, f"{what}: shape {got64.shape} != {want64.shape}"
    err = np.abs(got64 - want64)
    if err.size and not err.max() <= tol.bound:
        at = np.unravel_index(int(np.nanargmax(np.where(np.isnan(err), np.inf, err))), err.shape)
        raise AssertionError(
            f"{what}: element {tuple(int(i) for i in at)}: {got64[at]!r} vs {want64[at]!r}, "
            f"|diff| {err[at]:.3e} > bound {tol.bound:.3e} ({tol.describe()})")
    return tol


def reference_on(params, q, k, v, selection: Selection, groups) -> np.ndarray:
    """The reference attention on ``groups`` (one GroupSelection per KV head, e.g. what a kernel
    selected by itself) in place of ``selection``'s rows."""
    from sattn.reference.executor import attention

    sel = replace(selection, groups=tuple(groups), block_table=None, block_size=None)
    return attention(params, q, k, v, selection=sel)


# ---------------------------------------------------------------------------------------------
# selections


def _rows_of(sel) -> list[list[list[int]]]:
    """Per KV head, per row, the kept keys: from a Selection, a sequence of GroupSelections or
    nested lists."""
    groups = sel.groups if isinstance(sel, Selection) else sel
    out = []
    for g in groups:
        if isinstance(g, GroupSelection):
            out.append([g.row(i).tolist() for i in range(g.rows)])
        else:
            out.append([list(map(int, r)) for r in g])
    return out


def _mask(rows: list[list[int]], cols: int) -> np.ndarray:
    m = np.zeros((len(rows), cols), dtype=bool)
    for i, r in enumerate(rows):
        m[i, r] = True
    return m


def _check_ranked(scores, err, keep, cand, budget, forced=None) -> list[str]:
    """Problems of ``keep`` [R, C] as the top-``budget`` candidates of each row of ``scores``
    (float64, recomputed here), each score within ``err`` of its exact value.

    Kept ones must be candidates (and include ``forced``), ``budget[r]`` of them; no unkept
    candidate may beat a kept (non-forced) one by more than the rounding of both sides
    (each side's score and ours: ``2 * (err_x + err_y)``); exact ties (zero error on both) go
    to the lower index."""
    problems = []
    rows = np.arange(keep.shape[0])
    if (keep & ~cand).any():
        r = int(rows[(keep & ~cand).any(axis=1)][0])
        extra = np.flatnonzero(keep[r] & ~cand[r]).tolist()
        problems.append(f"row {r} keeps non-candidates {extra}")
    if forced is not None and (forced & ~keep).any():
        r = int(rows[(forced & ~keep).any(axis=1)][0])
        problems.append(f"row {r} drops the forced {np.flatnonzero(forced[r] & ~keep[r]).tolist()}")
    cnt = keep.sum(axis=1)
    if (cnt != budget).any():
        r = int(np.flatnonzero(cnt != budget)[0])
        problems.append(f"row {r} keeps {int(cnt[r])}, not {int(budget[r])}")
    free = keep & ~(forced if forced is not None else np.zeros_like(keep))
    out = cand & ~keep
    lo = np.where(free, scores + 2 * err, np.inf).min(axis=1)  # weakest kept, rounded up
    hi = np.where(out, scores - 2 * err, -np.inf).max(axis=1)  # strongest dropped, rounded down
    for r in np.flatnonzero(hi > lo):
        x = np.flatnonzero(free[r])[np.argmin((scores + 2 * err)[r, free[r]])]
        y = np.flatnonzero(out[r])[np.argmax((scores - 2 * err)[r, out[r]])]
        problems.append(f"row {r}: dropped {y} (score {scores[r, y]!r} +- {err[r, y]:.2g}) beats "
                        f"kept {x} (score {scores[r, x]!r} +- {err[r, x]:.2g})")
    # exact ties at the threshold: the lower index is kept
    thr = np.where(free, scores, np.inf).min(axis=1)
    at = (scores == thr[:, None]) & (err == 0) & cand
    for r in np.flatnonzero(at.any(axis=1) & np.isfinite(thr)):
        kept_at, out_at = np.flatnonzero(at[r] & free[r]), np.flatnonzero(at[r] & out[r])
        if kept_at.size and out_at.size and out_at.min() < kept_at.max():
            problems.append(f"row {r}: exact tie at {thr[r]!r} kept {int(kept_at.max())} over the "
                            f"lower {int(out_at.min())}")
    return problems


#: Patterns whose group scores are fp32 (sattn.specs.gqa; the RVV kernel's too): their
#: rounding bound uses the fp32 unit roundoff. The others score in float64.
FP32_SCORED = ("topk_per_query", "nm_structured")


def _group_scores(params, shape, q, k):
    """Per KV head: (Qsum . K^T float64, its rounding bound, |Qsum|-like . |K|^T magnitudes).

    The bound is Higham's gamma(D + group) (the group's heads added, then a D-term dot) times
    the magnitudes, with the unit roundoff of the pattern's score precision (fp32 for
    FP32_SCORED). Integer codes (i8/i4) are exact when no partial sum can leave the integers
    the precision holds exactly (2^53 in float64, 2^24 in fp32): the magnitudes bound every
    partial sum."""
    qs, ks = selection_operands(params, q, k)
    grp = shape.group
    fp32 = params.spec in FP32_SCORED
    u, exact_max = (U32, 2.0**24) if fp32 else (U64, 2.0**53)
    out = []
    for g in range(shape.kv_heads):
        qh = qs[g * grp:(g + 1) * grp]
        qsum, qabs = qh.sum(axis=0), np.abs(qh).sum(axis=0)
        sc = qsum @ ks[g].T
        mag = qabs @ np.abs(ks[g]).T
        exact = params.precision in ("i8", "i4") and float(mag.max(initial=0.0)) <= exact_max
        err = 0 * sc if exact else gamma(shape.head_dim + grp, u) * mag
        out.append((sc, err, qsum, qabs, ks[g]))
    return out


def _ranked_problems(params, shape, q, k, rows_per_head) -> list[str]:
    spec, s = params.spec, shape.seq_len
    causal = bool(params.causal)
    cand_tok = ~np.triu(np.ones((s, s), dtype=bool), 1) if causal else np.ones((s, s), dtype=bool)
    problems = []
    if spec in ("topk_per_query", "nm_structured"):
        for g, (sc, err, *_rest) in enumerate(_group_scores(params, shape, q, k)):
            keep = _mask(rows_per_head[g], s)
            if spec == "topk_per_query":
                kk = topk_per_query.DEFAULT_TOPK if params.topk_k is None else params.topk_k
                budget = np.minimum(kk, cand_tok.sum(axis=1))
                found = _check_ranked(sc, err, keep, cand_tok, budget)
            else:  # every group of nm_m consecutive keys is its own ranking
                n, m = params.nm_n or 1, params.nm_m or 1
                ng = -(-s // m)
                pad = ng * m - s

                def grouped(a, fill, m=m, ng=ng, pad=pad):
                    return np.pad(a, ((0, 0), (0, pad)), constant_values=fill).reshape(s * ng, m)

                cand = grouped(cand_tok, False)
                found = _check_ranked(grouped(sc, 0.0), grouped(err, 0.0), grouped(keep, False),
                                      cand, np.minimum(n, cand.sum(axis=1)))
                found = [f"(row, key group) {p}" for p in found]
            problems += [f"KV head {g}: {p}" for p in found]
        return problems
    # bsr: rank key blocks per query block; the token rows must be the table's expansion
    b = params.effective_block_size(s)
    nb = csr.num_blocks(s, b)
    for g, (scores, err) in enumerate(_block_scores(params, shape, q, k)):
        rows = rows_per_head[g]
        last = [min(s, (qb + 1) * b) - 1 for qb in range(nb)]  # sees every kept block's keys
        table = np.zeros((nb, nb), dtype=bool)
        for qb in range(nb):
            table[qb, sorted({j // b for j in rows[last[qb]]})] = True
        expanded = bsr.expand(shape, params, GroupSelection.from_dense(table))
        if [expanded.row(i).tolist() for i in range(s)] != [list(r) for r in rows]:
            problems.append(f"KV head {g}: token rows are not whole key blocks of one table")
            continue
        cand = ~np.triu(np.ones((nb, nb), dtype=bool), 1) if causal else np.ones((nb, nb), bool)
        budget = np.minimum(bsr.num_kept(params, nb), cand.sum(axis=1))
        forced = np.eye(nb, dtype=bool)
        problems += [f"KV head {g} (query block, key block) {p}"
                     for p in _check_ranked(scores, err, table, cand, budget, forced)]
    return problems


def _block_scores(params, shape, q, k):
    """Per KV head: ([nb, nb] block scores as bsr ranks them, recomputed in float64: the
    exact values up to float64 rounding; the bound of bsr's fp32 scores around them)."""
    s, d, grp = shape.seq_len, shape.head_dim, shape.group
    b = params.effective_block_size(s)
    nb = csr.num_blocks(s, b)
    lens = np.minimum(b, s - np.arange(nb) * b).astype(np.float64)

    def means(x):  # [S, D] -> [nb, D], float64
        return np.add.reduceat(x, np.arange(0, s, b), axis=0) / lens[:, None]

    out = []
    if params.comp_block_size <= 0:
        for sc, _err, qsum, qabs, kg in _group_scores(params, shape, q, k):
            scores = means(qsum) @ means(kg).T
            # fp32 (sattn.specs.bsr): a Qsum block sum adds b * grp terms, a K block sum b;
            # the Qsum mean's scaling and its factor 1/rows, a D-term dot of the rounded
            # operands, the key block's factor 1/rows and the product: four more roundings
            err = gamma(d + b * grp + b + 4, U32) * (means(qabs) @ means(np.abs(kg)).T)
            out.append((scores, err))
        return out
    # NSA-style importance (sattn.specs.compression, fp32): probabilities summed per block pair
    c = params.comp_block_size
    sq, sk, _ = resolved_scales(params)
    qv = view(q, params.precision, sq).astype(np.float64)
    kv = view(k, params.precision, sk).astype(np.float64)
    nc = -(-s // c)
    clens = np.minimum(c, s - np.arange(nc) * c).astype(np.float64)
    starts = np.arange(nc) * c
    for g in range(shape.kv_heads):
        kc = np.add.reduceat(kv[g], starts, axis=0) / clens[:, None]
        kca = np.add.reduceat(np.abs(kv[g]), starts, axis=0) / clens[:, None]
        imp = np.zeros((nb, nb))
        a = 0.0
        for h in range(g * grp, (g + 1) * grp):
            x = qv[h] @ kc.T / math.sqrt(d)
            a = max(a, float((np.abs(qv[h]) @ kca.T).max()) / math.sqrt(d))
            if params.causal:
                x[starts[None, :] > np.arange(s)[:, None]] = -np.inf
            p = np.exp(x - x.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            for qb in range(nb):
                np.add.at(imp[qb], starts // b, p[qb * b:(qb + 1) * b].sum(axis=0))
        # fp32 throughout: each probability's score within ds (the c-term key sums and their
        # division, a D-term dot, the scale and the max subtraction; the exp's argument, up
        # to 2a, rounded once more on the way to exp2), the exp itself, the normaliser over
        # nc terms and the division; then summed over grp * b * (c-blocks of a key block)
        ds = (gamma(d + c + 3, U32) + 4 * U32) * a
        e = EXP32_REL
        rel = math.exp(2 * ds) * (1 + e) / (1 - e) * (1 + gamma(nc + 2, U32))
        rel = rel * (1 + gamma(grp * b * (b // c + 2), U32)) - 1
        out.append((imp, rel * imp))
    return out


def _lsh_problems(params, shape, q, k, got_rows, want_rows) -> list[str]:
    """Bits whose projection lies within its rounding bound of 0 may take either value; the
    selections must agree on every row and key whose bucket is unambiguous, and each
    ambiguous key must sit in one of its possible buckets consistently across the rows."""
    buckets = params.lsh_buckets or 1
    nbits = lsh.num_bits(buckets)
    if nbits == 0:
        return [] if got_rows == want_rows else ["one bucket, yet the rows differ"]
    qs, ks = selection_operands(params, q, k)
    grp, d, s = shape.group, shape.head_dim, shape.seq_len
    planes = lsh.hyperplanes(d, nbits).astype(np.float64)

    def options(x, xabs):  # per row: the set of buckets its code may take
        proj = x @ planes.T
        err = 2 * gamma(d + grp, U32) * (xabs @ np.abs(planes).T)  # fp32 (sattn.specs.lsh)
        sure = (np.abs(proj) > err) | (err == 0)  # no rounding at all: the sign is exact
        outs = []
        for r in range(x.shape[0]):
            codes = {0}
            for bit in range(nbits):
                vals = [proj[r, bit] >= 0] if sure[r, bit] else [False, True]
                codes = {cd | (int(v) << bit) for cd in codes for v in vals}
            outs.append({cd % buckets for cd in codes})
        return outs

    problems = []
    for g in range(shape.kv_heads):
        qh = qs[g * grp:(g + 1) * grp]
        qb = options(qh.sum(axis=0), np.abs(qh).sum(axis=0))
        kb = options(ks[g], np.abs(ks[g]))
        one_q = {i: next(iter(qb[i])) for i in range(s) if len(qb[i]) == 1}
        one_k = {j: next(iter(kb[j])) for j in range(s) if len(kb[j]) == 1}
        for name, rows in (("got", got_rows[g]), ("want", want_rows[g])):
            m = _mask(rows, s)
            # a key's bucket, read from the rows of unambiguous queries, must be one it may take
            for j in range(s):
                seen = [i for i in one_q if not params.causal or j <= i]
                if not any(all(m[i, j] == (one_q[i] == bk) for i in seen) for bk in kb[j]):
                    problems.append(f"KV head {g} ({name}): key {j} is in no consistent bucket")
                    break
            # a row holds exactly the unambiguous keys of one of its query's possible buckets
            for i in range(s):
                sure = [j for j in one_k if not params.causal or j <= i]
                if not any(all(m[i, j] == (one_k[j] == bq) for j in sure) for bq in qb[i]):
                    problems.append(f"KV head {g} ({name}): row {i} is no bucket's keys")
                    break
        unamb, sure_keys = list(one_q), list(one_k)
        a, b = _mask(got_rows[g], s), _mask(want_rows[g], s)
        diff = np.flatnonzero((a[np.ix_(unamb, sure_keys)]
                               != b[np.ix_(unamb, sure_keys)]).any(axis=1))
        if diff.size:
            problems.append(f"KV head {g}: row {unamb[diff[0]]} differs on unambiguous keys")
    return problems


def landmark_margin_problems(params, shape, q, k) -> list[str]:
    """k-means assignments cannot be compared up to a near-tie (a flipped assignment moves every
    later centre), so landmark tests need data without one: replay the fp32 k-means of
    ``sattn.specs.landmark`` and report every assignment whose best and second-best centre
    distances lie within their rounding bound. Empty for contiguous segments.

    Every implementation computes the same fp32 centres and ``|c|^2`` (same operations, same
    order) from the same assignment; only the dot ``K[j] . c_l`` may be summed in another order
    (within ``gamma(D) * |K[j]| . |c_l|`` of its exact value on each side, the distance
    doubles it), and the final subtraction rounds each side's distance (``u * |dist|``)."""
    if not params.landmark_iters:
        return []
    _, ks = selection_operands(params, q, k)
    d = shape.head_dim
    nl = landmark.num_landmarks(params, shape.kv_len)
    problems = []
    for g in range(shape.kv_heads):
        kg = ks[g].astype(np.float32)
        steps = landmark.centres_and_assignments(kg, nl, params.landmark_iters)
        for it, (cen, a) in enumerate(steps):
            dist = landmark.distances(kg, cen).astype(np.float64)
            err = (2 * 2 * gamma(d, U32) * (np.abs(kg).astype(np.float64) @ np.abs(cen.T))
                   + 2 * U32 * np.abs(dist))
            rows = np.arange(len(a))
            margin = dist - dist[rows, a][:, None] - err - err[rows, a][:, None]
            margin[rows, a] = np.inf
            close = np.flatnonzero((margin <= 0).any(axis=1))
            if close.size:
                problems.append(f"KV head {g} iteration {it}: keys {close.tolist()[:5]} are within "
                                f"the fp32 rounding of two centres")
    return problems


def same_selection_problems(params, shape, q, k, got, want) -> list[str]:
    """Why ``got`` and ``want`` (Selections, sequences of GroupSelections, or per-head lists of
    rows) are not the same selection up to near-ties (empty when they are)."""
    g_rows, w_rows = _rows_of(got), _rows_of(want)
    if len(g_rows) != len(w_rows):
        return [f"{len(g_rows)} KV heads vs {len(w_rows)}"]
    spec = params.spec
    if spec in ("topk_per_query", "nm_structured", "bsr"):
        return [f"got: {p}" for p in _ranked_problems(params, shape, q, k, g_rows)] + \
               [f"want: {p}" for p in _ranked_problems(params, shape, q, k, w_rows)]
    if spec == "lsh":
        return [] if g_rows == w_rows else _lsh_problems(params, shape, q, k, g_rows, w_rows)
    problems = landmark_margin_problems(params, shape, q, k) if spec == "landmark" else []
    assigns = [getattr(x, "landmark_assign", None) for x in (got, want)]
    if all(a is not None for a in assigns) and not np.array_equal(*assigns):
        problems.append("landmark assignments differ")
    for g, (a, b) in enumerate(zip(g_rows, w_rows)):
        bad = [i for i, (x, y) in enumerate(zip(a, b)) if x != y]
        if bad or len(a) != len(b):
            i = bad[0] if bad else min(len(a), len(b))
            problems.append(f"KV head {g} row {i}: {a[i] if i < len(a) else None} vs "
                            f"{b[i] if i < len(b) else None}")
    return problems


def assert_same_selection(params, shape, q, k, got, want, what: str = "") -> None:
    """``got`` and ``want`` select the same keys up to near-ties (see the module doc)."""
    problems = same_selection_problems(params, shape, q, k, got, want)
    assert not problems, f"{what}: selections differ beyond near-ties: " + "; ".join(problems[:4])


def same_groups(a, b) -> bool:
    """Whether two sequences of GroupSelections are identical, row for row."""
    a, b = list(a), list(b)
    return len(a) == len(b) and all(
        np.array_equal(x.indptr, y.indptr) and np.array_equal(x.indices, y.indices)
        for x, y in zip(a, b))


def assert_agree(params, shape, q, k, v, got_out, got_groups, want_sel: Selection,
                 want_out=None, what: str = "") -> None:
    """A path that selected by itself (``got_groups``, one GroupSelection per KV head) and
    computed ``got_out`` against the reference selection ``want_sel`` (and the reference output
    on it, ``want_out``, computed when None): the selections agree up to near-ties, and
    ``got_out`` is the reference attention on ``got_groups`` within the fp32 bound."""
    from sattn.reference.executor import attention

    assert_same_selection(params, shape, q, k, got_groups, want_sel, what)
    if same_groups(got_groups, want_sel.groups):
        want = want_out if want_out is not None else attention(params, q, k, v, selection=want_sel)
    else:  # a near-tie went the other way: compare with the reference on that selection
        want = reference_on(params, q, k, v, want_sel, got_groups)
    assert_attention_close(got_out, want, params, q, k, v, selection=want_sel, what=what)


def groups_from_rows(rows_per_head, cols: int) -> tuple[GroupSelection, ...]:
    """One GroupSelection per KV head from per-row key lists (e.g. the naive oracle's)."""
    return tuple(GroupSelection.from_dense(_mask(rows, cols)) for rows in rows_per_head)


def kept_blocks(sel: GroupSelection, params) -> list[list[int]]:
    """Per query block, the key blocks a bsr token selection takes (read from the block's last
    row, which sees every kept block's keys even when causal)."""
    s = sel.rows
    b = params.effective_block_size(s)
    return [sorted({int(j) // b for j in sel.row(min(s, qb * b + b) - 1)})
            for qb in range(csr.num_blocks(s, b))]
