"""The host's selection beside the accelerator's cycles (sattn.backends.rocc.host_select): a
RoCC run of a per-key data-dependent pattern (top-k, N:M, LSH, landmark) reports the
selection's RVV instruction count, which must equal an independent ``stop_after = 2`` run of
the RVV kernel on the same inputs (and its modelled cycles that run's), summed over a batch; a
statically selected pattern has none, and neither has bsr, which selects on chip; the front
door (``sattn run --backend rocc``, ``sattn profile``, the API) shows it."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from conftest import need_tool
from sattn import api
from sattn.backends.rocc import backend, host_select
from sattn.backends.rvv import runner
from sattn.errors import SattnError
from sattn.ir.schema import params_from_dict
from sattn.reference.data import synthetic
from sattn.reference.executor import attention
from tolerance import assert_attention_close

HOST_SELECTED = {
    "topk": {"spec": "topk_per_query", "topk_k": 5},
    "nm": {"spec": "nm_structured", "nm_n": 1, "nm_m": 4},
    "lsh": {"spec": "lsh", "lsh_buckets": 4},
    "landmark": {"spec": "landmark", "num_landmarks": 6, "landmark_iters": 1},
}
#: bsr (block top-k, compression scoring) selects its blocks on chip: no host selection
ON_CHIP = {
    "bsr": {"spec": "bsr", "block_size": 8, "keep_ratio": 0.5, "causal": 1},
    "bsr_comp": {"spec": "bsr", "block_size": 8, "keep_ratio": 0.5, "comp_block_size": 8},
}
STATIC = {
    "dense": {"spec": "dense"},
    "sliding_window": {"spec": "sliding_window", "window_size": 3},
    "block_local_global": {"spec": "block_local_global", "block_size": 8, "global_tokens": 3},
}


@pytest.fixture(scope="module")
def driver():
    need_tool("verilator")
    need_tool("qemu-riscv64")
    from sattn.backends.rocc import driver as d

    d.simulator()
    return d


def sattn(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sattn", *args], capture_output=True, text=True,
                          timeout=600, check=False)


def write_mlir(path, attrs):
    path.write_text(api.mlir_for(attrs))
    return path


def make(precision="fp32", s=32, d=16, heads=4, group=2, seed=0, **attrs):
    p = params_from_dict(dict(attrs, seq_len=s, head_dim=d, num_heads=heads,
                              gqa_group_size=group, precision=precision))
    return (p, *synthetic(p.shape(), seed=seed))


@pytest.mark.parametrize("precision", ["fp32", "i8"])
@pytest.mark.parametrize("pattern", sorted(HOST_SELECTED))
def test_host_count_is_an_independent_selection_only_run(driver, pattern, precision):
    p, q, k, v = make(precision, **HOST_SELECTED[pattern])
    r = driver.run(p, q, k, v)
    alone = runner.run(p, q, k, v, stop_after=2)  # the RVV kernel's selection, on its own
    assert not alone.output.any()
    c = r.counters
    assert c["host_select_instructions"] == alone.counters["instructions"] > 0
    assert c["host_select_model_cycles"] == alone.counters["model_cycles"] > 0
    # the selection is a part of the whole kernel, not all of it
    assert c["host_select_instructions"] < runner.run(p, q, k, v).counters["instructions"]
    line = next(ln for ln in r.lines if ln.startswith("rocc_host_select:"))
    assert (f"instructions={alone.counters['instructions']} (measured: the RVV kernel's scoring "
            "and selection alone (stop_after=2)") in line
    assert f"model_cycles={alone.counters['model_cycles']} (modelled: " in line
    # the accelerator's run itself is unchanged by the measurement
    assert_attention_close(r.output, attention(p, q, k, v), p, q, k, v, selection=r.selection,
                           what="RTL vs reference")


@pytest.mark.parametrize("pattern", sorted(ON_CHIP))
def test_bsr_selects_on_chip_with_no_host_selection(driver, pattern):
    """bsr's blocks are chosen by the accelerator's scoring path and top-n unit: no RVV
    selection run, no host counters, the report says selection=on-chip, and the RTL's cycles
    include the selection (select_cycles > 0)."""
    p, q, k, v = make(**ON_CHIP[pattern])
    assert not host_select.host_selected(p)
    assert host_select.measure(p, q, k, v) is None
    r = backend.run(p, q, k, v)
    assert not set(host_select.COUNTERS) & set(r.counters)
    assert not any(ln.startswith("rocc_host_select:") for ln in r.lines)
    assert any(ln.startswith("rocc_bsr:") and "selection=on-chip" in ln for ln in r.lines)
    assert r.counters["select_cycles"] > 0 and "host_select_s" not in r.timings


@pytest.mark.parametrize("pattern", sorted(STATIC))
def test_static_patterns_have_no_host_selection(driver, pattern):
    p, q, k, v = make(**STATIC[pattern])
    assert not host_select.host_selected(p)
    assert host_select.measure(p, q, k, v) is None
    r = driver.run(p, q, k, v)
    assert not set(host_select.COUNTERS) & set(r.counters)
    assert not any(ln.startswith("rocc_host_select:") for ln in r.lines)
    assert "host_select_s" not in r.timings


def test_batch_sums_each_elements_selection(driver):
    p, q, k, v = make(s=24, **HOST_SELECTED["topk"])
    rng = np.random.default_rng(5)
    qb = np.stack([q, rng.standard_normal(q.shape).astype(np.float32)])
    kb = np.stack([k, rng.standard_normal(k.shape).astype(np.float32)])
    vb = np.stack([v, v])
    r = driver.run(p, qb, kb, vb)
    each = [runner.run(p, qb[e], kb[e], vb[e], stop_after=2).counters["instructions"]
            for e in range(2)]
    assert each[0] != each[1]  # two selections of their own data
    assert r.counters["host_select_instructions"] == sum(each)


def test_host_options_reach_the_kernel_run(driver):
    p, q, k, v = make(**HOST_SELECTED["lsh"])
    r = driver.run(p, q, k, v, host_select={"vlen": 512, "dlen": 512})
    alone = runner.run(p, q, k, v, stop_after=2, vlen=512, dlen=512)
    assert r.counters["host_select_instructions"] == alone.counters["instructions"]
    assert r.counters["host_select_model_cycles"] == alone.counters["model_cycles"]
    assert "vlen=512 lmul=8" in r.lines[-1] and "vlen=512 dlen=512" in r.lines[-1]
    with pytest.raises(SattnError) as e:
        driver.run(p, q, k, v, host_select={"vlne": 512})
    assert str(e.value) == ("rocc: host_select option 'vlne' is not one of vlen, lmul, dlen, "
                            "mem_bytes_per_cycle, scalar_ipc")
    with pytest.raises(SattnError) as e:
        driver.run(p, q, k, v, host_select={"vlen": 100})
    assert str(e.value) == "--vlen must be one of 128, 256, 512, got 100"


def test_front_door_shows_it(driver, tmp_path):
    attrs = {**HOST_SELECTED["nm"], "seq_len": 32, "head_dim": 16, "num_heads": 2}
    path = write_mlir(tmp_path / "nm.mlir", attrs)
    res = api.run(path, "rocc", compare=True)
    p = api.load_op(path, pipeline="sattn-select-spec")
    q, k, v = api.resolve_inputs(p)[1:]
    want = runner.run(p, q, k, v, stop_after=2).counters["instructions"]
    assert res.counters["host_select_instructions"] == want and res.verdict.passed
    out = sattn("run", "--mlir", str(path), "--backend", "rocc")
    assert out.returncode == 0, out.stderr
    assert f"rocc_host_select: instructions={want} (measured" in out.stdout
    prof = sattn("profile", "--mlir", str(path), "--backend", "all")
    assert prof.returncode == 0, prof.stderr
    row = next(ln for ln in prof.stdout.splitlines() if ln.startswith("host_select_instructions "))
    assert row.split()[1:] == ["-", "-", str(want)]  # reference, rvv, rocc
    assert any(ln.startswith("host_select_model_cycles ") for ln in prof.stdout.splitlines())
    dense = write_mlir(tmp_path / "dense.mlir", {**attrs, "spec": "sliding_window", "window_size": 2})
    out = sattn("run", "--mlir", str(dense), "--backend", "rocc")
    assert out.returncode == 0 and "rocc_host_select" not in out.stdout


def test_a_run_the_rvv_side_cannot_make_is_reported_not_raised(driver, monkeypatch):
    p, q, k, v = make(**HOST_SELECTED["topk"])

    def refuse(*a, **kw):
        raise SattnError("rvv: refused for the test")

    monkeypatch.setattr(runner, "run", refuse)
    r = driver.run(p, q, k, v)
    assert r.counters["host_select_instructions"] is None
    assert r.lines[-1] == ("rocc_host_select: not measured (the RVV kernel's scoring and "
                           "selection alone (stop_after=2) on the same Q/K/V, vlen=256 lmul=8): "
                           "rvv: refused for the test")
