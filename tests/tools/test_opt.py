"""sattn-opt end to end: files, stdin, -o, errors, explanation, split input, the launcher."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sattn.tools.opt import main

REPO = Path(__file__).resolve().parents[2]
LAUNCHER = REPO / "build" / "mlir" / "tools" / "sattn-opt" / "sattn-opt"
BLG = (
    'module {\n  "sattn.sparse_attention"() { global_tokens = 8 : i64, block_size = 64 : i64, '
    "tile_M = 16 : i64, tile_D = 32 : i64, tile_S = 128 : i64 } : () -> ()\n}\n"
)


def run(capsys, *argv: str, stdin: str | None = None, monkeypatch=None) -> tuple[int, str, str]:
    if stdin is not None:
        assert monkeypatch is not None
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    saved, sys.argv[0] = sys.argv[0], "sattn-opt"  # guarded() names the program from argv[0]
    try:
        rc = main(list(argv))
    finally:
        sys.argv[0] = saved
    out, err = capsys.readouterr()
    return rc, out, err


def test_file_to_output_file(tmp_path, capsys) -> None:
    src, dst = tmp_path / "input.mlir", tmp_path / "out" / "lowered.mlir"
    src.write_text(BLG)
    dst.parent.mkdir()  # like mlir-opt, -o into a missing directory is an error (test_bad_input_cli)
    rc, out, err = run(capsys, str(src), "--allow-unregistered-dialect",
                       "-pass-pipeline=builtin.module(sattn-lower-rocc)", "-o", str(dst))
    assert (rc, out, err) == (0, "", "")
    text = dst.read_text()
    assert '"sattn.rocc_call"() {global_tokens = 8 : i64' in text and "blg_enabled = true" in text
    assert [p.name for p in dst.parent.iterdir()] == ["lowered.mlir"]  # no temp files left


def test_stdin_and_bare_pipeline(capsys, monkeypatch) -> None:
    rc, out, _ = run(capsys, "-p", "sattn-lower-rvv", stdin=BLG, monkeypatch=monkeypatch)
    assert rc == 0 and '"sattn.rvv_call"' in out and 'spec = "block_local_global"' in out


def test_error_leaves_no_output(tmp_path, capsys) -> None:
    src, dst = tmp_path / "bad.mlir", tmp_path / "out.mlir"
    src.write_text(BLG.replace("block_size = 64", "block_size = 0"))
    rc, out, err = run(capsys, str(src), "-o", str(dst), "-p", "sattn-lower-rocc")
    assert rc == 1 and out == "" and not dst.exists()
    assert err == f"sattn-opt: error: {src}:2:3: 'sattn.sparse_attention' attribute 'block_size' must be >= 1, got 0\n"


def test_explain_selection_goes_to_stderr(tmp_path, capsys) -> None:
    src = tmp_path / "in.mlir"
    src.write_text(BLG)
    rc, out, err = run(capsys, str(src), "--explain-selection", "--prefer-sw")
    assert rc == 0 and '"sattn.sparse_attention"' in out
    assert err.startswith(f"{src}:2:3: sattn.sparse_attention\nselection: spec=block_local_global rule=global_tokens\n")
    assert "prefer=sw" in err and "candidate bsr" in err
    assert "SATTN_PREFER_SW" not in os.environ  # the flag's hint does not outlive the call


def test_split_input_file_and_verify_diagnostics(tmp_path, capsys) -> None:
    src = tmp_path / "s.mlir"
    src.write_text(
        '"sattn.sparse_attention"() {window_size = 2 : i64} : () -> ()\n'
        "// -----\n"
        '"sattn.sparse_attention"() {window_size = -2 : i64} : () -> ()\n'
    )
    rc, out, _ = run(capsys, str(src), "--split-input-file", "--verify-diagnostics", "-p", "sattn-select-spec")
    assert rc == 0
    first, second = out.split("// -----\n")
    assert 'spec = "sliding_window"' in first
    assert second == f"{src}:3:1: 'sattn.sparse_attention' attribute 'window_size' must be >= 0, got -2\n"
    rc, _, err = run(capsys, str(src), "--split-input-file")
    assert rc == 1 and ":3:1:" in err


def test_list_passes_and_subcommand(capsys) -> None:
    rc, out, _ = run(capsys, "--list-passes")
    assert rc == 0 and "sattn-lower-rvv: sattn-select-spec, sattn-lower-to-rvv, sattn-vectorize, sattn-bufferize" in out
    from sattn.cli.main import main as sattn_main

    assert sattn_main(["opt", "--list-passes"]) == 0


def test_launcher_cold_start_and_no_traceback(tmp_path) -> None:
    if not LAUNCHER.exists():
        if os.environ.get("SATTN_REQUIRE_TOOLS") == "1":
            pytest.fail(f"{LAUNCHER} missing; run `make launcher`")
        pytest.skip("launcher not built (make launcher)")
    src = tmp_path / "input.mlir"
    src.write_text(BLG)
    ok = subprocess.run([str(LAUNCHER), str(src), "--allow-unregistered-dialect",
                         "-pass-pipeline=builtin.module(sattn-lower-rvv)"], capture_output=True, text=True, check=False)
    assert ok.returncode == 0 and '"sattn.rvv_call"' in ok.stdout
    bad = subprocess.run([str(LAUNCHER), str(tmp_path / "missing.mlir")], capture_output=True, text=True, check=False)
    assert bad.returncode == 1 and bad.stdout == ""
    assert bad.stderr == f"sattn-opt: error: cannot read '{tmp_path / 'missing.mlir'}': no such file\n"
