"""Synthetic data formula, .npy loading and input checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sattn.errors import SattnError
from sattn.ir.schema import Shape, params_from_dict
from sattn.reference.data import check_qkv, load_npy, resolve_inputs, synthetic


def test_synthetic_follows_the_documented_formula():
    q, k, v = synthetic(Shape(4, 10, 6, 2), seed=2)
    assert q.shape == (4, 10, 6) and k.shape == v.shape == (2, 10, 6)
    assert q.dtype == k.dtype == v.dtype == np.float32
    h, g, s, d = 3, 1, 7, 4
    assert q[h, s, d] == np.float32(math.sin(0.013 * (s + 1) * (d + 1) + 0.7 * h + 1.3 * 2))
    assert k[g, s, d] == np.float32(math.cos(0.017 * (s + 1) * (d + 1) + 0.5 * g + 1.7 * 2))
    assert v[g, s, d] == np.float32(math.sin(0.011 * (s + 1) * (d + 2) + 0.3 * g + 0.9 * 2))
    again = synthetic(Shape(4, 10, 6, 2), seed=2)
    assert all(np.array_equal(a, b) for a, b in zip((q, k, v), again))
    assert not np.array_equal(q, synthetic(Shape(4, 10, 6, 2), seed=3)[0])


def test_load_npy_checks(tmp_path):
    good = tmp_path / "q.npy"
    np.save(good, np.zeros((2, 4, 8), np.float32))
    assert load_npy(good, "--q").shape == (2, 4, 8)
    cases = {
        "int.npy": (np.zeros((2, 4, 8), np.int32), "dtype int32"),
        "flat.npy": (np.zeros((4, 8), np.float32), "expected 3 dimensions"),
        "nan.npy": (np.full((1, 2, 2), np.nan, np.float32), "NaN"),
    }
    for name, (arr, msg) in cases.items():
        np.save(tmp_path / name, arr)
        with pytest.raises(SattnError, match=msg):
            load_npy(tmp_path / name, "--q")
    (tmp_path / "text.npy").write_text("not an array")
    with pytest.raises(SattnError, match=r"--k: .*text.npy is not a .npy file \(no NPY header\)"):
        load_npy(tmp_path / "text.npy", "--k")
    (tmp_path / "cut.npy").write_bytes(good.read_bytes()[:100])  # truncated
    with pytest.raises(SattnError, match="cannot read .*cut.npy as .npy"):
        load_npy(tmp_path / "cut.npy", "--k")
    with pytest.raises(SattnError, match="file not found"):
        load_npy(tmp_path / "missing.npy", "--v")


def test_check_qkv_errors():
    q = np.zeros((4, 8, 16), np.float32)
    kv = np.zeros((2, 8, 16), np.float32)
    assert check_qkv(q, kv, kv, 2) == Shape(4, 8, 16, 2)
    with pytest.raises(SattnError, match="gqa_group_size=1"):
        check_qkv(q, kv, kv, 1)
    with pytest.raises(SattnError, match="not a multiple"):
        check_qkv(np.zeros((3, 8, 16), np.float32), kv, kv, 1)
    # a KV cache longer than Q is a shape (Sq < Skv); a shorter one is refused
    assert check_qkv(q, np.zeros((2, 9, 16), np.float32), np.zeros((2, 9, 16), np.float32),
                     2) == Shape(4, 8, 16, 2, kv_len=9)
    with pytest.raises(SattnError, match=r"Sq=8 query rows exceed Skv=7 keys"):
        check_qkv(q, np.zeros((2, 7, 16), np.float32), np.zeros((2, 7, 16), np.float32), 2)
    with pytest.raises(SattnError, match="D must match"):
        check_qkv(q, np.zeros((2, 8, 8), np.float32), np.zeros((2, 8, 8), np.float32), 2)
    with pytest.raises(SattnError, match="V has shape"):
        check_qkv(q, kv, np.zeros((2, 9, 16), np.float32), 2)
    # V's last dimension is Dv: it may differ from D
    assert check_qkv(q, kv, np.zeros((2, 8, 8), np.float32), 2) == Shape(4, 8, 16, 2,
                                                                         head_dim_v=8)
    with pytest.raises(SattnError, match="float32"):
        check_qkv(q.astype(np.float64), kv, kv, 2)


def test_resolve_inputs_prefers_arrays_then_attributes():
    p = params_from_dict({"tile_S": 32, "tile_D": 16, "gqa_group_size": 2})
    shape, q, k, _ = resolve_inputs(p)
    assert shape == Shape(2, 32, 16, 2) and q.shape == (2, 32, 16) and k.shape == (1, 32, 16)
    p2 = p.replace(seq_len=20, head_dim=8, num_heads=4)
    assert resolve_inputs(p2)[0] == Shape(4, 20, 8, 2)
    arrs = synthetic(Shape(6, 12, 4, 2))
    assert resolve_inputs(p2, *arrs)[0] == Shape(6, 12, 4, 2)
    with pytest.raises(SattnError, match="missing --k, --v"):
        resolve_inputs(p, arrs[0])
    with pytest.raises(SattnError, match="not divisible"):
        resolve_inputs(p.replace(num_heads=3))
