"""The inputs existing users already have: ``func.func`` with rank-4 tensor operands
``[B,H,S,D]`` and attributes sattn does not know (``pattern``, ``softmax_mode``). They lower
and run on every backend and tool; each unknown attribute is one warning (``strict_attributes``
/ ``--strict-attributes`` makes it the error); a batch B > 1 lowers but is refused at run time.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from conftest import need_tool
from fd_util import EXAMPLES, PY, REPO, assert_one_line_error, run_cmd
from sattn import api
from sattn.errors import SattnError
from sattn.ir.schema import params_from_dict
from sattn.reference.data import synthetic
from sattn.reference.executor import attention
from tolerance import assert_attention_close

FUNC = EXAMPLES / "func_rank4.mlir"  # B=1, H=2, S=64, D=32, keep_ratio 0.25, block 16
MODULE = EXAMPLES / "func_rank4_module.mlir"  # module { func.func }, B=1, H=4 over 2, window 8
UNKNOWN = {"pattern": "block_topk", "softmax_mode": "logsumexp"}  # FUNC's (MODULE: sliding_window)
#: The same problems written with schema attributes only (the pre-existing form).
PLAIN = {
    FUNC: {"seq_len": 64, "head_dim": 32, "num_heads": 2, "keep_ratio": 0.25, "block_size": 16},
    MODULE: {"seq_len": 128, "head_dim": 32, "num_heads": 4, "gqa_group_size": 2, "window_size": 8},
}
WARNING = "{}:{}: warning: 'sattn.sparse_attention' unknown attribute '{}'; kept and ignored"
TOOLS = REPO / "compiler" / "mlir" / "tools"


def _warnings(err: str) -> list[str]:
    return [ln for ln in err.splitlines() if ": warning: " in ln]


def _expected_warnings(path: Path, where: str) -> list[str]:
    names = ["pattern", "softmax_mode"]
    return [WARNING.format(path, where, n) for n in names]


def _batched(tmp_path: Path, b: int = 2) -> Path:
    f = tmp_path / "batched.mlir"
    f.write_text(FUNC.read_text().replace("tensor<1x2x64x32xf32>", f"tensor<{b}x2x64x32xf32>"))
    return f


@pytest.mark.parametrize("path", [FUNC, MODULE], ids=["func", "module"])
@pytest.mark.parametrize("backend", ["reference", "rvv", "rocc"])
def test_func_rank4_runs_on_every_backend(path: Path, backend: str, capsys) -> None:
    """The op's shape comes from the tensor types; the output equals the reference of the same
    problem written with plain attributes, the discardable attributes reach the lowered call
    untouched, and each of them is warned about once."""
    if backend != "reference":
        need_tool({"rvv": "qemu-riscv64", "rocc": "verilator"}[backend])
    res = api.run(path, backend, compare=backend != "reference")
    if backend != "reference":
        assert res.verdict is not None and res.verdict.passed, str(res)
    plain = params_from_dict({**PLAIN[path], "spec": res.spec})
    q, k, v = synthetic(plain.shape())
    want = attention(plain, q, k, v)
    assert res.output.shape == want.shape == (plain.num_heads, plain.seq_len, plain.head_dim)
    # another backend sums in another order: the fp32 tolerance policy
    assert_attention_close(res.output, want, plain, q, k, v, selection=res.selection,
                           what=f"{backend} vs the reference of the plain form")
    p = res.params
    assert (p.batch, p.num_heads, p.seq_len, p.head_dim) == (1, *want.shape)
    kept = {**UNKNOWN, "pattern": "block_topk" if path == FUNC else "sliding_window"}
    assert {k: p.extra[k] for k in kept} == kept  # on the lowered call, untouched
    where = "2:3" if path == FUNC else "3:5"
    assert _warnings(capsys.readouterr().err) == _expected_warnings(path, where)


def test_func_rank4_through_the_rvv_bridge_compile_and_sim_and_profile(tmp_path: Path) -> None:
    """The spec's tools on the brief's example: PASS verdicts, each warning printed once per run
    (profile lowers the file once per backend and still warns once)."""
    need_tool("qemu-riscv64")
    need_tool("verilator")
    runs = {
        "rvv": [PY, str(TOOLS / "sattn_run_rvv_from_mlir.py"), "--mlir", str(FUNC),
                "--block_size", "32"],  # an override rewrites the op: still one warning each
        "rocc": [PY, str(TOOLS / "sattn_compile_and_sim.py"), "--mlir", str(FUNC)],
        "all": [PY, str(REPO / "scripts" / "sattn_profile.py"), "--mlir", str(FUNC)],
        "run": [PY, "-m", "sattn", "run", "--mlir", str(FUNC), "--backend", "rocc"],
    }
    for name, argv in runs.items():
        proc = run_cmd(argv, cwd=tmp_path)
        assert proc.returncode == 0, (name, proc.stdout, proc.stderr)
        assert _warnings(proc.stderr) == _expected_warnings(FUNC, "2:3"), (name, proc.stderr)
        verdicts = re.findall(r"-> (PASS|FAIL)$", proc.stdout, re.MULTILINE)
        if name == "all":
            assert re.search(r"^agreement\s+-\s+PASS\s+PASS$", proc.stdout, re.MULTILINE), proc.stdout
        else:
            assert verdicts == ["PASS"], (name, proc.stdout)
        if name == "rvv":
            assert proc.stdout.startswith("spec=bsr checksum=")


@pytest.mark.parametrize("call", ["run", "compile", "load_op", "pattern", "compare",
                                  "run_rvv_from_mlir", "compile_and_sim", "with_overrides"])
def test_api_strict_attributes(call: str, capsys) -> None:
    """``strict_attributes=True`` on every API entry point that reads MLIR: the first unknown
    attribute is the one-line error (with its location); without it, a warning."""
    calls = {
        "run": lambda **kw: api.run(FUNC, "reference", **kw),
        "compile": lambda **kw: api.compile(FUNC, "sattn-lower-rocc", **kw),
        "load_op": lambda **kw: api.load_op(FUNC, **kw),
        "pattern": lambda **kw: api.pattern(FUNC, **kw),
        "compare": lambda **kw: api.compare(FUNC, ("reference",), **kw),
        "run_rvv_from_mlir": lambda **kw: api.run_rvv_from_mlir(FUNC, compare=False, **kw),
        "compile_and_sim": lambda **kw: api.compile_and_sim(FUNC, compare=False, **kw),
        "with_overrides": lambda **kw: api.with_overrides(FUNC, {"block_size": 32}, **kw),
    }
    if call == "run_rvv_from_mlir":
        need_tool("qemu-riscv64")
    if call == "compile_and_sim":
        need_tool("verilator")
    with pytest.raises(SattnError) as err:
        calls[call](strict_attributes=True)
    assert str(err.value) == f"{FUNC}:2:3: 'sattn.sparse_attention' unknown attribute 'pattern'"
    capsys.readouterr()
    calls[call]()
    assert _warnings(capsys.readouterr().err) == _expected_warnings(FUNC, "2:3")


def test_overrides_keep_shape_batch_and_discardable_attributes() -> None:
    """The runners' attribute flags rewrite the op (``with_overrides``): the operand shape
    becomes attributes, and the attributes sattn does not know are written back as they were."""
    text = api.with_overrides(FUNC, {"block_size": 32})
    assert 'pattern = "block_topk"' in text and 'softmax_mode = "logsumexp"' in text
    p = api.load_op(text, text=True, pipeline=None, need_spec=False)
    assert (p.batch, p.num_heads, p.seq_len, p.head_dim, p.block_size) == (1, 2, 64, 32, 32)
    assert {k: p.extra[k] for k in UNKNOWN} == UNKNOWN


@pytest.mark.parametrize("backend", ["reference", "rvv", "rocc"])
def test_batch_above_one_runs_on_every_backend(tmp_path: Path, backend: str) -> None:
    """B = 2 lowers on both pipelines; the reference, the RVV kernels and the RoCC RTL run it
    (each element the reference of that element), through the API and called directly."""
    f = _batched(tmp_path)
    for pipeline in ("sattn-lower-rvv", "sattn-lower-rocc"):  # lowering works
        (p,) = api.compile(Path(f), pipeline).params
        assert p.batch == 2 and p.extra["buffers"]["q"] == 2 * 2 * 64 * 32 * 4
    from sattn.backends import get_backend

    params = api.load_op(f)
    q, k, v = synthetic(params.shape())
    assert q.shape == k.shape == v.shape == (2, 2, 64, 32)
    out = api.run(f, backend).output
    assert out.shape == (2, 2, 64, 32)
    for b in range(2):
        want = attention(params, q[b], k[b], v[b])
        assert_attention_close(out[b], want, params, q[b], k[b], v[b], what=f"element {b}")
    assert np.array_equal(get_backend(backend).run(params, q, k, v).output, out)


#: What each tool does with a B = 3 op: every backend runs it (run, calibrate, the RVV and RoCC
#: tools, the profile, which runs both), the tools that draw or emit one selection refuse.
BATCH_TOOLS = {
    "run": None,
    "calibrate": None,
    "rvv": None,
    "show": "error: selection: one batch element at a time (Q shape (3, 2, 64, 32))",
    "emit": "error: selection: one batch element at a time (Q shape (3, 2, 64, 32))",
    "rocc": None,
    "profile": None,
}


@pytest.mark.parametrize("tool", sorted(BATCH_TOOLS))
def test_batch_above_one_from_every_tool(tmp_path: Path, tool: str) -> None:
    f = _batched(tmp_path, 3)
    argv = {
        "run": [PY, "-m", "sattn", "run", "--mlir", str(f)],
        "show": [PY, "-m", "sattn", "show", "--mlir", str(f), "--out", "m.png"],
        "rvv": [PY, str(TOOLS / "sattn_run_rvv_from_mlir.py"), "--mlir", str(f)],
        "rocc": [PY, str(TOOLS / "sattn_compile_and_sim.py"), "--mlir", str(f)],
        "emit": [PY, str(TOOLS / "sattn_emit_artifacts.py"), "--mlir", str(f), "--out-stem", "i"],
        "calibrate": [PY, str(TOOLS / "sattn_calibrate_scales.py"), "--mlir", str(f),
                      "--precision", "i8"],
        "profile": [PY, str(REPO / "scripts" / "sattn_profile.py"), "--mlir", str(f)],
    }[tool]
    before = {p.name for p in tmp_path.iterdir()}
    proc = run_cmd([*argv, "--strict-attributes"], cwd=tmp_path)
    assert_one_line_error(proc, "unknown attribute 'pattern'")  # strict: the attribute first
    proc = run_cmd(argv, cwd=tmp_path)
    want = BATCH_TOOLS[tool]
    if want is None:
        assert proc.returncode == 0, proc.stderr
        if tool == "run":
            assert "reference: precision=fp32 B=3 H=2 kv_heads=2 S=64 D=32 " in proc.stdout
        if tool == "rvv":  # one kernel call per element, compared with the reference
            assert " B=3 H=2 kv_heads=2 S=64 D=32" in proc.stdout, proc.stdout
            assert "-> PASS" in proc.stdout, proc.stdout
        if tool == "rocc":  # one program for the batch, compared with the reference
            assert proc.stdout.count("verilator_tb: completed in") == 1, proc.stdout
            # bsr selects on chip: 64 keys and the 4 block means the KV cache keeps
            assert " heads=2 kv_heads=2 S=64 D=32 num_keys=68 batch=3 jobs=" in proc.stdout, \
                proc.stdout
            assert "selection=on-chip" in proc.stdout, proc.stdout
            assert "-> PASS" in proc.stdout, proc.stdout
        return
    assert proc.returncode == 1, proc.stdout
    errors = [ln for ln in proc.stderr.splitlines() if ": warning: " not in ln]
    assert len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert want in errors[0], errors[0]
    assert {p.name for p in tmp_path.iterdir()} == before  # nothing written


def test_strict_flag_is_on_every_tool() -> None:
    """One flag, one mechanism: every command line that reads MLIR (and sattn sweep) takes
    ``--strict-attributes``."""
    argvs = [
        [PY, "-m", "sattn", sub, "--help"] for sub in ("run", "show", "sweep", "profile", "opt",
                                                       "emit", "calibrate")
    ] + [[PY, str(TOOLS / t), "--help"] for t in ("sattn_run_rvv_from_mlir.py",
                                                  "sattn_compile_and_sim.py",
                                                  "sattn_emit_artifacts.py",
                                                  "sattn_calibrate_scales.py")] + [
        [PY, str(REPO / "scripts" / s), "--help"] for s in ("sattn_profile.py", "sattn_demo.py")
    ] + [[str(REPO / "build" / "mlir" / "tools" / "sattn-opt" / "sattn-opt"), "--help"]]
    for argv in argvs:
        proc = run_cmd(argv)
        assert proc.returncode == 0 and "--strict-attributes" in proc.stdout, argv
