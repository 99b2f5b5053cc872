"""sattn passes and pipelines: the name -> factory table (lazy imports) and pipeline parsing.

Pipelines (each also usable as one name inside ``builtin.module(...)``):

- ``sattn-lower-rocc`` = select-spec, materialize-indices, tile, fuse-softmax, lower-to-rocc,
  bufferize
- ``sattn-lower-rvv``  = select-spec, lower-to-rvv, vectorize, bufferize

Single passes: ``sattn-select-spec``, ``sattn-materialize-indices``, ``sattn-tile``,
``sattn-fuse-softmax``, ``sattn-lower-to-rvv``, ``sattn-lower-to-rocc``, ``sattn-vectorize``,
``sattn-bufferize``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from sattn.errors import SattnError
from sattn.selector import Hints
from sattn.transforms.common import with_edge

if TYPE_CHECKING:
    from xdsl.passes import ModulePass


def _select_spec():
    from sattn.transforms.select_spec import SelectSpecPass

    return SelectSpecPass


def _materialize_indices():
    from sattn.transforms.materialize_indices import MaterializeIndicesPass

    return MaterializeIndicesPass


def _tile():
    from sattn.transforms.tile import TilePass

    return TilePass


def _fuse_softmax():
    from sattn.transforms.fuse_softmax import FuseSoftmaxPass

    return FuseSoftmaxPass


def _lower_to_rvv():
    from sattn.transforms.lower_to_rvv import LowerToRvvPass

    return LowerToRvvPass


def _lower_to_rocc():
    from sattn.transforms.lower_to_rocc import LowerToRoccPass

    return LowerToRoccPass


def _vectorize():
    from sattn.transforms.vectorize import VectorizePass

    return VectorizePass


def _bufferize():
    from sattn.transforms.bufferize import BufferizePass

    return BufferizePass


def _lower_rvv():
    from sattn.transforms.lower_rvv import LowerRvvPipeline

    return LowerRvvPipeline


def _lower_rocc():
    from sattn.transforms.lower_rocc import LowerRoccPipeline

    return LowerRoccPipeline


#: The two pipelines, and the single passes in pipeline order.
PIPELINES: dict[str, tuple[str, ...]] = {
    "sattn-lower-rocc": (
        "sattn-select-spec",
        "sattn-materialize-indices",
        "sattn-tile",
        "sattn-fuse-softmax",
        "sattn-lower-to-rocc",
        "sattn-bufferize",
    ),
    "sattn-lower-rvv": ("sattn-select-spec", "sattn-lower-to-rvv", "sattn-vectorize", "sattn-bufferize"),
}

#: Pass name -> factory returning the ModulePass class (imported on first use).
PASSES: dict[str, Callable[[], type[ModulePass]]] = {
    "sattn-lower-rocc": _lower_rocc,
    "sattn-lower-rvv": _lower_rvv,
    "sattn-select-spec": _select_spec,
    "sattn-materialize-indices": _materialize_indices,
    "sattn-tile": _tile,
    "sattn-fuse-softmax": _fuse_softmax,
    "sattn-lower-to-rvv": _lower_to_rvv,
    "sattn-lower-to-rocc": _lower_to_rocc,
    "sattn-vectorize": _vectorize,
    "sattn-bufferize": _bufferize,
}

_WRAPPER = re.compile(r"^\s*builtin\.module\s*\((.*)\)\s*$", re.DOTALL)


def strip_module_anchor(pipeline: str) -> str:
    """``builtin.module(a,b)`` -> ``a,b`` (xDSL's parser takes the bare list)."""
    text = pipeline.strip()
    m = _WRAPPER.match(text)
    while m:
        text = m.group(1).strip()
        m = _WRAPPER.match(text)
    return text


def build_pipeline(pipeline: str, available: dict[str, Callable[[], type[ModulePass]]] | None = None,
                   *, hints: Hints | None = None) -> list[ModulePass]:
    """The pass instances of a pipeline string, each carrying the edge's ``hints`` (the
    environment variables and flags the command line or the API call turned into selector
    hints; None: no hints). The pipeline string and these hints alone determine what the
    passes do. Unknown names and bad options are SattnError."""
    from xdsl.utils.arg_spec import parse_pipeline
    from xdsl.utils.exceptions import ArgSpecParseError

    available = PASSES if available is None else available
    text = strip_module_anchor(pipeline)
    if not text:
        return []
    try:
        specs = list(parse_pipeline(text))
    except ArgSpecParseError as e:
        detail = str(e).strip().splitlines()[-1].strip()
        raise SattnError(f"cannot parse pass pipeline '{pipeline}': {detail}") from None
    unknown = [s.name for s in specs if s.name not in available]
    if unknown:
        raise SattnError(
            f"unknown pass '{unknown[0]}' in pipeline '{pipeline}'; known passes: "
            + ", ".join(sorted(available))
        )
    passes = []
    for s in specs:
        cls = available[s.name]()
        try:
            p = cls.from_pass_spec(s)
        except (ValueError, TypeError, KeyError) as e:  # how xDSL reports bad pass options
            raise SattnError(f"bad options for pass '{s.name}': {e}") from None
        p = with_edge(p, hints)
        check = getattr(p, "select_pass", None)
        if check is not None:  # a pipeline: its selection options are checked now
            with_edge(check(), hints).hints()
        elif hasattr(p, "hints"):  # sattn-select-spec itself
            p.hints()
        passes.append(p)
    return passes


__all__ = ["PASSES", "PIPELINES", "build_pipeline", "strip_module_anchor"]
