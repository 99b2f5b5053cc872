"""``sattn_compile_and_sim.py``: MLIR -> selection -> RTL under Verilator -> verdict."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import need_tool
from sattn.ir.schema import params_from_dict
from sattn.reference.data import synthetic
from sattn.reference.executor import attention
from sattn.specs import select_indices
from tolerance import assert_attention_close

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "compiler" / "mlir" / "tools" / "sattn_compile_and_sim.py"
OP = '"sattn.sparse_attention"() {{ {attrs} }} : () -> ()'


def mlir(tmp_path, attrs: str) -> Path:
    p = tmp_path / "in.mlir"
    p.write_text("module {\n  " + OP.format(attrs=attrs) + "\n}\n")
    return p


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TOOL), *args], check=False, capture_output=True, text=True,
                          cwd=ROOT, timeout=300)


@pytest.fixture(autouse=True)
def _verilator():
    need_tool("verilator")


def test_spec_example_prints_the_design_lines_and_passes(tmp_path):
    f = mlir(tmp_path, "global_tokens = 8 : i64, block_size = 16 : i64, tile_M = 16 : i64, "
                       "tile_D = 32 : i64, tile_S = 64 : i64")
    out = tmp_path / "o.npy"
    proc = run("--mlir", str(f), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert re.search(r"^spec=block_local_global checksum=-?[0-9.]+$", text, re.MULTILINE)
    # existing scripts read the integer after "completed in" (design brief): the total cycles
    done = re.search(r"^verilator_tb: completed in (\d+) cycles .*total_cycles=(\d+)", text,
                     re.MULTILINE)
    assert done and int(done[1]) == int(done[2]) > 0
    m = re.search(r"^rocc_counters\(rtl\): gather_cycles=(\d+) mac_cycles=(\d+) dma_bytes=(\d+) "
                  r"dma_q=(\d+) dma_k=(\d+) dma_out=(\d+)", text, re.MULTILINE)
    assert m and int(m[3]) == int(m[4]) + int(m[5])
    rtl_total = re.search(r"^rocc_counters\(rtl\): .* total_cycles=(\d+)", text, re.MULTILINE)
    assert rtl_total and int(done[1]) == int(rtl_total[1])  # N is the RTL's counter
    assert re.search(r"^spec_info: global_tokens=8 gqa_group_size=1 comp_block_size=0 nm=\(0,0\) "
                     r"lsh_buckets=0 keep_ratio=[0-9.]+", text, re.MULTILINE)
    assert re.search(r"^rocc_hw: ver=0x[0-9a-f]+ caps=0x[0-9a-f]+ \[bsr=1 sw=1 gqa=1 comp=1\]", text, re.MULTILINE)
    assert re.search(r"^rocc_util: util_mac=[0-9.]+ util_gather=[0-9.]+", text, re.MULTILINE)
    assert re.search(r"^compare: rocc vs reference .* -> PASS$", text, re.MULTILINE)
    # the saved tensor is the RTL's output and matches the reference
    got = np.load(out)
    p = params_from_dict({"global_tokens": 8, "block_size": 16, "tile_M": 16, "tile_D": 32, "tile_S": 64,
                              "spec": "block_local_global"})
    q, k, v = synthetic(p.shape())
    assert_attention_close(got, attention(p, q, k, v), p, q, k, v,
                           selection=select_indices(p, p.shape()), what="RTL vs reference")


def test_real_tensors_and_hw_probe(tmp_path):
    rng = np.random.default_rng(3)
    q = rng.standard_normal((2, 32, 16)).astype(np.float32)
    k = rng.standard_normal((1, 32, 16)).astype(np.float32)
    v = rng.standard_normal((1, 32, 16)).astype(np.float32)
    for n, a in (("q", q), ("k", k), ("v", v)):
        np.save(tmp_path / f"{n}.npy", a)
    f = mlir(tmp_path, 'precision = "i8", gqa_group_size = 2 : i64, topk_k = 4 : i64, '
                       "tile_D = 16 : i64, tile_S = 32 : i64")
    proc = run("--mlir", str(f), "--use-hw-probe", "--prefer-bsr", "--l1-bytes", "65536",
               *(x for n in "qkv" for x in (f"--{n}", str(tmp_path / f"{n}.npy"))),
               "--out", str(tmp_path / "o.npy"))
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"^hw_probe: ver=0x[0-9a-f]+ caps=0x[0-9a-f]+ disable=\[none\]", proc.stdout, re.MULTILINE)
    assert "spec=topk_per_query" in proc.stdout and "-> PASS" in proc.stdout
    assert re.search(r"^spec_info: global_tokens=0 gqa_group_size=2 ", proc.stdout, re.MULTILINE)
    # the saved tensor is the RTL's result on the user's tensors, not the synthetic data
    got = np.load(tmp_path / "o.npy")
    p = params_from_dict({"precision": "i8", "gqa_group_size": 2, "topk_k": 4, "tile_D": 16,
                          "tile_S": 32, "spec": "topk_per_query"})
    want = attention(p, q, k, v)
    assert got.shape == want.shape == (2, 32, 16)
    assert_attention_close(got, want, p, q, k, v, selection=select_indices(p, p.shape(), q, k),
                           what="RTL vs reference on the user's tensors")
    assert np.abs(want - attention(p, *synthetic(p.shape()))).max() > 1e-2  # inputs mattered
    # the byte counters on the same run follow their definitions (i8: one byte per element)
    m = re.search(r"dma_bytes=(\d+) dma_q=(\d+) dma_k=(\d+) dma_out=(\d+)", proc.stdout)
    assert int(m[1]) == int(m[2]) + int(m[3]) and int(m[4]) == 2 * 32 * 16 * 4
    assert int(m[2]) == 2 * 32 * 16  # every query row of both heads read once


def test_bad_input_is_one_line_and_leaves_no_output(tmp_path):
    f = mlir(tmp_path, "window_size = -2 : i64, tile_S = 32 : i64")
    out = tmp_path / "o.npy"
    proc = run("--mlir", str(f), "--out", str(out))
    assert proc.returncode != 0
    assert len(proc.stderr.strip().splitlines()) == 1 and "window_size" in proc.stderr
    assert "Traceback" not in proc.stderr and not out.exists()
    proc = run("--mlir", str(tmp_path / "missing.mlir"))
    assert proc.returncode != 0 and len(proc.stderr.strip().splitlines()) == 1


def test_hardware_limits_are_refused_in_one_line(tmp_path):
    f = mlir(tmp_path, "window_size = 2 : i64, tile_D = 160 : i64, tile_S = 16 : i64")
    proc = run("--mlir", str(f))
    assert proc.returncode != 0
    assert len(proc.stderr.strip().splitlines()) == 1
    # refused before the simulation (the hardware's own SHAPE refusal of a HEAD_DIM_V over
    # DMAX: tests/backends/rocc/test_rocc_dv.py)
    assert "rocc: D=160 exceeds the accelerator's DMAX=128" in proc.stderr
    assert "Traceback" not in proc.stderr
