"""The sattn dialect (xDSL, :mod:`sattn.ir.dialect`) and its attribute schema.

The package re-exports the schema only, so that importing it stays cheap for schema users (the
reference and the patterns load no xDSL); import the dialect's names from
:mod:`sattn.ir.dialect`. ``SPECS`` is read from the pattern registry
(:mod:`sattn.ir.patterns`) on each use: the registry can grow at run time.
"""

from __future__ import annotations

from sattn.ir import patterns
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
    "DEFAULT_SCALES",
    "DEFAULT_TILES",
    "PRECISIONS",
    "SCHEMA",
    "SPECS",
    "AttentionParams",
    "AttrSpec",
    "Shape",
    "coerce",
    "params_from_dict",
]
