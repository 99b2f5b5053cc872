"""The kernel paths taken with one query head per KV head (GQA group 1), against the reference:
N:M's attention from its own fp32 selection scores (``attend_scored2``: softmax and P.V over
the row pair's contiguous keys, dropped keys at p = 0; bf16 takes the gathered path), LSH's
bucket-by-bucket attention (the bucket's K/V copied contiguous, two queries per pass, causal
prefixes), landmark's two-row attention, and top-k's lane-maxima prefilter (rows of at least
VLMAX candidates: 96 keys at VLEN 128 and 256, not at 512). Prefill and Sq < Skv, causal and
not; selections up to near-ties (Sq = Skv: the shared helper; Sq < Skv, where that helper does
not apply: equal, which the fixed data allows), outputs within the fp32 bound
(tests/tolerance.py)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import need_tool
from sattn.backends.rvv import runner
from sattn.ir.schema import params_from_dict
from sattn.reference.data import check_qkv
from sattn.reference.executor import attention
from tolerance import assert_agree, assert_attention_close, same_groups

CASES = [("nm_structured", {"nm_n": 2, "nm_m": 4}), ("nm_structured", {"nm_n": 1, "nm_m": 3}),
         ("topk_per_query", {"topk_k": 8}), ("lsh", {"lsh_buckets": 4}),
         ("landmark", {"num_landmarks": 6, "landmark_iters": 2})]


#: (precision, Sq, Skv, VLEN): both precisions, prefill and Sq < Skv at VLEN 256; the fp32
#: prefill also at VLEN 128 and 512 (other strip lengths, other lane counts for top-k).
RUNS = [(prec, sq, 96, 256) for prec in ("fp32", "bf16") for sq in (96, 5)] + \
       [("fp32", 96, 96, vlen) for vlen in (128, 512)]


@pytest.mark.parametrize("precision,sq,skv,vlen", RUNS)
@pytest.mark.parametrize("causal", [0, 1])
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-{'-'.join(map(str, c[1].values()))}")
def test_group1_paths_match_reference(case, causal, precision, sq, skv, vlen):
    need_tool("qemu-riscv64")
    spec, attrs = case
    p = params_from_dict({"spec": spec, "causal": causal, "precision": precision,
                          "gqa_group_size": 1, **attrs})
    rng = np.random.default_rng(sq * 131 + skv + causal)
    q = rng.standard_normal((2, sq, 32)).astype(np.float32)
    k = rng.standard_normal((2, skv, 32)).astype(np.float32)
    v = rng.standard_normal((2, skv, 32)).astype(np.float32)
    res = runner.run(p, q, k, v, vlen=vlen, check_selection=True)
    want = attention(p, q, k, v)
    what = f"{spec} {precision} causal={causal} Sq={sq} Skv={skv} VLEN {vlen}"
    if sq == skv:
        assert_agree(p, check_qkv(q, k, v, 1), q, k, v, res.output, res.kernel_selection,
                     res.selection, want, what)
    else:
        assert same_groups(res.kernel_selection, res.selection.groups), what
        assert_attention_close(res.output, want, p, q, k, v, selection=res.selection, what=what)
