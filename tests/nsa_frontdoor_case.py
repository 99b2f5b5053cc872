"""The nsa op the front-door tests of every backend run (tests/backends/*/test_*_nsa_frontdoor.py):
its MLIR text, gates, and the reference's output on the front door's synthetic data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sattn.ir.schema import params_from_dict
from sattn.reference.data import load_inputs
from sattn.reference.executor import attention

#: H = 4 query heads over 2 KV heads, S = 96, D = 16: six selection blocks of 16
OP = ('"sattn.sparse_attention"() {{ spec = "nsa", block_size = 16 : i64, select_blocks = 4 : i64, '
      'window_size = 24 : i64, seq_len = 96 : i64, head_dim = 16 : i64, num_heads = 4 : i64, '
      'gqa_group_size = 2 : i64{extra} }} : () -> ()\n')
H, S = 4, 96
GATE_NAMES = ("g_cmp", "g_slc", "g_swa")


def source(precision: str = "fp32") -> str:
    return OP.format(extra=f', precision = "{precision}"')


def write_op(tmp_path: Path, text: str, name: str = "op.mlir") -> Path:
    path = tmp_path / name
    path.write_text("module {\n  " + text + "}\n")
    return path


def gates(seed: int = 3) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {n: rng.uniform(0.0, 1.5, (S, H)).astype(np.float32) for n in GATE_NAMES}


def reference(precision: str, g: dict[str, np.ndarray] | None, cfg_attrs=None):
    """(params, (q, k, v), the reference's output with gates ``g``; None: 1.0) for OP."""
    attrs = {"spec": "nsa", "block_size": 16, "select_blocks": 4, "window_size": 24,
             "seq_len": S, "head_dim": 16, "num_heads": H, "gqa_group_size": 2,
             "precision": precision, **(cfg_attrs or {})}
    params = params_from_dict(attrs)
    got = load_inputs(params, None, None, None, 0)  # the front door's synthetic data
    q, k, v = got.q, got.k, got.v
    given = None if g is None else tuple(g[n] for n in GATE_NAMES)
    return params, (q, k, v), attention(params, q, k, v, gates=given)
