"""Spec selection: the spec's rules, its cost model (per target), environment hints and overrides.

``select_spec(params, env=None) -> Decision``; ``Decision.explain()`` tells why.
"""

from sattn.selector.cost import MODELS, Cost, TargetModel
from sattn.selector.hints import (
    DEFAULT_L1_BYTES,
    DEFAULT_TARGET,
    DISABLE_VARS,
    ENV_VARS,
    TARGETS,
    Hints,
    check_target,
)
from sattn.selector.rules import RULES, Candidate, Decision, select_spec

__all__ = [
    "DEFAULT_L1_BYTES",
    "DEFAULT_TARGET",
    "DISABLE_VARS",
    "ENV_VARS",
    "MODELS",
    "RULES",
    "TARGETS",
    "Candidate",
    "Cost",
    "Decision",
    "Hints",
    "TargetModel",
    "check_target",
    "select_spec",
]
