"""The lowered IR is what runs on RVV: a lowered file runs as written, its ``vector_strips``
record names the LMUL the kernel runs, an edited ``index_table`` is the selection the kernel and
the reference attend; records the kernel cannot take are refused in one line."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import need_tool
from sattn import api
from sattn.backends.rvv import autotune, runner
from sattn.errors import SattnError
from sattn.ir import patterns as registry
from sattn.ir.schema import AttentionParams, Shape
from sattn.reference.data import synthetic
from sattn.specs.pattern import Pattern
from sattn.specs.selection import GroupSelection
from tolerance import assert_attention_close

ROOT = Path(__file__).resolve().parents[3]

# dense, S=128: rows of up to 128 keys, so the key-strip width (VLEN/32 * LMUL) shows in the count
DENSE = '"sattn.sparse_attention"() { spec = "dense", seq_len = 128 : i64, head_dim = 32 : i64, num_heads = 2 : i64 } : () -> ()\n'
# a window of offsets -3..3 over S=48, two query heads sharing one KV head
WINDOW = ('"sattn.sparse_attention"() { spec = "sliding_window", window_size = 3 : i64, '
          'seq_len = 48 : i64, head_dim = 16 : i64, num_heads = 2 : i64, '
          'gqa_group_size = 2 : i64 } : () -> ()\n')
M8 = 'lmul = "m8", load_lmul = "m8", strip = 64 : i64, d_strips = 1 : i64, d_tail = 32 : i64'
# the whole record at LMUL 2: every derived field follows (D = 32 is two 16-element chunks)
M2 = 'lmul = "m2", load_lmul = "m2", strip = 16 : i64, d_strips = 2 : i64, d_tail = 0 : i64'


@pytest.fixture(autouse=True)
def _tools():
    need_tool("qemu-riscv64")


def lowered(tmp_path: Path, source: str, pipeline: str = "sattn-lower-rvv") -> str:
    """The text of ``source`` lowered by ``pipeline`` (what ``sattn-opt`` writes)."""
    return str(api.compile(source, pipeline))


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text + "\n")
    return path


def oracle(q: np.ndarray, k: np.ndarray, v: np.ndarray, keys_of) -> np.ndarray:
    """Float64 softmax attention of each query row over ``keys_of(i)`` (GQA: K/V head
    ``h // group``), written out row by row."""
    h, s, d = q.shape
    group = h // k.shape[0]
    out = np.zeros(q.shape, dtype=np.float64)
    for hh in range(h):
        for i in range(s):
            keys = keys_of(i)
            sc = np.array([float(np.dot(q[hh, i].astype(np.float64), k[hh // group, j]))
                           for j in keys]) / math.sqrt(d)
            w = np.exp(sc - sc.max())
            out[hh, i] = (w / w.sum()) @ v[hh // group, keys].astype(np.float64)
    return out


def test_lmul_of_the_record_is_what_the_kernel_runs(tmp_path):
    text = lowered(tmp_path, DENSE)
    assert M8 in text  # what the kernel ran before the record was read: LMUL 8, 64-key strips
    as_written = api.run(write(tmp_path, "m8.mlir", text), "rvv", compare=True)
    edited = api.run(write(tmp_path, "m2.mlir", text.replace(M8, M2)), "rvv", compare=True)
    assert re.search(r"^rvv_config: vlen=256 lmul=2 ", "\n".join(edited.lines), re.MULTILINE)
    p = as_written.params
    q, k, v = synthetic(p.shape())
    direct8 = runner.run(p.replace(extra={}), q, k, v, lmul=8)
    direct2 = runner.run(p.replace(extra={}), q, k, v, lmul=2)
    # the record's LMUL is the count's: equal to the kernel run at that LMUL, and they differ
    assert as_written.counters["instructions"] == direct8.counters["instructions"]
    assert edited.counters["instructions"] == direct2.counters["instructions"]
    assert edited.counters["instructions"] > as_written.counters["instructions"]
    # a result's params carry the strips that ran (an explicit lmul beats the record)
    assert [r.params.extra["vector_strips"]["lmul"] for r in (edited, direct2, direct8)] == \
        ["m2", "m2", "m8"]
    # the source file, lowered by the API with the lmul option, records and runs the same
    via_option = api.run(write(tmp_path, "src.mlir", DENSE), "rvv", lmul=2)
    assert via_option.counters["instructions"] == edited.counters["instructions"]
    for r in (as_written, edited):
        assert r.verdict.passed
        assert_attention_close(r.output, oracle(q, k, v, lambda i: list(range(128))), p, q, k, v,
                               what="rvv vs float64 oracle")


def test_strip_record_the_kernel_cannot_run_is_refused(tmp_path):
    text = lowered(tmp_path, DENSE)
    # LMUL changed but the strip left at LMUL 8's: not a plan the kernel has
    bad = write(tmp_path, "bad.mlir", text.replace('lmul = "m8"', 'lmul = "m2"', 1))
    with pytest.raises(SattnError, match=r"^vector_strips: load_lmul = 'm8' is not what the "
                                         r"kernel runs at vlen = 256, lmul = m2 \('m2'\)"):
        api.run(bad, "rvv")
    odd = write(tmp_path, "odd.mlir", text.replace(M8, 'lmul = "m3", load_lmul = "m3", strip = 24 : i64, d_strips = 2 : i64, d_tail = 8 : i64'))
    with pytest.raises(SattnError, match=r"lmul must be one of m1, m2, m4, m8"):
        api.run(odd, "rvv")


def test_autotuner_writes_its_lmul_into_the_record(tmp_path):
    text = lowered(tmp_path, DENSE)
    p = api.load_op(write(tmp_path, "m8.mlir", text))
    q, k, v = synthetic(p.shape())
    tuned = autotune.autotune(p, q, k, v, lmuls=(2, 8))
    rec = tuned.params.extra["vector_strips"]
    assert rec["lmul"] == f"m{tuned.best.lmul}" and rec["strip"] == 256 * tuned.best.lmul // 32
    again = runner.run(tuned.params, q, k, v)  # no lmul given: the record's
    assert again.counters["instructions"] == tuned.best.instructions


def edit_offset(text: str, old: str, new: str) -> str:
    assert old in text, text
    return text.replace(old, new)


def test_edited_stencil_entry_changes_what_rvv_and_the_reference_compute(tmp_path):
    text = lowered(tmp_path, WINDOW, "sattn-materialize-indices,sattn-lower-rvv")
    stencil = "offsets = array<i32: -3, -2, -1, 0, 1, 2, 3>"
    edited_text = edit_offset(text, stencil, "offsets = array<i32: -3, -2, -1, 0, 1, 2, 9>")
    plain = api.run(write(tmp_path, "w.mlir", text), "rvv", compare=True)
    edited = api.run(write(tmp_path, "w9.mlir", edited_text), "rvv", compare=True)
    ref = api.run(write(tmp_path, "w9r.mlir", edited_text), "reference")
    p = edited.params
    q, k, v = synthetic(p.shape())

    def keys(offsets):
        return lambda i: sorted({i + o for o in offsets if 0 <= i + o < 48})

    want = oracle(q, k, v, keys((-3, -2, -1, 0, 1, 2, 9)))
    for r, what in ((edited, "rvv"), (ref, "reference")):
        assert_attention_close(r.output, want, p, q, k, v, keys=7, what=f"{what} vs oracle")
    # the verdict is against the reference of the edited table, and passes
    assert edited.verdict.passed
    assert edited.counters["selected_pairs"] == sum(len(keys((-3, -2, -1, 0, 1, 2, 9))(i))
                                                    for i in range(48))
    assert "mode=table" in edited.lines[0] and "mode=window" in plain.lines[0]
    # and the edit matters: rows whose +9 key exists attend another key than +3
    assert np.abs(edited.output - plain.output).max() > 1e-3
    assert_attention_close(plain.output, oracle(q, k, v, keys(range(-3, 4))), p, q, k, v, keys=7,
                           what="unedited rvv vs oracle")


def test_unedited_lowered_file_runs_as_the_source(tmp_path):
    src = write(tmp_path, "src.mlir", WINDOW)
    low = write(tmp_path, "low.mlir", lowered(tmp_path, WINDOW, "sattn-materialize-indices,sattn-lower-rvv"))
    a, b = api.run(src, "rvv"), api.run(low, "rvv")
    assert a.counters == b.counters
    assert np.array_equal(a.output, b.output)


def test_cli_runs_a_lowered_file_as_written(tmp_path):
    text = lowered(tmp_path, DENSE)
    path = write(tmp_path, "m2.mlir", text.replace(M8, M2))
    proc = subprocess.run([sys.executable, "-m", "sattn", "run", "--mlir", str(path), "--backend", "rvv"],
                          check=False, capture_output=True, text=True, cwd=ROOT,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"^rvv_config: vlen=256 lmul=2 .* mode=dense ", proc.stdout, re.MULTILINE)
    assert re.search(r"-> PASS$", proc.stdout, re.MULTILINE)
    bad = write(tmp_path, "bad.mlir", text.replace('lmul = "m8"', 'lmul = "m2"', 1))
    proc = subprocess.run([sys.executable, "-m", "sattn", "run", "--mlir", str(bad), "--backend", "rvv"],
                          check=False, capture_output=True, text=True, cwd=ROOT,
                          timeout=600)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "vector_strips: load_lmul" in lines[0], proc.stderr


BLG = ('"sattn.sparse_attention"() { global_tokens = 4 : i64, block_size = 16 : i64, '
       'seq_len = 64 : i64, head_dim = 16 : i64 } : () -> ()\n')
TOPK = '"sattn.sparse_attention"() { topk_k = 8 : i64, seq_len = 32 : i64, head_dim = 16 : i64 } : () -> ()\n'


def test_tables_a_run_cannot_take_are_refused(tmp_path):
    text = lowered(tmp_path, BLG, "sattn-materialize-indices,sattn-lower-rvv")
    m = re.search(r"indices = array<i32: (\d+)", text)
    assert m, text
    blg = write(tmp_path, "blg.mlir", text.replace(m[0], f"indices = array<i32: {int(m[1]) + 1}", 1))
    for backend in ("reference", "rvv"):
        with pytest.raises(SattnError, match=r"index_table \(kind = 'block_csr'\) was edited, but "
                                             r"a 'block_csr' table is not a selection"):
            api.run(blg, backend)
    text = lowered(tmp_path, TOPK, "sattn-materialize-indices,sattn-lower-rvv")
    plan = 'selection_plan = {kind = "topk", k = 8 : i64'
    assert plan in text, text
    topk = write(tmp_path, "topk.mlir", text.replace(plan, plan.replace("8", "4")))
    with pytest.raises(SattnError, match=r"selection_plan .* is not the plan of the op's attributes"):
        api.run(topk, "rvv")
    win = lowered(tmp_path, WINDOW, "sattn-materialize-indices,sattn-lower-rvv")
    rows = write(tmp_path, "rows.mlir", win.replace("rows = 48 : i64", "rows = 40 : i64"))
    with pytest.raises(SattnError, match=r"has rows = 40, but the op has S = 48"):
        api.run(rows, "rvv")


class Stride2(Pattern):
    """Query i attends j <= i with i - j even (a registered structural pattern: its table is
    the default token CSR, ``kind = "csr"``)."""

    name = "stride2_contract"

    def select_group(self, shape: Shape, params: AttentionParams) -> GroupSelection:
        rows = [np.arange(i % 2, i + 1, 2, dtype=np.int32) for i in range(shape.seq_len)]
        indptr = np.zeros(shape.seq_len + 1, dtype=np.int64)
        np.cumsum([len(r) for r in rows], out=indptr[1:])
        return GroupSelection(indptr, np.concatenate(rows))


@pytest.fixture
def stride2():
    registry.register(Stride2())
    try:
        yield
    finally:
        registry.unregister(Stride2.name)


def test_edited_csr_entry_changes_what_rvv_and_the_reference_compute(tmp_path, stride2):
    src = ('"sattn.sparse_attention"() { spec = "stride2_contract", seq_len = 12 : i64, '
           'head_dim = 8 : i64 } : () -> ()\n')
    text = lowered(tmp_path, src, "sattn-materialize-indices,sattn-lower-rvv")
    # rows 0..3 select [0], [1], [0, 2], [1, 3]: make row 3 attend key 2 instead of key 3
    head = "indices = array<i32: 0, 1, 0, 2, 1, 3,"
    assert head in text, text
    path = write(tmp_path, "csr.mlir", text.replace(head, "indices = array<i32: 0, 1, 0, 2, 1, 2,"))
    rvv = api.run(path, "rvv", compare=True)
    ref = api.run(path, "reference")
    p = rvv.params
    q, k, v = synthetic(p.shape())

    def keys(i):
        return [1, 2] if i == 3 else list(range(i % 2, i + 1, 2))

    want = oracle(q, k, v, keys)
    for r, what in ((rvv, "rvv"), (ref, "reference")):
        assert_attention_close(r.output, want, p, q, k, v, keys=6, what=f"{what} vs oracle")
    assert rvv.verdict.passed
    plain = api.run(write(tmp_path, "plain.mlir", text), "reference")
    assert np.abs(plain.output[:, 3] - rvv.output[:, 3]).max() > 1e-3
    assert np.array_equal(plain.output[:, :3], ref.output[:, :3])
