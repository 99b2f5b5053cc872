"""The sattn dialect (xDSL) and its attribute schema.

Importing ``sattn.ir`` is cheap for schema users; the xDSL dialect is loaded when one of its
names is first used.
"""

from __future__ import annotations

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

_DIALECT_NAMES = (
    "Sattn",
    "SattnOp",
    "SparseAttentionOp",
    "RvvCallOp",
    "RoccCallOp",
    "ATTENTION_OPS",
    "location_of",
)


def __getattr__(name: str):
    if name == "SPECS":  # the registered pattern names (sattn.ir.patterns)
        from sattn.ir import patterns

        return patterns.names()
    if name in _DIALECT_NAMES:
        from sattn.ir import dialect

        return getattr(dialect, name)
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
