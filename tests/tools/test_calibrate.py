"""sattn_calibrate_scales / sattn calibrate: the calibrate: line and its scales."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sattn.cli.main import main
from sattn.ir.schema import Shape
from sattn.reference.calibrate import calibrate, tensor_scale
from sattn.reference.data import synthetic

ROOT = Path(__file__).resolve().parents[2]
LINE = re.compile(r"^calibrate: precision=(\w+) scale_q=(\S+) scale_k=(\S+) scale_v=(\S+) "
                  r"scale_q_x1000=(\S+) scale_k_x1000=(\S+) scale_v_x1000=(\S+)", re.MULTILINE)


def test_max_abs_and_percentile():
    x = np.array([[[0.5, -2.54, 1.0, 0.1]]], np.float32)
    assert tensor_scale(x, "i8") == pytest.approx(2.54 / 127)
    assert tensor_scale(x, "i4") == pytest.approx(2.54 / 7)
    assert tensor_scale(x, "i8", 50) == pytest.approx(np.percentile([0.5, 2.54, 1.0, 0.1], 50) / 127)
    assert tensor_scale(np.zeros((1, 1, 3)), "i8") == 0.05


def test_launcher_on_the_spec_example():
    proc = subprocess.run([sys.executable, str(ROOT / "compiler/mlir/tools/sattn_calibrate_scales.py"),
                           "--mlir", str(ROOT / "examples/sliding_window.mlir"), "--precision", "i8"],
                          check=False, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    m = LINE.search(proc.stdout)
    assert m and m.group(1) == "i8"
    q, k, v = synthetic(Shape(1, 128, 32))  # the example's tile_S / tile_D
    want = calibrate(q, k, v, "i8")
    for got, w, x1000 in zip(m.group(2, 3, 4), want, m.group(5, 6, 7)):
        # six significant digits (%.6g): within half a unit of the 6th digit, 5e-6 relative
        # (plus the binary rounding of the printed decimal)
        assert float(got) == pytest.approx(w, rel=5.001e-6)
        assert float(x1000) == pytest.approx(w * 1000, rel=5.001e-6)


def test_sattn_calibrate_with_npy(tmp_path, capsys):
    f = tmp_path / "in.mlir"
    f.write_text('module {\n  "sattn.sparse_attention"() { window_size = 2 : i64 } : () -> ()\n}\n')
    args = ["calibrate", "--mlir", str(f), "--precision", "i4", "--percentile", "99"]
    arrs = [np.full((1, 8, 4), c, np.float32) for c in (0.7, -1.4, 2.1)]
    for n, a in zip("qkv", arrs):
        np.save(tmp_path / f"{n}.npy", a)
        args += [f"--{n}", str(tmp_path / f"{n}.npy")]
    assert main(args) == 0
    m = LINE.search(capsys.readouterr().out)
    assert [float(x) for x in m.group(2, 3, 4)] == pytest.approx([0.1, 0.2, 0.3])
    assert m.group(5, 6, 7) == ("100", "200", "300")
