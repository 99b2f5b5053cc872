"""torch's scaled_dot_product_attention timed on the benchmarks' NumPy tensors: the outside
reference time the benches print beside sattn's reference (one definition for all of them)."""

from __future__ import annotations

import time

import numpy as np


def sdpa_seconds(q: np.ndarray, k: np.ndarray, v: np.ndarray, causal: bool) -> float | None:
    """Wall time of one SDPA call on Q ``[B, H, Sq, D]``, K/V ``[B, Hkv, Skv, D|Dv]`` (rank 3:
    B = 1), ``is_causal=causal``, GQA when Hkv < H; None without torch."""
    try:
        import torch
    except ImportError:
        return None
    tq, tk, tv = (torch.from_numpy(x if x.ndim == 4 else x[None]) for x in (q, k, v))
    gqa = tq.shape[1] != tk.shape[1]
    f = torch.nn.functional.scaled_dot_product_attention
    with torch.no_grad():
        t = time.perf_counter()
        if gqa:
            f(tq, tk, tv, is_causal=causal, enable_gqa=True)
        else:
            f(tq, tk, tv, is_causal=causal)
        return time.perf_counter() - t
