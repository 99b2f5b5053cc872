"""`make demo`'s decode section (sattn.tools.demo_decode) on a small decode step whose cache
spans two RoCC key tiles: what it reports against what it claims to be, computed here."""

from __future__ import annotations

import numpy as np
from conftest import need_tool
from decode_oracle import oracle
from sattn import api
from sattn.reference import tensorfile
from sattn.reference.compare import attention_tolerance
from sattn.reference.workloads import recency
from sattn.specs import select_indices
from sattn.tools import demo_decode

SKV, D, H, HKV = 2100, 16, 2, 1
OP = (f'"sattn.sparse_attention"() {{ seq_len = 1 : i64, kv_len = {SKV} : i64, num_heads = {H} : i64, '
      f"gqa_group_size = {H // HKV} : i64, head_dim = {D} : i64, causal = 1 : i64, "
      "window_size = 48 : i64, block_size = 32 : i64, keep_ratio = 0.1 : f64, "
      "max_error = 0.05 : f64 } : () -> ()")


def test_decode_section_reports_what_it_ran(tmp_path, capsys):
    need_tool("qemu-riscv64")
    need_tool("verilator")
    mlir = tmp_path / "decode.mlir"
    mlir.write_text(f"module {{\n  {OP}\n}}\n")
    rep = demo_decode.section(mlir)
    out = capsys.readouterr().out
    params = api.compile(mlir, pipeline=None).params[0]
    shape = params.shape()
    q, k, v = recency(shape)
    data = tmp_path / "step.safetensors"
    tensorfile.save(data, {"q": q, "k": k, "v": v})
    assert rep.passed and not rep.refused
    for target, spec in rep.chosen.items():  # the selector's own choice on the same data
        assert spec == api.select(params.replace(spec=None), target=target, max_error_data=data).spec
    for spec in set(rep.chosen.values()):
        p = params.replace(spec=spec)
        sel = select_indices(p, shape, q, k)
        assert rep.density[spec] == sel.nnz / (HKV * 1 * SKV)
        # the error against dense, recomputed by the float64 oracle
        dense = params.replace(spec="dense")
        want_dense, _ = oracle(dense, q, k, v, select_indices(dense, shape, q, k))
        want_sparse, _ = oracle(p, q, k, v, sel)
        err = np.abs(want_sparse - want_dense).max() / np.abs(want_dense).max()
        bound = 2 * attention_tolerance(p, q, k, v).bound / np.abs(want_dense).max()
        assert abs(rep.error_vs_dense[spec] - err) <= bound
    # RoCC's K/V bytes by their definition: dense reads every K and V row once per KV head, the
    # selection its rows (decode: one row, so its keys)
    spec = rep.chosen["rocc"]
    row_bytes = D * 4
    dense_bytes, sel_bytes = rep.measured["rocc"]["dma_k_bytes"]
    keys = select_indices(params.replace(spec=spec), shape, q, k).groups[0].nnz
    assert dense_bytes == HKV * SKV * 2 * row_bytes
    assert sel_bytes == HKV * keys * 2 * row_bytes
    for b, counters in rep.measured.items():
        for key, (d, s) in counters.items():
            assert f"{d / s:.1f}x" in out  # the printed speed-up is dense over selected
            if b != "reference":  # counts, not times (no timed assertions)
                assert d > s, f"{b} {key}: the selected pattern is not cheaper ({s} vs {d})"
