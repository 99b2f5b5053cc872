"""Synthetic workloads with a known attention structure (not model data; say so when shown).

:func:`recency`: a step whose attention concentrates on the last positions of the cache, as the
local heads of trained language models do (the locality sliding-window and block-local patterns
exploit). Per KV head ``g`` a direction ``u_g`` (standard normal, D entries); each query of the
group is ``u_g`` plus noise (0.3 x standard normal); keys are small noise (0.25 x standard
normal) plus ``c(t) * sqrt(D) / |u_g|^2 * u_g`` where ``t = Skv - 1 - j`` is key ``j``'s distance
from the last position and ``c(t) = strength * exp(-t / reach)``: the score of the query at the
end of the cache on key ``j`` is about ``c(t)`` above a background of about N(0, 0.25^2 |q|^2 / D).
Values are standard normal. Deterministic in ``seed``; float32.
"""

from __future__ import annotations

import numpy as np

from sattn import resources
from sattn.ir.schema import Shape


def recency(shape: Shape, seed: int = 0, reach: float = 16.0, strength: float = 16.0
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(q [H, Sq, D], k [Hkv, Skv, D], v [Hkv, Skv, D]) of the recency workload (module doc)."""
    resources.require(resources.inputs(shape, None, synthetic=True))
    rng = np.random.default_rng(seed)
    h, sq, d, g, skv = shape.heads, shape.seq_len, shape.head_dim, shape.kv_heads, shape.kv_len
    u = rng.standard_normal((g, d))
    q = np.repeat(u, shape.group, axis=0)[:, None, :] + 0.3 * rng.standard_normal((h, sq, d))
    k = 0.25 * rng.standard_normal((g, skv, d))
    c = strength * np.exp(-(skv - 1 - np.arange(skv)) / reach)
    k += (c[None, :, None] * np.sqrt(d) / (u * u).sum(-1)[:, None, None]) * u[:, None, :]
    v = rng.standard_normal((g, skv, d))
    return q.astype(np.float32), k.astype(np.float32), v.astype(np.float32)
