"""``spec = "nsa"`` through the front door on RVV (issue 12): ``sattn-lower-rvv`` records the
resolved NSA parameters in the ``sattn.rvv_call``, the runner builds the kernel's NsaConfig
from that call (an edited call changes the run), the gates the front door loads (``--g-cmp``
..., ``api.run(gates=...)``) reach the kernel as they reach the reference, and the output is
the reference's within :func:`sattn.reference.nsa.op_tolerance` at every precision."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import need_tool
from nsa_frontdoor_case import OP, gates, reference, source, write_op
from sattn import api
from sattn.backends.rvv import nsa as rvv_nsa
from sattn.reference import nsa as ref_nsa
from sattn.specs.nsa import NsaConfig

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def _tools():
    need_tool("qemu-riscv64")


def test_lowered_call_records_the_resolved_nsa_parameters():
    text = str(api.compile(OP.format(extra=""), "sattn-lower-rvv"))
    call = text[text.index('"sattn.rvv_call"'):]
    for want in ("block_size = 16 : i64", "select_blocks = 4 : i64", "window_size = 24 : i64",
                 "comp_block_size = 16 : i64", "comp_stride = 16 : i64", 'precision = "fp32"'):
        assert want in call, (want, call)


@pytest.mark.parametrize("precision", ["fp32", "i8",
                                       pytest.param("bf16", marks=pytest.mark.slow),
                                       pytest.param("i4", marks=pytest.mark.slow)])
def test_api_run_matches_the_reference_with_gates(precision, tmp_path):
    g = gates()
    res = api.run(write_op(tmp_path, source(precision)), "rvv", compare=True, gates=g)
    params, (q, k, v), want = reference(precision, g)
    bound = ref_nsa.op_tolerance(params, q, k, v, tuple(g.values()))
    err = float(np.abs(res.output.astype(np.float64) - want).max())
    assert err <= bound, (precision, err, bound)
    assert res.verdict is not None and res.verdict.passed, res.verdict
    # the gates reached the kernel: without them the output is another one
    plain = api.run(write_op(tmp_path, source(precision)), "rvv", compare=True)
    assert plain.verdict.passed
    assert np.abs(plain.output - res.output).max() > 100 * bound


def test_edited_call_is_what_the_kernel_runs(tmp_path):
    text = str(api.compile(write_op(tmp_path, source()), "sattn-lower-rvv"))
    edited = (text.replace("select_blocks = 4 : i64", "select_blocks = 2 : i64")
              .replace("window_size = 24 : i64", "window_size = 8 : i64"))
    assert edited != text
    path = tmp_path / "edited.mlir"
    path.write_text(edited)
    res = api.run(path, "rvv", compare=True)
    assert res.blocks.shape[-1] == 2
    assert re.search(r"rvv_config: .* n=2 w=8$", res.lines[0]), res.lines[0]
    _, (q, k, v), _ = reference("fp32", gates())
    direct = rvv_nsa.run(q, k, v, NsaConfig(block_size=16, select_blocks=2, window_size=8))
    np.testing.assert_array_equal(res.output, direct.output)
    # the reference reads the same edited call: the comparison holds
    assert res.verdict.passed, res.verdict
    unedited = api.run(write_op(tmp_path, source()), "rvv")
    assert np.abs(unedited.output - res.output).max() > 1e-3


def test_cli_gates_reach_the_kernel(tmp_path):
    g = gates(5)
    for name, arr in g.items():
        np.save(tmp_path / f"{name}.npy", arr)
    out = tmp_path / "out.npy"
    cmd = [sys.executable, "-m", "sattn", "run", "--mlir", str(write_op(tmp_path, source("i8"))), "--backend",
           "rvv", "--out", str(out)]
    for name in g:
        cmd += [f"--{name.replace('_', '-')}", str(tmp_path / f"{name}.npy")]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"^compare: rvv vs reference .* -> PASS$", proc.stdout, re.MULTILINE), proc.stdout
    params, (q, k, v), want = reference("i8", g)
    bound = ref_nsa.op_tolerance(params, q, k, v, tuple(g.values()))
    assert float(np.abs(np.load(out).astype(np.float64) - want).max()) <= bound


def test_run_rvv_from_mlir_runs_nsa_with_a_qkv_files_gates(tmp_path):
    """The lower-level entry (``api.run_rvv_from_mlir``, the sattn_run_rvv_from_mlir tool)
    dispatches nsa to its kernel driver and reads the gates of a ``--qkv`` file as ``sattn
    run`` does (it refused nsa, and a file's gates would have been ignored)."""
    from safetensors.numpy import save_file

    g = gates(7)
    params, (q, k, v), want = reference("fp32", g)
    qkv = tmp_path / "qkv.safetensors"
    save_file({"q": q, "k": k, "v": v, **g}, str(qkv))
    res = api.run_rvv_from_mlir(write_op(tmp_path, source()), q=qkv)
    bound = ref_nsa.op_tolerance(params, q, k, v, tuple(g.values()))
    assert float(np.abs(res.output.astype(np.float64) - want).max()) <= bound
    assert res.verdict is not None and res.verdict.passed, res.verdict
    ungated = reference("fp32", None)[2]
    assert float(np.abs(res.output.astype(np.float64) - ungated).max()) > 100 * bound
