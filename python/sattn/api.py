"""The Python API: thin wrappers over the frontend, the selector and the backends.

    >>> from sattn.api import run
    >>> result = run("examples/sliding_window.mlir", backend="reference")
    >>> print(result)          # spec=sliding_window checksum=...
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sattn.errors import SattnError
from sattn.ir.schema import AttentionParams, params_from_dict
from sattn.result import RunResult

#: The lowering pipeline each backend's calls come from.
PIPELINE_OF: dict[str, str] = {
    "reference": "sattn-lower-rvv",
    "rvv": "sattn-lower-rvv",
    "rocc": "sattn-lower-rocc",
}


def load_op(
    mlir: str | Path, *, pipeline: str | None = "sattn-lower-rvv", op: int | None = None,
    text: bool = False, need_spec: bool = True,
) -> AttentionParams:
    """The parameters of one attention op of an MLIR file (``op`` picks one of several), with
    ``spec`` selected (by the pipeline, else by the selector unless ``need_spec`` is False)."""
    from sattn.frontend import load_params

    ops = load_params(mlir, pipeline=pipeline, text=text)
    name = "<string>" if text else str(mlir)
    if op is None:
        if len(ops) > 1:
            raise SattnError(
                f"{name} has {len(ops)} attention ops; choose one with op=N (--op N), N < {len(ops)}"
            )
        op = 0
    if not 0 <= op < len(ops):
        raise SattnError(f"{name} has {len(ops)} attention op(s); --op {op} is out of range")
    p = ops[op]
    if p.spec is None and need_spec:
        p = p.replace(spec=select(p).spec)
    return p


def run(
    mlir: str | Path,
    backend: str = "reference",
    q: np.ndarray | str | Path | None = None,
    k: np.ndarray | str | Path | None = None,
    v: np.ndarray | str | Path | None = None,
    *,
    seed: int = 0,
    op: int | None = None,
    **options: Any,
) -> RunResult:
    """Run one attention op of ``mlir`` on ``backend`` (reference, rvv or rocc).

    ``q``/``k``/``v`` are arrays or ``.npy`` paths (all three or none); without them the
    deterministic synthetic data of the op's shape is used (``seed`` varies it).
    """
    from sattn.backends import get_backend
    from sattn.reference.data import resolve_inputs

    if backend not in PIPELINE_OF:
        raise SattnError(f"unknown backend '{backend}' (choose from {', '.join(PIPELINE_OF)})")
    params = load_op(mlir, pipeline=PIPELINE_OF[backend], op=op)
    _, qa, ka, va = resolve_inputs(params, q, k, v, seed)
    return get_backend(backend).run(params, qa, ka, va, **options)


def select(attrs: dict[str, Any] | AttentionParams):
    """The selector's :class:`~sattn.selector.Decision` for an attribute dict (or params)."""
    from sattn.selector import select_spec

    params = attrs if isinstance(attrs, AttentionParams) else params_from_dict(attrs)
    return select_spec(params)
