"""Helpers of the front-door tests: run the project's commands as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
PY = sys.executable


def run_cmd(args: list[str], cwd: Path | str = REPO, timeout: float = 600,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run a command (text mode, output captured) with this interpreter's bin dir on PATH."""
    full_env = dict(os.environ)
    full_env["PATH"] = f"{Path(PY).parent}{os.pathsep}{full_env.get('PATH', '')}"
    full_env.update(env or {})
    return subprocess.run(args, check=False, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout,
                          env=full_env)


def assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> str:
    """The command failed with exactly one stderr line, no traceback, naming every needle."""
    assert proc.returncode != 0, proc.stdout
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


def write_mlir(path: Path, attrs: dict) -> Path:
    """Write one sattn.sparse_attention op with ``attrs`` to ``path``."""
    from sattn.api import mlir_for

    path.write_text(mlir_for(attrs))
    return path
