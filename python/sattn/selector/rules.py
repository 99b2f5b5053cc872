"""Spec selection: the spec's rules in the spec's order, with an explanation.

Order (the first rule that applies decides):

1. ``SATTN_FORCE_SPEC`` (environment) -- wins over everything, probes and the ``spec`` /
   ``force_spec`` attributes included (when it beats an attribute, the explanation says so and
   a one-line note goes to stderr);
2. the ``force_spec`` attribute, then the ``spec`` attribute (explicit overrides);
3.-8. the forcing rules of the registered patterns, in registry order
   (:attr:`sattn.specs.pattern.Pattern.rule`; the built-ins: the spec's five, then nsa's)

3. ``global_tokens > 0``     -> block_local_global   (unless SATTN_DISABLE_BLG)
4. ``nm_n`` and ``nm_m`` set -> nm_structured        (unless SATTN_DISABLE_NM)
5. ``topk_k`` set            -> topk_per_query       (unless SATTN_DISABLE_TOPK)
6. ``lsh_buckets`` set       -> lsh                  (unless SATTN_DISABLE_LSH)
7. ``num_landmarks > 0``     -> landmark             (unless SATTN_DISABLE_LANDMARK)
8. ``select_blocks`` set     -> nsa                  (unless SATTN_DISABLE_NSA)
9. the cost model (:mod:`sattn.selector.cost`) over the computable, enabled candidates;
10. nothing computable       -> bsr, or dense when SATTN_DISABLE_BSR is set.

When the cost model (9) or the bsr default (10) decided and the op has a ``max_error``
attribute, the budget rule ``max_error`` (:func:`sattn.selector.accuracy.apply_budget`) may
replace the choice with the cheapest candidate whose error on the synthetic data is within it.

A disabled forcing rule falls through to the next rule. Costs are evaluated for every
candidate whatever rule decides, so the explanation always shows them.
"""

from __future__ import annotations

from collections.abc import Mapping

from sattn.errors import note
from sattn.ir.patterns import patterns
from sattn.ir.schema import AttentionParams
from sattn.selector.accuracy import apply_budget
from sattn.selector.cost import COST_MODELS, blg_competes
from sattn.selector.decision import Candidate, Decision
from sattn.selector.hints import Hints, disable_var


def forcing_patterns() -> tuple:
    """The registered patterns with a forcing rule, in registry order (rules 3-8 above)."""
    return tuple(p for p in patterns() if p.rule is not None)


def rules() -> tuple[str, ...]:
    """Rule identifiers, in order (``Decision.rule`` is one of these)."""
    return ("env_force_spec", "attr_force_spec", "attr_spec",
            *(p.rule.rule for p in forcing_patterns()),
            "cost_model", "default_bsr", "max_error", "fallback_dense")


def _cost_candidates(p: AttentionParams, hints: Hints) -> list[Candidate]:
    out = []
    for spec, model, needs in COST_MODELS:
        cost = model(p, hints)
        if spec == "block_local_global" and cost is not None and not blg_competes(p):
            out.append(Candidate(spec, cost, "not competing (no GQA/comp nudge)"))
        elif cost is None:
            out.append(Candidate(spec, None, f"not computable ({needs})"))
        elif spec in hints.disabled:
            out.append(Candidate(spec, cost, f"disabled by {disable_var(spec)}"))
        else:
            out.append(Candidate(spec, cost, "ok"))
    return out


def _mark(cands: list[Candidate], spec: str) -> tuple[Candidate, ...]:
    return tuple(
        Candidate(c.spec, c.cost, "chosen") if c.spec == spec and c.status == "ok" else c
        for c in cands
    )


def select_spec(params: AttentionParams, env: Mapping[str, str] | None = None,
                *, hints: Hints | None = None) -> Decision:
    """Choose the spec of one attention op under ``hints`` (or the variables of the mapping
    ``env``; neither: no hints -- the environment is read at the edge, not here)."""
    if hints is None:
        hints = Hints.from_env(env) if env is not None else Hints()
    p = params
    cands = _cost_candidates(p, hints)

    def done(spec: str, rule: str, reason: str, skipped: list[str]) -> Decision:
        return Decision(spec, rule, reason, _mark(cands, spec), hints, tuple(skipped))

    skipped: list[str] = []
    if hints.force_spec:
        reason = f"SATTN_FORCE_SPEC={hints.force_spec}"
        beaten = [f'{name} = "{value}"' for name, value in (("force_spec", p.force_spec),
                                                            ("spec", p.spec))
                  if value and value != hints.force_spec]
        if beaten:
            # the environment wins over the IR: say so (in the explanation and on stderr)
            reason += f" (wins over the attribute {' and '.join(beaten)})"
            skipped += [f"attribute {b} overridden by SATTN_FORCE_SPEC={hints.force_spec}"
                        for b in beaten]

            note(f"SATTN_FORCE_SPEC={hints.force_spec} wins over the attribute "
                 f"{' and '.join(beaten)}")
        return done(hints.force_spec, "env_force_spec", reason, skipped)
    if p.force_spec:
        return done(p.force_spec, "attr_force_spec", f"attribute force_spec = \"{p.force_spec}\"", skipped)
    if p.spec:
        return done(p.spec, "attr_spec", f"attribute spec = \"{p.spec}\"", skipped)

    for pattern in forcing_patterns():  # the registry's order: the spec's rule order
        rule = pattern.rule
        if not rule.applies(p):
            continue
        why = rule.why(p)
        if pattern.name in hints.disabled:
            skipped.append(f"{rule.rule} ({why}) disabled by {disable_var(pattern.name)}")
            continue
        return done(pattern.name, rule.rule, why, skipped)

    usable = [c for c in cands if c.status == "ok"]
    if usable:
        order = [spec for spec, _, _ in COST_MODELS]
        best = min(usable, key=lambda c: (c.cost.total, order.index(c.spec)))  # type: ignore[union-attr]
        others = ", ".join(f"{c.spec} {c.cost.total:.4g}" for c in usable if c is not best)  # type: ignore[union-attr]
        reason = f"cheapest computable candidate: {best.spec} {best.cost.total:.4g}"  # type: ignore[union-attr]
        if others:
            reason += f" (vs {others})"
        return apply_budget(p, done(best.spec, "cost_model", reason, skipped))
    if "bsr" not in hints.disabled:
        return apply_budget(
            p, done("bsr", "default_bsr", "no cost computable: the spec's default is bsr", skipped)
        )
    return done("dense", "fallback_dense", "no cost computable and bsr disabled: dense attention", skipped)


def __getattr__(name: str):
    if name == "RULES":  # the rule identifiers of the registered patterns
        return rules()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
