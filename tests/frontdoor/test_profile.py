"""``scripts/sattn_profile.py`` / ``sattn profile``: one table of measured counters, agreement
with the reference, and the hint flags forwarded."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import need_tool
from fd_util import EXAMPLES, PY, REPO, assert_one_line_error, run_cmd
from sattn.ir.schema import params_from_dict
from sattn.reference.compare import attention_tolerance, max_keys
from sattn.reference.data import synthetic
from sattn.reference.executor import attention
from sattn.result import checksum
from sattn.specs import select_indices

PROFILE = str(REPO / "scripts" / "sattn_profile.py")
INPUT = str(EXAMPLES / "input.mlir")


def _row(text: str, name: str) -> list[str]:
    for line in text.splitlines():
        if line.split() and line.split()[0] == name:
            return line.split()[1:]
    raise AssertionError(f"no row '{name}' in:\n{text}")


def test_profile_all_side_by_side() -> None:
    need_tool("qemu-riscv64")
    need_tool("verilator")
    proc = run_cmd([PY, PROFILE, "--mlir", INPUT, "--backend", "all"])
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    table = out.split("== profile:")[1]
    assert _row(table, "metric") == ["reference", "rvv", "rocc"]
    assert _row(table, "spec") == ["block_local_global"] * 3
    assert _row(table, "agreement") == ["-", "PASS", "PASS"]
    # the counters in the table are the backends' printed counters
    total = re.search(r"rvv_counters: total=(\d+)", out).group(1)
    assert _row(table, "instructions")[1] == total
    cycles = re.search(r"rocc_counters\(rtl\):.* total_cycles=(\d+)", out).group(1)
    assert _row(table, "total_cycles")[2] == cycles
    dma = [int(x) for x in (_row(table, "dma_bytes")[2], _row(table, "dma_q")[2], _row(table, "dma_k")[2])]
    assert dma[0] == dma[1] + dma[2]
    # the three checksums agree within the fp32 tolerance policy: every element within the
    # bound, summed over the elements (plus the 6 printed decimals)
    sums = [float(x) for x in _row(table, "checksum")]
    p = params_from_dict({"spec": "block_local_global", "global_tokens": 8, "block_size": 64,
                          "tile_M": 16, "tile_D": 32, "tile_S": 128})
    q, k, v = synthetic(p.shape())
    ref = attention(p, q, k, v)
    tol = attention_tolerance(p, q, k, v, keys=max_keys(select_indices(p, p.shape())))
    assert max(sums) - min(sums) <= tol.checksum_bound(ref) + 1e-6
    assert sums[0] == pytest.approx(checksum(ref), abs=1e-6)  # the reference column is the oracle


def test_profile_rvv_forwards_hints(tmp_path: Path) -> None:
    need_tool("qemu-riscv64")
    mlir = tmp_path / "b.mlir"
    mlir.write_text('module {\n  "sattn.sparse_attention"() { window_size = 24 : i64, '
                    'keep_ratio = 0.25 : f64, block_size = 32 : i64, seq_len = 256 : i64, '
                    'head_dim = 32 : i64 } : () -> ()\n}\n')
    plain = run_cmd([PY, PROFILE, "--mlir", str(mlir), "--backend", "rvv"])
    hinted = run_cmd([PY, PROFILE, "--mlir", str(mlir), "--backend", "rvv", "--prefer-bsr"])
    assert plain.returncode == 0 and hinted.returncode == 0, plain.stderr + hinted.stderr
    assert _row(plain.stdout.split("== profile:")[1], "spec") == ["sliding_window"]
    assert _row(hinted.stdout.split("== profile:")[1], "spec") == ["bsr"]
    assert "instructions" in hinted.stdout and "-> PASS" in hinted.stdout


def test_profile_sim_and_cli_alias() -> None:
    need_tool("verilator")
    proc = run_cmd([PY, "-m", "sattn", "profile", "--mlir", INPUT, "--backend", "sim"])
    assert proc.returncode == 0, proc.stderr
    table = proc.stdout.split("== profile:")[1]
    assert _row(table, "agreement") == ["PASS"]
    # util_mac is its definition over the RTL's own counters: busy lane-cycles / (lanes x cycles)
    util = re.search(r"^rocc_util: util_mac=([0-9.]+) util_gather=([0-9.]+) lanes=(\d+)",
                     proc.stdout, re.MULTILINE)
    lane_cycles, total = (int(_row(table, k)[0]) for k in ("lane_cycles", "total_cycles"))
    assert float(util[1]) == pytest.approx(lane_cycles / (int(util[3]) * total), abs=6e-5)
    gather = int(_row(table, "gather_active_cycles")[0])
    assert float(util[2]) == pytest.approx(gather / total, abs=6e-5)
    # every selected pair of the op costs 2*D lane-cycles (q.k and p.v), D = 32 here
    assert lane_cycles == 2 * 32 * int(_row(table, "pairs")[0])
    # the modelled cycle count is named as a model, never as a measurement
    assert _row(table, "model_ideal_mac_cycles") and not any(
        ln.split()[0] == "ideal_mac_cycles" for ln in table.splitlines() if ln.split())


def test_profile_autotune_rvv() -> None:
    need_tool("qemu-riscv64")
    proc = run_cmd([PY, PROFILE, "--mlir", str(EXAMPLES / "sliding_window.mlir"), "--backend",
                    "rvv", "--autotune"])
    assert proc.returncode == 0, proc.stderr
    m = re.search(r"^autotune: spec=sliding_window best lmul=(\d) .*?instructions=(\d+)", proc.stdout,
                  re.MULTILINE)
    table = proc.stdout.split("== profile:")[1]
    # the table shows the tuned run: its measured count and its agreement with the reference
    assert _row(table, "instructions") == [m[2]] and _row(table, "agreement") == ["PASS"]
    assert re.search(rf"^rvv_config: vlen=\d+ lmul={m[1]} ", proc.stdout, re.MULTILINE)


def test_profile_bad_input(tmp_path: Path) -> None:
    assert_one_line_error(run_cmd([PY, PROFILE, "--mlir", "nope.mlir", "--backend", "reference"],
                                  cwd=tmp_path), "nope.mlir")
    assert_one_line_error(run_cmd([PY, PROFILE, "--mlir", INPUT, "--backend", "sim",
                                   "--autotune"]), "--autotune")
    bad = tmp_path / "bad.mlir"
    bad.write_text('module {\n  "sattn.sparse_attention"() { nm_n = 4 : i64, nm_m = 2 : i64 } : () -> ()\n}\n')
    assert_one_line_error(run_cmd([PY, PROFILE, "--mlir", str(bad), "--backend", "reference"]),
                          "nm_n", "bad.mlir:2:3")


#: The adversarial round's example: target-aware selection picked block_local_global for the
#: reference and bsr for rvv/rocc, and the table compared unlike work with PASS/PASS.
UNLIKE = ('keep_ratio = 0.25 : f64, block_size = 32 : i64, precision = "bf16", tile_D = 64 : i64, '
          "tile_S = 256 : i64, num_heads = 4 : i64, gqa_group_size = 2 : i64")


def test_profile_all_runs_one_spec_everywhere(tmp_path: Path) -> None:
    need_tool("qemu-riscv64")
    need_tool("verilator")
    from sattn import api

    mlir = tmp_path / "u.mlir"
    mlir.write_text(f'module {{\n  "sattn.sparse_attention"() {{ {UNLIKE} }} : () -> ()\n}}\n')
    rvv_pick = api.load_op(mlir, pipeline="sattn-lower-rvv").spec  # the default target's pick
    proc = run_cmd([PY, PROFILE, "--mlir", str(mlir), "--backend", "all"])
    assert proc.returncode == 0, proc.stderr
    table = proc.stdout.split("== profile:")[1]
    assert f"spec: {rvv_pick} on every backend (selected for rvv)" in table
    assert _row(table, "spec") == [rvv_pick] * 3
    assert _row(table, "agreement") == ["-", "PASS", "PASS"]
    forced = run_cmd([PY, PROFILE, "--mlir", str(mlir), "--backend", "all", "--spec", "dense"])
    assert forced.returncode == 0, forced.stderr
    assert _row(forced.stdout.split("== profile:")[1], "spec") == ["dense"] * 3


def test_per_target_specs_are_said_and_compared_with_their_own_reference(tmp_path: Path) -> None:
    need_tool("qemu-riscv64")
    need_tool("verilator")
    import numpy as np
    from sattn import api
    from sattn.reference.executor import attention

    mlir = tmp_path / "u.mlir"
    mlir.write_text(f'module {{\n  "sattn.sparse_attention"() {{ {UNLIKE} }} : () -> ()\n}}\n')
    comp = api.compare(mlir, ("reference", "rvv", "rocc"), per_target=True)
    specs = comp.specs
    if len(set(specs.values())) > 1:
        assert comp.header.startswith("spec: DIFFERS per target (reference=")
        assert "each backend is compared with the reference run of its own spec" in comp.header
    else:
        assert comp.header == f"spec: {specs['rvv']} on every backend (selected for each target)"
    for b in ("rvv", "rocc"):
        res = comp.results[b]
        own = attention(res.params, *comp.inputs)  # the reference of the backend's own spec
        assert comp.verdicts[b].max_abs_err == pytest.approx(
            float(np.abs(res.output - own).max()), rel=1e-6, abs=1e-12)
    with pytest.raises(Exception, match="exclude each other"):
        api.compare(mlir, ("reference",), spec="dense", per_target=True)
