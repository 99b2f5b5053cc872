"""``sattn sweep``: regret and shares follow their definitions, costs are the counters they
name, accuracy is measured against dense attention, ``max_error`` picks within budget."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REQUIRE_TOOLS, need_tool
from fd_util import PY, assert_one_line_error, run_cmd
from sattn import sweep as sw
from sattn.errors import SattnError
from sattn.ir.schema import params_from_dict
from sattn.reference.data import synthetic
from sattn.reference.executor import attention
from sattn.selector.accuracy import apply_budget, estimate, measure
from sattn.specs import select_indices

TINY = sw.grid_cases(sw.GRIDS["tiny"])


def test_grid_is_the_product_of_axes() -> None:
    cases = sw.grid_cases({"seq_len": (32, 64), "window_size": (1, 2, 3)}, {"keep_ratio": 0.5})
    assert len(cases) == 6 and all(c["keep_ratio"] == 0.5 for c in cases)
    assert {(c["seq_len"], c["window_size"]) for c in cases} == {(s, w) for s in (32, 64) for w in (1, 2, 3)}


def test_model_pairs_cost_and_regret_definitions() -> None:
    summary = sw.sweep(TINY, "reference", cost="model_pairs", jobs=2, progress=False)
    assert summary.cases == len(TINY) and summary.failed == 0 and summary.cost == "model_pairs"
    assert "(model)" in summary.lines()[0]
    for r in summary.per_case:
        p = params_from_dict(r.attrs)
        q, k, v = synthetic(p.shape())
        dense = attention(p.replace(spec="dense"), q, k, v)
        for c in r.candidates:
            pc = p.replace(spec=c.spec)
            assert c.cost == select_indices(pc, pc.shape(), q, k).nnz  # the counter's definition
            want = measure(attention(pc, q, k, v), dense)
            assert c.max_rel_error == pytest.approx(want.max_rel_error)
            assert c.off_share == pytest.approx(want.off_share)
        costs = {c.spec: c.cost for c in r.candidates}
        assert r.best == min(costs, key=costs.get)
        assert r.regret == pytest.approx(costs[r.selected] / min(costs.values()))
    scored = [r for r in summary.per_case if len(r.candidates) >= 2]
    assert summary.mean_regret == pytest.approx(np.mean([r.regret for r in scored]))
    assert summary.best_share == pytest.approx(np.mean([r.regret <= 1.0 for r in scored]))


def test_gqa_cases_let_block_local_global_compete() -> None:
    summary = sw.sweep([c for c in TINY if c["gqa_group_size"] == 2][:1], "reference",
                       cost="model_pairs", jobs=1, progress=False)
    specs = {c.spec for c in summary.per_case[0].candidates}
    assert specs == {"sliding_window", "bsr", "block_local_global"}


def test_measure_definitions() -> None:
    dense = np.array([[[1.0, -2.0], [0.5, 0.0]]], np.float32)
    out = dense.copy()
    out[0, 0, 1] = -1.9  # off by 0.1 = 5% of max|dense|
    acc = measure(out, dense, threshold=0.01)
    assert acc.max_rel_error == pytest.approx(0.05) and acc.off_share == pytest.approx(0.25)
    assert measure(dense, dense).max_rel_error == 0.0


def test_max_error_budget_picks_cheapest_within() -> None:
    from sattn.selector import select_spec

    base = {"window_size": 4, "keep_ratio": 0.25, "block_size": 16, "seq_len": 64, "head_dim": 16}
    p = params_from_dict(base)
    d = select_spec(p, {})
    errors = estimate(p, ["sliding_window", "bsr", "dense"])
    # a generous budget keeps the cost model's choice
    loose = apply_budget(p.replace(max_error=10.0), d)
    assert loose.spec == d.spec
    # a budget only dense meets: dense (exact at fp32)
    tight = apply_budget(p.replace(max_error=1e-6), d)
    assert tight.spec == "dense" and tight.rule == "max_error" and errors["dense"].max_rel_error == 0
    # a budget between the two sparse errors: the one within it
    lo, hi = sorted(errors[s].max_rel_error for s in ("sliding_window", "bsr"))
    if hi > lo:
        mid = apply_budget(p.replace(max_error=(lo + hi) / 2), d)
        assert errors[mid.spec].max_rel_error <= (lo + hi) / 2


@pytest.mark.parametrize("cost", [None, "instructions"])
def test_sweep_rvv_costs_are_the_runs_counters(cost) -> None:
    """The default rvv cost is the plugin's modelled cycles (a model, named so); --cost
    instructions is the retired count. Either equals the counter of a separate run."""
    need_tool("qemu-riscv64")
    from sattn.backends.rvv import runner

    cases = TINY[:2]
    summary = sw.sweep(cases, "rvv", jobs=2, progress=False, cost=cost)
    want = cost or "model_cycles"
    assert summary.cost == want and summary.failed == 0
    assert (want in sw.MODEL_COSTS) == (cost is None)
    r = summary.per_case[0]
    p = params_from_dict(r.attrs)
    q, k, v = synthetic(p.shape())
    for c in r.candidates:
        again = runner.run(p.replace(spec=c.spec), q, k, v)
        # qemu counts are repeatable to ~1e-6 (design): the sweep's cost is that counter
        assert c.cost == pytest.approx(again.counters[want], rel=1e-4)


def test_cli_sweep_reports_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "s.json"
    proc = run_cmd([PY, "-m", "sattn", "sweep", "--grid", "tiny", "--cost", "model_pairs",
                    "-j", "2", "--cases", "--json", str(out)])
    assert proc.returncode == 0, proc.stderr
    assert "selector: best_share=" in proc.stdout and "mean_regret=" in proc.stdout
    assert "sweep reference [" in proc.stderr  # the progress bar
    data = json.loads(out.read_text())
    assert data["cases"] == len(TINY) and len(data["per_case"]) == len(TINY)


@pytest.mark.parametrize("args, needle", [
    (["--jobs", "0"], "--jobs"),
    (["--windows", "-3"], "window_size"),
    (["--precisions", "fp8"], "precision"),
    (["--json", "x.txt"], ".json"),
])
def test_cli_sweep_bad_input(tmp_path: Path, args, needle) -> None:
    proc = run_cmd([PY, "-m", "sattn", "sweep", "--grid", "tiny", "--no-progress", *args],
                   cwd=tmp_path)
    assert_one_line_error(proc, needle)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("target, why", [("missing/s.json", "does not exist"),
                                         ("adir.json", "is a directory")])
def test_cli_sweep_bad_json_path_fails_before_the_sweep(tmp_path: Path, target, why) -> None:
    (tmp_path / "adir.json").mkdir()
    # the rvv grid would take minutes: failing at once shows the path is checked up front
    proc = run_cmd([PY, "-m", "sattn", "sweep", "--backend", "rvv", "--grid", "bench",
                    "--no-progress", "--json", target], cwd=tmp_path, timeout=60)
    assert_one_line_error(proc, "--json", target, why)
    assert proc.stdout == ""
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["adir.json"]  # nothing written


def test_ray_missing_is_one_line_with_install_command(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(SattnError) as e:
        sw.sweep(TINY[:1], "reference", executor="ray", progress=False)
    assert "pip install ray" in str(e.value)


def test_ray_executor_matches_local() -> None:
    # Ray is an optional extra of the package, but `make test` installs it: there a missing
    # Ray is a failure, not a skip.
    if REQUIRE_TOOLS:
        import ray  # noqa: F401
    else:
        pytest.importorskip("ray")
    cases = TINY[:2]
    local = sw.sweep(cases, "reference", cost="model_pairs", jobs=1, progress=False)
    remote = sw.sweep(cases, "reference", cost="model_pairs", jobs=2, executor="ray",
                      progress=False)
    assert [r.selected for r in remote.per_case] == [r.selected for r in local.per_case]
    assert [[c.cost for c in r.candidates] for r in remote.per_case] == \
        [[c.cost for c in r.candidates] for r in local.per_case]
    assert math.isclose(remote.mean_regret, local.mean_regret)


# a bench configuration where the fitted weights of rvv and of the reference disagree
# (tests/selector/test_target.py): rvv -> bsr, reference -> sliding_window
TARGET_CASE = {"seq_len": 64, "head_dim": 16, "window_size": 24, "keep_ratio": 0.25,
               "block_size": 16}


def test_sweep_selects_for_the_backend_it_measures() -> None:
    from sattn.selector import select_spec

    r = sw.run_case(TARGET_CASE, "reference", cost="model_pairs")
    assert r.selected == "sliding_window"
    assert r.selected == select_spec(params_from_dict(TARGET_CASE), {"SATTN_TARGET": "reference"}).spec
    # an explicit target in env wins (selecting for rvv, measuring on the reference)
    r = sw.run_case(TARGET_CASE, "reference", cost="model_pairs", env={"SATTN_TARGET": "rvv"})
    assert r.selected == "bsr"
    s = sw.sweep([TARGET_CASE], "reference", cost="model_pairs", jobs=1, progress=False)
    assert s.target == "reference" and s.per_case[0].selected == "sliding_window"


def test_wall_time_is_the_fastest_of_interleaved_runs() -> None:
    r = sw.run_case(TARGET_CASE, "reference")
    for c in r.candidates:
        assert len(c.samples) == sw.WALL_REPEATS and c.cost == min(c.samples)
        a, b = min(c.samples[0::2]), min(c.samples[1::2])
        assert c.noise == pytest.approx(abs(a - b) / min(a, b))
    assert sw.noise([1.0]) == 0.0 and sw.noise([2.0, 1.0, 3.0]) == pytest.approx(1.0)


def test_cli_sweep_target_flag() -> None:
    base = [PY, "-m", "sattn", "sweep", "--seq-lens", "64", "--head-dims", "16", "--windows", "24",
            "--keep-ratios", "0.25", "--block-sizes", "16", "--gqa", "1", "--cost", "model_pairs",
            "--cases", "--no-progress", "-j", "1"]
    own = run_cmd(base)
    assert own.returncode == 0, own.stderr
    assert "selected=sliding_window (cost_model)" in own.stdout
    rvv = run_cmd([*base, "--target", "rvv"])
    assert rvv.returncode == 0, rvv.stderr
    assert "selected=bsr (cost_model)" in rvv.stdout
