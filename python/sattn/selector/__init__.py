"""Spec selection: the spec's rules, its cost model (per target), environment hints and overrides.

``select_spec(params, env=None) -> Decision``; ``Decision.explain()`` tells why.
"""

from sattn.selector.cost import MODELS, Cost, TargetModel
from sattn.selector.decision import Candidate, Decision
from sattn.selector.hints import (
    DEFAULT_L1_BYTES,
    DEFAULT_TARGET,
    TARGETS,
    Hints,
    check_target,
    disable_vars,
    env_vars,
)
from sattn.selector.rules import rules, select_spec

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


def __getattr__(name: str):
    # RULES, DISABLE_VARS, ENV_VARS follow the pattern registry (read when asked)
    if name == "RULES":
        return rules()
    if name == "DISABLE_VARS":
        return disable_vars()
    if name == "ENV_VARS":
        return env_vars()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
