"""The Python API (``from sattn import ...``): results checked against the reference tensor,
the hint flags against the selector, and bad input against the message."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import sattn
from conftest import need_tool
from fd_util import EXAMPLES, write_mlir
from sattn import api
from sattn.errors import SattnError
from sattn.ir.schema import params_from_dict
from sattn.reference.compare import rel_error
from sattn.reference.data import synthetic
from sattn.reference.executor import attention
from sattn.result import checksum
from tolerance import assert_attention_close

SW = EXAMPLES / "sliding_window.mlir"
INPUT = EXAMPLES / "input.mlir"


def _ref(params, seed: int = 0) -> np.ndarray:
    q, k, v = synthetic(params.shape(), seed)
    return attention(params, q, k, v)


def _close(res, want=None, seed: int = 0, what: str = "") -> None:
    """``res.output`` within the fp32 tolerance policy of the reference (``want``, else the
    reference on the synthetic data of ``seed``) over the selection the backend ran."""
    q, k, v = synthetic(res.params.shape(), seed)
    want = attention(res.params, q, k, v) if want is None else want
    assert_attention_close(res.output, want, res.params, q, k, v, selection=res.selection,
                           what=what or res.backend)


def test_lazy_exports() -> None:
    from sattn import compile_and_sim, run_rvv_from_mlir  # the spec's import line

    assert run_rvv_from_mlir is api.run_rvv_from_mlir
    assert compile_and_sim is api.compile_and_sim
    assert sattn.compile is api.compile and sattn.select is api.select and sattn.run is api.run


def test_run_reference_matches_oracle() -> None:
    res = api.run(SW, backend="reference")
    want = _ref(params_from_dict({"window_size": 8, "tile_D": 32, "tile_S": 128,
                                  "spec": "sliding_window"}))
    np.testing.assert_array_equal(res.output, want)
    first = str(res).splitlines()[0]
    assert first == f"spec=sliding_window checksum={checksum(want):.6f}"


def test_run_rvv_from_mlir_matches_reference() -> None:
    need_tool("qemu-riscv64")
    res = sattn.run_rvv_from_mlir(str(SW))
    assert res.backend == "rvv" and res.spec == "sliding_window"
    _close(res)
    assert res.verdict is not None and res.verdict.passed
    text = str(res)
    assert text.splitlines()[0] == f"spec=sliding_window checksum={res.checksum:.6f}"
    assert "rvv_counters: total=" in text and text.rstrip().endswith("-> PASS")
    # measured counters: the kernel region retires at least one vector instruction per pair
    c = res.counters
    assert c["instructions"] == c["vector"] + c["scalar"] and c["vector"] >= c["selected_pairs"]


def test_run_rvv_overrides_reach_selection_and_kernel() -> None:
    need_tool("qemu-riscv64")
    res = api.run_rvv_from_mlir(SW, overrides={"precision": "i8", "dilation": 2})
    assert res.params.precision == "i8" and res.params.dilation == 2
    _close(res)
    # and the override really changed the computation
    plain = _ref(res.params.replace(precision="fp32", dilation=1))
    assert rel_error(res.output, plain) > 1e-3


def test_compile_and_sim_matches_reference() -> None:
    need_tool("verilator")
    res = sattn.compile_and_sim(str(INPUT))
    assert res.backend == "rocc" and res.spec == "block_local_global"
    _close(res)
    text = str(res)
    for prefix in ("verilator_tb: completed", "rocc_counters(rtl):", "spec_info:", "rocc_hw:",
                   "rocc_util:"):
        assert prefix in text
    assert text.rstrip().endswith("-> PASS")
    c = res.counters
    assert c["dma_bytes"] == c["dma_q"] + c["dma_k"]


def test_compare_runs_every_backend_on_the_same_inputs(tmp_path: Path) -> None:
    need_tool("qemu-riscv64")
    need_tool("verilator")
    q, k, v = synthetic(params_from_dict({"seq_len": 32, "head_dim": 16}).shape(), seed=3)
    paths = []
    for name, arr in (("q", q), ("k", k), ("v", v)):
        np.save(tmp_path / f"{name}.npy", arr)
        paths.append(tmp_path / f"{name}.npy")
    mlir = write_mlir(tmp_path / "op.mlir", {"window_size": 3, "tile_S": 32, "tile_D": 16})
    comp = api.compare(mlir, ("reference", "rvv", "sim"), q=paths[0], k=paths[1], v=paths[2])
    assert list(comp.results) == ["reference", "rvv", "rocc"] and comp.passed
    p = comp.results["reference"].params
    want = attention(p, q, k, v)
    for b in ("reference", "rvv", "rocc"):
        assert_attention_close(comp.results[b].output, want, p, q, k, v,
                               selection=comp.results["rvv"].selection, what=b)


def test_compile_returns_lowered_module() -> None:
    text = INPUT.read_text()
    m = api.compile(text)
    assert m.specs == ["block_local_global"] and m.pipeline == "sattn-lower-rvv"
    printed = str(m)
    assert '"sattn.rvv_call"()' in printed and "bufferized" in printed
    rocc = api.compile(INPUT, "sattn-lower-rocc")  # a Path reads the file
    assert '"sattn.rocc_call"()' in str(rocc) and "materialized_indices" in str(rocc)
    raw = api.compile(text, None)
    assert '"sattn.sparse_attention"()' in str(raw)


def test_compile_hints_change_selection_and_leave_env_clean() -> None:
    # a borderline op: the cost model prefers sliding_window, --prefer-bsr flips it
    attrs = {"window_size": 24, "keep_ratio": 0.25, "block_size": 32, "seq_len": 256,
             "head_dim": 32}
    assert api.select(attrs).spec == api.select(params_from_dict(attrs)).spec
    text = api.mlir_for(attrs)
    base = api.compile(text).specs[0]
    hinted = api.compile(text, prefer_bsr=True).specs[0]
    other = api.compile(text, prefer_sw=True).specs[0]
    assert {base, hinted, other} <= {"sliding_window", "bsr"}
    assert hinted == "bsr" and other == "sliding_window"
    assert "SATTN_PREFER_BSR" not in os.environ and "SATTN_PREFER_SW" not in os.environ


def test_select_explains() -> None:
    d = api.select({"global_tokens": 8, "block_size": 64})
    assert d.spec == "block_local_global" and d.rule == "global_tokens"
    assert "selection: spec=block_local_global" in d.explain()


def test_pattern_is_the_selection() -> None:
    from sattn.specs import select_indices

    sel = api.pattern(SW)
    p = params_from_dict({"window_size": 8, "tile_D": 32, "tile_S": 128, "spec": "sliding_window"})
    want = select_indices(p, p.shape())
    np.testing.assert_array_equal(sel.groups[0].indptr, want.groups[0].indptr)
    np.testing.assert_array_equal(sel.groups[0].indices, want.groups[0].indices)


@pytest.mark.parametrize("call, needle", [
    (lambda: api.run("no/such.mlir"), "no/such.mlir"),
    (lambda: api.run(SW, backend="gpu"), "unknown backend 'gpu'"),
    (lambda: api.compile("module {"), "<string>:1"),
    (lambda: api.compile('module { "sattn.sparse_attention"() {window_size = -1 : i64} : () -> () }'),
     "window_size"),
    (lambda: api.run_rvv_from_mlir(SW, prefer_bsr=True, prefer_sw=True), "exclude each other"),
    (lambda: api.run_rvv_from_mlir(SW, l1_bytes=0), "l1_bytes"),
    (lambda: api.run_rvv_from_mlir(SW, overrides={"precision": "fp8"}), "precision"),
    (lambda: api.run_rvv_from_mlir(SW, overrides={"windw_size": 3}), "did you mean 'window_size'"),
    (lambda: api.run(SW, q=np.zeros((1, 4, 4), np.float32)), "missing --k, --v"),
    (lambda: api.compare(SW, ("reference", "tpu")), "unknown backend 'tpu'"),
])
def test_bad_input_is_one_clear_error(call, needle: str) -> None:
    with pytest.raises(SattnError) as e:
        call()
    msg = str(e.value)
    assert needle in msg and "\n" not in msg


def test_missing_qemu_is_a_clear_error(monkeypatch) -> None:
    monkeypatch.setenv("SATTN_QEMU_RISCV64", "/nonexistent/qemu-riscv64")
    with pytest.raises(SattnError) as e:
        api.run_rvv_from_mlir(SW)
    assert "qemu-riscv64" in str(e.value) or "/nonexistent" in str(e.value)


def test_killed_kernel_is_one_line(monkeypatch, tmp_path: Path) -> None:
    fake = tmp_path / "qemu-riscv64"
    fake.write_text("#!/bin/sh\nkill -9 $$\n")
    fake.chmod(0o755)
    monkeypatch.setenv("SATTN_QEMU_RISCV64", str(fake))
    with pytest.raises(SattnError) as e:
        api.run_rvv_from_mlir(SW)
    msg = str(e.value)
    assert "killed by signal SIGKILL" in msg and "\n" not in msg
