"""The RoCC command stream of one attention op: what ``sattn-lower-rocc`` records and what the
testbench replays.

A :class:`Program` is the memory layout of the operands plus the exact sequence of custom
instructions the core issues (:mod:`sattn.hw.isa`): the identification reads the plan relies on,
the descriptor registers, and per job the index runs, the row pointers, the job's registers and
``START``. The testbench (``hw/sim/tb_rocc_sattn.cpp``) builds nothing: it loads the operands at
the layout's addresses, issues the commands in order (after each ``START`` it waits for the job
and reads ``STATUS``; a ``GET_REG`` must read the value in its ``rs2``, the value the plan was made
for) and reads the counters.

Planning (:func:`plan`): each query row's selected keys become runs of consecutive keys
(``run = start | len << 16``, a run at most 0xffff keys); rows are packed greedily into jobs
while the job's runs and row pointers fit the index RAMs (``RUN_DEPTH - 3`` runs,
``ROWPTR_DEPTH - 3`` pointers); the first job of each KV head invalidates the K/V scratchpad,
the others keep it (no refetch). Commands are ``(funct, rs1, rs2)`` triples of unsigned 64-bit
words; the file format is in docs/rocc.md.

Key tiles (split-KV, "Flash-Decoding", Dao, Haziza, Massa, Sizov 2023): a KV head with more
keys than the scratchpad holds (``num_keys > KV_ROWS``) is cut along the key axis into tiles of
``KV_ROWS`` keys starting at the head's first selected key, processed tile by tile (key-major).
Per tile only the rows selecting a key in it are planned, their runs relative to the tile's
first key ``t0`` with ``K_BASE``/``V_BASE`` at row ``t0`` and ``NUM_KEYS`` the tile's length;
the first job of a tile invalidates the scratchpad, the others keep it, so every selected K/V
row is fetched once per KV head. A row selecting keys of one tile only writes its output row;
a row spanning tiles writes one partial record ``[o, m, l]`` per tile (``PARTIAL``), packed per
job after the output (:func:`partial_records`), which the host merges
(:mod:`sattn.backends.rocc.merge`).
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from sattn.errors import SattnError
from sattn.hw import isa
from sattn.ir.precisions import TABLE as PRECISION_TABLE

#: Custom-instruction funct codes and register ids by name.
F = {f.name: f.value for f in isa.FUNCTS}
R = {r.name: r.value for r in isa.REGS}
#: Registers a program reads to check that the hardware is the one it was planned for.
PLANNED_FOR = ("CAPS", "RUN_DEPTH", "ROWPTR_DEPTH")
#: Largest key a run can start at and longest run (16-bit fields).
RUN_MAX = 0xFFFF
#: Most query rows a head may have (SEQ_LEN and ROW_BASE are 16-bit registers).
MAX_ROWS = 0xFFFF
#: Bytes the operand bases are aligned to.
ALIGN = 4096
#: Format line of the replay file.
MAGIC = isa.PROGRAM_MAGIC


def f32_bits(x: float) -> int:
    """The IEEE single bits of ``x`` rounded to float32."""
    return struct.unpack("<I", struct.pack("<f", float(np.float32(x))))[0]


@dataclass(frozen=True)
class Layout:
    """Where the operands live in the accelerator's memory, batch-major: Q ``[B, H, S, D]`` and
    OUT ``[B, H, S, Dv]`` fp32 per query head, K ``[B, G, NUM_KEYS, D]`` and V
    ``[B, G, NUM_KEYS, Dv]`` per KV head, each at a 4 KiB-aligned base, in the precision's
    element format. ``kv_bytes`` and ``row_bytes`` are K's (and Q's); ``v_bytes`` and
    ``v_row_bytes`` V's, equal to K's when Dv = D (then they are left out of :meth:`fields`,
    so the record and the replay file of a Dv = D program are what they were before V had a
    width of its own)."""

    q_base: int
    q_bytes: int
    k_base: int
    v_base: int
    kv_bytes: int
    o_base: int
    o_bytes: int
    row_bytes: int  # bytes of one Q/K row
    v_bytes: int = None  # type: ignore[assignment]  (None: kv_bytes)
    v_row_bytes: int = None  # type: ignore[assignment]  (None: row_bytes)

    def __post_init__(self) -> None:
        if self.v_bytes is None:
            object.__setattr__(self, "v_bytes", self.kv_bytes)
        if self.v_row_bytes is None:
            object.__setattr__(self, "v_row_bytes", self.row_bytes)

    @property
    def mem_bytes(self) -> int:
        return self.o_base + self.o_bytes + 64

    def same_sizes(self, other: Layout) -> bool:
        """Whether both lay out operands of the same sizes (bases may differ). ``o_bytes`` is
        left out: the output's size follows from Q's and V's, and partial records (key tiles)
        make the output region of a program longer than the output."""
        return (self.q_bytes, self.kv_bytes, self.row_bytes, self.v_bytes, self.v_row_bytes) == \
            (other.q_bytes, other.kv_bytes, other.row_bytes, other.v_bytes, other.v_row_bytes)

    def fields(self) -> dict[str, int]:
        out = {"q_base": self.q_base, "q_bytes": self.q_bytes, "k_base": self.k_base,
               "v_base": self.v_base, "kv_bytes": self.kv_bytes, "o_base": self.o_base,
               "o_bytes": self.o_bytes, "row_bytes": self.row_bytes}
        if (self.v_bytes, self.v_row_bytes) != (self.kv_bytes, self.row_bytes):
            out.update(v_bytes=self.v_bytes, v_row_bytes=self.v_row_bytes)
        return out


#: Layout fields a record must give, and those it may give (V's sizes when Dv != D).
LAYOUT_REQUIRED = ("q_base", "q_bytes", "k_base", "v_base", "kv_bytes", "o_base", "o_bytes",
                   "row_bytes")
LAYOUT_OPTIONAL = ("v_bytes", "v_row_bytes")


def layout(heads: int, kv_heads: int, seq_len: int, num_keys: int, head_dim: int,
           precision: str, *, head_dim_v: int | None = None, batch: int = 1) -> Layout:
    """The operand layout of one op over a batch of ``batch`` elements (Q at 0x1000, then K,
    V and OUT); ``head_dim_v`` is Dv (None: D)."""
    dv = head_dim if head_dim_v is None else head_dim_v
    row = PRECISION_TABLE[precision].storage_bytes(head_dim)
    vrow = PRECISION_TABLE[precision].storage_bytes(dv)

    def align(x: int) -> int:
        return (x + ALIGN - 1) // ALIGN * ALIGN

    rows, keys = batch * heads * seq_len, batch * kv_heads * num_keys
    q_bytes, kv_bytes, v_bytes, o_bytes = rows * row, keys * row, keys * vrow, rows * dv * 4
    q_base = ALIGN
    k_base = align(q_base + q_bytes)
    v_base = align(k_base + kv_bytes)
    return Layout(q_base, q_bytes, k_base, v_base, kv_bytes, align(v_base + v_bytes), o_bytes, row,
                  v_bytes, vrow)


@dataclass(frozen=True)
class Program:
    """A command stream and the layout it addresses. ``commands`` is ``uint64 [n, 3]``
    (funct, rs1, rs2); ``info`` names the op (printed by the testbench)."""

    layout: Layout
    commands: np.ndarray
    info: dict[str, Any]

    @property
    def jobs(self) -> int:
        return int(np.count_nonzero(self.commands[:, 0] == F["START"]))

    def same_as(self, other: Program) -> bool:
        return self.layout == other.layout and np.array_equal(self.commands, other.commands)

    # ---- the IR record (sattn-lower-rocc) ----
    def record(self) -> dict[str, Any]:
        """The ``rocc_program`` attribute: layout, job count and the commands as one i64 array
        of (funct, rs1, rs2) triples (64-bit words as two's-complement i64)."""
        return {"layout": self.layout.fields(), "jobs": self.jobs,
                "commands": self.commands.reshape(-1).view(np.int64).tolist()}

    @classmethod
    def from_record(cls, rec: Any, info: dict[str, Any]) -> Program:
        """The program of a ``rocc_program`` attribute (edited or not); one-line errors."""
        if not isinstance(rec, dict):
            raise SattnError(f"rocc_program must be a dictionary, got {rec!r}")
        lay = rec.get("layout")
        names = LAYOUT_REQUIRED
        if not isinstance(lay, dict) or not set(names) <= set(lay) \
                or not set(lay) <= set(names + LAYOUT_OPTIONAL) \
                or not all(isinstance(lay[n], int) and lay[n] >= 0 for n in lay):
            raise SattnError(f"rocc_program: layout must give {', '.join(names)} (and, when "
                             f"Dv != D, {', '.join(LAYOUT_OPTIONAL)}) as integers >= 0")
        words = rec.get("commands")
        if not isinstance(words, (tuple, list, np.ndarray)) or len(words) % 3 \
                or not all(isinstance(w, (int, np.integer)) for w in words):
            raise SattnError("rocc_program: commands must be an integer array of "
                             "(funct, rs1, rs2) triples")
        cmds = np.asarray(words, dtype=np.int64).view(np.uint64).reshape(-1, 3)
        prog = cls(Layout(**{n: int(v) for n, v in lay.items()}), cmds, info)
        known = set(F.values())
        bad = [int(f) for f in cmds[:, 0] if int(f) not in known]
        if bad:
            raise SattnError(f"rocc_program: funct {bad[0]} is not an instruction of the ISA")
        return prog

    def starts(self):
        """Each job as the hardware sees it at its ``START``: ``(regs, runs, ptrs)``, the
        register values written so far and the index RAMs' contents (32-bit entries)."""
        regs: dict[int, int] = {}
        runs: list[int] = []
        ptrs: list[int] = []
        lo, hi = np.uint64(0xFFFFFFFF), np.uint64(32)
        for f, a, b in self.commands:
            f = int(f)
            if f == F["IDX_RESET"]:
                runs, ptrs = [], []
            elif f in (F["LOAD_RUNS"], F["LOAD_ROWPTR"]):
                (runs if f == F["LOAD_RUNS"] else ptrs).extend(
                    int(x) for x in (a & lo, a >> hi, b & lo, b >> hi))
            elif f == F["SET_REG"]:
                regs[int(a)] = int(b)
            elif f == F["START"]:
                yield dict(regs), runs, ptrs

    def kv_row(self, regs: dict[int, int], kv_heads: int) -> tuple[int, int]:
        """``(g, t0)``: the KV head and the first key (a key tile's) a job's ``K_BASE`` points
        at; a one-line error when it is not a row of K."""
        head_bytes = self.layout.kv_bytes // max(1, kv_heads)
        kb = regs.get(R["K_BASE"], 0)
        g, off = divmod(kb - self.layout.k_base, head_bytes or 1)
        t0, rem = divmod(off, self.layout.row_bytes or 1)
        if rem or not 0 <= g < kv_heads:
            raise SattnError(f"rocc_program: a job's K_BASE {kb:#x} is not a row of a kv head")
        return g, t0

    def selection(self, kv_heads: int, seq_len: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """The keys each query row attends when the hardware runs this program: per KV head an
        ``(indptr, indices)`` CSR over ``seq_len`` rows, decoded from the jobs' index runs and
        row pointers, offset by the key tile the job's ``K_BASE`` points at. A row no job
        covers attends nothing; a row two plain jobs cover, the last; a row's partial records
        (``PARTIAL`` jobs, one per key tile) are merged, so it attends the union of their keys.
        The inverse of :func:`jobs`; register edits other than the job's rows, K base and
        PARTIAL do not change a selection."""
        plain: list[dict[int, np.ndarray]] = [{} for _ in range(kv_heads)]
        parts: list[dict[int, list[np.ndarray]]] = [{} for _ in range(kv_heads)]
        for regs, runs, ptrs in self.starts():
            g, t0 = self.kv_row(regs, kv_heads)
            base, count = regs.get(R["ROW_BASE"], 0), regs.get(R["ROW_COUNT"], 0)
            n = regs.get(R["N_RUNS"], 0)
            if count + 1 > len(ptrs) or n > len(runs) or base + count > seq_len:
                raise SattnError("rocc_program: a job's ROW_COUNT/N_RUNS exceed what it loaded "
                                 "or the rows of the op")
            partial = bool(regs.get(R["PARTIAL"], 0) & 1)
            for r in range(count):
                job_runs = runs[ptrs[r]: min(ptrs[r + 1], n)]
                keys = (np.concatenate(
                    [np.arange(x & 0xFFFF, (x & 0xFFFF) + (x >> 16)) for x in job_runs]) + t0
                    if job_runs else np.zeros(0, dtype=np.int64))
                if partial:
                    parts[g].setdefault(base + r, []).append(keys)
                else:
                    plain[g][base + r] = keys
        out = []
        for per_row, per_part in zip(plain, parts):
            for r, lists in per_part.items():
                per_row[r] = np.concatenate(lists)
            counts = [len(per_row.get(r, ())) for r in range(seq_len)]
            indptr = np.zeros(seq_len + 1, dtype=np.int64)
            np.cumsum(counts, out=indptr[1:])
            keys = [per_row[r] for r in range(seq_len) if r in per_row]
            out.append((indptr, np.concatenate(keys).astype(np.int64) if keys
                        else np.zeros(0, dtype=np.int64)))
        return out

    def partial_records(self, kv_heads: int, group: int) -> tuple[np.ndarray, ...]:
        """Where the ``PARTIAL`` jobs write their records: ``(head, row, word)`` arrays, one
        entry per record, ``word`` its first fp32 word counted from ``o_base`` (the record is
        ``[o (Dv words), m, l]``). A batch's heads count on over its elements (``kv_heads``
        and the heads returned are B times one element's)."""
        heads, rows, words = [], [], []
        for regs, _, _ in self.starts():
            if not regs.get(R["PARTIAL"], 0) & 1:
                continue
            g, _ = self.kv_row(regs, kv_heads)
            base, count = regs.get(R["ROW_BASE"], 0), regs.get(R["ROW_COUNT"], 0)
            rec = (regs.get(R["HEAD_DIM_V"], 0) or regs.get(R["HEAD_DIM"], 0)) * 4 + 8
            o0 = regs.get(R["O_BASE"], 0) - self.layout.o_base
            hs = regs.get(R["O_HSTRIDE"], 0)
            h, r = np.meshgrid(np.arange(group), np.arange(count), indexing="ij")
            heads.append((g * group + h).ravel())
            rows.append((base + r).ravel())
            words.append(((o0 + h * hs + r * rec) // 4).ravel())
        cat = (lambda x: np.concatenate(x).astype(np.int64) if x else np.zeros(0, np.int64))
        return cat(heads), cat(rows), cat(words)

    # ---- the replay file (hw/sim/tb_rocc_sattn.cpp) ----
    def text(self) -> str:
        """The file the testbench replays: a format line, ``info``, ``layout`` and one
        ``funct rs1 rs2`` line per command (hex words); a ``START`` line says which rows its
        job covers."""
        lay = self.layout
        info = " ".join(f"{k}={v}" for k, v in self.info.items())
        head = [MAGIC, f"info {info}",
                "layout " + " ".join(f"{k}={v}" for k, v in lay.fields().items())]
        start, set_reg = F["START"], F["SET_REG"]
        regs: dict[int, int] = {}
        lines = []
        job = 0
        for f, a, b in self.commands.tolist():
            line = f"{f} {a:#x} {b:#x}"
            if f == set_reg:
                regs[a] = b
            elif f == start:
                rb, rc = regs.get(R["ROW_BASE"], 0), regs.get(R["ROW_COUNT"], 0)
                kvh = self.info.get("kv_heads")
                batch = int(self.info.get("batch", 1))
                if isinstance(kvh, int):
                    kvh *= batch  # a batch's KV heads, element-major
                nk = regs.get(R["NUM_KEYS"], 0)
                head_bytes = lay.kv_bytes // kvh if isinstance(kvh, int) and kvh > 0 \
                    else nk * lay.row_bytes
                g, off = divmod(regs.get(R["K_BASE"], 0) - lay.k_base, head_bytes or 1)
                t0, rem = divmod(off, lay.row_bytes or 1)
                who = f"kv head {g}" if not rem and g >= 0 else f"K at {regs.get(R['K_BASE'], 0):#x}"
                if batch > 1 and not rem and g >= 0 and isinstance(kvh, int):
                    e, g1 = divmod(g, kvh // batch)
                    who = f"element {e}, kv head {g1}"
                if not rem and g >= 0 and (t0 or nk * lay.row_bytes != head_bytes):
                    who += f", keys {t0}..{t0 + nk - 1}"  # a key tile
                line += f" # job {job}: {who}, rows {rb}..{rb + rc - 1}"
                if regs.get(R["PARTIAL"], 0) & 1:
                    line += ", partial"
                job += 1
            lines.append(line)
        return "\n".join(head + lines) + "\n"


def index_runs(indptr: np.ndarray, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(runs, runs_indptr): each row's keys as runs of consecutive keys (``start | len << 16``,
    at most :data:`RUN_MAX` keys a run) and where each row's runs begin."""
    indptr = np.asarray(indptr, dtype=np.int64)
    idx = np.asarray(indices, dtype=np.int64)
    n, rows = len(idx), len(indptr) - 1
    if n and (idx.min() < 0 or idx.max() > RUN_MAX):
        bad = int(np.flatnonzero((idx < 0) | (idx > RUN_MAX))[0])
        raise SattnError(f"index {int(idx[bad])} (entry {bad} of the index table) does not fit "
                         f"the 16-bit index-run format")
    brk = np.ones(n, dtype=bool)
    if n > 1:
        brk[1:] = idx[1:] != idx[:-1] + 1
    row_start = indptr[:-1][np.diff(indptr) > 0]
    brk[row_start] = True
    # a run longer than RUN_MAX keys is cut every RUN_MAX keys
    first = np.flatnonzero(brk)
    run_of = np.cumsum(brk) - 1
    offset = np.arange(n) - first[run_of]
    brk |= (offset > 0) & (offset % RUN_MAX == 0)
    first = np.flatnonzero(brk)
    lengths = np.diff(np.append(first, n))
    runs = (idx[first].astype(np.uint64) | (lengths.astype(np.uint64) << np.uint64(16)))
    per_row = np.zeros(rows, dtype=np.int64)
    if n:
        row_of = np.searchsorted(indptr, first, side="right") - 1
        per_row = np.bincount(row_of, minlength=rows)
    runs_indptr = np.zeros(rows + 1, dtype=np.int64)
    np.cumsum(per_row, out=runs_indptr[1:])
    return runs.astype(np.uint32), runs_indptr


def _load4(funct: int, values: np.ndarray) -> np.ndarray:
    """Commands appending ``values`` (32-bit) four at a time: rs1 = {v1, v0}, rs2 = {v3, v2}."""
    v = np.zeros(-(-len(values) // 4) * 4, dtype=np.uint64)
    v[: len(values)] = values
    v = v.reshape(-1, 4)
    out = np.empty((len(v), 3), dtype=np.uint64)
    out[:, 0] = funct
    out[:, 1] = v[:, 0] | (v[:, 1] << np.uint64(32))
    out[:, 2] = v[:, 2] | (v[:, 3] << np.uint64(32))
    return out


def _sets(pairs: Sequence[tuple[str, int]]) -> list[tuple[int, int, int]]:
    return [(F["SET_REG"], R[name], int(value)) for name, value in pairs]


def setup(*, precision_code: int, head_dim: int, seq_len: int, num_keys: int, group: int,
          lay: Layout, score_scale: float, out_scale: float, head_dim_v: int | None = None,
          hw: isa.HwParams = isa.HW) -> np.ndarray:
    """The commands before the first job: counters cleared, the plan's hardware checked, the
    index RAMs reset and the op's descriptor registers written (``HEAD_DIM_V`` only when
    Dv != D: its reset value 0 means Dv = D)."""
    dv = head_dim if head_dim_v is None else head_dim_v
    expect = {"CAPS": isa.CAPS_VALUE, "RUN_DEPTH": hw.run_depth, "ROWPTR_DEPTH": hw.rowptr_depth}
    cmds = [(F["CLEAR_COUNTERS"], 0, 0)]
    cmds += [(F["GET_REG"], R[name], expect[name]) for name in PLANNED_FOR]
    cmds += [(F["IDX_RESET"], 0, 0)]
    cmds += _sets([("PRECISION", precision_code), ("HEAD_DIM", head_dim), ("SEQ_LEN", seq_len),
                   ("NUM_KEYS", num_keys), ("GROUP", group),
                   ("Q_HSTRIDE", seq_len * lay.row_bytes), ("O_HSTRIDE", seq_len * dv * 4),
                   ("SCORE_SCALE", f32_bits(score_scale)), ("OUT_SCALE", f32_bits(out_scale))]
                  + ([("HEAD_DIM_V", dv)] if dv != head_dim else []))
    return np.array(cmds, dtype=np.uint64).reshape(-1, 3)


def jobs(groups: Sequence[tuple[np.ndarray, np.ndarray]], *, seq_len: int, num_keys: int,
         group: int, head_dim: int, lay: Layout, head_dim_v: int | None = None,
         hw: isa.HwParams = isa.HW) -> np.ndarray:
    """The commands of every job: per KV head ``g`` (its ``(indptr, indices)``; a batch's
    KV heads element-major, ``B * G`` of them), rows packed greedily while their runs and row
    pointers fit the index RAMs; a head of more than ``KV_ROWS`` keys in key tiles (module
    doc), partial records from the 4 KiB boundary after ``lay``'s output."""
    return _jobs(groups, seq_len=seq_len, num_keys=num_keys, group=group, head_dim=head_dim,
                 lay=lay, head_dim_v=head_dim_v, hw=hw)[0]


def _pack(rptr: np.ndarray, r0: int, r1: int, max_runs: int, max_rows: int, g: int,
          hw: isa.HwParams) -> list[tuple[int, int]]:
    """Rows ``[r0, r1)`` cut greedily into jobs ``(a, b)`` whose runs (``rptr``, the rows'
    run pointers) and row pointers fit the index RAMs."""
    out = []
    while r0 < r1:
        fit = int(np.searchsorted(rptr, rptr[r0] + max_runs, side="right")) - 1
        r = min(fit, r0 + max_rows, r1)
        if r == r0:
            raise SattnError(f"row {r0} of kv head {g} has {int(rptr[r0 + 1] - rptr[r0])} index "
                             f"runs: more than the run RAM holds ({hw.run_depth})")
        out.append((r0, r))
        r0 = r
    return out


def _job(runs: np.ndarray, rptr: np.ndarray, a: int, b: int, regs: list[tuple[str, int]],
         invalidate: bool) -> list[np.ndarray]:
    """One job's commands: index RAMs reset and loaded with rows ``[a, b)``, its registers
    (``ROW_BASE``, ``ROW_COUNT``, ``N_RUNS``, then ``regs``) and ``START``."""
    ptr = (rptr[a: b + 1] - rptr[a]).astype(np.uint64)
    return [np.array([(F["IDX_RESET"], 0, 0)], dtype=np.uint64),
            _load4(F["LOAD_RUNS"], runs[rptr[a]: rptr[b]]),
            _load4(F["LOAD_ROWPTR"], ptr),
            np.array(_sets([("ROW_BASE", a), ("ROW_COUNT", b - a), ("N_RUNS", int(ptr[-1]))]
                           + regs) + [(F["START"], int(invalidate), 0)], dtype=np.uint64)]


def _jobs(groups: Sequence[tuple[np.ndarray, np.ndarray]], *, seq_len: int, num_keys: int,
          group: int, head_dim: int, lay: Layout, head_dim_v: int | None = None,
          hw: isa.HwParams = isa.HW) -> tuple[np.ndarray, int]:
    """:func:`jobs` and the bytes of partial records they write after ``lay``'s output."""
    max_runs, max_rows = hw.run_depth - 3, hw.rowptr_depth - 4
    dv = head_dim if head_dim_v is None else head_dim_v
    s, rb, vrb = seq_len, lay.row_bytes, lay.v_row_bytes
    out_row = dv * 4
    rec = (dv + 2) * 4  # a partial record: [o, m, l]
    part0 = (lay.o_base + lay.o_bytes + ALIGN - 1) // ALIGN * ALIGN
    cursor = part0
    out: list[np.ndarray] = []
    for g, (indptr, indices) in enumerate(groups):
        q_base = lay.q_base + g * group * s * rb
        o_base = lay.o_base + g * group * s * out_row
        if num_keys <= hw.kv_rows:  # the head fits the scratchpad: one tile, every row
            runs, rptr = index_runs(indptr, indices)
            for a, b in _pack(rptr, 0, s, max_runs, max_rows, g, hw):
                out += _job(runs, rptr, a, b, [
                    ("Q_BASE", q_base), ("K_BASE", lay.k_base + g * num_keys * rb),
                    ("V_BASE", lay.v_base + g * num_keys * vrb), ("O_BASE", o_base)], a == 0)
            continue
        # key tiles of KV_ROWS keys from the head's first selected key, key-major
        indptr = np.asarray(indptr, dtype=np.int64)
        idx = np.asarray(indices, dtype=np.int64)
        if idx.size == 0:
            continue  # no row attends anything: the host writes zeros
        tiles_r = hw.kv_rows
        first = int(idx.min())
        tile_of = (idx - first) // tiles_r
        counts = np.diff(indptr)
        row_of = np.repeat(np.arange(s), counts)
        full = counts > 0
        t_lo = np.zeros(s, dtype=np.int64)
        t_hi = np.zeros(s, dtype=np.int64)
        t_lo[full] = np.minimum.reduceat(tile_of, indptr[:-1][full])
        t_hi[full] = np.maximum.reduceat(tile_of, indptr[:-1][full])
        spans = full & (t_hi > t_lo)  # rows writing partial records
        for t in range(int(tile_of.max()) + 1):
            t0 = first + t * tiles_r
            n_t = min(tiles_r, num_keys - t0)
            sel = tile_of == t
            per_row = np.bincount(row_of[sel], minlength=s)
            if not per_row.any():
                continue
            ip = np.zeros(s + 1, dtype=np.int64)
            np.cumsum(per_row, out=ip[1:])
            runs, rptr = index_runs(ip, idx[sel] - t0)
            # segments of consecutive rows of one kind: 1 plain, 2 partial (0: not in the tile)
            kind = np.where(per_row > 0, 1 + spans.astype(np.int64), 0)
            cut = np.flatnonzero(np.diff(kind)) + 1
            bounds = np.concatenate([[0], cut, [s]])
            inval = True
            for a0, b0 in itertools.pairwise(bounds):
                k = int(kind[a0])
                if not k:
                    continue
                for a, b in _pack(rptr, int(a0), int(b0), max_runs, max_rows, g, hw):
                    if k == 2:
                        ob, hs = cursor, (b - a) * rec
                        cursor += group * hs
                    else:
                        ob, hs = o_base, s * out_row
                    out += _job(runs, rptr, a, b, [
                        ("Q_BASE", q_base), ("K_BASE", lay.k_base + (g * num_keys + t0) * rb),
                        ("V_BASE", lay.v_base + (g * num_keys + t0) * vrb), ("O_BASE", ob),
                        ("NUM_KEYS", n_t), ("PARTIAL", k - 1), ("O_HSTRIDE", hs)], inval)
                    inval = False
    cmds = np.concatenate(out) if out else np.zeros((0, 3), dtype=np.uint64)
    return cmds, (cursor - part0)


def plan(*, precision: str, heads: int, kv_heads: int, seq_len: int, num_keys: int,
         head_dim: int, score_scale: float, out_scale: float,
         groups: Sequence[tuple[np.ndarray, np.ndarray]], info: dict[str, Any],
         head_dim_v: int | None = None, batch: int = 1, hw: isa.HwParams = isa.HW) -> Program:
    """The whole program of one op over a batch: :func:`setup`, then :func:`jobs` of
    ``groups`` (one ``(indptr, indices)`` per KV head over ``num_keys`` keys, element-major:
    ``batch * kv_heads`` of them). Element ``e``'s KV head ``g`` is the program's KV head
    ``e * kv_heads + g``: its operands sit where the batch-major layout puts them, and its
    first job invalidates the scratchpad like any KV head's."""
    if heads % kv_heads or len(groups) != batch * kv_heads:
        raise SattnError(f"{len(groups)} index tables for {kv_heads} kv heads of {heads} heads"
                         + (f" in a batch of B={batch}" if batch != 1 else ""))
    if seq_len > MAX_ROWS:
        raise SattnError(f"rocc: Sq={seq_len} query rows exceed the accelerator's 16-bit "
                         f"SEQ_LEN/ROW_BASE registers (at most {MAX_ROWS} rows a head)")
    group = heads // kv_heads
    lay = layout(heads, kv_heads, seq_len, num_keys, head_dim, precision,
                 head_dim_v=head_dim_v, batch=batch)
    head = setup(precision_code=PRECISION_TABLE[precision].code, head_dim=head_dim,
                 seq_len=seq_len, num_keys=min(num_keys, hw.kv_rows), group=group, lay=lay,
                 score_scale=score_scale, out_scale=out_scale, head_dim_v=head_dim_v, hw=hw)
    body, part_bytes = _jobs(groups, seq_len=seq_len, num_keys=num_keys, group=group,
                             head_dim=head_dim, lay=lay, head_dim_v=head_dim_v, hw=hw)
    if part_bytes:  # the output region runs on over the partial records (4 KiB aligned)
        part0 = (lay.o_base + lay.o_bytes + ALIGN - 1) // ALIGN * ALIGN
        lay = replace(lay, o_bytes=part0 + part_bytes - lay.o_base)
    return Program(lay, np.concatenate([head, body]), info)


def program_info(spec: str, params: Any, shape: Any, num_keys: int) -> dict[str, Any]:
    """The ``info`` of a pattern's own program (nsa, bsr selected on chip): the spec, precision,
    heads, KV heads, S, D and the key rows per KV head (tokens + compressed), with Dv and the
    batch when they are not D and 1."""
    info = {"spec": spec, "precision": params.precision, "heads": shape.heads,
            "kv_heads": shape.kv_heads, "S": shape.seq_len, "D": shape.head_dim,
            "num_keys": num_keys}
    if shape.head_dim_v != shape.head_dim:
        info["Dv"] = shape.head_dim_v
    if shape.batch != 1:
        info["batch"] = shape.batch
    return info


def recorded_or_planned(rec: Any, planned: Program, key: str, planned_for: Any) -> Program:
    """The program an op runs: its recorded ``rocc_program`` ``rec`` as written (an edited
    register write is what runs), unless it was planned for other parameters (its ``key``
    entry differs from ``planned_for``: an edited call), for operands of another layout, or
    elided; else ``planned``."""
    if not isinstance(rec, dict) or "commands" not in rec or rec.get(key) != planned_for:
        return planned
    recorded = Program.from_record({k: v for k, v in rec.items() if k != key}, planned.info)
    return recorded if recorded.layout == planned.layout else planned


__all__ = ["LAYOUT_OPTIONAL", "LAYOUT_REQUIRED", "MAGIC", "MAX_ROWS", "Layout", "Program", "f32_bits", "index_runs", "jobs",
           "layout", "plan", "program_info", "recorded_or_planned", "setup"]
