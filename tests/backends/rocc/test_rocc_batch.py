"""RoCC runs a batch as ONE program: every element's jobs in one command stream over the
batch-major layout, one simulation, one set of counters. Outputs against the reference per
element (each selects from its own Q and K); bytes and pairs of the batch against their
definition, the sum over the elements' own runs; cycles measured (one run)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import need_tool
from sattn.errors import SattnError
from sattn.hw import program
from sattn.ir.schema import params_from_dict
from sattn.reference.data import check_qkv
from sattn.reference.executor import attention
from sattn.specs import select_indices
from sattn.transforms.rocc_program import program_of
from tolerance import assert_attention_close

H, G, D, S = 4, 2, 16, 40
PATTERNS = {  # structural and data-dependent
    "sliding_window": {"spec": "sliding_window", "window_size": 3, "causal": 1},
    "block_local_global": {"spec": "block_local_global", "block_size": 8, "global_tokens": 2},
    "topk_per_query": {"spec": "topk_per_query", "topk_k": 5},
    "bsr": {"spec": "bsr", "block_size": 8, "keep_ratio": 0.5},
}
#: the default suite runs B = 2 at fp32 and i8 for every pattern; the rest is slow
FAST = {(2, "fp32"), (2, "i8")}
SUMMED = ("dma_q", "dma_k", "dma_out", "pairs", "rows", "dma_reqs", "lane_cycles", "jobs",
          "min_kv_bytes", "partial_records")


@pytest.fixture(scope="module")
def driver():
    need_tool("verilator")
    from sattn.backends.rocc import driver as d

    d.simulator()
    return d


def _tensors(b, seed, dv=D, s=S):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((b, H, s, D)).astype(np.float32),
            rng.standard_normal((b, G, s, D)).astype(np.float32),
            rng.standard_normal((b, G, s, dv)).astype(np.float32))


def _params():
    out = []
    for b in (2, 3):
        for precision in ("fp32", "bf16", "i8", "i4"):
            marks = [] if (b, precision) in FAST else [pytest.mark.slow]
            for name in PATTERNS:
                out.append(pytest.param(b, precision, name, marks=marks,
                                        id=f"B{b}-{precision}-{name}"))
    return out


@pytest.mark.parametrize("b,precision,name", _params())
def test_batch_is_one_program(driver, b, precision, name):
    p = params_from_dict({**PATTERNS[name], "precision": precision, "gqa_group_size": H // G})
    q, k, v = _tensors(b, seed=5 + b)
    one = check_qkv(q[0], k[0], v[0], H // G)
    sels = [select_indices(p, one, q[e], k[e]) for e in range(b)]
    # bsr attends the host's tables here (one program of given tables); its on-chip
    # selection over a batch: test_rocc_bsr_onchip.py
    got = driver.run(p, q, k, v, **({"selection": sels} if p.spec == "bsr" else {}))
    assert got.output.shape == (b, H, S, D)
    want = attention(p, q, k, v)  # the reference's batch: each element selects from its own data
    for e in range(b):
        assert_attention_close(got.output[e], want[e], p, q[e], k[e], v[e], selection=sels[e],
                               what=f"{name} {precision} element {e}")
    # one simulation of one program: the jobs of every element
    assert sum(ln.startswith("verilator_tb:") for ln in got.lines) == 1
    prog = program_of(p, check_qkv(q, k, v, H // G), sels)
    assert got.counters["jobs"] == prog.jobs
    # bytes and pairs of the batch are, by definition, the sums over its elements' runs
    alone = [driver.run(p, q[e], k[e], v[e], selection=sels[e]) for e in range(b)]
    for key in SUMMED:
        assert got.counters[key] == sum(r.counters[key] for r in alone), key
    assert got.counters["pairs"] == (H // G) * sum(s.nnz for s in sels)
    c = got.counters
    assert c["util_mac"] == round(c["lane_cycles"] / (c["lanes"] * c["total_cycles"]), 4)
    assert c["refetch_factor"] == round(c["dma_k"] / c["min_kv_bytes"], 4) == 1.0


def test_batch_program_layout_and_bases():
    """Element e's KV head g is the program's KV head e*G + g: its jobs' bases sit where the
    batch-major layout puts element e's rows, and each (element, KV head) starts with an
    invalidating job."""
    b = 3
    p = params_from_dict({**PATTERNS["sliding_window"], "gqa_group_size": H // G})
    q, k, v = _tensors(b, seed=1)
    shape = check_qkv(q, k, v, H // G)
    sel = select_indices(p, shape.element)
    prog = program_of(p, shape, sel)
    lay = prog.layout
    row = D * 4
    assert (lay.q_bytes, lay.kv_bytes, lay.o_bytes) == (b * H * S * row, b * G * S * row,
                                                        b * H * S * D * 4)
    starts = []
    regs: dict[int, int] = {}
    for f, a, x in prog.commands.tolist():
        if f == program.F["SET_REG"]:
            regs[a] = x
        elif f == program.F["START"]:
            starts.append((regs[program.R["Q_BASE"]], regs[program.R["K_BASE"]],
                           regs[program.R["V_BASE"]], regs[program.R["O_BASE"]], a))
    kv = [(e, g) for e in range(b) for g in range(G)]
    assert len(starts) == len(kv)  # S = 40 rows fit one job per KV head
    for (qb, kb, vb, ob, inval), (e, g) in zip(starts, kv):
        head = e * G + g
        assert qb == lay.q_base + head * (H // G) * S * row
        assert kb == lay.k_base + head * S * row and vb == lay.v_base + head * S * row
        assert ob == lay.o_base + head * (H // G) * S * D * 4
        assert inval == 1
    assert prog.info["batch"] == b
    assert [s[0] for s in prog.selection(b * G, S)] and all(
        np.array_equal(ix, sel.groups[i % G].indices)
        for i, (_, ix) in enumerate(prog.selection(b * G, S)))


def test_batch_selection_count_is_checked(driver):
    p = params_from_dict({**PATTERNS["topk_per_query"], "gqa_group_size": H // G})
    q, k, v = _tensors(2, seed=6)
    sel = select_indices(p, check_qkv(q[0], k[0], v[0], H // G), q[0], k[0])
    with pytest.raises(SattnError, match=r"^rocc: 3 selections given for a batch of B=2: give "
                                         r"one per batch element$"):
        driver.run(p, q, k, v, selection=[sel] * 3)
