"""The RVV kernels under qemu against the reference: every pattern x every precision, the
kernel's own selection against sattn.specs, VLEN/LMUL agreement."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import need_tool
from sattn.backends.rvv import runner
from sattn.ir.schema import params_from_dict
from sattn.reference.data import synthetic
from sattn.reference.executor import attention
from tolerance import assert_agree, assert_attention_close

#: The kernel against the reference on the SAME precision: the fp32 tolerance policy
#: (sattn.reference.compare.attention_tolerance; bf16/i8/i4 see the same rounded values /
#: integer codes as the reference, what differs is fp32 summation order and the kernel's exp2
#: polynomial). Selections the kernel makes by itself agree up to near-ties (tests/tolerance.py).
PRECISIONS = ("fp32", "bf16", "i8", "i4")

#: (spec, attributes) at small shapes: every pattern and the variants of its attributes.
CASES = [
    ("dense", {}),
    ("dense", {"causal": 1}),
    ("sliding_window", {"window_size": 4}),
    ("sliding_window", {"window_size": 3, "dilation": 3, "causal": 1}),
    ("sliding_window", {"window_size": 5, "dilation": 2, "wrap": 1}),
    ("sliding_window", {"window_size": 40, "dilation": 4, "wrap": 1}),  # window covers the ring
    ("bsr", {"block_size": 8, "keep_ratio": 0.5}),
    ("bsr", {"block_size": 16, "keep_ratio": 0.25, "causal": 1}),
    ("bsr", {"block_size": 8, "comp_block_size": 4, "keep_ratio": 0.5}),
    ("bsr", {"block_size": 8, "comp_block_size": 4, "topk_k": 2, "causal": 1}),
    ("block_local_global", {"block_size": 8, "global_tokens": 4}),
    ("block_local_global", {"block_size": 8, "global_tokens": 3, "causal": 1}),
    ("topk_per_query", {"topk_k": 8}),
    ("topk_per_query", {"topk_k": 5, "causal": 1}),
    ("nm_structured", {"nm_n": 2, "nm_m": 4}),
    ("nm_structured", {"nm_n": 1, "nm_m": 3, "causal": 1}),
    ("lsh", {"lsh_buckets": 4}),
    ("lsh", {"lsh_buckets": 3, "causal": 1}),
    ("landmark", {"num_landmarks": 8}),
    ("landmark", {"num_landmarks": 6, "landmark_iters": 2}),
    ("landmark", {"num_landmarks": 6, "landmark_iters": 1, "causal": 1}),
]


def _params(spec: str, attrs: dict, precision: str, s: int = 48, d: int = 32, heads: int = 4,
            group: int = 2):
    base = {"seq_len": s, "head_dim": d, "num_heads": heads, "gqa_group_size": group,
            "precision": precision}
    return params_from_dict({**base, **attrs}).replace(spec=spec)


def _id(case) -> str:
    spec, attrs = case
    return spec + "".join(f"-{k}{v}" for k, v in attrs.items())


@pytest.fixture(autouse=True)
def _tools():
    need_tool("qemu-riscv64")


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("case", CASES, ids=_id)
def test_kernel_matches_reference(case, precision):
    spec, attrs = case
    p = _params(spec, attrs, precision)
    q, k, v = synthetic(p.shape(), seed=1)
    want = attention(p, q, k, v)
    res = runner.run(p, q, k, v, check_selection=True)
    assert res.output.shape == want.shape
    if res.kernel_selection is not None:  # data-dependent: the kernel selected by itself
        assert_agree(p, p.shape(), q, k, v, res.output, res.kernel_selection, res.selection, want,
                     "kernel vs reference")
    else:
        assert_attention_close(res.output, want, p, q, k, v, selection=res.selection,
                               what="kernel vs reference")
    # rows the reference leaves empty are exactly zero in the kernel too
    empty = np.all(want == 0, axis=-1)
    assert np.all(res.output[empty] == 0)
    c = res.counters
    assert c["instructions"] == c["vector"] + c["scalar"]
    assert 0 < c["vector_mem"] < c["vector"] < c["instructions"]
    assert c["selected_pairs"] == res.selection.nnz


@pytest.mark.parametrize("case", [CASES[0], CASES[4], CASES[6], CASES[12], CASES[18]], ids=_id)
def test_vlen_and_lmul_agree(case):
    """VLEN 128 and 512 (and every LMUL) compute the same tensor; counts differ as they must."""
    spec, attrs = case
    p = _params(spec, attrs, "fp32", heads=2, group=1)
    q, k, v = synthetic(p.shape())
    r128 = runner.run(p, q, k, v, vlen=128, lmul=8)
    r512 = runner.run(p, q, k, v, vlen=512, lmul=8)
    r512m1 = runner.run(p, q, k, v, vlen=512, lmul=1)
    # other strip lengths sum in other orders: the fp32 bound (same selection: no ranking here
    # depends on VLEN: the selection scores are the same d-order sums of the same values)
    for other in (r128, r512m1):
        assert_attention_close(other.output, r512.output, p, q, k, v, selection=r512.selection,
                               what="VLEN/LMUL")
    # wider vectors need fewer vector instructions for the same work
    assert r512.counters["vector"] < r128.counters["vector"]


def test_counts_are_repeatable_and_exclude_io():
    """Two runs count exactly the same; the region excludes reading/writing the files."""
    p = _params("sliding_window", {"window_size": 4}, "fp32", s=64, d=16, heads=1, group=1)
    q, k, v = synthetic(p.shape())
    a = runner.run(p, q, k, v).counters
    b = runner.run(p, q, k, v).counters
    assert a == b
    p2 = _params("sliding_window", {"window_size": 4}, "fp32", s=128, d=16, heads=1, group=1)
    c = runner.run(p2, *synthetic(p2.shape())).counters
    # twice the rows of the same window: close to twice the instructions (not + a fixed I/O cost;
    # the kernel's own set-up, about 1.8k instructions, is why S starts at 64, not 32)
    assert 1.8 < c["instructions"] / a["instructions"] < 2.2


@pytest.mark.parametrize("precision", ("fp32", "i8"))
@pytest.mark.parametrize("spec,attrs", [("dense", {}), ("sliding_window", {"window_size": 5}),
                                        ("sliding_window", {"window_size": 5, "causal": 1})])
def test_batched_row_pairs_odd_length(spec, attrs, precision):
    """Runs of identical dense / window row pairs go through one two-row call (keys shifted by
    two per pair); an odd S leaves a last single row, the window edges clipped pairs."""
    p = _params(spec, attrs, precision, s=37, d=64, heads=2, group=1)
    q, k, v = synthetic(p.shape(), seed=5)
    res = runner.run(p, q, k, v, vlen=256, lmul=8)
    assert_attention_close(res.output, attention(p, q, k, v), p, q, k, v, selection=res.selection,
                           what="two-row calls")


def test_sparse_kernel_does_less_work_than_dense():
    """A window of 9 keys out of 256 (3.5 % density) costs a small fraction of dense."""
    p = _params("dense", {}, "fp32", s=256, d=32, heads=1, group=1)
    q, k, v = synthetic(p.shape())
    dense = runner.run(p, q, k, v).counters["instructions"]
    win = runner.run(p.replace(spec="sliding_window", window_size=4), q, k, v).counters["instructions"]
    assert win < 0.25 * dense


def test_i4_needs_even_head_dim():
    from sattn.errors import SattnError

    p = _params("dense", {}, "i4", s=8, d=15, heads=1, group=1)
    q, k, v = synthetic(p.shape())
    with pytest.raises(SattnError, match="head_dim must be even"):
        runner.run(p, q, k, v)


@pytest.mark.slow
@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("case", CASES, ids=_id)
def test_kernel_matches_reference_large(case, precision):
    """The same comparison at S = 256, D = 64, VLEN 128 and 512."""
    spec, attrs = case
    p = _params(spec, attrs, precision, s=256, d=64, heads=2, group=2)
    q, k, v = synthetic(p.shape(), seed=3)
    want = attention(p, q, k, v)
    for vlen in (128, 512):
        res = runner.run(p, q, k, v, vlen=vlen, check_selection=True)
        if res.kernel_selection is not None:
            assert_agree(p, p.shape(), q, k, v, res.output, res.kernel_selection, res.selection,
                         want, f"kernel vs reference, VLEN {vlen}")
        else:
            assert_attention_close(res.output, want, p, q, k, v, selection=res.selection,
                                   what=f"kernel vs reference, VLEN {vlen}")
