"""The synthesis flow on the small configuration (2 lanes, DMAX 16, tiny RAMs), so it cannot rot.

One `sattn synth --small` run over the cheap units (the FP-heavy MAC array, softmax and core take
minutes even at 2 lanes; `make synth` runs them) checks: every unit mapped with cells and area
and a finite critical path; only liberty cells, declared macros and submodules in the netlists;
the macros' words, width and ports are what the RTL parameters make them; the linked top timed;
and the mapped (two-stage) fp32 multiplier and adder compute IEEE results bit for bit (simulated
with Yosys's SAT solver on the gate netlist, the cells' functions read from the liberty).
"""

from __future__ import annotations

import json
import math
import os
import re
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import REQUIRE_TOOLS
from sattn.backends.rocc.synth.config import UNITS as FLOW_UNITS

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "frontdoor"))
from fd_util import PY, assert_one_line_error, run_cmd

UNITS = ("rocc_sattn", "sattn_dma", "sattn_writeback", "sattn_fifo_tokens", "sattn_spad_kspad",
         "sattn_spad_qbuf", "sattn_fpu_mul", "sattn_fpu_add")


def _tools():
    from sattn.backends.rocc.synth.tools import find_tools
    from sattn.errors import ToolMissingError

    try:
        return find_tools()
    except ToolMissingError as e:
        if REQUIRE_TOOLS:
            pytest.fail(f"{e} (SATTN_REQUIRE_TOOLS=1)", pytrace=False)
        pytest.skip(str(e))


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    tools = _tools()
    d = tmp_path_factory.mktemp("synth")
    proc = run_cmd([PY, "-m", "sattn", "synth", "--small", "--units", ",".join(UNITS),
                    "--out", str(d / "report.txt"), "--json", str(d / "report.json"),
                    "--work-dir", str(d / "work")], timeout=900)
    assert proc.returncode == 0, proc.stderr
    return {"dir": d, "tools": tools, "stdout": proc.stdout,
            "report": json.loads((d / "report.json").read_text()),
            "text": (d / "report.txt").read_text()}


def test_every_unit_has_cells_area_and_a_finite_critical_path(small_run):
    rep = small_run["report"]
    assert sorted(u["unit"] for u in rep["units"]) == sorted(UNITS)
    for u in rep["units"]:
        assert u["cells"] > 0 and u["area_um2"] > 0, u["unit"]
        t = u["timing"]["critical_ns"]
        assert math.isfinite(t) and t > 0, u["unit"]
        assert u["timing"]["startpoint"] != "?" and u["timing"]["endpoint"] != "?"
    # the report names every unit, and the parameters compiled in
    for u in UNITS:
        assert re.search(rf"^{u}\s+\d+", small_run["text"], re.MULTILINE), u
    assert "lanes_qk=2 lanes_pv=2 dmax=16 kv_rows=8" in small_run["text"]
    assert "synth[small" in small_run["stdout"]  # progress lines


def test_netlists_hold_only_liberty_cells_macros_and_submodules(small_run):
    lib = small_run["tools"].liberty.read_text(errors="replace")
    work = small_run["dir"] / "work"
    ours = (work / "sattn_cells.lib").read_text()
    cells = set(re.findall(r"^\s*cell\s*\(\s*\"?(\w+)", lib, re.MULTILINE))
    macros = {m["cell_type"] for m in small_run["report"]["macros"]}
    assert set(re.findall(r"cell \((\w+)\)", ours)) == macros | {"sattn_tiehi", "sattn_tielo"}
    for u in small_run["report"]["units"]:
        design = json.loads((work / f"{u['unit']}.json").read_text())
        subs = set(design["modules"]) - {u["unit"]}
        stray = set(u["cell_types"]) - cells - macros - subs - {"sattn_tiehi", "sattn_tielo"}
        assert not stray, (u["unit"], stray)
        assert not any(t.startswith("$") for t in u["cell_types"]), u["unit"]
        # the netlist text instantiates nothing else either
        used = set(re.findall(r"^\s+(\\?\S+)\s+\S+\s*\($", (work / f"{u['unit']}.v").read_text(),
                              re.MULTILINE))
        assert used <= cells | macros | subs | {"sattn_tiehi", "sattn_tielo"}, (u["unit"], used)


def test_macros_are_the_rtl_arrays(small_run):
    from sattn.backends.rocc.synth import small_config

    hw = small_config().hw
    macros = {m["cell_type"]: m for m in small_run["report"]["macros"]}
    # the scratchpads are banks of one-read-one-write SRAM: spad_group elements per bank row,
    # spread over the banks (a bank's word holds spad_group / banks elements, written with a mask)
    for spad, rows, banks in (("kspad", hw.kv_rows, hw.kv_banks), ("vspad", hw.kv_rows, hw.kv_banks),
                              ("qbuf", hw.q_slots, hw.q_banks)):
        bank = [m for t, m in macros.items() if t.startswith(f"sattn_ram_spad_{spad}_g_bank_")]
        assert len(bank) == banks, (spad, sorted(macros))
        for m in bank:
            assert (m["words"], m["width"]) == (rows * hw.dmax // hw.spad_group,
                                                32 * hw.spad_group // banks)
            assert len(m["read_sync"]) == 1 and m["write_ports"] == 1
    assert small_run["report"]["memory_bits"] == sum(m["words"] * m["width"]
                                                     for m in macros.values())
    # smaller memories (the FIFOs) are flip-flops: the token FIFO holds token_fifo entries
    tok = next(u for u in small_run["report"]["units"] if u["unit"] == "sattn_fifo_tokens")
    assert tok["flops"] >= hw.token_fifo * 68  # 68-bit tokens


def test_linked_top_is_timed(small_run):
    top = small_run["report"]["top"]
    assert top is not None and math.isfinite(top["critical_ns"]) and top["critical_ns"] > 0
    # units not run here are black boxes of the top's timing, and the report says so
    assert "sattn_core" in small_run["report"]["top_missing"]
    assert "black boxes: " in small_run["text"]


def test_every_unit_of_the_hierarchy_is_a_unit_of_the_flow(small_run):
    """The top's hierarchy = the units run + its black boxes: each must be a unit `make synth`
    maps, or the full run's linked top would time it as a black box."""
    known = {name for name, _ in FLOW_UNITS}
    rep = small_run["report"]
    hierarchy = {u["unit"] for u in rep["units"]} | set(rep["top_missing"])
    assert hierarchy - known == set()
    assert "sattn_fifo_out" in hierarchy  # the softmax's output FIFO


def _sat_result(tools, work: Path, unit: str, a: float, b: float) -> int:
    abits = struct.unpack("<I", struct.pack("<f", a))[0]
    bbits = struct.unpack("<I", struct.pack("<f", b))[0]
    ties = work / "ties_model.v"
    ties.write_text("module sattn_tiehi(output Y); assign Y = 1'b1; endmodule\n"
                    "module sattn_tielo(output Y); assign Y = 1'b0; endmodule\n")
    script = "\n".join([
        f"read_liberty {tools.liberty}",  # the cells' functions (and flip-flops) from the liberty
        f"read_verilog {ties}",
        f"read_verilog {work / (unit + '.v')}",
        f"hierarchy -top {unit}", "flatten", "opt_clean",
        # operands registered at step 1, the unit's first stage (fmul_s1 / fadd_s1) at step 2,
        # the rounded result (fmul_s2 / fadd_s23) at step 3, visible at step 4
        f"sat -seq 4 -set-init-zero -set-at 1 a 32'd{abits} -set-at 1 b 32'd{bbits} -show y",
    ])
    proc = subprocess.run([tools.yosys, "-p", script.replace("\n", "; ")], check=False,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr
    # the table row of step 4: time, name, decimal (signed), hex, binary
    vals = re.findall(r"^\s+4\s+\\y\s+-?\d+\s+([0-9a-f]+)\s", proc.stdout, re.MULTILINE)
    assert vals, proc.stdout[-2000:]
    return int(vals[0], 16)


@pytest.mark.parametrize("a,b", [(1.5, -2.25), (3.1415927, 2.7182817), (1e-3, 7e5), (-0.1, -0.3)])
def test_mapped_fp32_multiplier_computes_ieee_products(small_run, a, b):
    got = _sat_result(small_run["tools"], small_run["dir"] / "work", "sattn_fpu_mul", a, b)
    want = np.float32(np.float32(a) * np.float32(b)).view(np.uint32)
    assert got == int(want), (hex(got), hex(int(want)))


# a cancellation (normalisation by many bits), an aligned-off tiny operand (sticky rounding),
# a tie rounded to even, opposite signs
@pytest.mark.parametrize("a,b", [(1.0000001, -1.0), (3.0e7, 1.2345), (16777216.0, 1.0),
                                 (-0.1, 0.30000001)])
def test_mapped_fp32_adder_computes_ieee_sums(small_run, a, b):
    got = _sat_result(small_run["tools"], small_run["dir"] / "work", "sattn_fpu_add", a, b)
    want = (np.float32(a) + np.float32(b)).view(np.uint32)
    assert got == int(want), (hex(got), hex(int(want)))


def test_bad_options_are_one_line_errors(tmp_path):
    proc = run_cmd([PY, "-m", "sattn", "synth", "--units", "sattn_nope"])
    assert_one_line_error(proc, "--units", "sattn_nope", "sattn_mac_array")
    proc = run_cmd([PY, "-m", "sattn", "synth", "--lanes", "3"])
    assert_one_line_error(proc, "--lanes 3", "power of two")
    proc = run_cmd([PY, "-m", "sattn", "synth", "--small", "--out", str(tmp_path / "no" / "r")])
    assert_one_line_error(proc, "--out", "does not exist")


def test_missing_liberty_names_the_package(tmp_path):
    proc = run_cmd([PY, "-m", "sattn", "synth", "--small"],
                   env={"SATTN_SYNTH_LIBERTY": str(tmp_path / "none.lib")})
    assert_one_line_error(proc, "none.lib", "apt-get install qflow-tech-osu018")


def test_a_step_over_its_limit_is_killed_with_its_children(tmp_path):
    from sattn.backends.rocc.synth.tools import run_bounded
    from sattn.errors import SattnError

    pidfile = tmp_path / "child.pid"
    with pytest.raises(SattnError, match=r"slow step: timed out after 1 s"):
        run_bounded(["sh", "-c", f"sleep 60 & echo $! > {pidfile}; wait"], cwd=tmp_path,
                    what="slow step", timeout=1.0)
    child = int(pidfile.read_text())
    for _ in range(50):  # the grandchild (like ABC under Yosys) dies with the group
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"child {child} of the timed-out step still runs")
