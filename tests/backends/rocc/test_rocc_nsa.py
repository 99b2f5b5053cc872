"""NSA on the RoCC RTL, its block selection on chip (scoring path + top-n unit; docs/rocc.md,
"NSA on the accelerator").

Outputs against the independent loop implementation (tests/nsa_oracle.py) at every precision,
GQA 1/2/4 (16: slow), prefill and decode, with and without gates, a batch and Dv != D; the
blocks the RTL kept (read back from its run RAM) against the oracle's ranking (within the fp32
tie bound, exact ties to the lower block) and, at exact ties, the reference's top-n itself;
dma_k in decode against the token-load formula (every compressed, selected and window K/V row
once per GQA group); the one-line refusals of the driver and of the hardware (SHAPE)."""

from __future__ import annotations

import math
from dataclasses import replace

import ml_dtypes
import numpy as np
import pytest
from conftest import need_tool
from naive_ref import DEFAULT_SCALE, QMAX, codes
from nsa_oracle import check_blocks, check_output, rnd
from sattn.errors import SattnError
from sattn.hw.isa import HW, PRECISION_BITS
from sattn.ir.schema import params_from_dict
from sattn.specs import nsa
from sattn.transforms import rocc_nsa as nsa_program

D, HKV, BLOCK, N, W = 16, 2, 8, 3, 6


@pytest.fixture(scope="module")
def driver():
    need_tool("verilator")
    from sattn.backends.rocc import backend, driver

    driver.simulator()
    return backend


def _params(grp: int, precision: str = "fp32", **more):
    return params_from_dict({"spec": "nsa", "block_size": BLOCK, "select_blocks": N,
                             "window_size": W, "gqa_group_size": grp, "precision": precision,
                             **more})


def _oracle_view(precision: str):
    """(the oracle's scale of a tensor, the rounding of compressed means): values for
    fp32/bf16, integer codes for i8/i4 (tests/naive_ref.py, independent of sattn)."""
    if precision in QMAX:
        qm = QMAX[precision]
        return DEFAULT_SCALE[precision], (lambda m: np.clip(np.rint(m), -qm, qm))
    if precision == "bf16":
        return 1.0, (lambda m: m.astype(ml_dtypes.bfloat16).astype(np.float64))
    return 1.0, None


def _check(res, q, k, v, cfg, precision, gates=(None, None, None)) -> float:
    """The RTL's kept blocks are the oracle's ranking (near-ties either way, exact ties to the
    lower block) and its output the oracle's on those blocks, within the reference's bound."""
    sc, rnd_mean = _oracle_view(precision)
    oq, ok_, ov = (codes(x, precision, sc) for x in (q, k, v))
    scale = (sc * sc) / math.sqrt(q.shape[-1])
    check_blocks(oq, ok_, cfg, res.blocks, scale=scale, compress_round=rnd_mean)
    vals = tuple((x * sc).astype(np.float32) for x in (oq, ok_, ov))
    return check_output(res.output, oq, ok_, ov, cfg, res.blocks, gates, scale=scale, v_scale=sc,
                        compress_round=rnd_mean, values=vals)


def _gates(b, sq, h, seed):
    rng = np.random.default_rng(seed)
    return tuple(rng.uniform(0, 1, (b, sq, h)).astype(np.float32) for _ in range(3))


GRPS = [1, 2, 4, pytest.param(16, marks=pytest.mark.slow)]


@pytest.mark.parametrize("precision", ["fp32", "bf16", "i8", "i4"])
@pytest.mark.parametrize("grp", GRPS)
@pytest.mark.parametrize("gated", [False, True])
def test_prefill_and_decode_match_the_oracle(driver, precision, grp, gated):
    """Prefill (Sq = Skv = 40: rows with no compressed key, with fewer than n candidate blocks,
    and a partial own block) and a decode step (Sq = 1 at Skv = 43: the own block cut at p)."""
    h = HKV * grp
    p = _params(grp, precision)
    cfg = nsa.config(p)
    for sq, skv, seed in ((40, 40, 1), (1, 43, 5)):
        q, k, v = rnd((1, h, sq, D), seed), rnd((1, HKV, skv, D), seed + 1), rnd((1, HKV, skv, D), seed + 2)
        q *= np.float32(2.0)  # sharper compressed probabilities: fewer near-ties between blocks
        gates = _gates(1, sq, h, seed) if gated else (None, None, None)
        res = driver.run(p, q, k, v, gates=gates if gated else None)
        assert res.output.shape == (1, h, sq, D) and res.spec == "nsa"
        _check(res, q, k, v, cfg, precision, gates)


def test_batch_and_dv(driver):
    """B = 2 (each element selects from its own Q and K) with Dv = 8 != D."""
    b, grp, sq, skv = 2, 2, 5, 48
    h = HKV * grp
    p = _params(grp)
    q, k, v = rnd((b, h, sq, D), 11), rnd((b, HKV, skv, D), 12), rnd((b, HKV, skv, 8), 13)
    q *= np.float32(2.0)
    gates = _gates(b, sq, h, 14)
    res = driver.run(p, q, k, v, gates=gates)
    assert res.output.shape == (b, h, sq, 8)
    _check(res, q, k, v, nsa.config(p), "fp32", gates)


def test_exact_ties_go_to_the_lower_block(driver):
    """Zero queries: every visible compressed key has the same probability, so every earlier
    block scores the same; the RTL keeps p's block and then the lowest blocks, exactly the
    reference's top-n (sattn.specs.nsa.select_blocks)."""
    p = _params(2)
    cfg = nsa.config(p)
    q = np.zeros((1, 4, 6, D), np.float32)
    k, v = rnd((1, HKV, 64, D), 21), rnd((1, HKV, 64, D), 22)
    res = driver.run(p, q, k, v)
    ops = nsa.operands(p, q, k, v)
    want = nsa.attention(ops.q, ops.k, ops.v, replace(cfg, scale=float(ops.score_scale)),
                         compressed=ops.compressed).blocks
    np.testing.assert_array_equal(res.blocks, want)
    assert (res.blocks[..., 0] == 7).all() and (res.blocks[..., 1:] == [0, 1]).all()


@pytest.mark.parametrize("precision", ["fp32", "bf16", "i8", "i4"])
def test_decode_dma_k_is_the_token_load(driver, precision):
    """A decode step at Skv a multiple of b (n whole blocks): dma_k is exactly
    token_load(Skv) K and V rows per KV head -- the compressed keys read, the selected blocks
    and the window, each row once per GQA group (the heads share the fetch)."""
    grp, skv = 4, 256
    p = _params(grp, precision, window_size=20)
    cfg = nsa.config(p)
    q, k, v = rnd((1, HKV * grp, 1, D), 31), rnd((1, HKV, skv, D), 32), rnd((1, HKV, skv, D), 33)
    res = driver.run(p, q, k, v)
    row = D * PRECISION_BITS[precision] // 8
    load = nsa.token_load(skv, cfg)
    assert load == skv // BLOCK + N * BLOCK + 20
    assert res.counters["dma_k"] == HKV * load * 2 * row == res.counters["min_kv_bytes"]
    assert res.counters["refetch_factor"] == 1.0
    # each KV head's Q row is read by each of its three jobs, for every head of the group
    assert res.counters["dma_q"] == 3 * HKV * grp * row
    # the output written: the three branches' rows (the gated sum is the host's)
    assert res.counters["dma_out"] == 3 * HKV * grp * D * 4
    assert res.counters["host_gate_flops_model"] == 5 * HKV * grp * D


def test_driver_refuses_what_the_hardware_cannot_hold(driver):
    q, k, v = rnd((1, 16, 1, D), 41), rnd((1, 1, 8200, D), 42), rnd((1, 1, 8200, D), 43)
    with pytest.raises(SattnError, match=r"^rocc nsa: 16 heads x 1025 compressed keys .* "
                                         r"SCORE_DEPTH=16384 entries$"):
        driver.run(_params(16), q, k, v)
    with pytest.raises(SattnError, match=rf"^rocc nsa: select_blocks=33 exceeds the top-n unit's "
                                         rf"TOPN_MAX={HW.topn_max}$"):
        driver.run(_params(16, select_blocks=33), q, k[:, :, :64], v[:, :, :64])
    with pytest.raises(SattnError, match=r"^rocc nsa: the overlapping compression "
                                         r"\(comp_block_size=16, comp_stride=8, block_size=8\)"):
        driver.run(_params(16, comp_block_size=16, comp_stride=8), q, k[:, :, :64], v[:, :, :64])


@pytest.mark.parametrize("case", ["score_buffer", "topn"])
def test_hardware_refuses_with_shape(driver, monkeypatch, case):
    """Past the driver's check (disabled here) the hardware itself refuses the SCORE job:
    GROUP x NUM_KEYS beyond the score buffer, NSA_N beyond TOPN_MAX -- one line, error SHAPE."""
    monkeypatch.setattr(nsa_program, "check", lambda *a, **kw: None)
    if case == "score_buffer":
        grp, skv, p = 16, 8200, _params(16)
    else:
        grp, skv, p = 1, 40 * BLOCK, _params(1, select_blocks=HW.topn_max + 1)
    q, k, v = rnd((1, grp, 1, D), 51), rnd((1, 1, skv, D), 52), rnd((1, 1, skv, D), 53)
    with pytest.raises(SattnError) as err:
        driver.run(p, q, k, v)
    msg = str(err.value)
    assert "\n" not in msg.strip() and "hardware refused job 0" in msg and "error SHAPE" in msg
