"""The synthesis report: per-unit cells, area and timing, the memories, the linked top."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from sattn.backends.rocc.synth.config import FPU_UNITS, SynthConfig
from sattn.backends.rocc.synth.netlist import Macro
from sattn.backends.rocc.synth.sram import UM2_PER_BIT, area_model_um2
from sattn.backends.rocc.synth.timing import Timing


@dataclass(frozen=True)
class UnitResult:
    """One unit after mapping and timing (area excludes its macros and submodules)."""

    unit: str
    description: str
    cells: int
    flops: int
    area_um2: float
    cell_types: dict[str, int]
    timing: Timing
    map_seconds: float
    fanout_buffers: int = 0  # buffers of the fan-out step (counted in cells and area)


@dataclass
class SynthReport:
    """Everything one run measured, with the configuration it compiled in."""

    config: SynthConfig
    liberty: str
    units: list[UnitResult] = field(default_factory=list)
    macros: list[Macro] = field(default_factory=list)
    top: Timing | None = None
    top_missing: list[str] = field(default_factory=list)  # units black-boxed in the top timing
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def unit(self, name: str) -> UnitResult:
        return next(u for u in self.units if u.unit == name)

    @property
    def logic_area_um2(self) -> float:
        """Standard-cell area of the accelerator's units (the FP reference units excluded)."""
        return sum(u.area_um2 for u in self.units if u.unit not in FPU_UNITS)

    @property
    def logic_cells(self) -> int:
        return sum(u.cells for u in self.units if u.unit not in FPU_UNITS)

    @property
    def memory_bits(self) -> int:
        return sum(m.bits for m in self.macros)

    def to_json(self) -> str:
        return json.dumps({
            "config": {"name": self.config.name, "parameters": self.config.parameters(),
                       "macro_min_bits": self.config.macro_min_bits,
                       "period_ns": self.config.period_ns, "abc_script": self.config.abc_script,
                       "macro_access_ns": self.config.macro_access_ns,
                       "macro_setup_ns": self.config.macro_setup_ns},
            "liberty": self.liberty,
            "units": [asdict(u) | {"fmax_mhz": u.timing.fmax_mhz} for u in self.units],
            "macros": [asdict(m) | {"bits": m.bits, "area_model_um2": area_model_um2(m.bits)}
                       for m in self.macros],
            "top": None if self.top is None else asdict(self.top) | {"fmax_mhz": self.top.fmax_mhz},
            "top_missing": self.top_missing,
            "logic_cells": self.logic_cells, "logic_area_um2": self.logic_area_um2,
            "memory_bits": self.memory_bits,
            "memory_area_model_um2": area_model_um2(self.memory_bits),
            "skipped": self.skipped, "seconds": self.seconds,
        }, indent=1)

    def text(self) -> str:
        c = self.config
        params = " ".join(f"{k}={v}" for k, v in c.parameters().items() if k != "precisions")
        lines = [
            f"# synth {c.name}: {params}; precisions compiled in: {c.parameters()['precisions']}",
            (f"# library {self.liberty}; ABC script {c.abc_script}; memories >= "
            f"{c.macro_min_bits} bits as macros"),
            (f"# STA: ideal clock, ports at the clock edge, no wire load; macros (assumed): access "
            f"{c.macro_access_ns:g} ns, setup {c.macro_setup_ns:g} ns"),
            (f"{'unit':<24}{'cells':>9}{'flops':>8}{'area_mm2':>10}{'crit_ns':>9}{'fmax_MHz':>9}"
            f"  largest stage on the critical path"),
        ]
        for u in self.units:
            t = u.timing
            lines.append(f"{u.unit:<24}{u.cells:>9}{u.flops:>8}{u.area_um2 / 1e6:>10.3f}"
                         f"{t.critical_ns:>9.2f}{t.fmax_mhz:>9.1f}  "
                         f"{t.worst_stage_ns:.2f} ns at {t.worst_stage}")
        lines.append(f"{'logic total (no FPU refs)':<24}{self.logic_cells:>9}{'':>8}"
                     f"{self.logic_area_um2 / 1e6:>10.3f}")
        if self.macros:
            lines.append(f"# memories as macros; area_model = bits x {UM2_PER_BIT:.2f} um^2 "
                         "(6T cell 5.59 um^2 / 0.6 array efficiency; a model)")
            lines.append(f"{'macro':<36}{'words':>8}{'width':>6}{'R':>4}{'W':>4}{'bits':>10}"
                         f"{'area_model_mm2':>16}")
            for m in self.macros:
                lines.append(f"{m.cell_type:<36}{m.words:>8}{m.width:>6}{len(m.read_sync):>4}"
                             f"{m.write_ports:>4}{m.bits:>10}{area_model_um2(m.bits) / 1e6:>16.3f}")
            lines.append(f"{'memory total':<36}{'':>22}{self.memory_bits:>10}"
                         f"{area_model_um2(self.memory_bits) / 1e6:>16.3f}")
        if self.top is not None:
            t = self.top
            scope = ("all units and macros" if not self.top_missing else
                     f"black boxes: {', '.join(self.top_missing)}")
            lines.append(f"top (linked, {scope}): critical path {t.critical_ns:.2f} ns"
                         f" -> Fmax {t.fmax_mhz:.1f} MHz; {t.startpoint} -> {t.endpoint}; "
                         f"largest stage {t.worst_stage_ns:.2f} ns at {t.worst_stage}")
        if self.skipped:
            lines.append(f"# not run (time budget): {', '.join(self.skipped)}")
        lines.append(f"# total {self.seconds / 60:.1f} min")
        return "\n".join(lines) + "\n"
