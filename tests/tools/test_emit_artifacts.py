"""S.txt / S.desc: the format of docs/artifacts.md, round-tripped against the Selection."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sattn.api import emit
from sattn.backends.rocc.artifacts import emit_artifacts, read_desc
from sattn.ir.schema import Shape, params_from_dict
from sattn.reference.data import synthetic
from sattn.specs import select_indices

ROOT = Path(__file__).resolve().parents[2]

REQUIRED = ["spec", "precision", "m_rows", "head_dim_d", "s_tokens", "block_size", "k_blocks", "num_heads", "kv_heads", "gqa_group_size", "comp_block_size", "global_tokens", "nm_n", "nm_m", "topk_k", "lsh_buckets", "keep_ratio", "window_size", "dilation", "wrap", "causal", "num_landmarks", "landmark_iters", "scale_q", "scale_k", "scale_v", "key_space", "num_keys", "index_nnz", "row_ptr"]


def read_back(stem: Path):
    desc = read_desc(stem.with_suffix(".desc"))
    idx = [int(x) for x in stem.with_suffix(".txt").read_text().split()]
    return desc, idx


@pytest.mark.parametrize("spec,attrs", [
    ("sliding_window", {"window_size": 3, "causal": 1}),
    ("bsr", {"block_size": 4, "keep_ratio": 0.5, "comp_block_size": 2}),
    ("block_local_global", {"block_size": 4, "global_tokens": 2}),
    ("nm_structured", {"nm_n": 1, "nm_m": 3}),
    ("topk_per_query", {"topk_k": 4}),
    ("lsh", {"lsh_buckets": 3}),
    ("landmark", {"num_landmarks": 4, "landmark_iters": 1}),
])
def test_artifacts_round_trip(tmp_path, spec, attrs):
    shape = Shape(4, 18, 8, 2)
    p = params_from_dict({**attrs, "gqa_group_size": 2, "precision": "i8", "tile_M": 16}).replace(spec=spec)
    q, k, _ = synthetic(shape)
    sel = select_indices(p, shape, q, k)
    stem = tmp_path / "indices"
    emit_artifacts(p, shape, sel, stem, extra={"backend": "test"})
    desc, idx = read_back(stem)
    assert all(key in desc for key in REQUIRED)
    assert desc["spec"] == spec and desc["backend"] == "test" and desc["m_rows"] == "16"
    assert int(desc["index_nnz"]) == len(idx) == sel.nnz
    assert (int(desc["s_tokens"]), int(desc["head_dim_d"]), int(desc["kv_heads"])) == (18, 8, 2)
    assert float(desc["scale_q"]) == 0.05 and desc["key_space"] == sel.key_space
    row_ptr = [int(x) for x in desc["row_ptr"].split(",")]
    assert len(row_ptr) == 2 * 18 + 1
    for g in range(2):
        for r in range(18):
            a, b = row_ptr[g * 18 + r], row_ptr[g * 18 + r + 1]
            assert idx[a:b] == sel.groups[g].row(r).tolist()
    if sel.block_table is not None:
        assert int(desc["k_blocks"]) == max(int(t.counts().max()) for t in sel.block_table)
    else:
        most = max(int(g.counts().max()) for g in sel.groups)
        assert int(desc["k_blocks"]) == -(-most // int(desc["block_size"]))
    for key in attrs:
        assert float(desc[key]) == float(attrs[key])


def test_values_used_are_written():
    shape = Shape(1, 16, 8)
    from sattn.backends.rocc.artifacts import descriptor

    p = params_from_dict({}).replace(spec="bsr")
    d = descriptor(p, shape, select_indices(p, shape, *synthetic(shape)[:2]))
    assert d["keep_ratio"] == 0.25 and d["nm_n"] == 0 and d["topk_k"] == 0 and d["scale_v"] == 1.0
    p = params_from_dict({"precision": "i4"}).replace(spec="sliding_window")
    d = descriptor(p, shape, select_indices(p, shape))
    assert d["window_size"] == 64 and d["keep_ratio"] == 0.0 and d["scale_k"] == 0.125


def test_launcher_writes_both_files(tmp_path):
    f = tmp_path / "in.mlir"
    f.write_text('module {\n  "sattn.sparse_attention"() { nm_n = 2 : i64, nm_m = 4 : i64, '
                 'lsh_buckets = 4 : i64, keep_ratio = 0.5 : f64, gqa_group_size = 2 : i64, '
                 'comp_block_size = 8 : i64, tile_S = 32 : i64, tile_D = 16 : i64 } : () -> ()\n}\n')
    stem = tmp_path / "out" / "idx"
    proc = subprocess.run([sys.executable, str(ROOT / "compiler/mlir/tools/sattn_emit_artifacts.py"),
                           "--mlir", str(f), "--out-stem", str(stem)], check=False, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    desc, idx = read_back(stem)
    assert desc["spec"] == "nm_structured"
    assert (desc["nm_n"], desc["nm_m"], desc["lsh_buckets"], desc["keep_ratio"]) == ("2", "4", "4", "0.5")
    assert (desc["gqa_group_size"], desc["comp_block_size"], desc["num_heads"]) == ("2", "8", "2")
    assert len(idx) == int(desc["index_nnz"]) == 32 * 16  # 2 of every 4 of 32 keys, 32 rows, one KV head
    assert sorted(p.name for p in stem.parent.iterdir()) == ["idx.desc", "idx.txt"]


def test_bad_input_writes_nothing(tmp_path):
    f = tmp_path / "in.mlir"
    f.write_text('module {\n  "sattn.sparse_attention"() { nm_n = 5 : i64, nm_m = 4 : i64 } : () -> ()\n}\n')
    stem = tmp_path / "idx"
    proc = subprocess.run([sys.executable, str(ROOT / "compiler/mlir/tools/sattn_emit_artifacts.py"),
                           "--mlir", str(f), "--out-stem", str(stem)], check=False, capture_output=True, text=True)
    assert proc.returncode != 0 and "nm_n" in proc.stderr and "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == [f]


def test_emit_selects_on_the_given_inputs(tmp_path):
    """``sattn.api.emit`` (the tool's one call) selects a data-dependent pattern on the Q/K it
    is given, not on the synthetic data: every query scores key j as w[j], so each row's top 2
    are the two largest weights its mask admits."""
    f = tmp_path / "in.mlir"
    f.write_text('module {\n  "sattn.sparse_attention"() { spec = "topk_per_query", topk_k = 2 : i64,'
                 ' tile_S = 16 : i64, tile_D = 8 : i64 } : () -> ()\n}\n')
    w = np.array([3, 9, 1, 14, 7, 0, 12, 5, 2, 11, 6, 15, 4, 8, 13, 10], dtype=np.float32)
    q = np.zeros((1, 16, 8), np.float32)
    q[..., 0] = 1.0
    k = np.zeros((1, 16, 8), np.float32)
    k[0, :, 0] = w / 16
    v = np.ones((1, 16, 8), np.float32)
    stem = tmp_path / "idx"
    sel, txt, desc_path = emit(f, stem, q=q, k=k, v=v)
    desc, idx = read_back(stem)
    assert (txt, desc_path) == (stem.with_suffix(".txt"), stem.with_suffix(".desc"))
    assert desc["spec"] == sel.spec == "topk_per_query" and len(idx) == sel.nnz
    row_ptr = [int(x) for x in desc["row_ptr"].split(",")]
    causal = desc["causal"] == "1"
    for r in range(16):
        admitted = range(r + 1) if causal else range(16)
        want = sorted(sorted(admitted, key=lambda j: -w[j])[:2])
        assert idx[row_ptr[r]:row_ptr[r + 1]] == want, r
