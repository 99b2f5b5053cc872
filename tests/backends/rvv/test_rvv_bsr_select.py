"""bsr's block selection inside the RVV kernel (kernels/bsr.c) against ``sattn.specs.bsr``.

The kernel scores mean-pooled Qsum blocks against K block sums in fp32 (sattn.specs.bsr's
operations), forces the diagonal, keeps the top ``ceil(keep_ratio * nb)`` (ties to the lower block; causal: kb <= qb)
and attends the kept blocks, so the instruction count includes the selection. Each case checks
the kernel's dumped selection with the shared near-tie helper (tests/tolerance.py: the
definition, with either block of an fp32 near-tie accepted, the reference's choice wherever
no near-tie decides), and the output tensor against the reference attention of the kernel's own
selection within the fp32 tolerance policy. Edges: a partial last block, one block, every block kept, one block kept, GQA
groups, the stored precisions, VLEN 128 and 512 (strip boundaries of the scoring and top-k).
Tie data: every K block equal (all scores tie exactly: the diagonal and the lowest blocks
win), all-zero queries (every score is +-0).
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import need_tool
from sattn.backends.rvv import runner
from sattn.ir.schema import params_from_dict
from sattn.reference.data import synthetic
from sattn.specs import bsr, csr, select_indices
from tolerance import assert_agree, kept_blocks


@pytest.fixture(autouse=True)
def _tools():
    need_tool("qemu-riscv64")


def _data(p, kind: str):
    q, k, v = synthetic(p.shape(), seed=11)
    b = p.effective_block_size(p.shape().seq_len)
    if kind == "equal_blocks":  # every K block the same rows: every block score ties exactly
        k = np.ascontiguousarray(k[:, np.arange(k.shape[1]) % b])
    elif kind == "zero_q":
        q = np.zeros_like(q)
    return q, k, v


#: (attributes, data kind)
CASES = [
    ({"seq_len": 100, "head_dim": 16, "block_size": 16, "keep_ratio": 0.3}, "synthetic"),
    ({"seq_len": 100, "head_dim": 16, "block_size": 16, "keep_ratio": 0.3, "causal": 1}, "synthetic"),
    ({"seq_len": 96, "head_dim": 32, "block_size": 8, "keep_ratio": 0.05}, "synthetic"),
    ({"seq_len": 96, "head_dim": 32, "block_size": 8, "keep_ratio": 1.0, "causal": 1}, "synthetic"),
    ({"seq_len": 40, "head_dim": 16, "block_size": 64, "keep_ratio": 0.5}, "synthetic"),
    ({"seq_len": 64, "head_dim": 24, "block_size": 8, "keep_ratio": 0.5, "num_heads": 4,
      "gqa_group_size": 2}, "synthetic"),
    ({"seq_len": 72, "head_dim": 16, "block_size": 8, "keep_ratio": 0.4, "num_heads": 3,
      "gqa_group_size": 3, "causal": 1}, "synthetic"),
    ({"seq_len": 64, "head_dim": 16, "block_size": 8, "keep_ratio": 0.5}, "equal_blocks"),
    ({"seq_len": 64, "head_dim": 16, "block_size": 8, "keep_ratio": 0.5, "causal": 1}, "equal_blocks"),
    ({"seq_len": 64, "head_dim": 16, "block_size": 8, "keep_ratio": 0.5, "num_heads": 2,
      "gqa_group_size": 2}, "zero_q"),
]


def _id(case) -> str:
    attrs, kind = case
    return "-".join(f"{k}{v}" for k, v in attrs.items()) + "-" + kind


def _run_and_check(p, q, k, v, vlen: int) -> list:
    ref = select_indices(p, p.shape(), q, k)
    res = runner.run(p, q, k, v, vlen=vlen, count=False, check_selection=True)
    mine = res.kernel_selection
    assert_agree(p, p.shape(), q, k, v, res.output, mine, ref, None,
                 f"in-kernel bsr selection, VLEN {vlen}")
    return mine


@pytest.mark.parametrize("case", CASES, ids=_id)
@pytest.mark.parametrize("vlen", (128, 512))
def test_in_kernel_block_selection(case, vlen):
    attrs, kind = case
    p = params_from_dict(attrs).replace(spec="bsr")
    q, k, v = _data(p, kind)
    mine = _run_and_check(p, q, k, v, vlen)
    if kind in ("equal_blocks", "zero_q"):
        # exact ties everywhere (the kernel computes equal blocks identically): the diagonal,
        # then the lowest block ids -- the definition's tie rule
        s = p.shape().seq_len
        b = p.effective_block_size(s)
        nb = csr.num_blocks(s, b)
        n = bsr.num_kept(p, nb)
        for sel in mine:
            for qb, kept in enumerate(kept_blocks(sel, p)):
                cands = list(range(qb + 1)) if p.causal else list(range(nb))
                want = sorted({qb} | set([c for c in cands if c != qb][: n - 1]))
                assert kept == want, (qb, kept, want)


@pytest.mark.parametrize("precision", ("bf16", "i8", "i4"))
@pytest.mark.parametrize("causal", (0, 1))
def test_in_kernel_block_selection_precisions(precision, causal):
    """The block means of bf16 values and of i8/i4 codes, as the reference ranks them."""
    p = params_from_dict({"seq_len": 80, "head_dim": 32, "block_size": 16, "keep_ratio": 0.4,
                          "num_heads": 4, "gqa_group_size": 2, "precision": precision,
                          "causal": causal}).replace(spec="bsr")
    _run_and_check(p, *synthetic(p.shape(), seed=4), vlen=256)


def test_no_table_from_the_host():
    """bsr reaches the kernel as its attributes and Q/K/V only: the input file carries no index
    table (the block scoring runs inside the counted region), unlike block_local_global."""
    import struct

    from sattn.backends.rvv import abi

    p = params_from_dict({"seq_len": 64, "head_dim": 16, "block_size": 16,
                          "keep_ratio": 0.25}).replace(spec="bsr")
    q, k, v = synthetic(p.shape(), seed=2)
    st = runner.to_storage(p, q, k, v)
    assert runner.kernel_mode(p) == "bsr"
    blob = runner.build_input(p, st, p.shape(), "bsr", None, 8)
    hdr = struct.unpack("<64q", blob[:512])
    slot = abi.SLOTS
    assert hdr[slot["mode"]] == abi.MODES["bsr"]
    assert hdr[slot["indptr_off"]] == 0 and hdr[slot["indices_off"]] == 0 and hdr[slot["nnz"]] == 0
    assert (hdr[slot["block_size"]], hdr[slot["keep_blocks"]]) == (16, 1)
    blg = p.replace(spec="block_local_global", global_tokens=2)
    sel = select_indices(blg, blg.shape(), q, k)
    hdr = struct.unpack("<64q", runner.build_input(blg, st, p.shape(), "table", sel, 8)[:512])
    assert hdr[slot["indptr_off"]] > 0 and hdr[slot["nnz"]] == sel.nnz
