"""The sattn dialect: round trips, schema verification with locations, effects."""

from __future__ import annotations

from io import StringIO

import pytest
from sattn.diagnostics import collecting, once
from sattn.errors import SattnError
from sattn.frontend import parse_module
from sattn.ir.attrs import from_py, int_array, to_py
from sattn.ir.dialect import RoccCallOp, RvvCallOp, SparseAttentionOp
from xdsl.printer import Printer
from xdsl.traits import is_side_effect_free

SPEC_EXAMPLES = [
    '"sattn.sparse_attention"() {global_tokens = 8 : i64, block_size = 64 : i64, tile_M = 16 : i64, tile_D = 32 : i64, tile_S = 128 : i64} : () -> ()',
    '"sattn.sparse_attention"() {window_size = 8 : i64, tile_D = 32 : i64, tile_S = 128 : i64} : () -> ()',
    '"sattn.sparse_attention"() {precision = "bf16", window_size = 8 : i64, tile_D = 32 : i64, tile_S = 128 : i64} : () -> ()',
    '"sattn.sparse_attention"() {precision = "i8", scale_q = 5.000000e-02 : f32, scale_k = 5.000000e-02 : f32, scale_v = 5.000000e-02 : f32, window_size = 8 : i64, tile_D = 32 : i64, tile_S = 128 : i64} : () -> ()',
]


def _print(module) -> str:
    out = StringIO()
    Printer(stream=out).print_op(module)
    return out.getvalue()


@pytest.mark.parametrize("line", SPEC_EXAMPLES)
def test_spec_examples_round_trip(line: str) -> None:
    text = _print(parse_module(f"module {{\n  {line}\n}}\n"))
    assert text.splitlines()[1].strip() == line


def test_params_read_any_integer_width_and_int_for_float() -> None:
    m = parse_module('"sattn.sparse_attention"() {window_size = 8 : i8, keep_ratio = 1 : i64, causal = true} : () -> ()')
    op = m.body.block.first_op
    assert isinstance(op, SparseAttentionOp)
    p = op.params()
    assert (p.window_size, p.keep_ratio, p.causal) == (8, 1.0, 1)
    assert isinstance(p.keep_ratio, float)


def test_operands_give_shape_and_group() -> None:
    m = parse_module(
        '%q, %k, %v = "test.m"() : () -> (tensor<6x32x16xf32>, tensor<2x32x16xf32>, tensor<2x32x16xf32>)\n'
        '"sattn.sparse_attention"(%q, %k, %v) {topk_k = 2 : i64} : '
        "(tensor<6x32x16xf32>, tensor<2x32x16xf32>, tensor<2x32x16xf32>) -> ()\n"
    )
    op = next(o for o in m.walk() if isinstance(o, SparseAttentionOp))
    shape = op.params().shape()
    assert (shape.heads, shape.seq_len, shape.head_dim, shape.group) == (6, 32, 16, 3)


@pytest.mark.parametrize(
    "attrs, message",
    [
        ("window_size = -3 : i64", "attribute 'window_size' must be >= 0, got -3"),
        ("dilation = 0 : i64", "attribute 'dilation' must be >= 1, got 0"),
        ("nm_n = 5 : i64, nm_m = 4 : i64", "attribute 'nm_n' must be <= nm_m"),
        ("keep_ratio = 0.0 : f64", "attribute 'keep_ratio' must be in (0, 1]"),
        ("keep_ratio = 1.01 : f64", "attribute 'keep_ratio' must be in (0, 1]"),
        ("tile_D = 0 : i64", "attribute 'tile_D' must be >= 1"),
        ('precision = "int8"', "attribute 'precision' must be one of fp32, bf16, i8, i4"),
        ('spec = "bigbird"', "attribute 'spec' must be one of"),
        ("block_sise = 4 : i64", "unknown attribute 'block_sise' (did you mean 'block_size'?)"),
        ('topk_k = "4"', "attribute 'topk_k' expects an integer (i64)"),
    ],
)
def test_bad_attributes_are_rejected_with_location(attrs: str, message: str) -> None:
    text = f'module {{\n\n    "sattn.sparse_attention"() {{ {attrs} }} : () -> ()\n}}\n'
    with pytest.raises(SattnError) as err:  # strict: an unknown name is the error of today
        parse_module(text, "in.mlir", strict_attributes=True)
    msg = str(err.value)
    assert msg.startswith("in.mlir:3:5: 'sattn.sparse_attention' ")
    assert message in msg
    assert "\n" not in msg


def test_calls_need_spec_but_accept_backend_annotations() -> None:
    with pytest.raises(SattnError, match="'sattn.rvv_call' missing attribute 'spec'"):
        parse_module('"sattn.rvv_call"() {} : () -> ()')
    m = parse_module('"sattn.rocc_call"() {spec = "bsr", backend_note = "x"} : () -> ()')
    op = m.body.block.first_op
    assert isinstance(op, RoccCallOp)
    assert op.params().extra["backend_note"] == "x"
    # ... silently: they are the backends' annotations, not the user's
    with collecting() as warnings:
        parse_module('"sattn.rocc_call"() {spec = "bsr", backend_note = "x"} : () -> ()')
    assert warnings == []


def test_unknown_attributes_are_kept_with_one_warning_each() -> None:
    """Discardable attributes, as in MLIR: kept (in params().extra, never read), one warning
    per attribute with the location and a did-you-mean hint; strict makes the first an error."""
    text = ('module {\n  "sattn.sparse_attention"() {pattern = "block_topk", windw_size = 3 : i64, '
            'window_size = 2 : i64, softmax_mode = "logsumexp"} : () -> ()\n}\n')
    with collecting() as warnings:
        m = parse_module(text, "in.mlir")
    assert [str(w) for w in warnings] == [
        "in.mlir:2:3: warning: 'sattn.sparse_attention' unknown attribute 'pattern'; kept and ignored",
        ("in.mlir:2:3: warning: 'sattn.sparse_attention' unknown attribute 'windw_size' "
        "(did you mean 'window_size'?); kept and ignored"),
        "in.mlir:2:3: warning: 'sattn.sparse_attention' unknown attribute 'softmax_mode'; kept and ignored",
    ]
    op = next(o for o in m.walk() if isinstance(o, SparseAttentionOp))
    p = op.params()
    assert p.window_size == 2 and p.extra == {"pattern": "block_topk", "windw_size": 3,
                                               "softmax_mode": "logsumexp"}
    # the same params as without the unknown attributes: nothing reads them
    plain = parse_module('"sattn.sparse_attention"() {window_size = 2 : i64} : () -> ()')
    assert p == next(o for o in plain.walk() if isinstance(o, SparseAttentionOp)).params()
    with pytest.raises(SattnError) as err:
        parse_module(text, "in.mlir", strict_attributes=True)
    assert str(err.value) == "in.mlir:2:3: 'sattn.sparse_attention' unknown attribute 'pattern'"


def test_warnings_are_printed_once_per_scope(capsys) -> None:
    text = '"sattn.sparse_attention"() {pattern = "x"} : () -> ()'
    parse_module(text, "a.mlir")
    parse_module(text, "a.mlir")
    assert capsys.readouterr().err.count("unknown attribute 'pattern'") == 2  # two parses
    with once():
        parse_module(text, "a.mlir")
        with once():
            parse_module(text, "a.mlir")
        parse_module(text, "b.mlir")  # another place: its own warning
    err = capsys.readouterr().err
    assert err == ("a.mlir:1:1: warning: 'sattn.sparse_attention' unknown attribute 'pattern'; "
                   "kept and ignored\n"
                   "b.mlir:1:1: warning: 'sattn.sparse_attention' unknown attribute 'pattern'; "
                   "kept and ignored\n")


def _operand_params(types: str, attrs: str = ""):
    """The params of one op whose Q, K, V operands have the ';'-separated ``types``."""
    q, k, v = types.split(";")
    m = parse_module(
        f'%q, %k, %v = "test.m"() : () -> ({q}, {k}, {v})\n'
        f'"sattn.sparse_attention"(%q, %k, %v) {{{attrs}}} : ({q}, {k}, {v}) -> ()\n')
    return next(o for o in m.walk() if isinstance(o, SparseAttentionOp)).params()


def test_rank4_operands_give_shape_and_batch() -> None:
    params = _operand_params
    p = params("tensor<3x4x32x16xf32>;tensor<3x2x32x16xf32>;tensor<3x2x32x16xf32>")
    assert (p.batch, p.num_heads, p.seq_len, p.head_dim, p.gqa_group_size) == (3, 4, 32, 16, 2)
    shape = p.shape()
    assert (shape.heads, shape.seq_len, shape.head_dim, shape.group) == (4, 32, 16, 2)
    # rank 3 and 2 as before: no batch recorded
    assert params("tensor<2x8x4xf32>;tensor<1x8x4xf32>;tensor<1x8x4xf32>").batch is None
    assert params("tensor<8x4xf32>;tensor<8x4xf32>;tensor<8x4xf32>").batch is None
    assert params("tensor<1x1x8x4xf32>;tensor<1x1x8x4xf32>;tensor<1x1x8x4xf32>",
                  "batch = 1 : i64").batch == 1
    with pytest.raises(SattnError, match="operands Q and K disagree on the batch B: 2 vs 1"):
        params("tensor<2x1x8x4xf32>;tensor<1x1x8x4xf32>;tensor<1x1x8x4xf32>")
    with pytest.raises(SattnError, match=r"attribute 'seq_len'=9 disagrees with the operand types \(8\)"):
        params("tensor<1x1x8x4xf32>;tensor<1x1x8x4xf32>;tensor<1x1x8x4xf32>", "seq_len = 9 : i64")
    with pytest.raises(SattnError, match=r"must be a static tensor \[B,H,S,D\], \[H,S,D\] or \[S,D\]"):
        params("tensor<1x1x1x8x4xf32>;tensor<1x8x4xf32>;tensor<1x8x4xf32>")


def test_ops_have_effects_and_survive_dead_code_elimination() -> None:
    from xdsl.context import Context
    from xdsl.transforms.dead_code_elimination import DeadCodeElimination

    m = parse_module(
        '%q, %k, %v = "test.m"() : () -> (tensor<1x8x4xf32>, tensor<1x8x4xf32>, tensor<1x8x4xf32>)\n'
        '%o = "sattn.rvv_call"(%q, %k, %v) {spec = "dense"} : '
        "(tensor<1x8x4xf32>, tensor<1x8x4xf32>, tensor<1x8x4xf32>) -> tensor<1x8x4xf32>\n"
    )
    ops = [o for o in m.walk() if isinstance(o, RvvCallOp)]
    assert ops and not is_side_effect_free(ops[0])
    DeadCodeElimination().apply(Context(allow_unregistered=True), m)
    assert [o for o in m.walk() if isinstance(o, RvvCallOp)]  # its result is unused, yet it stays


def test_attribute_conversion_round_trip() -> None:
    value = {"a": 1, "b": 2.5, "c": "x", "d": [1, -2, 3], "e": {"f": True}, "g": ["u", "v"]}
    assert to_py(from_py(value)) == {"a": 1, "b": 2.5, "c": "x", "d": [1, -2, 3], "e": {"f": 1}, "g": ["u", "v"]}
    assert str(int_array([0, 4, 7])) == "array<i32: 0, 4, 7>"


def test_operands_give_kv_len() -> None:
    """K's type gives Skv (kv_len); Sq > Skv and a disagreeing kv_len are one line each."""
    params = _operand_params
    p = params("tensor<4x1x16xf32>;tensor<2x64x16xf32>;tensor<2x64x16xf32>")
    assert (p.seq_len, p.kv_len, p.num_heads, p.gqa_group_size) == (1, 64, 4, 2)
    assert (p.shape().seq_len, p.shape().kv_len, p.shape().offset) == (1, 64, 63)
    # self-attention records no kv_len (the op as before)
    assert params("tensor<2x8x4xf32>;tensor<1x8x4xf32>;tensor<1x8x4xf32>").kv_len is None
    assert params("tensor<2x8x4xf32>;tensor<1x8x4xf32>;tensor<1x8x4xf32>").shape().kv_len == 8
    with pytest.raises(SattnError, match=r"operand Q has Sq=9 rows but K has Skv=8: query rows "
                                         r"sit at the last Sq key positions, so Sq <= Skv"):
        params("tensor<1x9x4xf32>;tensor<1x8x4xf32>;tensor<1x8x4xf32>")
    with pytest.raises(SattnError, match=r"attribute 'kv_len'=9 disagrees with the operand types \(8\)"):
        params("tensor<1x2x4xf32>;tensor<1x8x4xf32>;tensor<1x8x4xf32>", "kv_len = 9 : i64")
