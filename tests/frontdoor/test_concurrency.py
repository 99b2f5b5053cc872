"""Two runs at once in the same directory do not collide: private scratch directories, atomic
output files, content-hash caches."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
from conftest import need_tool
from fd_util import EXAMPLES, PY, REPO

TOOLS = REPO / "compiler" / "mlir" / "tools"


def _twice(tmp: Path, make_cmd) -> list[subprocess.CompletedProcess]:
    """Start the same command twice (outputs a/b) at once in ``tmp`` and wait for both."""
    import os

    env = dict(os.environ, PATH=f"{Path(PY).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    procs = [subprocess.Popen(make_cmd(tag), cwd=tmp, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for tag in ("a", "b")]
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=600)
        out.append(subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr))
    return out


def test_two_rvv_runs_same_dir(tmp_path: Path) -> None:
    need_tool("qemu-riscv64")
    runs = _twice(tmp_path, lambda t: [PY, str(TOOLS / "sattn_run_rvv_from_mlir.py"), "--mlir",
                                       str(EXAMPLES / "sliding_window.mlir"), "--out", f"{t}.npy"])
    for r in runs:
        assert r.returncode == 0, r.stderr
    assert runs[0].stdout.splitlines()[0] == runs[1].stdout.splitlines()[0]
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npy", "b.npy"]


def test_two_rocc_runs_same_dir(tmp_path: Path) -> None:
    need_tool("verilator")
    runs = _twice(tmp_path, lambda t: [PY, str(TOOLS / "sattn_compile_and_sim.py"), "--mlir",
                                       str(EXAMPLES / "input.mlir"), "--out", f"{t}.npy"])
    for r in runs:
        assert r.returncode == 0, r.stderr
        assert r.stdout.rstrip().endswith("-> PASS")
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))
    # indices.txt / indices.desc went to private scratch directories, not here
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npy", "b.npy"]


def test_two_profiles_and_a_sweep_same_dir(tmp_path: Path) -> None:
    need_tool("qemu-riscv64")
    runs = _twice(tmp_path, lambda t: [PY, str(REPO / "scripts" / "sattn_profile.py"), "--mlir",
                                       str(EXAMPLES / "input.mlir"), "--backend", "rvv"])
    for r in runs:
        assert r.returncode == 0, r.stderr
    sweeps = _twice(tmp_path, lambda t: [PY, "-m", "sattn", "sweep", "--grid", "tiny", "-j", "1",
                                         "--cost", "model_pairs", "--json", f"{t}.json",
                                         "--no-progress"])
    for r in sweeps:
        assert r.returncode == 0, r.stderr
    import json

    def cases(name: str) -> list:
        data = json.loads((tmp_path / name).read_text())
        return [{k: v for k, v in c.items() if k != "seconds"} for c in data["per_case"]]

    assert cases("a.json") == cases("b.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.json"]


def test_same_output_file_is_never_half_written(tmp_path: Path) -> None:
    # both write the same file: whichever finishes last wins, the file is always whole
    runs = _twice(tmp_path, lambda t: [PY, "-m", "sattn", "show", "--mlir",
                                       str(EXAMPLES / "input.mlir"), "--out", "mask.png"])
    for r in runs:
        assert r.returncode == 0, r.stderr
    assert (tmp_path / "mask.png").read_bytes().startswith(b"\x89PNG")
    assert [p.name for p in tmp_path.iterdir()] == ["mask.png"]
