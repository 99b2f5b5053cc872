"""Measure one run's peak memory against its estimate (``test_resources.py``): prints
``{"peak": bytes, "estimate": bytes}`` as JSON. argv: the attributes (JSON) and the backend.

The code paths are warmed up on a tiny shape first (lazy imports, caches), the kernel's
high-water mark is reset (``/proc/self/clear_refs``), then the synthetic inputs are made and
the run is done: ``peak`` is VmHWM minus the resident size before them; ``estimate`` the
host bytes :mod:`sattn.resources` gives for the inputs and the run.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

from sattn import resources
from sattn.ir.schema import params_from_dict
from sattn.reference.data import synthetic

MODULES = {"reference": "sattn.reference.executor", "rvv": "sattn.backends.rvv.runner"}


def status(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(key)


def main() -> None:
    attrs, backend = json.loads(sys.argv[1]), sys.argv[2]
    p = params_from_dict(attrs)
    shape = p.shape()
    mod = importlib.import_module(MODULES[backend])
    small = p.replace(seq_len=64, num_heads=shape.group)
    mod.run(small, *synthetic(small.shape()))
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current size
    before = status("VmRSS")
    q, k, v = synthetic(shape, params=p)
    res = mod.run(p, q, k, v)
    peak = status("VmHWM") - before
    est = resources.inputs(shape, p, synthetic=True).host_bytes
    if backend == "reference":
        est += resources.reference(p, shape).host_bytes
    else:
        est += resources.selection(p, shape).host_bytes
        est += resources.rvv(p, shape, res.counters["selected_pairs"]).host_bytes
    print(json.dumps({"peak": peak, "estimate": est}))


if __name__ == "__main__":
    main()
