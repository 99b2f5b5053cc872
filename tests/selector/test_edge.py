"""Select once, hints are options: the environment is read at the edge only, nothing writes it,
and the pipeline string plus the edge's hints alone determine what the passes do."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest
from sattn.errors import SattnError
from sattn.frontend import (
    edge_hints,
    load_params,
    make_context,
    module_params,
    parse_module,
    run_pipeline,
)
from sattn.transforms import build_pipeline
from sattn.transforms.select_spec import SelectionOptions

PKG = Path(__file__).resolve().parents[2] / "python" / "sattn"

# sliding_window cheaper by the rvv cost model; SATTN_PREFER_BSR flips it (filecheck env.mlir)
SRC = ('"sattn.sparse_attention"() { seq_len = 128 : i64, head_dim = 64 : i64, window_size = 20 : i64, '
       'keep_ratio = 0.375 : f64, block_size = 16 : i64, tile_D = 32 : i64 } : () -> ()')


def _environ_writes(tree: ast.AST) -> list[int]:
    """Lines that write os.environ: item assignment/deletion, or a mutating method call."""
    def is_environ(node: ast.AST) -> bool:
        return (isinstance(node, ast.Attribute) and node.attr == "environ"
                and isinstance(node.value, ast.Name) and node.value.id == "os")

    lines = []
    for node in ast.walk(tree):
        targets = (node.targets if isinstance(node, (ast.Assign, ast.Delete))
                   else [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else [])
        if any(isinstance(t, ast.Subscript) and is_environ(t.value) for t in targets):
            lines.append(node.lineno)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            f = node.func
            if is_environ(f.value) and f.attr in ("update", "setdefault", "pop", "popitem", "clear"):
                lines.append(node.lineno)
            if isinstance(f.value, ast.Name) and f.value.id == "os" and f.attr in ("putenv", "unsetenv"):
                lines.append(node.lineno)
    return lines


def test_the_checker_sees_every_kind_of_write() -> None:
    code = ("import os\nos.environ['A'] = '1'\ndel os.environ['A']\nos.environ.update({})\n"
            "os.putenv('A', '1')\nos.environ.get('A')\nx = os.environ['A']\n")
    assert _environ_writes(ast.parse(code)) == [2, 3, 4, 5]


def test_nothing_in_the_package_writes_the_environment() -> None:
    found = [f"{p.relative_to(PKG)}:{line}" for p in sorted(PKG.rglob("*.py"))
             for line in _environ_writes(ast.parse(p.read_text()))]
    assert found == []


def test_below_the_edge_the_environment_is_never_read(monkeypatch) -> None:
    monkeypatch.setenv("SATTN_PREFER_BSR", "1")
    monkeypatch.setenv("SATTN_FORCE_SPEC", "dense")
    (p,) = load_params(SRC, text=True)
    assert p.spec == "sliding_window" and p.extra["spec_rule"] == "cost_model"


@pytest.mark.parametrize("pipeline", ["sattn-select-spec{prefer=bsr}", "sattn-lower-rvv{prefer=bsr}",
                                      "sattn-lower-rocc{prefer=bsr target=rvv}",
                                      "sattn-select-spec{force=bsr},sattn-lower-rvv"])
def test_options_equal_the_edge_variables(pipeline: str) -> None:
    by_edge = load_params(SRC, text=True, pipeline="sattn-lower-rvv",
                          hints=edge_hints({"SATTN_PREFER_BSR": "1"}))[0]
    by_option = load_params(SRC, text=True, pipeline=pipeline)[0]
    assert by_edge.spec == by_option.spec == "bsr"


def test_an_option_beats_the_edge_and_disable_adds_to_it() -> None:
    edge = edge_hints({"SATTN_PREFER_BSR": "1", "SATTN_DISABLE_NM": "1"})
    (p,) = load_params(SRC, text=True, pipeline="sattn-select-spec{prefer=none}", hints=edge)
    assert p.spec == "sliding_window"
    (p,) = load_params(SRC, text=True, pipeline="sattn-select-spec{disable=bsr}", hints=edge)
    assert p.spec == "sliding_window"
    (p,) = load_params(SRC, text=True, pipeline="sattn-select-spec{disable=sw}", hints=edge)
    assert p.spec == "bsr"


def test_a_pass_alone_selects_once_with_the_edge_hints_and_later_passes_keep_it() -> None:
    edge = edge_hints({"SATTN_PREFER_BSR": "1"})
    ctx = make_context()
    module = parse_module(SRC, "<t>", ctx=ctx)
    run_pipeline(module, "sattn-lower-to-rvv", ctx, edge)  # no select-spec in the pipeline
    (p,) = module_params(module)
    assert p.spec == "bsr" and p.extra["spec_rule"] == "cost_model"
    # the spec is recorded: later passes (whatever their hints) read it, never select again
    run_pipeline(module, "sattn-vectorize,sattn-bufferize", ctx, edge_hints({"SATTN_PREFER_SW": "1"}))
    assert module_params(module)[0].spec == "bsr"


def test_bad_options_name_the_pass_and_the_option() -> None:
    with pytest.raises(SattnError, match="sattn-select-spec option target must be one of"):
        load_params(SRC, text=True, pipeline="sattn-select-spec{target=gpu}")
    with pytest.raises(SattnError, match="prefer"):
        load_params(SRC, text=True, pipeline="sattn-lower-rvv{prefer=maybe}")
    with pytest.raises(SattnError, match="banded"):
        load_params(SRC, text=True, pipeline="sattn-select-spec{disable=banded}")


_OPTION_TEXT = {"target": "rocc", "prefer": "bsr", "l1_bytes": "65536", "disable": "sliding_window,nm",
                "force": "bsr", "max_error_data": '"q.safetensors"'}
_OPTION_VALUE = {"target": "rocc", "prefer": "bsr", "l1_bytes": 65536,
                 "disable": ("sliding_window", "nm"), "force": "bsr", "max_error_data": "q.safetensors"}


@pytest.mark.parametrize("name", ["sattn-select-spec", "sattn-lower-rvv", "sattn-lower-rocc"])
def test_selection_options_are_declared_once_and_forwarded(name: str) -> None:
    """select-spec and both pipelines take exactly the options of SelectionOptions; each one
    parses (``l1-bytes`` spelled with a dash), reaches the select-spec stage and prints back."""
    declared = [f.name for f in dataclasses.fields(SelectionOptions)]
    assert declared == list(_OPTION_VALUE)
    for option, text in _OPTION_TEXT.items():
        (p,) = build_pipeline(f"{name}{{{option.replace('_', '-')}={text}}}")
        stage = p.select_pass() if hasattr(p, "select_pass") else p
        assert stage.selection_options() == {**dict.fromkeys(declared), "disable": (),
                                             option: _OPTION_VALUE[option]}
        (again,) = build_pipeline(str(p.pipeline_pass_spec()))
        assert again == p
