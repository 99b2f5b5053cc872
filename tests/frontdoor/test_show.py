"""``sattn show`` and the pictures: the raster is the selection, files are whole or absent."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fd_util import EXAMPLES, PY, REPO, assert_one_line_error, run_cmd, write_mlir
from sattn.ir.schema import params_from_dict
from sattn.reference.data import synthetic
from sattn.specs import select_indices
from sattn.viz import pattern_raster

PNG = b"\x89PNG\r\n\x1a\n"


def test_raster_is_the_mask_when_it_fits() -> None:
    p = params_from_dict({"spec": "bsr", "keep_ratio": 0.25, "block_size": 8, "seq_len": 64,
                          "head_dim": 16})
    q, k, _ = synthetic(p.shape())
    sel = select_indices(p, p.shape(), q, k)
    np.testing.assert_array_equal(pattern_raster(sel), sel.groups[0].to_dense(64).astype(float))


def test_raster_bins_large_patterns_to_shares() -> None:
    p = params_from_dict({"spec": "sliding_window", "window_size": 0, "seq_len": 4096,
                          "head_dim": 8})
    img = pattern_raster(select_indices(p, p.shape()), max_px=512)
    assert img.shape == (512, 512)
    # the diagonal only: each 8x8 cell on the diagonal holds 8 of 64 pairs
    np.testing.assert_allclose(np.diag(img), 8 / 64)
    assert img.sum() == pytest.approx(512 * 8 / 64)


def test_show_writes_png(tmp_path: Path) -> None:
    out = tmp_path / "mask.png"
    proc = run_cmd([PY, "-m", "sattn", "show", "--mlir", str(EXAMPLES / "input.mlir"),
                    "--out", str(out)])
    assert proc.returncode == 0, proc.stderr
    assert "show: spec=block_local_global S=128" in proc.stdout
    assert out.read_bytes().startswith(PNG)


def test_show_data_dependent_pattern_svg(tmp_path: Path) -> None:
    mlir = write_mlir(tmp_path / "t.mlir", {"topk_k": 4, "seq_len": 32, "head_dim": 8})
    out = tmp_path / "t.svg"
    proc = run_cmd([PY, "-m", "sattn", "show", "--mlir", str(mlir), "--out", str(out)])
    assert proc.returncode == 0, proc.stderr
    assert "density=0.1250" in proc.stdout  # 4 of 32 keys per query
    assert b"<svg" in out.read_bytes()


@pytest.mark.parametrize("args, needle", [
    (["--out", "mask.jpg"], ".png, .svg or .pdf"),
    (["--out", "mask.png", "--head", "3"], "--head 3"),
])
def test_show_bad_input(tmp_path: Path, args, needle) -> None:
    proc = run_cmd([PY, "-m", "sattn", "show", "--mlir", str(EXAMPLES / "input.mlir"), *args],
                   cwd=tmp_path)
    assert_one_line_error(proc, needle)
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_make_pictures_one_per_pattern(tmp_path: Path) -> None:
    from sattn.tools.pictures import PICTURES

    proc = run_cmd([PY, str(REPO / "scripts" / "make_pictures.py"), "--out-dir", str(tmp_path),
                    "bsr", "landmark"])
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bsr.png", "landmark.png"]
    # every pattern the product knows has a picture in the table
    from sattn.ir.schema import SPECS

    assert {a["spec"] for a in PICTURES.values()} == set(SPECS)
    # and the committed pictures are the ones the table draws
    assert {p.stem for p in (REPO / "docs" / "img").glob("*.png")} >= set(PICTURES)
