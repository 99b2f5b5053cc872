"""What the selector returns: a :class:`Decision` (the spec, the rule that decided, why) and
the :class:`Candidate` rows of its cost comparison. Shared by the rules
(:mod:`sattn.selector.rules`) and the budget rule (:mod:`sattn.selector.accuracy`), which
both build decisions."""

from __future__ import annotations

from dataclasses import dataclass

from sattn.selector.cost import Cost
from sattn.selector.hints import Hints


@dataclass(frozen=True)
class Candidate:
    """One spec of the cost comparison: its cost, or why it has none."""

    spec: str
    cost: Cost | None
    status: str  # "chosen" | "ok" | "not computable (...)" | "disabled by SATTN_DISABLE_..." | ...

    def describe(self) -> str:
        cost = self.cost.describe() if self.cost is not None else "-"
        return f"{self.spec:<20} {self.status:<28} cost={cost}"


@dataclass(frozen=True)
class Decision:
    """The selected spec, the rule that decided, and every candidate considered."""

    spec: str
    rule: str
    reason: str
    candidates: tuple[Candidate, ...]
    hints: Hints
    skipped: tuple[str, ...] = ()  # forcing rules that applied but were disabled

    def explain(self) -> str:
        """Human-readable account: decision, hints, skipped rules, each candidate and its cost."""
        lines = [
            f"selection: spec={self.spec} rule={self.rule}",
            f"  reason: {self.reason}",
            f"  hints: {self.hints.describe()}",
        ]
        lines += [f"  skipped: {s}" for s in self.skipped]
        lines += [f"  candidate {c.describe()}" for c in self.candidates]
        return "\n".join(lines)


__all__ = ["Candidate", "Decision"]
