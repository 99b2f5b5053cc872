"""``spec = "nsa"`` through the front door on the RoCC RTL: ``sattn-lower-rocc`` records the
resolved NSA parameters and the whole command stream (NSA needs no host selection: the program
depends on the shape only), the backend replays the recorded program as written, an edited call
is planned again, the gates the front door loads reach the host's gated sum, and the output is
the reference's within :func:`sattn.reference.nsa.op_tolerance`."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import need_tool
from nsa_frontdoor_case import OP, S, gates, reference, source, write_op
from sattn import api
from sattn.hw.program import Program, R
from sattn.reference import nsa as ref_nsa

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def _tools():
    need_tool("verilator")


def test_lowered_call_records_the_parameters_and_the_program(tmp_path):
    text = str(api.compile(write_op(tmp_path, OP.format(extra="")), "sattn-lower-rocc"))
    call = text[text.index('"sattn.rocc_call"'):]
    for want in ("block_size = 16 : i64", "select_blocks = 4 : i64", "window_size = 24 : i64",
                 "comp_block_size = 16 : i64", "comp_stride = 16 : i64", 'precision = "fp32"',
                 "rocc_program = {layout = {", "jobs = 576 : i64"):
        assert want in call, (want, call[:2000])
    params = api.load_op(write_op(tmp_path, OP.format(extra="")), pipeline="sattn-lower-rocc")
    prog = Program.from_record({k: v for k, v in params.extra["rocc_program"].items() if k != "nsa"}, {})
    starts = list(prog.starts())
    # three jobs per (KV head, row): SCORE, SELECT, window
    assert [regs[R["NSA_CTRL"]] for regs, _, _ in starts[:3]] == [1, 2, 0]
    assert len(starts) == 3 * 2 * S
    assert {regs[R["NSA_BLOCK"]] for regs, _, _ in starts} == {16}


@pytest.mark.parametrize("precision", ["fp32", "i8"])
def test_api_run_matches_the_reference_with_gates(precision, tmp_path):
    g = gates()
    path = write_op(tmp_path, source(precision))
    res = api.run(path, "rocc", compare=True, gates=g)
    params, (q, k, v), want = reference(precision, g)
    bound = ref_nsa.op_tolerance(params, q, k, v, tuple(g.values()))
    assert float(np.abs(res.output.astype(np.float64) - want).max()) <= bound
    assert res.verdict is not None and res.verdict.passed, res.verdict
    plain = api.run(path, "rocc", compare=True)
    assert plain.verdict.passed
    assert np.abs(plain.output - res.output).max() > 100 * bound


def test_the_recorded_program_is_what_runs_and_an_edited_call_is_planned_again(tmp_path):
    path = write_op(tmp_path, OP.format(extra=""))
    text = str(api.compile(path, "sattn-lower-rocc"))
    params = api.load_op(path, pipeline="sattn-lower-rocc")
    rec = params.extra["rocc_program"]
    recorded = Program.from_record({k: v for k, v in rec.items() if k != "nsa"}, {})
    keep = tmp_path / "keep"
    res = api.run(path, "rocc", keep_dir=str(keep))
    replayed = (keep / "program.txt").read_text().splitlines()
    cmds = [ln.split("#")[0].split() for ln in replayed[3:]]
    assert [[int(x, 0) for x in c] for c in cmds] == recorded.commands.astype(np.uint64).tolist()
    assert res.blocks.shape[-1] == 4
    # the call's own attributes (their first occurrence), not the record's "nsa" entry
    edited = (text.replace("select_blocks = 4 : i64", "select_blocks = 2 : i64", 1)
              .replace("window_size = 24 : i64", "window_size = 8 : i64", 1))
    assert edited != text
    (tmp_path / "edited.mlir").write_text(edited)
    res2 = api.run(tmp_path / "edited.mlir", "rocc", compare=True)
    assert res2.blocks.shape[-1] == 2
    assert re.search(r"^rocc_nsa: b=16 n=2 w=8 ", res2.lines[-2], re.MULTILINE), res2.lines
    assert res2.verdict.passed, res2.verdict
    assert np.abs(res.output - res2.output).max() > 1e-3


def test_cli_run_with_gate_files(tmp_path):
    g = gates(5)
    for name, arr in g.items():
        np.save(tmp_path / f"{name}.npy", arr)
    out = tmp_path / "out.npy"
    cmd = [sys.executable, "-m", "sattn", "run", "--mlir", str(write_op(tmp_path, OP.format(extra=""))),
           "--backend", "rocc", "--out", str(out)]
    for name in g:
        cmd += [f"--{name.replace('_', '-')}", str(tmp_path / f"{name}.npy")]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"^compare: rocc vs reference .* -> PASS$", proc.stdout, re.MULTILINE), proc.stdout


def test_compile_and_sim_reads_a_qkv_files_gates(tmp_path):
    """The lower-level entry (``api.compile_and_sim``, the sattn_compile_and_sim tool) reads
    the gates of a ``--qkv`` file as ``sattn run`` does (they were ignored: gates 1.0)."""
    from safetensors.numpy import save_file

    g = gates(7)
    params, (q, k, v), want = reference("fp32", g)
    qkv = tmp_path / "qkv.safetensors"
    save_file({"q": q, "k": k, "v": v, **g}, str(qkv))
    res = api.compile_and_sim(write_op(tmp_path, OP.format(extra="")), q=qkv)
    bound = ref_nsa.op_tolerance(params, q, k, v, tuple(g.values()))
    assert float(np.abs(res.output.astype(np.float64) - want).max()) <= bound
    assert res.verdict is not None and res.verdict.passed, res.verdict
    ungated = reference("fp32", None)[2]
    assert float(np.abs(res.output.astype(np.float64) - ungated).max()) > 100 * bound
