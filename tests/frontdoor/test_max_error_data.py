"""The ``max_error`` budget measured on given tensors (``SATTN_MAX_ERROR_DATA``, ``sattn run
--max-error-data``, ``api.run(max_error_data=)``) instead of the synthetic data: the same op
picks another spec when the data says so, with errors checked by the loop oracle."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fd_util import PY, assert_one_line_error, run_cmd, write_mlir
from naive_ref import attention as naive_attention
from sattn import api
from sattn.errors import SattnError
from sattn.ir.schema import params_from_dict
from sattn.reference import tensorfile
from sattn.selector import select_spec
from sattn.selector.accuracy import estimate

# As tests/selector/test_max_error.py: on the synthetic data sliding_window (the cheapest) is
# over a budget of 1.0 and bsr within it.
BASE = {"seq_len": 64, "head_dim": 16, "window_size": 8, "keep_ratio": 0.75, "block_size": 16,
        "max_error": 1.0}


def local_data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """[1, 1, 64, 16] tensors whose attention is local: each query is a multiple of its own
    key (nearly orthogonal to the others), so a window around the diagonal holds almost all
    the weight and sliding_window is nearly exact."""
    rng = np.random.default_rng(5)
    k = rng.standard_normal((1, 1, 64, 16))
    k /= np.linalg.norm(k, axis=-1, keepdims=True)
    q = 80.0 * k
    v = rng.standard_normal((1, 1, 64, 16))
    return q.astype(np.float32), k.astype(np.float32), v.astype(np.float32)


def oracle_error(q, k, v, spec: str) -> float:
    p = params_from_dict(BASE)
    dense, _ = naive_attention(p.replace(spec="dense"), q[0], k[0], v[0])
    out, _ = naive_attention(p.replace(spec=spec), q[0], k[0], v[0])
    return float(np.abs(out - dense).max() / np.abs(dense).max())


@pytest.fixture()
def data(tmp_path: Path) -> Path:
    q, k, v = local_data()
    f = tmp_path / "layer_0.safetensors"
    tensorfile.save(f, {"q": q, "k": k, "v": v})
    return f


def test_data_changes_the_pick(data: Path) -> None:
    p = params_from_dict(BASE)
    synthetic = select_spec(p, env={})
    given = select_spec(p, env={"SATTN_MAX_ERROR_DATA": str(data)})
    assert (synthetic.spec, synthetic.rule) == ("bsr", "max_error")
    assert (given.spec, given.rule) == ("sliding_window", "max_error")
    assert f"measured on {data}" in given.reason and "measured on" not in synthetic.reason
    assert f"max_error_data={data}" in given.hints.describe()
    # the estimates are the errors on that data, by the independent loop oracle
    q, k, v = local_data()
    got = estimate(p, ("sliding_window", "bsr"), data=str(data))
    for spec, acc in got.items():
        want = oracle_error(q, k, v, spec)
        assert acc.max_rel_error == pytest.approx(want, rel=1e-4, abs=1e-6), spec
    assert got["sliding_window"].max_rel_error <= 1.0


def test_run_flag_and_api(data: Path, tmp_path: Path) -> None:
    mlir = write_mlir(tmp_path / "budget.mlir", BASE)
    assert api.run(mlir).spec == "bsr"
    assert api.run(mlir, max_error_data=data).spec == "sliding_window"
    proc = run_cmd([PY, "-m", "sattn", "run", "--mlir", str(mlir), "--max-error-data", str(data)])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("spec=sliding_window checksum=")


def test_data_errors(data: Path, tmp_path: Path) -> None:
    p = params_from_dict({**BASE, "seq_len": 32})
    with pytest.raises(SattnError, match=r"SATTN_MAX_ERROR_DATA=.*: its tensors have H=1 S=64 "
                                         r"D=16 but the op has H=1 S=32 D=16"):
        select_spec(p, env={"SATTN_MAX_ERROR_DATA": str(data)})
    np.save(tmp_path / "q.npy", local_data()[0])
    with pytest.raises(SattnError, match=r"expected a \.safetensors file holding q, k and v"):
        select_spec(p, env={"SATTN_MAX_ERROR_DATA": str(tmp_path / "q.npy")})
    mlir = write_mlir(tmp_path / "budget.mlir", BASE)
    proc = run_cmd([PY, "-m", "sattn", "run", "--mlir", str(mlir), "--max-error-data",
                    str(tmp_path / "missing.safetensors")])
    assert_one_line_error(proc, "SATTN_MAX_ERROR_DATA: file not found:", "missing.safetensors")
