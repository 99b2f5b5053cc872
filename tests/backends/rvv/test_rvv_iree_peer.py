"""IREE as the outside RVV peer (sattn.backends.rvv.peer.iree, bench/rvv_vs_iree.py) on a small
shape: both input forms compile, run under qemu with the counting plugin and match a float64
reference within the fp32 bound; the host-program parser and the qemu work-around on their own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import need_module, need_tool
from sattn.backends.rvv.peer import iree
from sattn.errors import SattnError

ROOT = Path(__file__).resolve().parents[3]
S, D = 64, 32


@pytest.fixture(scope="module")
def qkv():
    need_module("iree.compiler")
    need_tool("qemu-riscv64")
    rng = np.random.default_rng(7)
    return tuple(rng.uniform(-1, 1, (S, D)).astype(np.float32) for _ in range(3))


@pytest.mark.parametrize("form", iree.FORMS)
def test_iree_form_matches_reference(qkv, form):
    q, k, v = qkv
    r = iree.run(form, q, k, v, vlen=256)
    want = iree.reference64(q, k, v)
    err = np.abs(r.output - want).max() / np.abs(want).max()
    assert err <= iree.fp32_tolerance(S, D)
    c = r.counters
    assert c["vector"] == r.profile.vector > 0 and c["scalar"] == c["instructions"] - c["vector"]
    assert c["model_cycles"] == r.model.cycles > c["instructions"] // 4
    # every workgroup of the plan's dispatches ran: the attention form is one dispatch, the
    # linalg form Q.K^T, the fused scale + softmax and P.V
    assert len(r.plan.dispatches) == (1 if form == "attention" else 3)
    assert all(d.n_workgroups >= 1 for d in r.plan.dispatches)
    line = r.lines()[0]
    assert line.startswith(f"iree_config: form={form} iree=") and f"rtz_sites={r.plan.rtz_sites}" in line


def test_bench_prints_both_forms_and_sattn(qkv):
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "rvv_vs_iree.py"), "--seq", str(S),
                           "--head-dim", str(D)], check=False, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr
    rows = {ln.split()[0]: ln.split() for ln in proc.stdout.splitlines()
            if ln.startswith(("sattn(", "iree("))}
    assert set(rows) == {"sattn(lmul=8)", "iree(attention)", "iree(linalg)"}
    base = rows["sattn(lmul=8)"]
    for name, row in rows.items():
        insn, cyc = int(row[1].replace(",", "")), int(row[4].replace(",", ""))
        assert float(row[3]) == pytest.approx(insn / S**2, abs=6e-3)
        assert float(row[6].rstrip("x")) == pytest.approx(insn / int(base[1].replace(",", "")), abs=6e-3)
        assert float(row[7].rstrip("x")) == pytest.approx(cyc / int(base[4].replace(",", "")), abs=6e-3)
        assert row[9] == "yes", name


def test_rtz_workaround_inserts_one_scalar_conversion():
    asm = "\tvfmadd.vv\tv8, v9, v10\n\tvfcvt.rtz.x.f.v\tv10, v6\n\tvfncvt.rtz.x.f.w\tv1, v2\n\tvfcvt.x.f.v\tv3, v4\n"
    out, n = iree.qemu72_rtz_workaround(asm)
    assert n == 2
    assert out.splitlines() == ["\tvfmadd.vv\tv8, v9, v10", "\tfcvt.w.s\tzero, ft0, dyn",
                                "\tvfcvt.rtz.x.f.v\tv10, v6", "\tfcvt.w.s\tzero, ft0, dyn",
                                "\tvfncvt.rtz.x.f.w\tv1, v2", "\tvfcvt.x.f.v\tv3, v4"]


VMASM = """
    vm.rodata private @_utf8_d0 <alignment = 1> "m_dispatch_0_x"
    vm.func private @__memo() {
      %c8 = vm.const.i32 8
      %c1 = vm.const.i32 1
      %c4 = vm.const.i32 4
      %zero = vm.const.i32.zero
      %null = vm.const.ref.zero : !vm.ref<!hal.buffer>
      %c256 = vm.const.i64 256
      %c64 = vm.const.i64 64
      %zero_0 = vm.const.i64.zero
      %_utf8_d0 = vm.const.ref.rodata @_utf8_d0 : !vm.buffer
      %0 = vm.call @hal.executable.lookup.function(%exe, %_utf8_d0) {nosideeffects} : (x) -> i64
      vm.call.variadic @hal.command_buffer.dispatch(%ref, %exe, %0, %c8, %c1, %c1, %zero_0, [%c4], [(%zero, %zero, %null, %zero_0, %c256), (%zero, %c1, %null, %c64, %c64)]) : (x)
    }
    vm.func private @f(%arg0: !vm.ref<!hal.buffer_view>) {
      %ref = vm.call @hal.buffer_view.buffer(%arg0) {nosideeffects} : (x) -> y
      %ref_5 = vm.call @hal.device.queue.alloca(%d, %c-1, %null, %f, %zero, %c48, %c3075, %c256, %zero) : (x) -> y
      vm.call.variadic @hal.device.queue.execute.indirect(%d, %c-1, %w, %s, %cb, %zero, [(%ref, %zero_0, %c256), (%ref_5, %zero_0, %c256)]) : (x)
      %ref_8 = vm.call.variadic @hal.buffer_view.create(%ref_5, %c64, %c64, %c553648160, %c1, [%c64]) {nosideeffects} : (x) -> y
      vm.return %ref_8 : !vm.ref<!hal.buffer_view>
    }
"""
HEADER = "const iree_hal_executable_library_header_t**\nm_linked_library_query(\n"


def test_parse_vm_asm_plan():
    plan = iree.parse_vm_asm(VMASM, HEADER)
    assert plan.queries == ["m_linked_library_query"]
    assert plan.sizes == [256, 256] and plan.inputs == [0, -1]
    (d,) = plan.dispatches
    assert (d.export, d.workgroups, d.constants) == ("m_dispatch_0_x", (8, 1, 1), [4])
    assert d.bindings == [(0, 0, 256), (1, 64, 64)]  # slot 1 -> the allocation, offset 64
    assert plan.output == (1, 64, 64)
    c_text = iree.plan_c(plan, "m.h")
    assert '{"m_dispatch_0_x", {8, 1, 1}, 1, {4u}, 2, {{0, 0, 256}, {1, 64, 64}}},' in c_text


@pytest.mark.parametrize("text, header, msg", [
    (VMASM, "", "names no library query function"),
    (VMASM.replace("queue.execute.indirect", "queue.execute.other"), HEADER,
     "expected one queue.execute.indirect"),
    (VMASM.replace("%null, %c64, %c64)", "%ref, %c64, %c64)"), HEADER, "only indirect"),
    (VMASM.replace("[%c4]", "[%c5]"), HEADER, "%c5 is not a constant"),
])
def test_parse_vm_asm_errors(text, header, msg):
    with pytest.raises(SattnError, match=msg):
        iree.parse_vm_asm(text, header)


def test_unknown_form():
    with pytest.raises(SattnError, match="unknown input form 'flash'"):
        iree.mlir_source("flash", 64, 32)
