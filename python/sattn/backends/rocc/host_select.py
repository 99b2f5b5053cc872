"""The host's selection, measured beside the accelerator's cycles.

The accelerator attends an index table; for a data-dependent pattern the host core makes that
table first (:func:`sattn.specs.select_indices`): top-k per query and N:M score every key, LSH
hashes Q and K, landmark assigns the keys and compresses K/V. (bsr, block top-k and
compression scoring, and nsa select their blocks on chip: no host selection.) The RTL's cycles
leave that work out, so a RoCC result alone would show a data-dependent pattern's attention
without its selection.

:func:`measure` runs the selection on the host core's model in the same run: the RVV kernel of
the pattern on the same Q, K, V with ``stop_after = 2`` (scoring and selection, no attention:
:data:`sattn.backends.rvv.abi.STOP_AFTER_MODES`) under qemu with the counting plugin. Its
instruction count is *measured* (``host_select_instructions``); its cycles on the in-order
vector machine of :mod:`sattn.backends.rvv.cycle_model` are *modelled*
(``host_select_model_cycles``). Patterns selected statically (dense, sliding_window,
block_local_global, an edited index table) have no host selection: :func:`measure` returns
None and the counters are absent. docs/rocc.md, "Host-side selection cost".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sattn.backends.rvv import abi, cycle_model, runner
from sattn.errors import SattnError
from sattn.ir.schema import AttentionParams
from sattn.specs import pattern_of

#: The counter keys a RoCC result carries for a host-selected pattern (measured, modelled).
COUNTERS: tuple[str, ...] = ("host_select_instructions", "host_select_model_cycles")

#: The kernel options :func:`measure` passes on (the host core's model): VLEN, LMUL, and the
#: modelled machine's datapath, memory port and scalar rate.
OPTIONS: tuple[str, ...] = ("vlen", "lmul", "dlen", "mem_bytes_per_cycle", "scalar_ipc")


def host_selected(params: AttentionParams, on_host: bool = False) -> bool:
    """Whether the RoCC backend runs ``params.spec`` from a selection the host makes from Q
    and K: a data-dependent pattern whose RVV kernel selects by itself (the modes of
    ``stop_after = 2``), the accelerator having no scoring path for it (bsr has one; ``on_host``:
    this bsr op is one the scoring path cannot take, :func:`sattn.backends.rocc.bsr.off_chip_reason`)."""
    pattern = pattern_of(params.spec)
    return (pattern.data_dependent and not pattern.composite
            and (params.spec != "bsr" or on_host)
            and runner.kernel_mode(params) in abi.STOP_AFTER_MODES[2])


@dataclass(frozen=True)
class HostSelection:
    """The selection's cost on the host core (one RVV kernel run per batch element, summed)."""

    instructions: int | None  # measured (qemu plugin); None: not measured (``error`` says why)
    model_cycles: int | None  # modelled (cycle model)
    vlen: int
    lmul: int
    machine: str  # the modelled machine and its assumptions
    error: str | None = None

    def counters(self) -> dict[str, Any]:
        """The result's counter fields (:data:`COUNTERS`)."""
        return {"host_select_instructions": self.instructions,
                "host_select_model_cycles": self.model_cycles}

    def line(self) -> str:
        """The ``rocc_host_select:`` line of a RoCC report."""
        what = (f"the RVV kernel's scoring and selection alone (stop_after=2) on the same Q/K/V, "
                f"vlen={self.vlen} lmul={self.lmul}")
        if self.error is not None:
            return f"rocc_host_select: not measured ({what}): {self.error}"
        return (f"rocc_host_select: instructions={self.instructions} (measured: {what}; not in "
                f"the RTL's cycles) model_cycles={self.model_cycles} (modelled: {self.machine})")


def measure(params: AttentionParams, q: np.ndarray, k: np.ndarray, v: np.ndarray,
            selections: list | None = None, *, timeout: float | None = None,
            on_host: bool = False, **options: Any) -> HostSelection | None:
    """The host selection's cost for a RoCC run of ``params`` on Q, K, V (rank 3, or rank 4:
    one kernel run per batch element, counts summed), or None when the pattern is selected
    statically (:func:`host_selected`). ``selections``: the RoCC run's selection per batch
    element (the kernel selects by itself; the runner only sizes its buffers from them).
    ``options``: :data:`OPTIONS` (default the RVV runner's). A run the RVV side cannot make (a
    tool missing, a shape over its limits) is reported with the reason, not raised: the
    accelerator's result stands; a bad option is raised."""
    if not host_selected(params, on_host):
        return None
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise SattnError(f"rocc: host_select option {unknown[0]!r} is not one of "
                         f"{', '.join(OPTIONS)}")
    vlen, lmul = runner.vector_config(params, options.pop("vlen", None), options.pop("lmul", None))
    runner.check_vector_options(vlen, lmul)  # a bad option is the caller's error, raised
    machine = cycle_model.machine_for(vlen, options.get("dlen"), options.get("mem_bytes_per_cycle"),
                                      options.get("scalar_ipc"))
    sel: Any = None
    if selections is not None:
        sel = selections if np.ndim(q) == 4 else selections[0]
    try:
        res = runner.run(params, q, k, v, selection=sel, vlen=vlen, lmul=lmul, stop_after=2,
                         timeout=timeout or 3600, **options)
    except SattnError as e:
        return HostSelection(None, None, vlen, lmul, _described(machine), error=str(e))
    return HostSelection(int(res.counters["instructions"]), int(res.counters["model_cycles"]),
                         vlen, lmul, _described(machine))


def _described(machine: cycle_model.VectorMachine) -> str:
    return (f"{machine.describe()}, in-order, single issue, no overlap, no memory latency, "
            "RVV cycle model")
