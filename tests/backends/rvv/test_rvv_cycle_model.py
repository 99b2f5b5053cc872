"""The plugin's vector profile and the RVV cycle model against counts known by construction.

``data/cycle_kernels.c`` holds inline-asm loops with both region markers inside the asm, so
every instruction of the region is listed there: the instruction counts, the profile and the
modelled cycles follow in closed form (exact equality, no tolerance).
"""

from __future__ import annotations

from math import ceil, log2
from pathlib import Path

import numpy as np
import pytest
from conftest import need_tool
from sattn.backends.rvv import build, cycle_model, runner
from sattn.backends.rvv.cycle_model import VectorMachine, model, parse_profile
from sattn.errors import SattnError
from sattn.ir.schema import params_from_dict
from sattn.reference.data import synthetic
from sattn.toolrun import find_tool, run_tool, zig_cc

SRC = Path(__file__).parent / "data" / "cycle_kernels.c"
N = 50  # loop trips
MACHINES = [(64, 8), (128, 16), (256, 32), (512, 64)]  # (dlen, mem bytes per cycle)


@pytest.fixture(scope="module")
def program(tmp_path_factory):
    need_tool("qemu-riscv64")
    exe = tmp_path_factory.mktemp("cycles") / "cycle_kernels"
    run_tool([*zig_cc(), *build.ZIG_FLAGS[:-3], str(SRC), "-o", str(exe)], what="zig cc")
    return exe


def measure(program, kernel: str, vlen: int, n: int = N):
    """(counts, profile) of one microkernel run under qemu with the plugin."""
    out = program.parent / f"{kernel}-{vlen}.txt"
    proc = run_tool([find_tool("qemu-riscv64"), "-cpu", f"rv64,v=true,vlen={vlen},vext_spec=v1.0",
                     "-plugin", f"{build.plugin_library()},out={out},vlen={vlen}",
                     str(program), kernel, str(n)], what="qemu")
    assert proc.stdout.decode().strip() == f"ok {kernel}"
    text = out.read_text()
    c = runner.parse_counts(text)
    assert c["region_begin"] == 1 and c["region_end"] == 1
    return c, parse_profile(c, text)


@pytest.mark.parametrize("vlen", [128, 256, 512])
@pytest.mark.parametrize("lmul", [1, 2, 4, 8])
def test_vfmacc_loop(program, vlen, lmul):
    c, prof = measure(program, f"fmacc_m{lmul}", vlen)
    vlmax = lmul * vlen // 32
    # vsetvli; N x (vfmacc.vv, vfmacc.vv, addi, bnez)
    assert (c["instructions"], c["vector"], c["vector_mem"]) == (1 + 4 * N, 1 + 2 * N, 0)
    assert prof.ops == {("vset", 1, 0, False): 1, ("arith", 32, vlmax, False): 2 * N}
    for dlen, mem in MACHINES:
        m = model(prof, VectorMachine(vlen, dlen, mem, 1.0))
        # each vfmacc keeps the datapath for LMUL * VLEN / DLEN cycles (at least one)
        assert m.cycles == 1 + 2 * N + 2 * N * max(1, lmul * vlen // dlen)
        assert m.vl_vlmax_ops == 0 and m.unknown_vtype_ops == 0
    # two scalar instructions per cycle halve the scalar part: 2N + 1 issue slots -> N + 1/2
    m2 = model(prof, VectorMachine(vlen, 128, 16, 2.0))
    assert m2.cycles == ceil((1 + 2 * N) / 2) + 2 * N * max(1, lmul * vlen // 128)


@pytest.mark.parametrize("lmul", [1, 2, 4, 8])
def test_unit_stride_load_loop(program, lmul):
    vlen = 256
    c, prof = measure(program, f"load_m{lmul}", vlen)
    vlmax = lmul * vlen // 32
    assert (c["instructions"], c["vector"], c["vector_mem"]) == (1 + 4 * N, 1 + 2 * N, 2 * N)
    assert prof.ops == {("vset", 1, 0, False): 1, ("ld_unit", 32, vlmax, False): 2 * N}
    for dlen, mem in MACHINES:
        m = model(prof, VectorMachine(vlen, dlen, mem))
        assert m.cycles == 1 + 2 * N + 2 * N * ceil(vlmax * 4 / mem)
        assert m.vector_mem == 2 * N * ceil(vlmax * 4 / mem) and m.vector_arith == 0


def test_strided_load_and_reduction(program):
    vlen = 256
    c, prof = measure(program, "strided_red", vlen)
    vl = 2 * vlen // 32  # e32, m2
    # vsetvli, li; N x (vlse32.v, vfredusum.vs, addi, bnez)
    assert (c["instructions"], c["vector"], c["vector_mem"]) == (2 + 4 * N, 1 + 2 * N, N)
    assert prof.ops == {("vset", 1, 0, False): 1, ("ld_strided", 32, vl, False): N,
                        ("red", 32, vl, False): N}
    for dlen, mem in MACHINES:
        m = model(prof, VectorMachine(vlen, dlen, mem))
        red = ceil(vl * 32 / dlen) + int(log2(dlen // 32))
        # strided: one element per cycle; reduction: fold into DLEN, then a log2 lane tree
        assert m.cycles == 2 + 2 * N + N * vl + N * red


@pytest.mark.parametrize("vlen", [128, 512])
def test_vsetivli_known_vl(program, vlen):
    c, prof = measure(program, "ivli", vlen)
    vl = min(5, vlen // 32)
    assert (c["instructions"], c["vector"], c["vector_mem"]) == (1 + 4 * N, 1 + 2 * N, N)
    assert prof.ops == {("vset", 1, 0, False): 1, ("arith", 32, vl, False): N,
                        ("st_unit", 32, vl, False): N}
    for dlen, mem in MACHINES:
        m = model(prof, VectorMachine(vlen, dlen, mem))
        assert m.cycles == 1 + 2 * N + N * ceil(vl * 32 / dlen) + N * ceil(vl * 4 / mem)


def test_register_avl_is_vlmax_and_vsetvl_unknown(program):
    """vsetvli with AVL 3 in a register: VL modelled as VLMAX (8 at VLEN 256, e32 m1; the
    truth is 3), flagged; after vsetvl the configuration is unknown (costed at LMUL 8 x SEW 8)."""
    vlen = 256
    c, prof = measure(program, "reg_avl", vlen)
    # vsetvli; N x (vfadd, addi, bnez); vsetvl; vfadd
    assert (c["instructions"], c["vector"]) == (1 + 3 * N + 2, 1 + N + 2)
    assert prof.ops == {("vset", 1, 0, False): 1, ("arith", 32, 8, True): N,
                        ("vsetvl", 1, 0, False): 1, ("arith", 1, None, False): 1}
    m = model(prof, VectorMachine(vlen, 64, 8))
    assert m.vl_vlmax_ops == N and m.unknown_vtype_ops == 1
    assert m.cycles == 2 + 2 * N + N * ceil(8 * 32 / 64) + 8 * vlen // 64
    truth = 2 + 2 * N + N * ceil(3 * 32 / 64) + 8 * vlen // 64  # the same loop at its real VL 3
    assert m.cycles > truth  # the VLMAX assumption is an upper bound


def test_runner_reports_model_line_and_counter():
    need_tool("qemu-riscv64")
    p = params_from_dict({"seq_len": 64, "head_dim": 32, "num_heads": 1}).replace(spec="dense")
    q, k, v = synthetic(p.shape())
    r = runner.run(p, q, k, v, vlen=256, lmul=4, dlen=64, mem_bytes_per_cycle=8, scalar_ipc=2)
    prof = r.vector_profile
    assert prof.vector == r.counters["vector"] and prof.scalar == r.counters["scalar"]
    want = model(prof, VectorMachine(256, 64, 8, 2.0))
    assert r.counters["model_cycles"] == want.cycles
    line = next(ln for ln in r.lines if ln.startswith("rvv_cycles(model): "))
    assert line.startswith(f"rvv_cycles(model): cycles={want.cycles} vlen=256 dlen=64 "
                           "mem_bytes_per_cycle=8 scalar_ipc=2 ")
    # recomputed at another DLEN without a rerun; a wider datapath never costs more
    wide = cycle_model.model_cycles_of(r, dlen=256, mem_bytes_per_cycle=32)
    assert wide == model(prof, VectorMachine(256, 256, 32)).cycles < want.cycles * 2
    assert np.isfinite(r.output).all()


@pytest.mark.parametrize("kw, msg", [
    ({"dlen": 96}, "dlen must be a power of two"),
    ({"dlen": 0}, "dlen must be a positive integer"),
    ({"mem_bytes_per_cycle": -1}, "mem_bytes_per_cycle must be a positive integer"),
    ({"scalar_ipc": 0}, "scalar_ipc must be > 0"),
])
def test_bad_machine(kw, msg):
    with pytest.raises(SattnError, match=msg):
        cycle_model.machine_for(256, **kw)
