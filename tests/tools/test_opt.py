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
        "// expected-error @+1 {{attribute 'window_size' must be >= 0, got -2}}\n"
        '"sattn.sparse_attention"() {window_size = -2 : i64} : () -> ()\n'
        "// -----\n"
        '"sattn.sparse_attention"() {pattern = "x"} : () -> () // expected-warning {{unknown attribute}}\n'
    )
    rc, out, err = run(capsys, str(src), "--split-input-file", "--verify-diagnostics", "-p", "sattn-select-spec")
    assert (rc, err) == (0, "")
    first, second = out.split("// -----\n")  # the failing chunk prints nothing, like mlir-opt
    assert 'spec = "sliding_window"' in first and 'pattern = "x"' in second
    rc, _, err = run(capsys, str(src), "--split-input-file")
    assert rc == 1 and ":4:1:" in err
    # the expectation no longer holds: an unexpected error and a missing one, exit 1
    src.write_text(src.read_text().replace("got -2}}", "got -3}}"))
    rc, out, err = run(capsys, str(src), "--split-input-file", "--verify-diagnostics")
    assert (rc, out) == (1, "")
    assert err == (
        f"sattn-opt: error: {src}:4:1: unexpected error: 'sattn.sparse_attention' attribute "
        "'window_size' must be >= 0, got -2\n"
        f"sattn-opt: error: {src}:3:4: expected error \"attribute 'window_size' must be >= 0, "
        "got -3\" was not produced\n")


def test_expectation_designators() -> None:
    """@+N, @-N, @above, @below and @unknown resolve to the lines mlir-opt gives them."""
    from sattn.diagnostics import Diagnostic, expectations, verify

    text = ("op a\n"                                  # 1
            "// expected-error @above {{A}}\n"        # 2 -> 1
            "// expected-warning @below {{B}}\n"      # 3 -> 6 (line 5 holds an expectation)
            "// expected-error @+2 {{C}}\n"           # 4 -> 6
            "op b // expected-note {{D}}\n"           # 5 -> 5
            "op c\n"                                  # 6
            "// expected-error @-6 {{E}}\n"           # 7 -> 1
            "// expected-error @unknown {{F}}\n"      # 8 -> no location
            "// expected-error-re {{x{{[0-9]+}}y}}\n")  # 9 -> 9
    got = [(e.severity, e.line, e.text) for e in expectations(text, 1, "f.mlir")]
    assert got == [("error", 1, "A"), ("warning", 6, "B"), ("error", 6, "C"), ("note", 5, "D"),
                   ("error", 1, "E"), ("error", None, "F"), ("error", 9, "x{{[0-9]+}}y")]
    produced = [Diagnostic("error", "..A..", "f.mlir", 1, 1), Diagnostic("warning", "B", "f.mlir", 6, 1),
                Diagnostic("error", "C", "f.mlir", 6, 3), Diagnostic("note", "D", "f.mlir", 5, 1),
                Diagnostic("error", "E", "f.mlir", 1, 9), Diagnostic("error", "F"),
                Diagnostic("error", "x42y", "f.mlir", 9, 1)]
    assert verify(expectations(text, 1, "f.mlir"), produced, "f.mlir") == []
    # severity, line, message and file all count
    wrong = [Diagnostic("warning", "A", "f.mlir", 1, 1), Diagnostic("error", "C", "f.mlir", 5, 1),
             Diagnostic("error", "xay", "f.mlir", 9, 1), Diagnostic("error", "E", "g.mlir", 1, 1)]
    problems = verify(expectations(text, 1, "f.mlir"), wrong, "f.mlir")
    assert problems[:4] == ["f.mlir:1:1: unexpected warning: A", "f.mlir:5:1: unexpected error: C",
                            "f.mlir:9:1: unexpected error: xay", "g.mlir:1:1: unexpected error: E"]
    assert len(problems) == 4 + 7  # and all seven expectations are reported missing
    assert problems[4] == 'f.mlir:2:4: expected error "A" was not produced'


def test_strict_attributes(tmp_path, capsys) -> None:
    src = tmp_path / "u.mlir"
    src.write_text('"sattn.sparse_attention"() {softmax_mode = "logsumexp", window_size = 2 : i64} : () -> ()\n')
    rc, out, err = run(capsys, str(src), "-p", "sattn-lower-rvv")
    assert rc == 0 and '"sattn.rvv_call"() {softmax_mode = "logsumexp", window_size = 2 : i64' in out
    assert err == (f"{src}:1:1: warning: 'sattn.sparse_attention' unknown attribute 'softmax_mode'; "
                   "kept and ignored\n")
    dst = tmp_path / "o.mlir"
    rc, out, err = run(capsys, str(src), "--strict-attributes", "-p", "sattn-lower-rvv", "-o", str(dst))
    assert (rc, out) == (1, "") and not dst.exists()
    assert err == f"sattn-opt: error: {src}:1:1: 'sattn.sparse_attention' unknown attribute 'softmax_mode'\n"


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
