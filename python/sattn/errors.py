"""The one exception type users see.

Every module raises :class:`SattnError` for bad input (malformed MLIR, bad attributes,
missing files or tools, failing subprocesses). The command-line entry points catch it and
print its message as a single line, with a non-zero exit and no traceback.
"""

from __future__ import annotations


class SattnError(Exception):
    """A user-facing error: one line that names what went wrong and where."""

    def __init__(self, message: str, *, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code

    def __str__(self) -> str:  # keep it one line whatever the caller passed
        return " ".join(str(self.args[0]).split("\n")).strip()


class ToolMissingError(SattnError):
    """An external tool (qemu-riscv64, zig, verilator) is not installed."""
