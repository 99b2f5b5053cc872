"""bsr through the front door on the RoCC RTL, its blocks selected on chip: ``sattn-lower-rocc``
records the resolved bsr parameters and the whole command stream (the program depends on the
shape only), the backend replays the recorded program as written, an edited call is planned
again, and ``sattn run --mlir examples/bsr*.mlir --backend rocc`` passes with the selection
reported on chip and no host selection."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import need_tool
from sattn import api
from sattn.hw import program
from sattn.hw.program import Program, R
from sattn.transforms import rocc_bsr

ROOT = Path(__file__).resolve().parents[3]
S = 48
OP = ('module {{\n  "sattn.sparse_attention"() {{ spec = "bsr", block_size = 8 : i64, '
      'keep_ratio = {ratio} : f64, causal = 1 : i64, seq_len = ' + str(S) + ' : i64, '
      'head_dim = 16 : i64, num_heads = 4 : i64, gqa_group_size = 2 : i64 }} : () -> ()\n}}\n')


@pytest.fixture(autouse=True)
def _tools():
    need_tool("verilator")


def _write(tmp_path, ratio="0.5", name="bsr.mlir"):
    path = tmp_path / name
    path.write_text(OP.format(ratio=ratio))
    return path


def test_lowered_call_records_the_parameters_and_the_program(tmp_path):
    params = api.load_op(_write(tmp_path), pipeline="sattn-lower-rocc")
    rec = params.extra["rocc_program"]
    assert rec["bsr"] == {"block_size": 8, "keep_blocks": 3, "causal": 1, "comp_block_size": 0,
                          "precision": "fp32"}
    prog = Program.from_record({k: v for k, v in rec.items() if k != "bsr"}, {})
    starts = list(prog.starts())
    # per (KV head, query block): a SCORE job over the block's 8 rows (the first and last of
    # the block: 2 heads x 8 rows fit the scoring path), then one SELECT job over them; the 48
    # tokens and 6 compressed keys fit the scratchpad: DIRECT, keys at their own rows
    d = rocc_bsr.DIRECT
    per_block = [rocc_bsr.SCORE | rocc_bsr.BSR | rocc_bsr.RAW | rocc_bsr.FIRST | rocc_bsr.LAST | d,
                 rocc_bsr.SELECT | d]
    assert [regs[R["NSA_CTRL"]] for regs, _, _ in starts] == per_block * (2 * S // 8)
    score = [(regs, runs, ptrs) for regs, runs, ptrs in starts
             if regs[R["NSA_CTRL"]] != rocc_bsr.SELECT | d]
    # causal: query block qb's rows each read the qb + 1 candidates' compressed keys, job keys
    # S + c after the tokens
    assert [(r[R["ROW_BASE"]], r[R["ROW_COUNT"]], r[R["NUM_KEYS"]], runs[:8], ptrs[:9])
            for r, runs, ptrs in score[:2]] == \
        [(0, 8, S + 1, [1 << 16 | S] * 8, list(range(9))),
         (8, 8, S + 2, [2 << 16 | S] * 8, list(range(9)))]
    # only each KV head's first job invalidates the scratchpad
    inval = [int(f[1]) for f in prog.commands if int(f[0]) == program.F["START"]]
    assert inval == ([1] + [0] * (len(per_block) * S // 8 - 1)) * 2
    sel = [regs for regs, _, _ in starts if regs[R["NSA_CTRL"]] == rocc_bsr.SELECT | d]
    assert [(r[R["ROW_BASE"]], r[R["ROW_COUNT"]], r[R["N_RUNS"]]) for r in sel[:3]] == \
        [(0, 8, 1), (8, 8, 2), (16, 8, 3)]


def test_the_recorded_program_is_what_runs_and_an_edited_call_is_planned_again(tmp_path):
    path = _write(tmp_path)
    text = str(api.compile(path, "sattn-lower-rocc"))
    params = api.load_op(path, pipeline="sattn-lower-rocc")
    recorded = Program.from_record(
        {k: v for k, v in params.extra["rocc_program"].items() if k != "bsr"}, {})
    keep = tmp_path / "keep"
    res = api.run(path, "rocc", keep_dir=str(keep), compare=True)
    replayed = (keep / "program.txt").read_text().splitlines()
    cmds = [ln.split("#")[0].split() for ln in replayed[3:]]
    assert [[int(x, 0) for x in c] for c in cmds] == recorded.commands.astype(np.uint64).tolist()
    assert res.verdict.passed, res.verdict
    assert max(len(b) for b in res.blocks[0]) == 3
    # the call's attribute and its selection plan (which must agree), not the record's "bsr"
    # entry: the recorded program was planned for other parameters and is planned again
    edited = text.replace("keep_ratio = 5.000000e-01 : f64", "keep_ratio = 2.500000e-01 : f64")
    edited = re.sub(r"(selection_plan = \{[^}]*keep_blocks = )3", r"\g<1>2", edited)
    assert "bsr = {block_size = 8 : i64, keep_blocks = 3 : i64" in edited
    (tmp_path / "edited.mlir").write_text(edited)
    res2 = api.run(tmp_path / "edited.mlir", "rocc", compare=True)
    assert max(len(b) for b in res2.blocks[0]) == 2
    assert res2.verdict.passed, res2.verdict
    assert res2.counters["pairs"] < res.counters["pairs"]


@pytest.mark.parametrize("example", ["bsr.mlir", "bsr_comp.mlir"])
def test_cli_run_of_the_example_passes_with_the_selection_on_chip(example):
    proc = subprocess.run([sys.executable, "-m", "sattn", "run", "--mlir", f"examples/{example}",
                           "--backend", "rocc"], check=False, capture_output=True, text=True,
                          cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert re.search(r"^rocc_bsr: .*selection=on-chip", out, re.MULTILINE), out
    assert "rocc_host_select:" not in out
    assert re.search(r"^compare: rocc vs reference .* -> PASS$", out, re.MULTILINE), out
