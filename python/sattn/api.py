"""The Python API: thin wrappers over the frontend, the selector and the backends.

    >>> from sattn.api import run
    >>> result = run("examples/sliding_window.mlir", backend="reference")
    >>> print(result)          # spec=sliding_window checksum=...
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from xdsl.printer import Printer

from sattn import resources
from sattn.backends import get_backend
from sattn.backends.rocc import backend as rocc_backend
from sattn.backends.rocc import driver
from sattn.backends.rocc.artifacts import check_stem, emit_for_op
from sattn.backends.rocc.driver import probe
from sattn.backends.rvv import autotune as tuner
from sattn.backends.rvv import backend as rvv_backend
from sattn.diagnostics import once
from sattn.errors import SattnError
from sattn.frontend import (  # noqa: F401  (API names)
    edge_hints,
    load_params,
    make_context,
    mlir_for,
    module_params,
    parse_module,
    read_source,
    run_pipeline,
    with_overrides,
)
from sattn.ir.schema import SPECS, AttentionParams, params_from_dict
from sattn.reference import nsa as ref_nsa
from sattn.reference.calibrate import calibrate
from sattn.reference.compare import attention_tolerance, max_keys, verdict
from sattn.reference.data import is_qkv_file, load_gates, load_inputs, resolve_inputs
from sattn.reference.executor import attention
from sattn.result import RunResult
from sattn.selector import Hints, select_spec
from sattn.selector.hints import disable_vars
from sattn.specs import pattern_of, select_indices
from sattn.specs.selection import Selection

#: The lowering pipeline each backend's calls come from (the reference needs no lowering:
#: selection only, so a pattern only the reference runs, such as nsa, reaches it).
PIPELINE_OF: dict[str, str] = {
    "reference": "sattn-select-spec",
    "rvv": "sattn-lower-rvv",
    "rocc": "sattn-lower-rocc",
}


def load_op(
    mlir: str | Path, *, pipeline: str | None = "sattn-lower-rvv", op: int | None = None,
    text: bool = False, need_spec: bool = True, strict_attributes: bool = False,
    hints: Hints | None = None,
) -> AttentionParams:
    """The parameters of one attention op of an MLIR file (``op`` picks one of several), with
    ``spec`` selected (by the pipeline, else by the selector unless ``need_spec`` is False).
    ``strict_attributes``: attributes nothing reads are an error, not a warning. ``hints``:
    the selector hints (default: the environment's, read here -- this is an API edge)."""
    if hints is None:
        hints = edge_hints(os.environ)
    ops = load_params(mlir, pipeline=pipeline, text=text, strict_attributes=strict_attributes,
                      hints=hints)
    name = "<string>" if text else str(mlir)
    if op is None:
        if len(ops) > 1:
            raise SattnError(
                f"{name} has {len(ops)} attention ops; choose one with op=N (--op N), N < {len(ops)}"
            )
        op = 0
    if not 0 <= op < len(ops):
        raise SattnError(f"{name} has {len(ops)} attention op(s); --op {op} is out of range")
    p = ops[op]
    if p.spec is None and need_spec:
        p = p.replace(spec=select_spec(p, hints=hints).spec)
    return p


def run(
    mlir: str | Path,
    backend: str = "reference",
    q: np.ndarray | str | Path | None = None,
    k: np.ndarray | str | Path | None = None,
    v: np.ndarray | str | Path | None = None,
    *,
    seed: int = 0,
    op: int | None = None,
    compare: bool = False,
    strict_attributes: bool = False,
    max_error_data: str | Path | None = None,
    gates: dict[str, Any] | None = None,
    **options: Any,
) -> RunResult:
    """Run one attention op of ``mlir`` on ``backend`` (reference, rvv or rocc).

    ``q``/``k``/``v`` are arrays or files (all three or none; ``q`` alone may be a
    ``.safetensors`` file holding q, k and v), rank 3 ``[H, S, D]`` or rank 4 ``[B, H, S, D]``,
    V with its own last dimension Dv (:func:`sattn.reference.data.load_inputs`; B > 1 and
    Dv != D run on the reference only for now); the output has the rank of Q with Dv last.
    Without them the deterministic synthetic data of the op's shape is used (``seed`` varies
    it). With ``compare`` the output tensor is checked against the reference (``result.verdict``, and
    the verdict line is part of ``str(result)``). ``strict_attributes`` makes attributes
    nothing reads an error instead of a warning. ``max_error_data``: a ``.safetensors`` file
    (q, k, v of the op's shape) on which the selector measures the errors of its ``max_error``
    budget instead of synthetic data (``SATTN_MAX_ERROR_DATA``, :mod:`sattn.selector.accuracy`).
    ``gates``: nsa's gates by name (``g_cmp``, ``g_slc``, ``g_swa``), each an array or a file
    ``[B, Sq, H]`` (:func:`sattn.reference.data.load_gates`; a ``--qkv`` file's tensors of
    those names are read too; absent: 1.0). ``options`` go to the backend's runner.
    """
    if backend not in PIPELINE_OF:
        raise SattnError(f"unknown backend '{backend}' (choose from {', '.join(PIPELINE_OF)})")
    pipeline = _rvv_pipeline(options) if backend == "rvv" else PIPELINE_OF[backend]
    params = load_op(mlir, pipeline=pipeline, op=op,
                     strict_attributes=strict_attributes,
                     hints=edge_hints(os.environ, default_target=backend,
                                      max_error_data=max_error_data))
    got = load_inputs(params, q, k, v, seed)
    given = _gates(params, got, gates, q if is_qkv_file(q, k, v) else None)
    if given is not None:
        options["gates"] = given
    result = get_backend(backend).run(params, got.q, got.k, got.v, **options)
    return _shaped(_compared(result, params, got.q, got.k, got.v, given) if compare else result, got)


def _gates(params: AttentionParams, got, gates: dict[str, Any] | None, qkv_file) -> tuple | None:
    """The gates of a composite pattern's run (:func:`sattn.reference.data.load_gates`), or
    None; gates given to any other pattern are one line."""
    if not pattern_of(params.spec).composite:
        if gates and any(g is not None for g in gates.values()):
            raise SattnError(f"gates ({', '.join(n for n, g in gates.items() if g is not None)}) "
                             f"are inputs of spec nsa only; the op's spec is '{params.spec}'")
        return None
    return load_gates(got.shape, gates, qkv_file)


def _rvv_pipeline(options: dict[str, Any]) -> str:
    """``sattn-lower-rvv`` with the runner's ``vlen``/``lmul`` options as sattn-vectorize's:
    the lowered call's ``vector_strips`` record then names what the kernel runs."""
    opts = " ".join(f"{name}={options[name]}" for name in ("vlen", "lmul")
                    if options.get(name) is not None)
    return f"sattn-lower-rvv{{{opts}}}" if opts else "sattn-lower-rvv"


def select(attrs: dict[str, Any] | AttentionParams, *, target: str | None = None,
           max_error_data: str | Path | None = None):
    """The selector's :class:`~sattn.selector.Decision` for an attribute dict (or params),
    with the hints of the environment (this is an API edge); ``target`` (rvv, rocc, reference)
    and ``max_error_data`` (a ``.safetensors`` file of q, k, v for the ``max_error`` budget)
    as the command line's ``--target`` and ``--max-error-data``."""
    params = attrs if isinstance(attrs, AttentionParams) else params_from_dict(attrs)
    return select_spec(params, hints=edge_hints(os.environ, target=target,
                                                max_error_data=max_error_data))


# ---------------------------------------------------------------------------------------------
# The front door (issue 6): compile, the spec's two wrappers, patterns and side-by-side runs.
# ---------------------------------------------------------------------------------------------

def hint_env(
    *, prefer_bsr: bool = False, prefer_sw: bool = False, l1_bytes: int | None = None,
    use_hw_probe: bool = False,
) -> dict[str, str]:
    """The selector variables the tools' hint flags stand for, as a mapping (the sweep hands
    it to :func:`sattn.selector.select_spec`; nothing sets them in the environment).
    ``use_hw_probe`` reads the RoCC model's capability bits
    (:func:`sattn.backends.rocc.driver.probe`) and disables the patterns the hardware lacks."""
    hints, _, _ = _hints(prefer_bsr=prefer_bsr, prefer_sw=prefer_sw, l1_bytes=l1_bytes,
                         use_hw_probe=use_hw_probe, env={})
    env: dict[str, str] = {}
    if hints.prefer_bsr:
        env["SATTN_PREFER_BSR"] = "1"
    if hints.prefer_sw:
        env["SATTN_PREFER_SW"] = "1"
    if l1_bytes is not None:
        env["SATTN_HW_L1_BYTES"] = str(l1_bytes)
    for var, spec in disable_vars().items():
        if spec in hints.disabled:
            env[var] = "1"
    return env


def _hints(*, prefer_bsr: bool, prefer_sw: bool, l1_bytes: int | None, use_hw_probe: bool,
           backend: str | None = None, env: Any = None) -> tuple[Hints, Any, str | None]:
    """(the edge's hints: ``env`` -- default the environment -- and the flags; the probed
    HwInfo or None; the ``hw_probe:`` line or None). ``backend``: the target when neither
    the environment nor a flag names one."""
    if prefer_bsr and prefer_sw:
        raise SattnError("prefer_bsr and prefer_sw (--prefer-bsr, --prefer-sw) exclude each other")
    if l1_bytes is not None and (isinstance(l1_bytes, bool) or not isinstance(l1_bytes, int)
                                 or l1_bytes <= 0):
        raise SattnError(f"l1_bytes (--l1-bytes) must be a positive integer, got {l1_bytes!r}")
    disable: list[str] = []
    info = line = None
    if use_hw_probe:
        info = probe()
        disable = [name for name, bit in (("BSR", info.bsr), ("SW", info.sw)) if not bit]
        line = (f"hw_probe: ver=0x{info.ver:04x} caps=0x{info.caps:04x} "
                f"disable=[{','.join(d.lower() for d in disable) or 'none'}]")
    hints = edge_hints(os.environ if env is None else env, prefer_bsr=prefer_bsr,
                       prefer_sw=prefer_sw, l1_bytes=l1_bytes, disable=tuple(disable),
                       default_target=backend)
    return hints, info, line


def _load_with_hints(mlir: str | Path, pipeline: str, hints: Hints,
                     overrides: dict[str, Any] | None, op: int | None,
                     strict_attributes: bool = False) -> AttentionParams:
    with once():
        if overrides and any(v is not None for v in overrides.values()):
            # the rewritten op keeps the original's location, so its warnings are the same
            # lines as the first parse's and `once` prints them once
            text = with_overrides(mlir, overrides, op=op, strict_attributes=strict_attributes,
                                  keep_location=True)
            return load_op(text, pipeline=pipeline, text=True, hints=hints)
        return load_op(mlir, pipeline=pipeline, op=op, strict_attributes=strict_attributes,
                       hints=hints)


def _shaped(result: RunResult, inputs) -> RunResult:
    """``result`` with its output in the rank of the given Q (rank 4 in, rank 4 out)."""
    result.output = inputs.shaped(result.output)
    return result


def _compared(result: RunResult, params: AttentionParams, q: np.ndarray, k: np.ndarray,
              v: np.ndarray, gates=None) -> RunResult:
    """Attach the verdict against the reference (same params, same tensors) to ``result``.
    A composite pattern (nsa) is compared with the reference run on the same ``gates``, within
    its own bound (:func:`sattn.reference.nsa.op_tolerance`: three gated branches). A kernel
    that selects by itself (``result.blocks``, the RVV kernel's kept blocks) is held to the
    documented near-tie rule (docs/precision.md, "A correct selection"): its kept blocks must be
    a correct selection (:func:`sattn.reference.nsa.check_kept_blocks`), else the verdict fails;
    where they differ from the reference's at near-ties, the output is compared with the
    reference attending the kernel's blocks, and a second ``compare:`` line says so."""
    notes = []
    if pattern_of(params.spec).composite:
        tol = ref_nsa.op_tolerance(params, q, k, v, gates)
        blocks = getattr(result, "blocks", None)
        check = None if blocks is None else ref_nsa.check_kept_blocks(params, q, k, blocks)
        if check is not None and check.correct and check.differ:
            want = ref_nsa.op_attention(params, q, k, v, gates, blocks=blocks)
            notes.append(f"compare: {result.backend}'s kept blocks differ from the reference's "
                         f"in {check.differ} of {check.rows} rows, each at a near-tie (reference "
                         f"block scores within {check.tie_margin:.3g}): compared with the "
                         "reference on the kernel's blocks")
        else:
            want = attention(params, q, k, v, gates=gates)
        ver = verdict(result.backend, result.output, want, tol)
        if check is not None and not check.correct:
            ver = replace(ver, selection_ok=False)
            notes.append(f"compare: {result.backend}'s kept blocks are not a correct selection: "
                         f"{check.problem}")
    else:
        # the policy's fp32 bound (docs/precision.md, "Tolerance policy"), over the longest row
        # (and the most key-tile records a row was merged from, RoCC)
        tol = attention_tolerance(params, q, k, v, keys=max_keys(result.selection),
                                  partials=int(result.counters.get("max_partials") or 1))
        ver = verdict(result.backend, result.output, attention(params, q, k, v), tol)
    result.verdict = ver
    result.lines.append(ver.line())
    result.lines.extend(notes)
    return result


def run_rvv_from_mlir(
    path: str | Path,
    *,
    prefer_bsr: bool = False,
    prefer_sw: bool = False,
    l1_bytes: int | None = None,
    use_hw_probe: bool = False,
    autotune: bool = False,
    q: np.ndarray | str | Path | None = None,
    k: np.ndarray | str | Path | None = None,
    v: np.ndarray | str | Path | None = None,
    seed: int = 0,
    op: int | None = None,
    overrides: dict[str, Any] | None = None,
    compare: bool = True,
    strict_attributes: bool = False,
    **options: Any,
) -> RunResult:
    """Lower ``path`` with ``sattn-lower-rvv`` and run it on the RVV kernels under qemu.

    The hint flags map to the selector variables for this call only (:func:`hint_env`);
    ``overrides`` replaces attributes before selection (e.g. ``{"precision": "i8"}``);
    ``autotune`` first measures the kernel configurations of the selected spec and runs the
    best one (its ``autotune:`` line is in the result). ``options`` go to the RVV runner
    (``vlen``, ``lmul``, ``keep``, and the modelled machine's ``dlen``, ``mem_bytes_per_cycle``,
    ``scalar_ipc``). With ``compare`` the output tensor is checked against the
    reference and the verdict line is part of ``str(result)``. ``strict_attributes`` makes
    attributes nothing reads an error instead of a warning. A composite pattern (nsa) runs its
    own kernel driver, with the gates of a ``.safetensors`` ``q`` file (``g_cmp``, ``g_slc``,
    ``g_swa``; absent: 1.0) as :func:`run` reads them.
    """
    hints, _, probe_line = _hints(prefer_bsr=prefer_bsr, prefer_sw=prefer_sw, l1_bytes=l1_bytes,
                                  use_hw_probe=use_hw_probe, backend="rvv")
    params = _load_with_hints(path, _rvv_pipeline(options), hints, overrides, op,
                              strict_attributes)
    got = load_inputs(params, q, k, v, seed)
    qa, ka, va = got.q, got.k, got.v
    tune_line = None
    if autotune:
        params, options, tune_line = _autotune(params, qa, ka, va, options)
    given = _gates(params, got, None, q if is_qkv_file(q, k, v) else None)  # nsa: a --qkv file's
    if given is not None:
        options["gates"] = given
    result = rvv_backend.run(params, qa, ka, va, **options)  # nsa: its own kernel driver
    if probe_line:
        result.lines.insert(0, probe_line)
    if tune_line:
        result.lines.append(tune_line)
    return _shaped(_compared(result, params, qa, ka, va, given) if compare else result, got)


def _autotune(params: AttentionParams, q: np.ndarray, k: np.ndarray, v: np.ndarray,
              options: dict[str, Any]) -> tuple[AttentionParams, dict[str, Any], str]:
    """Run the RVV autotuner (``sattn.backends.rvv.autotune``) and adopt its winner."""
    best = tuner.autotune(params, q, k, v, **{k_: v_ for k_, v_ in options.items()
                                               if k_ in ("vlen", "dlen", "mem_bytes_per_cycle",
                                                         "scalar_ipc")})
    # the winner's LMUL is in best.params' vector_strips record: no explicit lmul beats it
    rest = {k_: v_ for k_, v_ in options.items() if k_ != "lmul"}
    return best.params, {**rest, **best.options}, best.line()


def compile_and_sim(
    path: str | Path,
    *,
    prefer_bsr: bool = False,
    prefer_sw: bool = False,
    l1_bytes: int | None = None,
    use_hw_probe: bool = False,
    q: np.ndarray | str | Path | None = None,
    k: np.ndarray | str | Path | None = None,
    v: np.ndarray | str | Path | None = None,
    seed: int = 0,
    op: int | None = None,
    overrides: dict[str, Any] | None = None,
    compare: bool = True,
    strict_attributes: bool = False,
    **options: Any,
) -> RunResult:
    """Lower ``path`` with ``sattn-lower-rocc`` and run it on the RoCC RTL under Verilator.

    Same hints, inputs, overrides and ``strict_attributes`` as :func:`run_rvv_from_mlir`;
    ``str(result)`` holds the
    simulator's lines (``verilator_tb:``, ``rocc_counters(rtl):``, ``spec_info:``,
    ``rocc_hw:``, ``rocc_util:``), the host's (``rocc_host:``, and for a host-selected pattern
    ``rocc_host_select:``: the selection's measured RVV instructions, ``result.counters
    ["host_select_instructions"]``, and modelled cycles) and, with ``compare``, the verdict
    line ending in ``-> PASS`` or ``-> FAIL`` (``result.verdict``). ``options`` go to the
    RoCC driver (``latency``, ``bandwidth``, ``keep_dir``, ``timeout``, ``max_cycles``,
    ``host_select``). nsa reads the gates of a ``.safetensors`` ``q`` file as
    :func:`run_rvv_from_mlir` does.
    """
    driver.check_options(options.get("latency"), options.get("bandwidth"))  # before any work
    hints, info, probe_line = _hints(prefer_bsr=prefer_bsr, prefer_sw=prefer_sw,
                                     l1_bytes=l1_bytes, use_hw_probe=use_hw_probe, backend="rocc")
    params = _load_with_hints(path, "sattn-lower-rocc", hints, overrides, op, strict_attributes)
    if info is not None and not info.supports(params.precision):
        raise SattnError(f"precision '{params.precision}' is not supported by the RoCC hardware "
                         f"(caps=0x{info.caps:04x} lists {', '.join(info.precisions)})")
    got = load_inputs(params, q, k, v, seed)
    given = _gates(params, got, None, q if is_qkv_file(q, k, v) else None)  # nsa: a --qkv file's
    if given is not None:
        options["gates"] = given
    result = rocc_backend.run(params, got.q, got.k, got.v, **options)
    if probe_line:
        result.lines.insert(0, probe_line)
    return _shaped(_compared(result, params, got.q, got.k, got.v, given) if compare else result,
                   got)


@dataclass
class Module:
    """A parsed, verified and lowered MLIR module: the xDSL ``op``, the pipeline that ran and
    the parameters of each attention op after it (``spec`` selected). ``str()`` prints it."""

    op: Any  # xdsl.dialects.builtin.ModuleOp
    pipeline: str | None
    params: list[AttentionParams]

    @property
    def specs(self) -> list[str]:
        """The selected spec of every attention op, in program order."""
        return [p.spec or "" for p in self.params]

    def __str__(self) -> str:
        out = io.StringIO()
        Printer(stream=out).print_op(self.op)
        return out.getvalue().rstrip("\n")


def compile(
    mlir: str | Path,
    pipeline: str | None = "sattn-lower-rvv",
    *,
    prefer_bsr: bool = False,
    prefer_sw: bool = False,
    l1_bytes: int | None = None,
    strict_attributes: bool = False,
) -> Module:
    """Parse MLIR (text, or a :class:`~pathlib.Path` to a file), verify it and run ``pipeline``
    (``None``: none; e.g. ``"sattn-lower-rocc"`` or ``"builtin.module(sattn-select-spec)"``).
    Errors are one-line :class:`SattnError` naming the op, attribute and location; attributes
    nothing reads are kept with a warning (an error with ``strict_attributes``)."""
    src, name = read_source(mlir) if isinstance(mlir, Path) else (str(mlir), "<string>")
    hints, _, _ = _hints(prefer_bsr=prefer_bsr, prefer_sw=prefer_sw, l1_bytes=l1_bytes,
                         use_hw_probe=False)
    ctx = make_context()
    module = parse_module(src, name, ctx=ctx, strict_attributes=strict_attributes)
    if pipeline:
        run_pipeline(module, pipeline, ctx, hints)
    params = module_params(module, hints)
    return Module(module, pipeline, params)


def calibrate_scales(
    mlir: str | Path,
    precision: str,
    percentile: float | None = None,
    *,
    op: int | None = None,
    q: np.ndarray | str | Path | None = None,
    k: np.ndarray | str | Path | None = None,
    v: np.ndarray | str | Path | None = None,
    seed: int = 0,
    strict_attributes: bool = False,
) -> tuple[float, float, float]:
    """(scale_q, scale_k, scale_v) for ``precision`` (i8/i4) from the data of one op of an MLIR
    file -- Q/K/V arrays or files, else its synthetic data of ``seed`` -- by max-abs, or the
    ``percentile`` of |x| (:func:`sattn.reference.calibrate.calibrate`). Nothing is selected."""
    params = load_op(mlir, pipeline=None, op=op, need_spec=False,
                     strict_attributes=strict_attributes)
    _, q, k, v = resolve_inputs(params, q, k, v, seed)
    return calibrate(q, k, v, precision, percentile)


def emit(
    mlir: str | Path,
    out_stem: str | Path,
    *,
    pipeline: str | None = "sattn-lower-rocc",
    op: int | None = None,
    q: np.ndarray | str | Path | None = None,
    k: np.ndarray | str | Path | None = None,
    v: np.ndarray | str | Path | None = None,
    seed: int = 0,
    strict_attributes: bool = False,
    hints: Hints | None = None,
) -> tuple[Selection, Path, Path]:
    """Load one op of an MLIR file (:func:`load_op`, lowered by ``pipeline``) and write its index
    table and descriptor, ``<out_stem>.txt`` / ``.desc``, selected on Q/K/V (else the synthetic
    data of ``seed``): :func:`sattn.backends.rocc.artifacts.emit_for_op`. A bad ``out_stem``
    fails before any work. Returns (the selection, the .txt path, the .desc path)."""
    check_stem(out_stem)
    params = load_op(mlir, pipeline=pipeline, op=op, strict_attributes=strict_attributes,
                     hints=hints)
    return emit_for_op(params, out_stem, q, k, v, seed)


def pattern(
    mlir: str | Path,
    *,
    q: np.ndarray | str | Path | None = None,
    k: np.ndarray | str | Path | None = None,
    v: np.ndarray | str | Path | None = None,
    seed: int = 0,
    op: int | None = None,
    strict_attributes: bool = False,
):
    """The :class:`~sattn.specs.selection.Selection` the selected spec makes on the op's
    inputs (the given tensors, else the synthetic data of its shape)."""
    params = load_op(mlir, pipeline="sattn-select-spec", op=op, strict_attributes=strict_attributes)
    shape, qa, ka, _ = resolve_inputs(params, q, k, v, seed)
    resources.require(resources.selection(params, shape, "pattern"))  # token lists of every row
    return select_indices(params, shape, qa, ka)


#: Backend names of :func:`compare` (``sim`` is accepted for ``rocc``, as the profiler says).
BACKEND_ALIASES: dict[str, str] = {"sim": "rocc"}


@dataclass
class Comparison:
    """Several backends run on the same inputs: each result, and each non-reference result's
    verdict against the reference run of the *same spec* on the same precision.

    ``selected_for`` is the target whose selection every backend ran (``None`` when each ran
    its own target's selection, ``per_target=True``); :attr:`header` says which."""

    results: dict[str, RunResult]
    verdicts: dict[str, Any] = field(default_factory=dict)  # backend -> compare.Verdict
    selected_for: str | None = None
    inputs: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # the Q, K, V every run used

    @property
    def passed(self) -> bool:
        return all(v.passed for v in self.verdicts.values())

    @property
    def specs(self) -> dict[str, str]:
        return {b: r.spec for b, r in self.results.items()}

    @property
    def header(self) -> str:
        """One line for the top of a side-by-side table (:func:`spec_header`)."""
        return spec_header(self.specs, self.selected_for)


def spec_header(specs: dict[str, str], selected_for: str | None = None) -> str:
    """One line for the top of a side-by-side table: which spec ran on which backend, and what
    each backend's agreement was measured against (``selected_for``: the target whose
    selection every backend ran, or None when each ran its own)."""
    if len(set(specs.values())) <= 1:
        spec = next(iter(specs.values()), "-")
        why = f"selected for {selected_for}" if selected_for else "selected for each target"
        return f"spec: {spec} on every backend ({why})"
    each = ", ".join(f"{b}={s}" for b, s in specs.items())
    return (f"spec: DIFFERS per target ({each}): each backend is compared with the reference "
            "run of its own spec")


@once()  # each discardable attribute is warned about once, not once per backend
def compare(
    mlir: str | Path,
    backends: tuple[str, ...] | list[str] = ("reference", "rvv", "rocc"),
    *,
    prefer_bsr: bool = False,
    prefer_sw: bool = False,
    l1_bytes: int | None = None,
    use_hw_probe: bool = False,
    autotune: bool = False,
    q: np.ndarray | str | Path | None = None,
    k: np.ndarray | str | Path | None = None,
    v: np.ndarray | str | Path | None = None,
    seed: int = 0,
    op: int | None = None,
    overrides: dict[str, Any] | None = None,
    options: dict[str, dict[str, Any]] | None = None,
    strict_attributes: bool = False,
    spec: str | None = None,
    per_target: bool = False,
) -> Comparison:
    """Run ``mlir`` on each backend (each lowered by its own pipeline) with the same Q, K, V and
    compare every output tensor with the reference run of the same spec. ``options`` maps a
    backend to its runner options (e.g. ``{"rvv": {"vlen": 512}}``); ``strict_attributes`` as
    in :func:`run` (otherwise each attribute nothing reads is warned about once, not once per
    backend).

    One spec runs on every backend: ``spec`` when given, else the one selected for the first
    target named that is not the reference (the reference's own selection when it is the only
    one). With ``per_target`` each backend runs its own target's selection instead (they may
    differ; :attr:`Comparison.header` then says so)."""
    names = [BACKEND_ALIASES.get(b, b) for b in backends]
    for b in names:
        if b not in PIPELINE_OF:
            raise SattnError(f"unknown backend '{b}' (choose from {', '.join(PIPELINE_OF)}, sim)")
    if spec is not None and spec not in SPECS:
        raise SattnError(f"spec (--spec) must be one of {', '.join(SPECS)}, got {spec!r}")
    if spec is not None and per_target:
        raise SattnError("spec (--spec) and per_target (--per-target) exclude each other")
    flags = {"prefer_bsr": prefer_bsr, "prefer_sw": prefer_sw, "l1_bytes": l1_bytes}
    _, _, probe_line = _hints(**flags, use_hw_probe=use_hw_probe)  # checks the flags, probes once
    disabled = _probe_disabled(probe_line)
    options = options or {}
    inputs = got = None
    selected_for = None
    force: str | None = None
    if not per_target:
        if spec is None:
            selected_for = next((b for b in names if b != "reference"), names[0])
            spec = _load_with_hints(mlir, PIPELINE_OF[selected_for],
                                    _backend_hints(flags, disabled, selected_for), overrides, op,
                                    strict_attributes).spec
        else:
            selected_for = "--spec"
        force = spec  # every pipeline lowers that one spec
    out = Comparison({}, selected_for=selected_for)
    for b in dict.fromkeys(names):
        hints = _backend_hints(flags, disabled, b).with_options(force=force)
        pipeline = _rvv_pipeline(options.get(b, {})) if b == "rvv" else PIPELINE_OF[b]
        params = _load_with_hints(mlir, pipeline, hints, overrides, op, strict_attributes)
        if got is None:
            got = load_inputs(params, q, k, v, seed)
            inputs = out.inputs = (got.q, got.k, got.v)
        qa, ka, va = inputs
        opts = dict(options.get(b, {}))
        tune_line = None
        if b == "rvv" and autotune:
            params, opts, tune_line = _autotune(params, qa, ka, va, opts)
        res = get_backend(b).run(params, qa, ka, va, **opts)
        if tune_line:
            res.lines.append(tune_line)
        if probe_line:
            res.lines.insert(0, probe_line)
        if b != "reference":
            _compared(res, params, qa, ka, va)
            out.verdicts[b] = res.verdict
        out.results[b] = _shaped(res, got)
    return out


def _probe_disabled(line: str | None) -> tuple[str, ...]:
    """The pattern keys a ``hw_probe:`` line disabled."""
    if not line:
        return ()
    inside = line.rsplit("disable=[", 1)[1].rstrip("]")
    return tuple(d for d in inside.split(",") if d and d != "none")


def _backend_hints(flags: dict[str, Any], disabled: tuple[str, ...], backend: str) -> Hints:
    """The edge's hints for one backend of :func:`compare` (its target unless the environment
    names one)."""
    return edge_hints(os.environ, **flags, disable=disabled, default_target=backend)
