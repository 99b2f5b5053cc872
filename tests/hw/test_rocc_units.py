"""C++ unit test of the MAC array and the streaming softmax alone (hw/sim/unit/tb_unit.cpp).

Bounds asserted (and documented in docs/rocc.md): integer dot products exact; fp32 dot products
within gamma(10) = 6.0e-7 of sum|a_i b_i| (docs/precision.md "Tolerance policy": one rounding per
product, 4 levels of the 16-lane adder tree, up to 4 accumulations into the even- or odd-chunk
partial sum and 1 adding the two partials; the pipelined array takes a chunk every cycle); softmax p and alpha within 2 ulp of e^x (for the fp32 argument the
unit computes); l = l·α + p over its outputs in fp32 (what the core's l lane computes) within 1e-5
relative of the row's denominator; results and row-end markers in order under random input gaps
and output back-pressure.
"""

from __future__ import annotations

import re
import subprocess

import pytest
from conftest import need_tool
from sattn.reference.compare import gamma


@pytest.fixture(scope="module")
def unit_binary():
    need_tool("verilator")
    from sattn.backends.rocc.build import build, unit_target

    return build(unit_target())


@pytest.mark.parametrize("seed", [1, 2])
def test_mac_array_and_softmax_against_double_math(unit_binary, seed):
    proc = subprocess.run([str(unit_binary), "--seed", str(seed), "--cases", "2000"],
                          check=False, capture_output=True, text=True, timeout=120)
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("unit:"))
    f = {k: float(v) for k, v in re.findall(r"(\w+)=([-+0-9.e]+)", line)}
    assert f["mac_int_mismatch"] == 0
    assert f["marker_errors"] == 0
    assert f["mac_fp_max_rel"] <= gamma(1 + 4 + 4 + 1)  # d <= 128: 8 chunks of 16 lanes
    assert f["sm_p_max_ulp"] <= 2.0
    assert f["sm_alpha_max_ulp"] <= 2.0
    assert f["sm_l_max_rel"] <= 1e-5
    assert f["sm_out_rows"] == 500
    assert proc.returncode == 0, line
