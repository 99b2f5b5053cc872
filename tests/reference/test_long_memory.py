"""Long-context memory of the reference: peak RSS stays O(selected pairs), never
O(H x Sq x Skv), at B x H x Sq x Skv = 1 x 8 x 65,536 x 65,536 prefill (sliding_window w = 512,
bsr keep_ratio 0.05) and a decode step (Sq = 1) at Skv = 131,072 (slow: `make test-slow`).

Each case runs in its own interpreter (peak RSS is per process: ``resource.getrusage``'s
``ru_maxrss``), which prints its measurements as one JSON line; the test prints them too, so
a `-s` run reports the figures (measured, not asserted: time is not asserted at all)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

H, HKV, D = 8, 2, 64

#: The child: float32 inputs made without float64 temporaries, peak RSS before and after run().
CHILD = r"""
import json, resource, sys, time
import numpy as np
from sattn.ir.schema import params_from_dict
from sattn.reference.executor import run
h, hkv, sq, skv, d, attrs = json.loads(sys.argv[1])
rng = np.random.default_rng(0)
q = rng.standard_normal((h, sq, d), dtype=np.float32)
k = rng.standard_normal((hkv, skv, d), dtype=np.float32)
v = rng.standard_normal((hkv, skv, d), dtype=np.float32)
p = params_from_dict({**attrs, "gqa_group_size": h // hkv})
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
t0 = time.perf_counter()
r = run(p, q, k, v)
secs = time.perf_counter() - t0
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"before": before, "after": after, "seconds": secs,
                  "pairs": r.counters["selected_pairs"], "out_bytes": r.output.nbytes,
                  "finite": bool(np.isfinite(r.output).all())}))
"""

CASES = {
    "sliding_window_prefill": (65536, 65536, {"spec": "sliding_window", "window_size": 512}),
    "bsr_prefill": (65536, 65536, {"spec": "bsr", "block_size": 64, "keep_ratio": 0.05}),
    "sliding_window_decode": (1, 131072, {"spec": "sliding_window", "window_size": 512,
                                          "causal": 1}),
    "bsr_decode": (1, 131072, {"spec": "bsr", "block_size": 64, "keep_ratio": 0.05,
                               "causal": 1}),
}

#: The reference's tile working set (sattn.resources.REF_TILE_BYTES: scores and gathered K/V
#: of one tile per thread, two threads here) plus NumPy/BLAS buffers: a constant, not a
#: function of S.
WORKING_SET = 2 * (96 << 20) + (64 << 20)


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_peak_rss_is_o_selected_pairs(case):
    sq, skv, attrs = CASES[case]
    proc = subprocess.run([sys.executable, "-c", CHILD, json.dumps([H, HKV, sq, skv, D, attrs])],
                          check=False, capture_output=True, text=True, timeout=3600)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    grown = got["after"] - got["before"]
    # The bound: beyond the inputs (already in `before`), a run holds its output
    # (H x Sq x Dv float32), at most 8 bytes per selected (query, key) pair per KV head for
    # the selection (an int32 key index and a float32 score: the index-list path; the band
    # and block-table paths keep less), and the constant tile working set. Dense scores would
    # be 4 x H x Sq x Skv bytes: 128 GiB for the prefill, 4 MiB for the decode step (whose
    # pairs are a few thousand: its bound is the working set and, for bsr, below).
    bound = got["out_bytes"] + 8 * got["pairs"] + WORKING_SET
    if attrs["spec"] == "bsr" and sq < skv:
        # a data-dependent decode step scores every key block, so it reads all of K: the
        # scoring's float64 operands of one KV head's K (8 x Skv x D bytes; gqa.group_operands)
        # and one float32-sized temporary over K and V (4 x Hkv x Skv x (D + Dv): the value
        # checks). O(Skv x D) = O(the inputs), not O(Sq x Skv); the prefill's is in WORKING_SET.
        bound += 8 * skv * D + 4 * HKV * skv * 2 * D
    print(f"\n{case}: B x H x Sq x Skv = 1 x {H} x {sq} x {skv}, D = Dv = {D}: "
          f"selected_pairs={got['pairs']} peak RSS {got['after'] / 2**20:.0f} MiB "
          f"(run grew it by {grown / 2**20:.0f} MiB; bound {bound / 2**20:.0f} MiB) "
          f"in {got['seconds']:.2f} s")
    assert got["finite"]
    assert grown <= bound, (case, grown, bound)
