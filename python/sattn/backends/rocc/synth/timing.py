"""Static timing with OpenSTA: the critical path and Fmax of a unit or of the linked top.

Clock ``clk`` ideal (no clock tree), inputs arriving at the clock edge and outputs required at
the next one (a unit's ports stand for registers of its neighbours), no wire load. A unit timed
alone sees its submodules as black boxes (OpenSTA creates them); the top is linked from every
unit's netlist, so paths through the units and the macros' assumed timing are included.
The critical path is period - worst slack; Fmax = 1 / critical path.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from sattn.backends.rocc.synth.config import SynthConfig
from sattn.backends.rocc.synth.tools import SynthTools, run_bounded
from sattn.errors import SattnError

_STAGE = re.compile(r"^\s*(-?\d+\.\d+)\s+(-?\d+\.\d+)\s+[\^v]\s+(\S+)\s+\((\S+)\)\s*$")


@dataclass(frozen=True)
class Timing:
    """The worst setup path of one scope."""

    scope: str
    critical_ns: float
    startpoint: str
    endpoint: str
    worst_stage_ns: float  # the largest single delay on the path
    worst_stage: str  # its pin and cell
    seconds: float

    @property
    def fmax_mhz(self) -> float:
        return 1000.0 / self.critical_ns if self.critical_ns > 0 else float("inf")


def sta_script(top: str, netlists: list[Path], libs: list[Path], period_ns: float) -> str:
    """The OpenSTA commands for ``top``."""
    lines = [f"read_liberty {lib}" for lib in libs]
    lines += [f"read_verilog {n}" for n in netlists]
    lines += [
        f"link_design {top}",
        f"create_clock -name clk -period {period_ns:g} [get_ports clk]",
        "set_input_delay 0 -clock clk [delete_from_list [all_inputs] [get_ports clk]]",
        "set_output_delay 0 -clock clk [all_outputs]",
        "report_checks -path_delay max -digits 3",
    ]
    return "\n".join(lines) + "\n"


def parse_report(text: str, scope: str, period_ns: float, seconds: float = 0.0) -> Timing:
    """The critical path from `report_checks` text."""
    slack = re.search(r"^\s*(-?\d+\.\d+)\s+slack \((?:MET|VIOLATED)\)", text, re.MULTILINE)
    if not slack:
        raise SattnError(f"synth: OpenSTA reported no constrained path for {scope}")
    start = re.search(r"^Startpoint: (\S+)", text, re.MULTILINE)
    end = re.search(r"^Endpoint: (\S+)", text, re.MULTILINE)
    arrival = text.split("data arrival time", 1)[0]
    worst = (0.0, "")
    for line in arrival.splitlines():
        m = _STAGE.match(line)
        if m and float(m.group(1)) > worst[0]:
            worst = (float(m.group(1)), f"{m.group(3)} ({m.group(4)})")
    return Timing(scope=scope, critical_ns=period_ns - float(slack.group(1)),
                  startpoint=start.group(1) if start else "?",
                  endpoint=end.group(1) if end else "?",
                  worst_stage_ns=worst[0], worst_stage=worst[1], seconds=seconds)


def time_design(cfg: SynthConfig, tools: SynthTools, work: Path, top: str, netlists: list[Path],
                macro_lib: Path | None, scope: str) -> Timing:
    """Run OpenSTA on ``top`` linked from ``netlists``."""
    libs = [tools.liberty] + ([macro_lib] if macro_lib is not None else [])
    tcl = work / f"sta_{scope}.tcl"
    tcl.write_text(sta_script(top, netlists, libs, cfg.period_ns))
    start = time.perf_counter()
    text = run_bounded([tools.sta, "-no_splash", "-exit", str(tcl)], cwd=work,
                       what=f"OpenSTA on {scope}", timeout=cfg.step_timeout_s)
    (work / f"sta_{scope}.txt").write_text(text)
    if "Error" in text:
        line = next(ln for ln in text.splitlines() if "Error" in ln)
        raise SattnError(f"synth: OpenSTA on {scope}: {line.strip()}")
    return parse_report(text, scope, cfg.period_ns, time.perf_counter() - start)
