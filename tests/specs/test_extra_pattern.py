"""The registry is open: a pattern defined and registered in this file alone flows through the
verifier, selection (``spec = "strided"``), both lowering pipelines, the reference, the RVV
kernel's generic table mode and the RoCC accelerator, each matching an independent oracle.

The pattern: query ``i`` attends key ``j`` when ``j <= i`` and ``(i - j) % stride == 0``
(stride 3, a fixed strided pattern), written here as CSR rows and checked against a dense
loop over (i, j) with a per-row softmax in float64.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import need_tool
from sattn import api
from sattn.frontend import load_params
from sattn.ir import patterns as registry
from sattn.ir.schema import AttentionParams, Shape
from sattn.specs import pattern_of, select_indices
from sattn.specs.pattern import Pattern
from sattn.specs.selection import GroupSelection

STRIDE = 3
S, D = 40, 16


class Strided(Pattern):
    """Query i attends j <= i with (i - j) % STRIDE == 0."""

    name = "strided"

    def select_group(self, shape: Shape, params: AttentionParams) -> GroupSelection:
        rows = [np.arange(i % STRIDE, i + 1, STRIDE, dtype=np.int32) for i in range(shape.seq_len)]
        indptr = np.zeros(shape.seq_len + 1, dtype=np.int64)
        np.cumsum([len(r) for r in rows], out=indptr[1:])
        return GroupSelection(indptr, np.concatenate(rows) if rows else np.zeros(0, np.int32))

    def pair_bound(self, params: AttentionParams, seq_len: int) -> int:
        return seq_len * (seq_len // STRIDE + 1)


@pytest.fixture
def strided(tmp_path):
    registry.register(Strided())
    path = tmp_path / "strided.mlir"
    path.write_text(f'"sattn.sparse_attention"() {{ spec = "strided", seq_len = {S} : i64, '
                    f'head_dim = {D} : i64, num_heads = 2 : i64 }} : () -> ()\n')
    try:
        yield path
    finally:
        registry.unregister("strided")


def oracle(q: np.ndarray, k: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Dense float64 attention over the strided mask, row by row."""
    out = np.zeros(q.shape, dtype=np.float64)
    scale = 1.0 / math.sqrt(q.shape[-1])
    for h in range(q.shape[0]):
        for i in range(q.shape[1]):
            keys = [j for j in range(q.shape[1]) if j <= i and (i - j) % STRIDE == 0]
            s = np.array([float(np.dot(q[h, i].astype(np.float64), k[h, j])) * scale for j in keys])
            w = np.exp(s - s.max())
            out[h, i] = (w / w.sum()) @ v[h, keys].astype(np.float64)
    return out


def _tolerance(n_keys: int, d: int) -> float:
    """fp32 rounding of a dot product of d terms, the exp, and a sum over n keys (relative to
    the output scale): (d + n + 8) * u with u = 2^-24, times a safety factor 8 for the
    kernels' exp polynomial and reassociation."""
    return 8 * (d + n_keys + 8) * 2.0 ** -24 + 1e-6


def test_unregistered_name_is_refused_and_registered_one_accepted(tmp_path) -> None:
    path = tmp_path / "s.mlir"
    path.write_text('"sattn.sparse_attention"() { spec = "strided" } : () -> ()\n')
    from sattn.errors import SattnError

    with pytest.raises(SattnError, match="strided"):
        load_params(path)
    registry.register(Strided())
    try:
        assert load_params(path)[0].spec == "strided"
    finally:
        registry.unregister("strided")


def test_selection_and_both_pipelines(strided) -> None:
    (p,) = load_params(strided, pipeline="sattn-lower-rvv")
    assert p.spec == "strided" and p.extra["spec_rule"] == "attr_spec"
    (r,) = load_params(strided, pipeline="sattn-lower-rocc")
    assert r.spec == "strided"
    table = r.extra["index_table"]
    want = [j for i in range(S) for j in range(S) if j <= i and (i - j) % STRIDE == 0]
    assert table["kind"] == "csr" and table["indices"] == want and table["nnz"] == len(want)
    sel = select_indices(p, p.shape())
    assert sel.spec == "strided" and sel.nnz == len(want) * p.shape().kv_heads
    assert pattern_of("strided").rvv_mode(p) == "table"


@pytest.mark.parametrize("backend", ["reference", "rvv", "rocc"])
def test_every_backend_matches_the_oracle(strided, backend: str) -> None:
    if backend == "rvv":
        need_tool("qemu-riscv64")
    if backend == "rocc":
        need_tool("verilator")
    from sattn.reference.data import synthetic

    (p,) = load_params(strided, pipeline=None)
    q, k, v = synthetic(p.shape(), 0)
    res = api.run(strided, backend=backend, q=q, k=k, v=v)
    assert res.spec == "strided"
    want = oracle(q, k, v)
    scale = float(np.abs(want).max())
    err = float(np.abs(res.output.astype(np.float64) - want).max()) / scale
    assert err <= _tolerance(S // STRIDE + 1, D), (backend, err)
