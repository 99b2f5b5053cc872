"""The in-kernel top-k and N:M selections (kernels/select_common.c) at the edges of their
definition, against ``sattn.specs.select_indices`` entry for entry.

The kernel finds the top-k threshold by splitting the order-preserving 64-bit image of the
float64 scores in vector code and breaks ties to the lower key with a prefix count of the equal
keys; N:M ranks each key against its group partners with gathered vector compares. Ties are
where such code goes wrong, so the data here makes many: repeated K rows (whole groups of
equal scores), all-zero queries (every score +-0), k at 1, S-1, S and beyond, causal rows
shorter than k, groups that do not divide S. VLEN 128 and 512 move the strip boundaries.

Each case checks the kernel's dumped selection against ``select_indices``, that selection
against a brute-force reading of the definition (sort by score, then by key), and the output
tensor against the reference attention. Selections are compared up to near-ties
(tests/tolerance.py): exact ties (integer codes, zero queries, zero keys: scores without any
rounding) must go to the lower key; scores that are equal only in exact arithmetic (repeated
fp32 K rows) carry their float64 rounding, and there either key may win.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import need_tool
from sattn.backends.rvv import runner
from sattn.ir.schema import params_from_dict
from sattn.reference.data import synthetic
from sattn.reference.executor import attention
from sattn.reference.precision import selection_operands
from sattn.specs import select_indices
from tolerance import assert_agree, assert_same_selection

S, D = 40, 16


@pytest.fixture(autouse=True)
def _tools():
    need_tool("qemu-riscv64")


def _data(p, kind: str):
    q, k, v = synthetic(p.shape(), seed=7)
    if kind == "repeat":  # five distinct K rows, repeated: ties everywhere
        k = np.ascontiguousarray(k[:, np.arange(k.shape[1]) % 5])
    elif kind == "zeroq":  # every group score is zero: one big tie per row
        q = np.zeros_like(q)
    elif kind == "negzero":  # scores +0 and -0 (equal for NumPy) and a few positives
        k = k.copy()
        k[:, ::3] = -0.0
        k[:, 1::3] = 0.0
    return q, k, v


def _brute(p, q, k) -> list[list[list[int]]]:
    """Per KV head, per row, the kept keys straight from the definition."""
    qs, ks = selection_operands(p, q, k)
    hkv, g = k.shape[0], p.gqa_group_size
    out = []
    for h in range(hkv):
        qsum = qs[h * g:(h + 1) * g].astype(np.float64).sum(axis=0)
        rows = []
        for i in range(S):
            nc = i + 1 if p.causal else S
            sc = [float(qsum[i] @ ks[h, j].astype(np.float64)) for j in range(nc)]
            if p.spec == "topk_per_query":
                order = sorted(range(nc), key=lambda j: (-sc[j], j))
                rows.append(sorted(order[:p.topk_k]))
            else:
                m, n = p.nm_m, p.nm_n
                keep = []
                for g0 in range(0, nc, m):
                    grp = range(g0, min(nc, g0 + m))
                    keep += sorted(sorted(grp, key=lambda j: (-sc[j], j))[:n])
                rows.append(keep)
        out.append(rows)
    return out


TOPK = [1, 2, S - 1, S, S + 3]
NM = [(1, 1), (1, 3), (2, 4), (3, 7), (4, 4), (5, 6)]


def _cases():
    for kind in ("synthetic", "repeat", "zeroq", "negzero"):
        for causal in (0, 1):
            for kk in TOPK:
                yield "topk_per_query", {"topk_k": kk, "causal": causal}, kind
            for n, m in NM:
                yield "nm_structured", {"nm_n": n, "nm_m": m, "causal": causal}, kind


CASES = list(_cases())


def _id(case) -> str:
    spec, attrs, kind = case
    return spec + "".join(f"-{k}{v}" for k, v in attrs.items()) + "-" + kind


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_selection_edges(case):
    spec, attrs, kind = case
    p = params_from_dict({"seq_len": S, "head_dim": D, "num_heads": 2, "gqa_group_size": 2,
                          **attrs}).replace(spec=spec)
    q, k, v = _data(p, kind)
    sel = select_indices(p, p.shape(), q, k)
    assert_same_selection(p, p.shape(), q, k, sel, _brute(p, q, k), "specs vs the definition")
    want = attention(p, q, k, v)
    for vlen in (128, 512):
        res = runner.run(p, q, k, v, vlen=vlen, count=False, check_selection=True)
        assert_agree(p, p.shape(), q, k, v, res.output, res.kernel_selection, sel, want,
                     f"kernel vs reference, VLEN {vlen}")


@pytest.mark.parametrize("precision", ("bf16", "i8", "i4"))
@pytest.mark.parametrize("spec,attrs", [("topk_per_query", {"topk_k": 7}),
                                        ("nm_structured", {"nm_n": 2, "nm_m": 5})])
def test_selection_ties_low_precision(spec, attrs, precision):
    """Repeated K rows in the stored precisions: the codes / rounded values tie as well."""
    p = params_from_dict({"seq_len": S, "head_dim": D, "num_heads": 2, "gqa_group_size": 2,
                          "precision": precision, **attrs}).replace(spec=spec)
    q, k, v = _data(p, "repeat")
    sel = select_indices(p, p.shape(), q, k)
    res = runner.run(p, q, k, v, vlen=256, count=False, check_selection=True)
    # integer codes: every score is exact, so every tie must go to the lower key
    assert_agree(p, p.shape(), q, k, v, res.output, res.kernel_selection, sel, None,
                 "kernel vs reference")
