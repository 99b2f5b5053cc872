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


def run_limited(args: list[str], *, mem_bytes: int, timeout: float = 300, cwd: Path | str = REPO,
                env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """:func:`run_cmd` with the address space limited to ``mem_bytes`` (RLIMIT_AS, inherited by
    the tools it starts): a run that allocates beyond it fails instead of paging the machine."""
    import resource

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (mem_bytes, mem_bytes))

    full_env = dict(os.environ)
    full_env["PATH"] = f"{Path(PY).parent}{os.pathsep}{full_env.get('PATH', '')}"
    full_env.update(env or {})
    return subprocess.run(args, check=False, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=full_env, preexec_fn=limit)


def unprivileged(args: list[str]) -> list[str]:
    """``args`` run so that file permissions apply: as root (tests may run as root, which reads
    any file), without the capabilities that bypass them (``setpriv`` drops DAC override and
    DAC read-search from the bounding set before exec)."""
    if os.geteuid() != 0:
        return args
    return ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--", *args]
