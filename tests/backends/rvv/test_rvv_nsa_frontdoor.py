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
from sattn import api
from sattn.backends.rvv import nsa as rvv_nsa
from sattn.ir.schema import params_from_dict
from sattn.reference import nsa as ref_nsa
from sattn.reference.data import load_inputs
from sattn.reference.executor import attention
from sattn.specs.nsa import NsaConfig

ROOT = Path(__file__).resolve().parents[3]
#: H = 4 query heads over 2 KV heads, S = 96, D = 16: six selection blocks of 16
OP = ('"sattn.sparse_attention"() {{ spec = "nsa", block_size = 16 : i64, select_blocks = 4 : i64, '
      'window_size = 24 : i64, seq_len = 96 : i64, head_dim = 16 : i64, num_heads = 4 : i64, '
      'gqa_group_size = 2 : i64{extra} }} : () -> ()\n')
H, S = 4, 96


@pytest.fixture(autouse=True)
def _tools():
    need_tool("qemu-riscv64")


def source(precision: str = "fp32") -> str:
    return OP.format(extra=f', precision = "{precision}"')


def gates(seed: int = 3) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {n: rng.uniform(0.0, 1.5, (S, H)).astype(np.float32) for n in ("g_cmp", "g_slc", "g_swa")}


def test_lowered_call_records_the_resolved_nsa_parameters():
    text = str(api.compile(OP.format(extra=""), "sattn-lower-rvv"))
    call = text[text.index('"sattn.rvv_call"'):]
    for want in ("block_size = 16 : i64", "select_blocks = 4 : i64", "window_size = 24 : i64",
                 "comp_block_size = 16 : i64", "comp_stride = 16 : i64", 'precision = "fp32"'):
        assert want in call, (want, call)


def _reference(precision, g, cfg_attrs=None):
    attrs = {"spec": "nsa", "block_size": 16, "select_blocks": 4, "window_size": 24,
             "seq_len": S, "head_dim": 16, "num_heads": H, "gqa_group_size": 2,
             "precision": precision, **(cfg_attrs or {})}
    params = params_from_dict(attrs)
    got = load_inputs(params, None, None, None, 0)  # the front door's synthetic data
    q, k, v = got.q, got.k, got.v
    order = ("g_cmp", "g_slc", "g_swa")
    return params, (q, k, v), attention(params, q, k, v, gates=tuple(g[n] for n in order))


@pytest.mark.parametrize("precision", ["fp32", "i8",
                                       pytest.param("bf16", marks=pytest.mark.slow),
                                       pytest.param("i4", marks=pytest.mark.slow)])
def test_api_run_matches_the_reference_with_gates(precision, tmp_path):
    g = gates()
    res = api.run(_write(tmp_path, source(precision)), "rvv", compare=True, gates=g)
    params, (q, k, v), want = _reference(precision, g)
    bound = ref_nsa.op_tolerance(params, q, k, v, tuple(g.values()))
    err = float(np.abs(res.output.astype(np.float64) - want).max())
    assert err <= bound, (precision, err, bound)
    assert res.verdict is not None and res.verdict.passed, res.verdict
    # the gates reached the kernel: without them the output is another one
    plain = api.run(_write(tmp_path, source(precision)), "rvv", compare=True)
    assert plain.verdict.passed
    assert np.abs(plain.output - res.output).max() > 100 * bound


def _write(tmp_path: Path, text: str, name: str = "op.mlir") -> Path:
    path = tmp_path / name
    path.write_text("module {\n  " + text + "}\n")
    return path


def test_edited_call_is_what_the_kernel_runs(tmp_path):
    text = str(api.compile(_write(tmp_path, source()), "sattn-lower-rvv"))
    edited = (text.replace("select_blocks = 4 : i64", "select_blocks = 2 : i64")
              .replace("window_size = 24 : i64", "window_size = 8 : i64"))
    assert edited != text
    path = tmp_path / "edited.mlir"
    path.write_text(edited)
    res = api.run(path, "rvv", compare=True)
    assert res.blocks.shape[-1] == 2
    assert re.search(r"rvv_config: .* n=2 w=8$", res.lines[0]), res.lines[0]
    _, (q, k, v), _ = _reference("fp32", gates())
    direct = rvv_nsa.run(q, k, v, NsaConfig(block_size=16, select_blocks=2, window_size=8))
    np.testing.assert_array_equal(res.output, direct.output)
    # the reference reads the same edited call: the comparison holds
    assert res.verdict.passed, res.verdict
    unedited = api.run(_write(tmp_path, source()), "rvv")
    assert np.abs(unedited.output - res.output).max() > 1e-3


def test_cli_gates_reach_the_kernel(tmp_path):
    g = gates(5)
    for name, arr in g.items():
        np.save(tmp_path / f"{name}.npy", arr)
    out = tmp_path / "out.npy"
    cmd = [sys.executable, "-m", "sattn", "run", "--mlir", str(_write(tmp_path, source("i8"))), "--backend",
           "rvv", "--out", str(out)]
    for name in g:
        cmd += [f"--{name.replace('_', '-')}", str(tmp_path / f"{name}.npy")]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"^compare: rvv vs reference .* -> PASS$", proc.stdout, re.MULTILINE), proc.stdout
    params, (q, k, v), want = _reference("i8", g)
    bound = ref_nsa.op_tolerance(params, q, k, v, tuple(g.values()))
    assert float(np.abs(np.load(out).astype(np.float64) - want).max()) <= bound


def test_run_rvv_from_mlir_runs_nsa_with_a_qkv_files_gates(tmp_path):
    """The lower-level entry (``api.run_rvv_from_mlir``, the sattn_run_rvv_from_mlir tool)
    dispatches nsa to its kernel driver and reads the gates of a ``--qkv`` file as ``sattn
    run`` does (it refused nsa, and a file's gates would have been ignored)."""
    from safetensors.numpy import save_file

    g = gates(7)
    params, (q, k, v), want = _reference("fp32", g)
    qkv = tmp_path / "qkv.safetensors"
    save_file({"q": q, "k": k, "v": v, **g}, str(qkv))
    res = api.run_rvv_from_mlir(_write(tmp_path, source()), q=qkv)
    bound = ref_nsa.op_tolerance(params, q, k, v, tuple(g.values()))
    assert float(np.abs(res.output.astype(np.float64) - want).max()) <= bound
    assert res.verdict is not None and res.verdict.passed, res.verdict
    ungated = attention(params, q, k, v)
    assert float(np.abs(res.output.astype(np.float64) - ungated).max()) > 100 * bound
