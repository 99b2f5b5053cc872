"""lsh: random-hyperplane hashing of queries and keys; a query attends the keys of its bucket.

Hyperplanes (:func:`hyperplanes`) come from splitmix64 with the fixed seed :data:`LSH_SEED`, so
C code reproduces them bit for bit without NumPy: element ``t = b * D + d`` of plane ``b`` is

    z = mix64(seed + (t + 1) * 0x9E3779B97F4A7C15)        (uint64, wrapping)
    R[b, d] = (z >> 40) / 2**23 - 1                          (exact in fp32, in [-1, 1))

with ``mix64`` the splitmix64 finaliser (:func:`splitmix64`). With
``nbits = ceil(log2(lsh_buckets))`` planes, a vector ``x`` hashes to

    code(x) = sum_b [x . R[b] >= 0] << b,   bucket(x) = code(x) mod lsh_buckets

(``lsh_buckets = 1``: one bucket, dense attention). The dot products are fp32 of the inputs
as the precision sees them (rounded bf16 values, or i8/i4 integer codes: the positive scale
never changes a sign), as the RVV kernel computes them; ``Qsum`` adds the group's heads in head
order in fp32. A projection within its fp32 rounding of zero may take either sign in another
summation order (BLAS sgemm, the kernel's fused multiply-adds in d order), so its row or key
may land in either bucket (docs/precision.md). Queries hash by their GQA group sum ``Qsum`` (:mod:`sattn.specs.gqa`),
keys by ``K``. Query ``i`` selects every key ``j`` with ``bucket(K[j]) == bucket(Qsum[i])``,
ascending; ``causal = 1`` keeps ``j <= p(i) = Skv - Sq + i``. A query whose bucket holds no key gets a zero row.
"""

from __future__ import annotations

import math

import numpy as np

from sattn.ir.patterns import register
from sattn.ir.schema import AttentionParams, Shape
from sattn.specs import csr
from sattn.specs.pattern import ForcingRule, PerGroupPattern
from sattn.specs.selection import GroupSelection

#: The fixed seed of the hyperplanes.
LSH_SEED = 0x5A77
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def splitmix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser (uint64 in, uint64 out, wrapping arithmetic)."""
    z = np.asarray(x, dtype=np.uint64).copy()
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def num_bits(buckets: int) -> int:
    """Hyperplanes used for ``buckets`` buckets: ceil(log2(buckets))."""
    return 0 if buckets <= 1 else math.ceil(math.log2(buckets))


def hyperplanes(dim: int, n: int, seed: int = LSH_SEED) -> np.ndarray:
    """The [n, dim] float32 hyperplane matrix (formula in the module doc)."""
    t = np.arange(n * dim, dtype=np.uint64) + np.uint64(1)
    with np.errstate(over="ignore"):
        z = splitmix64(np.uint64(seed) + t * _GOLDEN)
    u = (z >> np.uint64(40)).astype(np.float64)
    return (u / float(1 << 23) - 1.0).astype(np.float32).reshape(n, dim)


def bucket_ids(x: np.ndarray, buckets: int, seed: int = LSH_SEED) -> np.ndarray:
    """Bucket of every row of ``x`` [N, D] (int64; values exact in fp32, projected in fp32)."""
    nb = num_bits(buckets)
    if nb == 0:
        return np.zeros(x.shape[0], dtype=np.int64)
    proj = np.asarray(x, dtype=np.float32) @ hyperplanes(x.shape[1], nb, seed).T  # fp32
    code = ((proj >= 0).astype(np.int64) << np.arange(nb, dtype=np.int64)[None, :]).sum(axis=1)
    return code % buckets


def select(shape: Shape, params: AttentionParams, qsum: np.ndarray, k: np.ndarray) -> GroupSelection:
    """Selection of one KV head: Qsum [Sq, D], K [Skv, D] (fp32 operands)."""
    buckets = params.lsh_buckets or 1
    qb = bucket_ids(qsum, buckets)
    kb = bucket_ids(k, buckets)
    # only the buckets some key hashes to matter: number them 0..n-1 (n <= S), so memory is
    # O(S) whatever lsh_buckets is (up to 2**63 - 1); a query of another bucket gets id n,
    # which holds no key
    used, kid = np.unique(kb, return_inverse=True)
    pos = np.searchsorted(used, qb)
    hit = used[np.minimum(pos, len(used) - 1)] == qb
    qid = np.where(hit, pos, len(used))
    order = np.argsort(kid, kind="stable")  # keys grouped by bucket, ascending within one
    ptr = np.zeros(len(used) + 2, dtype=np.int64)
    np.cumsum(np.bincount(kid.ravel(), minlength=len(used) + 1), out=ptr[1:])
    sel = csr.gather_rows(qid, ptr, order)
    return csr.causal(sel, shape.offset) if params.causal else sel


class Lsh(PerGroupPattern):
    """lsh: queries attend the keys of their hash bucket (data-dependent)."""

    name = "lsh"
    rule = ForcingRule("lsh", lambda p: p.lsh_buckets is not None,
                       lambda p: f"lsh_buckets = {p.lsh_buckets} set")
    disable_key = "LSH"
    call_flag = "lsh_enabled"
    rvv_kernel = "lsh"
    score_dtype = np.float32  # fp32 group sums and projections, as the RVV kernel hashes

    def select_scored(self, shape, params, qsum, k):
        return select(shape, params, qsum, k)

    def plan(self, params: AttentionParams) -> dict:
        buckets = params.lsh_buckets or 1
        return {"kind": "lsh", "buckets": buckets, "hash": "random_hyperplane",
                "bits": num_bits(buckets), "seed": LSH_SEED, "data_dependent": 1,
                "score": "group_qk"}

    def rvv_header(self, params: AttentionParams, seq_len: int) -> dict[str, int]:
        buckets = params.lsh_buckets or 1
        return {"lsh_buckets": buckets, "lsh_planes": num_bits(buckets)}

    def rvv_aux(self, params: AttentionParams, shape: Shape) -> np.ndarray | None:
        bits = num_bits(params.lsh_buckets or 1)
        return hyperplanes(shape.head_dim, bits) if bits > 0 else None

    def desc_fields(self, params: AttentionParams, seq_len: int) -> dict:
        return {"lsh_seed": LSH_SEED}

    def host_scoring(self, params: AttentionParams, shape: Shape) -> list[tuple[str, float, float]]:
        s, d, g, h = shape.seq_len, shape.head_dim, shape.kv_heads, shape.heads
        bits = num_bits(params.lsh_buckets or 1)
        return [("lsh hashing", 8.0 * (h + g) * s * d + 8.0 * (h + g) * s * max(1, bits),
                 float(h + g) * s * d * max(1, bits))]

    def kernel_scoring(self, params: AttentionParams, shape: Shape, lanes: int) -> list[tuple[str, float]]:
        s, d, g, h = shape.seq_len, shape.head_dim, shape.kv_heads, shape.heads
        bits = max(1, num_bits(params.lsh_buckets or 1))
        return [("in-kernel lsh hashing", float(h + g) * s * bits * (d + 4))]


PATTERN = register(Lsh())
