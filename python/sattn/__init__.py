"""sattn: sparse attention from MLIR to RISC-V (RVV kernels under qemu, a RoCC accelerator
under Verilator), checked against a NumPy reference.

The public API is imported lazily so that ``import sattn`` stays cheap for the launchers.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_API = {
    "run_rvv_from_mlir": "sattn.api",
    "compile_and_sim": "sattn.api",
    "compile": "sattn.api",
    "select": "sattn.api",
    "run": "sattn.api",
    "RunResult": "sattn.result",
    "SattnError": "sattn.errors",
    "AttentionParams": "sattn.ir.schema",
}

__all__ = list(_API)


def __getattr__(name: str):
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'sattn' has no attribute {name!r}")
