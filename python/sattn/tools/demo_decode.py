"""The long-context section of ``make demo``: one decode step against a 16k-token KV cache
(``examples/decode.mlir``), where the selected sparse pattern wins.

The step's data is the recency workload (:func:`sattn.reference.workloads.recency`: attention
concentrated on the last positions, as trained models' local heads; synthetic, and said so),
written to a private scratch ``.safetensors`` file. The selector chooses the pattern with its
``max_error`` budget measured on that file; the step then runs on every backend twice, as
selected and as ``spec = "dense"`` (the same op text with the spec set), each output checked
against the reference. Printed: the choice, its density, its error against dense attention on
the data, and per backend the measured cost of both and the speed-up (reference: best wall time
of selection + attention over three runs; RVV: instructions under qemu; RoCC: cycles and K/V
bytes of the RTL under Verilator). A backend that refuses the shape prints its one-line reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from sattn import api
from sattn.errors import SattnError
from sattn.reference import tensorfile
from sattn.reference.compare import rel_error
from sattn.reference.workloads import recency
from sattn.toolrun import scratch_dir

DEFAULT_DECODE_MLIR = Path(__file__).resolve().parents[3] / "examples" / "decode.mlir"
#: Best-of runs of the reference's wall time.
REFERENCE_REPEAT = 3


def _with_spec(text: str, spec: str) -> str:
    """The op text with ``spec = "<spec>"`` as its first attribute."""
    out, n = re.subn(r'("sattn\.sparse_attention"\(\)\s*\{)', rf'\1 spec = "{spec}",', text, count=1)
    if n != 1:
        raise SattnError("demo: the decode example has no sattn.sparse_attention op with attributes")
    return out


def _reference_time(mlir: Path, data: Path) -> tuple[float, object]:
    best, res = float("inf"), None
    for _ in range(REFERENCE_REPEAT):
        res = api.run(mlir, backend="reference", q=data, compare=False)
        best = min(best, res.timings["select_s"] + res.timings["attend_s"])
    return best, res


@dataclass
class DecodeReport:
    """What the section measured (the demo prints it; tests check it)."""

    chosen: dict[str, str] = field(default_factory=dict)  # target -> selected spec
    density: dict[str, float] = field(default_factory=dict)  # spec -> selected/dense pairs
    error_vs_dense: dict[str, float] = field(default_factory=dict)  # spec -> max rel error
    #: backend -> counter -> (dense, selected), measured
    measured: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)  # backend -> its one-line reason
    passed: bool = True  # every output agreed with the reference


def _ms(x: float) -> str:
    return f"{x * 1e3:.3f} ms"


def _count(x: float) -> str:
    return f"{int(x):,}"


def _measure(backend: str, mlir: Path, data: Path) -> dict[str, float] | str:
    """The backend's cost of the op on the data (and its verdict against the reference), or
    its one-line refusal."""
    try:
        if backend == "reference":
            t, res = _reference_time(mlir, data)
            return {"seconds": t, "_result": res}
        if backend == "rvv":
            res = api.run_rvv_from_mlir(mlir, q=data, compare=True)
            return {"instructions": res.counters["instructions"], "_result": res}
        res = api.compile_and_sim(mlir, q=data, compare=True)
        return {"cycles": res.counters["total_cycles"], "dma_k_bytes": res.counters["dma_k"],
                "_result": res}
    except SattnError as e:
        return str(e).splitlines()[0]


def section(path: Path = DEFAULT_DECODE_MLIR, backends: tuple[str, ...] = ("reference", "rvv", "rocc")
            ) -> DecodeReport:
    """Print the section and return what it measured."""
    text = path.read_text()
    params = api.compile(path, pipeline=None).params[0]
    shape = params.shape()
    print(f"op: {path.name}: Sq={shape.seq_len} query row against Skv={shape.kv_len} cached keys, "
          f"H={shape.heads} Hkv={shape.kv_heads} D={shape.head_dim}, causal={params.causal}")
    rep = DecodeReport()
    with scratch_dir() as tmp:
        data = tmp / "decode_step.safetensors"
        q, k, v = recency(shape)
        tensorfile.save(data, {"q": q, "k": k, "v": v})
        print("data: synthetic recency workload (sattn.reference.workloads.recency: attention "
              "concentrated on the last positions, as local heads of trained models; not model data)")
        chosen = rep.chosen
        for b in backends:  # the selector costs each backend's own work
            decision = api.select(params.replace(spec=None), target=b, max_error_data=data)
            chosen[b] = decision.spec
            if len(chosen) == 1:
                print(decision.explain())
        same = len(set(chosen.values())) == 1
        print("selected per target: " + ", ".join(f"{b} -> {s}" for b, s in chosen.items())
              + (" (the same on every target)" if same else
                 " (the targets chose differently: each backend runs its own choice)"))
        dense_mlir = tmp / "dense.mlir"
        dense_mlir.write_text(_with_spec(text, "dense"))
        den = api.run(dense_mlir, backend="reference", q=data)
        mlir_of: dict[str, Path] = {}
        for spec in dict.fromkeys(chosen.values()):
            mlir_of[spec] = tmp / f"selected_{spec}.mlir"
            mlir_of[spec].write_text(_with_spec(text, spec))
            sel = api.run(mlir_of[spec], backend="reference", q=data)
            rep.density[spec] = sel.density
            rep.error_vs_dense[spec] = rel_error(sel.output, den.output)
            print(f"{spec}: density {sel.density:.5f} ({sel.counters['selected_pairs']:,} of "
                  f"{sel.counters['dense_pairs']:,} pairs); max relative error against dense "
                  f"attention on the data: {rep.error_vs_dense[spec]:.2e}")
        rows = []
        for b in backends:
            spec = chosen[b]
            print(f"-- {b}: running {spec} and dense", flush=True)
            a, d = _measure(b, mlir_of[spec], data), _measure(b, dense_mlir, data)
            if isinstance(a, str) or isinstance(d, str):
                rep.refused[b] = a if isinstance(a, str) else d
                rows.append((b, "not run", rep.refused[b]))
                continue
            for r in (a["_result"], d["_result"]):
                if r.verdict is not None:
                    print(f"   {r.verdict.line()}")
                    rep.passed &= r.verdict.passed
            for key in a:
                if key.startswith("_"):
                    continue
                rep.measured.setdefault(b, {})[key] = (d[key], a[key])
                fmt = _ms if key == "seconds" else _count
                rows.append((b, key, (f"{fmt(d[key])} dense, {fmt(a[key])} {spec}: "
                                     f"{d[key] / a[key]:.1f}x")))
        print(f"\n{'backend':<10} {'measured':<13} dense vs selected: speed-up")
        for b, key, line in rows:
            print(f"{b:<10} {key:<13} {line}")
    return rep
