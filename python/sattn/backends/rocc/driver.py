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
counters.

``probe()`` runs the simulator's capability read (version, CAPS and hardware parameters).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sattn import precision as prec
from sattn import resources
from sattn.backends.rocc.artifacts import descriptor, emit_artifacts
from sattn.backends.rocc.build import build
from sattn.backends.rocc.merge import merge
from sattn.errors import SattnError
from sattn.hw.isa import HW, PRECISION_BITS
from sattn.hw.program import Program, R
from sattn.ir.schema import AttentionParams, Shape
from sattn.precision import to_bf16_bits
from sattn.reference.data import check_qkv, check_values, require_plain
from sattn.reference.executor import landmark_operands
from sattn.result import RunResult
from sattn.specs import pattern_of, select_indices
from sattn.specs.recorded import program_selection, recorded_selection, same_selection
from sattn.specs.selection import Selection
from sattn.toolrun import atomic_write, run_tool, scratch_dir
from sattn.transforms.rocc_program import program_of

#: Memory-model defaults of the testbench: cycles from request to first beat, bytes per cycle.
DEFAULT_LATENCY = 20
DEFAULT_BANDWIDTH = 16.0

#: Every counter :func:`run` reports (``RunResult.counters`` keys): the fields of the
#: testbench's ``rocc_counters(rtl)`` line and those :func:`parse_counters` adds.
COUNTERS: tuple[str, ...] = (
    "gather_cycles", "mac_cycles", "dma_bytes", "dma_q", "dma_k", "dma_out", "total_cycles",
    "busy_cycles", "lane_cycles", "pairs", "rows", "stall_kv_cycles", "gather_active_cycles",
    "dma_reqs", "mem_read_bytes", "mem_write_bytes", "jobs", "util_mac", "util_gather", "lanes",
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


#: Counters of a batched run that are not the sum over its elements' runs.
_RATIOS = ("util_mac", "util_gather", "refetch_factor")
_SAME = ("lanes", "hw_ver", "hw_caps")


def run(params: AttentionParams, q: np.ndarray, k: np.ndarray, v: np.ndarray, **options: Any) -> RunResult:
    """Run ``params`` (spec selected) on the RTL (see :func:`run_one` for the options).

    Rank-4 Q/K/V (a batch ``[B, H, S, D]``) run element after element, each its own program
    selecting from its own Q and K (``selection``: None or one per element): the output is
    ``[B, H, Sq, D]``; counts (cycles, bytes, pairs, jobs, ...) are summed over the elements,
    ``util_mac``, ``util_gather`` and ``refetch_factor`` recomputed from the sums, and
    ``max_partials`` is the largest. Dv != D is refused (the P.V lanes run D wide), and so
    is a pattern the RTL does not run (nsa, for now)."""
    pattern_of(params.spec).require_target("rocc")
    if getattr(q, "ndim", 3) != 4:
        return run_one(params, q, k, v, **options)
    check_options(options.get("latency"), options.get("bandwidth"))
    shape = check_qkv(q, k, v, params.gqa_group_size)
    require_plain("rocc", shape, batch=True)
    b = q.shape[0]
    sels = options.pop("selection", None)
    sels = list(sels) if sels is not None else [None] * b
    if len(sels) != b:
        raise SattnError(f"rocc: {len(sels)} selections given for a batch of B={b}: give one per "
                         "batch element")
    keep = options.pop("keep_dir", None)
    parts = [run_one(params, q[e], k[e], v[e], selection=sels[e],
                     keep_dir=None if keep is None else Path(keep) / f"element{e}", **options)
             for e in range(b)]
    return _batched(params, parts)


def _batched(params: AttentionParams, parts: list[RunResult]) -> RunResult:
    """One result of a batch's element runs (see :func:`run`)."""
    counters: dict[str, Any] = {}
    for key, first in parts[0].counters.items():
        vals = [r.counters[key] for r in parts]
        if key in _SAME or not isinstance(first, (int, float)):
            counters[key] = first
        elif key == "max_partials":
            counters[key] = max(vals)
        elif key not in _RATIOS:
            counters[key] = sum(vals)
    c = counters
    c["util_mac"] = round(c["lane_cycles"] / (c["lanes"] * c["total_cycles"]), 4) if c["total_cycles"] else 0.0
    c["util_gather"] = round(c["gather_active_cycles"] / c["total_cycles"], 4) if c["total_cycles"] else 0.0
    c["refetch_factor"] = round(c["dma_k"] / c["min_kv_bytes"], 4) if c["min_kv_bytes"] else 1.0
    b = len(parts)
    lines = [(f"rocc_batch: B={b} elements, one program each, run one after another; counters "
             f"summed: total_cycles={c['total_cycles']} pairs={c['pairs']} dma_k={c['dma_k']} "
             f"dma_out={c['dma_out']} jobs={c['jobs']} util_mac={c['util_mac']} "
             f"refetch_factor={c['refetch_factor']}")]
    lines += [f"element {e}: {ln}" for e, r in enumerate(parts) for ln in r.lines]
    timings = {key: sum(r.timings.get(key, 0.0) for r in parts) for key in parts[0].timings}
    res = RunResult(backend="rocc", spec=parts[0].spec, output=np.stack([r.output for r in parts]),
                    density=float(np.mean([r.density for r in parts])), counters=counters,
                    timings=timings, lines=lines, params=params)
    res.selections = [r.selection for r in parts]  # type: ignore[attr-defined]
    return res


def run_one(params: AttentionParams, q: np.ndarray, k: np.ndarray, v: np.ndarray,
            **options: Any) -> RunResult:
    """Run one problem (Q ``[H, Sq, D]``) on the RTL. Options:

    ``selection`` a precomputed Selection; ``latency`` (cycles, default 20) and ``bandwidth``
    (bytes/cycle, default 16) of the memory model; ``keep_dir`` keeps the artifacts and memory
    images there; ``timeout`` in seconds; ``max_cycles`` stops a hung simulation.
    """
    latency, bandwidth = check_options(options.get("latency"), options.get("bandwidth"))
    shape = check_qkv(q, k, v, params.gqa_group_size)
    require_plain("rocc", shape)  # Dv = D (the P.V lanes run D wide); batches: run()
    check_values(params, q, k, v)
    t0 = time.perf_counter()
    sel = options.get("selection")
    if sel is None:  # a lowered op's edited records are its selection (sattn.specs.recorded)
        sel = recorded_selection(params, shape)
    if sel is None:
        resources.require(resources.selection(params, shape, "rocc: the host's selection"))
        sel = select_indices(params, shape, q, k)
    resources.require(resources.rocc(params, shape, sel.nnz, latency=latency, bandwidth=bandwidth))
    prog = program_to_run(params, shape, sel)
    ops = prec.prepare(params, q, k, v)
    kk, vv = ops.k, ops.v
    if sel.key_space == "landmarks":
        kk, vv = landmark_operands(params, ops, sel.landmark_assign, sel.num_keys)
    t1 = time.perf_counter()
    exe = simulator()
    t2 = time.perf_counter()
    with scratch_dir(options.get("keep_dir"), "keep_dir (--keep-dir)") as work:
        emit_artifacts(params, shape, sel, work / "indices")
        atomic_write(work / "program.txt", prog.text())
        for name, arr in (("q", ops.q), ("k", kk), ("v", vv)):
            (work / f"{name}.bin").write_bytes(pack_operand(arr, ops.precision))
        out_path = work / "out.bin"
        cmd = [str(exe), "--program", str(work / "program.txt"),
               "--q", str(work / "q.bin"), "--k", str(work / "k.bin"), "--v", str(work / "v.bin"),
               "--out", str(out_path), "--lat", str(latency), "--bw", repr(bandwidth)]
        cmd += ["--max-cycles", str(int(options.get("max_cycles") or _cycle_budget(
            sel.nnz * shape.group, shape, ops.precision, bandwidth, latency)))]
        proc = run_tool(cmd, what="rocc simulation", timeout=options.get("timeout"))
        t3 = time.perf_counter()
        n = shape.heads * shape.seq_len * shape.head_dim
        region = np.fromfile(out_path, dtype="<f4")
        if region.size != prog.layout.o_bytes // 4 or region.size < n:
            raise SattnError(f"rocc simulation wrote {region.size} output values, expected "
                             f"{prog.layout.o_bytes // 4}")
        out = region[:n].reshape(shape.heads, shape.seq_len, shape.head_dim).astype(np.float32)
    stats = finish_output(out, region, prog, shape)
    lines = [ln for ln in proc.stdout.decode().splitlines() if ln.startswith(_LINE_PREFIXES)]
    counters = parse_counters(lines)
    lines.insert(min(2, len(lines)), spec_info(params, shape, sel))
    min_kv = 2 * prog.layout.row_bytes * sum(len(np.unique(g.indices)) for g in sel.groups)
    host = {"partial_records": stats.records, "merged_rows": stats.merged_rows,
            "max_partials": stats.max_partials, "host_merge_flops_model": stats.flops_model,
            "min_kv_bytes": min_kv,
            "refetch_factor": round(counters["dma_k"] / min_kv, 4) if min_kv else 1.0}
    counters.update(host)
    lines.append(f"{_HOST} " + " ".join(f"{k}={v}" for k, v in host.items()))
    return RunResult(
        backend="rocc", spec=sel.spec, output=out, density=sel.density, counters=counters,
        timings={"select_s": t1 - t0, "build_s": t2 - t1, "sim_s": t3 - t2}, lines=lines,
        params=params, selection=sel,
    )


def finish_output(out: np.ndarray, region: np.ndarray, prog: Program, shape: Shape):
    """The host's work after the accelerator (outside its cycles): merge the partial records
    of rows whose keys span key tiles into ``out`` (:mod:`sattn.backends.rocc.merge`) and
    zero the rows no job wrote (a key-tiled head plans no job for a row without keys; its
    output is zeros, as a plain job's empty row). Returns the merge's :class:`MergeStats`."""
    written = np.zeros((shape.heads, shape.seq_len), dtype=bool)
    for regs, _, _ in prog.starts():
        g, _ = prog.kv_row(regs, shape.kv_heads)
        base, count = regs.get(R["ROW_BASE"], 0), regs.get(R["ROW_COUNT"], 0)
        written[g * shape.group: (g + 1) * shape.group, base: base + count] = True
    out[~written] = 0.0
    heads, rows, words = prog.partial_records(shape.kv_heads, shape.group)
    return merge(out, region, heads, rows, words)


def program_to_run(params: AttentionParams, shape: Shape, sel: Selection) -> Program:
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
    return recorded if from_program is not None and same_selection(sel, from_program) else planned


def spec_info(params: AttentionParams, shape: Shape, sel: Selection) -> str:
    """The ``spec_info:`` line: the pattern parameters the run used."""
    d = descriptor(params, shape, sel)
    return (f"spec_info: global_tokens={d['global_tokens']} gqa_group_size={d['gqa_group_size']} "
            f"comp_block_size={d['comp_block_size']} nm=({d['nm_n']},{d['nm_m']}) "
            f"lsh_buckets={d['lsh_buckets']} keep_ratio={float(d['keep_ratio']):g}")


#: The testbench reads --lat as a C int.
MAX_LATENCY = 2**31 - 1


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
    mac = pairs * shape.head_dim * 2 / HW.lanes
    rows = shape.heads * shape.seq_len
    nbytes = (rows + 2 * shape.kv_heads * shape.kv_len) * shape.head_dim * PRECISION_BITS[precision] / 8
    nbytes += rows * shape.head_dim * 4
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
