"""Shared fixtures. ``SATTN_REQUIRE_TOOLS=1`` (set by ``make test``) makes a missing tool a
failure instead of a skip: CI always has qemu, zig and Verilator."""

from __future__ import annotations

import os
import shutil

import pytest

REQUIRE_TOOLS = os.environ.get("SATTN_REQUIRE_TOOLS") == "1"


def need_tool(name: str) -> None:
    """Skip (or, under make test, fail) when an external tool is missing."""
    if shutil.which(name) is None:
        msg = f"required tool '{name}' is missing"
        if REQUIRE_TOOLS:
            pytest.fail(msg + " (SATTN_REQUIRE_TOOLS=1)")
        pytest.skip(msg)


def need_module(name: str):
    """Import an optional Python package the set-up installs (torch): skip without it, or,
    under make test, fail — a missing extra must not silently drop its tests."""
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError as e:
        msg = f"required Python package '{name}' is missing ({e})"
        if REQUIRE_TOOLS:
            pytest.fail(msg + " (SATTN_REQUIRE_TOOLS=1)", pytrace=False)
        pytest.skip(msg, allow_module_level=True)


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long sweeps, skipped by default (run with -m slow)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("-m"):
        return
    skip_slow = pytest.mark.skip(reason="slow sweep: run with `make test-slow` or -m slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)
