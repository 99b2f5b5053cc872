"""The RoCC backend: run one attention op on the accelerator RTL under Verilator.

``run(params, q, k, v, **options)`` runs the op's command stream: the ``rocc_program`` that
``sattn-lower-rocc`` recorded (:mod:`sattn.transforms.rocc_program`), as written. When the op
has none (not lowered, a data-dependent pattern that selects at run time, or a program too large
to record) the same planner (:mod:`sattn.hw.program`) makes it from the host's selection
(:func:`sattn.specs.select_indices`, or the op's edited ``index_table``). The operands are
prepared exactly as the reference sees them (:func:`sattn.precision.prepare`: bf16 rounding,
i8/i4 codes; landmark K/V are the reference's compressed operands); the program file, the
artifacts (``indices.txt`` / ``indices.desc``, :func:`sattn.backends.rocc.artifacts.emit_artifacts`)
and the Q/K/V memory images go into a private temporary directory; ``hw/sim/obj_dir/Vrocc_sattn``
(built if needed) replays the program, and the output tensor comes back with the RTL's
counters. A batch is one program (every element's jobs, one simulation, one set of counters);
V and OUT rows are Dv wide (``HEAD_DIM_V``; docs/rocc.md).

``probe()`` runs the simulator's capability read (version, CAPS and hardware parameters).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from sattn import precision as prec
from sattn import resources
from sattn.backends.rocc import host_select
from sattn.backends.rocc.artifacts import descriptor, emit_artifacts
from sattn.backends.rocc.build import build
from sattn.backends.rocc.merge import merge
from sattn.errors import SattnError
from sattn.hw.isa import HW, PRECISION_BITS
from sattn.hw.program import Program, R
from sattn.ir.schema import AttentionParams, Shape
from sattn.precision import to_bf16_bits
from sattn.reference.data import check_qkv, check_values
from sattn.reference.executor import landmark_operands
from sattn.result import RunResult
from sattn.specs import pattern_of, select_indices
from sattn.specs.recorded import program_selection, recorded_selection, same_selection
from sattn.specs.selection import Selection
from sattn.toolrun import atomic_write, run_tool, scratch_dir
from sattn.transforms import rocc_bsr
from sattn.transforms.rocc_program import program_of

#: Memory-model defaults of the testbench: cycles from request to first beat, bytes per cycle.
DEFAULT_LATENCY = 20
DEFAULT_BANDWIDTH = 16.0

#: Every counter :func:`run` reports (``RunResult.counters`` keys): the fields of the
#: testbench's ``rocc_counters(rtl)`` line and those :func:`parse_counters` adds. A
#: host-selected pattern adds :data:`host_select.COUNTERS` (the host's selection: its RVV
#: instructions, measured in the same run, and their modelled cycles; absent otherwise).
COUNTERS: tuple[str, ...] = (
    "gather_cycles", "mac_cycles", "dma_bytes", "dma_q", "dma_k", "dma_out", "total_cycles",
    "busy_cycles", "lane_cycles", "pairs", "rows", "stall_kv_cycles", "gather_active_cycles",
    "dma_reqs", "select_cycles", "mem_read_bytes", "mem_write_bytes", "jobs", "util_mac",
    "util_gather", "lanes",
    "model_ideal_mac_cycles", "hw_ver", "hw_caps",
    # the host's side (``rocc_host`` line): key tiles' partial records and their merge, and
    # the K/V bytes read against the minimum (every selected K/V row once per KV head)
    "partial_records", "merged_rows", "max_partials", "host_merge_flops_model", "min_kv_bytes",
    "refetch_factor",
)

_LINE_PREFIXES = ("verilator_tb:", "rocc_counters(rtl):", "rocc_hw:", "rocc_util:")
_HOST = "rocc_host:"
_KV = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(0x[0-9a-fA-F]+|[-+0-9.eE]+)(?=[\s\],)]|$)")


@dataclass(frozen=True)
class HwInfo:
    """What the accelerator reports about itself (``rocc_hw`` line)."""

    ver: int
    caps: int
    bsr: bool
    sw: bool
    gqa: bool
    comp: bool
    precisions: tuple[str, ...]
    lanes: int
    dmax: int
    kv_rows: int
    line: str

    def supports(self, precision: str) -> bool:
        return precision in self.precisions


def _fields(line: str) -> dict[str, float | int]:
    """``key=value`` numbers of one printed line (ints stay ints; 0x.. parsed as hex)."""
    out: dict[str, float | int] = {}
    for k, v in _KV.findall(line):
        if v.startswith(("0x", "0X")):
            out[k] = int(v, 16)
        elif re.fullmatch(r"[-+]?\d+", v):
            out[k] = int(v)
        else:
            out[k] = float(v)
    return out


def parse_hw(line: str) -> HwInfo:
    """Parse a ``rocc_hw: ver=0x.. caps=0x.. [bsr=B sw=B gqa=B comp=B] fp32=B ...`` line."""
    f = _fields(line)
    try:
        precs = tuple(p for p in ("fp32", "bf16", "i8", "i4") if f.get(p))
        return HwInfo(ver=int(f["ver"]), caps=int(f["caps"]), bsr=bool(f["bsr"]),
                      sw=bool(f["sw"]), gqa=bool(f["gqa"]), comp=bool(f["comp"]),
                      precisions=precs, lanes=int(f.get("lanes", 0)), dmax=int(f.get("dmax", 0)),
                      kv_rows=int(f.get("kv_rows", 0)), line=line)
    except KeyError as e:
        raise SattnError(f"rocc simulator printed an unexpected capability line: {line!r} "
                         f"(missing {e})") from None


def simulate(exe: Path, work: Path, prog: Program, operands: tuple, precision: str, *,
             latency: int, bandwidth: float, max_cycles: int, timeout: float | None,
             extra: tuple[str, ...] = ()):
    """Write ``prog`` and the Q, K, V ``operands`` (packed in ``precision``) into ``work``, run
    the simulator ``exe`` on them with the memory model's ``latency`` and ``bandwidth``, and
    return (the finished process, the output region as fp32); SattnError unless the region is
    the program layout's size. ``extra``: more simulator arguments."""
    atomic_write(work / "program.txt", prog.text())
    for name, arr in zip(("q", "k", "v"), operands):
        (work / f"{name}.bin").write_bytes(pack_operand(arr, precision))
    out_path = work / "out.bin"
    cmd = [str(exe), "--program", str(work / "program.txt"),
           "--q", str(work / "q.bin"), "--k", str(work / "k.bin"), "--v", str(work / "v.bin"),
           "--out", str(out_path), "--lat", str(latency), "--bw", repr(bandwidth),
           "--max-cycles", str(int(max_cycles)), *extra]
    proc = run_tool(cmd, what="rocc simulation", timeout=timeout)
    region = np.fromfile(out_path, dtype="<f4")
    if region.size != prog.layout.o_bytes // 4:
        raise SattnError(f"rocc simulation wrote {region.size} output values, expected "
                         f"{prog.layout.o_bytes // 4}")
    return proc, region


def simulator() -> Path:
    """The simulator binary, built (or copied from the cache) when its sources changed."""
    return build()


def probe(timeout: float = 60.0) -> HwInfo:
    """Run the simulator's capability read (``Vrocc_sattn --probe``)."""
    proc = run_tool([str(simulator()), "--probe"], what="rocc capability probe", timeout=timeout)
    for line in proc.stdout.decode().splitlines():
        if line.startswith("rocc_hw:"):
            return parse_hw(line)
    raise SattnError("rocc capability probe printed no 'rocc_hw:' line")


def pack_operand(x: np.ndarray, precision: str) -> bytes:
    """The memory image of one operand: fp32 / bf16 little-endian, int8 codes, or int4 codes two
    per byte (element 2i in the low nibble)."""
    if precision == "fp32":
        return np.ascontiguousarray(x, dtype="<f4").tobytes()
    if precision == "bf16":
        return np.ascontiguousarray(to_bf16_bits(x), dtype="<u2").tobytes()
    codes = np.asarray(x).astype(np.int8)
    if precision == "i8":
        return np.ascontiguousarray(codes).tobytes()
    if codes.shape[-1] % 2:
        raise SattnError(f"precision i4 on the RoCC accelerator needs an even head dim "
                         f"(two codes per byte), got D={codes.shape[-1]}")
    nib = (codes.astype(np.uint8) & 0x0F).reshape(-1, 2)
    return (nib[:, 0] | (nib[:, 1] << 4)).astype(np.uint8).tobytes()


def run(params: AttentionParams, q: np.ndarray, k: np.ndarray, v: np.ndarray,
        **options: Any) -> RunResult:
    """Run ``params`` (spec selected) on the RTL: Q ``[H, Sq, D]``, K ``[G, Skv, D]``, V
    ``[G, Skv, Dv]``, or all three with a leading batch B. Options:

    ``selection`` a precomputed Selection (B = 1; a structural one serves every element), or
    one per batch element; ``latency`` (cycles, default 20) and ``bandwidth`` (bytes/cycle,
    default 16) of the memory model; ``keep_dir`` keeps the artifacts and memory images there;
    ``timeout`` in seconds; ``max_cycles`` stops a hung simulation; ``host_select``: the RVV
    options of the host-selection measurement (:data:`host_select.OPTIONS`, e.g.
    ``{"vlen": 512}``).

    bsr selects its blocks on chip (:mod:`sattn.backends.rocc.bsr`, through
    :func:`sattn.backends.rocc.backend.run`); here it runs only with a ``selection`` (attended as
    given), or with ``host_selects`` (backend.run's reason the scoring path cannot take it: the
    host selects, its cost measured, and a ``rocc_bsr: selection=host (...)`` line). Another
    data-dependent pattern is selected on the host (the accelerator attends the table), and
    its selection's cost is measured in the same run (:mod:`sattn.backends.rocc.host_select`:
    the RVV kernel on the same Q/K/V with ``stop_after = 2``): counters
    ``host_select_instructions`` (measured) and ``host_select_model_cycles`` (modelled) and a
    ``rocc_host_select:`` line; absent for a statically selected pattern.

    A batch is ONE program (:func:`sattn.transforms.rocc_program.program_of`): every
    element's jobs in one command stream over the batch-major layout, one simulation, one set
    of counters. Each element selects from its own Q and K. The output has Q's rank, its last
    dimension Dv. A pattern the RTL does not run is refused, and so is a composite pattern
    (nsa), which runs its own program (:mod:`sattn.backends.rocc.backend`).
    """
    pattern = pattern_of(params.spec)
    pattern.require_target("rocc")
    if pattern.composite:
        raise SattnError(f"rocc: spec '{params.spec}' is composite and runs its own program: "
                         "run it through sattn.backends.rocc.backend.run")
    host_selects = options.get("host_selects")  # why the chip does not select bsr (backend.run)
    if rocc_bsr.applies(params) and options.get("selection") is None and not host_selects:
        raise SattnError("rocc: spec bsr selects its blocks on chip and runs its own program: "
                         "run it through sattn.backends.rocc.backend.run, or give selection= "
                         "to attend a table")
    latency, bandwidth, rank, shape, (q, k, v) = checked_operands(params, q, k, v, options)
    b, one = shape.batch, shape.element
    t0 = time.perf_counter()
    sels = _selections(options.get("selection"), b)
    # a lowered op's edited records are its selection, every element's (sattn.specs.recorded)
    recorded = recorded_selection(params, one) if None in sels else None
    for e in range(b):
        if sels[e] is None:
            sels[e] = recorded
        if sels[e] is None:
            resources.require(resources.selection(params, one, "rocc: the host's selection"))
            sels[e] = select_indices(params, one, q[e], k[e])
    nnz = sum(sel.nnz for sel in sels)
    resources.require(resources.rocc(params, shape, nnz, latency=latency, bandwidth=bandwidth))
    prog = program_to_run(params, shape, sels)
    ops = prec.prepare(params, q, k, v)
    kk, vv = ops.k, ops.v
    if sels[0].key_space == "landmarks":  # each element's compressed K/V
        pairs = [landmark_operands(params, replace(ops, q=ops.q[e], k=ops.k[e], v=ops.v[e]),
                                   sels[e].landmark_assign, sels[e].num_keys) for e in range(b)]
        kk, vv = np.stack([x for x, _ in pairs]), np.stack([y for _, y in pairs])
    t1 = time.perf_counter()
    exe = simulator()
    t2 = time.perf_counter()
    with scratch_dir(options.get("keep_dir"), "keep_dir (--keep-dir)") as work:
        for e in range(b):
            emit_artifacts(params, one, sels[e], work / ("indices" if b == 1 else f"indices_b{e}"))
        budget = options.get("max_cycles") or _cycle_budget(
            nnz * shape.group, shape, ops.precision, bandwidth, latency)
        proc, region = simulate(exe, work, prog, (ops.q, kk, vv), ops.precision, latency=latency,
                                bandwidth=bandwidth, max_cycles=budget,
                                timeout=options.get("timeout"))
        t3 = time.perf_counter()
        n = b * shape.heads * shape.seq_len * shape.head_dim_v
        if region.size < n:
            raise SattnError(f"rocc simulation wrote {region.size} output values, expected "
                             f"{prog.layout.o_bytes // 4}")
        out = region[:n].reshape(b * shape.heads, shape.seq_len, shape.head_dim_v).astype(np.float32)
    stats = finish_output(out, region, prog, shape)
    lines = [ln for ln in proc.stdout.decode().splitlines() if ln.startswith(_LINE_PREFIXES)]
    counters = parse_counters(lines)
    lines.insert(min(2, len(lines)), spec_info(params, one, sels[0]))
    # the minimum: every selected K row (D wide) and V row (Dv wide) once per KV head
    min_kv = (prog.layout.row_bytes + prog.layout.v_row_bytes) * sum(
        len(np.unique(g.indices)) for sel in sels for g in sel.groups)
    host = {"partial_records": stats.records, "merged_rows": stats.merged_rows,
            "max_partials": stats.max_partials, "host_merge_flops_model": stats.flops_model,
            "min_kv_bytes": min_kv,
            "refetch_factor": round(counters["dma_k"] / min_kv, 4) if min_kv else 1.0}
    counters.update(host)
    lines.append(f"{_HOST} " + " ".join(f"{k}={v}" for k, v in host.items()))
    t4 = time.perf_counter()
    if host_selects:
        lines.append(f"rocc_bsr: selection=host ({host_selects})")
    hs = host_select.measure(params, q if rank == 4 else q[0], k if rank == 4 else k[0],
                             v if rank == 4 else v[0], sels, timeout=options.get("timeout"),
                             on_host=bool(host_selects), **(options.get("host_select") or {}))
    timings = {"select_s": t1 - t0, "build_s": t2 - t1, "sim_s": t3 - t2}
    if hs is not None:
        counters.update(hs.counters())
        lines.append(hs.line())
        timings["host_select_s"] = time.perf_counter() - t4
    out = out.reshape(b, shape.heads, shape.seq_len, shape.head_dim_v)
    res = RunResult(
        backend="rocc", spec=sels[0].spec, output=out[0] if rank == 3 else out,
        density=float(np.mean([sel.density for sel in sels])), counters=counters,
        timings=timings, lines=lines,
        params=params, selection=sels[0] if b == 1 else None,
    )
    if rank == 4:
        res.selections = sels  # type: ignore[attr-defined]
    return res


def _selections(given: Any, batch: int) -> list[Selection | None]:
    """One (possibly None: select) selection per batch element of the ``selection`` option."""
    if given is None or isinstance(given, Selection):
        return [given] * batch
    sels = list(given)
    if len(sels) != batch:
        raise SattnError(f"rocc: {len(sels)} selections given for a batch of B={batch}: give one "
                         "per batch element")
    return sels


def check_dims(shape: Shape) -> None:
    """D and Dv each fit the accelerator (HEAD_DIM, HEAD_DIM_V <= DMAX): one line otherwise."""
    for name, d in (("D", shape.head_dim), ("Dv", shape.head_dim_v)):
        if d > HW.dmax:
            raise SattnError(f"rocc: {name}={d} exceeds the accelerator's DMAX={HW.dmax} "
                             f"(Q [{shape.batch}, {shape.heads}, {shape.seq_len}, "
                             f"{shape.head_dim}], V [..., {shape.head_dim_v}]); the reference "
                             "runs any D and Dv")


def finish_output(out: np.ndarray, region: np.ndarray, prog: Program, shape: Shape):
    """The host's work after the accelerator (outside its cycles): merge the partial records
    of rows whose keys span key tiles into ``out`` (:mod:`sattn.backends.rocc.merge`) and
    zero the rows no job wrote (a key-tiled head plans no job for a row without keys; its
    output is zeros, as a plain job's empty row). ``out`` is ``[B * H, Sq, Dv]`` (the batch's
    query heads, element-major). Returns the merge's :class:`MergeStats`."""
    kv_heads = shape.batch * shape.kv_heads  # the program's KV heads, element-major
    written = np.zeros((shape.batch * shape.heads, shape.seq_len), dtype=bool)
    for regs, _, _ in prog.starts():
        g, _ = prog.kv_row(regs, kv_heads)
        base, count = regs.get(R["ROW_BASE"], 0), regs.get(R["ROW_COUNT"], 0)
        written[g * shape.group: (g + 1) * shape.group, base: base + count] = True
    out[~written] = 0.0
    heads, rows, words = prog.partial_records(kv_heads, shape.group)
    return merge(out, region, heads, rows, words)


def program_to_run(params: AttentionParams, shape: Shape, sel: Selection | list[Selection]
                   ) -> Program:
    """The command stream this run replays: the op's recorded ``rocc_program`` as written when
    it runs the selection ``sel`` (its registers included: an edited register write is what
    runs), else the plan of ``sel`` (no program recorded, a data-dependent pattern, an elided
    program, a program planned for operands of another shape -- an op that fixes no shape is
    lowered for the default one --, or a recorded program planned from another selection: an
    edited ``index_table``, or ``selection=``)."""
    planned = program_of(params, shape, sel)
    rec = params.extra.get("rocc_program")
    if not isinstance(rec, dict) or "commands" not in rec:
        return planned
    recorded = Program.from_record(rec, planned.info)
    if recorded.same_as(planned) or not recorded.layout.same_sizes(planned.layout):
        return planned  # the same, or planned for operands of another shape
    from_program = program_selection(params, shape)
    sels = sel if isinstance(sel, list) else [sel]
    return recorded if from_program is not None and all(
        same_selection(x, from_program) for x in sels) else planned


def spec_info(params: AttentionParams, shape: Shape, sel: Selection) -> str:
    """The ``spec_info:`` line: the pattern parameters the run used."""
    d = descriptor(params, shape, sel)
    return (f"spec_info: global_tokens={d['global_tokens']} gqa_group_size={d['gqa_group_size']} "
            f"comp_block_size={d['comp_block_size']} nm=({d['nm_n']},{d['nm_m']}) "
            f"lsh_buckets={d['lsh_buckets']} keep_ratio={float(d['keep_ratio']):g}")


#: The testbench reads --lat as a C int.
MAX_LATENCY = 2**31 - 1


def checked_operands(params: AttentionParams, q: np.ndarray, k: np.ndarray, v: np.ndarray,
                     options: dict) -> tuple[int, float, int, Shape, tuple]:
    """A run's checked memory model and operands: ``(latency, bandwidth, rank of Q, shape,
    (Q, K, V) as rank 4)``; every check one line (options, shapes, the hardware's dimensions,
    the values)."""
    latency, bandwidth = check_options(options.get("latency"), options.get("bandwidth"))
    rank = getattr(q, "ndim", 3)
    shape = check_qkv(q, k, v, params.gqa_group_size)
    check_dims(shape)
    if rank == 3:
        q, k, v = q[None], k[None], v[None]
    check_values(params, q, k, v)
    return latency, bandwidth, rank, shape, (q, k, v)


def check_options(latency: Any = None, bandwidth: Any = None) -> tuple[int, float]:
    """(latency, bandwidth) of the memory model: the defaults for None, else validated -- the
    one check the API (``compile_and_sim(latency=...)``) and the tools (``--lat``, ``--bw``)
    share. A latency is an integer number of cycles in [1, 2**31 - 1]; a bandwidth a finite
    number of bytes per cycle > 0."""
    if latency is None:
        latency = DEFAULT_LATENCY
    elif isinstance(latency, bool) or not isinstance(latency, (int, np.integer)):
        raise SattnError(f"latency (--lat) must be an integer number of cycles, got {latency!r}")
    elif not 1 <= latency <= MAX_LATENCY:
        raise SattnError(f"latency (--lat) must be >= 1 and <= {MAX_LATENCY} cycles, got {latency}")
    if bandwidth is None:
        bandwidth = DEFAULT_BANDWIDTH
    elif isinstance(bandwidth, bool) or not isinstance(bandwidth, (int, float, np.integer, np.floating)):
        raise SattnError(f"bandwidth (--bw) must be a number of bytes per cycle, got {bandwidth!r}")
    elif not (np.isfinite(bandwidth) and bandwidth > 0):
        raise SattnError(f"bandwidth (--bw) must be a finite number > 0 bytes per cycle, got {bandwidth}")
    return int(latency), float(bandwidth)


def _cycle_budget(pairs: int, shape, precision: str, bandwidth: float, latency: int) -> int:
    """A generous cycle limit that stops a hung simulation (50x the MAC-bound and memory-bound
    estimates; a healthy run stays within ~1.2x of their sum)."""
    d, dv = shape.head_dim, shape.head_dim_v
    mac = pairs * (d + dv) / HW.lanes
    rows = shape.batch * shape.heads * shape.seq_len
    keys = shape.batch * shape.kv_heads * shape.kv_len
    nbytes = (rows * d + keys * (d + dv)) * PRECISION_BITS[precision] / 8 + rows * dv * 4
    return int(50 * (mac + rows * (8 + latency) + nbytes / bandwidth) + 1_000_000)


def parse_counters(lines: list[str]) -> dict[str, Any]:
    """The measured numbers of the simulator's lines as one flat dict.

    Keys: every field of ``rocc_counters(rtl)`` (gather_cycles, mac_cycles, dma_bytes, dma_q,
    dma_k, dma_out, total_cycles, lane_cycles, pairs, ...), ``util_mac``/``util_gather``/
    ``lanes`` of ``rocc_util``, ``mem_read_bytes``/``mem_write_bytes`` served by the memory
    model, and ``hw_ver``/``hw_caps``. The ideal MAC-bound cycle count is a model: it is
    ``model_ideal_mac_cycles``.
    """
    got: dict[str, Any] = {}
    seen = set()
    for line in lines:
        head = line.split(":", 1)[0]
        seen.add(head)
        f = _fields(line.split(":", 1)[1] if ":" in line else line)
        if head == "verilator_tb":
            got["mem_read_bytes"] = f.get("mem_read_bytes")
            got["mem_write_bytes"] = f.get("mem_write_bytes")
            got["jobs"] = f.get("jobs")
        elif head == "rocc_counters(rtl)":
            got.update(f)
        elif head == "rocc_util":
            got["util_mac"] = f.get("util_mac")
            got["util_gather"] = f.get("util_gather")
            got["lanes"] = f.get("lanes")
            got["model_ideal_mac_cycles"] = f.get("ideal_mac_cycles")
        elif head == "rocc_hw":
            got["hw_ver"] = f.get("ver")
            got["hw_caps"] = f.get("caps")
    for need in ("verilator_tb", "rocc_counters(rtl)", "rocc_util"):
        if need not in seen:
            raise SattnError(f"rocc simulation printed no '{need}:' line")
    return got
