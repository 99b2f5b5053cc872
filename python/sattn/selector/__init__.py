"""Spec selection: the spec's rules, its cost model, environment hints and overrides.

``select_spec(params, env=None) -> Decision``; ``Decision.explain()`` tells why.
"""

from sattn.selector.cost import Cost
from sattn.selector.hints import DEFAULT_L1_BYTES, DISABLE_VARS, ENV_VARS, Hints
from sattn.selector.rules import RULES, Candidate, Decision, select_spec

__all__ = [
    "DEFAULT_L1_BYTES",
    "DISABLE_VARS",
    "ENV_VARS",
    "RULES",
    "Candidate",
    "Cost",
    "Decision",
    "Hints",
    "select_spec",
]
