"""Bad input through every command-line tool, as a user types it: one line on stderr that names
the attribute (or file) and where, a non-zero exit, no traceback, and no file left behind.

The matrix is the design's bad-input bar (malformed MLIR, unknown or ill-typed attributes,
out-of-range values, unknown precision, zero tiles, a missing file) times every tool that reads
MLIR, plus the tensor and output-path errors of the tools that take ``--q/--k/--v`` and ``--out``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from fd_util import PY, REPO, assert_one_line_error, run_cmd

TOOLS_DIR = REPO / "compiler" / "mlir" / "tools"
OPT = REPO / "build" / "mlir" / "tools" / "sattn-opt" / "sattn-opt"
OP = '"sattn.sparse_attention"() {{ {attrs} }} : () -> ()'
SHAPE = "tile_S = 32 : i64, tile_D = 16 : i64"

#: tool -> (program name on the error line, argv before the MLIR path, output files it is told
#: to write). Every output path is inside the test's private directory, which is also the cwd.
TOOLS: dict[str, tuple[str, list[str], list[str]]] = {
    "run_rvv": ("sattn_run_rvv_from_mlir.py",
                [PY, str(TOOLS_DIR / "sattn_run_rvv_from_mlir.py"), "--out", "o.npy"], ["o.npy"]),
    "compile_and_sim": ("sattn_compile_and_sim.py",
                        [PY, str(TOOLS_DIR / "sattn_compile_and_sim.py"), "--out", "o.npy"], ["o.npy"]),
    "calibrate": ("sattn_calibrate_scales.py",
                  [PY, str(TOOLS_DIR / "sattn_calibrate_scales.py"), "--precision", "i8"], []),
    "emit": ("sattn_emit_artifacts.py",
             [PY, str(TOOLS_DIR / "sattn_emit_artifacts.py"), "--out-stem", "idx"], ["idx.txt", "idx.desc"]),
    "profile": ("sattn_profile.py",
                [PY, str(REPO / "scripts" / "sattn_profile.py"), "--backend", "reference"], []),
    "sattn_run": ("sattn", [PY, "-m", "sattn", "run", "--backend", "reference", "--out", "o.npy"],
                  ["o.npy"]),
    "sattn_show": ("sattn", [PY, "-m", "sattn", "show", "--out", "o.png"], ["o.png"]),
    "demo": ("sattn_demo.py", [PY, str(REPO / "scripts" / "sattn_demo.py"), "--skip-rocc"], []),
    "sattn_opt": ("sattn-opt", [str(OPT), "--allow-unregistered-dialect",
                                "-pass-pipeline=builtin.module(sattn-lower-rocc)", "-o", "o.mlir"],
                  ["o.mlir"]),
}

#: case -> (MLIR text or None for a missing file, needles the one error line must contain)
CASES: dict[str, tuple[str | None, tuple[str, ...]]] = {
    "malformed": ("module {\n  " + OP.format(attrs="window_size = 8 : i64") + "\n",
                  ("bad.mlir:3:1:", "unexpected end of input: '}' expected")),
    "unknown_attr": ("module {\n  " + OP.format(attrs=f"windw_size = 8 : i64, {SHAPE}") + "\n}\n",
                     ("bad.mlir:2:3:", "unknown attribute 'windw_size'", "did you mean 'window_size'")),
    "window_size_string": ("module {\n  " + OP.format(attrs=f'window_size = "8", {SHAPE}') + "\n}\n",
                           ("bad.mlir:2:3:", "'window_size' expects an integer")),
    "keep_ratio_1.5": ("module {\n  " + OP.format(attrs=f"keep_ratio = 1.5 : f64, {SHAPE}") + "\n}\n",
                       ("bad.mlir:2:3:", "'keep_ratio' must be in (0, 1]", "1.5")),
    "nm_n_gt_nm_m": ("module {\n  " + OP.format(attrs=f"nm_n = 4 : i64, nm_m = 2 : i64, {SHAPE}")
                     + "\n}\n", ("bad.mlir:2:3:", "'nm_n' must be <= nm_m", "nm_n=4 nm_m=2")),
    "dilation_0": ("module {\n  " + OP.format(attrs=f"dilation = 0 : i64, window_size = 2 : i64, {SHAPE}")
                   + "\n}\n", ("bad.mlir:2:3:", "'dilation' must be >= 1, got 0")),
    "tile_S_0": ("module {\n  " + OP.format(attrs="tile_S = 0 : i64, window_size = 2 : i64, tile_D = 16 : i64")
                 + "\n}\n", ("bad.mlir:2:3:", "'tile_S' must be >= 1, got 0")),
    "precision_fp16": ("module {\n  " + OP.format(attrs=f'precision = "fp16", window_size = 2 : i64, {SHAPE}')
                       + "\n}\n", ("bad.mlir:2:3:", "'precision' must be one of", "'fp16'")),
    "missing_file": (None, ("cannot read", "bad.mlir", "no such file")),
}

GOOD = "module {\n  " + OP.format(attrs=f"window_size = 2 : i64, {SHAPE}") + "\n}\n"

#: Cases that are errors only with ``--strict-attributes`` (without it: warnings, see below).
STRICT_CASES = {"unknown_attr"}


def _check_clean_failure(tmp_path: Path, proc, prog: str, needles, before: set[str]) -> None:
    line = assert_one_line_error(proc, *needles)
    assert line.startswith(f"{prog}: error: "), line
    assert "internal error" not in line, line  # a bug caught by the guard is not a clear message
    # nothing written: no output file, no temp file, no scratch file in the working directory
    assert {p.name for p in tmp_path.iterdir()} == before, sorted(p.name for p in tmp_path.iterdir())


@pytest.fixture(autouse=True)
def _launcher(request) -> None:
    if "sattn_opt" in request.node.name and not OPT.exists():
        msg = f"{OPT} is missing; run `make launcher`"
        if os.environ.get("SATTN_REQUIRE_TOOLS") == "1":
            pytest.fail(msg)
        pytest.skip(msg)


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("tool", list(TOOLS))
def test_bad_mlir_is_one_line_and_writes_nothing(tmp_path: Path, tool: str, case: str) -> None:
    prog, argv, outputs = TOOLS[tool]
    text, needles = CASES[case]
    mlir = tmp_path / "bad.mlir"
    if text is not None:
        mlir.write_text(text)
    before = {p.name for p in tmp_path.iterdir()}
    # sattn-opt takes the file as a positional argument, everyone else as --mlir
    args = [*argv, "bad.mlir"] if tool == "sattn_opt" else [*argv, "--mlir", "bad.mlir"]
    if case in STRICT_CASES:
        args.append("--strict-attributes")
    proc = run_cmd(args, cwd=tmp_path)
    _check_clean_failure(tmp_path, proc, prog, needles, before)
    for out in outputs:
        assert not (tmp_path / out).exists()


@pytest.mark.parametrize("tool", list(TOOLS))
def test_unknown_attributes_warn_once_and_the_tool_runs(tmp_path: Path, tool: str) -> None:
    """Without --strict-attributes every tool keeps attributes it does not know: exactly one
    warning line each on stderr (location and did-you-mean hint), however many times the tool
    parses and lowers the file, and the run succeeds and writes its outputs."""
    _prog, argv, outputs = TOOLS[tool]
    attrs = f'pattern = "block_topk", windw_size = 8 : i64, window_size = 2 : i64, {SHAPE}'
    (tmp_path / "u.mlir").write_text("module {\n  " + OP.format(attrs=attrs) + "\n}\n")
    args = [*argv, "u.mlir"] if tool == "sattn_opt" else [*argv, "--mlir", "u.mlir"]
    proc = run_cmd(args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    warnings = [ln for ln in proc.stderr.splitlines() if "warning" in ln]
    assert warnings == [
        "u.mlir:2:3: warning: 'sattn.sparse_attention' unknown attribute 'pattern'; kept and ignored",
        ("u.mlir:2:3: warning: 'sattn.sparse_attention' unknown attribute 'windw_size' "
        "(did you mean 'window_size'?); kept and ignored"),
    ], proc.stderr
    for out in outputs:
        assert (tmp_path / out).is_file()


def _save_qkv(tmp_path: Path, k_seq: int) -> list[str]:
    """Q [1,32,16] and V [1,32,16] matching the op, K with ``k_seq`` tokens."""
    rng = np.random.default_rng(0)
    arrays = {"q": (1, 32, 16), "k": (1, k_seq, 16), "v": (1, 32, 16)}
    args = []
    for name, shape in arrays.items():
        np.save(tmp_path / f"{name}.npy", rng.standard_normal(shape).astype(np.float32))
        args += [f"--{name}", f"{name}.npy"]
    return args


NPY_TOOLS = [t for t in TOOLS if t not in ("demo", "sattn_opt")]


@pytest.mark.parametrize("tool", NPY_TOOLS)
def test_npy_of_wrong_shape(tmp_path: Path, tool: str) -> None:
    prog, argv, _ = TOOLS[tool]
    (tmp_path / "good.mlir").write_text(GOOD)
    qkv = _save_qkv(tmp_path, k_seq=31)
    before = {p.name for p in tmp_path.iterdir()}
    proc = run_cmd([*argv, "--mlir", "good.mlir", *qkv], cwd=tmp_path)
    _check_clean_failure(tmp_path, proc, prog, ("K has shape (1, 31, 16)", "V has shape (1, 32, 16)"),
                         before)


@pytest.mark.parametrize("tool", ["run_rvv", "compile_and_sim", "sattn_run", "sattn_show", "sattn_opt"])
def test_output_into_missing_directory(tmp_path: Path, tool: str) -> None:
    prog, argv, outputs = TOOLS[tool]
    (tmp_path / "good.mlir").write_text(GOOD)
    # point the tool's output flag into a directory that does not exist
    flag = "-o" if tool == "sattn_opt" else "--out"
    i = argv.index(flag)
    target = f"nodir/{outputs[0]}"
    args = [*argv[: i + 1], target, *argv[i + 2:]]
    args += ["good.mlir"] if tool == "sattn_opt" else ["--mlir", "good.mlir"]
    before = {p.name for p in tmp_path.iterdir()}
    proc = run_cmd(args, cwd=tmp_path)
    _check_clean_failure(tmp_path, proc, prog, (f"{flag} {target}", "directory 'nodir' does not exist"),
                         before)
    assert not (tmp_path / "nodir").exists()


def test_autotune_out_into_missing_directory(tmp_path: Path) -> None:
    prog, argv, _ = TOOLS["run_rvv"]
    (tmp_path / "good.mlir").write_text(GOOD)
    before = {p.name for p in tmp_path.iterdir()}
    proc = run_cmd([argv[0], argv[1], "--mlir", "good.mlir", "--autotune", "--autotune-out",
                    "nodir/t.mlir"], cwd=tmp_path)
    _check_clean_failure(tmp_path, proc, prog, ("--autotune-out nodir/t.mlir", "does not exist"), before)


@pytest.mark.parametrize("tool, extra, needle", [
    ("run_rvv", ["--precision", "i5"], "argument --precision: invalid choice: 'i5'"),
    ("sattn_run", ["--backend", "gpu"], "argument --backend: invalid choice: 'gpu'"),
    ("sattn_opt", ["--bogus"], "unrecognized arguments: --bogus"),
    ("calibrate", ["--percentile", "abc"], "argument --percentile: invalid float value: 'abc'"),
])
def test_bad_flags_are_one_line_not_a_usage_block(tmp_path: Path, tool: str, extra, needle) -> None:
    prog, argv, _ = TOOLS[tool]
    (tmp_path / "good.mlir").write_text(GOOD)
    before = {p.name for p in tmp_path.iterdir()}
    args = [*argv, *extra] + (["good.mlir"] if tool == "sattn_opt" else ["--mlir", "good.mlir"])
    proc = run_cmd(args, cwd=tmp_path)
    assert proc.returncode == 2
    prog = "sattn run" if tool == "sattn_run" else prog  # argparse names the subcommand
    _check_clean_failure(tmp_path, proc, prog, (needle, "(see --help)"), before)


def test_not_an_npy_file(tmp_path: Path) -> None:
    (tmp_path / "good.mlir").write_text(GOOD)
    _save_qkv(tmp_path, k_seq=32)
    (tmp_path / "q.npy").write_text("hello\n")
    before = {p.name for p in tmp_path.iterdir()}
    proc = run_cmd([PY, "-m", "sattn", "run", "--mlir", "good.mlir", "--q", "q.npy", "--k", "k.npy",
                    "--v", "v.npy", "--out", "o.npy"], cwd=tmp_path)
    _check_clean_failure(tmp_path, proc, "sattn", ("--q: q.npy is not a .npy file",), before)
