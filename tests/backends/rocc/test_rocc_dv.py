"""Dv != D on the RoCC RTL: V and OUT rows Dv wide (``HEAD_DIM_V``), end to end.

Outputs against the reference (``attention`` takes Dv from V's shape) at Dv = D/2 and 2D, every
precision, prefill, decode, Sq < Skv and key tiles (Skv > KV_ROWS), GQA; the pairs counter
against the selection; the DMA counters against their definition (every selected K row D wide
and V row Dv wide once per KV head; every output row Dv fp32 words); and Dv = D against what the
planner made before V had a width of its own (no HEAD_DIM_V write, the same layout)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import need_tool
from sattn.errors import SattnError
from sattn.hw import program
from sattn.hw.isa import HW, PRECISION_BITS
from sattn.ir.schema import params_from_dict
from sattn.reference.data import check_qkv
from sattn.reference.executor import attention
from sattn.specs import select_indices
from sattn.transforms.rocc_program import program_of
from tolerance import assert_attention_close

H, G, D = 4, 2, 16
CASES = {  # name: (Sq, Skv, attributes)
    "prefill": (40, 40, {"spec": "bsr", "block_size": 8, "keep_ratio": 0.5}),
    "decode": (1, 64, {"spec": "topk_per_query", "topk_k": 7}),
    "sq_below_skv": (8, 64, {"spec": "dense", "causal": 1}),
    # Skv > KV_ROWS: three key tiles, rows spanning two of them (partial records)
    "key_tiles": (4, 2 * HW.kv_rows + 4, {"spec": "sliding_window",
                                           "window_size": HW.kv_rows + 52}),
}
SLOW = {("key_tiles", "bf16"), ("key_tiles", "i8")}  # the other two precisions cover the path


@pytest.fixture(scope="module")
def driver():
    need_tool("verilator")
    from sattn.backends.rocc import driver as d

    d.simulator()
    return d


def _case(name, precision, dv, seed=3, batch=None):
    sq, skv, attrs = CASES[name]
    p = params_from_dict({**attrs, "precision": precision, "gqa_group_size": H // G})
    rng = np.random.default_rng(seed)
    lead = () if batch is None else (batch,)
    q = rng.standard_normal((*lead, H, sq, D)).astype(np.float32)
    k = rng.standard_normal((*lead, G, skv, D)).astype(np.float32)
    v = rng.standard_normal((*lead, G, skv, dv)).astype(np.float32)
    return p, q, k, v


def _kv_bytes(sel, precision, dv):
    """Every distinct selected key's K row (D wide) and V row (Dv wide), once per KV head."""
    distinct = sum(len(np.unique(g.indices)) for g in sel.groups)
    return distinct * (D + dv) * PRECISION_BITS[precision] // 8


def _params():
    out = []
    for name in CASES:
        for precision in ("fp32", "bf16", "i8", "i4"):
            marks = [pytest.mark.slow] if (name, precision) in SLOW else []
            for dv in (D // 2, 2 * D):
                out.append(pytest.param(name, precision, dv, marks=marks,
                                        id=f"{name}-{precision}-dv{dv}"))
    return out


@pytest.mark.parametrize("name,precision,dv", _params())
def test_dv_against_reference(driver, name, precision, dv):
    p, q, k, v = _case(name, precision, dv)
    sel = select_indices(p, check_qkv(q, k, v, H // G), q, k)
    # bsr attends the host's table here (the attention path at Dv != D); its on-chip
    # selection at Dv != D: test_rocc_bsr_onchip.py
    r = driver.run(p, q, k, v, **({"selection": sel} if p.spec == "bsr" else {}))
    sq = q.shape[1]
    assert r.output.shape == (H, sq, dv)
    want = attention(p, q, k, v)
    assert_attention_close(r.output, want, p, q, k, v, selection=sel,
                           partials=max(1, r.counters["max_partials"]),
                           what=f"rocc {name} {precision} Dv={dv}")
    c = r.counters
    assert c["pairs"] == sel.nnz * (H // G)
    # K and V bytes at the memory port: each selected row once per KV head (decode: the
    # selected rows' bytes exactly), V rows Dv wide
    assert c["dma_k"] == _kv_bytes(sel, precision, dv) == c["min_kv_bytes"]
    # Q rows D wide (a row's, once per job over it that has keys), output rows Dv fp32 words
    # and partial records [o (Dv), m, l]
    plain, records, q_rows = _written(sel, sq)
    assert c["dma_q"] == (H // G) * q_rows * D * PRECISION_BITS[precision] // 8
    assert c["partial_records"] == records * (H // G)
    assert c["dma_out"] == (H // G) * (plain * dv * 4 + records * (dv + 2) * 4)


def _written(sel, sq):
    """(plain output rows, partial records, Q row fetches) of one query head of each KV head: a
    head that fits the scratchpad writes every row and fetches the Q row of each row with keys;
    a key-tiled head (tiles of KV_ROWS keys from its first selected key) writes a row of one
    tile plainly and a record per tile of a row spanning more, fetching its Q row per tile
    (docs/rocc.md, key tiles)."""
    plain = records = q_rows = 0
    for g in sel.groups:
        if sel.num_keys <= HW.kv_rows:
            plain += sq
            q_rows += int(np.count_nonzero(np.diff(g.indptr)))
            continue
        first = int(g.indices.min())
        for r in range(sq):
            tiles = len(np.unique((g.indices[g.indptr[r]: g.indptr[r + 1]] - first) // HW.kv_rows))
            plain += tiles == 1
            records += tiles if tiles > 1 else 0
            q_rows += tiles
    return plain, records, q_rows


def test_dv_decode_bytes_formula(driver):
    """Decode at Dv = D/2: dma_k = selected keys x (D + Dv) bytes per KV head, exactly."""
    p, q, k, v = _case("decode", "fp32", D // 2)
    r = driver.run(p, q, k, v)
    sel = select_indices(p, check_qkv(q, k, v, H // G), q, k)
    assert r.counters["dma_k"] == sel.nnz * (D + D // 2) * 4  # top-k: distinct keys per head


def test_dv_batch_runs_as_one_program(driver):
    p, q, k, v = _case("sq_below_skv", "i8", D // 2, batch=2)
    r = driver.run(p, q, k, v)
    assert r.output.shape == (2, H, 8, D // 2)
    want = attention(p, q, k, v)
    for e in range(2):
        assert_attention_close(r.output[e], want[e], p, q[e], k[e], v[e], what=f"element {e}")
    assert sum(ln.startswith("verilator_tb:") for ln in r.lines) == 1


def _plan(dv, precision="fp32", skv=64, batch=1):
    sq = 8
    p = params_from_dict({"spec": "sliding_window", "window_size": 5, "precision": precision,
                          "gqa_group_size": H // G})
    q = np.zeros((H, sq, D), np.float32)
    k = np.zeros((G, skv, D), np.float32)
    shape = check_qkv(q, k, np.zeros((G, skv, dv), np.float32), H // G)
    if batch != 1:
        import dataclasses
        shape = dataclasses.replace(shape, batch=batch)
    return program_of(p, shape, select_indices(p, shape.element))


def test_dv_equal_d_plans_what_it_planned_before():
    """Dv = D: no HEAD_DIM_V write (its reset value 0 means Dv = D), the layout's eight fields
    of before (V's sizes equal K's), O_HSTRIDE = S * D * 4."""
    prog = _plan(D)
    sets = {int(a): int(b) for f, a, b in prog.commands if f == program.F["SET_REG"]}
    assert program.R["HEAD_DIM_V"] not in sets
    assert sorted(prog.layout.fields()) == sorted(program.LAYOUT_REQUIRED)
    assert sets[program.R["O_HSTRIDE"]] == 8 * D * 4
    row = D * 4
    assert (prog.layout.q_bytes, prog.layout.kv_bytes, prog.layout.v_bytes) == \
        (H * 8 * row, G * 64 * row, G * 64 * row)


@pytest.mark.parametrize("precision", ["fp32", "bf16", "i8", "i4"])
@pytest.mark.parametrize("dv", [D // 2, 2 * D])
def test_dv_layout_and_registers(dv, precision):
    """V [G, NUM_KEYS, Dv] in the precision's format; OUT [H, S, Dv] fp32; V_BASE of KV head g
    at g * NUM_KEYS * Dv-row bytes; HEAD_DIM_V = Dv; the record round-trips."""
    prog = _plan(dv, precision)
    lay = prog.layout
    bits = PRECISION_BITS[precision]
    assert (lay.row_bytes, lay.v_row_bytes) == (D * bits // 8, dv * bits // 8)
    assert lay.v_bytes == G * 64 * dv * bits // 8 and lay.o_bytes == H * 8 * dv * 4
    assert lay.o_base >= lay.v_base + lay.v_bytes
    sets = {}
    v_bases = []
    for f, a, b in prog.commands:
        if f == program.F["SET_REG"]:
            sets[int(a)] = int(b)
            if int(a) == program.R["V_BASE"]:
                v_bases.append(int(b) - lay.v_base)
    assert sets[program.R["HEAD_DIM_V"]] == dv and sets[program.R["HEAD_DIM"]] == D
    assert sets[program.R["O_HSTRIDE"]] == 8 * dv * 4
    assert v_bases == [g * 64 * dv * bits // 8 for g in range(G)]
    back = program.Program.from_record(prog.record(), prog.info)
    assert back.same_as(prog)


def test_dv_above_dmax_is_one_line(driver):
    p = params_from_dict({"spec": "sliding_window", "window_size": 3, "gqa_group_size": 1})
    q = np.zeros((1, 4, D), np.float32)
    k = np.zeros((1, 4, D), np.float32)
    v = np.zeros((1, 4, HW.dmax + 2), np.float32)
    with pytest.raises(SattnError, match=rf"^rocc: Dv={HW.dmax + 2} exceeds the accelerator's "
                                         rf"DMAX={HW.dmax} "):
        driver.run(p, q, k, v)


SRC = ('"sattn.sparse_attention"() { spec = "sliding_window", window_size = 3 : i64, '
       'seq_len = 40 : i64, head_dim = 16 : i64, num_heads = 4 : i64, '
       'gqa_group_size = 2 : i64 } : () -> ()\n')


def _with_head_dim_v(text: str, dv: int) -> str:
    """The lowered ``text`` with ``SET_REG HEAD_DIM_V = dv`` inserted before its first job."""
    import re

    pat = re.compile(r"commands = array<i64: ([-0-9, ]+)>")
    words = [int(x) for x in pat.search(text).group(1).split(",")]
    cmds = [words[i: i + 3] for i in range(0, len(words), 3)]
    first_job = next(i for i in range(1, len(cmds)) if cmds[i][0] == program.F["IDX_RESET"])
    cmds.insert(first_job, [program.F["SET_REG"], program.R["HEAD_DIM_V"], dv])
    return pat.sub("commands = array<i64: " + ", ".join(str(w) for c in cmds for w in c) + ">",
                   text, count=1)


def test_head_dim_v_equal_to_d_is_the_reset_value(driver, tmp_path):
    """A lowered program with ``SET_REG HEAD_DIM_V = D`` inserted after its setup computes what
    the program without it (reset value 0: Dv = D) does, bit for bit, with the same bytes,
    pairs and busy cycles (only the extra command's cycles differ)."""
    from sattn import api

    text = str(api.compile(SRC, "sattn-lower-rocc"))
    runs = []
    for name, t in (("plain", text), ("explicit", _with_head_dim_v(text, D))):
        path = tmp_path / f"{name}.mlir"
        path.write_text(t)
        runs.append(api.run(path, "rocc"))
    a, b = runs
    assert a.output.tobytes() == b.output.tobytes()
    for key in ("dma_q", "dma_k", "dma_out", "pairs", "rows", "busy_cycles", "lane_cycles",
                "mac_cycles", "stall_kv_cycles"):
        assert a.counters[key] == b.counters[key], key
    assert b.counters["total_cycles"] > a.counters["total_cycles"]


def test_the_hardware_refuses_head_dim_v_over_dmax(driver, tmp_path):
    """HEAD_DIM_V = DMAX + 1 written into a recorded program: the accelerator refuses the job
    with SHAPE, one line."""
    from sattn import api

    path = tmp_path / "wide.mlir"
    path.write_text(_with_head_dim_v(str(api.compile(SRC, "sattn-lower-rocc")), HW.dmax + 1))
    with pytest.raises(SattnError, match=r"hardware refused job 0 .*: error SHAPE: ") as exc:
        api.run(path, "rocc")
    assert "\n" not in str(exc.value)
