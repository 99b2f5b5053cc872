"""The RoCC command stream ``sattn-lower-to-rocc`` records on each ``sattn.rocc_call``.

For a static pattern the record is the whole program (:mod:`sattn.hw.program`: the operand
layout, the identification reads, the descriptor registers, and per job the index runs, row
pointers, job registers and ``START``), planned from the op's selection -- its recorded
``index_table`` when that was edited (:mod:`sattn.specs.recorded`), else the pattern's own::

    rocc_program = {layout = {q_base = 4096 : i64, q_bytes = 512 : i64, ...}, jobs = 1 : i64,
                    commands = array<i64: 7, 0, 0, 1, 33, 4095, ...>}

``commands`` holds (funct, rs1, rs2) triples; the RoCC backend runs exactly these (the testbench
replays them). An op of B > 1 batch elements records one program for the whole batch (each
element's jobs in turn, over the batch-major layout; a structural selection serves every
element). A data-dependent pattern selects on Q/K at run time: its record says so
(``{host_selected = 1}``) and the backend plans the jobs of the selection its
``selection_plan`` yields with the same planner. A composite pattern (nsa) and bsr select on
chip: their programs (:mod:`sattn.transforms.rocc_nsa`, :mod:`sattn.transforms.rocc_bsr`)
depend on the shape only and are recorded whole, with the parameters they were planned for
(``nsa = {...}``, ``bsr = {...}``). A program of more than
:data:`MAX_PROGRAM_COMMANDS` commands (or over more than :data:`MAX_PLANNED_PAIRS` pairs) is
elided like a large index table (``{elided = 1, pairs = N}``) and planned at run time from the
same selection. A call that already has a record keeps it (lowering again changes nothing; an
edited program stays edited).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from xdsl.dialects.builtin import ModuleOp

from sattn.errors import SattnError
from sattn.hw.program import Program, plan
from sattn.ir.attrs import from_py
from sattn.ir.dialect import RoccCallOp
from sattn.ir.schema import AttentionParams, Shape
from sattn.precision import score_scales
from sattn.selector import Hints
from sattn.specs import pattern_of, select_indices
from sattn.specs.pattern import MAX_TABLE_ENTRIES
from sattn.specs.recorded import recorded_selection
from sattn.specs.selection import Selection
from sattn.transforms import rocc_bsr, rocc_nsa
from sattn.transforms.common import ContentCache, attention_ops, selected_params

#: Largest recorded program: as many i64 words as the largest recorded index table.
MAX_PROGRAM_COMMANDS = MAX_TABLE_ENTRIES // 3
#: Largest selection planned at compile time.
MAX_PLANNED_PAIRS = 1 << 22


def record_programs(module: ModuleOp, hints: Hints) -> None:
    """Add ``rocc_program`` to every RoCC call of ``module`` that has none (cached by content)."""
    for call in attention_ops(module, (RoccCallOp,)):
        if "rocc_program" not in call.attributes:
            _CACHE.apply(call, (hints,), lambda o: {"rocc_program": from_py(
                program_record(selected_params(o, hints)), "rocc_program")})


_CACHE = ContentCache("rocc-program")


def program_of(params: AttentionParams, shape: Shape,
               sel: Selection | Sequence[Selection]) -> Program:
    """The program of ``params`` running the selection ``sel`` on operands of ``shape``: one
    program for the whole batch, ``sel`` one selection per batch element (or one serving
    every element: a structural selection)."""
    sels = _per_element(sel, shape.batch)
    score, out = score_scales(params, shape.head_dim)
    return plan(precision=params.precision, heads=shape.heads, kv_heads=shape.kv_heads,
                seq_len=shape.seq_len, num_keys=sels[0].num_keys, head_dim=shape.head_dim,
                head_dim_v=shape.head_dim_v, batch=shape.batch, score_scale=score, out_scale=out,
                groups=[(g.indptr, g.indices) for s in sels for g in s.groups],
                info=info_of(params, shape, sels[0]))


def _per_element(sel: Selection | Sequence[Selection], batch: int) -> list[Selection]:
    sels = [sel] * batch if isinstance(sel, Selection) else list(sel)
    if len(sels) != batch:
        raise SattnError(f"rocc: {len(sels)} selections given for a batch of B={batch}: give "
                         "one per batch element")
    if len({s.num_keys for s in sels}) != 1:
        raise SattnError("rocc: the batch elements' selections have different key spaces "
                         f"({sorted({s.num_keys for s in sels})} keys): one program runs one "
                         "key count")
    return sels


def info_of(params: AttentionParams, shape: Shape, sel: Selection) -> dict[str, Any]:
    """What the testbench prints about the op it ran (``batch`` and ``Dv`` only when they are
    not 1 and D: the line of a plain op is what it always was)."""
    info: dict[str, Any] = {"spec": sel.spec, "precision": params.precision,
                            "heads": shape.heads, "kv_heads": shape.kv_heads,
                            "S": shape.seq_len, "D": shape.head_dim, "num_keys": sel.num_keys}
    if shape.head_dim_v != shape.head_dim:
        info["Dv"] = shape.head_dim_v
    if shape.batch != 1:
        info["batch"] = shape.batch
    return info


def program_record(p: AttentionParams) -> dict[str, Any]:
    """The ``rocc_program`` attribute of params whose spec is selected (plain Python). A
    composite pattern (nsa) selects on chip: its program depends on the shape only and is
    recorded whole (:mod:`sattn.transforms.rocc_nsa`), unless too long; so does bsr
    (:mod:`sattn.transforms.rocc_bsr`)."""
    if pattern_of(p.spec).composite:
        prog = rocc_nsa.program(p, p.shape())
        if len(prog.commands) > MAX_PROGRAM_COMMANDS:
            return {"elided": 1, "command_count": len(prog.commands)}
        return {**prog.record(), "nsa": rocc_nsa.planned_for(p)}
    if rocc_bsr.applies(p):  # bsr selects its blocks on chip too
        shape = p.shape()
        # at least 26 commands per (element, KV head, query block): too long to record is left
        # to the run (planned there for its operands), without planning it here
        blocks = -(-shape.kv_len // p.effective_block_size(shape.kv_len))
        if shape.batch * shape.kv_heads * blocks * 26 > MAX_PROGRAM_COMMANDS:
            return {"elided": 1, "command_count_estimate": shape.batch * shape.kv_heads * blocks * 26}
        try:
            prog = rocc_bsr.program(p, shape)
        except SattnError as e:  # refused at run time, for the operands it is given
            return {"elided": 1, "refused": str(e)}
        if len(prog.commands) > MAX_PROGRAM_COMMANDS:
            return {"elided": 1, "command_count": len(prog.commands)}
        return {**prog.record(), "bsr": rocc_bsr.planned_for(p, shape)}
    if pattern_of(p.spec).data_dependent:
        return {"host_selected": 1}
    shape = p.shape()
    table = p.extra.get("index_table") or pattern_of(p.spec).index_table(p)
    pairs = table.get("nnz") if isinstance(table, dict) and table.get("counted", 1) else None
    # the row pointers alone take (S + 1) / 4 commands per KV head of every batch element
    too_many_rows = shape.batch * shape.kv_heads * (shape.seq_len + 1) // 4 > MAX_PROGRAM_COMMANDS
    # the batch's program plans every element's pairs
    if not isinstance(pairs, int) or pairs * shape.batch > MAX_PLANNED_PAIRS or too_many_rows:
        return {"elided": 1, **({"pairs": pairs} if isinstance(pairs, int) else {})}
    sel = recorded_selection(p, shape.element) or select_indices(p, shape.element)
    prog = program_of(p, shape, sel)
    if len(prog.commands) > MAX_PROGRAM_COMMANDS:
        return {"elided": 1, "pairs": pairs, "command_count": len(prog.commands)}
    return prog.record()
