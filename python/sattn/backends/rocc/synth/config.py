"""What one synthesis run builds: the hardware parameters and the flow's settings."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from sattn.backends.rocc.synth.buffering import MAX_FANOUT
from sattn.hw.isa import HW, HwParams

#: ABC script for the liberty mapping. ABC's default liberty script timed out (> 15 min) on the
#: MAC array; this one maps, buffers high-fan-out logic nodes (`buffer -p`) and resizes gates.
ABC_SCRIPT = "+strash;map;topo;buffer,-p;upsize;dnsize;stime,-p"

#: Units in report order: (module name after elaboration, what it is).
UNITS: tuple[tuple[str, str], ...] = (
    ("sattn_mac_array", "QK MAC array (fp32 multipliers, adder tree, int8 MACs)"),
    ("sattn_softmax", "streaming softmax (2 exp, scale, max, l update)"),
    ("sattn_core", "PV lanes, finalize (1/l), issue logic, acc/obuf registers"),
    ("sattn_gather", "index walk (index RAMs as macros)"),
    ("sattn_dma", "memory read port, beat unpacking"),
    ("sattn_writeback", "output row write port"),
    ("sattn_fifo_tokens", "token FIFO (gather -> core)"),
    ("sattn_fifo_requests", "DMA request FIFO"),
    ("sattn_fifo_scores", "score FIFO (MAC -> softmax)"),
    ("sattn_fifo_outstanding", "outstanding-read FIFO (DMA)"),
    ("sattn_fifo_out", "softmax output FIFO (softmax -> P.V issue)"),
    ("sattn_spad_kspad", "K scratchpad (memory macro + address logic)"),
    ("sattn_spad_vspad", "V scratchpad (memory macro + address logic)"),
    ("sattn_spad_qbuf", "Q row buffers (memory macro + address logic)"),
    ("sattn_nsa", "NSA scoring path: score buffer (macro), exp, 1/l, block-score accumulator"),
    ("sattn_topn", "top-n unit: the n best block scores, ties to the lower block"),
    ("rocc_sattn", "top: command decoder, registers, counters, row-ready bits"),
    ("sattn_fpu_mul", "one fp32 multiplier (reference unit, not part of the top)"),
    ("sattn_fpu_add", "one fp32 adder (reference unit)"),
    ("sattn_fpu_exp", "one exp unit fp_exp_neg (reference unit)"),
    ("sattn_fpu_recip", "one reciprocal unit fp_recip (reference unit)"),
    ("sattn_fpu_from_int", "one int32 -> fp32 converter (reference unit)"),
)

#: The FP reference units live in hw/synth/sattn_fpu.sv, outside the accelerator's hierarchy.
FPU_UNITS = tuple(name for name, _ in UNITS if name.startswith("sattn_fpu_"))
TOP = "rocc_sattn"


@dataclass(frozen=True)
class SynthConfig:
    """One synthesis run: the RTL parameters it compiles in and how the flow treats them."""

    name: str
    hw: HwParams = field(default_factory=lambda: HW)
    #: memories of at least this many bits (and without initial contents) become black-box
    #: macros; smaller ones (FIFOs, ROMs) are synthesised as flip-flops / logic
    macro_min_bits: int = 8192
    #: the STA reference clock; the critical path is period - worst slack, Fmax its inverse
    period_ns: float = 10.0
    #: macro timing (an assumption, not a datasheet): read data valid this long after the clock
    #: (or the address, for asynchronous read ports); inputs set up this long before the clock
    macro_access_ns: float = 3.0
    macro_setup_ns: float = 0.5
    abc_script: str = ABC_SCRIPT
    #: nets driving more loads than this get a buffer tree after ABC (see ``buffering``)
    max_fanout: int = MAX_FANOUT
    #: wall-clock limit of one tool run (one unit's mapping, one STA run)
    step_timeout_s: float = 3600.0
    #: units to synthesise (None: every unit of UNITS)
    units: tuple[str, ...] | None = None

    def selected_units(self) -> tuple[str, ...]:
        names = tuple(n for n, _ in UNITS)
        return names if self.units is None else tuple(n for n in names if n in self.units)

    def parameters(self) -> dict[str, int | str]:
        """The compiled-in parameters, for the report."""
        h = self.hw
        return {
            "lanes_qk": h.lanes_qk, "lanes_pv": h.lanes_pv, "dmax": h.dmax, "kv_rows": h.kv_rows,
            "run_depth": h.run_depth, "rowptr_depth": h.rowptr_depth, "q_slots": h.q_slots,
            "token_fifo": h.token_fifo, "outstanding": h.outstanding, "bus_bytes": h.bus_bytes,
            "kv_banks": h.kv_banks, "q_banks": h.q_banks,
            "precisions": "fp32 bf16 i8 i4",
        }


def lane_config(lanes_qk: int = HW.lanes_qk, **overrides) -> SynthConfig:
    """The accelerator as simulated, with ``lanes_qk`` QK lanes and as many PV lanes."""
    hw = replace(HW, lanes_qk=lanes_qk, lanes_pv=lanes_qk)
    for k in [k for k in overrides if hasattr(HW, k)]:
        hw = replace(hw, **{k: overrides.pop(k)})
    name = f"lanes{hw.lanes}" + "".join(f"_{k}{getattr(hw, k)}" for k in ("dmax", "kv_rows")
                                        if getattr(hw, k) != getattr(HW, k))
    return SynthConfig(name=name, hw=hw, **overrides)


def small_config(**overrides) -> SynthConfig:
    """A few lanes, DMAX 16 and tiny RAMs: the whole flow in seconds (the `make test` check)."""
    hw = HwParams(lanes_qk=2, lanes_pv=2, dmax=16, kv_rows=8, run_depth=16, rowptr_depth=8,
                  q_slots=4, bus_bytes=16, token_fifo=4, outstanding=4, kv_banks=2,
                  q_banks=1)
    # 2048 bits: the K/V scratchpads' banks (2 x 4 words of 16 elements) and the Q buffers' bank
    # (2 words of 32) become macros, and so does the 24-entry score FIFO (2352 bits here; it stays
    # flip-flops in the full configuration); the other FIFOs and the tiny index RAMs stay flip-flops
    base = {"name": "small", "hw": hw, "macro_min_bits": 2048, "step_timeout_s": 600.0}
    base.update(overrides)
    return SynthConfig(**base)
