"""Make plain ``xdsl-opt`` see the sattn dialect and passes (``xdsl.universe`` entry point)."""

from __future__ import annotations

from xdsl.universe import Universe

from sattn.ir.dialect import Sattn
from sattn.transforms import PASSES


def _sattn_dialect():
    return Sattn


SATTN_UNIVERSE = Universe(all_dialects={"sattn": _sattn_dialect}, all_passes=dict(PASSES))
