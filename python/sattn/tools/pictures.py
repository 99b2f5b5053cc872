"""``scripts/make_pictures.py``: one picture per sparsity pattern for the README and docs
(``docs/img/<pattern>.png``), drawn from :func:`sattn.specs.select_indices` on the synthetic
data of a small shape. :data:`PICTURES` is the table of what is drawn."""

from __future__ import annotations

import textwrap
from pathlib import Path

from sattn.cli.common import guarded
from sattn.cli.parser import ArgumentParser
from sattn.errors import SattnError
from sattn.ir.schema import params_from_dict
from sattn.reference.data import synthetic
from sattn.specs import select_indices
from sattn.toolrun import atomic_write
from sattn.viz import render_pattern

REPO_ROOT = Path(__file__).resolve().parents[3]

#: picture name -> attributes (small shapes so every cell of the picture is visible).
PICTURES: dict[str, dict] = {
    "dense": {"spec": "dense", "seq_len": 64, "head_dim": 16, "causal": 1},
    "sliding_window": {"spec": "sliding_window", "seq_len": 64, "head_dim": 16, "window_size": 4},
    "sliding_window_dilated_ring": {"spec": "sliding_window", "seq_len": 64, "head_dim": 16,
                                    "window_size": 3, "dilation": 4, "wrap": 1},
    "bsr": {"spec": "bsr", "seq_len": 64, "head_dim": 16, "block_size": 8, "keep_ratio": 0.25},
    "bsr_compression": {"spec": "bsr", "seq_len": 64, "head_dim": 16, "block_size": 8,
                        "keep_ratio": 0.25, "comp_block_size": 4},
    "block_local_global": {"spec": "block_local_global", "seq_len": 64, "head_dim": 16,
                           "block_size": 8, "global_tokens": 4},
    "nm_structured": {"spec": "nm_structured", "seq_len": 64, "head_dim": 16, "nm_n": 2, "nm_m": 8},
    "topk_per_query": {"spec": "topk_per_query", "seq_len": 64, "head_dim": 16, "topk_k": 8},
    "lsh": {"spec": "lsh", "seq_len": 64, "head_dim": 16, "lsh_buckets": 4},
    "landmark": {"spec": "landmark", "seq_len": 64, "head_dim": 16, "num_landmarks": 8,
                 "landmark_iters": 2},
    # the keys of nsa's selection and window branches (its compressed branch is not drawn)
    "nsa": {"spec": "nsa", "seq_len": 64, "head_dim": 16, "block_size": 8, "select_blocks": 3,
            "window_size": 6},
}


def draw(name: str, fmt: str = "png") -> bytes:
    """The picture ``name`` of :data:`PICTURES` as image bytes."""
    attrs = PICTURES[name]
    params = params_from_dict(attrs)
    shape = params.shape()
    q, k, _ = synthetic(shape)
    sel = select_indices(params, shape, q, k)
    shown = ", ".join(f"{k_}={v}" for k_, v in attrs.items() if k_ not in ("spec", "head_dim"))
    title = "\n".join([params.spec, *textwrap.wrap(f"{shown}, density={sel.density:.3f}", 44)])
    return render_pattern(sel, title=title, fmt=fmt, size_in=3.4)


@guarded
def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="make_pictures.py", description=__doc__.split("\n")[0])
    parser.add_argument("--out-dir", default=str(REPO_ROOT / "docs" / "img"),
                        help="where to write <pattern>.png (default docs/img)")
    parser.add_argument("names", nargs="*", help=f"pictures to draw (default all: {', '.join(PICTURES)})")
    args = parser.parse_args(argv)
    for name in args.names:
        if name not in PICTURES:
            raise SattnError(f"unknown picture '{name}' (choose from {', '.join(PICTURES)})")
    out = Path(args.out_dir)
    for name in args.names or list(PICTURES):
        atomic_write(out / f"{name}.png", draw(name), make_parents=True)  # --out-dir is created
        print(f"make_pictures: wrote {out / (name + '.png')}")
    return 0
