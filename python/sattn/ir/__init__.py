"""The sattn dialect (xDSL) and its attribute schema.

``SPECS`` is read from the pattern registry (:mod:`sattn.ir.patterns`) on each use: the
registry can grow at run time.
"""

from __future__ import annotations

from sattn.ir import patterns
from sattn.ir.dialect import (
    ATTENTION_OPS,
    RoccCallOp,
    RvvCallOp,
    Sattn,
    SattnOp,
    SparseAttentionOp,
    location_of,
)
from sattn.ir.schema import (
    DEFAULT_SCALES,
    DEFAULT_TILES,
    PRECISIONS,
    SCHEMA,
    AttentionParams,
    AttrSpec,
    Shape,
    coerce,
    params_from_dict,
)


def __getattr__(name: str):
    if name == "SPECS":  # the registered pattern names (sattn.ir.patterns)
        return patterns.names()
    raise AttributeError(f"module 'sattn.ir' has no attribute {name!r}")


__all__ = [
    "ATTENTION_OPS",
    "DEFAULT_SCALES",
    "DEFAULT_TILES",
    "PRECISIONS",
    "SCHEMA",
    "SPECS",
    "AttentionParams",
    "AttrSpec",
    "RoccCallOp",
    "RvvCallOp",
    "Sattn",
    "SattnOp",
    "Shape",
    "SparseAttentionOp",
    "coerce",
    "location_of",
    "params_from_dict",
]
