"""The precision table: one row per precision, read by everything that stores, loads or
scores Q/K/V (the schema, the reference's quantisation, vectorize, bufferize, the RVV runner
and its generated ABI header, the RoCC driver and the generated ISA, the resource estimates).

=========  ====  =====  =========  ====  =============
precision  code  bits   load SEW   qmax  default scale
=========  ====  =====  =========  ====  =============
fp32       0     32     32         -     -
bf16       1     16     16         -     -
i8         2     8      8          127   0.05
i4         3     4      8 (a)      7     0.125
=========  ====  =====  =========  ====  =============

(a) i4 codes are stored two per byte (element ``2i`` in the low nibble) and unpacked to bytes
before use. Codes are the RoCC ``PRECISION`` register's and the RVV header's; the default
scales are the spec's guidance (0.05 for int8, 0.10-0.125 for int4).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Precision:
    """One precision's storage and arithmetic facts."""

    name: str
    code: int  # RoCC PRECISION register value and RVV header code
    bits: int  # bits per element in memory
    load_sew: int  # RVV element width of the loads
    qmax: int | None = None  # largest code magnitude (symmetric integer precisions)
    default_scale: float | None = None  # per-tensor scale when the attribute is unset

    @property
    def is_integer(self) -> bool:
        return self.qmax is not None

    def storage_bytes(self, elements: int) -> int:
        """Bytes of ``elements`` values in memory (i4: two per byte, rounded up)."""
        return (elements * self.bits + 7) // 8

    def element_bytes(self) -> float:
        """Bytes per element (0.5 for i4)."""
        return self.bits / 8


TABLE: dict[str, Precision] = {
    p.name: p
    for p in (
        Precision("fp32", 0, 32, 32),
        Precision("bf16", 1, 16, 16),
        Precision("i8", 2, 8, 8, qmax=127, default_scale=0.05),
        Precision("i4", 3, 4, 8, qmax=7, default_scale=0.125),
    )
}

PRECISIONS: tuple[str, ...] = tuple(TABLE)
#: name -> code (RoCC PRECISION register, RVV header).
CODES: dict[str, int] = {p.name: p.code for p in TABLE.values()}
#: name -> bits per element in memory.
BITS: dict[str, int] = {p.name: p.bits for p in TABLE.values()}
#: name -> largest code magnitude (integer precisions only).
QMAX: dict[str, int] = {p.name: p.qmax for p in TABLE.values() if p.qmax is not None}
#: name -> default per-tensor scale (integer precisions only).
DEFAULT_SCALES: dict[str, float] = {p.name: p.default_scale for p in TABLE.values()
                                    if p.default_scale is not None}
#: name -> RVV load element width.
LOAD_SEW: dict[str, int] = {p.name: p.load_sew for p in TABLE.values()}
#: name -> bytes per element (float: 0.5 for i4).
ELEMENT_BYTES: dict[str, float] = {p.name: p.element_bytes() for p in TABLE.values()}

__all__ = ["BITS", "CODES", "DEFAULT_SCALES", "ELEMENT_BYTES", "LOAD_SEW", "PRECISIONS", "QMAX",
           "TABLE", "Precision"]
