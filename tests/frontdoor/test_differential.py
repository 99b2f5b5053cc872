"""Differential testing: random valid attribute sets and small shapes through the whole stack
(parse, select, lower with each backend's pipeline, run) on the reference, the RVV kernels and
the RoCC RTL, with every output tensor compared against the reference on the same inputs.
Random invalid attribute sets are rejected by all three with the same one-line error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import need_tool
from fd_util import PY, assert_one_line_error, run_cmd, write_mlir
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sattn import api
from sattn.errors import SattnError
from sattn.ir.schema import params_from_dict
from sattn.reference.compare import rel_error
from sattn.reference.data import synthetic
from sattn.reference.executor import attention
from tolerance import assert_attention_close

BACKENDS = ("reference", "rvv", "rocc")


@st.composite
def valid_attrs(draw) -> dict:
    """A valid op: a pattern with its attributes, a precision, GQA, causal and a small shape."""
    s = draw(st.integers(8, 48))
    d = draw(st.sampled_from([8, 16, 32]))
    group = draw(st.sampled_from([1, 1, 2]))
    kv = draw(st.sampled_from([1, 1, 2]))
    spec = draw(st.sampled_from(["sliding_window", "bsr", "block_local_global", "nm_structured",
                                 "topk_per_query", "lsh", "landmark", "dense"]))
    a: dict = {"spec": spec, "seq_len": s, "head_dim": d, "num_heads": group * kv,
               "gqa_group_size": group, "precision": draw(st.sampled_from(["fp32", "bf16", "i8", "i4"])),
               "causal": draw(st.sampled_from([0, 0, 1]))}
    if a["precision"] in ("i8", "i4") and draw(st.booleans()):
        a["scale_q"] = a["scale_k"] = a["scale_v"] = draw(st.sampled_from([0.02, 0.05, 0.125]))
    if spec == "sliding_window":
        a["window_size"] = draw(st.integers(0, s))
        a["dilation"] = draw(st.integers(1, 4))
        a["wrap"] = draw(st.sampled_from([0, 1]))
    elif spec == "bsr":
        a["keep_ratio"] = draw(st.sampled_from([0.1, 0.25, 0.5, 1.0]))
        a["block_size"] = draw(st.integers(4, s))
        if draw(st.booleans()):
            a["comp_block_size"] = draw(st.integers(1, a["block_size"]))
    elif spec == "block_local_global":
        a["block_size"] = draw(st.integers(4, s))
        a["global_tokens"] = draw(st.integers(0, s // 2))
    elif spec == "nm_structured":
        a["nm_m"] = draw(st.integers(1, 8))
        a["nm_n"] = draw(st.integers(1, a["nm_m"]))
    elif spec == "topk_per_query":
        a["topk_k"] = draw(st.integers(1, s + 4))
    elif spec == "lsh":
        a["lsh_buckets"] = draw(st.integers(1, 8))
    elif spec == "landmark":
        a["num_landmarks"] = draw(st.integers(1, s))
        a["landmark_iters"] = draw(st.integers(0, 3))
    return a


#: One way to break a valid op, and a word the error must name.
BREAKERS = [
    ({"nm_n": 5, "nm_m": 2}, "nm_n"),
    ({"keep_ratio": 1.5}, "keep_ratio"),
    ({"keep_ratio": 0.0}, "keep_ratio"),
    ({"window_size": -1}, "window_size"),
    ({"precision": "fp8"}, "precision"),
    ({"tile_S": 0}, "tile_S"),
    ({"dilation": 0}, "dilation"),
    ({"wrap": 2}, "wrap"),
    ({"gqa_group_size": 3, "num_heads": 4}, "gqa_group_size"),
    ({"scale_q": -0.5}, "scale_q"),
    ({"windw_size": 3}, "windw_size"),
    ({"spec": "sparse_magic"}, "spec"),
]


def check_agreement(attrs: dict, tmp: Path) -> None:
    mlir = write_mlir(tmp / "op.mlir", attrs)
    comp = api.compare(mlir, BACKENDS)
    ref = comp.results["reference"]
    # the reference column is the oracle on the op's synthetic data (checked here, not trusted)
    q, k, v = synthetic(ref.params.shape())
    oracle = attention(ref.params, q, k, v)
    np.testing.assert_array_equal(ref.output, oracle)
    for b in ("rvv", "rocc"):
        res, ver = comp.results[b], comp.verdicts[b]
        assert res.spec == ref.spec == attrs["spec"], (b, attrs)
        assert res.output.shape == oracle.shape
        # the fp32 tolerance policy over the longest row of the selection the backend ran
        tol = assert_attention_close(res.output, oracle, res.params, q, k, v,
                                     selection=res.selection, what=f"{b} for {attrs}")
        # and the verdict the tools print is that same comparison
        assert ver.tolerance == pytest.approx(tol.bound, rel=1e-12) and ver.passed
        assert ver.rel_err == pytest.approx(rel_error(res.output, oracle), rel=1e-6, abs=1e-12)


def _need_backends() -> None:
    need_tool("qemu-riscv64")
    need_tool("verilator")


@settings(max_examples=6, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(attrs=valid_attrs())
def test_backends_agree(attrs: dict, tmp_path: Path) -> None:
    _need_backends()
    check_agreement(attrs, tmp_path)


@pytest.mark.slow
@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(attrs=valid_attrs())
def test_backends_agree_many(attrs: dict, tmp_path: Path) -> None:
    _need_backends()
    check_agreement(attrs, tmp_path)


@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(attrs=valid_attrs(), breaker=st.sampled_from(BREAKERS))
def test_invalid_rejected_by_every_backend(attrs: dict, breaker, tmp_path: Path) -> None:
    change, needle = breaker
    bad = {**attrs, **change}
    with pytest.raises(SattnError):
        params_from_dict(bad)  # the draw is invalid indeed
    mlir = write_mlir(tmp_path / "bad.mlir", bad)
    messages = []
    for b in BACKENDS:
        with pytest.raises(SattnError) as e:  # strict: a misspelt name is an error, not a warning
            api.run(mlir, backend=b, strict_attributes=True)
        msg = str(e.value)
        assert needle in msg and "\n" not in msg and "bad.mlir:2:3" in msg, msg
        messages.append(msg)
    assert len(set(messages)) == 1  # one verifier, one message, whatever the backend


def test_invalid_rejected_by_every_command(tmp_path: Path) -> None:
    from fd_util import REPO

    mlir = write_mlir(tmp_path / "bad.mlir", {"window_size": 4, "keep_ratio": 1.5})
    tools = REPO / "compiler" / "mlir" / "tools"
    for cmd in ([PY, "-m", "sattn", "run", "--mlir", str(mlir), "--backend", "reference"],
                [PY, str(tools / "sattn_run_rvv_from_mlir.py"), "--mlir", str(mlir)],
                [PY, str(tools / "sattn_compile_and_sim.py"), "--mlir", str(mlir)]):
        assert_one_line_error(run_cmd(cmd, cwd=tmp_path), "keep_ratio", "bad.mlir:2:3")
        assert list(tmp_path.iterdir()) == [mlir]
