"""Pictures of a selection: the query-by-key pattern with its block grid (matplotlib, optional).

:func:`pattern_raster` bins a selection into at most ``max_px`` x ``max_px`` cells holding the
share of selected pairs (exact 0/1 pixels while S fits; O(nnz), never an S x S array beyond
that). :func:`render_pattern` draws it and returns the encoded image; the caller writes it
(atomically). Used by ``sattn show`` and ``scripts/make_pictures.py``.
"""

from __future__ import annotations

import io

import numpy as np

from sattn.errors import SattnError
from sattn.specs.selection import Selection

PLOT_INSTALL_HINT = "pip install matplotlib  (or: pip install -e 'python[plot]')"
FORMATS = ("png", "svg", "pdf")


def pattern_raster(selection: Selection, kv_head: int = 0, max_px: int = 1024) -> np.ndarray:
    """float [rows, cols] in [0, 1]: share of selected (query, key) pairs per cell."""
    if not 0 <= kv_head < len(selection.groups):
        raise SattnError(
            f"--head {kv_head} is out of range: the selection has {len(selection.groups)} KV head(s)"
        )
    g = selection.groups[kv_head]
    s, n = selection.seq_len, selection.num_keys
    rs, cs = min(s, max_px), min(n, max_px)
    rows = np.repeat(np.arange(s, dtype=np.int64), g.counts()) * rs // s
    cols = g.indices.astype(np.int64) * cs // max(n, 1)
    img = np.zeros((rs, cs), dtype=np.float64)
    np.add.at(img, (rows, cols), 1.0)
    # pairs per cell when everything is selected
    row_w = np.bincount(np.arange(s) * rs // s, minlength=rs).astype(np.float64)
    col_w = np.bincount(np.arange(n) * cs // max(n, 1), minlength=cs).astype(np.float64)
    return img / np.maximum(np.outer(row_w, col_w), 1.0)


def landmark_raster(selection: Selection, kv_head: int = 0, max_px: int = 1024) -> np.ndarray:
    """float [rows, S]: the landmark id of key token j where query i attends its landmark,
    -1 elsewhere (a query that attends a landmark attends the segment mean of its tokens)."""
    g = selection.groups[kv_head]
    assign = np.asarray(selection.landmark_assign[kv_head], dtype=np.int64)
    s = selection.seq_len
    step = max(1, -(-s // max_px))
    rows = np.arange(0, s, step)
    img = np.full((len(rows), s), -1.0)
    for out_r, r in enumerate(rows):  # at most max_px rows
        chosen = np.zeros(selection.num_keys, dtype=bool)
        chosen[g.row(int(r))] = True
        img[out_r] = np.where(chosen[assign], assign % 20, -1)
    return img[:, ::step]


def image_format(path: str) -> str:
    """The image format of an output path from its suffix (png, svg or pdf)."""
    suffix = str(path).rsplit(".", 1)[-1].lower() if "." in str(path) else ""
    if suffix not in FORMATS:
        raise SattnError(f"--out {path}: the picture must end in .png, .svg or .pdf")
    return suffix


def render_pattern(selection: Selection, *, title: str = "", kv_head: int = 0,
                   grid: int | None = None, fmt: str = "png", max_px: int = 1024,
                   size_in: float = 4.0) -> bytes:
    """The picture of one KV head's pattern as ``fmt`` bytes; ``grid`` draws block lines
    every ``grid`` tokens (default: the selection's block size, none for token patterns)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SattnError(f"matplotlib is not installed; install it with: {PLOT_INSTALL_HINT}") from None
    s, n = selection.seq_len, selection.num_keys
    grid = selection.block_size if grid is None else grid
    landmarks = selection.key_space == "landmarks"
    if landmarks:
        # keys are landmarks: show query x key *token*, coloured by the token's landmark
        img, cmap, vmax, n_axis = landmark_raster(selection, kv_head, max_px), "tab20", 20.0, s
    else:
        img, cmap, vmax, n_axis = pattern_raster(selection, kv_head, max_px), "Blues", 1.0, n
    fig, ax = plt.subplots(figsize=(size_in, size_in * min(2.0, max(0.5, s / max(n_axis, 1)))))
    try:
        shown = np.ma.masked_less(img, 0) if landmarks else img
        ax.imshow(shown, cmap=cmap, vmin=0.0, vmax=vmax, interpolation="nearest",
                  extent=(-0.5, n_axis - 0.5, s - 0.5, -0.5), aspect="auto")
        if grid and grid > 0 and not landmarks:
            for x in range(grid, max(s, n), grid):
                if x < n:
                    ax.axvline(x - 0.5, color="0.6", lw=0.5)
                if x < s:
                    ax.axhline(x - 0.5, color="0.6", lw=0.5)
        ax.set_xlabel("key token j (colour: its landmark)" if landmarks else "key j")
        ax.set_ylabel("query i")
        density = selection.density
        ax.set_title(title or f"{selection.spec}  S={s}  density={density:.3f}", fontsize=8)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, dpi=110)
    finally:
        plt.close(fig)
    return buf.getvalue()
