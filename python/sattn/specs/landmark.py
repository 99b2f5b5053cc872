"""landmark: attend to ``L = min(num_landmarks, S)`` compressed keys/values per KV head
(``S = Skv``: the landmarks are made of the Skv key tokens).

Every key token ``j`` is assigned to one landmark (:func:`assign`):

- ``landmark_iters = 0``: contiguous, evenly spaced segments, ``assign[j] = (j * L) // S``.
- ``landmark_iters = t > 0``: k-means over K (as the precision sees it: fp32 or bf16 values,
  or the i8/i4 codes — L2 assignment is scale-invariant). Centres start at the segment means of
  the contiguous assignment; each iteration assigns every key to the nearest centre in L2,
  computed as ``argmin_l (|c_l|^2 - 2 K[j] . c_l)``, ties to the lower landmark id, then moves
  each centre to the mean of its members (an empty landmark keeps its centre). The assignment
  of the last iteration is the result.

  All in fp32, as the RVV kernel computes it (``kernels/landmark.c``): a centre is the sum of
  its members' rows added in key order from +0.0, divided by the member count; ``|c_l|^2``
  adds the rounded squares in d order from +0.0 (:func:`norms2`); the distance is
  ``fp32(|c_l|^2 - 2 K[j] . c_l)`` (:func:`distances`). Only the D-term dot products ``K[j] .
  c_l`` may be summed in another order by another implementation (BLAS sgemm, the kernel's
  fused multiply-adds in d order): a key whose two nearest centres lie within that rounding
  may be assigned either way (docs/precision.md).

The compressed key/value of landmark ``l`` is the mean of its members' K/V operands
(:func:`sattn.specs.selection.compress_kv`; i8/i4 average the integer codes and round the mean
half to even, bf16 rounds the mean of the rounded values again). Query ``i`` attends every
non-empty landmark. With ``causal = 1`` landmark ``l`` is visible to query ``i`` only when all
its members are ``<= p(i)`` (``max member <= p(i)``, ``p(i) = Skv - Sq + i``): early rows may then have no key and yield zeros.
Unset ``num_landmarks`` means :data:`DEFAULT_LANDMARKS`.
"""

from __future__ import annotations

import numpy as np

from sattn.ir.patterns import register
from sattn.ir.schema import AttentionParams, Shape
from sattn.precision import selection_operands
from sattn.specs.pattern import ForcingRule, Pattern, check_data
from sattn.specs.selection import GroupSelection, Selection

DEFAULT_LANDMARKS = 64


def num_landmarks(params: AttentionParams, seq_len: int) -> int:
    """Landmarks used: the attribute (else DEFAULT_LANDMARKS), at most S."""
    return max(1, min(params.num_landmarks or DEFAULT_LANDMARKS, seq_len))


def segment_assign(seq_len: int, landmarks: int) -> np.ndarray:
    """Contiguous evenly spaced segments: token j -> (j * L) // S."""
    return (np.arange(seq_len, dtype=np.int64) * landmarks // seq_len).astype(np.int32)


def _means(k: np.ndarray, a: np.ndarray, landmarks: int, old: np.ndarray) -> np.ndarray:
    """fp32 centres: each landmark's members (rows of ``k``, fp32) added in key order from +0.0
    (``np.add.at`` adds its rows in index order), divided by the member count; an empty
    landmark keeps ``old``."""
    counts = np.bincount(a, minlength=landmarks)
    sums = np.zeros((landmarks, k.shape[1]), dtype=np.float32)
    np.add.at(sums, a, k)
    out = old.copy()
    nz = counts > 0
    out[nz] = sums[nz] / counts[nz, None].astype(np.float32)
    return out


def norms2(centres: np.ndarray) -> np.ndarray:
    """``|c_l|^2`` in fp32: the rounded squares added in d order from +0.0."""
    out = np.zeros(centres.shape[0], dtype=np.float32)
    for d in range(centres.shape[1]):
        out += centres[:, d] * centres[:, d]
    return out


def distances(k: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """[S, L] fp32 ``|c_l|^2 - 2 K[j] . c_l`` (``k``, ``centres`` fp32)."""
    return norms2(centres)[None, :] - np.float32(2) * (k @ centres.T)


def centres_and_assignments(k: np.ndarray, landmarks: int, iters: int):
    """Every k-means step of :func:`assign`: yields (centres [L, D] fp32, the assignment made
    from them [S] int32) per iteration, the centres being those the assignment is made from."""
    k = np.asarray(k, dtype=np.float32)
    a = segment_assign(k.shape[0], landmarks)
    centres = _means(k, a, landmarks, np.zeros((landmarks, k.shape[1]), dtype=np.float32))
    for _ in range(iters):
        a = np.argmin(distances(k, centres), axis=1).astype(np.int32)  # first minimum: lower id
        yield centres, a
        centres = _means(k, a, landmarks, centres)


def assign(k: np.ndarray, landmarks: int, iters: int) -> np.ndarray:
    """Landmark id of every key token (int32 [S]); ``k`` [S, D], values exact in fp32 (see the
    module doc)."""
    a = segment_assign(k.shape[0], landmarks)
    for _, a in centres_and_assignments(k, landmarks, iters):
        pass
    return a


def select(
    shape: Shape, params: AttentionParams, assignment: np.ndarray, landmarks: int
) -> GroupSelection:
    """Selection of one KV head in landmark space from its assignment (over the Skv keys)."""
    s, n = shape.seq_len, shape.kv_len
    counts = np.bincount(assignment, minlength=landmarks)
    present = np.flatnonzero(counts > 0).astype(np.int32)
    if params.causal:
        last = np.full(landmarks, -1, dtype=np.int64)
        np.maximum.at(last, assignment, np.arange(n))
        # row i sees landmark l iff last[l] <= i: a prefix of the landmarks sorted by last member
        order = present[np.argsort(last[present], kind="stable")]
        visible = np.searchsorted(np.sort(last[present]), np.arange(n - s, n), side="right")
        mask = np.zeros((s, landmarks), dtype=bool)
        rows = np.repeat(np.arange(s), visible)
        cols = order[np.arange(int(visible.sum())) - np.repeat(np.cumsum(visible) - visible, visible)]
        mask[rows, cols] = True
        return GroupSelection.from_dense(mask)
    indptr = np.arange(s + 1, dtype=np.int64) * len(present)
    return GroupSelection(indptr, np.tile(present, s))


class Landmark(Pattern):
    """landmark: attention over k-means landmarks of the keys (data-dependent; the indices
    name landmarks, whose K/V are segment means)."""

    name = "landmark"
    data_dependent = True
    rule = ForcingRule("landmark", lambda p: p.num_landmarks > 0,
                       lambda p: f"num_landmarks = {p.num_landmarks} > 0")
    disable_key = "LANDMARK"
    call_flag = "landmark_enabled"
    rvv_kernel = "landmark"
    key_space = "landmarks"

    def select(self, params: AttentionParams, shape: Shape, q=None, k=None) -> Selection:
        check_data(self.name, shape, q, k)
        s, g = shape.seq_len, shape.kv_heads
        nl = num_landmarks(params, shape.kv_len)
        _, ks = selection_operands(params, q, k)
        a = np.stack([assign(ks[i], nl, params.landmark_iters) for i in range(g)])
        groups = tuple(select(shape, params, a[i], nl) for i in range(g))
        return Selection(spec=self.name, seq_len=s, num_keys=nl, group_size=shape.group,
                         groups=groups, key_space="landmarks", landmark_assign=a.astype(np.int32))

    def pair_bound(self, params: AttentionParams, seq_len: int) -> int:
        return seq_len * num_landmarks(params, seq_len)

    def keys_bound(self, params: AttentionParams, seq_len: int) -> int:
        return num_landmarks(params, seq_len)

    def plan(self, params: AttentionParams) -> dict:
        s = params.shape().seq_len
        return {"kind": "landmark", "landmarks": num_landmarks(params, s),
                "iters": params.landmark_iters, "init": "evenly_spaced", "key_space": "landmarks",
                "data_dependent": 1, "score": "kmeans_k"}

    def rvv_header(self, params: AttentionParams, seq_len: int) -> dict[str, int]:
        return {"landmarks": num_landmarks(params, seq_len),
                "landmark_iters": params.landmark_iters}

    def desc_fields(self, params: AttentionParams, seq_len: int) -> dict:
        return {"num_landmarks": num_landmarks(params, seq_len)}

    def host_scoring(self, params: AttentionParams, shape: Shape) -> list[tuple[str, float, float]]:
        s, d, g, h = shape.seq_len, shape.head_dim, shape.kv_heads, shape.heads
        nl = num_landmarks(params, s)
        return [(f"landmark_iters={params.landmark_iters} k-means iterations",
                 8.0 * (h + g) * s * d + 24.0 * s * nl,
                 g * float(params.landmark_iters + 1) * s * nl * (d + 2))]

    def kernel_scoring(self, params: AttentionParams, shape: Shape, lanes: int) -> list[tuple[str, float]]:
        s, d, g = shape.seq_len, shape.head_dim, shape.kv_heads
        nl = num_landmarks(params, s)
        return [(f"landmark_iters={params.landmark_iters} in-kernel k-means iterations",
                 g * float(params.landmark_iters + 1) * s * nl * (d / 2 + 4))]


PATTERN = register(Landmark())
