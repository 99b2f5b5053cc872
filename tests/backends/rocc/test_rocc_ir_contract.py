"""A lowered file runs as written on the RoCC accelerator too: an edited stencil offset of the
recorded index table is the selection its index lists carry, and the verdict compares with the
reference of the edited table."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from conftest import need_tool
from sattn import api
from sattn.errors import SattnError
from sattn.hw import isa, program
from sattn.reference.data import synthetic
from tolerance import assert_attention_close

WINDOW = ('"sattn.sparse_attention"() { spec = "sliding_window", window_size = 3 : i64, '
          'seq_len = 48 : i64, head_dim = 16 : i64, num_heads = 2 : i64, '
          'gqa_group_size = 2 : i64 } : () -> ()\n')
STENCIL = "offsets = array<i32: -3, -2, -1, 0, 1, 2, 3>"
EDITED = "offsets = array<i32: -3, -2, -1, 0, 1, 2, 9>"


def test_edited_stencil_runs_on_rocc(tmp_path):
    need_tool("verilator")
    text = str(api.compile(WINDOW, "sattn-lower-rocc"))
    assert STENCIL in text, text
    path = tmp_path / "edited.mlir"
    path.write_text(text.replace(STENCIL, EDITED))
    r = api.run(path, "rocc", compare=True)
    p = r.params
    q, k, v = synthetic(p.shape())
    assert r.verdict.passed
    offsets = (-3, -2, -1, 0, 1, 2, 9)
    want = oracle_keys(q, k, v, {i: sorted({i + o for o in offsets if 0 <= i + o < 48})
                                 for i in range(48)})
    assert_attention_close(r.output, want, p, q, k, v, keys=7, what="rocc vs oracle")
    pairs = sum(len({i + o for o in (-3, -2, -1, 0, 1, 2, 9) if 0 <= i + o < 48}) for i in range(48))
    assert r.counters["pairs"] == 2 * pairs  # two query heads


# ---------------- the recorded command stream is what runs ----------------
COMMANDS = re.compile(r"commands = array<i64: ([-0-9, ]+)>")


def program_words(text: str) -> list[int]:
    m = COMMANDS.search(text)
    assert m, text
    return [int(x) for x in m.group(1).split(",")]


def with_words(text: str, words: list[int]) -> str:
    return COMMANDS.sub(f"commands = array<i64: {', '.join(map(str, words))}>", text, count=1)


def triples(words: list[int]) -> list[list[int]]:
    return [words[i: i + 3] for i in range(0, len(words), 3)]


def flat(cmds: list[list[int]]) -> list[int]:
    return [w for c in cmds for w in c]


def window_keys(i: int, s: int = 48) -> list[int]:
    return [j for j in range(i - 3, i + 4) if 0 <= j < s]


def test_lowering_records_the_program_the_backend_runs():
    """The record decodes to the window's selection: a run per row of the keys i-3..i+3."""
    text = str(api.compile(WINDOW, "sattn-lower-rocc"))
    cmds = triples(program_words(text))
    f = {x.name: x.value for x in isa.FUNCTS}
    decoded = []  # two runs a word: {r1, r0} in rs1, {r3, r2} in rs2
    for c in cmds:
        if c[0] == f["LOAD_RUNS"]:
            for word in (c[1] & (2**64 - 1), c[2] & (2**64 - 1)):
                decoded += [word & 0xFFFFFFFF, word >> 32]
    want = [min(window_keys(i)) | len(window_keys(i)) << 16 for i in range(48)]
    assert decoded[:48] == want and not any(decoded[48:])  # padding of the last command
    assert [c[0] for c in cmds].count(f["START"]) == 1
    assert [c[0] for c in cmds][:4] == [f["CLEAR_COUNTERS"]] + [f["GET_REG"]] * 3


def test_an_edited_index_run_is_what_rocc_and_the_reference_attend(tmp_path):
    """Row 0's run 0..3 becomes 20..23 in the lowered file: the accelerator attends those keys,
    the reference follows the same record, both match a float64 oracle."""
    need_tool("verilator")
    text = str(api.compile(WINDOW, "sattn-lower-rocc"))
    cmds = triples(program_words(text))
    first = next(c for c in cmds if c[0] == 3)  # LOAD_RUNS
    assert first[1] & 0xFFFF == 0 and (first[1] >> 16) & 0xFFFF == 4
    first[1] = (first[1] & ~0xFFFFFFFF) | 20 | 4 << 16
    path = tmp_path / "edited.mlir"
    path.write_text(with_words(text, flat(cmds)))
    r = api.run(path, "rocc", compare=True)
    p = r.params
    q, k, v = synthetic(p.shape())
    keys = {i: window_keys(i) for i in range(48)}
    keys[0] = [20, 21, 22, 23]
    want = oracle_keys(q, k, v, keys)
    assert_attention_close(r.output, want, p, q, k, v, keys=7, what="rocc vs oracle")
    assert r.verdict.passed  # the reference attends the edited record too
    assert r.counters["pairs"] == 2 * sum(len(x) for x in keys.values())
    ref = api.run(path, "reference")
    assert_attention_close(ref.output, want, p, q, k, v, keys=7, what="reference vs oracle")


def test_an_edited_register_write_is_what_rocc_runs(tmp_path):
    """SCORE_SCALE edited to 2/sqrt(D): the accelerator's output is attention with doubled
    scores, and the verdict against the op's reference says FAIL."""
    need_tool("verilator")
    text = str(api.compile(WINDOW, "sattn-lower-rocc"))
    cmds = triples(program_words(text))
    reg = next(c for c in cmds if c[0] == 0 and c[1] == 0x0E)  # SET_REG SCORE_SCALE
    assert reg[2] == program.f32_bits(1 / math.sqrt(16))
    reg[2] = program.f32_bits(2 / math.sqrt(16))
    path = tmp_path / "scaled.mlir"
    path.write_text(with_words(text, flat(cmds)))
    r = api.run(path, "rocc", compare=True)
    p = r.params
    q, k, v = synthetic(p.shape())
    want = oracle_keys(q, k, v, {i: window_keys(i) for i in range(48)}, scale=2.0)
    assert_attention_close(r.output, want, p, q, k, v, keys=7, what="rocc vs doubled-scale oracle")
    assert not r.verdict.passed


def test_a_program_planned_for_other_hardware_is_refused(tmp_path):
    need_tool("verilator")
    text = str(api.compile(WINDOW, "sattn-lower-rocc"))
    cmds = triples(program_words(text))
    depth = next(c for c in cmds if c[0] == 1 and c[1] == 0x25)  # GET_REG RUN_DEPTH
    depth[2] = 8192
    path = tmp_path / "other.mlir"
    path.write_text(with_words(text, flat(cmds)))
    with pytest.raises(SattnError) as e:
        api.run(path, "rocc")
    msg = str(e.value)
    assert "\n" not in msg and "register 0x25 reads 16384, the program was planned for 8192" in msg


def test_a_table_and_a_program_edited_apart_are_refused(tmp_path):
    text = str(api.compile(WINDOW, "sattn-lower-rocc"))
    cmds = triples(program_words(text))
    first = next(c for c in cmds if c[0] == 3)
    first[1] = (first[1] & ~0xFFFFFFFF) | 20 | 4 << 16
    path = tmp_path / "both.mlir"
    path.write_text(with_words(text, flat(cmds)).replace(STENCIL, EDITED))
    with pytest.raises(SattnError, match="both edited and disagree"):
        api.run(path, "reference")


def test_lowering_again_keeps_an_edited_program():
    text = str(api.compile(WINDOW, "sattn-lower-rocc"))
    words = program_words(text)
    words[-3 * 8 + 2] += 4096  # a job register's value
    again = str(api.compile(with_words(text, words), "sattn-lower-rocc"))
    assert program_words(again) == words


@pytest.mark.parametrize("edit, message", [
    (lambda w: w[:-1], "(funct, rs1, rs2) triples"),
    (lambda w: [99] + w[1:], "funct 99 is not an instruction"),
])
def test_a_malformed_program_is_refused_in_one_line(tmp_path, edit, message):
    text = str(api.compile(WINDOW, "sattn-lower-rocc"))
    path = tmp_path / "bad.mlir"
    path.write_text(with_words(text, edit(program_words(text))))
    with pytest.raises(SattnError, match=re.escape(message)):
        api.run(path, "reference")


def test_a_data_dependent_pattern_records_that_the_host_selects():
    src = WINDOW.replace('spec = "sliding_window", window_size = 3 : i64',
                         'spec = "topk_per_query", topk_k = 5 : i64')
    assert "rocc_program = {host_selected = 1 : i64}" in str(api.compile(src, "sattn-lower-rocc"))


def oracle_keys(q, k, v, keys: dict[int, list[int]], scale: float = 1.0) -> np.ndarray:
    """Float64 softmax attention of row i over ``keys[i]`` with scores q.k * scale / sqrt(D)."""
    h, s, d = q.shape
    group = h // k.shape[0]
    out = np.zeros(q.shape, dtype=np.float64)
    for hh in range(h):
        for i in range(s):
            kk = keys[i]
            sc = np.array([float(np.dot(q[hh, i].astype(np.float64), k[hh // group, j]))
                           for j in kk]) * scale / math.sqrt(d)
            w = np.exp(sc - sc.max())
            out[hh, i] = (w / w.sum()) @ v[hh // group, kk].astype(np.float64)
    return out


def test_a_program_lowered_for_the_default_shape_runs_other_inputs(tmp_path):
    """An op that fixes no shape is lowered for the default S = 128, D = 64; tensors of another
    shape then run on the plan of their own selection (not the recorded one) and match."""
    need_tool("verilator")
    src = '"sattn.sparse_attention"() { spec = "sliding_window", window_size = 2 : i64 } : () -> ()\n'
    path = tmp_path / "lowered.mlir"
    path.write_text(str(api.compile(src, "sattn-lower-rocc")))
    rng = np.random.default_rng(3)
    q, k, v = (rng.standard_normal((2, 24, 8)).astype(np.float32) for _ in range(3))
    r = api.run(path, "rocc", q, k, v, compare=True)
    p = r.params
    assert r.verdict.passed
    want = oracle_keys(q, k, v, {i: [j for j in range(i - 2, i + 3) if 0 <= j < 24]
                                 for i in range(24)})
    assert_attention_close(r.output, want, p, q, k, v, keys=5, what="rocc vs oracle")


LAYOUT = re.compile(r"layout = \{([^}]*)\}")


def test_a_decode_over_key_tiles_records_its_tile_jobs(tmp_path):
    """Decode against 4,100 keys (three key tiles of KV_ROWS): the recorded program has a job
    per tile, K_BASE / V_BASE at the tile's first key, one run relative to it, NUM_KEYS the
    tile's length, PARTIAL set; it runs as recorded and matches the float64 oracle."""
    need_tool("verilator")
    skv, rows = 2 * isa.HW.kv_rows + 4, isa.HW.kv_rows
    types = f"tensor<2x1x16xf32>, tensor<1x{skv}x16xf32>, tensor<1x{skv}x16xf32>"
    src = (f'%q, %k, %v = "test.m"() : () -> ({types})\n'
           f'%o = "sattn.sparse_attention"(%q, %k, %v) {{spec = "dense", gqa_group_size = 2 : i64}}'
           f' : ({types}) -> tensor<2x1x16xf32>\n')
    text = str(api.compile(src, "sattn-lower-rocc"))
    lay = dict(re.findall(r"(\w+) = (\d+) : i64", LAYOUT.search(text).group(1)))
    k_base, v_base = int(lay["k_base"]), int(lay["v_base"])
    f = {x.name: x.value for x in isa.FUNCTS}
    r_ = {x.name: x.value for x in isa.REGS}
    jobs, regs, runs = [], {}, []
    for c in triples(program_words(text)):
        if c[0] == f["SET_REG"]:
            regs[c[1]] = c[2]
        elif c[0] == f["IDX_RESET"]:
            runs = []
        elif c[0] == f["LOAD_RUNS"]:
            runs += [w & 0xFFFFFFFF for x in c[1:] for w in (x & (2**64 - 1), (x & (2**64 - 1)) >> 32)]
        elif c[0] == f["START"]:
            jobs.append((dict(regs), runs[: regs[r_["N_RUNS"]]], c[1]))
    assert len(jobs) == 3
    for t, (jr, jruns, inval) in enumerate(jobs):
        n = min(rows, skv - t * rows)
        assert jr[r_["K_BASE"]] == k_base + t * rows * 16 * 4
        assert jr[r_["V_BASE"]] == v_base + t * rows * 16 * 4
        assert (jr[r_["NUM_KEYS"]], jr[r_["PARTIAL"]], inval) == (n, 1, 1)
        assert jruns == [n << 16]  # keys 0..n-1 of the tile
    path = tmp_path / "decode.mlir"
    path.write_text(text)
    rng = np.random.default_rng(4)
    q = rng.standard_normal((2, 1, 16)).astype(np.float32)
    k, v = (rng.standard_normal((1, skv, 16)).astype(np.float32) for _ in range(2))
    r = api.run(path, "rocc", q, k, v, compare=True)
    assert r.verdict.passed and r.counters["merged_rows"] == 2
    want = oracle_keys(q, k, v, {0: list(range(skv))})
    assert_attention_close(r.output, want, r.params, q, k, v, keys=skv, partials=3,
                           what="rocc key tiles vs oracle")


# ---------------- a batch: one recorded program for every element ----------------
BATCH = WINDOW.replace("num_heads = 2 : i64,", "num_heads = 2 : i64, batch = 2 : i64,")


def _first_runs(cmds: list[list[int]]) -> list[int]:
    """Index of each job's first LOAD_RUNS command (the one right after its IDX_RESET)."""
    return [i for i in range(1, len(cmds)) if cmds[i][0] == 3 and cmds[i - 1][0] == 4]


def test_a_batch_records_one_program_that_runs_as_recorded(tmp_path):
    """B = 2: the record is one program with both elements' jobs over the batch-major layout
    (one KV head an element: two jobs); it is what runs, and matches the reference."""
    text = str(api.compile(BATCH, "sattn-lower-rocc"))
    cmds = triples(program_words(text))
    f = {x.name: x.value for x in isa.FUNCTS}
    assert [c[0] for c in cmds].count(f["START"]) == 2
    assert "q_bytes = 12288 : i64" in text and "kv_bytes = 6144 : i64" in text  # 2 x 2 x 48 x 64 B
    need_tool("verilator")
    path = tmp_path / "batch.mlir"
    path.write_text(text)
    r = api.run(path, "rocc", compare=True)
    assert r.output.shape == (2, 2, 48, 16) and r.verdict.passed
    pairs = sum(len(window_keys(i)) for i in range(48))
    assert r.counters["pairs"] == 2 * 2 * pairs and r.counters["jobs"] == 2


def test_an_edited_batch_program_runs_for_every_element(tmp_path):
    """Row 0's run 0..3 edited to 20..23 in both elements' jobs: the accelerator and the
    reference attend the edited keys in each element."""
    need_tool("verilator")
    text = str(api.compile(BATCH, "sattn-lower-rocc"))
    cmds = triples(program_words(text))
    for i in _first_runs(cmds):
        cmds[i][1] = (cmds[i][1] & ~0xFFFFFFFF) | 20 | 4 << 16
    path = tmp_path / "edited.mlir"
    path.write_text(with_words(text, flat(cmds)))
    r = api.run(path, "rocc", compare=True)
    p = r.params
    q, k, v = synthetic(p.shape())
    keys = {i: window_keys(i) for i in range(48)}
    keys[0] = [20, 21, 22, 23]
    for e in range(2):
        want = oracle_keys(q[e], k[e], v[e], keys)
        assert_attention_close(r.output[e], want, p, q[e], k[e], v[e], keys=7, what=f"element {e}")
    assert r.verdict.passed


def test_a_batch_program_edited_in_one_element_is_refused(tmp_path):
    text = str(api.compile(BATCH, "sattn-lower-rocc"))
    cmds = triples(program_words(text))
    i = _first_runs(cmds)[1]  # element 1's job only
    cmds[i][1] = (cmds[i][1] & ~0xFFFFFFFF) | 20 | 4 << 16
    path = tmp_path / "edited.mlir"
    path.write_text(with_words(text, flat(cmds)))
    with pytest.raises(SattnError, match=r"^the rocc_program's index runs select other keys for "
                                         r"batch element 1 than for element 0"):
        api.run(path, "reference")
