"""Rank-4 ``[1, H, S, D]`` and ``.safetensors`` inputs on every tool and API entry point: the
output has Q's rank, is written as ``.npy`` or ``.safetensors`` by ``--out``'s suffix, and
agrees with the reference of the same problem in ``[H, S, D]`` form (fp32 tolerance policy)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from conftest import need_tool
from fd_util import PY, REPO, assert_one_line_error, run_cmd, write_mlir
from sattn import api
from sattn.ir.schema import params_from_dict
from sattn.reference import tensorfile
from sattn.reference.data import load_tensor
from sattn.reference.executor import attention
from tolerance import assert_attention_close

ATTRS = {"spec": "sliding_window", "window_size": 4, "causal": 1, "seq_len": 32, "head_dim": 16,
         "num_heads": 4, "gqa_group_size": 2}
PARAMS = params_from_dict(ATTRS)
RNG = np.random.default_rng(11)
Q = RNG.standard_normal((1, 4, 32, 16)).astype(np.float32)
K = RNG.standard_normal((1, 2, 32, 16)).astype(np.float32)
V = RNG.standard_normal((1, 2, 32, 16)).astype(np.float32)
WANT = attention(PARAMS, Q[0], K[0], V[0])
TOOLS = REPO / "compiler" / "mlir" / "tools"


@pytest.fixture()
def files(tmp_path: Path) -> Path:
    write_mlir(tmp_path / "op.mlir", ATTRS)
    tensorfile.save(tmp_path / "qkv.safetensors", {"q": Q, "k": K, "v": V}, {"layer": "0"})
    for n, a in (("q", Q), ("k", K), ("v", V)):
        np.save(tmp_path / f"{n}.npy", a)
    return tmp_path


def _check_out(path: Path, what: str) -> None:
    out = load_tensor(path, what, "out")
    assert out.shape == Q.shape, (what, out.shape)
    assert_attention_close(out[0], WANT, PARAMS, Q[0], K[0], V[0], what=what)


@pytest.mark.parametrize("backend", ["reference", "rvv", "rocc"])
def test_sattn_run_qkv_file(files: Path, backend: str) -> None:
    """``sattn run --qkv F.safetensors --out O.safetensors``: rank 4 in, rank 4 out."""
    if backend != "reference":
        need_tool({"rvv": "qemu-riscv64", "rocc": "verilator"}[backend])
    proc = run_cmd([PY, "-m", "sattn", "run", "--mlir", "op.mlir", "--backend", backend,
                    "--qkv", "qkv.safetensors", "--out", "o.safetensors"], cwd=files)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("spec=sliding_window checksum=")
    if backend != "reference":
        assert re.search(r"-> PASS$", proc.stdout, re.MULTILINE), proc.stdout
    _check_out(files / "o.safetensors", f"sattn run --backend {backend}")
    assert tensorfile.read_header(files / "o.safetensors", "o").metadata == {"spec": "sliding_window"}


def test_bridges_and_profile_take_rank4_files(files: Path) -> None:
    """The RVV bridge (named tensors), compile_and_sim (rank-4 .npy) and profile (--qkv) on
    the same problem: PASS, and the written outputs have rank 4."""
    need_tool("qemu-riscv64")
    need_tool("verilator")
    named = [f"qkv.safetensors:{n}" for n in "qkv"]
    runs = {
        "rvv": [PY, str(TOOLS / "sattn_run_rvv_from_mlir.py"), "--mlir", "op.mlir",
                "--q", named[0], "--k", named[1], "--v", named[2], "--out", "rvv.npy"],
        "rocc": [PY, str(TOOLS / "sattn_compile_and_sim.py"), "--mlir", "op.mlir",
                 "--q", "q.npy", "--k", "k.npy", "--v", "v.npy", "--out", "rocc.safetensors"],
        "profile": [PY, str(REPO / "scripts" / "sattn_profile.py"), "--mlir", "op.mlir",
                    "--qkv", "qkv.safetensors"],
    }
    for name, argv in runs.items():
        proc = run_cmd(argv, cwd=files)
        assert proc.returncode == 0, (name, proc.stdout, proc.stderr)
        if name == "profile":
            assert re.search(r"^agreement\s+-\s+PASS\s+PASS$", proc.stdout, re.MULTILINE)
        else:
            assert re.findall(r"-> (PASS|FAIL)$", proc.stdout, re.MULTILINE) == ["PASS"], proc.stdout
    _check_out(files / "rvv.npy", "rvv bridge")
    _check_out(files / "rocc.safetensors", "compile_and_sim")


def test_api_rank4(files: Path) -> None:
    """The API takes rank-4 arrays or files and returns the output in Q's rank."""
    need_tool("qemu-riscv64")
    need_tool("verilator")
    mlir = files / "op.mlir"
    outs = {
        "run": api.run(mlir, "reference", Q, K, V).output,
        "run_file": api.run(mlir, "reference", str(files / "qkv.safetensors")).output,
        "rvv": api.run_rvv_from_mlir(mlir, q=Q, k=K, v=V).output,
        "rocc": api.compile_and_sim(mlir, q=str(files / "q.npy"), k=str(files / "k.npy"),
                                    v=str(files / "v.npy")).output,
    }
    comp = api.compare(mlir, ("reference", "rvv"), q=Q, k=K, v=V)
    assert comp.passed
    outs.update({f"compare_{b}": r.output for b, r in comp.results.items()})
    for name, out in outs.items():
        assert out.shape == Q.shape, name
        assert_attention_close(out[0], WANT, PARAMS, Q[0], K[0], V[0], what=name)
    assert api.run(mlir, "reference", Q[0], K[0], V[0]).output.shape == Q.shape[1:]


def test_input_flag_errors(files: Path) -> None:
    """--qkv excludes --q/--k/--v (a usage error); tensors disagreeing on the batch B and a
    missing tensor are one line each; an --out of another suffix is refused before any work."""
    proc = run_cmd([PY, "-m", "sattn", "run", "--mlir", "op.mlir", "--q", "q.npy",
                    "--qkv", "qkv.safetensors"], cwd=files)
    assert proc.returncode == 2
    assert_one_line_error(proc, "--qkv and --q exclude each other")
    tensorfile.save(files / "b2.safetensors", {"q": np.concatenate([Q, Q]), "k": K, "v": V})
    proc = run_cmd([PY, "-m", "sattn", "run", "--mlir", "op.mlir", "--qkv", "b2.safetensors"],
                   cwd=files)
    assert_one_line_error(proc, "Q, K and V disagree on the batch B: Q (2, 4, 32, 16), "
                          "K (1, 2, 32, 16)")
    proc = run_cmd([PY, "-m", "sattn", "run", "--mlir", "op.mlir", "--q", "qkv.safetensors:x",
                    "--k", "k.npy", "--v", "v.npy"], cwd=files)
    assert_one_line_error(proc, "--q: qkv.safetensors has no tensor 'x' (it holds: q, k, v)")
    proc = run_cmd([PY, "-m", "sattn", "run", "--mlir", "op.mlir", "--qkv", "qkv.safetensors",
                    "--out", "o.txt"], cwd=files)
    assert_one_line_error(proc, "must end in .npy or .safetensors")


def test_batch_and_dv_end_to_end(files: Path) -> None:
    """B = 2 and Dv = 8 != D = 16 through `sattn run --backend reference` and ``api.run``: the
    output has Q's rank with Dv last, each batch element is the reference of that element
    (fp32 policy), the verdict line is there; the RVV kernels run it too (one call per
    element, the verdict passes) and so does the RoCC RTL (one program for the batch)."""
    rng = np.random.default_rng(12)
    q2 = rng.standard_normal((2, 4, 32, 16)).astype(np.float32)
    k2 = rng.standard_normal((2, 2, 32, 16)).astype(np.float32)
    v2 = rng.standard_normal((2, 2, 32, 8)).astype(np.float32)
    tensorfile.save(files / "b2.safetensors", {"q": q2, "k": k2, "v": v2})
    proc = run_cmd([PY, "-m", "sattn", "run", "--mlir", "op.mlir", "--backend", "reference",
                    "--qkv", "b2.safetensors", "--out", "o.npy"], cwd=files)
    assert proc.returncode == 0, proc.stderr
    assert "reference: precision=fp32 B=2 H=4 kv_heads=2 S=32 D=16 Dv=8 " in proc.stdout
    res = api.run(files / "op.mlir", "reference", q2, k2, v2, compare=True)
    assert res.verdict is not None and res.verdict.passed
    assert res.lines[-1] == res.verdict.line()
    for out in (load_tensor(files / "o.npy", "o"), res.output):
        assert out.shape == (2, 4, 32, 8)
        for b in range(2):
            want = attention(PARAMS, q2[b], k2[b], v2[b])
            assert_attention_close(out[b], want, PARAMS, q2[b], k2[b], v2[b], what=f"B={b}")
    res = api.run(files / "op.mlir", "rvv", q2, k2, v2, compare=True)
    assert res.output.shape == (2, 4, 32, 8) and res.verdict.passed
    need_tool("verilator")
    res = api.run(files / "op.mlir", "rocc", q2, k2, v2, compare=True)
    assert res.output.shape == (2, 4, 32, 8) and res.verdict.passed
    # one program for the batch: one simulation, V rows Dv wide
    assert sum(ln.startswith("verilator_tb:") for ln in res.lines) == 1
    assert " D=16 num_keys=32 Dv=8 batch=2 jobs=" in res.lines[0], res.lines[0]
