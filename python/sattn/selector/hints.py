"""Selector hints from the environment: overrides, preferences, probes and the L1 size.

The tools map their flags to these variables (``--prefer-bsr`` -> ``SATTN_PREFER_BSR=1``,
``--l1-bytes N`` -> ``SATTN_HW_L1_BYTES=N``, ``--use-hw-probe`` -> ``SATTN_DISABLE_*``), so one
parser serves every entry point. ``SATTN_TARGET`` (rvv, rocc, reference; default rvv) says
what the selection is for; the API and the sweep set it for the backend they run. A flag
variable (``SATTN_PREFER_*``, ``SATTN_DISABLE_*``) is on for ``1``, ``true``, ``yes``, ``on``
and off for ``0``, ``false``, ``no``, ``off`` or empty (any case); anything else is a one-line
error naming the variable -- a typo never silently counts as on.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from sattn.errors import SattnError
from sattn.ir.schema import SPECS

#: Default L1 data-cache size for the block cache-fit heuristic (bytes).
DEFAULT_L1_BYTES = 32768

#: What the selector can select for: the RVV pipeline, the RoCC pipeline, the NumPy reference.
#: Each has its own fitted cost-model weights (:data:`sattn.selector.cost.MODELS`).
TARGETS: tuple[str, ...] = ("rvv", "rocc", "reference")
#: ``sattn-lower-rvv`` is the spec's main pipeline.
DEFAULT_TARGET = "rvv"


def check_target(value: str, where: str = "environment variable SATTN_TARGET") -> str:
    """``value`` if it names a target, else a one-line SattnError naming ``where``."""
    if value not in TARGETS:
        raise SattnError(f"{where} must be one of {', '.join(TARGETS)}, got {value!r}")
    return value

#: ``SATTN_DISABLE_<KEY>`` -> the spec it removes from consideration.
DISABLE_VARS: dict[str, str] = {
    "SATTN_DISABLE_SW": "sliding_window",
    "SATTN_DISABLE_BSR": "bsr",
    "SATTN_DISABLE_BLG": "block_local_global",
    "SATTN_DISABLE_NM": "nm_structured",
    "SATTN_DISABLE_TOPK": "topk_per_query",
    "SATTN_DISABLE_LSH": "lsh",
    "SATTN_DISABLE_LANDMARK": "landmark",
}

#: Every variable the selector reads (documentation and ``--explain-selection``).
ENV_VARS: tuple[str, ...] = (
    "SATTN_FORCE_SPEC",
    "SATTN_PREFER_BSR",
    "SATTN_PREFER_SW",
    "SATTN_HW_L1_BYTES",
    "SATTN_TARGET",
    "SATTN_MAX_ERROR_DATA",  # the data of the max_error estimates (sattn.selector.accuracy)
    *DISABLE_VARS,
)

_OFF = ("", "0", "false", "no", "off")
_ON = ("1", "true", "yes", "on")


def _flag(env: Mapping[str, str], name: str) -> bool:
    value = env.get(name, "").strip().lower()
    if value in _ON:
        return True
    if value in _OFF:
        return False
    raise SattnError(f"environment variable {name} must be one of {'/'.join(_ON + _OFF[1:])} "
                     f"(or empty), got {env[name]!r}")


@dataclass(frozen=True)
class Hints:
    """What the environment asks of the selector."""

    force_spec: str | None = None
    prefer_bsr: bool = False
    prefer_sw: bool = False
    l1_bytes: int = DEFAULT_L1_BYTES
    disabled: frozenset[str] = frozenset()
    target: str = DEFAULT_TARGET
    #: ``SATTN_MAX_ERROR_DATA``: the .safetensors file the max_error estimates measure on
    max_error_data: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Hints:
        """Parse the hints from ``env`` (default: ``os.environ``); bad values raise SattnError."""
        env = os.environ if env is None else env
        force = env.get("SATTN_FORCE_SPEC", "").strip() or None
        if force is not None and force not in SPECS:
            raise SattnError(
                f"environment variable SATTN_FORCE_SPEC must be one of {', '.join(SPECS)}, "
                f"got {force!r}"
            )
        raw_l1 = env.get("SATTN_HW_L1_BYTES", "").strip()
        l1 = DEFAULT_L1_BYTES
        if raw_l1:
            try:
                l1 = int(raw_l1, 0)
            except ValueError:
                l1 = -1
            if l1 <= 0:
                raise SattnError(
                    f"environment variable SATTN_HW_L1_BYTES expects a positive integer, got {raw_l1!r}"
                )
        prefer_bsr, prefer_sw = _flag(env, "SATTN_PREFER_BSR"), _flag(env, "SATTN_PREFER_SW")
        if prefer_bsr and prefer_sw:
            raise SattnError("SATTN_PREFER_BSR and SATTN_PREFER_SW are both set; choose one")
        disabled = frozenset(spec for var, spec in DISABLE_VARS.items() if _flag(env, var))
        target = check_target(env.get("SATTN_TARGET", "").strip() or DEFAULT_TARGET)
        data = env.get("SATTN_MAX_ERROR_DATA", "").strip() or None
        return cls(force, prefer_bsr, prefer_sw, l1, disabled, target, data)

    def describe(self) -> str:
        """One line: the hints in effect."""
        prefer = "bsr" if self.prefer_bsr else "sw" if self.prefer_sw else "none"
        disabled = ",".join(sorted(self.disabled)) or "none"
        data = f" max_error_data={self.max_error_data}" if self.max_error_data else ""
        return (
            f"force={self.force_spec or 'none'} prefer={prefer} l1_bytes={self.l1_bytes} "
            f"disabled={disabled} target={self.target}{data}"
        )
