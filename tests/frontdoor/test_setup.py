"""Set-up hygiene: everything stays in the checkout, the sattn-opt launcher finds its checkout
relative to itself, and a venv made for another checkout (moved or copied) is made again."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from fd_util import REPO

TEMPLATE = REPO / "compiler" / "mlir" / "tools" / "sattn-opt.sh"
LAUNCHER = REPO / "build" / "mlir" / "tools" / "sattn-opt" / "sattn-opt"


def _fake_checkout(root: Path, with_python: bool = True) -> Path:
    """A checkout layout holding a copy of the launcher and a stand-in .venv/bin/python that
    prints how it was called."""
    launcher = root / "build" / "mlir" / "tools" / "sattn-opt" / "sattn-opt"
    launcher.parent.mkdir(parents=True)
    shutil.copy(TEMPLATE, launcher)
    launcher.chmod(0o755)
    if with_python:
        py = root / ".venv" / "bin" / "python"
        py.parent.mkdir(parents=True)
        py.write_text('#!/bin/sh\nprintf "%s\\n" "$0" "PYTHONPATH=$PYTHONPATH" "$@"\n')
        py.chmod(0o755)
    return launcher


def test_the_built_launcher_is_the_template() -> None:
    if not LAUNCHER.exists():
        pytest.fail(f"{LAUNCHER} is missing; run `make launcher`")
    assert LAUNCHER.read_text() == TEMPLATE.read_text()
    assert str(REPO) not in TEMPLATE.read_text()  # no checkout path written in


@pytest.mark.parametrize("via", ["direct", "symlink", "relative"])
def test_launcher_resolves_its_own_checkout(tmp_path: Path, via: str) -> None:
    root = tmp_path / "moved checkout"  # a space: quoting matters
    launcher = _fake_checkout(root)
    cmd = str(launcher)
    cwd = Path("/")
    if via == "symlink":
        (tmp_path / "bin").mkdir()
        (tmp_path / "bin" / "sattn-opt").symlink_to(launcher)
        cmd = str(tmp_path / "bin" / "sattn-opt")
    elif via == "relative":
        cmd, cwd = "build/mlir/tools/sattn-opt/sattn-opt", root
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([cmd, "in put.mlir", "-pass-pipeline=builtin.module(sattn-lower-rvv)"],
                          cwd=cwd, capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 0, proc.stderr
    real = root.resolve()
    assert proc.stdout.splitlines() == [
        str(real / ".venv" / "bin" / "python"), f"PYTHONPATH={real / 'python'}",
        "-m", "sattn.tools.opt", "in put.mlir", "-pass-pipeline=builtin.module(sattn-lower-rvv)"]


def test_launcher_without_a_venv_says_make_setup(tmp_path: Path) -> None:
    launcher = _fake_checkout(tmp_path / "c", with_python=False)
    proc = subprocess.run([str(launcher)], capture_output=True, text=True, check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip() == (f"sattn-opt: error: {(tmp_path / 'c').resolve()}/.venv/bin/python "
                                   "is missing; run `make setup` in " + str((tmp_path / "c").resolve()))


def _make_n(venv: Path) -> str:
    """What `make venv` would do (``-n``) for the venv at ``venv`` (a stand-in with bin/python)."""
    (venv / "bin" / "python").touch()
    proc = subprocess.run(["make", "-n", "-C", str(REPO), f"VENV={venv}", "venv"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_make_remakes_a_venv_made_for_another_checkout(tmp_path: Path) -> None:
    venv = tmp_path / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / ".checkout").write_text("/somewhere/else/.venv\n")
    plan = _make_n(venv)
    assert f"rm -rf {venv}" in plan and f"-m venv {venv}" in plan
    assert f'echo "{venv}" > {venv}/.checkout' in plan
    # its own stamp: nothing to remake
    (venv / ".checkout").write_text(f"{venv}\n")
    assert "-m venv" not in _make_n(venv)


def test_make_reads_an_older_venvs_pip_line(tmp_path: Path) -> None:
    """Venvs made before the stamp name their checkout in bin/pip's first line."""
    venv = tmp_path / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "pip").write_text(f"#!{venv}/bin/python\n")
    assert "-m venv" not in _make_n(venv)
    (venv / "bin" / "pip").write_text("#!/old/place/.venv/bin/python\n")
    assert "-m venv" in _make_n(venv)


def test_setup_writes_nothing_outside_the_checkout(tmp_path: Path) -> None:
    """Even from scratch (a venv to make, so every step is in the plan): no /opt/venv, no link
    (reading wheels from /opt/wheels is fine)."""
    venv = tmp_path / ".venv"
    plan = subprocess.run(["make", "-n", "-C", str(REPO), f"VENV={venv}", "setup"],
                          capture_output=True, text=True, check=False).stdout
    assert f"-m venv {venv}" in plan  # the whole set-up is planned
    assert "/opt/venv" not in plan and "ln -s" not in plan
