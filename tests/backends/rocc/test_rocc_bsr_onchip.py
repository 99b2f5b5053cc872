"""bsr (block top-k and compression scoring) on the RoCC RTL, its block selection on chip
(docs/rocc.md, "bsr on the accelerator").

The kept blocks the RTL made (read back from its run RAM, ``RunResult.blocks``) are checked
against block scores recomputed here in float64 from the definition (plain bsr: ``mean(Qsum) .
mean(K_kb)``; compression scoring: the group's compressed-softmax probabilities summed over
the block's rows), each within the on-chip fp32 rounding bound of docs/precision.md ("bsr
selected on chip"): a valid top-n (the diagonal forced, the right count, no dropped block
beating a kept one by more than the rounding of both, exact ties to the lower block). At fp32
the reference's own block table (``sattn.specs.bsr``) must be a valid ranking of the same
scores too. bf16/i8/i4, and shapes beyond the scoring path, run on the host's selection (the
chip would rank the cache's rounded compressed keys): ``check_host_fallback``. The output must be the
reference attention on the RTL's blocks within the reference's bound; the counters their
definitions (dma_k: per query block the candidates' compressed K/V rows plus the kept blocks'
rows, each once; pairs: the kept blocks' keys j <= p(i) per row and head)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import need_tool
from sattn.errors import SattnError
from sattn.hw.isa import HW, PRECISION_BITS
from sattn.ir.schema import Shape, params_from_dict
from sattn.precision import prepare, resolved_scales, view
from sattn.reference.compare import U32, gamma, path_error, score_bound
from sattn.reference.data import check_qkv
from sattn.reference.executor import attention
from sattn.specs import bsr, select_indices
from sattn.specs.compression import compression_keys
from sattn.specs.nsa import compressed_view
from sattn.specs.selection import GroupSelection, Selection
from sattn.transforms import rocc_bsr
from tolerance import _check_ranked, assert_attention_close

D, B = 16, 8
PLAIN = {"spec": "bsr", "block_size": B, "keep_ratio": 0.5}
COMP = {"spec": "bsr", "block_size": B, "keep_ratio": 0.5, "comp_block_size": B}


@pytest.fixture(scope="module")
def driver():
    """The RoCC backend's entry (bsr's on-chip selection runs through it)."""
    need_tool("verilator")
    from sattn.backends.rocc import backend, driver

    driver.simulator()
    return backend


def _params(attrs, grp, precision="fp32", causal=0):
    return params_from_dict({**attrs, "gqa_group_size": grp, "precision": precision,
                             "causal": causal})


def _data(b, h, hkv, sq, skv, seed):
    rng = np.random.default_rng(seed)
    return tuple(rng.standard_normal(s).astype(np.float32)
                 for s in ((b, h, sq, D), (b, hkv, skv, D), (b, hkv, skv, D)))


def _values(p, x, which):
    """The values the precision computes with (dequantised codes for i8/i4), float64."""
    sc = resolved_scales(p)[which]
    return view(x, p.precision, sc).astype(np.float64)


def exact_scores(p, q, k, e, g, grp, sq, skv):
    """Per query block (from the first holding a row): (float64 block scores of the candidates
    as the chip defines them, their on-chip fp32 rounding bound). q, k: [B, H|Hkv, S, D]."""
    cfg = rocc_bsr.config(p, skv)
    _, sk_, _ = resolved_scales(p)
    qv = _values(p, q, 0)[e, g * grp:(g + 1) * grp]  # [grp, Sq, D]
    # the stored compressed keys: the fp32 mean (of the values, or of the codes for i8/i4),
    # then the precision's rounding (none at fp32)
    ops = prepare(p, q[e], k[e], k[e])
    kc = compression_keys(ops.k[g], cfg.block)
    rnd = compressed_view(p.precision)
    kc = (kc if rnd is None else rnd(kc)).astype(np.float64)
    if p.precision in ("i8", "i4"):
        kc = kc * sk_
    kabs = np.abs(kc)
    off = skv - sq
    scale = 1 / math.sqrt(D)
    out = []
    for qb, r0, r1 in rocc_bsr.query_blocks(cfg, sq, skv):
        nk = cfg.candidates(qb)
        rows = r1 - r0
        if not cfg.comp:
            sc = sum(qv[h, i] @ kc[:nk].T for h in range(grp) for i in range(r0, r1))
            mag = sum(np.abs(qv[h, i]) @ kabs[:nk].T for h in range(grp) for i in range(r0, r1))
            # fp32: the mean (B adds, a division, the precision's rounding exact in the
            # model), a D-term dot, the scale, then grp heads and the rows added in order
            err = gamma(D + cfg.block + 3 + grp + rows, U32) * mag
        else:
            sc = np.zeros(nk)
            for h in range(grp):
                for i in range(r0, r1):
                    x = qv[h, i] @ kc.T * scale
                    if cfg.causal:  # compressed key c seen when c*C <= p(i)
                        x = x[: (off + i) // cfg.block + 1]
                    w = np.exp(x - x.max())
                    sc += (w / w.sum())[:nk]
            a = score_bound(qv, kc, scale)
            eps = path_error(D, len(kc), a, mean_terms=cfg.block)
            err = np.full(nk, grp * rows * (eps + gamma(grp + rows + 2, U32)))
        out.append((qb, np.asarray(sc, np.float64), np.asarray(err, np.float64)))
    return out


def check_blocks(p, q, k, blocks, grp, sq, skv, ref_tables=None):
    """The RTL's ``blocks`` [B][Hkv][query block][rank] are a valid top-n of the exact scores
    within the chip's bound (and the reference's tables within both bounds, fp32)."""
    cfg = rocc_bsr.config(p, skv)
    for e in range(q.shape[0]):
        for g in range(k.shape[1]):
            per = exact_scores(p, q, k, e, g, grp, sq, skv)
            for i, (qb, sc, err) in enumerate(per):
                got = blocks[e][g][i]
                assert len(set(got)) == len(got), (e, g, qb, got)
                nk = len(sc)
                keep = np.zeros((1, nk), bool)
                keep[0, got] = True
                forced = np.zeros((1, nk), bool)
                forced[0, qb] = True
                cand = np.ones((1, nk), bool)
                budget = np.array([cfg.kept(qb)])
                problems = _check_ranked(sc[None], err[None], keep, cand, budget, forced)
                assert not problems, (e, g, qb, got, sc, problems)
                if ref_tables is not None:
                    t = ref_tables[e][g]
                    ref = t.indices[t.indptr[i]:t.indptr[i + 1]]
                    rk = np.zeros((1, nk), bool)
                    rk[0, ref] = True
                    ref_err = err + gamma(D + cfg.block * (grp + 1) + 4, U32) * np.abs(sc)
                    problems = _check_ranked(sc[None], ref_err[None], rk, cand, budget, forced)
                    assert not problems, ("reference", e, g, qb, ref.tolist(), sc, problems)


def rtl_selection(p, blocks_e, shape_sq, skv, grp):
    """The token Selection (one element) of the RTL's kept blocks."""
    cfg = rocc_bsr.config(p, skv)
    nqb = len(rocc_bsr.query_blocks(cfg, shape_sq, skv))
    groups = []
    for per_g in blocks_e:
        table = np.zeros((nqb, cfg.nb), bool)
        for i, ks in enumerate(per_g):
            table[i, ks] = True
        shape = Shape(grp, shape_sq, D, grp, skv)
        groups.append(bsr.expand(shape, p, GroupSelection.from_dense(table)))
    return Selection(spec="bsr", seq_len=shape_sq, num_keys=skv, group_size=grp,
                     groups=tuple(groups))


def check_run(driver, p, q, k, v, grp, *, fp32_tables=True):
    b, h, sq, _ = q.shape
    hkv, skv = k.shape[1], k.shape[2]
    r = driver.run(p, q, k, v)
    assert any(ln.startswith("rocc_bsr:") and "selection=on-chip" in ln for ln in r.lines)
    assert not any(ln.startswith("rocc_host_select:") for ln in r.lines)
    tables = None
    if p.precision == "fp32" and fp32_tables:
        one = check_qkv(q[0], k[0], v[0], grp)
        tables = [bsr.tables(p, one, q[e], k[e]) for e in range(b)]
    check_blocks(p, q, k, r.blocks, grp, sq, skv, tables)
    cfg = rocc_bsr.config(p, skv)
    nnz = 0
    for e in range(b):
        sel = rtl_selection(p, r.blocks[e], sq, skv, grp)
        want = attention(p, q[e], k[e], v[e], selection=sel)
        assert_attention_close(r.output[e], want, p, q[e], k[e], v[e], selection=sel,
                               what=f"rocc bsr {p.precision} grp={grp} Sq={sq} Skv={skv}")
        nnz += sel.nnz
    # counters against their definitions
    c = r.counters
    assert c["pairs"] == nnz * grp + _score_pairs(cfg, b, h, sq, skv)
    lens = np.minimum(cfg.block, skv - np.arange(cfg.nb) * cfg.block)
    blocks_of = rocc_bsr.query_blocks(cfg, sq, skv)
    if rocc_bsr.direct(cfg, skv):  # one fetch per KV head: the most candidates, every kept block
        rows = sum(max(cfg.candidates(qb) for qb, _, _ in blocks_of)
                   + int(lens[sorted({kb for ks in r.blocks[e][g] for kb in ks})].sum())
                   for e in range(b) for g in range(hkv))
    else:  # per query block: its candidates' compressed rows and its kept blocks
        rows = sum(cfg.candidates(qb) + int(lens[r.blocks[e][g][i]].sum())
                   for e in range(b) for g in range(hkv) for i, (qb, _, _) in enumerate(blocks_of))
    bits = PRECISION_BITS[p.precision]
    assert c["dma_k"] == rows * (D + v.shape[-1]) * bits // 8 == c["min_kv_bytes"]
    # the scoring path's busy cycles: per SCORE job over R rows the G R reciprocals, 9 to
    # fill, 2 G R a candidate block, 21 to flush through the accumulator into the top-n unit;
    # + n' run writes on a block's LAST job (docs/rocc.md, bsr on the accelerator)
    assert c["select_cycles"] == b * hkv * sum(
        sum(2 * grp * (c1 - c0) * cfg.candidates(qb) + grp * (c1 - c0) + 30
            for c0, c1 in rocc_bsr.score_chunks(cfg, grp, qb, r0, r1)) + cfg.kept(qb)
        for qb, r0, r1 in blocks_of) > 0
    return r


def _score_pairs(cfg, b, h, sq, skv) -> int:
    """(row, compressed key) pairs of the SCORE jobs: each row of every head scores its query
    block's candidates."""
    return b * h * sum((r1 - r0) * cfg.candidates(qb)
                       for qb, r0, r1 in rocc_bsr.query_blocks(cfg, sq, skv))


GRPS = [1, 2, 4, pytest.param(16, marks=pytest.mark.slow)]


@pytest.mark.parametrize("precision", ["fp32"])
@pytest.mark.parametrize("grp", GRPS)
@pytest.mark.parametrize("attrs", [PLAIN, COMP], ids=["plain", "comp"])
@pytest.mark.parametrize("causal", [0, 1])
def test_prefill_blocks_and_output(driver, precision, grp, attrs, causal):
    hkv = 2 if grp < 16 else 1
    p = _params(attrs, grp, precision, causal)
    q, k, v = _data(1, grp * hkv, hkv, 36, 36, seed=grp * 10 + causal)
    check_run(driver, p, q, k, v, grp)


@pytest.mark.parametrize("precision", ["fp32"])
@pytest.mark.parametrize("attrs", [PLAIN, COMP], ids=["plain", "comp"])
@pytest.mark.parametrize("causal", [0, 1])
@pytest.mark.parametrize("sq,skv", [(1, 44), (5, 44), (12, 40)])
def test_decode_and_sq_below_skv(driver, precision, attrs, causal, sq, skv):
    p = _params(attrs, 2, precision, causal)
    q, k, v = _data(1, 4, 2, sq, skv, seed=sq + skv + causal)
    check_run(driver, p, q, k, v, 2)


@pytest.mark.parametrize("attrs", [PLAIN, COMP], ids=["plain", "comp"])
def test_batch_of_two(driver, attrs):
    p = _params(attrs, 2, "fp32", 1)
    q, k, v = _data(2, 4, 2, 24, 24, seed=3)
    r = check_run(driver, p, q, k, v, 2)
    # each element selects from its own Q and K: the second element alone selects the same
    one = driver.run(p, q[1], k[1], v[1])
    assert one.blocks == r.blocks[1]
    np.testing.assert_array_equal(one.output, r.output[1])


@pytest.mark.parametrize("attrs", [PLAIN, COMP], ids=["plain", "comp"])
def test_a_block_scored_over_several_jobs(driver, attrs):
    """16 heads x 48 rows exceed the scoring path's 256 softmax rows: each query block is
    scored by three SCORE jobs (FIRST, one accumulating, LAST) adding into the block-score RAM."""
    p = _params({**attrs, "block_size": 48, "comp_block_size": 48 if attrs is COMP else 0}, 16,
                "fp32", 1)
    cfg = rocc_bsr.config(p, 192)
    assert [len(rocc_bsr.score_chunks(cfg, 16, qb, r0, r1))
            for qb, r0, r1 in rocc_bsr.query_blocks(cfg, 192, 192)] == [3, 3, 3, 3]
    q, k, v = _data(1, 16, 1, 192, 192, seed=8)
    check_run(driver, p, q, k, v, 16)


@pytest.mark.parametrize("dv", [D // 2, 2 * D])
def test_dv_not_d(driver, dv):
    """V and output rows Dv wide: the SCORE jobs' discarded rows and the SELECT jobs' output."""
    p = _params(COMP, 2, "fp32", 1)
    q, k, v = _data(2, 4, 2, 20, 20, seed=dv)
    v = np.random.default_rng(dv).standard_normal((2, 2, 20, dv)).astype(np.float32)
    r = check_run(driver, p, q, k, v, 2)
    assert r.output.shape == (2, 4, 20, dv)


@pytest.mark.parametrize("sq", [1, 4])
def test_a_long_cache_places_the_kept_blocks_in_slots(driver, sq):
    """Skv + nb beyond KV_ROWS: the SCORE jobs read the compressed rows from their own base and
    each SELECT job places its kept blocks in scratchpad slots (no DIRECT)."""
    skv = 2 * HW.kv_rows + 4
    p = _params({"spec": "bsr", "block_size": 64, "keep_ratio": 0.1}, 2, "fp32", 1)
    assert not rocc_bsr.direct(rocc_bsr.config(p, skv), skv)
    q, k, v = _data(1, 4, 2, sq, skv, seed=sq)
    check_run(driver, p, q, k, v, 2)


def test_exact_tie_goes_to_the_lower_block(driver):
    """Key blocks 1 and 2 identical: their on-chip scores are bit-identical (the same
    operations on the same values), so the lower block wins, in both scorings."""
    for attrs in (PLAIN, COMP):
        p = _params({**attrs, "keep_ratio": 0.4}, 1)  # nb = 5: n = 2 (the diagonal and one)
        q, k, v = _data(1, 1, 1, 40, 40, seed=11)
        k[0, 0, 2 * B:3 * B] = k[0, 0, B:2 * B]
        k[0, 0, 3 * B:] *= 0.01  # blocks 3, 4 and 0 score far below
        k[0, 0, :B] *= 0.01
        q[0, 0, :B] = np.abs(q[0, 0, :B])  # query block 0 prefers blocks 1 and 2 equally
        k[0, 0, B:3 * B] = np.abs(k[0, 0, B:3 * B])
        r = driver.run(p, q, k, v)
        assert r.blocks[0][0][0] == [0, 1], r.blocks[0][0]  # query block 0: diagonal, then 1


def test_negative_scores_rank_by_sign_plain_bsr(driver):
    """Plain bsr's raw scores are signed: every non-diagonal block scores below zero for query
    block 0, the least negative ones are kept (the top-n unit's signed order)."""
    p = _params({**PLAIN, "keep_ratio": 0.6}, 1)  # nb = 5: n = 3
    rng = np.random.default_rng(5)
    q = np.abs(rng.standard_normal((1, 1, 40, D))).astype(np.float32)
    k = np.empty((1, 1, 40, D), np.float32)
    for kb, mag in enumerate([1.0, -3.0, -0.5, -2.0, -0.25]):
        k[0, 0, kb * B:(kb + 1) * B] = mag * (1 + 0.1 * rng.random((B, D)))
    v = rng.standard_normal((1, 1, 40, D)).astype(np.float32)
    r = driver.run(p, q, k, v)
    assert r.blocks[0][0][0] == [0, 4, 2]  # the diagonal, then -0.25, then -0.5 (rank order)


def check_host_fallback(driver, p, q, k, v, grp, why):
    """An op the scoring path cannot take runs on the host's selection: the report says why in
    one line, the host's selection is measured (an independent stop_after = 2 count), and the
    output is the reference's (which selects by itself) within its bound."""
    from sattn.backends.rvv import runner

    r = driver.run(p, q, k, v)
    line = [ln for ln in r.lines if ln.startswith("rocc_bsr:")]
    assert len(line) == 1 and "selection=host (" in line[0] and why in line[0], r.lines
    assert "selection=on-chip" not in line[0]
    want_i = runner.run(p, q, k, v, stop_after=2).counters["instructions"]
    assert r.counters["host_select_instructions"] == want_i > 0
    for e in range(q.shape[0]):
        one = check_qkv(q[e], k[e], v[e], grp)
        sel = select_indices(p, one, q[e], k[e])
        want = attention(p, q[e], k[e], v[e], selection=sel)
        assert_attention_close(r.output[e], want, p, q[e], k[e], v[e], selection=sel,
                               what=f"rocc bsr host fallback {p.precision}")
        assert r.counters["pairs"] == sel.nnz * grp
    return r


@pytest.mark.parametrize("precision", ["bf16", "i8", "i4"])
@pytest.mark.parametrize("attrs", [PLAIN, COMP], ids=["plain", "comp"])
@pytest.mark.parametrize("causal,sq", [(0, 36), (1, 36), (1, 5)])
def test_other_precisions_select_on_the_host(driver, precision, attrs, causal, sq):
    """bf16/i8/i4: the scoring path would rank the cache's compressed keys as stored (rounded
    means), not bsr's fp32 block scores, and the front door's compare would fail: the host
    selects (prefill and Sq < Skv), said in the report."""
    p = _params(attrs, 2, precision, causal)
    q, k, v = _data(1, 4, 2, sq, 36, seed=sq + causal)
    check_host_fallback(driver, p, q, k, v, 2, f"precision {precision}")


def test_shapes_beyond_the_scoring_path_select_on_the_host(driver):
    """The planner refuses in one line what the scoring path cannot take (compression blocks
    other than the selection blocks, more kept blocks than TOPN_MAX, the score buffer, the
    block-score RAM); the backend then runs the op on the host's selection, saying why."""
    q, k, v = _data(1, 2, 2, 40, 40, seed=1)
    cases = [
        (_params({**COMP, "comp_block_size": 4}, 1), "comp_block_size=4 differs from block_size=8"),
        (_params({"spec": "bsr", "block_size": 1, "keep_ratio": 1.0}, 1),
         f"exceed the top-n unit's TOPN_MAX={HW.topn_max}"),
    ]
    for p, msg in cases:
        with pytest.raises(SattnError) as ei:
            rocc_bsr.check(p, group=1, seq_len=40, kv_len=40)
        assert msg in str(ei.value) and "\n" not in str(ei.value)
        check_host_fallback(driver, p, q, k, v, 1, msg)
    grp = HW.score_depth // 64 + 1  # grp x nb beyond the score buffer (nb = 64)
    with pytest.raises(SattnError, match="exceed the score buffer's SCORE_DEPTH"):
        rocc_bsr.check(_params({"spec": "bsr", "block_size": 32, "keep_ratio": 0.1}, grp),
                       group=grp, seq_len=2048, kv_len=2048)
    with pytest.raises(SattnError, match="exceed the block-score RAM"):
        rocc_bsr.check(_params({"spec": "bsr", "block_size": 1, "keep_ratio": 0.001}, 1),
                       group=1, seq_len=4096, kv_len=4096)


def test_the_driver_alone_refuses_bsr_without_a_table():
    """driver.run attends tables: bsr without selection= is the backend's (on chip), one line."""
    from sattn.backends.rocc import driver as d

    q, k, v = _data(1, 2, 2, 16, 16, seed=1)
    with pytest.raises(SattnError) as ei:
        d.run(_params(PLAIN, 1), q[0], k[0], v[0])
    msg = str(ei.value)
    assert "selects its blocks on chip" in msg and "backend.run" in msg and "\n" not in msg


def test_a_given_selection_is_attended_as_given(driver):
    """selection= still runs the table it is given (no on-chip selection, no host selection)."""
    p = _params(PLAIN, 2, "fp32", 1)
    q, k, v = _data(1, 4, 2, 32, 32, seed=2)
    sel = select_indices(p, check_qkv(q[0], k[0], v[0], 2), q[0], k[0])
    r = driver.run(p, q[0], k[0], v[0], selection=sel)
    assert not any(ln.startswith(("rocc_bsr:", "rocc_host_select:")) for ln in r.lines)
    assert r.counters["pairs"] == sel.nnz * 2


@pytest.mark.parametrize("case", ["score_buffer", "topn"])
def test_hardware_refuses_with_shape(driver, monkeypatch, case):
    """Past the driver's check (disabled here) the hardware itself refuses the first SCORE job:
    GROUP x NUM_KEYS beyond the score buffer, NSA_N beyond TOPN_MAX -- one line, error SHAPE."""
    monkeypatch.setattr(rocc_bsr, "check", lambda params, **kw: rocc_bsr.config(params, kw["kv_len"]))
    if case == "score_buffer":  # 16 heads x 1100 blocks of one key > 16384
        grp, skv, attrs = 16, 1100, {"spec": "bsr", "block_size": 1, "keep_ratio": 0.01}
    else:  # 40 blocks, all kept > 32
        grp, skv, attrs = 1, 40 * B, {"spec": "bsr", "block_size": B, "keep_ratio": 1.0}
    p = _params(attrs, grp)
    q, k, v = _data(1, grp, 1, 1, skv, seed=51)
    with pytest.raises(SattnError) as err:
        driver.run(p, q, k, v)
    msg = str(err.value)
    assert "\n" not in msg.strip() and "hardware refused job 0" in msg and "error SHAPE" in msg
