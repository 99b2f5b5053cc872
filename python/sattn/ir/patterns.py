"""The pattern registry: every sparsity pattern the dialect accepts, by name, in order.

Each pattern module of :mod:`sattn.specs` exports one object (a
:class:`sattn.specs.pattern.Pattern`) and registers it here; the verifier accepts exactly the
registered names, and every consumer (the selector's forcing rules, the passes, the backends,
the docs) iterates over :func:`patterns` instead of branching on names. A test or a plugin
extends the product with :func:`register` (and :func:`unregister`) at run time.

This module is the bottom of the stack: it knows names and objects, nothing about what a
pattern does. The built-in patterns are the modules of :data:`BUILTIN_PACKAGE`; they are
imported the first time the registry is read (the one place the IR layer loads the layer
above it, as a plugin host does -- never at import time, so there is no import cycle).
"""

from __future__ import annotations

import importlib
from typing import Any

from sattn.errors import SattnError

#: The package whose import registers the built-in patterns.
BUILTIN_PACKAGE = "sattn.specs"

_REGISTRY: dict[str, Any] = {}
_loading = False
_version = 0


def _ensure_builtins() -> None:
    global _loading
    if _loading or BUILTIN_PACKAGE in _loaded:
        return
    _loading = True
    try:
        importlib.import_module(BUILTIN_PACKAGE)
        _loaded.add(BUILTIN_PACKAGE)
    finally:
        _loading = False


_loaded: set[str] = set()


def register(pattern: Any, *, replace: bool = False) -> Any:
    """Add ``pattern`` (an object with a ``name``) to the registry and return it."""
    name = pattern.name
    if not isinstance(name, str) or not name.isidentifier():
        raise SattnError(f"a pattern name must be an identifier, got {name!r}")
    if name in _REGISTRY and not replace and _REGISTRY[name] is not pattern:
        raise SattnError(f"pattern '{name}' is already registered")
    global _version
    _REGISTRY[name] = pattern
    _version += 1
    return pattern


def unregister(name: str) -> None:
    """Remove a pattern registered at run time (tests)."""
    global _version
    _REGISTRY.pop(name, None)
    _version += 1


def version() -> int:
    """A number that changes whenever the registry does (for caches of derived tables)."""
    _ensure_builtins()
    return _version


def patterns() -> tuple[Any, ...]:
    """Every registered pattern, in registration order (the built-ins first, in the order of
    the spec: sliding_window, bsr, block_local_global, nm_structured, topk_per_query, lsh,
    landmark, dense; then nsa, whose forcing rule comes after the spec's)."""
    _ensure_builtins()
    return tuple(_REGISTRY.values())


def names() -> tuple[str, ...]:
    """The names of :func:`patterns`."""
    _ensure_builtins()
    return tuple(_REGISTRY)


def known(name: str) -> bool:
    _ensure_builtins()
    return name in _REGISTRY


def get(name: str | None) -> Any:
    """The pattern called ``name``; a one-line SattnError when there is none."""
    _ensure_builtins()
    try:
        return _REGISTRY[name]  # type: ignore[index]
    except KeyError:
        raise SattnError(f"no spec selected (got {name!r}); choose from {', '.join(_REGISTRY)} "
                         "or run selection") from None


__all__ = ["BUILTIN_PACKAGE", "get", "known", "names", "patterns", "register", "unregister",
           "version"]
