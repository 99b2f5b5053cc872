"""Backends execute one attention op. Each module exposes

    run(params: AttentionParams, q, k, v, **options) -> RunResult

where ``params.spec`` is already selected, ``q`` is float32 [H, S, D] and ``k``/``v`` are float32
[H_kv, S, D]. The backend obtains indices from ``sattn.specs`` (never re-derives them) and
returns measured counters only.
"""

from __future__ import annotations

from types import ModuleType

from sattn.backends.rocc import backend as rocc
from sattn.backends.rvv import backend as rvv
from sattn.errors import SattnError
from sattn.reference import executor

#: Backend name -> the module that runs it.
BACKENDS: dict[str, ModuleType] = {"reference": executor, "rvv": rvv, "rocc": rocc}


def get_backend(name: str) -> ModuleType:
    if name not in BACKENDS:
        raise SattnError(f"unknown backend '{name}' (choose from {', '.join(BACKENDS)})")
    return BACKENDS[name]
