"""Sq != Skv is not yet run by the RVV kernels: the runner refuses it with one line before
building or running anything (no tool needed), and Sq = Skv is not refused by it."""

from __future__ import annotations

import numpy as np
import pytest
from sattn.backends.rvv import runner
from sattn.errors import SattnError
from sattn.ir.schema import params_from_dict


def test_sq_below_skv_is_refused_in_one_line():
    p = params_from_dict({"spec": "sliding_window", "window_size": 4})
    q = np.zeros((1, 1, 16), np.float32)
    kv = np.zeros((1, 64, 16), np.float32)
    with pytest.raises(SattnError) as e:
        runner.run(p, q, kv, kv)
    assert str(e.value) == ("rvv: not yet: Sq != Skv (Q has Sq=1 rows, K/V Skv=64): the RVV "
                            "kernels run Sq = Skv only; use the reference or the rocc backend")
