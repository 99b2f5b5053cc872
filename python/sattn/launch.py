"""Start a sattn tool from a thin launcher script, whatever ``python`` ran the launcher.

The spec documents commands such as ``python3 compiler/mlir/tools/sattn_run_rvv_from_mlir.py``.
When that interpreter lacks sattn's dependencies, re-execute the launcher under the project's
virtual environment (``.venv`` at the repository root). Standard library only.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def launch(module: str, func: str = "main") -> None:
    try:
        target = getattr(importlib.import_module(module), func)
    except ModuleNotFoundError as e:
        venv_python = REPO_ROOT / ".venv" / "bin" / "python"
        if venv_python.exists() and Path(sys.prefix).resolve() != (REPO_ROOT / ".venv").resolve():
            os.execv(str(venv_python), [str(venv_python), *sys.argv])
        print(
            f"{Path(sys.argv[0]).name}: error: missing Python package '{e.name}'; "
            "run `make demo` (or `cd python && pip install -e .`) first",
            file=sys.stderr,
        )
        sys.exit(1)
    sys.exit(target())
