"""A lowered file runs as written on the RoCC accelerator too: an edited stencil offset of the
recorded index table is the selection its index lists carry, and the verdict compares with the
reference of the edited table."""

from __future__ import annotations

import math

import numpy as np
from conftest import need_tool
from sattn import api
from sattn.reference.data import synthetic
from tolerance import assert_attention_close

WINDOW = ('"sattn.sparse_attention"() { spec = "sliding_window", window_size = 3 : i64, '
          'seq_len = 48 : i64, head_dim = 16 : i64, num_heads = 2 : i64, '
          'gqa_group_size = 2 : i64 } : () -> ()\n')
STENCIL = "offsets = array<i32: -3, -2, -1, 0, 1, 2, 3>"
EDITED = "offsets = array<i32: -3, -2, -1, 0, 1, 2, 9>"


def oracle(q, k, v, offsets):
    """Float64 softmax attention of row i over keys i + o in [0, S), K/V head h // group."""
    h, s, d = q.shape
    group = h // k.shape[0]
    out = np.zeros(q.shape, dtype=np.float64)
    for hh in range(h):
        for i in range(s):
            keys = sorted({i + o for o in offsets if 0 <= i + o < s})
            sc = np.array([float(np.dot(q[hh, i].astype(np.float64), k[hh // group, j]))
                           for j in keys]) / math.sqrt(d)
            w = np.exp(sc - sc.max())
            out[hh, i] = (w / w.sum()) @ v[hh // group, keys].astype(np.float64)
    return out


def test_edited_stencil_runs_on_rocc(tmp_path):
    need_tool("verilator")
    text = str(api.compile(WINDOW, "sattn-lower-rocc"))
    assert STENCIL in text, text
    path = tmp_path / "edited.mlir"
    path.write_text(text.replace(STENCIL, EDITED))
    r = api.run(path, "rocc", compare=True)
    p = r.params
    q, k, v = synthetic(p.shape())
    assert r.verdict.passed
    want = oracle(q, k, v, (-3, -2, -1, 0, 1, 2, 9))
    assert_attention_close(r.output, want, p, q, k, v, keys=7, what="rocc vs oracle")
    pairs = sum(len({i + o for o in (-3, -2, -1, 0, 1, 2, 9) if 0 <= i + o < 48}) for i in range(48))
    assert r.counters["pairs"] == 2 * pairs  # two query heads
