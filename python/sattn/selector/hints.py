"""Selector hints: overrides, preferences, probes and the L1 size, as one value.

:class:`Hints` is what ``sattn-select-spec``'s options say (``target``, ``prefer``,
``l1-bytes``, ``disable``, ``force``; :meth:`Hints.with_options`). The environment variables
of the spec (``SATTN_FORCE_SPEC``, ``SATTN_PREFER_BSR``/``_SW``, ``SATTN_HW_L1_BYTES``,
``SATTN_DISABLE_*``, ``SATTN_TARGET``) are read ONCE, at the command-line edge (the tools and
the API entry points call :meth:`Hints.from_env` with ``os.environ`` and hand the result to the
pass pipeline); nothing below the edge reads or writes the environment. The tools' flags map
to the same values (``--prefer-bsr`` -> prefer bsr, ``--l1-bytes N``, ``--use-hw-probe`` ->
disable what the hardware lacks). A flag variable (``SATTN_PREFER_*``, ``SATTN_DISABLE_*``) is
on for ``1``, ``true``, ``yes``, ``on`` and off for ``0``, ``false``, ``no``, ``off`` or empty
(any case); anything else is a one-line error naming the variable -- a typo never silently
counts as on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from sattn.errors import SattnError
from sattn.ir.patterns import known, names, patterns

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

def disable_vars() -> dict[str, str]:
    """``SATTN_DISABLE_<KEY>`` -> the spec it removes from consideration (each registered
    pattern's :attr:`~sattn.specs.pattern.Pattern.disable_key`)."""
    return {f"SATTN_DISABLE_{p.disable_key}": p.name for p in patterns()
            if p.disable_key is not None}


def parse_vlen(value: str | int | None, where: str) -> int | None:
    """A VLEN (bits): a power of two in [128, 65536]; None stays None."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = int(value, 0)
        except ValueError:
            raise SattnError(f"{where} expects a power of two >= 128, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, int) or value < 128 or value > 65536 \
            or value & (value - 1):
        raise SattnError(f"{where} expects a power of two in [128, 65536], got {value!r}")
    return value


def spec_of_key(name: str, where: str = "disable") -> str:
    """The pattern a ``disable`` entry names: a pattern name or its disable key (any case)."""
    text = str(name).strip()
    if known(text):
        return text
    for p in patterns():
        if p.disable_key is not None and p.disable_key.lower() == text.lower():
            return p.name
    keys = ", ".join(p.disable_key.lower() for p in patterns() if p.disable_key)
    raise SattnError(f"{where}: unknown pattern {name!r} (a pattern name, or one of {keys})")


def disable_var(spec: str) -> str:
    """The variable that disables ``spec`` (``SATTN_DISABLE_<KEY>``)."""
    return next((var for var, name in disable_vars().items() if name == spec),
                f"disable={spec}")


def env_vars() -> tuple[str, ...]:
    """Every variable the selector reads (documentation and ``--explain-selection``)."""
    return ("SATTN_FORCE_SPEC", "SATTN_PREFER_BSR", "SATTN_PREFER_SW", "SATTN_HW_L1_BYTES",
            "SATTN_TARGET", "SATTN_MAX_ERROR_DATA", *disable_vars())

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
    #: whether ``target`` was asked for (an edge variable or option), not the default
    explicit_target: bool = False
    #: the RVV vector length the edge asked for (``SATTN_VLEN``): sattn-vectorize's default
    vlen: int | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Hints:
        """Parse the hints from the variables of ``env`` (the edge passes ``os.environ``); bad
        values raise SattnError naming the variable."""
        force = env.get("SATTN_FORCE_SPEC", "").strip() or None
        if force is not None and not known(force):
            raise SattnError(
                f"environment variable SATTN_FORCE_SPEC must be one of {', '.join(names())}, "
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
        disabled = frozenset(spec for var, spec in disable_vars().items() if _flag(env, var))
        raw_target = env.get("SATTN_TARGET", "").strip()
        target = check_target(raw_target or DEFAULT_TARGET)
        data = env.get("SATTN_MAX_ERROR_DATA", "").strip() or None
        vlen = parse_vlen(env.get("SATTN_VLEN", "").strip() or None,
                          "environment variable SATTN_VLEN")
        return cls(force, prefer_bsr, prefer_sw, l1, disabled, target, data, bool(raw_target),
                   vlen)

    def with_options(self, *, target: str | None = None, prefer: str | None = None,
                     l1_bytes: int | None = None, disable: tuple[str, ...] = (),
                     force: str | None = None, max_error_data: str | None = None,
                     where: str = "sattn-select-spec") -> Hints:
        """These hints with pass options applied (an option beats the edge's value; ``disable``
        adds to it). ``prefer`` is ``bsr``, ``sw`` (or ``sliding_window``) or ``none``;
        ``disable`` names patterns or their keys (``sliding_window``/``sw``, ``nm``, ...)."""
        changes: dict = {}
        if target is not None:
            changes["target"] = check_target(str(target), f"{where} option target")
            changes["explicit_target"] = True
        if prefer is not None:
            choice = str(prefer).strip().lower()
            if choice not in ("bsr", "sw", "sliding_window", "none"):
                raise SattnError(f"{where} option prefer must be bsr, sw or none, got {prefer!r}")
            changes["prefer_bsr"] = choice == "bsr"
            changes["prefer_sw"] = choice in ("sw", "sliding_window")
        if l1_bytes is not None:
            if isinstance(l1_bytes, bool) or not isinstance(l1_bytes, int) or l1_bytes <= 0:
                raise SattnError(f"{where} option l1-bytes expects a positive integer, got {l1_bytes!r}")
            changes["l1_bytes"] = l1_bytes
        if disable:
            changes["disabled"] = self.disabled | {spec_of_key(d, f"{where} option disable")
                                                   for d in disable}
        if force is not None:
            if not known(str(force)):
                raise SattnError(f"{where} option force must be one of {', '.join(names())}, "
                                 f"got {force!r}")
            changes["force_spec"] = str(force)
        if max_error_data is not None:
            changes["max_error_data"] = str(max_error_data).strip() or None
        return replace(self, **changes) if changes else self

    def describe(self) -> str:
        """One line: the hints in effect."""
        prefer = "bsr" if self.prefer_bsr else "sw" if self.prefer_sw else "none"
        disabled = ",".join(sorted(self.disabled)) or "none"
        data = f" max_error_data={self.max_error_data}" if self.max_error_data else ""
        return (
            f"force={self.force_spec or 'none'} prefer={prefer} l1_bytes={self.l1_bytes} "
            f"disabled={disabled} target={self.target}{data}"
        )


def __getattr__(name: str):
    # DISABLE_VARS / ENV_VARS: computed from the registry when asked (patterns register at run time)
    if name == "DISABLE_VARS":
        return disable_vars()
    if name == "ENV_VARS":
        return env_vars()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
