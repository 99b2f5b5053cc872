"""Key tiles on the RoCC RTL (split-KV): more keys per KV head than the K/V scratchpad holds.

Outputs against the float64 oracle of ``tests/decode_oracle.py`` and the reference (tolerance
policy, with the merge's rounding), the DMA counter against the selected K/V rows' bytes, the
pairs counter against the selection, the recorded program's tile jobs, the PARTIAL flag against
plain rows (bit for bit), the host merge against float64 softmax, and the planner's output for
heads that fit the scratchpad against what it planned before key tiles existed."""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import pytest
from conftest import need_tool
from decode_oracle import VARIANTS, oracle
from sattn.backends.rocc.merge import merge, merge_flops_model
from sattn.errors import SattnError
from sattn.hw import program
from sattn.hw.isa import HW, PRECISION_BITS
from sattn.ir.schema import params_from_dict
from sattn.reference.data import check_qkv
from sattn.reference.executor import attention
from sattn.specs import select_indices
from sattn.transforms.rocc_program import program_of
from tolerance import assert_attention_close

H, G, D = 2, 1, 16
SKV = 2 * HW.kv_rows + 4  # three key tiles
PATTERNS = {
    "dense": {"spec": "dense"},
    "sliding_window": {"spec": "sliding_window", "window_size": HW.kv_rows + 52},  # spans 2 tiles
    "bsr": {"spec": "bsr", "block_size": 16, "keep_ratio": 0.5},
    "topk_per_query": {"spec": "topk_per_query", "topk_k": 40},
    "block_local_global": {"spec": "block_local_global", "block_size": 16, "global_tokens": 4},
}
R = program.R


def given(p, sel) -> dict:
    """bsr selects its blocks on chip unless it is given a table; the key tiles run tables the
    chip cannot select (more than TOPN_MAX kept blocks), so bsr attends the host's table here
    (its on-chip selection: test_rocc_bsr_onchip.py)."""
    return {"selection": sel} if p.spec == "bsr" else {}


@pytest.fixture(scope="module")
def driver():
    need_tool("verilator")
    from sattn.backends.rocc import driver as d

    d.simulator()
    return d


def _case(sq, skv, precision, attrs, seed, heads=H, kv_heads=G):
    p = params_from_dict({**attrs, "precision": precision, "gqa_group_size": heads // kv_heads})
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((heads, sq, D)).astype(np.float32)
    k = rng.standard_normal((kv_heads, skv, D)).astype(np.float32)
    v = rng.standard_normal((kv_heads, skv, D)).astype(np.float32)
    return p, q, k, v


def _distinct_kv_bytes(sel, precision):
    row = D * PRECISION_BITS[precision] // 8
    return 2 * row * sum(len(np.unique(g.indices)) for g in sel.groups)


@pytest.mark.parametrize("precision", ["fp32", "i8"])
@pytest.mark.parametrize("sq", [1, 4])
@pytest.mark.parametrize("pattern", sorted(PATTERNS))
def test_key_tiles_against_oracle(driver, pattern, sq, precision):
    p, q, k, v = _case(sq, SKV, precision, PATTERNS[pattern], seed=sq)
    shape = check_qkv(q, k, v, H // G)
    sel = select_indices(p, shape, q, k)
    r = driver.run(p, q, k, v, **given(p, sel))
    assert program_of(p, shape, sel).jobs > 1  # tiled: more than one job for one KV head
    want, _ = oracle(p, q, k, v, sel)
    parts = r.counters["max_partials"]
    what = f"rocc {pattern} Sq={sq} Skv={SKV} {precision}"
    assert_attention_close(r.output, want, p, q, k, v, selection=sel, partials=parts, what=what)
    assert_attention_close(r.output, attention(p, q, k, v), p, q, k, v, selection=sel,
                           partials=parts, what=what + " vs reference")
    assert r.counters["pairs"] == sel.nnz * (H // G)
    # every selected K and V row fetched exactly once per KV head
    assert r.counters["dma_k"] == r.counters["min_kv_bytes"] == _distinct_kv_bytes(sel, precision)
    assert r.counters["refetch_factor"] == 1.0
    if sq == 1:
        assert r.counters["dma_k"] == 2 * sel.nnz * D * PRECISION_BITS[precision] // 8
    if pattern == "dense":  # keys 0..4099: tiles of 2048, 2048 and 4 keys, every row merged
        assert (r.counters["max_partials"], r.counters["merged_rows"]) == (3, H * sq)
        assert r.counters["partial_records"] == 3 * H * sq
        assert r.counters["host_merge_flops_model"] == H * sq * (2 * 3 * D + 4 * 3 - 2)
        # the output region: plain rows none, one record of D + 2 fp32 words per row and tile
        assert r.counters["dma_out"] == 3 * H * sq * (D + 2) * 4


@pytest.mark.parametrize("pattern", ["bsr", "dense_causal"])
def test_key_tiles_prefill_refetch(driver, pattern):
    """Sq < Skv prefill over three tiles: rows inside one tile write plain rows, rows across
    tiles partial records; the K/V bytes stay the minimum (key-major tiles)."""
    attrs = {"bsr": PATTERNS["bsr"], "dense_causal": {"spec": "dense", "causal": 1}}[pattern]
    p, q, k, v = _case(40, SKV, "fp32", attrs, seed=3, heads=4, kv_heads=2)
    shape = check_qkv(q, k, v, 2)
    sel = select_indices(p, shape, q, k)
    r = driver.run(p, q, k, v, **given(p, sel))
    want, _ = oracle(p, q, k, v, sel)
    assert_attention_close(r.output, want, p, q, k, v, selection=sel,
                           partials=r.counters["max_partials"], what=f"rocc prefill {pattern}")
    assert r.counters["pairs"] == sel.nnz * 2
    assert r.counters["dma_k"] == _distinct_kv_bytes(sel, "fp32")
    assert r.counters["refetch_factor"] == 1.0
    assert r.counters["merged_rows"] > 0


def test_tile_jobs_in_the_program():
    """Decode one planned program: a job per tile, K/V_BASE at the tile's first key, runs
    relative to it, NUM_KEYS the tile's length, the scratchpad invalidated at each tile's
    first job, PARTIAL set, records packed after the output; it decodes to the selection."""
    p, q, k, v = _case(1, SKV, "fp32", {"spec": "dense"}, seed=0)
    shape = check_qkv(q, k, v, H // G)
    sel = select_indices(p, shape, q, k)
    prog = program_of(p, shape, sel)
    lay, row = prog.layout, D * 4
    starts = list(prog.starts())
    assert len(starts) == 3
    t0s = [0, HW.kv_rows, 2 * HW.kv_rows]
    for (regs, runs, ptrs), t0 in zip(starts, t0s):
        n = min(HW.kv_rows, SKV - t0)
        assert regs[R["K_BASE"]] == lay.k_base + t0 * row
        assert regs[R["V_BASE"]] == lay.v_base + t0 * row
        assert regs[R["NUM_KEYS"]] == n
        assert regs[R["PARTIAL"]] == 1
        assert runs[:regs[R["N_RUNS"]]] == [0 | n << 16]  # one run: keys t0..t0+n-1, relative
        assert ptrs[:2] == [0, 1]
    inval = [int(c[1]) for c in prog.commands if c[0] == program.F["START"]]
    assert inval == [1, 1, 1]
    heads, rows, words = prog.partial_records(1, H)
    out_words = H * 1 * D
    assert sorted(zip(heads.tolist(), rows.tolist())) == sorted([(h, 0) for h in range(H)] * 3)
    assert words.min() * 4 >= out_words * 4 and (words.max() + D + 2) * 4 <= lay.o_bytes
    (indptr, indices), = prog.selection(1, 1)
    assert indptr.tolist() == [0, SKV] and indices.tolist() == list(range(SKV))
    text = prog.text()
    assert f"# job 1: kv head 0, keys {HW.kv_rows}..{2 * HW.kv_rows - 1}, rows 0..0, partial" in text


def test_sliding_window_decode_is_one_offset_tile():
    """A decode window far from key 0 is one tile at the head's first selected key: one job,
    K_BASE at that key, no partial records."""
    w = 300
    p, q, k, v = _case(1, 65536, "fp32", {"spec": "sliding_window", "window_size": w}, seed=0)
    shape = check_qkv(q, k, v, H // G)
    sel = select_indices(p, shape, q, k)
    prog = program_of(p, shape, sel)
    (regs, runs, _), = list(prog.starts())
    first = int(sel.groups[0].indices.min())
    assert regs[R["K_BASE"]] == prog.layout.k_base + first * D * 4
    assert regs[R["PARTIAL"]] == 0
    assert [x & 0xFFFF for x in runs[:regs[R["N_RUNS"]]]] == [0]
    assert prog.selection(1, 1)[0][1].tolist() == sel.groups[0].indices.tolist()


def test_partial_flag_gives_the_plain_rows_bit_for_bit(driver):
    """A recorded program edited to run every job with PARTIAL = 1 (one record per row,
    copied by the merge) gives the plain program's output bit for bit, the same pairs and
    K/V bytes, and D + 2 words written per row instead of D."""
    p, q, k, v = _case(6, 64, "fp32", {"spec": "sliding_window", "window_size": 5}, seed=7,
                       heads=4, kv_heads=2)
    shape = check_qkv(q, k, v, 2)
    sel = select_indices(p, shape, q, k)
    plain = program_of(p, shape, sel)
    rec = (D + 2) * 4
    lay = plain.layout
    cursor = (lay.o_base + lay.o_bytes + 4095) // 4096 * 4096
    cmds = []
    regs: dict[int, int] = {}
    for c in plain.commands.tolist():
        if c[0] == program.F["SET_REG"]:
            regs[c[1]] = c[2]
        if c[0] == program.F["START"]:
            count = regs[R["ROW_COUNT"]]
            cmds += [[program.F["SET_REG"], R["PARTIAL"], 1],
                     [program.F["SET_REG"], R["O_BASE"], cursor],
                     [program.F["SET_REG"], R["O_HSTRIDE"], count * rec]]
            cursor += 2 * count * rec
        cmds.append(c)
    edited = program.Program(dataclasses.replace(lay, o_bytes=cursor - lay.o_base),
                             np.array(cmds, dtype=np.uint64), plain.info)
    pe = dataclasses.replace(p, extra={**p.extra, "rocc_program": edited.record()})
    r0 = driver.run(p, q, k, v)
    r1 = driver.run(pe, q, k, v)
    assert r1.counters["partial_records"] == 4 * 6 and r1.counters["merged_rows"] == 0
    assert r0.counters["partial_records"] == 0
    assert np.array_equal(r0.output.view(np.uint32), r1.output.view(np.uint32))
    for c in ("pairs", "dma_k", "dma_q"):
        assert r0.counters[c] == r1.counters[c]
    assert r0.counters["dma_out"] == 4 * 6 * D * 4
    assert r1.counters["dma_out"] == 4 * 6 * rec


def test_merge_against_float64_softmax():
    """Records made in float64 from random scores and rounded to fp32, merged: a row with one
    record is copied bit for bit; a row of T records is the float64 softmax over all its keys
    within the rounding of the records (4 fp32 roundings each: o, m, l and the final)."""
    rng = np.random.default_rng(0)
    n_rows, d = 6, 8
    out = np.full((2, 3, d), np.nan, dtype=np.float32)
    heads, rows, words, region, want = [], [], [], [], np.zeros((2, 3, d))
    tiles = [1, 3, 2, 1, 4, 2]
    for i in range(n_rows):
        h, r = divmod(i, 3)
        s = rng.standard_normal(50 * tiles[i]) * 3
        vv = rng.standard_normal((len(s), d))
        e = np.exp(s - s.max())
        want[h, r] = e @ vv / e.sum()
        for part in np.array_split(np.arange(len(s)), tiles[i]):
            m = s[part].max()
            w = np.exp(s[part] - m)
            o = w @ vv[part] / w.sum()
            heads.append(h)
            rows.append(r)
            words.append(len(region))
            region.extend(np.float32(x) for x in [*o, m, w.sum()])
    region = np.array(region, dtype=np.float32)
    stats = merge(out, region, np.array(heads), np.array(rows), np.array(words))
    assert stats.records == sum(tiles) and stats.max_partials == 4
    assert stats.merged_rows == sum(t > 1 for t in tiles)
    assert stats.flops_model == merge_flops_model(np.array(tiles), d) == \
        sum(2 * t * d + 4 * t - 2 for t in tiles if t > 1)
    # one record: its o exactly
    assert np.array_equal(out[0, 0], region[words[0]: words[0] + d])
    assert np.array_equal(out[1, 0], region[words[6]: words[6] + d])
    # several: o within u of each record (|o| <= max|v|) moved by the rounded m and l: m is
    # within u|m| (so exp(m - M) within e^(2u|m|) - 1), l within u; then one final rounding
    u = 2.0**-24
    vmax = 4.5  # standard normal draws of this seed stay below it
    assert np.abs(want).max() < vmax
    mmax = 3 * 5.0
    bound = (u + 2 * (2 * (np.exp(2 * u * mmax) - 1) + 2 * u) + u) * vmax
    assert np.abs(out - want).max() <= bound


def test_rows_beyond_the_16_bit_registers_are_one_line(driver):
    sq = program.MAX_ROWS + 1
    p, q, k, v = _case(sq, sq, "fp32", {"spec": "sliding_window", "window_size": 1}, seed=1,
                       heads=1, kv_heads=1)
    with pytest.raises(SattnError, match=rf"^rocc: Sq={sq} query rows exceed the accelerator's "
                                         r"16-bit SEQ_LEN/ROW_BASE registers \(at most 65535 "
                                         r"rows a head\)$"):
        driver.run(p, q, k, v)


#: Measured with the planner and RTL of main at 7e68844 (before key tiles), one run each:
#: (total_cycles, dma_k, dma_q, dma_out, pairs), and below the sha256 of the replayed program
#: text. Heads that fit the scratchpad must plan and run exactly as before. (The texts were
#: re-hashed when CAPS gained the NSA bit: the program's CAPS check reads 0xfff, was 0x7ff; and
#: again when it gained BSR_SELECT: 0x1fff; with that word put back each text hashed to its
#: previous value. bsr runs the table it is given, as it did then: its on-chip selection is
#: tests/backends/rocc/test_rocc_bsr_onchip.py.)
BEFORE_TILES = {
    ("sliding_window", 1, 2048, "fp32"): (1520, 16640, 256, 256, 260),
    ("bsr", 4, 300, "i8"): (5417, 9984, 256, 1024, 2496),
    ("topk_per_query", 32, 32, "fp32"): (3342, 8192, 8192, 8192, 896),
    ("dense", 24, 64, "i4"): (11480, 2048, 768, 6144, 5040),
}
BEFORE_ATTRS = {"sliding_window": {"window_size": 64},
                "bsr": {"block_size": 16, "keep_ratio": 0.5}, "topk_per_query": {"topk_k": 7},
                "dense": {"causal": 1}}
BEFORE_TEXT = {
    ("sliding_window", 1, 2048, "fp32"): "5d812a8f52646def0cdebacf6958ba0690c7d0ae9e0157aad74b73e7335fd1cc",
    ("bsr", 4, 300, "i8"): "40e22a65f77148fcf1b9f794180cee8a71118dfdbef2adbcb7caee571b549de1",
    ("topk_per_query", 32, 32, "fp32"): "160211b10d9d850b9034b8357d072c02faf6e6c6854cae2549d21cffb02fb1ef",
    ("dense", 24, 64, "i4"): "fd658d7f4ed7890df3522d1d893a5c5d8a19f5b941f0a96d0a9df20bc434838b",
}


@pytest.mark.parametrize("case", sorted(BEFORE_TILES))
def test_heads_that_fit_run_as_before(driver, case):
    spec, sq, skv, precision = case
    p = params_from_dict({"spec": spec, **BEFORE_ATTRS[spec], "precision": precision,
                          "gqa_group_size": 2})
    rng = np.random.default_rng(sq + skv)
    q = rng.standard_normal((4, sq, D)).astype(np.float32)
    k = rng.standard_normal((2, skv, D)).astype(np.float32)
    v = rng.standard_normal((2, skv, D)).astype(np.float32)
    shape = check_qkv(q, k, v, 2)
    sel = select_indices(p, shape, q, k)
    prog = program_of(p, shape, sel)
    assert hashlib.sha256(prog.text().encode()).hexdigest() == BEFORE_TEXT[case]
    r = driver.run(p, q, k, v, **given(p, sel))
    got = tuple(r.counters[c] for c in ("total_cycles", "dma_k", "dma_q", "dma_out", "pairs"))
    assert got == BEFORE_TILES[case]


#: The slow sweep's large shapes: a decode step over four key tiles and a prefill chunk of 64
#: rows at the end of a two-tile cache.
LARGE = [(1, 4 * HW.kv_rows), (64, 2 * HW.kv_rows)]


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["fp32", "bf16", "i8", "i4"])
@pytest.mark.parametrize("sq,skv", LARGE)
@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_large_kv_cache_every_pattern(driver, name, sq, skv, precision):
    """Every built-in pattern (the oracle's first variant), causal, at every precision, on
    caches of several key tiles: RoCC against the reference (tolerance policy with the merge's
    rounding) and against the selection's pairs."""
    attrs = {"spec": name, "causal": 1, **VARIANTS[name][0]}
    p, q, k, v = _case(sq, skv, precision, attrs, seed=sq + skv)
    sel = select_indices(p, check_qkv(q, k, v, H // G), q, k)
    r = driver.run(p, q, k, v, selection=sel)
    assert_attention_close(r.output, attention(p, q, k, v, selection=sel), p, q, k, v,
                           selection=sel, partials=r.counters["max_partials"],
                           what=f"rocc {name} Sq={sq} Skv={skv} {precision}")
    assert r.counters["pairs"] == sel.nnz * (H // G)
