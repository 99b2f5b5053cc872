"""The one exception type users see.

Every module raises :class:`SattnError` for bad input (malformed MLIR, bad attributes,
missing files or tools, failing subprocesses). The command-line entry points catch it and
print its message as a single line, with a non-zero exit and no traceback.
"""

from __future__ import annotations

import sys


class SattnError(Exception):
    """A user-facing error: one line that names what went wrong and where."""

    def __init__(self, message: str, *, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code

    def __str__(self) -> str:  # keep it one line whatever the caller passed
        return " ".join(str(self.args[0]).split("\n")).strip()


class ToolMissingError(SattnError):
    """An external tool (qemu-riscv64, zig, verilator) is not installed."""


class Terminated(BaseException):
    """SIGTERM arrived (``kill``, ``timeout``): raised by the command-line entry points' signal
    handler so that running tools are stopped and scratch directories removed on the way out.
    A ``BaseException``, like ``KeyboardInterrupt``: no ``except Exception`` swallows it."""


def note(message: str) -> None:
    """Print a one-line note on stderr (``sattn: note: ...``), once per process per message:
    for things a user should know that are not errors (an input converted, an override)."""
    if message in _NOTED:
        return
    _NOTED.add(message)
    print(f"sattn: note: {' '.join(message.split())}", file=sys.stderr)


_NOTED: set[str] = set()
