"""Precision emulation: bf16 round-to-nearest-even, symmetric i8/i4 quantisation, and the
measured error of each precision against fp32 (recorded in docs/precision.md)."""

from __future__ import annotations

import numpy as np
import pytest
from sattn.errors import SattnError
from sattn.ir.schema import Shape, params_from_dict
from sattn.reference import precision as prec
from sattn.reference.compare import PRECISION_TOLERANCE, checksum_rel_error, rel_error
from sattn.reference.data import synthetic
from sattn.reference.executor import attention


def test_bf16_rounds_to_nearest_even():
    x = np.array([1 + 2**-8, 1 + 3 * 2**-8, 1 + 2**-8 + 2**-20, -(1 + 2**-8), 3.0], np.float32)
    assert prec.round_bf16(x).tolist() == [1.0, 1 + 2**-6, 1 + 2**-7, -1.0, 3.0]
    assert prec.to_bf16_bits(np.float32([1.0]))[0] == 0x3F80


def test_quantize_rounds_half_to_even_and_clips_symmetrically():
    s = 0.5
    x = np.array([0.25, 0.75, 1.25, -0.25, -0.75, 1000.0, -1000.0])
    assert prec.quantize(x, s, "i8").tolist() == [0, 2, 2, 0, -2, 127, -127]
    assert prec.quantize(x, s, "i4").tolist() == [0, 2, 2, 0, -2, 7, -7]


def test_quantize_is_idempotent_on_dequantised_values():
    q, _, _ = synthetic(Shape(2, 50, 16))
    for p, s in (("i8", 0.013), ("i4", 0.11)):
        c = prec.quantize(q, s, p)
        assert np.array_equal(prec.quantize(prec.dequantize(c, s), s, p), c)


@pytest.mark.parametrize("bad", [0.0, -0.05, float("nan"), float("inf")])
def test_scales_must_be_positive(bad):
    with pytest.raises(SattnError, match="scale"):
        prec.quantize(np.ones(3), bad, "i8")
    with pytest.raises(SattnError, match="scale_q"):
        params_from_dict({"precision": "i8", "scale_q": bad})


def test_default_scales_apply_when_unset():
    p = params_from_dict({"precision": "i4", "scale_k": 0.2})
    assert prec.resolved_scales(p) == (0.125, 0.2, 0.125)
    assert prec.resolved_scales(params_from_dict({"precision": "fp32"})) == (1.0, 1.0, 1.0)


def test_int_scores_are_exact_int32_dots():
    shape = Shape(1, 30, 64)
    q, k, v = synthetic(shape)
    p = params_from_dict({"precision": "i8", "scale_q": 0.01, "scale_k": 0.01}).replace(spec="dense")
    ops = prec.prepare(p, q, k, v)
    assert ops.exact_int_dot_in_fp32
    want = prec.quantize(q, 0.01, "i8").astype(np.int64)[0] @ prec.quantize(k, 0.01, "i8").astype(np.int64)[0].T
    assert np.array_equal((ops.q[0] @ ops.k[0].T).astype(np.int64), want)
    assert ops.score_scale == pytest.approx(0.01 * 0.01 / 8)


SHAPE = Shape(heads=4, seq_len=256, head_dim=64, group=2)
STRUCTURAL = {
    "dense": {}, "sliding_window": {"window_size": 16},
    "block_local_global": {"block_size": 32, "global_tokens": 8},
}
DATA_DEPENDENT = {
    "bsr": {"block_size": 32, "keep_ratio": 0.25},
    "nm_structured": {"nm_n": 2, "nm_m": 4}, "topk_per_query": {"topk_k": 32},
    "lsh": {"lsh_buckets": 4}, "landmark": {"num_landmarks": 16, "landmark_iters": 2},
}
# measured maxima over the patterns at the default scales (docs/precision.md), with headroom
ELEMENT_BOUND = {"bf16": 3e-3, "i8": 4e-2}


@pytest.fixture(scope="module")
def data():
    return synthetic(SHAPE)


@pytest.mark.parametrize("precision", ["bf16", "i8", "i4"])
@pytest.mark.parametrize("spec", [*STRUCTURAL, *DATA_DEPENDENT])
def test_checksum_within_the_spec_tolerance_guide(spec, precision, data):
    q, k, v = data
    attrs = {**STRUCTURAL, **DATA_DEPENDENT}[spec]
    base = params_from_dict({**attrs, "gqa_group_size": 2}).replace(spec=spec)
    ref = attention(base, q, k, v)
    out = attention(base.replace(precision=precision), q, k, v)
    assert checksum_rel_error(out, ref) <= PRECISION_TOLERANCE[precision]
    assert 0 < rel_error(out, ref)  # the emulation does change the numbers


@pytest.mark.parametrize("precision", ["bf16", "i8"])
@pytest.mark.parametrize("spec", list(STRUCTURAL))
def test_elementwise_error_of_fixed_patterns(spec, precision, data):
    q, k, v = data
    base = params_from_dict({**STRUCTURAL[spec], "gqa_group_size": 2}).replace(spec=spec)
    out = attention(base.replace(precision=precision), q, k, v)
    assert rel_error(out, attention(base, q, k, v)) <= ELEMENT_BOUND[precision]


@pytest.mark.parametrize("spec", list(STRUCTURAL))
def test_calibrated_i4_is_within_its_guide_elementwise(spec, data):
    from sattn.reference.calibrate import calibrate

    q, k, v = data
    sq, sk, sv = calibrate(q, k, v, "i4")
    base = params_from_dict({**STRUCTURAL[spec], "gqa_group_size": 2}).replace(spec=spec)
    out = attention(base.replace(precision="i4", scale_q=sq, scale_k=sk, scale_v=sv), q, k, v)
    assert rel_error(out, attention(base, q, k, v)) <= PRECISION_TOLERANCE["i4"]
