"""Resource budgets: estimate the memory and time of a run before starting it, and refuse a run
that would not fit the machine with one line naming what drives the estimate.

Every backend (the NumPy reference, the RVV kernels under qemu, the RoCC RTL under Verilator),
the synthetic inputs, ``.npy`` loading and the selection on the host call :func:`require` with
an :class:`Estimate` built here, before allocating anything large or starting a tool. The
estimates are upper bounds of what the code does (documented term by term below and in
``docs/limits.md``); they need to be right within a small factor, not exact.

Limits
    memory  ``SAFETY`` (1/2) of ``MemAvailable`` (``/proc/meminfo``), and at most
            ``0.75 x`` the address space the process may still map (``RLIMIT_AS``, e.g. under
            ``ulimit -v`` or ``prlimit --as``). ``SATTN_MEM_LIMIT`` (bytes, suffix K/M/G/T)
            overrides the MemAvailable part.
    time    ``SATTN_TIME_LIMIT`` seconds per run (default :data:`DEFAULT_TIME_LIMIT`, one hour).

Rates (measured on this machine kind -- 2 cores, qemu-user 7.2, Verilator 5.006 -- and taken
about 2-4x below the measured speed so that an estimate errs on the slow side):

=====================  ==========================  ==========================================
work                   rate used                   measured
=====================  ==========================  ==========================================
reference, structural  1e9 pair x D / s            3.7-9.6e9 (band, bsr blocks, dense)
reference, index lists 2.5e8 pair x D / s          0.6-1.1e9 (ring, block_local_global, ...)
selection scoring      2.5e8 multiply-adds / s     ~1e9 (float64 top-k / N:M / k-means)
qemu-riscv64           2e6 instructions / s        2-16e6 (vector-heavy kernels slowest)
Verilator RoCC model   1.5e5 cycles / s            1.8-6.2e5
=====================  ==========================  ==========================================
"""

from __future__ import annotations

import math
import os
import resource
from dataclasses import dataclass, field

from sattn.errors import SattnError
from sattn.hw.isa import HW
from sattn.ir.precisions import BITS as PRECISION_BITS
from sattn.ir.precisions import ELEMENT_BYTES
from sattn.ir.schema import AttentionParams, Shape
from sattn.specs import pattern_of

#: Share of MemAvailable a run may use (the rest is for everything else on the machine).
SAFETY = 0.5
#: Share of the remaining address space (RLIMIT_AS) a run may use (thread stacks, allocator
#: arenas and libraries take the rest).
AS_SHARE = 0.75
#: Default time limit of one run, in seconds (``SATTN_TIME_LIMIT``).
DEFAULT_TIME_LIMIT = 3600.0

#: Rates (see the module docstring).
REF_STRUCTURAL_RATE = 1e9
REF_LIST_RATE = 2.5e8
SCORING_RATE = 2.5e8
QEMU_RATE = 2e6
SIM_RATE = 1.5e5

#: Address space qemu-riscv64 needs beyond the guest's memory (its code buffer, libraries).
QEMU_OVERHEAD = 768 << 20
#: Working set of the reference's tiles: TILE_ELEMENTS float32 scores, a bias and the
#: exponentials per worker thread, and the threads' stacks and allocator arenas.
REF_TILE_BYTES = 96 << 20


@dataclass
class Estimate:
    """What one run needs: memory (bytes, of this process and of a tool it starts) and time
    (seconds), each as named terms so that a refusal can say what drives it."""

    what: str  # "reference", "rvv (qemu-riscv64)", "selection", ...
    shape_words: str  # "S=100000 (tile_S), D=32 (tile_D), H=1"
    host: dict[str, float] = field(default_factory=dict)  # term -> bytes in this process
    child: dict[str, float] = field(default_factory=dict)  # term -> bytes in the tool
    seconds: dict[str, float] = field(default_factory=dict)  # term -> seconds

    def add(self, term: str, *, host: float = 0, child: float = 0, seconds: float = 0) -> None:
        for book, x in ((self.host, host), (self.child, child), (self.seconds, seconds)):
            if x:
                book[term] = book.get(term, 0.0) + float(x)

    @property
    def host_bytes(self) -> float:
        return sum(self.host.values())

    @property
    def child_bytes(self) -> float:
        return sum(self.child.values())

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds.values())


def _parse_bytes(text: str, var: str) -> float:
    units = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    unit = t[-1:] if t[-1:] in units and t[-1:] else ""
    try:
        value = float(t[: len(t) - len(unit)]) * units[unit]
    except ValueError:
        value = -1.0
    if not (math.isfinite(value) and value > 0):
        raise SattnError(f"environment variable {var} expects a size in bytes (e.g. 4G), got {text!r}")
    return value


def mem_available() -> float:
    """MemAvailable of /proc/meminfo in bytes (else the physical memory)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError):
        return float(1 << 34)


def _vm_size() -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    return 0.0


def _as_limit() -> float | None:
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    return None if soft == resource.RLIM_INFINITY else float(soft)


def memory_limits() -> tuple[float, float, str]:
    """(bytes this process may add, bytes a started tool may use, how the limit was derived)."""
    env = os.environ.get("SATTN_MEM_LIMIT", "").strip()
    if env:
        base, why = _parse_bytes(env, "SATTN_MEM_LIMIT"), "SATTN_MEM_LIMIT"
    else:
        base, why = SAFETY * mem_available(), f"{SAFETY:g} x MemAvailable"
    host = child = base
    limit = _as_limit()
    if limit is not None:
        host_as = AS_SHARE * max(0.0, limit - _vm_size())
        child_as = AS_SHARE * limit
        if host_as < host:
            host, why = host_as, f"{AS_SHARE:g} x the address space left under RLIMIT_AS"
        child = min(child, child_as)
    return host, child, why


def time_limit() -> float:
    """Seconds one run may take (``SATTN_TIME_LIMIT``, default one hour)."""
    env = os.environ.get("SATTN_TIME_LIMIT", "").strip()
    if not env:
        return DEFAULT_TIME_LIMIT
    try:
        value = float(env)
    except ValueError:
        value = -1.0
    if not (math.isfinite(value) and value > 0):
        raise SattnError(f"environment variable SATTN_TIME_LIMIT expects seconds > 0, got {env!r}")
    return value


def fmt_bytes(n: float) -> str:
    for unit, size in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n:.0f} B"


def fmt_seconds(s: float) -> str:
    if s >= 86400 * 2:
        return f"{s / 86400:.3g} days"
    if s >= 7200:
        return f"{s / 3600:.3g} h"
    return f"{s:.0f} s" if s >= 100 else f"{s:.3g} s"


def require(est: Estimate) -> Estimate:
    """Refuse ``est`` with one SattnError line when it would not fit (see the module doc):
    the biggest term, the estimate and the limit are named. Returns ``est`` otherwise."""
    host_lim, child_lim, why = memory_limits()
    for book, need, lim, where in ((est.host, est.host_bytes, host_lim, ""),
                                   (est.child, est.child_bytes, child_lim, " in the tool")):
        if need > lim:
            term = max(book, key=book.__getitem__)
            raise SattnError(
                f"{est.what}: {est.shape_words}: {term} needs an estimated {fmt_bytes(need)} of "
                f"memory{where}, more than the {fmt_bytes(lim)} this machine allows ({why}; "
                "see docs/limits.md)")
    tlim = time_limit()
    if est.total_seconds > tlim:
        term = max(est.seconds, key=est.seconds.__getitem__)
        raise SattnError(
            f"{est.what}: {est.shape_words}: {term} would take an estimated "
            f"{fmt_seconds(est.total_seconds)}, more than the {fmt_seconds(tlim)} limit "
            "(SATTN_TIME_LIMIT; see docs/limits.md)")
    return est


def fits(est: Estimate, seconds: float | None = None) -> bool:
    """Whether ``est`` fits the limits (and takes at most ``seconds`` when given): for work a
    tool may leave out, such as a table computed at compile time, instead of refusing."""
    host_lim, child_lim, _ = memory_limits()
    tlim = time_limit() if seconds is None else min(seconds, time_limit())
    return (est.host_bytes <= host_lim and est.child_bytes <= child_lim
            and est.total_seconds <= tlim)


# ---------------------------------------------------------------------------------------------
# What drives the sizes
# ---------------------------------------------------------------------------------------------

def shape_words(params: AttentionParams | None, shape: Shape) -> str:
    """``S=.. (attr), D=.. (attr), H=..``: the shape and the attribute each size came from."""

    def src(value: int, *names: str) -> str:
        if params is not None:
            for n in names:
                if getattr(params, n) == value:
                    return f" ({n})"
            if all(getattr(params, n) is None for n in names):
                return " (default)"
        return " (inputs)"

    words = [f"S={shape.seq_len}{src(shape.seq_len, 'seq_len', 'tile_S')}",
             f"D={shape.head_dim}{src(shape.head_dim, 'head_dim', 'tile_D')}"]
    words.append(f"H={shape.heads}" + (f" (gqa_group_size={shape.group})" if shape.group > 1 else ""))
    if shape.head_dim_v != shape.head_dim:
        words.append(f"Dv={shape.head_dim_v}")
    if shape.batch != 1:
        words.insert(0, f"B={shape.batch}")
    return ", ".join(words)


def _spec_term(params: AttentionParams, pairs: float) -> str:
    return f"spec={params.spec} ({pairs:.3g} selected pairs)"


def pair_bound(params: AttentionParams, shape: Shape) -> float:
    """Selected (query, key) pairs summed over KV heads: the pattern's exact count where it
    has a closed form (dense, sliding windows), its bound otherwise (as float: no overflow at
    any shape). Sq < Skv: Sq rows of at most the keys a row selects at Skv."""
    pattern = pattern_of(params.spec)
    s = shape.seq_len
    if shape.offset:
        return float(shape.kv_heads) * s * min(shape.kv_len, pattern.keys_bound(params, shape.kv_len))
    n = pattern.pair_count(params, s)
    return float(shape.kv_heads) * (pattern.pair_bound(params, s) if n is None else n)


def _scoring(est: Estimate, params: AttentionParams, shape: Shape) -> None:
    """The host's selection work and memory for a data-dependent pattern (float64 scores)."""
    for what, host, work in pattern_of(params.spec).host_scoring(params, shape):
        est.add(what, host=host, seconds=work / SCORING_RATE)


def selection(params: AttentionParams, shape: Shape, what: str = "selection",
              token_lists: bool = True) -> Estimate:
    """The host's :func:`sattn.specs.select_indices` (scoring and index lists)."""
    est = Estimate(what, shape_words(params, shape))
    _scoring(est, params, shape)
    est.add("the per-KV-head selections", host=48.0 * shape.kv_heads)
    if token_lists:
        pairs = pair_bound(params, shape)
        if not pattern_of(params.spec).data_dependent:
            pairs /= shape.kv_heads  # structural: one selection shared by every KV head
        # int32 indices plus the int64 / padded temporaries the patterns build them from
        est.add(_spec_term(params, pairs) + " as index lists", host=24.0 * pairs,
                seconds=pairs / (4 * REF_LIST_RATE))
    return est


def _inputs_bytes(shape: Shape) -> float:
    """float32 Q [B,H,Sq,D], K [B,Hkv,Skv,D], V [B,Hkv,Skv,Dv] and the output [B,H,Sq,Dv]."""
    d, dv = shape.head_dim, shape.head_dim_v
    return 4.0 * shape.batch * (shape.heads * shape.seq_len + shape.kv_heads * shape.kv_len) * (d + dv)


def inputs(shape: Shape, params: AttentionParams | None = None, *, synthetic: bool) -> Estimate:
    """Q, K, V (float32) and the output; the synthetic data is computed in float64."""
    est = Estimate("inputs", shape_words(params, shape))
    # float64 temporaries of one batch element (the synthetic data is made element by element)
    n = (float(shape.heads * shape.seq_len + shape.kv_heads * shape.kv_len) * shape.head_dim
         + float(shape.kv_heads * shape.kv_len) * shape.head_dim_v)
    est.add("the input tensors Q, K, V and the output", host=_inputs_bytes(shape))
    if synthetic:
        est.add("the input tensors Q, K, V and the output", host=8.0 * n + 16.0 * shape.seq_len * shape.head_dim,
                seconds=n / 1e8)
    return est


def reference(params: AttentionParams, shape: Shape, pairs: float | None = None) -> Estimate:
    """The NumPy reference (:func:`sattn.reference.executor.run`) with the selection it makes
    (``pairs``: of one batch element; the elements run one after the other, so only the
    tensors grow with B)."""
    pattern = pattern_of(params.spec)
    est = Estimate("reference", shape_words(params, shape))
    tables = hasattr(pattern, "block_tables")  # attended from block tables (no token rows)
    band = getattr(pattern, "band", None)
    structural = tables or (band is not None and band(params, shape.seq_len) is not None)
    if not structural:
        est = selection(params, shape, "reference")
    elif tables:
        _scoring(est, params, shape)
    est.add("the input tensors Q, K, V and the output", host=_inputs_bytes(shape))
    if params.precision != "fp32":  # the precision's operands are copies
        est.add("the precision's operand copies",
                host=4.0 * (shape.heads * shape.seq_len + 2 * shape.kv_heads * shape.kv_len)
                * shape.head_dim)
    est.add("tile working set", host=REF_TILE_BYTES)
    pairs = pair_bound(params, shape) if pairs is None else float(pairs)
    qpairs = pairs * shape.group * shape.batch  # batch elements run one after the other
    rate = REF_STRUCTURAL_RATE if structural else REF_LIST_RATE
    est.add(_spec_term(params, qpairs),
            seconds=qpairs * (shape.head_dim + shape.head_dim_v) / 2 / rate)
    return est


def rvv(params: AttentionParams, shape: Shape, pairs: float, *, vlen: int = 256, lmul: int = 8,
        table_nnz: float = 0.0, block_sums: int = 0) -> Estimate:
    """The RVV kernel under qemu: its input file on the host, the guest's memory (input file,
    output, the kernel's arena) and the instructions (see the module doc for the rate).
    ``block_sums``: bsr's K block sums of a KV cache (their block size, 0 for none): fp32
    ``[Hkv, ceil(Skv / B), D]`` in the file, built on the host from float64 copies of K."""
    s, d, g, h = shape.seq_len, shape.head_dim, shape.kv_heads, shape.heads
    n = shape.kv_len  # Q and the output have Sq rows, K/V and the kernel's key buffers Skv
    est = Estimate("rvv (qemu-riscv64)", shape_words(params, shape))
    per_elem = ELEMENT_BYTES.get(params.precision, 4.0)
    blob = per_elem * (h * s + 2 * g * n) * d + 8.0 * g * (s + 1) + 4.0 * table_nnz + 4096
    if block_sums:
        blob += 4.0 * g * -(-n // block_sums) * d
        est.add("the K block sums' float64 copies of K (host)", host=2 * 8.0 * g * (n + block_sums) * d)
    pattern = pattern_of(params.spec)
    nl = pattern.keys_bound(params, n) if pattern.key_space == "landmarks" else 0
    arena = 16.0 * g * n * d + 256.0 * n + (d + 64) * 4096.0 + 64.0 * nl * d + (1 << 22)
    est.add("the kernel's input file", host=2 * blob)
    est.add("the guest's memory (input, output, kernel arena)",
            child=2 * blob + 4.0 * h * s * d + arena + QEMU_OVERHEAD)
    lanes = max(1, vlen // 32 * lmul)
    strips = -(-d // lanes)
    qpairs = pairs * shape.group
    est.add(_spec_term(params, qpairs), seconds=qpairs * (6 + 2 * strips) / QEMU_RATE)
    for what, instructions in pattern.kernel_scoring(params, shape, lanes):
        est.add(what, seconds=instructions / QEMU_RATE)
    return est


def rocc(params: AttentionParams, shape: Shape, pairs: float, *, latency: int,
         bandwidth: float) -> Estimate:
    """The RoCC RTL under Verilator: the index table as text on the host and in the
    simulator, and the cycles (the testbench's MAC, row and memory terms) at the model's rate."""
    # a batch is one program: B elements' query rows and KV heads; V and OUT rows are Dv wide
    s, d, dv = shape.seq_len, shape.head_dim, shape.head_dim_v
    g, h = shape.batch * shape.kv_heads, shape.batch * shape.heads
    est = Estimate("rocc (Verilator)", shape_words(params, shape))
    qpairs = pairs * shape.group
    est.add("the index table indices.txt", host=100.0 * pairs, child=24.0 * pairs)
    n = shape.kv_len
    est.add("the memory images", host=8.0 * (h * s * d + g * n * (d + dv)),
            child=8.0 * (h * s * (d + dv) + g * n * (d + dv)))
    bits = PRECISION_BITS.get(params.precision, 32)
    rows = float(h) * s
    nbytes = (rows * d + g * n * (d + dv)) * bits / 8 + rows * dv * 4
    est.add(_spec_term(params, qpairs) + " on the MAC array",
            seconds=qpairs * (d + dv) / HW.lanes / SIM_RATE)
    est.add(f"memory latency={latency} cycles per row", seconds=rows * (8 + latency) / SIM_RATE)
    est.add(f"memory bandwidth={bandwidth:g} bytes/cycle", seconds=nbytes / bandwidth / SIM_RATE)
    return est
