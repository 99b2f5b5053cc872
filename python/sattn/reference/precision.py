"""Precision emulation, as the reference uses it: :mod:`sattn.precision` (which sits below the
pattern code, since selection scores the precision's view of Q and K)."""

from sattn.precision import (  # noqa: F401
    QMAX,
    Operands,
    check_scale,
    dequantize,
    is_integer,
    prepare,
    quantize,
    resolved_scales,
    round_bf16,
    selection_operands,
    to_bf16_bits,
    view,
)
