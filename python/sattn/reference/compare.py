"""How outputs are compared: the error measures and the one tolerance policy for fp32 results.

``rel_error(got, want) = max|got - want| / max|want|`` (max-normalised, so near-zero elements
do not blow it up) is the figure the tools print; ``checksum_rel_error`` compares the sums.

**Tolerance policy** (derivation in docs/precision.md, "Tolerance policy"). Two code paths
that compute the same attention in fp32 (the reference on any BLAS kernel and thread count,
the RVV kernels, the RoCC datapath, a float64 oracle) differ only by rounding: summation order,
the exp implementation, where the scale is applied. With ``u = 2**-24`` and Higham's
``gamma(n) = n*u / (1 - n*u)`` (the relative bound of ``n`` chained roundings; a sum of ``n``
terms in any order is within ``gamma(n-1)`` of the sum of their magnitudes), one path's output
is within ``eps * max|V|`` of exact arithmetic element by element, where
:func:`path_error` builds ``eps`` from

- the scores: a dot of ``D`` terms plus the scale, ``gamma(D + 2) * A`` with ``A`` a bound
  on ``|scale| * sum_d |q_d k_d|`` (integer codes: the dot is exact, ``gamma(3) * A`` for the
  dequantisation), plus ``2 u A`` for ``s - max``; softmax weights move by at most
  ``exp(2 * that) - 1`` relative (the softmax only sees score differences);
- the exp: :data:`EXP_ULPS` ulps on each weight (numerator and denominator);
- the running sums over the ``n`` selected keys (denominator and P.V), at most 3 roundings
  per key with an online rescale: ``gamma(3 n)`` each;
- the normalisation and the V scale: 3 roundings;
- a row merged from ``T >= 2`` key-tile partial records (the RoCC backend, split-KV): each
  record is a normalised partial output, so the per-record normalisation is the 3 roundings
  above, the float64 merge ``sum_t w_t o_t / sum_t w_t`` with ``w_t = l_t exp(m_t - M)`` adds
  ``gamma(2 T + 4)`` in float64 (T products and T - 1 additions on each side, the exp, the
  division) and the final rounding to fp32 one more ``u``; the partial sums themselves are
  the sums above over fewer keys each (their combination is a sum in another order).

Two paths differ by at most the sum of their bounds: :func:`attention_tolerance` returns
``bound = 2 * eps * max|V|``. It never depends on what a run printed, and stays far below
what a real bug moves (one key of ``n`` dropped moves a row by about ``|v_j - o| / n``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sattn import precision as prec
from sattn.result import checksum
from sattn.specs import pattern_of

#: Unit roundoff of fp32 (round to nearest): every correctly rounded operation is within a
#: relative ``U32`` of the exact result.
U32 = 2.0**-24
#: Unit roundoff of float64 (the selection scores are float64).
U64 = 2.0**-53

#: Worst error of the exp implementations we compare, in ulps of the result (one ulp is at
#: most ``2 u`` relative): NumPy's float32 exp is validated to 3 ulps (its test data
#: ``umath-validation-set-exp.csv``), the RVV kernels' exp2 polynomial is 3.7e-7 relative
#: (3.1 ulps, docs/rvv.md), the RTL's exp unit is asserted <= 2 ulps (tests/hw).
EXP_ULPS = 4

#: The spec's tolerance guide: a precision against fp32 (a ceiling, not a target). This is a
#: different question from the policy above (another precision is another computation).
PRECISION_TOLERANCE: dict[str, float] = {"fp32": 0.0, "bf16": 1e-2, "i8": 5e-2, "i4": 1e-1}


def gamma(n: int, u: float = U32) -> float:
    """Higham's ``gamma_n = n u / (1 - n u)``: ``prod (1 + d_i)`` of ``n`` roundings
    ``|d_i| <= u`` lies in ``[1 - gamma_n, 1 + gamma_n]`` (``inf`` once ``n u >= 1``)."""
    nu = max(0, n) * u
    return nu / (1.0 - nu) if nu < 1.0 else math.inf


def path_error(head_dim: int, keys: int, score_bound: float, exact_dot: bool = False,
               mean_terms: int = 1, partials: int = 1) -> float:
    """``eps``: one fp32 path's attention output is within ``eps * max|V|`` of exact arithmetic.

    ``head_dim``: D (terms of a score); ``keys``: the most keys a row attends (n);
    ``score_bound``: A, a bound on ``|scale| * sum_d |q_d k_d|`` over every (query, key) pair;
    ``exact_dot``: integer codes (the dot is exact, only the dequantisation rounds);
    ``mean_terms``: keys/values that are means of up to this many fp32 rows (landmarks), each
    a sum in some order and a division; ``partials``: the most key-tile records a row is
    merged from (1: none). See the module doc for each term.
    """
    u = U32
    dot = gamma(3) if exact_dot else gamma(head_dim + 2)
    means = gamma(mean_terms) if mean_terms > 1 else 0.0  # (c - 1) adds and the division
    ds = (dot + means + 2 * u) * score_bound  # one score, absolute (incl. the rounding of s - max)
    e = EXP_ULPS * 2 * u
    acc = gamma(3 * max(1, keys))
    norm = (1 + u) ** 3 if partials <= 1 else (1 + u) ** 4 * (1 + gamma(2 * partials + 4, U64))
    weights = math.exp(2 * ds) * (1 + e) / (1 - e) * (1 + acc) * norm - 1
    return (1 + weights) * (1 + acc) * (1 + means) - 1


def score_bound(q: np.ndarray, k: np.ndarray, scale: float) -> float:
    """A bound on ``|scale| * sum_d |q_d k_d|`` for every row of ``q`` [..., D] against every
    row of ``k`` [..., D], from row norms only (Hoelder: the smallest of the (2, 2), (1, inf)
    and (inf, 1) products of the largest norms), so it costs O(size) and no Q.K^T."""
    if q.size == 0 or k.size == 0:
        return 0.0
    qa = np.abs(np.asarray(q, dtype=np.float64)).reshape(-1, q.shape[-1])
    ka = np.abs(np.asarray(k, dtype=np.float64)).reshape(-1, k.shape[-1])
    q2 = float(np.sqrt((qa * qa).sum(axis=1)).max())
    k2 = float(np.sqrt((ka * ka).sum(axis=1)).max())
    q1, k1 = float(qa.sum(axis=1).max()), float(ka.sum(axis=1).max())
    qi, ki = float(qa.max()), float(ka.max())
    return abs(scale) * min(q2 * k2, q1 * ki, qi * k1)


@dataclass(frozen=True)
class Tolerance:
    """The element-wise bound on |a - b| between two fp32 computations of one attention, and
    what it was derived from (see the module doc)."""

    bound: float  # absolute, for every output element: 2 * eps * value_scale
    eps: float  # one path's error relative to value_scale (path_error)
    value_scale: float  # max|V| as the precision computes it (dequantised)
    head_dim: int
    keys: int  # the most keys a row attends
    score_bound: float  # A
    exact_dot: bool

    def checksum_bound(self, out: np.ndarray) -> float:
        """Bound on the difference of two checksums of outputs like ``out``: every element
        differs by at most ``bound``, and each float64 sum of the N elements is within
        ``gamma(N - 1, U64) * sum|out|`` of the exact sum."""
        a = np.abs(np.asarray(out, dtype=np.float64))
        return self.bound * a.size + 2 * gamma(a.size, U64) * (float(a.sum()) + self.bound * a.size)

    def describe(self) -> str:
        """How the bound was derived, in one line (for failure messages)."""
        exact = ", exact integer dot" if self.exact_dot else ""
        return (f"2 x {self.eps:.3g} x max|V| {self.value_scale:.3g}: fp32 rounding of "
                f"D={self.head_dim} term scores (|scores| <= {self.score_bound:.3g}{exact}) and "
                f"of sums over <= {self.keys} keys")


def attention_tolerance(params, q: np.ndarray, k: np.ndarray, v: np.ndarray,
                        keys: int | None = None, partials: int = 1) -> Tolerance:
    """The policy's bound for comparing two computations of ``attention(params, q, k, v)``.

    ``keys``: the most keys any row attends (the largest row of the selection); default the
    size of the key space (Skv, or the landmarks), which is always an upper bound.
    ``partials``: the most key-tile partial records a row of one side was merged from.
    """
    ops = prec.prepare(params, q, k, v)
    s, d = k.shape[-2], q.shape[-1]  # Skv: the keys a row can attend, the rows a mean averages
    # d is Q's and K's D (the terms of a score), rightly not V's Dv: each output element is one
    # P.V sum over the keys, whatever Dv is, so Dv enters no term of the bound (only max|V|)
    pattern = pattern_of(params.spec)
    landmarks = pattern.key_space == "landmarks"
    if keys is None:
        keys = pattern.keys_bound(params, s) if landmarks else s
    # landmark keys/values are fp32 means of up to S rows (integer codes: exact sums, and the
    # rounded mean is the same on every path)
    mean_terms = s if landmarks and not prec.is_integer(params.precision) else 1
    a = score_bound(ops.q, ops.k, ops.score_scale)
    eps = path_error(d, keys, a, prec.is_integer(params.precision), mean_terms, partials)
    vmax = float(np.abs(ops.v).max()) * ops.v_scale if ops.v.size else 0.0
    return Tolerance(2 * eps * vmax, eps, vmax, d, keys, a, prec.is_integer(params.precision))


def rel_error(got: np.ndarray, want: np.ndarray) -> float:
    """max|got - want| / max|want| (0 when both are all zeros)."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    scale = float(np.abs(want).max()) if want.size else 0.0
    err = float(np.abs(got - want).max()) if want.size else 0.0
    return err / scale if scale > 0 else err


def checksum_rel_error(got: np.ndarray, want: np.ndarray) -> float:
    """|checksum(got) - checksum(want)| / |checksum(want)|."""
    a, b = checksum(got), checksum(want)
    return abs(a - b) / abs(b) if b else abs(a - b)


@dataclass(frozen=True)
class Verdict:
    """The outcome of comparing a backend's output with the reference."""

    backend: str
    max_abs_err: float
    rel_err: float
    tolerance: float  # the policy's absolute bound on every element (Tolerance.bound)
    #: a backend that selects by itself (nsa's kept blocks): False when its selection is not
    #: a correct one (beyond the near-tie rule), whatever the output's error
    selection_ok: bool = True

    @property
    def passed(self) -> bool:
        return self.selection_ok and self.max_abs_err <= self.tolerance

    def line(self) -> str:
        word = "PASS" if self.passed else "FAIL"
        return (f"compare: {self.backend} vs reference max_abs_err={self.max_abs_err:.3e} "
                f"rel_err={self.rel_err:.3e} bound={self.tolerance:.3e} -> {word}")


def verdict(backend: str, got: np.ndarray, want: np.ndarray,
            tolerance: Tolerance | float) -> Verdict:
    """Compare ``got`` with the reference ``want`` element by element against the policy's
    bound (a :class:`Tolerance` from :func:`attention_tolerance`, or its absolute bound)."""
    bound = tolerance.bound if isinstance(tolerance, Tolerance) else float(tolerance)
    got64, want64 = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if got64.shape != want64.shape:
        return Verdict(backend, math.inf, math.inf, bound)
    diff = np.abs(got64 - want64)
    return Verdict(backend, float(diff.max()) if diff.size else 0.0, rel_error(got, want), bound)


def max_keys(selection) -> int | None:
    """The most keys any row of a :class:`sattn.specs.Selection` attends (None for None)."""
    if selection is None:
        return None
    return max([int(g.counts().max()) for g in selection.groups if g.rows] or [0]) or 1
