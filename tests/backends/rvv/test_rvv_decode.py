"""The RVV kernels on Sq != Skv (decode against a KV cache, Sq < Skv prefill): every registered
pattern at every precision against the reference (the tolerance policy) and against the
float64 oracle of ``tests/decode_oracle.py`` (the position rule p(i) = Skv - Sq + i, sharing
no selection code with sattn.specs); the selection the kernel made is the reference's, or the
oracle accepts it (a near-tie); the instruction counters still count the kernel region.

The default run takes every (pattern variant, precision) once, at a shape that rotates through
:data:`SHAPES` (so every pattern meets every shape and every precision); ``-m slow`` runs the
whole matrix."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import need_tool
from decode_oracle import VARIANTS as ORACLE_VARIANTS
from decode_oracle import oracle
from sattn.backends.rvv import runner
from sattn.errors import SattnError
from sattn.ir import patterns as registry
from sattn.ir.schema import params_from_dict
from sattn.reference.executor import attention
from sattn.specs.selection import Selection
from tolerance import assert_attention_close, same_groups

H, G, D = 4, 2, 16
#: (Sq, Skv): decode, speculative decode, prefill of a part, and a non-power-of-two cache.
SHAPES = [(1, 64), (4, 64), (24, 64), (5, 37)]
PRECISIONS = ["fp32", "bf16", "i8", "i4"]
#: Attributes per registered pattern; ``oracle`` says whether tests/decode_oracle.py knows the
#: variant (landmark only with landmark_iters = 0).
RVV_EXTRA = {"sliding_window": [{"window_size": 40, "dilation": 4, "wrap": 1}],
             "landmark": [{"num_landmarks": 6, "landmark_iters": 2}]}
VARIANTS = {name: [*vs, *RVV_EXTRA.get(name, [])] for name, vs in ORACLE_VARIANTS.items()}
CASES = [(name, j, attrs, causal) for name, vs in VARIANTS.items() for j, attrs in enumerate(vs)
         for causal in (0, 1)]


def _ids(cases):
    return [f"{n}{j}{'-causal' if c else ''}" for n, j, _, c in cases]


@pytest.fixture(autouse=True)
def _tools():
    need_tool("qemu-riscv64")


def test_every_registered_pattern_is_covered():
    """Every single-softmax pattern the RVV kernels run; the composite nsa (three gated
    branches, its own kernel driver) is checked on decode, Sq < Skv chunks and prefill against
    its reference in test_rvv_nsa.py."""
    assert sorted(p.name for p in registry.patterns()
                  if "rvv" in p.targets and not p.composite) == sorted(VARIANTS)
    assert [p.name for p in registry.patterns() if "rvv" in p.targets and p.composite] == ["nsa"]


def _tensors(sq, skv, seed, dv=D):
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((H, sq, D)).astype(np.float32)
    k = rng.standard_normal((G, skv, D)).astype(np.float32)
    v = rng.standard_normal((G, skv, dv)).astype(np.float32)
    return q, k, v


def _check(name, variant, attrs, causal, sq, skv, precision, vlen=256, batch=1, dv=D, **opts):
    p = params_from_dict({"spec": name, "causal": causal, "precision": precision,
                          "gqa_group_size": H // G, **attrs})
    seed = sq * 1000 + skv + variant
    elems = [_tensors(sq, skv, seed + 7 * e, dv) for e in range(batch)]
    q, k, v = (elems[0][i] if batch == 1 else np.stack([t[i] for t in elems]) for i in range(3))
    what = f"rvv {name}{variant} causal={causal} Sq={sq} Skv={skv} B={batch} Dv={dv} {precision}"
    res = runner.run(p, q, k, v, vlen=vlen, check_selection=True, **opts)
    assert res.output.shape == (*((batch,) if batch > 1 else ()), H, sq, dv)
    per = ([(res.output, res.selection, res.kernel_selection)] if batch == 1 else
           list(zip(res.output, res.selections, res.kernel_selection)))
    nnz = 0
    for e, (out, ref_sel, got) in enumerate(per):
        qe, ke, ve = elems[e]
        _check_element(p, name, attrs, qe, ke, ve, out, ref_sel, got, f"{what} element {e}")
        nnz += ref_sel.nnz
    c = res.counters
    assert c["instructions"] == c["vector"] + c["scalar"] and c["vector"] > 0
    assert c["selected_pairs"] == nnz
    assert c["dense_pairs"] == batch * G * sq * skv
    assert res.density == pytest.approx(nnz / (batch * G * sq * skv))
    return res


def _check_element(p, name, attrs, q, k, v, out, ref_sel, got, what):
    """One [H, Sq, Dv] problem: the kernel's selection (Sq rows per KV head) is the
    reference's (then the outputs agree within the fp32 bound) or the oracle accepts it, and the
    output agrees with the float64 oracle on the kernel's selection."""
    sq, skv = q.shape[1], k.shape[1]
    if got is not None:  # the kernel's own key lists
        assert [g.rows for g in got] == [sq] * G
    exact = got is None or same_groups(got, ref_sel.groups)
    if exact:
        want = attention(p, q, k, v, selection=ref_sel)
        assert_attention_close(out, want, p, q, k, v, selection=ref_sel, what=f"{what} vs reference")
    # the independent oracle: checks the kernel's selection's defining property (a near-tie may
    # go either way) and recomputes the attention on it in float64
    if not attrs.get("landmark_iters"):
        sel = ref_sel
        if got is not None and ref_sel.key_space == "tokens":
            sel = Selection(spec=name, seq_len=sq, num_keys=skv, group_size=H // G,
                            groups=tuple(got))
        want64, _ = oracle(p, q, k, v, sel)
        assert_attention_close(out, want64, p, q, k, v, selection=sel, what=f"{what} vs oracle")
    else:
        assert exact, f"{what}: the kernel's k-means landmark selection differs"


def _rotating():
    """Every (case, precision) once, the shape rotating with both indices."""
    out = []
    for ci, case in enumerate(CASES):
        for pi, prec in enumerate(PRECISIONS):
            out.append((*case, *SHAPES[(ci + pi) % len(SHAPES)], prec))
    return out


ROT = _rotating()


@pytest.mark.parametrize("name,variant,attrs,causal,sq,skv,precision", ROT,
                         ids=[f"{n}{j}{'-causal' if c else ''}-{sq}of{skv}-{pr}"
                              for n, j, _, c, sq, skv, pr in ROT])
def test_kernel_against_reference_and_oracle(name, variant, attrs, causal, sq, skv, precision):
    _check(name, variant, attrs, causal, sq, skv, precision)


@pytest.mark.slow
@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("sq,skv", SHAPES)
@pytest.mark.parametrize("name,variant,attrs,causal", CASES, ids=_ids(CASES))
def test_kernel_full_matrix(name, variant, attrs, causal, sq, skv, precision):
    for vlen in (128, 512):
        _check(name, variant, attrs, causal, sq, skv, precision, vlen=vlen)


#: (B, Dv) pairs the batch tests rotate through.
BATCH_DV = [(2, D // 2), (1, 2 * D), (2, 2 * D), (1, D // 2)]
BDV = [(*case, *SHAPES[(ci + 1) % len(SHAPES)], PRECISIONS[ci % len(PRECISIONS)],
        *BATCH_DV[(ci // 2) % len(BATCH_DV)]) for ci, case in enumerate(CASES)]


@pytest.mark.parametrize("name,variant,attrs,causal,sq,skv,precision,batch,dv", BDV,
                         ids=[f"{n}{j}{'-causal' if c else ''}-{sq}of{skv}-{pr}-B{b}-Dv{dv}"
                              for n, j, _, c, sq, skv, pr, b, dv in BDV])
def test_batch_and_value_dim(name, variant, attrs, causal, sq, skv, precision, batch, dv):
    """A batch runs as one kernel call per element (each selecting from its own Q and K,
    counters summed); V's last dimension Dv (here D/2 or 2D) is the output's; the scores stay
    over D. Every case once, precisions, shapes and (B, Dv) rotating."""
    _check(name, variant, attrs, causal, sq, skv, precision, batch=batch, dv=dv)


@pytest.mark.slow
@pytest.mark.parametrize("batch,dv", [(2, D // 2), (2, 2 * D)])
@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("name,variant,attrs,causal", CASES, ids=_ids(CASES))
def test_batch_and_value_dim_full(name, variant, attrs, causal, precision, batch, dv):
    for sq, skv in ((4, 64), (37, 37)):
        _check(name, variant, attrs, causal, sq, skv, precision, batch=batch, dv=dv)


def test_decode_row_is_the_last_row_of_self_attention():
    """Decode (Sq = 1) over a cache of Skv keys computes what row Skv - 1 of self-attention over
    the same keys computes (the same keys; the self-attention run may take that row in a
    two-row pass, which sums in another order: the fp32 bound, not bit equality)."""
    q, k, v = _tensors(64, 64, seed=11)
    for attrs in ({"spec": "dense", "causal": 1}, {"spec": "sliding_window", "window_size": 5},
                  {"spec": "topk_per_query", "topk_k": 7, "causal": 1}):
        p = params_from_dict({**attrs, "gqa_group_size": H // G})
        full = runner.run(p, q, k, v, count=False, check_selection=True)
        one = runner.run(p, q[:, -1:], k, v, count=False, check_selection=True)
        for a, b in zip(one.kernel_selection, full.kernel_selection):
            assert np.array_equal(a.row(0), b.row(63)), attrs["spec"]
        assert_attention_close(one.output[:, 0:1], full.output[:, -1:], p, q[:, -1:], k, v,
                               keys=64, what=attrs["spec"])


def test_decode_pairs_counter_against_definition():
    """Counters of a decode step: selected_pairs is the selection's (query row, key) pairs per
    KV head — for a causal window of w = 5 at Sq = 4 rows near the end of 64 keys, 6 keys per
    row — and dense_pairs = Hkv * Sq * Skv; the counted instructions grow with the keys."""
    q, k, v = _tensors(4, 64, seed=2)
    p = params_from_dict({"spec": "sliding_window", "window_size": 5, "causal": 1,
                          "gqa_group_size": H // G})
    c = runner.run(p, q, k, v).counters
    assert c["selected_pairs"] == G * 4 * 6
    assert c["dense_pairs"] == G * 4 * 64
    d = runner.run(p.replace(spec="dense"), q, k, v).counters
    assert d["selected_pairs"] == G * (61 + 62 + 63 + 64)
    assert c["instructions"] < d["instructions"]


@pytest.mark.parametrize("attrs", ["window_size = 5 : i64", "window_size = 3 : i64, wrap = 1 : i64",
                                   "global_tokens = 2 : i64, block_size = 16 : i64",
                                   "spec = \"bsr\", block_size = 16 : i64, causal = 1 : i64",
                                   "spec = \"dense\", causal = 1 : i64"])
def test_lowered_op_runs_sq_below_skv(tmp_path, attrs):
    """Through the pipeline: K's operand type gives Skv; the lowered call runs on the kernels
    (a recorded index table, when the lowering wrote one, is run as written)."""
    from sattn import api

    types = "tensor<4x4x16xf32>, tensor<2x64x16xf32>, tensor<2x64x16xf32>"
    mlir = tmp_path / "decode.mlir"
    mlir.write_text(f'%q, %k, %v = "test.m"() : () -> ({types})\n'
                    f'%o = "sattn.sparse_attention"(%q, %k, %v) {{{attrs}}} : ({types}) '
                    f'-> tensor<4x4x16xf32>\n')
    q, k, v = _tensors(4, 64, seed=5)
    r = api.run(mlir, "rvv", q, k, v)
    assert r.output.shape == (H, 4, D)
    assert r.counters["dense_pairs"] == G * 4 * 64
    sel = r.selection
    want, _ = oracle(r.params, q, k, v, sel)
    assert_attention_close(r.output, want, r.params, q, k, v, selection=sel, what=attrs)


#: bsr's in-kernel block scoring (comp_block_size = 0) variants.
BSR_SCORED = [(j, a) for j, a in enumerate(VARIANTS["bsr"]) if not a.get("comp_block_size")]


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("sq,skv", [(1, 64), (1, 37), (4, 64), (5, 37)])
@pytest.mark.parametrize("causal", (0, 1))
def test_bsr_with_and_without_the_cache_block_sums(precision, sq, skv, causal):
    """bsr on a KV cache with the cache's K block sums (the runner's default for Sq < Skv) and
    with the kernel's own pass over the cache: both agree with the reference and the oracle,
    and the selections and outputs are bit for bit the same (the sums are the pass's float64
    sums, divided by the same row counts); the step with the sums runs fewer instructions."""
    for j, attrs in BSR_SCORED:
        runs = {bs: _check("bsr", j, attrs, causal, sq, skv, precision, block_sums=bs)
                for bs in (False, True)}
        off, on = runs[False], runs[True]
        for a, b in zip(off.kernel_selection, on.kernel_selection):
            assert np.array_equal(a.indptr, b.indptr) and np.array_equal(a.indices, b.indices)
        assert np.array_equal(off.output, on.output)
        assert on.counters["instructions"] < off.counters["instructions"]
        assert any(line.startswith("rvv_kv_cache: ") for line in on.lines)
        assert not any(line.startswith("rvv_kv_cache: ") for line in off.lines)
    # the default: the sums for a KV-cache step, the pass for self-attention
    p = params_from_dict({"spec": "bsr", "gqa_group_size": H // G, **BSR_SCORED[0][1]})
    q, k, v = _tensors(sq, skv, seed=5)
    dflt = runner.run(p, q, k, v, count=False)
    assert any(line.startswith("rvv_kv_cache: ") for line in dflt.lines)
    q, k, v = _tensors(skv, skv, seed=5)
    assert not any(line.startswith("rvv_kv_cache: ")
                   for line in runner.run(p, q, k, v, count=False).lines)


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("sq,skv", [(1, 64), (1, 37), (2, 50)])
@pytest.mark.parametrize("causal", (0, 1))
def test_block_local_global_decode(precision, sq, skv, causal):
    """block_local_global decode (one row, or two) against the reference and the oracle at every
    precision: the global keys and the local blocks of the row's position."""
    _check("block_local_global", 0, VARIANTS["block_local_global"][0], causal, sq, skv,
           precision)


def test_block_sums_are_for_bsr_only():
    q, k, v = _tensors(1, 64, seed=3)
    p = params_from_dict({"spec": "sliding_window", "window_size": 5, "gqa_group_size": H // G})
    with pytest.raises(SattnError, match=r"^rvv: block_sums \(the KV cache's K block sums\) are "
                                         r"for bsr's kernel, not 'sliding_window'"):
        runner.run(p, q, k, v, block_sums=True)


#: The slow sweep's large shapes: a decode step against an 8k cache and a prefill chunk of 64 rows
#: at the end of a 4k cache.
LARGE = [(1, 8192), (64, 4096)]


@pytest.mark.slow
@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("sq,skv", LARGE)
@pytest.mark.parametrize("name,variant,attrs,causal", [c for c in CASES if c[1] == 0 and c[3] == 1],
                         ids=lambda x: str(x))
def test_large_kv_cache_every_pattern(name, variant, attrs, causal, sq, skv, precision):
    """Every registered pattern (its first variant), causal, at every precision, at long-cache
    shapes: the kernel against the reference and the float64 oracle, counters as defined."""
    need_tool("qemu-riscv64")
    _check(name, variant, attrs, causal, sq, skv, precision)
