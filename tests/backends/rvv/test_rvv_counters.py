"""The qemu counting plugin against counts known by construction."""

from __future__ import annotations

import pytest
from conftest import need_tool
from sattn.backends.rvv import build
from sattn.backends.rvv.runner import parse_counts
from sattn.toolrun import find_tool, run_tool, zig_cc

# A loop whose vector instructions are known exactly: per strip one vsetvli, two vle32, one
# vfadd, one vse32 (5 vector, 3 of them memory). N elements at VL = VLEN/32*4 lanes.
PROGRAM = r"""
#include <riscv_vector.h>
#include <stdio.h>
__attribute__((noinline)) static void mark_begin(void) { __asm__ volatile("slti x0, x0, 0x5a1"); }
__attribute__((noinline)) static void mark_end(void) { __asm__ volatile("slti x0, x0, 0x5a2"); }
float a[1000], b[1000];
int main(void) {
    for (int i = 0; i < 1000; i++) { a[i] = (float)i; b[i] = 1.0f; }
    mark_begin();
    size_t n = 1000; float *pa = a, *pb = b;
    while (n) {
        size_t vl = __riscv_vsetvl_e32m4(n);
        vfloat32m4_t x = __riscv_vle32_v_f32m4(pa, vl), y = __riscv_vle32_v_f32m4(pb, vl);
        __riscv_vse32_v_f32m4(pb, __riscv_vfadd_vv_f32m4(x, y, vl), vl);
        pa += vl; pb += vl; n -= vl;
    }
    mark_end();
    printf("%f\n", b[999]);
    return 0;
}
"""


@pytest.fixture(scope="module")
def program(tmp_path_factory):
    need_tool("qemu-riscv64")
    d = tmp_path_factory.mktemp("plugin")
    src = d / "loop.c"
    src.write_text(PROGRAM)
    exe = d / "loop"
    run_tool([*zig_cc(), *build.ZIG_FLAGS[:-3], str(src), "-o", str(exe)], what="zig cc")
    return exe


@pytest.mark.parametrize("vlen", [128, 256, 512])
def test_plugin_counts_known_loop(program, tmp_path, vlen):
    out = tmp_path / "c.txt"
    proc = run_tool([find_tool("qemu-riscv64"), "-cpu", f"rv64,v=true,vlen={vlen},vext_spec=v1.0",
                     "-plugin", f"{build.plugin_library()},out={out}", str(program)], what="qemu")
    assert proc.stdout.decode().strip() == "1000.000000"
    c = parse_counts(out.read_text())
    strips = -(-1000 // (vlen // 32 * 4))
    assert c["region_begin"] == 1 and c["region_end"] == 1
    assert c["vector"] == 5 * strips
    assert c["vector_mem"] == 3 * strips
    # the scalar part of the loop is a handful of instructions per strip, and the whole
    # program (startup, printf) is far bigger than the region
    assert strips * 5 < c["instructions"] - c["vector"] < strips * 12 + 20
    assert c["program_instructions"] > 5 * c["instructions"]
