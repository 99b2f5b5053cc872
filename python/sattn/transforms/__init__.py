"""sattn passes and pipelines: the name -> factory table and pipeline parsing.

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

from xdsl.passes import ModulePass
from xdsl.utils.arg_spec import parse_pipeline
from xdsl.utils.exceptions import ArgSpecParseError

from sattn.errors import SattnError
from sattn.selector import Hints
from sattn.transforms.bufferize import BufferizePass
from sattn.transforms.common import with_edge
from sattn.transforms.fuse_softmax import FuseSoftmaxPass
from sattn.transforms.lower_rocc import LowerRoccPipeline
from sattn.transforms.lower_rvv import LowerRvvPipeline
from sattn.transforms.lower_to_rocc import LowerToRoccPass
from sattn.transforms.lower_to_rvv import LowerToRvvPass
from sattn.transforms.materialize_indices import MaterializeIndicesPass
from sattn.transforms.select_spec import SelectSpecPass
from sattn.transforms.tile import TilePass
from sattn.transforms.vectorize import VectorizePass

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

#: Pass name -> a factory returning its ModulePass class (the form xDSL's pass registry takes).
PASSES: dict[str, Callable[[], type[ModulePass]]] = {
    "sattn-lower-rocc": lambda: LowerRoccPipeline,
    "sattn-lower-rvv": lambda: LowerRvvPipeline,
    "sattn-select-spec": lambda: SelectSpecPass,
    "sattn-materialize-indices": lambda: MaterializeIndicesPass,
    "sattn-tile": lambda: TilePass,
    "sattn-fuse-softmax": lambda: FuseSoftmaxPass,
    "sattn-lower-to-rvv": lambda: LowerToRvvPass,
    "sattn-lower-to-rocc": lambda: LowerToRoccPass,
    "sattn-vectorize": lambda: VectorizePass,
    "sattn-bufferize": lambda: BufferizePass,
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
