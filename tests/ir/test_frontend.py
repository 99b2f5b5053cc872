"""The frontend contract: load_params, parse_module, errors, flags -> environment."""

from __future__ import annotations

import pytest
from sattn.errors import SattnError
from sattn.frontend import edge_hints, load_params, parse_module

BLG = (
    'module {\n  "sattn.sparse_attention"() { global_tokens = 8 : i64, block_size = 64 : i64, '
    "tile_M = 16 : i64, tile_D = 32 : i64, tile_S = 128 : i64 } : () -> ()\n}\n"
)
SW = '"sattn.sparse_attention"() { precision = "bf16", window_size = 8 : i64, tile_D = 32 : i64, tile_S = 128 : i64 } : () -> ()'


def test_load_params_rvv_pipeline(tmp_path) -> None:
    f = tmp_path / "input.mlir"
    f.write_text(BLG)
    (p,) = load_params(f)
    assert p.spec == "block_local_global"
    assert (p.global_tokens, p.block_size, p.tile_M) == (8, 64, 16)
    assert p.extra["blg_enabled"] == 1 and p.extra["vectorized"] is True
    assert p.extra["buffer_layout"] == "rowmajor"
    assert (p.extra["m_rows"], p.extra["head_dim_d"], p.extra["s_tokens"]) == (16, 32, 128)


def test_load_params_rocc_pipeline_and_text() -> None:
    (p,) = load_params(BLG, pipeline="sattn-lower-rocc", text=True)
    table = p.extra["index_table"]
    assert table["kind"] == "block_csr" and table["indptr"] == [0, 2, 4]
    assert p.extra["tile_grid"]["m_tiles"] == 8


def test_load_params_without_pipeline_still_selects(monkeypatch) -> None:
    (p,) = load_params(SW, pipeline=None, text=True)
    assert p.spec == "sliding_window" and p.precision == "bf16" and p.extra == {}
    (p,) = load_params(SW, pipeline=None, text=True, hints=edge_hints({"SATTN_FORCE_SPEC": "bsr"}))
    assert p.spec == "bsr"


def test_load_params_honours_the_edge_hints_and_never_the_environment(monkeypatch) -> None:
    # window 20 against 37.5% of the blocks: sliding_window, within the nudges of the fitted rvv
    # weights (613k vs 763k modelled cycles)
    src = '"sattn.sparse_attention"() { seq_len = 128 : i64, head_dim = 64 : i64, window_size = 20 : i64, keep_ratio = 0.375 : f64, block_size = 16 : i64, tile_D = 32 : i64 } : () -> ()'
    assert load_params(src, text=True)[0].spec == "sliding_window"
    assert load_params(src, text=True, hints=edge_hints({"SATTN_PREFER_BSR": "1"}))[0].spec == "bsr"
    # below the edge nothing reads the environment: the pipeline and the hints decide
    monkeypatch.setenv("SATTN_PREFER_BSR", "1")
    assert load_params(src, text=True)[0].spec == "sliding_window"
    assert load_params(src, text=True, pipeline="sattn-lower-rvv{prefer=bsr}")[0].spec == "bsr"


def test_one_params_per_op_in_order() -> None:
    text = f"{SW}\n{BLG}"
    specs = [p.spec for p in load_params(text, text=True, pipeline="sattn-lower-rocc")]
    assert specs == ["sliding_window", "block_local_global"]


def test_errors() -> None:
    with pytest.raises(SattnError, match="cannot read 'nope.mlir': no such file"):
        load_params("nope.mlir")
    with pytest.raises(SattnError, match="no sattn.sparse_attention op found"):
        load_params('"test.op"() : () -> ()', text=True)
    with pytest.raises(SattnError, match="unknown pass 'sattn-nope'"):
        load_params(SW, text=True, pipeline="sattn-nope")


def test_parse_errors_keep_original_line_numbers() -> None:
    with pytest.raises(SattnError) as e:
        parse_module('"sattn.sparse_attention"() { window_size = -1 : i64 } : () -> ()', "f.mlir", first_line=40)
    assert str(e.value).startswith("f.mlir:40:1: ")
    with pytest.raises(SattnError) as e:
        parse_module('"sattn.sparse_attention"() { window_size = 400 : i8 } : () -> ()', "f.mlir")
    assert str(e.value).startswith("f.mlir:1:") and "out of range for type i8" in str(e.value)


def test_edge_hints_from_variables_and_flags() -> None:
    h = edge_hints({}, prefer_bsr=True, l1_bytes=65536, disable=("sw", "bsr"))
    assert (h.prefer_bsr, h.prefer_sw, h.l1_bytes) == (True, False, 65536)
    assert h.disabled == {"sliding_window", "bsr"} and h.force_spec is None
    env = {"SATTN_DISABLE_NM": "1", "SATTN_TARGET": "rocc", "SATTN_VLEN": "512"}
    h = edge_hints(env, l1_bytes=4096, default_target="rvv")
    assert h.disabled == {"nm_structured"} and h.target == "rocc" and h.vlen == 512
    assert edge_hints({}, default_target="reference").target == "reference"
    assert edge_hints({}) == edge_hints({}, prefer_bsr=False)
    with pytest.raises(SattnError, match="environment variable SATTN_PREFER_BSR"):
        edge_hints({"SATTN_PREFER_BSR": "maybe"})
