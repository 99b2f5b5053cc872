"""The top-n unit (hw/rtl/sattn_topn.sv) alone under Verilator against a Python top-n.

Random fp32 scores streamed in ascending block index: non-negative ones (NSA's probability
sums) and signed ones (bsr's raw block scores, with -0.0 beside +0.0, which tie, and a forced
+inf), with many exact ties (scores drawn from a few values), random idle gaps and back-to-back
streams; n from 1 to
TOPN_MAX, streams shorter and longer than n. The unit must keep exactly the n highest scores,
ties to the lower block index, in rank order (Python: a stable sort by descending score), and
its list must be final one cycle after the last score (a score per cycle, no drain latency).
"""

from __future__ import annotations

import struct
import subprocess

import numpy as np
import pytest
from conftest import need_tool
from sattn.hw.isa import HW


@pytest.fixture(scope="module")
def topn_binary():
    need_tool("verilator")
    from sattn.backends.rocc.build import build, topn_target

    return build(topn_target())


def _bits(x: float) -> int:
    return struct.unpack("<I", struct.pack("<f", float(np.float32(x))))[0]


def python_topn(scores: list[float], n: int) -> list[int]:
    """The n best, ties to the lower index (stable sort of the descending scores)."""
    order = sorted(range(len(scores)), key=lambda i: (-np.float32(scores[i]), i))
    return order[:n]


def _cases(seed: int):
    rng = np.random.default_rng(seed)
    for _ in range(60):
        n = int(rng.integers(1, HW.topn_max + 1))
        count = int(rng.integers(1, 3 * HW.topn_max))
        kind = rng.integers(5)
        if kind == 0:  # few distinct values: many exact ties
            vals = rng.choice(np.float32([0.0, 0.25, 0.5, 1.0, 2.0]), count)
        elif kind == 1:  # probabilities summed over a group, plus a forced block of G
            vals = rng.random(count).astype(np.float32) * 4
            vals[rng.integers(count)] = 4.0
        elif kind == 2:  # wide exponents, subnormal-free
            vals = (rng.random(count) * 2.0 ** rng.integers(-30, 30, count)).astype(np.float32)
        elif kind == 3:  # signed, few distinct values (exact ties, -0.0 ties +0.0), a forced +inf
            vals = rng.choice(np.float32([-2.0, -0.5, -0.0, 0.0, 0.5, 3.0]), count)
            vals[rng.integers(count)] = np.inf
        else:  # signed, wide exponents
            vals = ((rng.random(count) - 0.5) * 2.0 ** rng.integers(-30, 30, count)).astype(np.float32)
        gaps = rng.integers(0, 3, count) * (rng.random(count) < 0.3)
        yield n, [float(x) for x in vals], [int(g) for g in gaps]


def test_signed_order_and_ties_by_construction(topn_binary):
    """Negative scores rank below positive ones and below zero, the larger magnitude lower;
    -0.0 and +0.0 tie (the lower block wins); exact ties go to the lower block."""
    vals = [-1.0, -0.0, 0.0, -3.0, 2.0, 2.0, -1.0, np.inf, -np.inf]
    text = f"{len(vals)} {len(vals)}\n" + "\n".join(f"{_bits(s)} {i} 0" for i, s in enumerate(vals))
    proc = subprocess.run([str(topn_binary)], input=text + "\n", capture_output=True, text=True,
                          timeout=60, check=True)
    kept = [int(x) for x in proc.stdout.splitlines()[0].split()[1:]]
    assert kept == [7, 4, 5, 1, 2, 0, 6, 3, 8]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_topn_unit_against_python(topn_binary, seed):
    cases = list(_cases(seed))
    text = []
    for n, vals, gaps in cases:
        text.append(f"{n} {len(vals)}")
        text += [f"{_bits(s)} {i} {g}" for i, (s, g) in enumerate(zip(vals, gaps))]
    proc = subprocess.run([str(topn_binary)], input="\n".join(text) + "\n", capture_output=True,
                          text=True, timeout=120, check=True)
    lines = proc.stdout.splitlines()
    assert len(lines) == 2 * len(cases)
    for c, (n, vals, gaps) in enumerate(cases):
        kept = [int(x) for x in lines[2 * c].split()[1:]]
        assert kept == python_topn(vals, n), (n, vals)
        # a score per cycle: the list is final the cycle after the last score
        assert int(lines[2 * c + 1].split()[1]) == len(vals) + sum(gaps)
