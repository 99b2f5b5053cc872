"""The RoCC backend's artifact writer: the index table ``S.txt`` and descriptor ``S.desc`` of
an attention op's selection (format: docs/artifacts.md), the one source both the RVV and RoCC
flows read. :func:`emit_for_op` selects on an op's inputs and writes them;
``sattn_emit_artifacts`` (:mod:`sattn.tools.emit_artifacts`, through :func:`sattn.api.emit`) is
its command line.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from sattn import resources
from sattn.errors import SattnError
from sattn.ir.schema import DEFAULT_TILES, AttentionParams, Shape
from sattn.precision import resolved_scales
from sattn.reference.data import resolve_inputs
from sattn.specs import pattern_of, select_indices
from sattn.specs.selection import Selection
from sattn.toolrun import atomic_write


def _fmt(v: Any) -> str:
    if isinstance(v, bool):
        return str(int(v))
    if isinstance(v, float):
        return repr(v)
    return str(v)


def k_blocks(selection: Selection, block: int) -> int:
    """Selected key blocks per query block: max over block-table rows for block patterns, else
    ceil(max keys per row / block_size)."""
    if selection.block_table is not None:
        return max((int(t.counts().max()) if t.rows else 0) for t in selection.block_table)
    most = max((int(g.counts().max()) if g.rows else 0) for g in selection.groups)
    return math.ceil(most / block)


def descriptor(params: AttentionParams, shape: Shape, selection: Selection) -> dict[str, Any]:
    """The ``key=value`` fields of ``S.desc`` (values used, 0 for unset/not applicable)."""
    spec, s = selection.spec, shape.seq_len
    b = params.effective_block_size(s)
    sq, sk, sv = resolved_scales(params)
    indptr = np.concatenate(
        [[0]] + [g.indptr[1:] + off for g, off in
                 zip(selection.groups, np.cumsum([0] + [g.nnz for g in selection.groups])[:-1])]
    )
    desc: dict[str, Any] = {
        "spec": spec,
        "precision": params.precision,
        "m_rows": params.tile_M or DEFAULT_TILES["tile_M"],
        "head_dim_d": shape.head_dim,
        "s_tokens": s,
        "block_size": b,
        "k_blocks": k_blocks(selection, b),
        "num_heads": shape.heads,
        "kv_heads": shape.kv_heads,
        "gqa_group_size": shape.group,
        "comp_block_size": params.comp_block_size,
        "global_tokens": params.global_tokens,
        "nm_n": params.nm_n or 0,
        "nm_m": params.nm_m or 0,
        "topk_k": params.topk_k or 0,
        "lsh_buckets": params.lsh_buckets or 0,
        "keep_ratio": float(params.keep_ratio or 0.0),
        "window_size": params.window_size or 0,
        "dilation": params.dilation,
        "wrap": params.wrap,
        "causal": params.causal,
        "num_landmarks": params.num_landmarks,
        "landmark_iters": params.landmark_iters,
        "scale_q": float(sq),
        "scale_k": float(sk),
        "scale_v": float(sv),
        "key_space": selection.key_space,
        "num_keys": selection.num_keys,
        "index_nnz": selection.nnz,
    }
    # the selected pattern's own values (its defaults for unset attributes, extra fields)
    desc.update(pattern_of(spec).desc_fields(params, s))
    desc["row_ptr"] = ",".join(map(str, indptr.astype(np.int64).tolist()))
    return desc


def emit_artifacts(
    params: AttentionParams,
    shape: Shape,
    selection: Selection,
    out_stem: str | Path,
    extra: dict[str, Any] | None = None,
) -> tuple[Path, Path]:
    """Write ``<out_stem>.txt`` and ``<out_stem>.desc`` atomically; return their paths.

    ``extra`` adds ``key=value`` lines (a known key given again is overridden in place).
    """
    stem = check_stem(out_stem)
    desc = descriptor(params, shape, selection)
    row_ptr = desc.pop("row_ptr")
    for key, value in (extra or {}).items():
        desc[key] = value
    desc["row_ptr"] = row_ptr  # last: the longest line
    idx = np.concatenate([g.indices for g in selection.groups]) if selection.groups else []
    txt = "".join(f"{i}\n" for i in np.asarray(idx, dtype=np.int64).tolist())
    desc_text = "".join(f"{k}={_fmt(v)}\n" for k, v in desc.items())
    txt_path = stem.parent / (stem.name + ".txt")
    desc_path = stem.parent / (stem.name + ".desc")
    atomic_write(txt_path, txt, make_parents=True)  # --out-stem may name a new directory
    atomic_write(desc_path, desc_text, make_parents=True)
    return txt_path, desc_path


def emit_for_op(
    params: AttentionParams,
    out_stem: str | Path,
    q: np.ndarray | str | Path | None = None,
    k: np.ndarray | str | Path | None = None,
    v: np.ndarray | str | Path | None = None,
    seed: int = 0,
) -> tuple[Selection, Path, Path]:
    """Select the keys of an op (``spec`` selected) on its inputs -- Q/K/V arrays or files
    (:func:`sattn.reference.data.load_inputs`), else the synthetic data of ``seed``; the
    data-dependent patterns select on Q/K -- and write ``<out_stem>.txt`` / ``.desc``
    (:func:`emit_artifacts`). The memory this needs is checked first (:mod:`sattn.resources`).
    Returns (the selection, the .txt path, the .desc path)."""
    check_stem(out_stem)  # before any work
    shape, q, k, _ = resolve_inputs(params, q, k, v, seed)
    est = resources.selection(params, shape, "emit")
    est.add("the index table as text", host=100.0 * resources.pair_bound(params, shape))
    resources.require(est)
    sel = select_indices(params, shape, q, k)
    txt, desc = emit_artifacts(params, shape, sel, out_stem)
    return sel, txt, desc


def check_stem(out_stem: str | Path, what: str = "--out-stem") -> Path:
    """The stem as a Path, or a one-line SattnError when it names no file (``''``, ``dir/``,
    ``.``): ``S`` writes ``S.txt`` and ``S.desc``, never hidden ``.txt`` / ``.desc`` files."""
    text = os.fspath(out_stem)
    stem = Path(text)
    if not text or text.endswith(("/", os.sep)) or stem.name in ("", ".", ".."):
        raise SattnError(f"{what} {text!r}: needs a file name stem (S writes S.txt and S.desc)")
    if stem.is_dir():
        raise SattnError(f"{what} {text!r}: is a directory; give a file name stem inside it")
    return stem


def read_desc(path: str | Path) -> dict[str, str]:
    """Parse a ``.desc`` file into a dict of strings (readers ignore keys they do not know)."""
    out = {}
    for line in Path(path).read_text().splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            out[k.strip()] = v.strip()
    return out


__all__ = ["check_stem", "descriptor", "emit_artifacts", "emit_for_op", "k_blocks", "read_desc"]
