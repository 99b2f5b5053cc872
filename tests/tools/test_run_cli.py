"""``sattn run --backend reference`` / ``python -m sattn run``: outputs, printing, bad input."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sattn.cli.main import main
from sattn.ir.schema import Shape, params_from_dict
from sattn.reference.data import synthetic
from sattn.reference.executor import attention

ROOT = Path(__file__).resolve().parents[2]
SW = '"sattn.sparse_attention"() {{ {attrs} }} : () -> ()'


def mlir(tmp_path, attrs: str, name="in.mlir") -> Path:
    p = tmp_path / name
    p.write_text("module {\n  " + SW.format(attrs=attrs) + "\n}\n")
    return p


def test_run_prints_spec_checksum_density_and_writes_out(tmp_path, capsys):
    f = mlir(tmp_path, "window_size = 4 : i64, tile_D = 16 : i64, tile_S = 64 : i64")
    out = tmp_path / "o.npy"
    assert main(["run", "--mlir", str(f), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    got = np.load(out)
    p = params_from_dict({"window_size": 4}).replace(spec="sliding_window")
    want = attention(p, *synthetic(Shape(1, 64, 16)))
    np.testing.assert_array_equal(got, want)
    m = re.search(r"^spec=sliding_window checksum=(\S+)$", text, re.MULTILINE)
    assert m and float(m.group(1)) == pytest.approx(float(want.astype(np.float64).sum()), abs=1e-5)
    dens = re.search(r"^density=(\S+) selected_pairs=(\d+)$", text, re.MULTILINE)
    # rows 0..3 and 60..63 lose out-of-range keys: 64*9 - 2*(4+3+2+1)
    assert int(dens.group(2)) == 64 * 9 - 20
    assert float(dens.group(1)) == pytest.approx((64 * 9 - 20) / 64**2, abs=1e-6)


def test_run_with_npy_inputs_and_gqa(tmp_path, capsys):
    f = mlir(tmp_path, 'topk_k = 5 : i64, gqa_group_size = 2 : i64, precision = "i8"')
    q, k, v = synthetic(Shape(4, 24, 8, 2), seed=7)
    for n, a in (("q", q), ("k", k), ("v", v)):
        np.save(tmp_path / f"{n}.npy", a)
    out = tmp_path / "o.npy"
    args = ["run", "--mlir", str(f), "--out", str(out)]
    for n in "qkv":
        args += [f"--{n}", str(tmp_path / f"{n}.npy")]
    assert main(args) == 0
    assert "spec=topk_per_query" in capsys.readouterr().out
    p = params_from_dict({"topk_k": 5, "gqa_group_size": 2, "precision": "i8"}).replace(
        spec="topk_per_query")
    np.testing.assert_array_equal(np.load(out), attention(p, q, k, v))


@pytest.mark.parametrize("case,msg", [
    ("wrong_shape", "not a multiple of K's"),
    ("wrong_dtype", "dtype int64"),
    ("wrong_ndim", "expected 3 dimensions"),
    ("group", "gqa_group_size=2"),
])
def test_bad_npy_inputs_fail_cleanly(tmp_path, capsys, case, msg):
    f = mlir(tmp_path, "gqa_group_size = 2 : i64, window_size = 2 : i64, tile_S = 16 : i64")
    q, k, v = synthetic(Shape(4, 16, 8, 2))
    if case == "wrong_shape":
        q = q[:3]
    elif case == "wrong_dtype":
        v = v.astype(np.int64)
    elif case == "wrong_ndim":
        k = k[0]
    elif case == "group":
        k, v = np.concatenate([k, k]), np.concatenate([v, v])
    args = ["run", "--mlir", str(f), "--out", str(tmp_path / "o.npy")]
    for n, a in (("q", q), ("k", k), ("v", v)):
        np.save(tmp_path / f"{n}.npy", a)
        args += [f"--{n}", str(tmp_path / f"{n}.npy")]
    assert main(args) != 0
    err = capsys.readouterr().err
    assert msg in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "o.npy").exists()


@pytest.mark.parametrize("attrs,msg", [
    ("num_heads = 3 : i64, gqa_group_size = 2 : i64", "not divisible"),
    ('precision = "i8", scale_q = 0.0 : f32', "scale_q"),
    ('precision = "i4", scale_v = -0.1 : f32', "scale_v"),
])
def test_bad_attributes_fail_cleanly(tmp_path, attrs, msg):
    f = mlir(tmp_path, attrs + ", window_size = 2 : i64")
    out = tmp_path / "o.npy"
    proc = subprocess.run([sys.executable, "-m", "sattn", "run", "--mlir", str(f), "--out", str(out)],
                          check=False, capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode != 0
    assert msg in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not out.exists() and not list(tmp_path.glob(".o.npy*"))


def test_python_m_sattn_run_on_the_spec_example(tmp_path):
    out = tmp_path / "o.npy"
    proc = subprocess.run([sys.executable, "-m", "sattn", "run", "--mlir",
                           str(ROOT / "examples" / "sliding_window_i8.mlir"), "--out", str(out)],
                          check=False, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    m = re.search(r"^spec=sliding_window checksum=(-?\d+\.\d+)$", proc.stdout, re.MULTILINE)
    assert re.search(r"^reference: precision=i8 H=1 kv_heads=1 S=128 D=32 selected_pairs=2104 ",
                     proc.stdout, re.MULTILINE)  # 128*17 - 2*(8+7+...+1) pairs
    # the example's i8 attributes reach the computation: the tensor is the i8 oracle's
    s32 = float(np.float32(0.05))  # the example writes `0.05 : f32`
    p = params_from_dict({"precision": "i8", "scale_q": s32, "scale_k": s32, "scale_v": s32,
                          "window_size": 8}).replace(spec="sliding_window")
    q, k, v = synthetic(Shape(1, 128, 32))
    want = attention(p, q, k, v)
    np.testing.assert_array_equal(np.load(out), want)
    assert float(m.group(1)) == pytest.approx(float(want.astype(np.float64).sum()), abs=1e-5)
    assert np.abs(want - attention(p.replace(precision="fp32"), q, k, v)).max() > 1e-4
