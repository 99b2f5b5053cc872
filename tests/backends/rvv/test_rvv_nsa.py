"""NSA on the RVV kernel (kernels/nsa.c through sattn.backends.rvv.nsa.run): the whole algorithm
in the kernel region against the reference (sattn.reference.nsa), every precision, GQA 1/2/4
(16 in the slow sweep), prefill / decode / Sq != Skv, with and without gates, Dv != D and the
overlapping compression (the paper's l = 32, d = 16, b = 64 scaled down to 8, 4, 16).

The kept blocks: where the kernel's differ from the reference's, every differing block's score
(recomputed here in float64 from the semantics, sharing no code with the kernel or the
reference) must lie within :func:`sattn.reference.nsa.selection_tie_bound` of the n-th score;
the output is then compared with the reference computed on the kernel's kept blocks, within
:func:`sattn.reference.nsa.tolerance`. Exact ties (zero queries) must go to the lower block.

Precisions: the kernel reads the precision's storage (bf16 values, i8 / i4 codes) and the
reference computes with the operands the precision computes with (:func:`sattn.specs.nsa.
operands`: bf16 values, i8 / i4 codes with the scales in the score scale and the output, the
same quantisation), both storing a compressed mean as the precision stores a key (bf16: rounded
again; i8/i4: the mean code rounded half to even), from fp32 sums in token order on both sides
(bit for bit the same means). The tolerance is taken on the dequantised values
(:func:`sattn.precision.view`); its ``gamma(D + 2)`` terms cover the one rounding per value."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from conftest import need_tool
from sattn import precision as prec
from sattn.backends.rvv import nsa as rvv_nsa
from sattn.errors import SattnError
from sattn.ir.schema import params_from_dict
from sattn.reference import nsa as ref_nsa
from sattn.specs import nsa as nsa_spec
from sattn.specs.nsa import NsaConfig

PRECISIONS = ["fp32", "bf16", "i8", "i4"]
HKV, D = 2, 16
#: (Sq, Skv): prefill with a partial last block, a decode step, a chunk of rows against a cache.
PHASES = {"prefill": (90, 90), "decode": (1, 90), "chunk": (7, 90)}
PLAIN = NsaConfig(block_size=16, select_blocks=3, window_size=20)
#: the paper's overlapping compression (l = 32, d = 16, b = 64) scaled down by 4
OVERLAP = NsaConfig(block_size=16, select_blocks=3, window_size=20, comp_block_size=8, comp_stride=4)


@pytest.fixture(autouse=True)
def _tools():
    need_tool("qemu-riscv64")


def _tensors(b, h, sq, skv, dv, seed, hkv=HKV, d=D):
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((b, h, sq, d)).astype(np.float32)
    k = rng.standard_normal((b, hkv, skv, d)).astype(np.float32)
    v = rng.standard_normal((b, hkv, skv, dv)).astype(np.float32)
    return q, k, v


def _gates(b, sq, h, seed):
    rng = np.random.default_rng(seed)
    return tuple(rng.uniform(0.0, 1.5, (b, sq, h)).astype(np.float32) for _ in range(3))


def views(precision, q, k, v):
    """Q, K, V as the precision computes with them (default scales)."""
    params = params_from_dict({"spec": "dense", "precision": precision})
    scales = prec.resolved_scales(params)
    return tuple(prec.view(x, precision, s) for x, s in zip((q, k, v), scales))


def store64(precision):
    """How a precision stores a float64 compressed mean (None: kept): bf16 rounded to bf16,
    i8/i4 (means of codes) rounded half to even, as :func:`sattn.specs.nsa.compressed_view`
    says."""
    if precision == "bf16":
        return lambda x: prec.round_bf16(x.astype(np.float32)).astype(np.float64)
    return np.rint if prec.is_integer(precision) else None


def scores64(q, k, cfg, bi, g, grp, i, store=None):
    """Row ``i``'s block scores 0 .. p // b in float64, from the semantics: compressed windows
    (means of l rows every d, stored by ``store``), softmax per head over the visible ones with
    the score scale, eq. 9, 1.0 for p's block in every head, summed over the group."""
    sq, skv, d = q.shape[2], k.shape[2], q.shape[3]
    p = skv - sq + i
    l, st, b = cfg.comp_block, cfg.stride, cfg.block_size
    kk = k[bi, g].astype(np.float64)
    wins = [c for c in range(skv) if c * st + l - 1 <= p]
    kc = np.array([kk[c * st:c * st + l].sum(axis=0) / l for c in wins]).reshape(-1, d)
    if store is not None:
        kc = store(kc)
    own = p // b
    score = np.zeros(own + 1)
    for h in range(g * grp, (g + 1) * grp):
        prob = np.zeros(0)
        if wins:
            s = kc @ q[bi, h, i].astype(np.float64) * cfg.score_scale(d)
            prob = np.exp(s - s.max())
            prob /= prob.sum()
        for j in range(own):
            for a in range(b // st):
                for c in range(l // st):
                    src = (b // st) * j - a - c
                    if 0 <= src < prob.size:
                        score[j] += prob[src]
        score[own] += 1.0
    return score


def check_blocks(got, want, q, k, cfg, what, store=None):
    """The kernel's kept blocks ``got`` [B, Hkv, Sq, n] against the reference's ``want``: the
    right count, no duplicates, candidates only; where the sets differ, every differing block
    within the tie bound of the n-th float64 score. Returns the rows that differed."""
    assert got.shape == want.shape, f"{what}: blocks {got.shape} vs {want.shape}"
    bsz, hkv, sq, n = got.shape
    skv = k.shape[2]
    grp = q.shape[1] // hkv
    tb = ref_nsa.selection_tie_bound(q, k, cfg)
    differ = 0
    for bi in range(bsz):
        for g in range(hkv):
            for i in range(sq):
                p = skv - sq + i
                mine = [int(x) for x in got[bi, g, i] if x >= 0]
                theirs = {int(x) for x in want[bi, g, i] if x >= 0}
                assert len(mine) == min(n, p // cfg.block_size + 1), (what, bi, g, i, mine)
                assert len(set(mine)) == len(mine) and all(0 <= x <= p // cfg.block_size for x in mine), \
                    (what, bi, g, i, mine)
                if set(mine) == theirs:
                    continue
                differ += 1
                sc = scores64(q, k, cfg, bi, g, grp, i, store)
                nth = np.sort(sc)[::-1][len(mine) - 1]
                for j in set(mine) ^ theirs:
                    assert abs(sc[j] - nth) <= tb, (
                        f"{what}: row {i} of KV head {g} (batch {bi}): block {j} with score {sc[j]!r} "
                        f"is not within the tie bound {tb:.3g} of the n-th score {nth!r} "
                        f"(kernel kept {sorted(mine)}, reference {sorted(theirs)})")
    return differ


def check(precision, cfg, grp, sq, skv, *, dv=D, gates=False, batch=1, seed=0, **opts):
    """Run the kernel, check its blocks and its output against the reference on its blocks."""
    h = HKV * grp
    q, k, v = _tensors(batch, h, sq, skv, dv, seed)
    g = _gates(batch, sq, h, seed + 1) if gates else (None, None, None)
    what = f"rvv nsa {precision} G={grp} Sq={sq} Skv={skv} Dv={dv} gates={gates} {cfg}"
    res = rvv_nsa.run(q, k, v, cfg, precision=precision, gates=g if gates else None, **opts)
    # the reference on the operands the precision computes with (codes for i8/i4, the scales
    # in the score scale and the output), the compressed means stored as the precision stores
    # them: as the pattern's attend hook runs it
    ops = nsa_spec.operands(params_from_dict({"spec": "dense", "precision": precision}), q, k, v)
    rcfg = dataclasses.replace(cfg, scale=float(ops.score_scale))
    want = ref_nsa.attention(ops.q, ops.k, ops.v, rcfg, g_cmp=g[0], g_slc=g[1], g_swa=g[2],
                             compressed=ops.compressed)
    check_blocks(res.blocks, want.blocks, ops.q, ops.k, rcfg, what, store64(precision))
    on_kernel = ref_nsa.attention(ops.q, ops.k, ops.v, rcfg, g_cmp=g[0], g_slc=g[1], g_swa=g[2],
                                  compressed=ops.compressed, blocks=res.blocks)
    qv, kv, vv = views(precision, q, k, v)
    bound = ref_nsa.tolerance(qv, kv, vv, cfg, g)
    assert res.output.shape == (batch, h, sq, dv)
    err = np.abs(res.output.astype(np.float64) - on_kernel.output * np.float64(ops.v_scale))
    at = np.unravel_index(int(err.argmax()), err.shape)
    assert err.max() <= bound, f"{what}: element {at}: |diff| {err[at]:.3g} > bound {bound:.3g}"
    c = res.counters
    assert c["instructions"] == c["vector"] + c["scalar"] and c["vector"] > 0
    assert c["dense_pairs"] == batch * HKV * sq * skv
    assert c["selected_pairs"] == _pairs_by_loop(res.blocks, skv, cfg)
    return res


def _pairs_by_loop(blocks, skv, cfg):
    """The (row, key) pairs the rows read, counted one key at a time."""
    total = 0
    sq = blocks.shape[2]
    for row in blocks.reshape(-1, sq, blocks.shape[-1]):
        for i in range(sq):
            p = skv - sq + i
            keys = {j for x in row[i] if x >= 0 for j in range(x * cfg.block_size, (x + 1) * cfg.block_size)
                    if j <= p}
            total += sum(1 for c in range(skv) if c * cfg.stride + cfg.comp_block - 1 <= p)
            total += len(keys) + min(cfg.window_size, p + 1)
    return total


CASES = [(prc, grp, phase) for prc in PRECISIONS for grp in (1, 2, 4) for phase in PHASES]


@pytest.mark.parametrize("precision,grp,phase", CASES, ids=[f"{a}-G{b}-{c}" for a, b, c in CASES])
def test_nsa_against_reference(precision, grp, phase):
    # gates, Dv != D and the overlapping compression rotate so that each precision and each
    # group meets every combination across the phases
    n = CASES.index((precision, grp, phase))
    gates, dv, cfg = bool(n % 2), (D, 8)[(n // 2) % 2], (PLAIN, OVERLAP)[(n // 3) % 2]
    sq, skv = PHASES[phase]
    check(precision, cfg, grp, sq, skv, dv=dv, gates=gates, seed=n)


@pytest.mark.parametrize("precision", ["fp32", "i8"])
@pytest.mark.parametrize("cfg", [PLAIN, OVERLAP], ids=["plain", "overlap"])
def test_decode_is_the_last_prefill_row(precision, cfg):
    # every row is computed the same way whatever Sq is: bit for bit, not just within a bound
    t, grp = 75, 2
    q, k, v = _tensors(1, HKV * grp, t, t, 8, 11)
    g = _gates(1, t, HKV * grp, 12)
    full = rvv_nsa.run(q, k, v, cfg, precision=precision, gates=g)
    step = rvv_nsa.run(q[:, :, -1:], k, v, cfg, precision=precision, gates=tuple(x[:, -1:] for x in g))
    np.testing.assert_array_equal(step.output[:, :, 0], full.output[:, :, -1])
    np.testing.assert_array_equal(step.blocks[:, :, 0], full.blocks[:, :, -1])


@pytest.mark.parametrize("precision", PRECISIONS)
def test_the_caches_compressed_keys_change_nothing_but_the_count(precision):
    q, k, v = _tensors(1, 4, 1, 200, 8, 5)
    own = rvv_nsa.run(q, k, v, OVERLAP, precision=precision)
    cached = rvv_nsa.run(q, k, v, OVERLAP, precision=precision, comp_cache=True)
    np.testing.assert_array_equal(cached.output, own.output)
    np.testing.assert_array_equal(cached.blocks, own.blocks)
    assert cached.counters["instructions"] < own.counters["instructions"]
    assert any("compressed keys" in line for line in cached.lines)


@pytest.mark.parametrize("cfg", [PLAIN, OVERLAP], ids=["plain", "overlap"])
def test_exact_ties_go_to_the_lower_block(cfg):
    # zero queries: every visible window has the same probability, so every block's score
    # ties exactly with the others of its kind: the lower blocks win
    q, k, v = _tensors(1, 4, 90, 90, 16, 3)
    q[:] = 0
    res = rvv_nsa.run(q, k, v, cfg)
    want = ref_nsa.attention(q, k, v, cfg)
    np.testing.assert_array_equal(res.blocks, want.blocks)
    if cfg is PLAIN:  # p's block (score G) first, then 0, 1, ... (score G / visible windows)
        last = res.blocks[0, 0, -1]
        assert last.tolist() == [89 // 16, 0, 1]


def test_stop_after_2_selects_the_same_blocks_and_attends_nothing():
    # the benchmark's scoring floor: the same selection, no attention, fewer instructions
    q, k, v = _tensors(1, 4, 6, 90, 8, 4)
    full = rvv_nsa.run(q, k, v, OVERLAP)
    floor = rvv_nsa.run(q, k, v, OVERLAP, stop_after=2)
    np.testing.assert_array_equal(floor.blocks, full.blocks)
    assert not floor.output.any()
    assert floor.counters["instructions"] < full.counters["instructions"]


def test_top_n_with_ascending_scores():
    # every window scores higher than the one before (keys along q, growing): each candidate
    # beats the whole list so far, the insertion's worst case; no near-ties, so the kept
    # blocks are exactly the reference's (the highest blocks, own block first)
    skv, grp = 200, 2
    cfg = NsaConfig(block_size=8, select_blocks=5, window_size=0)
    u = np.random.default_rng(9).standard_normal(D).astype(np.float32)
    u /= np.linalg.norm(u)
    q = np.broadcast_to(u * 4, (1, HKV * grp, 3, D)).copy()
    k = (np.linspace(-1, 1, skv, dtype=np.float32)[:, None] * u).astype(np.float32)
    k = np.broadcast_to(k, (1, HKV, skv, D)).copy()
    v = np.random.default_rng(10).standard_normal((1, HKV, skv, 8)).astype(np.float32)
    res = rvv_nsa.run(q, k, v, cfg)
    want = ref_nsa.attention(q, k, v, cfg)
    np.testing.assert_array_equal(res.blocks, want.blocks)
    assert res.blocks[0, 0, -1].tolist() == [24, 23, 22, 21, 20]


def test_the_tie_check_accepts_a_tie_and_rejects_a_wrong_block():
    # the near-tie rule of check_blocks on made-up kernel selections: blocks 1 and 2 hold the
    # same keys (equal scores), so keeping 2 for 1 is a correct selection; keeping the lowest-
    # scoring candidate instead of the n-th is not
    cfg = NsaConfig(block_size=16, select_blocks=4, window_size=0)
    q, k, v = _tensors(1, 4, 1, 96, 8, 13)
    k[:, :, 32:48] = k[:, :, 16:32]
    want = ref_nsa.attention(q, k, v, cfg)
    row = want.blocks[0, 0, 0].tolist()
    sc = scores64(q, k, cfg, 0, 0, 2, 0)
    assert sc[1] == sc[2] and row[-1] == 1 and 2 not in row  # block 1 is the n-th, 2 ties it
    # the kernel computes blocks 1 and 2 the same way: an exact tie, the lower block kept
    np.testing.assert_array_equal(rvv_nsa.run(q, k, v, cfg).blocks, want.blocks)
    tie = np.array(want.blocks)
    tie[0, 0, 0, -1] = 2
    assert check_blocks(tie, want.blocks, q, k, cfg, "tie") == 1
    worst = min((j for j in range(len(sc)) if j not in row), key=lambda j: sc[j])
    bad = np.array(want.blocks)
    bad[0, 0, 0, -1] = worst
    with pytest.raises(AssertionError, match="not within the tie bound"):
        check_blocks(bad, want.blocks, q, k, cfg, "wrong")


def test_batch_runs_each_element_on_its_own():
    res = check("fp32", PLAIN, 2, 9, 70, batch=2, gates=True, seed=21)
    q, k, v = _tensors(2, 4, 9, 70, D, 21)
    g = _gates(2, 9, 4, 22)
    one = rvv_nsa.run(q[1:], k[1:], v[1:], PLAIN, gates=tuple(x[1:] for x in g))
    np.testing.assert_array_equal(res.output[1:], one.output)
    assert "(summed over B=2 kernel calls)" in res.lines[1]


def test_rank3_inputs_give_a_rank3_output():
    q, k, v = _tensors(1, 2, 5, 40, 8, 2)
    res = rvv_nsa.run(q[0], k[0], v[0], PLAIN)
    batched = rvv_nsa.run(q, k, v, PLAIN)
    np.testing.assert_array_equal(res.output, batched.output[0])


def test_no_window_branch_and_fewer_candidates_than_n():
    # w = 0: two branches; n larger than the blocks there are: every block is kept
    cfg = NsaConfig(block_size=16, select_blocks=8, window_size=0)
    res = check("fp32", cfg, 2, 40, 40, dv=8)
    assert (res.blocks[0, :, -1] >= 0).sum(axis=-1).tolist() == [3, 3]


def test_bad_inputs_give_one_clear_error():
    q, k, v = _tensors(1, 4, 3, 40, 8, 1)
    with pytest.raises(SattnError, match=r"g_slc must be \[B, Sq, H\] = \[1, 3, 4\], got \[1, 3, 2\]"):
        rvv_nsa.run(q, k, v, PLAIN, gates=(None, np.ones((1, 3, 2), np.float32), None))
    with pytest.raises(SattnError, match="gates must be"):
        rvv_nsa.run(q, k, v, PLAIN, gates=(None, None))
    with pytest.raises(SattnError, match="query heads are not a multiple"):
        rvv_nsa.run(q[:, :3], k, v, PLAIN)
    with pytest.raises(SattnError, match="query rows exceed"):
        rvv_nsa.run(q, k[:, :, :2], v[:, :, :2], PLAIN)
    with pytest.raises(SattnError, match="must be even"):
        rvv_nsa.run(q[..., :15], k[..., :15], v, PLAIN, precision="i4")
    bad = q.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(SattnError, match="Q"):
        rvv_nsa.run(bad, k, v, PLAIN)


SLOW = [(prc, grp, phase, cfg) for prc in PRECISIONS for grp in (1, 2, 4, 16) for phase in PHASES
        for cfg in ("plain", "overlap")]


@pytest.mark.slow
@pytest.mark.parametrize("precision,grp,phase,cfg", SLOW, ids=[f"{a}-G{b}-{c}-{d}" for a, b, c, d in SLOW])
def test_nsa_sweep(precision, grp, phase, cfg):
    n = SLOW.index((precision, grp, phase, cfg))
    sq, skv = {"prefill": (300, 300), "decode": (1, 2000), "chunk": (33, 700)}[phase]
    base = {"plain": NsaConfig(block_size=32, select_blocks=4, window_size=64),
            "overlap": NsaConfig(block_size=32, select_blocks=4, window_size=64, comp_block_size=16,
                                 comp_stride=8)}[cfg]
    check(precision, base, grp, sq, skv, dv=(D, 8)[n % 2], gates=bool((n // 2) % 2), seed=100 + n)


@pytest.mark.slow
def test_long_decode_at_paper_parameters():
    # decode against 16,384 keys at b = 64, n = 16, w = 512, l = 32, d = 16 (the paper's)
    cfg = NsaConfig(block_size=64, select_blocks=16, window_size=512, comp_block_size=32, comp_stride=16)
    check("fp32", cfg, 4, 1, 16384, seed=7, comp_cache=True)
