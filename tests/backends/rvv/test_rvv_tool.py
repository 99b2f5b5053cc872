"""``sattn_run_rvv_from_mlir.py`` end to end, and bad input reaching the user as one line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import need_tool
from sattn.backends.rvv import runner
from sattn.errors import SattnError
from sattn.ir.schema import params_from_dict
from sattn.reference.data import synthetic
from sattn.reference.executor import attention
from sattn.specs import select_indices
from tolerance import assert_attention_close

ROOT = Path(__file__).resolve().parents[3]
TOOL = ROOT / "compiler" / "mlir" / "tools" / "sattn_run_rvv_from_mlir.py"

SW = '''module {
  "sattn.sparse_attention"() { window_size = 8 : i64, tile_D = 32 : i64, tile_S = 128 : i64 } : () -> ()
}
'''


def run_tool(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TOOL), *args], check=False, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=ROOT, timeout=600)


@pytest.fixture(autouse=True)
def _tools():
    need_tool("qemu-riscv64")


@pytest.fixture
def sw_mlir(tmp_path):
    p = tmp_path / "sw.mlir"
    p.write_text(SW)
    return p


def test_tool_prints_spec_checksum_and_counters(sw_mlir, tmp_path):
    out = tmp_path / "o.npy"
    r = run_tool("--mlir", str(sw_mlir), "--out", str(out))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("spec=sliding_window checksum=")
    got = np.load(out)
    assert float(lines[0].split("checksum=")[1]) == pytest.approx(float(got.astype(np.float64).sum()), abs=1e-5)
    p = params_from_dict({"window_size": 8, "tile_D": 32, "tile_S": 128}).replace(spec="sliding_window")
    q, k, v = synthetic(p.shape())
    want = attention(p, q, k, v)
    assert_attention_close(got, want, p, q, k, v, selection=select_indices(p, p.shape()),
                           what="the tool's output vs reference")
    ctr = next(ln for ln in lines if ln.startswith("rvv_counters:"))
    vals = dict(kv.split("=") for kv in ctr.split()[1:])
    assert int(vals["total"]) == int(vals["vector"]) + int(vals["scalar"])
    assert any(ln.endswith("-> PASS") for ln in lines)


def test_tool_overrides_and_precision_flags(sw_mlir, tmp_path):
    out = tmp_path / "o.npy"
    r = run_tool("--mlir", str(sw_mlir), "--precision", "i8", "--scale_q_x1000", "40",
                 "--dilation", "2", "--wrap", "1", "--vlen", "512", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "precision=i8" in r.stdout and "vlen=512" in r.stdout
    p = params_from_dict({"window_size": 8, "tile_D": 32, "tile_S": 128, "precision": "i8",
                          "scale_q": 0.04, "dilation": 2, "wrap": 1}).replace(spec="sliding_window")
    q, k, v = synthetic(p.shape())
    want = attention(p, q, k, v)
    assert_attention_close(np.load(out), want, p, q, k, v, selection=select_indices(p, p.shape()),
                           what="the tool's output vs reference")


def test_tool_autotune_line_and_write_back(tmp_path):
    src = tmp_path / "blg.mlir"
    src.write_text('module {\n  "sattn.sparse_attention"() { global_tokens = 4 : i64, block_size = 16 : i64, '
                   'tile_D = 16 : i64, tile_S = 64 : i64 } : () -> ()\n}\n')
    tuned = tmp_path / "tuned.mlir"
    r = run_tool("--mlir", str(src), "--autotune", "--autotune-out", str(tuned))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    line = next(ln for ln in lines if ln.startswith("autotune: spec="))
    best, _, rest = line.partition(" baseline(")
    tune = dict(kv.split("=", 1) for kv in best.split()[3:] + rest.split(") ", 1)[1].split()[2:])
    cfg = dict(kv.split("=") for kv in next(ln for ln in lines if ln.startswith("rvv_config:")).split()[1:])
    ctr = dict(kv.split("=") for kv in next(ln for ln in lines if ln.startswith("rvv_counters:")).split()[1:])
    model = next(ln for ln in lines if ln.startswith("rvv_cycles(model):")).split()
    # the reported best is the run whose counters and output were printed, and the ratios are
    # computed from those counts; the tuner ranks by modelled cycles on the default machine
    assert line.startswith("autotune: spec=block_local_global best lmul=")
    assert tune["lmul"] == cfg["lmul"] and tune["instructions"] == ctr["total"]
    assert tune["vector"] == ctr["vector"] and "cycles=" + tune["model_cycles"] == model[1]
    assert (tune["vlen"], tune["dlen"], tune["mem_bytes_per_cycle"], tune["scalar_ipc"]) == (
        "256", "128", "16", "1") and model[2:6] == ["vlen=256", "dlen=128", "mem_bytes_per_cycle=16",
                                                    "scalar_ipc=1"]
    base = int(re.search(r"baseline\([^)]*\) model_cycles=(\d+)", line).group(1))
    assert base >= int(tune["model_cycles"])  # the best is no worse than the default
    assert float(tune["model_speedup"].rstrip("x")) == pytest.approx(
        base / int(tune["model_cycles"]), abs=6e-3)
    assert int(tune["trials"]) >= 2
    assert any(ln.endswith("-> PASS") for ln in lines)
    # the written-back op lowers to the same spec with the same attention parameters
    from sattn.frontend import load_params

    (orig,), (back,) = load_params(src), load_params(tuned)
    assert back.spec == orig.spec == "block_local_global"
    for name in ("global_tokens", "tile_D", "tile_S", "precision"):
        assert getattr(back, name) == getattr(orig, name), name
    assert back.block_size == int(tune["block_size"])  # the tuned block size is the one written


@pytest.mark.parametrize("args, message", [
    (["--dilation", "0"], "'dilation' must be >= 1"),
    (["--precision", "i5"], "invalid choice"),
    (["--vlen", "1024"], "invalid choice"),
    (["--scale_q_x1000", "-5"], "--scale_q_x1000 must be > 0"),
    (["--out", "x.txt"], "must end in .npy"),
])
def test_tool_bad_flags_one_line(sw_mlir, tmp_path, args, message):
    r = run_tool("--mlir", str(sw_mlir), *args)
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], r.stderr
    assert lines[0].startswith("sattn_run_rvv_from_mlir.py: error: ")
    assert "Traceback" not in r.stderr and r.stdout == ""


def test_tool_missing_qemu_one_line(sw_mlir, tmp_path):
    out = tmp_path / "o.npy"
    r = run_tool("--mlir", str(sw_mlir), "--out", str(out),
                 env={"SATTN_QEMU_RISCV64": str(tmp_path / "no-such-qemu")})
    assert r.returncode != 0
    assert len(r.stderr.strip().splitlines()) == 1
    assert "no-such-qemu" in r.stderr and "Traceback" not in r.stderr
    assert not out.exists()


def test_missing_qemu_on_path(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("SATTN_QEMU_RISCV64", raising=False)
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    p = params_from_dict({"seq_len": 8, "head_dim": 8}).replace(spec="dense")
    with pytest.raises(SattnError, match="qemu-riscv64.*apt-get install qemu-user"):
        runner.run(p, *synthetic(p.shape()))


def test_kernel_failure_reports_exit_status(monkeypatch):
    """A kernel that rejects its input: the error names the kernel, its exit status and message."""
    real = runner.build_input

    def corrupt(*a, **kw):
        blob = bytearray(real(*a, **kw))
        blob[0] ^= 0xFF  # bad magic
        return bytes(blob)

    monkeypatch.setattr(runner, "build_input", corrupt)
    p = params_from_dict({"seq_len": 8, "head_dim": 8}).replace(spec="dense")
    with pytest.raises(SattnError, match=r"RVV kernel \(dense, fp32\).*exit status 4.*bad magic"):
        runner.run(p, *synthetic(p.shape()))


def test_bad_vlen_and_lmul():
    p = params_from_dict({"seq_len": 8, "head_dim": 8}).replace(spec="dense")
    with pytest.raises(SattnError, match="--vlen must be one of"):
        runner.run(p, *synthetic(p.shape()), vlen=64)
    with pytest.raises(SattnError, match="lmul must be one of"):
        runner.run(p, *synthetic(p.shape()), lmul=3)
