"""Autotuning of the RVV kernels: measure every configuration, keep the cheapest.

The sweep for a selected spec: LMUL in (1, 2, 4, 8) — the strip width of the kernel is
VLEN/32 * LMUL keys — and, for the block patterns (bsr, block_local_global), the block size
(16, 32, 64, 128 tokens, at most S; plus the op's own). For bsr with compression scoring also
the compression block size (4, 8, 16, at most the block). Every configuration runs under qemu
with the counting plugin; the metric is the *modelled* cycle count of the kernel region
(:mod:`sattn.backends.rvv.cycle_model`: the measured vector profile costed on an in-order
machine with a DLEN-bit datapath), not the instruction count — an LMUL-8 instruction keeps the
datapath eight times longer than an LMUL-1 one, so fewer instructions is not less time. The
measured instruction counts are kept beside it. Block and compression sizes change the
selection, so the table also records the density and the instructions per attended pair; the
winner is the fewest modelled cycles among configurations whose density is within
``DENSITY_SLACK`` of the op's own (so the tuner does not "win" by attending to fewer keys).

:func:`autotune` returns a :class:`Tuned` whose ``params``/``options`` the caller runs and whose
``line()`` is the ``autotune:`` line (the winning LMUL is written into the params'
``vector_strips`` record, which the runner reads); :func:`write_back` writes the winner as attributes of the
op into an MLIR file.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sattn.backends.rvv import cycle_model, runner
from sattn.errors import SattnError
from sattn.frontend import with_overrides
from sattn.ir.schema import AttentionParams
from sattn.specs import pattern_of
from sattn.toolrun import atomic_write

#: Accept block-size changes only while the density stays within this relative band.
DENSITY_SLACK = 0.25
BLOCK_SIZES = (16, 32, 64, 128)
COMP_BLOCK_SIZES = (4, 8, 16)


@dataclass
class Trial:
    """One measured configuration."""

    lmul: int
    attrs: dict[str, int]
    instructions: int
    vector: int
    density: float
    pairs: int
    model_cycles: int

    def describe(self) -> str:
        extra = "".join(f" {k}={v}" for k, v in self.attrs.items())
        return f"lmul={self.lmul}{extra}"


@dataclass
class Tuned:
    """The winner of a sweep, and every trial."""

    params: AttentionParams
    options: dict[str, Any]
    best: Trial
    baseline: Trial
    trials: list[Trial] = field(default_factory=list)
    machine: str = ""  #: the modelled machine the cycles are for

    @property
    def attrs(self) -> dict[str, int]:
        """Attributes to write back (block sizes; LMUL is in ``params``' vector_strips record)."""
        return dict(self.best.attrs)

    def line(self) -> str:
        b, base = self.best, self.baseline
        gain = base.model_cycles / b.model_cycles if b.model_cycles else float("nan")
        return (f"autotune: spec={self.params.spec} best {b.describe()} "
                f"model_cycles={b.model_cycles} instructions={b.instructions} "
                f"vector={b.vector} per_pair={b.instructions / max(1, b.pairs):.3f} "
                f"density={b.density:.4f} baseline({base.describe()}) model_cycles="
                f"{base.model_cycles} instructions={base.instructions} "
                f"model_speedup={gain:.2f}x trials={len(self.trials)} {self.machine}")


def candidates(params: AttentionParams, seq_len: int) -> list[dict[str, int]]:
    """Attribute variations to try for the selected spec (always includes 'no change')."""
    out: list[dict[str, int]] = [{}]
    if pattern_of(params.spec).block_tunable:
        own = params.effective_block_size(seq_len)
        sizes = sorted({b for b in BLOCK_SIZES if b <= seq_len} | {own})
        comp = [params.comp_block_size] if params.comp_block_size > 0 else [0]
        if params.comp_block_size > 0:
            comp = sorted({c for c in COMP_BLOCK_SIZES} | {params.comp_block_size})
        out = []
        for b, c in itertools.product(sizes, comp):
            if c and c > b:
                continue
            a = {"block_size": b}
            if c:
                a["comp_block_size"] = c
            out.append(a)
    return out


def autotune(params: AttentionParams, q: np.ndarray, k: np.ndarray, v: np.ndarray, *,
             vlen: int | None = None, lmuls: tuple[int, ...] = runner.LMULS,
             dlen: int | None = None, mem_bytes_per_cycle: int | None = None,
             scalar_ipc: float | None = None, **options: Any) -> Tuned:
    """Measure every (LMUL, attributes) configuration of ``params.spec`` and pick the one with
    the fewest modelled cycles on the machine (``dlen``, ``mem_bytes_per_cycle``,
    ``scalar_ipc``; defaults: :mod:`sattn.backends.rvv.cycle_model`)."""
    if params.spec is None:
        raise SattnError("autotune: no spec selected")
    seq_len = q.shape[1]
    vlen = runner.vector_config(params, vlen)[0]
    machine = cycle_model.machine_for(vlen, dlen, mem_bytes_per_cycle, scalar_ipc)
    trials: list[Trial] = []
    for attrs in candidates(params, seq_len):
        p = _with_attrs(params, attrs)
        for lmul in lmuls:
            r = runner.run(p, q, k, v, vlen=vlen, lmul=lmul, dlen=machine.dlen,
                           mem_bytes_per_cycle=machine.mem_bytes_per_cycle,
                           scalar_ipc=machine.scalar_ipc)
            c = r.counters
            trials.append(Trial(lmul, attrs, c["instructions"], c["vector"], r.density,
                                c["selected_pairs"] * p.gqa_group_size, c["model_cycles"]))
    base = next((t for t in trials if not t.attrs and t.lmul == runner.DEFAULT_LMUL),
                None) or trials[0]
    if base.attrs:  # block specs: the baseline is the op's own block size at the default LMUL
        own = {"block_size": params.effective_block_size(seq_len)}
        if params.comp_block_size > 0:
            own["comp_block_size"] = params.comp_block_size
        base = next(t for t in trials if t.attrs == own and t.lmul == runner.DEFAULT_LMUL)
    ok = [t for t in trials if abs(t.density - base.density) <= DENSITY_SLACK * base.density]
    best = min(ok, key=lambda t: (t.model_cycles, t.instructions, t.lmul))
    # the winning LMUL goes into the op's vector_strips record: the run reads it from there
    tuned_params = runner.with_strips(_with_attrs(params, best.attrs), vlen, best.lmul)
    opts = {"dlen": machine.dlen,
            "mem_bytes_per_cycle": machine.mem_bytes_per_cycle, "scalar_ipc": machine.scalar_ipc}
    return Tuned(tuned_params, opts, best, base, trials, machine.describe())


def _with_attrs(params: AttentionParams, attrs: dict[str, int]) -> AttentionParams:
    """``params`` with a candidate's attributes; the index records of a lowered op are made
    from the attributes a candidate changes, so they go with the change."""
    if not attrs:
        return params
    extra = {k: v for k, v in params.extra.items() if k not in ("index_table", "selection_plan")}
    return params.replace(**attrs, extra=extra)


def write_back(mlir: str | Path, out: str | Path, attrs: dict[str, Any], note: str = "", *,
               op: int | None = None) -> None:
    """Write ``mlir``'s op with the winning attributes ``attrs`` to ``out`` (atomically);
    ``note`` (the autotune line) goes in a comment above it."""
    text = with_overrides(mlir, attrs, op=op)
    atomic_write(out, (f"// {note}\n" if note else "") + text)


def tuned_attrs(params: AttentionParams) -> dict[str, Any]:
    """The tunable attributes of (tuned) params that are set."""
    return {k: getattr(params, k) for k in ("block_size", "comp_block_size")
            if getattr(params, k)}
