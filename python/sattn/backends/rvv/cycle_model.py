"""A cycle model of an in-order RVV machine, applied to the vector profile the qemu plugin measures.

The plugin (``plugin/count.c``) counts every executed instruction of the kernel region and
tallies each vector instruction by (class, element width, element count) under the vector
configuration it executed with. This module turns that profile into *modelled* cycles of a
documented machine — never a measurement, always named "model".

The machine (:class:`VectorMachine`): VLEN bits per vector register, a vector datapath of DLEN
bits per cycle, one memory port of ``mem_bytes_per_cycle`` bytes per cycle, a scalar pipeline
retiring ``scalar_ipc`` instructions per cycle. Single issue, in order, nothing overlaps: the
modelled cycles are the sum of the occupancies below.

| class | occupancy (cycles, at least 1) |
|---|---|
| scalar instruction, vsetvli / vsetivli / vsetvl | 1 / scalar_ipc |
| element-wise arithmetic, divide, whole-register move | ceil(VL * SEW / DLEN) |
| widening / narrowing arithmetic | ceil(VL * 2 SEW / DLEN) |
| mask logic (vmand..., vcpop, vfirst, vms*f) | ceil(VL / DLEN) |
| unordered reduction (widening: 2 SEW) | ceil(VL * SEW / DLEN) + log2(DLEN / SEW) |
| ordered reduction, vrgather, vcompress | VL (one element per cycle) |
| vmv.x.s, vmv.s.x, vfmv.f.s, vfmv.s.f | 1 |
| unit-stride load / store (segments: NF fields) | ceil(VL * EEW / 8 * NF / mem_bytes_per_cycle) |
| whole-register load / store | ceil(NREG * VLEN / 8 / mem_bytes_per_cycle) |
| strided / indexed load / store | VL * NF (one element per cycle) |

Where it errs: it is a *lower* bound for a machine with these widths that stalls on memory
latency or dependences (none are modelled: no latency, no chaining delays, divide at the
arithmetic rate) and an *upper* bound for one that overlaps scalar work, vector memory and
vector arithmetic (decoupled or multi-issue machines). The VL of a ``vsetvli`` with its AVL in
a register cannot be read through QEMU 7.2's plugin API; the plugin models it as VLMAX, an
upper bound for the short tail strips of strip-mined loops (the instructions executed under
such a VL are counted in ``vl_vlmax_ops``). Instructions executed before any ``vsetvli`` or
after a ``vsetvl`` (vtype from a register) have no known configuration; they are costed at
LMUL 8, SEW 8 (the most a vector instruction can occupy: an upper bound) and counted in
``unknown_vtype_ops``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from sattn.errors import SattnError

#: Default datapath: 128 bits (four fp32 lanes) and a 16-byte memory port, one scalar per cycle.
DEFAULT_DLEN = 128
DEFAULT_MEM_BYTES = 16
DEFAULT_SCALAR_IPC = 1.0

SCALAR_LIKE = ("vset", "vsetvl")
DATAPATH = ("arith", "wide", "div", "vmvr")
REDUCTIONS = ("red", "red_wide")
ELEMENT_SERIAL = ("red_ord", "perm", "ld_strided", "st_strided", "ld_indexed", "st_indexed")
UNIT_MEMORY = ("ld_unit", "st_unit")
MEMORY = UNIT_MEMORY + ("ld_strided", "st_strided", "ld_indexed", "st_indexed")
CLASSES = SCALAR_LIKE + DATAPATH + REDUCTIONS + ELEMENT_SERIAL + UNIT_MEMORY + ("mask", "move")


@dataclass(frozen=True)
class VectorMachine:
    """The modelled in-order vector machine (see the module docstring)."""

    vlen: int
    dlen: int = DEFAULT_DLEN
    mem_bytes_per_cycle: int = DEFAULT_MEM_BYTES
    scalar_ipc: float = DEFAULT_SCALAR_IPC

    def __post_init__(self) -> None:
        for name in ("vlen", "dlen", "mem_bytes_per_cycle"):
            val = getattr(self, name)
            if isinstance(val, bool) or not isinstance(val, int) or val <= 0:
                raise SattnError(f"cycle model: {name} must be a positive integer, got {val!r}")
        if self.dlen & (self.dlen - 1) or self.dlen < 8:
            raise SattnError(f"cycle model: dlen must be a power of two >= 8 bits, got {self.dlen}")
        if not (isinstance(self.scalar_ipc, (int, float)) and self.scalar_ipc > 0):
            raise SattnError(f"cycle model: scalar_ipc must be > 0, got {self.scalar_ipc!r}")

    def describe(self) -> str:
        return (f"vlen={self.vlen} dlen={self.dlen} mem_bytes_per_cycle={self.mem_bytes_per_cycle} "
                f"scalar_ipc={self.scalar_ipc:g}")


@dataclass
class VectorProfile:
    """The plugin's tally of the region: ``ops[(class, bits, elements or None, vl_modelled)]``
    = executed count (``None`` elements: configuration unknown), ``scalar`` = non-vector
    instructions, ``vlen`` the VLEN the program ran with."""

    vlen: int
    scalar: int
    ops: dict[tuple[str, int, int | None, bool], int] = field(default_factory=dict)

    @property
    def vector(self) -> int:
        return sum(self.ops.values())

    def count(self, cls: str) -> int:
        return sum(c for (k, _, _, _), c in self.ops.items() if k == cls)


def parse_profile(counts: dict[str, int], text: str) -> VectorProfile | None:
    """The ``vop`` lines of the plugin's output (None when the plugin ran without ``vlen=``)."""
    if "vlen" not in counts:
        return None
    prof = VectorProfile(vlen=counts["vlen"], scalar=counts["instructions"] - counts["vector"])
    for line in text.splitlines():
        if not line.startswith("vop "):
            continue
        _, cls, bits, n, modelled, c = line.split()
        if cls not in CLASSES:
            raise SattnError(f"counting plugin: unknown vector class {cls!r}")
        key = (cls, int(bits), None if n == "unknown" else int(n), modelled == "1")
        prof.ops[key] = prof.ops.get(key, 0) + int(c)
    if prof.vector != counts["vector"]:
        raise SattnError(f"counting plugin: vector profile holds {prof.vector} instructions, "
                         f"the counter {counts['vector']}")
    return prof


def op_cycles(cls: str, bits: int, n: int | None, m: VectorMachine) -> Fraction:
    """Occupancy of one vector instruction of class ``cls`` on ``n`` elements of ``bits`` bits
    (``n`` None: configuration unknown, costed as LMUL 8 at SEW 8)."""
    if cls in SCALAR_LIKE:
        return 1 / Fraction(m.scalar_ipc)
    if cls == "move":
        return Fraction(1)
    if n is None:  # the most any vector instruction can hold: 8 registers of 8-bit elements
        bits, n = 8, m.vlen
    total_bits = n * bits
    if cls in DATAPATH or cls == "mask":
        return Fraction(max(1, -(-total_bits // m.dlen)))
    if cls in REDUCTIONS:
        lanes = max(1, m.dlen // bits)
        return Fraction(max(1, -(-total_bits // m.dlen)) + int(math.log2(lanes)))
    if cls in UNIT_MEMORY:
        nbytes = -(-total_bits // 8)
        return Fraction(max(1, -(-nbytes // m.mem_bytes_per_cycle)))
    if cls in ELEMENT_SERIAL:
        return Fraction(max(1, n))
    raise SattnError(f"cycle model: no cost for vector class {cls!r}")


@dataclass(frozen=True)
class ModelCycles:
    """Modelled cycles of a region and their split."""

    machine: VectorMachine
    cycles: int
    scalar: Fraction
    vector_arith: Fraction
    vector_mem: Fraction
    vl_vlmax_ops: int
    unknown_vtype_ops: int

    def line(self) -> str:
        """The ``rvv_cycles(model):`` report line (the assumptions are part of it)."""
        return (f"rvv_cycles(model): cycles={self.cycles} {self.machine.describe()} "
                f"scalar={float(self.scalar):.0f} vector_arith={float(self.vector_arith):.0f} "
                f"vector_mem={float(self.vector_mem):.0f} vl_vlmax_ops={self.vl_vlmax_ops} "
                f"unknown_vtype_ops={self.unknown_vtype_ops} "
                f"(modelled: in-order, single issue, no overlap, no memory latency)")


def model(profile: VectorProfile, machine: VectorMachine) -> ModelCycles:
    """Modelled cycles of ``profile`` on ``machine`` (see the module docstring)."""
    if machine.vlen != profile.vlen:
        raise SattnError(f"cycle model: the profile was measured at VLEN {profile.vlen}, "
                         f"the machine has VLEN {machine.vlen}")
    scalar = profile.scalar / Fraction(machine.scalar_ipc)
    arith = mem = Fraction(0)
    vlmax_ops = unknown = 0
    for (cls, bits, n, modelled), c in profile.ops.items():
        cost = c * op_cycles(cls, bits, n, machine)
        if cls in SCALAR_LIKE:
            scalar += cost
        elif cls in MEMORY:
            mem += cost
        else:
            arith += cost
        vlmax_ops += c if modelled else 0
        unknown += c if n is None and cls not in SCALAR_LIKE else 0
    total = math.ceil(scalar + arith + mem)
    return ModelCycles(machine, total, scalar, arith, mem, vlmax_ops, unknown)


def machine_for(vlen: int, dlen: int | None = None, mem_bytes_per_cycle: int | None = None,
                scalar_ipc: float | None = None) -> VectorMachine:
    """A :class:`VectorMachine` with the documented defaults for the options left None."""
    return VectorMachine(vlen, DEFAULT_DLEN if dlen is None else dlen,
                         DEFAULT_MEM_BYTES if mem_bytes_per_cycle is None else mem_bytes_per_cycle,
                         DEFAULT_SCALAR_IPC if scalar_ipc is None else scalar_ipc)


def model_cycles_of(result: Any, dlen: int | None = None, mem_bytes_per_cycle: int | None = None,
                    scalar_ipc: float | None = None) -> int:
    """Modelled cycles of an RVV :class:`~sattn.result.RunResult` on the machine with these
    parameters (defaults: the documented ones), recomputed from the run's vector profile — no
    rerun. This is what a cost model that ranks RVV configurations by time should read."""
    prof = getattr(result, "vector_profile", None)
    if prof is None:
        raise SattnError("cycle model: this RVV run has no vector profile (run it with count=True)")
    return model(prof, machine_for(prof.vlen, dlen, mem_bytes_per_cycle, scalar_ipc)).cycles
