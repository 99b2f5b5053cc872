"""Run one attention op on the RVV kernels under qemu-riscv64 and measure it.

``run(params, q, k, v)``: converts Q/K/V to the storage format of the
precision (the quantisation is :mod:`sattn.precision`'s, done on the host so that
outputs are comparable), writes one input file in a private temporary directory, runs the
cached ``sattn_rvv`` binary under ``qemu-riscv64 -cpu rv64,v=true,vlen=N,vext_spec=v1.0``
with the counting plugin, and reads the output tensor and the counters back.

How each pattern reaches the kernel (``MODE``): dense and sliding_window compute their keys
in the kernel; block_local_global (structural: no selection work) reads the index table from
:func:`sattn.specs.select_indices` (CSR per KV head); bsr (block scores, kernels/bsr.c; on a
KV cache, Sq < Skv, from the cache's K block sums: :mod:`sattn.backends.rvv.kvcache`),
topk_per_query, nm_structured, lsh, landmark and compression-block scoring select inside the
kernel, so the instruction count includes the selection. ``check_selection=True`` also returns the selection the kernel
made (every mode but the index table; for dense and sliding_window the key lists exactly as
the attention core receives them), which the tests compare with ``select_indices``.

A lowered call is run as written: the LMUL and VLEN are its ``vector_strips`` record's
(:func:`vector_config`), and an edited ``index_table`` record is expanded by
:func:`sattn.specs.recorded.recorded_selection` and run in table mode (the reference attends
the same edited table).

Counters (measured by the plugin over the kernel region only): ``instructions``, ``vector``,
``vector_mem``, ``scalar`` (= instructions - vector), plus ``selected_pairs``/``dense_pairs``;
``model_cycles`` is *modelled*: the plugin's vector profile (``result.vector_profile``) costed
on the in-order machine of :mod:`sattn.backends.rvv.cycle_model` (options ``dlen``,
``mem_bytes_per_cycle``, ``scalar_ipc``; printed as the ``rvv_cycles(model):`` line).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sattn import precision as prec
from sattn import resources
from sattn.backends.rvv import abi, build, cycle_model, kvcache
from sattn.errors import SattnError
from sattn.ir.patterns import patterns
from sattn.ir.schema import AttentionParams
from sattn.reference.data import check_qkv, check_values
from sattn.result import RunResult
from sattn.specs import dense, pattern_of, select_indices
from sattn.specs.recorded import recorded_selection
from sattn.specs.selection import GroupSelection, Selection
from sattn.toolrun import find_tool, run_tool, scratch_dir
from sattn.transforms import vectorize

VLENS: tuple[int, ...] = (128, 256, 512)
#: The kernel's register groups and its default (what ``sattn-vectorize`` records by default).
LMULS: tuple[int, ...] = vectorize.LMULS
DEFAULT_VLEN = vectorize.DEFAULT_VLEN
DEFAULT_LMUL = vectorize.DEFAULT_LMUL

#: Every counter :func:`run` reports (``RunResult.counters`` keys; the first five only with the
#: counting plugin; ``model_cycles`` is a model, named so).
COUNTERS: tuple[str, ...] = ("instructions", "vector", "vector_mem", "scalar", "model_cycles",
                             "selected_pairs", "dense_pairs")

#: Kernel drivers and precision codes (the ABI: :mod:`sattn.backends.rvv.abi`).
MODE = abi.MODES
PREC_CODE = abi.PREC_CODES
MAGIC = abi.MAGIC


def kernel_mode(params: AttentionParams) -> str:
    """Which kernel driver runs ``params.spec``: the pattern's (:meth:`Pattern.rvv_mode`)."""
    mode = pattern_of(params.spec).rvv_mode(params)
    if mode not in abi.MODES:
        raise SattnError(f"the RVV backend has no kernel for spec {params.spec!r}")
    return mode


@dataclass
class Storage:
    """Q/K/V in the kernel's storage format and the scales of the score and the output."""

    q: np.ndarray  # [H, Sq, row_bytes] uint8
    k: np.ndarray  # [Hkv, Skv, row_bytes]
    v: np.ndarray
    row_bytes: int
    score_scale: float
    v_scale: float


def _pack_i4(codes: np.ndarray) -> np.ndarray:
    """Two i4 codes per byte along D: low nibble = even d, high nibble = odd d."""
    c = codes.astype(np.int16)
    return ((c[..., 0::2] & 0xF) | ((c[..., 1::2] & 0xF) << 4)).astype(np.uint8)


def _rows_of(a: np.ndarray, row_bytes: int) -> np.ndarray:
    """``a`` [..., n] of storage elements as uint8 rows of ``row_bytes`` (zero padding after the
    row's own bytes: V rows of Dv values beside Q/K rows of D)."""
    raw = np.ascontiguousarray(a)
    raw = raw.view(np.uint8).reshape(*a.shape[:-1], raw.shape[-1] * raw.itemsize)
    if raw.shape[-1] == row_bytes:
        return raw
    out = np.zeros((*a.shape[:-1], row_bytes), dtype=np.uint8)
    out[..., :raw.shape[-1]] = raw
    return out


def to_storage(params: AttentionParams, q: np.ndarray, k: np.ndarray, v: np.ndarray) -> Storage:
    """Convert float32 inputs to the precision's storage (quantised with sattn.precision); rows
    are ``row_bytes`` apart: the longer of a Q/K row (D values) and a V row (Dv values)."""
    ops = prec.prepare(params, q, k, v)
    p = params.precision
    d, dv = q.shape[-1], v.shape[-1]
    if p == "fp32":
        conv = lambda a: np.ascontiguousarray(a, dtype=np.float32)
        width = 4.0
    elif p == "bf16":
        conv = lambda a: (np.ascontiguousarray(a, dtype=np.float32).view(np.uint32) >> 16).astype(np.uint16)
        width = 2.0
    elif p == "i8":
        conv = lambda a: a.astype(np.int8)
        width = 1.0
    else:
        for what, n in (("head_dim", d), ("the value dimension Dv", dv)):
            if n % 2:
                raise SattnError(f"precision 'i4' packs two values per byte: {what} must be even, got {n}")
        conv = lambda a: _pack_i4(a.astype(np.int8))
        width = 0.5
    rb = int(width * max(d, dv))
    return Storage(_rows_of(conv(ops.q), rb), _rows_of(conv(ops.k), rb), _rows_of(conv(ops.v), rb),
                   rb, ops.score_scale, ops.v_scale)


def check_vector_options(vlen: int, lmul: int) -> None:
    """One line unless VLEN and LMUL are ones the kernels run (:data:`VLENS`, :data:`LMULS`)."""
    if vlen not in VLENS:
        raise SattnError(f"--vlen must be one of {', '.join(map(str, VLENS))}, got {vlen}")
    if lmul not in LMULS:
        raise SattnError(f"lmul must be one of {', '.join(map(str, LMULS))}, got {lmul}")


def build_input(params: AttentionParams, st: Storage, shape, mode: str, sel: Selection | None,
                lmul: int, sel_cap: int = 0, block_sums: bool = False,
                stop_after: int = 0) -> bytes:
    """The kernel's input file (layout: :mod:`sattn.backends.rvv.abi`).

    Every registered pattern writes its own header slots (its parameters reduced to what they
    mean at S = Skv, the key positions: the same selection, no overflow in C), whichever
    pattern runs: the header does not depend on the spec beyond the mode. ``skv`` and ``sq``
    are the key and query counts (query row i at position Skv - Sq + i). ``block_sums`` (bsr
    only): add the KV cache's K block sums (:func:`sattn.backends.rvv.kvcache.k_block_sums`)
    as the ``kblock_sums_off`` section, which the kernel then reads instead of summing the
    blocks of the whole cache. ``stop_after``: 1 the kernel runs only the selection's scoring
    pass, 2 the scoring and the selection (modes in :data:`STOP_AFTER_MODES`)."""
    s, n = shape.seq_len, shape.kv_len
    f = abi.InputFile(mode, params.precision, lmul)
    f.set(h=shape.heads, hkv=shape.kv_heads, skv=n, sq=s, d=shape.head_dim,
          dv=head_dim_v(shape), causal=params.causal, row_bytes=st.row_bytes,
          stop_after=stop_after, sel_cap=sel_cap)
    for pattern in patterns():
        f.set(**pattern.rvv_header(params, n))
    scale_q, scale_k, scale_v = prec.resolved_scales(params)
    f.set_float(score_scale=st.score_scale, v_scale=st.v_scale, scale_q=scale_q,
                scale_k=scale_k, scale_v=scale_v)
    aux = pattern_of(params.spec).rvv_aux(params, shape)
    f.add("q_off", st.q.tobytes())
    f.add("k_off", st.k.tobytes())
    f.add("v_off", st.v.tobytes())
    if mode == "table":
        assert sel is not None
        s1 = s + 1
        indptr = np.zeros(shape.kv_heads * s1, dtype=np.int64)
        base = 0
        for g, grp in enumerate(sel.groups):
            indptr[g * s1:(g + 1) * s1] = grp.indptr + base
            base += grp.nnz
        f.add("indptr_off", indptr.tobytes())
        f.add("indices_off", np.concatenate([grp.indices for grp in sel.groups]).astype(np.int32).tobytes()
              + b"\0" * 4)
        f.set(nnz=base)
    if aux is not None:
        f.add("aux_off", aux.astype(np.float32).tobytes())
    if block_sums:
        values = kvcache.stored_values(params.precision, st.k, shape.head_dim)
        f.add("kblock_sums_off", kvcache.k_block_sums(values, f.hdr[abi.SLOTS["block_size"]]).tobytes())
    return f.pack()


def head_dim_v(shape) -> int:
    """The value dimension Dv of ``shape`` (D where the shape has none)."""
    return getattr(shape, "head_dim_v", None) or shape.head_dim


def region_counters(text: str, machine, what: str) -> tuple[dict, object, object]:
    """The counters of the plugin's output ``text`` for its one measured region (instructions,
    vector, vector_mem, scalar and the modelled cycles on ``machine``), the vector profile and
    the model; SattnError naming ``what`` unless the plugin saw exactly one region."""
    c = parse_counts(text)
    if c.get("region_begin") != 1 or c.get("region_end") != 1:
        raise SattnError(f"{what}: the counting plugin did not see exactly one region")
    counters = {"instructions": c["instructions"], "vector": c["vector"],
                "vector_mem": c["vector_mem"], "scalar": c["instructions"] - c["vector"]}
    profile = cycle_model.parse_profile(c, text)
    modelled = cycle_model.model(profile, machine)
    counters["model_cycles"] = modelled.cycles
    return counters, profile, modelled


def parse_counts(text: str) -> dict[str, int]:
    """The plugin's ``key=value`` lines (its ``vop`` profile lines: :func:`cycle_model.parse_profile`)."""
    vals = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith("vop "):
            key, _, val = line.partition("=")
            vals[key.strip()] = int(val)
    return vals


def vector_config(params: AttentionParams, vlen: int | None = None,
                  lmul: int | None = None) -> tuple[int, int]:
    """The (VLEN, LMUL) the kernel runs: an explicit argument (the autotuner's sweep), else the
    lowered call's ``vector_strips`` record (what ``sattn-vectorize`` chose; an edited record
    changes the run), else the defaults."""
    rec = vectorize.strips_choice(params) or (DEFAULT_VLEN, DEFAULT_LMUL)
    return (rec[0] if vlen is None else vlen), (rec[1] if lmul is None else lmul)


def with_strips(params: AttentionParams, vlen: int, lmul: int) -> AttentionParams:
    """``params`` whose ``vector_strips`` record names (vlen, lmul) (the autotuner writes its
    choice into the record the run reads)."""
    return params.replace(extra={**params.extra, "vectorized": True,
                                 "vector_strips": vectorize.vector_strips(params, vlen, lmul)})


def run(params: AttentionParams, q: np.ndarray, k: np.ndarray, v: np.ndarray, *,
        selection=None, keep: str | Path | None = None, **options) -> RunResult:
    """Run the RVV kernel for ``params.spec`` under qemu (see :func:`run_one`).

    Rank-4 Q/K/V (a batch, ``[B, H, S, D]``) run as one kernel call per batch element, each
    selecting from its own Q and K (``selection``: None, or one per element): the output is
    ``[B, H, Sq, Dv]`` and every counter (measured or modelled) is the sum over the B calls,
    as are ``selected_pairs`` and ``dense_pairs``; ``kernel_selection`` and ``selections`` are
    then lists with one entry per element (``selection``, one Selection, is None, as for the
    reference's batched runs).

    A composite pattern (nsa) has its own driver (:func:`sattn.backends.rvv.nsa.run_op`, which
    the backend's ``run``, :mod:`sattn.backends.rvv.backend`, dispatches to)."""
    if pattern_of(params.spec).composite:
        raise SattnError(f"rvv: spec '{params.spec}' runs on its own kernel driver "
                         "(sattn.backends.rvv.nsa.run_op; the backend's run dispatches to it)")
    if getattr(q, "ndim", 3) != 4:
        return run_one(params, q, k, v, selection=selection, keep=keep, **options)
    shape = check_qkv(q, k, v, params.gqa_group_size)
    b = q.shape[0]
    sels = list(selection) if selection is not None else [None] * b
    if len(sels) != b:
        raise SattnError(f"rvv: {len(sels)} selections given for a batch of B={b}: give one per "
                         "batch element")
    parts = []
    for e in range(b):
        where = None if keep is None else Path(keep) / f"element{e}"
        parts.append(run_one(params, q[e], k[e], v[e], selection=sels[e], keep=where, **options))
    counters: dict[str, int | float] = {}
    for r in parts:
        for key, val in r.counters.items():
            counters[key] = counters.get(key, 0) + val
    density = counters["selected_pairs"] / float(counters["dense_pairs"])
    lines = [parts[0].lines[0].replace(" H=", f" B={b} H=", 1)]
    if "instructions" in counters:
        lines.append(f"rvv_counters: total={counters['instructions']} vector={counters['vector']} "
                     f"vector_mem={counters['vector_mem']} scalar={counters['scalar']} "
                     f"(summed over B={b} kernel calls)")
        pairs = counters["selected_pairs"] * shape.group
        if pairs:
            lines.append(f"rvv_per_pair: instructions={counters['instructions'] / pairs:.3f} "
                         f"vector={counters['vector'] / pairs:.3f} pairs={pairs} "
                         f"density={density:.4f}")
        lines.append(f"rvv_cycles(model): cycles={counters['model_cycles']} summed over B={b} "
                     "kernel calls (modelled: in-order, single issue, no overlap, no memory "
                     "latency)")
    timings = {key: sum(r.timings.get(key, 0.0) for r in parts) for key in parts[0].timings}
    res = RunResult(backend="rvv", spec=params.spec, output=np.stack([r.output for r in parts]),
                    density=density, counters=counters, timings=timings, lines=lines,
                    params=parts[0].params)
    res.kernel_selection = [r.kernel_selection for r in parts]  # type: ignore[attr-defined]
    res.vector_profile = [r.vector_profile for r in parts]  # type: ignore[attr-defined]
    res.selections = [r.selection for r in parts]  # type: ignore[attr-defined]
    return res


def run_one(params: AttentionParams, q: np.ndarray, k: np.ndarray, v: np.ndarray, *,
            vlen: int | None = None, lmul: int | None = None, keep: str | Path | None = None,
            check_selection: bool = False, count: bool = True,
            selection: Selection | None = None, dlen: int | None = None,
            mem_bytes_per_cycle: int | None = None, scalar_ipc: float | None = None,
            block_sums: bool | None = None, stop_after: int = 0, **options) -> RunResult:
    """Run the RVV kernel on one problem (Q ``[H, Sq, D]``) under qemu (see the module
    docstring).

    ``vlen``/``lmul``: default the op's ``vector_strips`` record (:func:`vector_config`).
    ``keep``: directory to keep the input/output files in (default: a private temp dir).
    ``dlen``, ``mem_bytes_per_cycle``, ``scalar_ipc``: the modelled machine of the
    ``rvv_cycles(model):`` line (defaults: :mod:`sattn.backends.rvv.cycle_model`).
    ``check_selection``: the kernels that select by themselves also dump their selection; it is
    returned as ``result.kernel_selection`` (one GroupSelection per KV head, else None) next to
    ``result.selection`` (what sattn.specs selected). The dump is written inside the kernel
    region, so counts taken with it include that copy: benchmarks leave it off.
    ``block_sums`` (bsr): whether the step reads the KV cache's K block sums (built on the
    host, :mod:`sattn.backends.rvv.kvcache`: the cache's job, not counted) instead of summing
    every block of K in the kernel; default: for a KV-cache step (Sq < Skv).
    """
    vlen, lmul = vector_config(params, vlen, lmul)
    check_vector_options(vlen, lmul)
    machine = cycle_model.machine_for(vlen, dlen, mem_bytes_per_cycle, scalar_ipc)
    shape = check_qkv(q, k, v, params.gqa_group_size)
    mode = kernel_mode(params)
    if shape.head_dim > MAX_HEAD_DIM:
        raise SattnError(f"head_dim D={shape.head_dim} is more than the RVV kernels' limit of "
                         f"{MAX_HEAD_DIM}")
    if head_dim_v(shape) > MAX_HEAD_DIM:
        raise SattnError(f"the value dimension Dv={head_dim_v(shape)} is more than the RVV "
                         f"kernels' limit of {MAX_HEAD_DIM}")
    check_values(params, q, k, v)
    check_stop_after(stop_after, mode, params.spec)
    t0 = time.perf_counter()
    sel = selection
    if sel is None:  # a lowered op's edited index table: the kernel runs it as a token table
        sel = recorded_selection(params, shape)
        if sel is not None:
            mode = "table"
    # the kernel computes dense and window keys itself: the host only needs their count
    nnz = None if sel is not None or check_selection else _structural_pairs(params, shape, mode)
    if nnz is None:
        if sel is None:
            resources.require(resources.selection(params, shape, "rvv: the host's selection"))
            sel = select_indices(params, shape, q, k)
        nnz = sel.nnz
    if block_sums is None:
        block_sums = mode == "bsr" and shape.offset > 0
    elif block_sums and mode != "bsr":
        raise SattnError(f"rvv: block_sums (the KV cache's K block sums) are for bsr's kernel, "
                         f"not {params.spec!r} (kernel mode {mode!r})")
    resources.require(resources.rvv(
        params, shape, nnz, vlen=vlen, lmul=lmul, table_nnz=nnz if mode == "table" else 0,
        block_sums=params.effective_block_size(shape.kv_len) if block_sums else 0))
    st = to_storage(params, q, k, v)
    sel_cap = nnz + 16 if (check_selection and mode != "table") else 0
    blob = build_input(params, st, shape, mode, sel if mode == "table" else None, lmul, sel_cap,
                       block_sums, stop_after)
    t1 = time.perf_counter()
    dv = head_dim_v(shape)
    ex = execute(blob, vlen=vlen, machine=machine, count=count, keep=keep,
                 what=f"RVV kernel ({params.spec}, {params.precision}) under qemu-riscv64",
                 out_values=shape.heads * shape.seq_len * dv, selection=bool(sel_cap),
                 timeout=options.get("timeout", 3600))
    t2 = t1 + ex.seconds
    out = ex.output.reshape(shape.heads, shape.seq_len, dv)
    counters, profile, modelled = ex.counters, ex.profile, ex.modelled
    kernel_sel = _read_selection(ex.selection, shape, sel.num_keys) if sel_cap else None
    pairs = nnz * shape.group
    dense_pairs = shape.kv_heads * shape.seq_len * shape.kv_len
    density = nnz / float(dense_pairs)
    counters.update(selected_pairs=nnz, dense_pairs=dense_pairs)
    sizes = (f"S={shape.seq_len}" if not shape.offset
             else f"Sq={shape.seq_len} Skv={shape.kv_len}")
    lines = [(f"rvv_config: vlen={vlen} lmul={lmul} precision={params.precision} mode={mode} "
              f"H={shape.heads} kv_heads={shape.kv_heads} {sizes} D={shape.head_dim}")]
    if count:
        lines.append(f"rvv_counters: total={counters['instructions']} vector={counters['vector']} "
                     f"vector_mem={counters['vector_mem']} scalar={counters['scalar']}")
        if pairs:
            lines.append(f"rvv_per_pair: instructions={counters['instructions'] / pairs:.3f} "
                         f"vector={counters['vector'] / pairs:.3f} pairs={pairs} density={density:.4f}")
        lines.append(modelled.line())
    if block_sums:
        lines.append("rvv_kv_cache: the step reads the cache's K block sums [Hkv, nb, D] "
                     "(fp32) instead of the whole cache; keeping them is the cache's job "
                     "(one D-wide add per appended token), not counted above")
    res = RunResult(backend="rvv", spec=params.spec, output=out, density=density,
                    counters=counters, timings={"prepare_s": t1 - t0, "qemu_s": t2 - t1},
                    lines=lines, params=with_strips(params, vlen, lmul))  # what ran
    res.kernel_selection = kernel_sel  # type: ignore[attr-defined]
    res.vector_profile = profile  # type: ignore[attr-defined]
    res.selection = sel  # None when counted in closed form
    return res


#: ``stop_after`` values and the kernel modes that take each (:data:`abi.STOP_AFTER_MODES`).
STOP_AFTER_MODES = abi.STOP_AFTER_MODES


def check_stop_after(stop_after: int, mode: str, spec: str | None) -> None:
    """One line unless ``stop_after`` is 0 (the whole kernel), 1 in a mode with a separate
    scoring pass, or 2 in a mode that selects by itself (:data:`STOP_AFTER_MODES`)."""
    if stop_after not in (0, 1, 2):
        raise SattnError(f"rvv: stop_after must be 0 (the whole kernel), 1 (the scoring pass) "
                         f"or 2 (scoring and selection), got {stop_after!r}")
    if stop_after and mode not in STOP_AFTER_MODES[stop_after]:
        what = ("have a separate scoring pass" if stop_after == 1
                else "select by themselves")
        raise SattnError(f"rvv: stop_after={stop_after}: only the kernel modes "
                         f"{', '.join(STOP_AFTER_MODES[stop_after])} {what}, not {spec!r} "
                         f"(mode {mode!r})")

#: The kernels' largest head dimension (kernels/main.c refuses a header beyond it).
MAX_HEAD_DIM = 4096


def _structural_pairs(params: AttentionParams, shape, mode: str) -> int | None:
    """Selected pairs over KV heads of the modes whose keys the kernel computes (dense, window),
    in closed form (None: not available, build the selection)."""
    if mode == "dense":
        return shape.kv_heads * dense.pair_count(params, shape.seq_len, shape.kv_len)
    if mode != "window" or shape.offset:  # the window's closed form counts Sq = Skv
        return None
    n = pattern_of(params.spec).pair_count(params, shape.seq_len)
    return None if n is None else shape.kv_heads * n


@dataclass
class Execution:
    """One run of the kernel binary: the raw output, the plugin's counters (empty without
    it), its vector profile and the modelled cycles, the selection dump's bytes, qemu's time."""

    output: np.ndarray  # float32, flat
    counters: dict
    profile: object
    modelled: object
    selection: bytes | None
    seconds: float


def execute(blob: bytes, *, vlen: int, machine, count: bool, keep, what: str, out_values: int,
            selection: bool = False, timeout: float = 3600) -> Execution:
    """Run the kernel binary on the input file ``blob`` under qemu (with the counting plugin
    when ``count``) in a private scratch directory (``keep``: keep the files there) and read
    back ``out_values`` float32 outputs, the counters and (``selection``) the selection dump.
    Every kernel mode runs through here (:func:`run_one`, :mod:`sattn.backends.rvv.nsa`)."""
    binary = build.kernel_binary()
    plugin = build.plugin_library() if count else None
    qemu = find_tool("qemu-riscv64")
    with scratch_dir(keep, "keep (--keep)") as d:
        inp, outp, selp, cnt = d / "input.bin", d / "output.bin", d / "selection.bin", d / "counts.txt"
        inp.write_bytes(blob)
        cmd = [qemu, "-cpu", f"rv64,v=true,vlen={vlen},vext_spec=v1.0"]
        if plugin:
            cmd += ["-plugin", f"{plugin},out={cnt},vlen={vlen}"]
        cmd += [str(binary), str(inp), str(outp)] + ([str(selp)] if selection else [])
        t1 = time.perf_counter()
        run_tool(cmd, what=what, timeout=timeout)
        seconds = time.perf_counter() - t1
        out = np.fromfile(outp, dtype=np.float32)
        if out.size != out_values:
            raise SattnError(f"RVV kernel wrote {out.size} output values, expected {out_values}")
        counters: dict[str, int | float] = {}
        profile = modelled = None
        if plugin:
            counters, profile, modelled = region_counters(cnt.read_text(), machine, "RVV kernel")
        raw_sel = selp.read_bytes() if selection else None
    return Execution(out, counters, profile, modelled, raw_sel, seconds)


def _read_selection(raw: bytes, shape, num_keys: int):
    """The kernel's selection dump as one GroupSelection per KV head (Sq rows)."""
    s1 = shape.seq_len + 1
    indptr = np.frombuffer(raw[: 8 * shape.kv_heads * s1], dtype=np.int64).reshape(shape.kv_heads, s1)
    idx = np.frombuffer(raw[8 * shape.kv_heads * s1:], dtype=np.int32)
    groups = []
    for g in range(shape.kv_heads):
        a = indptr[g]
        groups.append(GroupSelection((a - a[0]).copy(), idx[a[0]:a[-1]].copy()))
    return groups


def ideal_per_pair(head_dim: int, vlen: int, lmul: int = 4) -> float:
    """Vector instructions per attended pair of an ideal fp32 kernel (design: 2D/VL + 14/VL)."""
    lanes = vlen // 32 * lmul
    return (2 * head_dim + 14) / lanes


