"""Passes: their records are checked against sattn.specs and brute force, not against themselves."""

from __future__ import annotations

import math
from io import StringIO

import numpy as np
import pytest
from sattn.frontend import attention_ops, parse_module, run_pipeline
from sattn.ir.schema import params_from_dict
from sattn.reference.data import synthetic
from sattn.specs import select_indices
from sattn.transforms import PASSES, PIPELINES, build_pipeline
from sattn.transforms.bufferize import buffers
from xdsl.printer import Printer


def lower(text: str, pipeline: str) -> list:
    m = parse_module(text)
    run_pipeline(m, pipeline)
    return [op.params() for op in attention_ops(m)]


def op_text(**attrs) -> str:
    def fmt(v):
        if isinstance(v, str):
            return f'"{v}"'
        if isinstance(v, float):
            return f"{v} : f64"
        return f"{v} : i64"

    body = ", ".join(f"{k} = {fmt(v)}" for k, v in attrs.items())
    return f'"sattn.sparse_attention"() {{{body}}} : () -> ()'


def test_pass_table_is_exactly_the_design() -> None:
    assert set(PASSES) == {
        "sattn-lower-rocc", "sattn-lower-rvv", "sattn-select-spec", "sattn-materialize-indices",
        "sattn-tile", "sattn-fuse-softmax", "sattn-lower-to-rvv", "sattn-lower-to-rocc",
        "sattn-vectorize", "sattn-bufferize",
    }
    for name, factory in PASSES.items():
        assert factory().name == name
    from sattn.universe import SATTN_UNIVERSE

    assert set(SATTN_UNIVERSE.all_passes) == set(PASSES)
    assert SATTN_UNIVERSE.all_dialects["sattn"]().name == "sattn"


@pytest.mark.parametrize("pipeline", list(PIPELINES))
def test_pipelines_equal_their_passes(pipeline: str) -> None:
    text = "\n".join([
        op_text(global_tokens=2, block_size=8, tile_S=32),
        op_text(window_size=3, precision="i8", seq_len=40, head_dim=24),
        op_text(topk_k=5, gqa_group_size=2, num_heads=4, tile_S=16),
        op_text(keep_ratio=0.5, block_size=4, tile_S=16, tile_D=8),
    ])

    def printed(p: str) -> str:
        m = parse_module(text)
        run_pipeline(m, p)
        out = StringIO()
        Printer(stream=out).print_op(m)
        return out.getvalue()

    assert printed(pipeline) == printed(",".join(PIPELINES[pipeline]))
    assert [type(p).__name__ for p in build_pipeline(f"builtin.module({pipeline})")]


@pytest.mark.parametrize(
    "attrs",
    [
        {'window_size': 3, 'tile_S': 40},
        {'window_size': 2, 'dilation': 3, 'tile_S': 20},
        {'window_size': 4, 'wrap': 1, 'dilation': 2, 'tile_S': 24},
        {'window_size': 5, 'causal': 1, 'tile_S': 33},
    ],
)
def test_stencil_matches_the_selection(attrs) -> None:
    (p,) = lower(op_text(**attrs), "sattn-materialize-indices")
    table = p.extra["index_table"]
    sel = select_indices(params_from_dict(attrs).replace(spec="sliding_window"), p.shape())
    g = sel.groups[0]
    s = p.shape().seq_len
    assert table["nnz"] == g.nnz
    assert (table["min_keys"], table["max_keys"]) == (g.counts().min(), g.counts().max())
    offsets = set(table["offsets"])
    for i in range(s):
        for j in g.row(i):
            d = int(j) - i
            assert d in offsets or (attrs.get("wrap") and any((d - o) % s == 0 for o in offsets))


@pytest.mark.parametrize(
    "attrs",
    [
        {'global_tokens': 3, 'block_size': 4, 'tile_S': 24},
        {'global_tokens': 1, 'block_size': 5, 'tile_S': 23, 'causal': 1},
        {'spec': "block_local_global", 'block_size': 8, 'tile_S': 64},
        {'keep_ratio': 0.5, 'block_size': 4, 'tile_S': 16, 'tile_D': 8, 'num_heads': 2, 'gqa_group_size': 1},
    ],
)
def test_block_table_covers_exactly_the_selected_blocks(attrs) -> None:
    (p,) = lower(op_text(**attrs), "sattn-select-spec,sattn-materialize-indices")
    table = p.extra["index_table"]
    b, s = table["block_size"], p.shape().seq_len
    nb = math.ceil(s / b)
    indptr, indices = np.array(table["indptr"]), np.array(table["indices"])
    if p.spec == "bsr":
        from sattn.reference.data import synthetic

        q, k, _ = synthetic(p.shape())
        sel = select_indices(p, p.shape(), q, k)
    else:
        sel = select_indices(p, p.shape())
    heads = sel.groups if table["per_head"] else sel.groups[:1]
    for h, g in enumerate(heads):
        mask = g.to_dense(s)
        for qb in range(nb):
            row = indptr[h * nb + qb : h * nb + qb + 2]
            listed = set(indices[row[0] : row[1]].tolist())
            touched = {kb for kb in range(nb) if mask[qb * b : (qb + 1) * b, kb * b : (kb + 1) * b].any()}
            assert listed == touched, (h, qb)


@pytest.mark.parametrize(
    "attrs",
    [
        {'window_size': 8, 'seq_len': 256, 'tile_M': 64, 'tile_S': 128},
        {'window_size': 20, 'seq_len': 100, 'tile_M': 16, 'tile_S': 32, 'dilation': 2},
        {'spec': "dense", 'causal': 1, 'seq_len': 90, 'tile_M': 32, 'tile_S': 16},
        {'global_tokens': 4, 'block_size': 16, 'seq_len': 96, 'tile_M': 16, 'tile_S': 16},
        # a KV cache: Sq rows over Skv keys, key tiles over the Skv keys
        {'spec': "dense", 'causal': 1, 'seq_len': 5, 'kv_len': 300, 'tile_M': 4, 'tile_S': 64},
        {'window_size': 40, 'causal': 1, 'seq_len': 20, 'kv_len': 500, 'tile_M': 8, 'tile_S': 32},
    ],
)
def test_active_tiles_match_brute_force(attrs) -> None:
    (p,) = lower(op_text(**attrs), "sattn-tile")
    grid = p.extra["tile_grid"]
    s, n = p.shape().seq_len, p.shape().kv_len
    tm, ts = attrs["tile_M"], attrs["tile_S"]
    spec = p.spec or _spec_of(attrs)
    g = select_indices(p.replace(spec=spec), p.shape()).groups[0]
    mask = np.zeros((s, n), bool)
    mask[np.repeat(np.arange(s), g.counts()), g.indices] = True
    active = sum(
        mask[mi * tm : (mi + 1) * tm, si * ts : (si + 1) * ts].any()
        for mi in range(math.ceil(s / tm)) for si in range(math.ceil(n / ts))
    )
    assert grid["active_tiles"] == active
    assert (grid["m_tiles"], grid["m_rem"]) == (math.ceil(s / tm), s % tm)
    assert (grid["s_tiles"], grid["s_rem"]) == (math.ceil(n / ts), n % ts)


def test_tile_grid_of_a_huge_kv_cache_counts_no_pairs() -> None:
    """Four query rows over 2**31 - 1 keys: the grid is an upper bound from the shape (the
    square pair bound of the pattern would have let 8.6e9 index entries be built)."""
    (p,) = lower(op_text(spec="dense", seq_len=4, kv_len=2**31 - 1, tile_M=64, tile_S=128),
                 "sattn-tile")
    grid = p.extra["tile_grid"]
    assert grid["s_tiles"] == math.ceil((2**31 - 1) / 128)
    assert grid["active_source"] == "upper_bound" and grid["active_tiles"] == grid["tiles"]


def _spec_of(attrs) -> str:
    from sattn.selector import select_spec

    return select_spec(params_from_dict(attrs), env={}).spec


def test_exact_index_bytes_from_the_selection() -> None:
    attrs = {'global_tokens': 2, 'block_size': 4, 'seq_len': 30, 'head_dim': 8, 'num_heads': 2, 'gqa_group_size': 2}
    (p,) = lower(op_text(**attrs), "sattn-lower-rocc")
    sel = select_indices(p, p.shape())
    buf = p.extra["buffers"]
    assert buf["index_exact"] == 1
    assert buf["index"] == 4 * (31 + sel.groups[0].nnz)
    assert buf["q"] == 2 * 30 * 8 * 4 and buf["k"] == 30 * 8 * 4
    assert buf["total"] == buf["q"] + buf["k"] + buf["v"] + buf["out"] + buf["index"]


@pytest.mark.parametrize("d", [1, 7, 16, 40, 64, 100, 128, 256])
@pytest.mark.parametrize("vlen", [128, 256, 512, 1024])
@pytest.mark.parametrize("precision", ["fp32", "bf16", "i8", "i4"])
@pytest.mark.parametrize("lmul", [None, 1, 2, 4, 8])
def test_vector_strips_cover_head_dim(d, vlen, precision, lmul) -> None:
    from sattn.transforms.vectorize import vector_strips

    p = params_from_dict({'head_dim': d, 'precision': precision})
    v = vector_strips(p, vlen) if lmul is None else vector_strips(p, vlen, lmul)
    want = 8 if lmul is None else lmul  # the kernel's default register group
    assert v["lmul"] == f"m{want}"
    assert v["strip"] == vlen * want // 32
    sew = {"fp32": 32, "bf16": 16, "i8": 8, "i4": 8}[precision]
    assert v["sew"] == sew
    load = want * sew / 32  # the load group holds as many elements as the accumulator group
    assert v["load_lmul"] == (f"m{int(load)}" if load >= 1 else f"mf{round(1 / load)}")
    assert (v["d_strips"] - 1) * v["strip"] < d <= v["d_strips"] * v["strip"]
    assert v["d_tail"] == d % v["strip"]


def test_lowering_keeps_operands_location_and_every_attribute() -> None:
    text = (
        '%q, %k, %v = "test.m"() : () -> (tensor<2x16x8xf32>, tensor<1x16x8xf32>, tensor<1x16x8xf32>)\n'
        '%o = "sattn.sparse_attention"(%q, %k, %v) {lsh_buckets = 4 : i64, causal = 1 : i64, precision = "i4"} : '
        "(tensor<2x16x8xf32>, tensor<1x16x8xf32>, tensor<1x16x8xf32>) -> tensor<2x16x8xf32>\n"
        '"test.use"(%o) : (tensor<2x16x8xf32>) -> ()\n'
    )
    from sattn.ir.dialect import RoccCallOp, location_of

    m = parse_module(text, "x.mlir")
    run_pipeline(m, "sattn-lower-rocc")
    (call,) = [o for o in m.walk() if isinstance(o, RoccCallOp)]
    assert location_of(call) == "x.mlir:2:1"
    assert len(call.operands) == 3 and call.results[0].uses
    p = call.params()
    assert (p.lsh_buckets, p.causal, p.precision, p.spec) == (4, 1, "i4", "lsh")
    assert p.extra["lsh_enabled"] == 1 and "blg_enabled" not in p.extra


def test_many_ops_share_cached_records() -> None:
    text = "\n".join(op_text(window_size=1 + i % 3, tile_S=64) for i in range(300))
    params = lower(text, "sattn-lower-rocc")
    assert len(params) == 300
    nnz = [p.extra["index_table"]["nnz"] for p in params[:3]]
    assert nnz == [64 * 3 - 2, 64 * 5 - 6, 64 * 7 - 12]
    assert all(p.extra["index_table"]["nnz"] == nnz[i % 3] for i, p in enumerate(params))


def test_content_keys_follow_edits_between_passes() -> None:
    """Ops with equal content share records; an op edited between passes is recomputed."""
    from sattn.ir.attrs import from_py

    m = parse_module("\n".join([op_text(window_size=1, tile_S=32)] * 3))
    run_pipeline(m, "sattn-select-spec")
    a, b, c = attention_ops(m)
    b.attributes["window_size"] = from_py(2)  # a user rewrite between two passes
    run_pipeline(m, "sattn-materialize-indices,sattn-lower-to-rocc")
    a, b, c = attention_ops(m)
    nnz = [op.params().extra["index_table"]["nnz"] for op in (a, b, c)]
    assert nnz == [32 * 3 - 2, 32 * 5 - 6, 32 * 3 - 2]


@pytest.mark.parametrize("spec,extra", [("dense", {}), ("sliding_window", {"window_size": 8}),
                                        ("topk_per_query", {"topk_k": 5})])
def test_bufferize_sizes_a_kv_cache_by_its_keys(spec, extra):
    """K and V hold Skv rows (V Dv wide); the index bound is Sq rows of at most a row's keys
    over Skv, and every real selection fits it."""
    p = params_from_dict({"spec": spec, "seq_len": 3, "kv_len": 200, "head_dim": 16,
                          "head_dim_v": 8, "num_heads": 4, "gqa_group_size": 2, **extra})
    b = buffers(p)
    assert b["k"] == 2 * 200 * 16 * 4 and b["v"] == 2 * 200 * 8 * 4
    assert b["q"] == 4 * 3 * 16 * 4 and b["out"] == 4 * 3 * 8 * 4
    q, k, _ = synthetic(p.shape())
    nnz = max(g.nnz for g in select_indices(p, p.shape(), q, k).groups)
    assert b["index"] >= 2 * 4 * (3 + 1 + nnz)
