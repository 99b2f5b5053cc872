"""One unit through native Yosys 0.23 and ABC: coarse synthesis, liberty mapping, statistics.

No SAT-based resource sharing (`share`) and no memory-port priority analysis on the macros
(they are cut out before): both ran for tens of minutes on this design without finishing.
Remaining small memories (FIFOs, ROMs) are mapped to flip-flops and logic. After ABC, nets
with a large fan-out outside ABC's network (flip-flop outputs, ports) get buffer trees
(``buffering``), then the netlist is written as Verilog for OpenSTA.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from sattn.backends.rocc.synth.buffering import buffer_netlist
from sattn.backends.rocc.synth.config import SynthConfig
from sattn.backends.rocc.synth.sram import TIE_HI, TIE_LO
from sattn.backends.rocc.synth.tools import SynthTools, run_bounded
from sattn.errors import SattnError

#: the liberty's smallest buffer (cell, input pin, output pin)
BUF_CELL = "BUFX2 A Y"


@dataclass(frozen=True)
class MappedUnit:
    """A unit's mapped netlist and its statistics (area excludes macros and submodules)."""

    unit: str
    netlist: Path
    cells: int  # every cell, macros and submodule instances included
    cell_types: dict[str, int]
    area_um2: float
    flops: int
    seconds: float
    fanout_buffers: int  # buffers the fan-out step added (included in cells and area)


def script(unit: str, json_path: str, mapped: str, lib: Path, abc: str) -> str:
    """The Yosys script mapping one unit (written as JSON for the fan-out buffering)."""
    return "\n".join([
        f"read_json {json_path}",
        f"hierarchy -top {unit}",
        "opt_expr", "opt_clean", "check", "opt -nodffe -nosdff", "wreduce", "peepopt",
        "opt_clean", "alumacc", "opt", "memory -nomap", "opt_clean",
        "opt -fast -full", "memory_map", "opt -full", "techmap", "opt -fast",
        f"dfflibmap -liberty {lib}",
        f"abc -liberty {lib} -script {abc}",
        # OpenSTA reads no `assign` to a concatenation: constants from tie cells, wire-to-wire
        # assignments as buffers (as OpenROAD's synthesis script does)
        "opt_clean -purge", "setundef -zero", "splitnets", "opt_clean -purge",
        f"hilomap -singleton -hicell {TIE_HI} Y -locell {TIE_LO} Y",
        f"insbuf -buf {BUF_CELL}", "opt_clean -purge",
        f"write_json {mapped}",
    ]) + "\n"


def finish_script(buffered: str, netlist: str, stat: str, lib: Path) -> str:
    """The Yosys script writing the buffered unit as Verilog, with its statistics (the JSON
    carries the submodules and macros as black boxes; the standard cells come from ``lib``)."""
    return "\n".join([
        f"read_liberty -lib {lib}",
        f"read_json {buffered}",
        f"tee -q -o {stat} stat -liberty {lib}",
        f"write_verilog -noattr -noexpr -nohex -nodec {netlist}",
    ]) + "\n"


def parse_stat(text: str, unit: str) -> tuple[int, dict[str, int], float]:
    """(cells, cell types, area) from Yosys's `stat` text for ``unit``."""
    block = text.split(f"=== {unit} ===", 1)
    if len(block) != 2:
        raise SattnError(f"synth: no statistics for {unit} in Yosys's output")
    body = block[1]
    m = re.search(r"Number of cells:\s+(\d+)", body)
    area = re.search(r"Chip area for module '\\?" + re.escape(unit) + r"':\s+([0-9.]+)", body)
    if not m:
        raise SattnError(f"synth: no cell count for {unit} in Yosys's output")
    types: dict[str, int] = {}
    for line in body[m.end():].splitlines():
        t = re.match(r"^\s+(\S+)\s+(\d+)\s*$", line)
        if t:
            types[t.group(1)] = int(t.group(2))
        elif line.strip() and types:
            break
    return int(m.group(1)), types, float(area.group(1)) if area else 0.0


def map_unit(cfg: SynthConfig, tools: SynthTools, work: Path, unit: str,
             macro_lib: Path) -> MappedUnit:
    """Synthesise ``work/<unit>.json`` into ``work/<unit>.v``: map, buffer the fan-out, write."""
    ys = work / f"{unit}.ys"
    ys.write_text(script(unit, f"{unit}.json", f"{unit}_mapped.json", tools.liberty,
                         cfg.abc_script))
    start = time.perf_counter()
    run_bounded([tools.yosys, "-q", "-l", f"{unit}.log", ys.name], cwd=work,
                what=f"yosys mapping of {unit}", timeout=cfg.step_timeout_s)
    buffers = buffer_netlist(work / f"{unit}_mapped.json", work / f"{unit}_buffered.json", unit,
                             [tools.liberty, macro_lib], cfg.max_fanout)
    fin = work / f"{unit}_write.ys"
    fin.write_text(finish_script(f"{unit}_buffered.json", f"{unit}.v", f"{unit}.stat",
                                 tools.liberty))
    run_bounded([tools.yosys, "-q", "-l", f"{unit}_write.log", fin.name], cwd=work,
                what=f"yosys netlist of {unit}", timeout=cfg.step_timeout_s)
    seconds = time.perf_counter() - start
    cells, types, area = parse_stat((work / f"{unit}.stat").read_text(), unit)
    flops = sum(n for t, n in types.items() if t.startswith("DFF") or t == "LATCH")
    return MappedUnit(unit=unit, netlist=work / f"{unit}.v", cells=cells, cell_types=types,
                      area_um2=area, flops=flops, seconds=seconds, fanout_buffers=buffers)
