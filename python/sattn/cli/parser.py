"""The argument parser of every command: standard library only, so that ``sattn --help`` (which
loads nothing else) starts fast."""

from __future__ import annotations

import argparse


class ArgumentParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose usage errors are one line (``prog: error: ... (see
    --help)``, exit 2) instead of the usage block followed by the error."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")
