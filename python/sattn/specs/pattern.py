"""What one sparsity pattern owns: the :class:`Pattern` interface every consumer reads.

A pattern module (``sattn/specs/<name>.py``) defines its semantics as small functions and
exports ONE object, ``PATTERN``, an instance of a :class:`Pattern` subclass registered in
:mod:`sattn.ir.patterns`. The object answers every question the rest of the product asks
about the pattern, so no consumer branches on pattern names:

=========================  =================================================================
question                   method / attribute (consumer)
=========================  =================================================================
its selection              :meth:`select` (``sattn.specs.select_indices``: every backend)
data-dependent?            :attr:`data_dependent` (selection needs Q/K; GQA shares it)
parameters and defaults    :meth:`resolved` (one definition of "unset", e.g. window 64)
cross-attribute rules      :meth:`verify` (the dialect verifier, once ``spec`` names it)
composite attention        :attr:`composite`, :meth:`attend` (the reference executor calls
                           ``attend`` instead of one softmax over :meth:`select`: nsa)
backends that run it       :attr:`targets`, :meth:`require_target` (the lowerings, runners)
selector forcing rule      :attr:`rule` (``sattn.selector.rules``; rule order = registry order)
disable key                :attr:`disable_key` (``disable=`` option, ``SATTN_DISABLE_<KEY>``)
pair bound / exact count   :meth:`pair_bound`, :meth:`pair_count` (bufferize, tile, resources)
index table (IR record)    :meth:`index_table` (``sattn-materialize-indices``; structural)
selection plan (IR)        :meth:`plan` (data-dependent patterns)
lowered call flag          :attr:`call_flag` (``blg_enabled``, ...)
RVV kernel mode + header   :meth:`rvv_mode`, :meth:`rvv_header`, :meth:`rvv_aux`
RoCC descriptor fields     :meth:`desc_fields` (``indices.desc``)
FlexAttention mask         :meth:`mask_mod` (closed form; ``None``: export the selection)
resource estimate          :meth:`host_scoring`, :meth:`kernel_scoring` (``sattn.resources``)
doc page                   :attr:`doc` (``docs/patterns/<name>.md``)
=========================  =================================================================

The defaults below describe a structural token pattern that runs everywhere through the
generic index-table paths (RVV ``table`` mode, RoCC index runs): a new pattern needs only
:attr:`name` and :meth:`select_group`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from sattn.errors import SattnError
from sattn.ir.schema import AttentionParams, Shape
from sattn.specs.gqa import CHUNK_ELEMENTS, group_operands
from sattn.specs.selection import GroupSelection, Selection

#: Largest index table (indices + indptr entries) written into the IR.
MAX_TABLE_ENTRIES = 65536
#: Largest pair count (bound) for which a structural table or count is built from index lists.
MAX_COUNTED_PAIRS = 1 << 24


@dataclass(frozen=True)
class ForcingRule:
    """A selector rule that forces the pattern when an attribute says so (``rule`` is the
    rule's id in ``Decision.rule``; ``applies``/``why`` read the params)."""

    rule: str
    applies: Callable[[AttentionParams], bool]
    why: Callable[[AttentionParams], str]


def one_kv_head(shape: Shape) -> Shape:
    """``shape`` with one KV head (its group of query heads): what a structural pattern's
    selection, the same for every KV head, is computed on (no copy per head at any H)."""
    return Shape(heads=shape.group, seq_len=shape.seq_len, head_dim=shape.head_dim,
                 group=shape.group, kv_len=shape.kv_len)


class Pattern:
    """One sparsity pattern (see the module docstring for who reads what)."""

    #: The spec name (``spec = "<name>"``).
    name: str = ""
    #: Whether the selection depends on Q and K.
    data_dependent: bool = False
    #: The selector rule that forces the pattern from its attributes, or None.
    rule: ForcingRule | None = None
    #: ``SATTN_DISABLE_<key>`` / ``disable=<name>`` removes it from selection (None: never).
    disable_key: str | None = None
    #: Attribute the lowering sets on the call (``<flag> = true``), or None.
    call_flag: str | None = None
    #: The RVV kernel driver (``sattn.backends.rvv.abi.MODES``).
    rvv_kernel: str = "table"
    #: What the indices name ("tokens", or "landmarks").
    key_space: str = "tokens"
    #: Whether ``block_size`` (and ``comp_block_size``) are the pattern's tuning knobs
    #: (the RVV autotuner tries other block sizes).
    block_tunable: bool = False
    #: Whether :meth:`select_group` places query rows at their positions ``Skv - Sq + i``
    #: itself (``shape.kv_len``); else Sq < Skv cuts the square Skv selection (see select).
    positions: bool = False
    #: Whether the output is more than one softmax over :meth:`select` (e.g. nsa's three
    #: gated branches): the reference then calls :meth:`attend`, :meth:`select` stays what
    #: pictures and counts read, and no FlexAttention mask can express the pattern.
    composite: bool = False
    #: What ``selected_pairs`` and ``density`` count when that is not one key set per row (a
    #: composite pattern's branches each counted, so the density can exceed 1): printed beside
    #: them. None: the selected (row, key) pairs over the dense count.
    pairs_note: str | None = None
    #: The backends that run the pattern (``reference``, ``rvv``, ``rocc``): lowering to
    #: another is refused in one line (:meth:`require_target`).
    targets: tuple[str, ...] = ("reference", "rvv", "rocc")

    @property
    def doc(self) -> str:
        """The pattern's doc page (relative to the repository)."""
        return f"docs/patterns/{self.name}.md"

    # ---- verification ----
    def verify(self, params: AttentionParams) -> None:
        """Cross-attribute rules of the pattern, checked by the dialect verifier when ``spec``
        (or ``force_spec``) names it: a one-line SattnError naming the attribute. Default:
        none."""

    def require_target(self, target: str) -> None:
        """Refuse, in one line, a backend that does not run the pattern (:attr:`targets`)."""
        if target not in self.targets:
            runs = ", ".join(t if t == "reference" else t.upper() for t in self.targets)
            missing = "/".join({"rvv": "RVV", "rocc": "RoCC"}.get(t, t) for t in ("rvv", "rocc")
                               if t not in self.targets)
            raise SattnError(f"spec '{self.name}' runs on the {runs}; {missing}: not yet "
                             f"({target} asked for; run it with --backend reference)")

    # ---- composite attention ----
    def attend(self, params: AttentionParams, shape: Shape, q: np.ndarray, k: np.ndarray,
               v: np.ndarray, gates: Any = None) -> tuple[np.ndarray, int]:
        """(output [H, Sq, Dv] float32, the (row, key) pairs scored summed over KV heads) of
        one batch element ([H, Sq, D] Q, [Hkv, Skv, D|Dv] K/V, inputs checked) for a
        :attr:`composite` pattern; ``gates`` are the pattern's extra inputs. Only composite
        patterns define it."""
        raise NotImplementedError(f"pattern '{self.name}' is not composite: the reference "
                                  "attends its selection")

    # ---- selection ----
    def select_group(self, shape: Shape, params: AttentionParams) -> GroupSelection:
        """The token selection of one KV head of a structural pattern."""
        raise NotImplementedError(f"pattern '{self.name}' defines no select_group")

    def select(self, params: AttentionParams, shape: Shape, q: np.ndarray | None = None,
               k: np.ndarray | None = None) -> Selection:
        """The selected keys of every query of every KV head (structural: one selection
        shared by every KV head, computed once). For a pattern whose :meth:`select_group`
        does not read ``kv_len`` (:attr:`positions`), Sq < Skv is the square selection over
        the Skv positions cut to its last Sq rows (positions ``Skv - Sq ..``)."""
        one = one_kv_head(shape)
        if shape.offset and not self.positions:
            one = Shape(heads=shape.group, seq_len=shape.kv_len, head_dim=shape.head_dim,
                        group=shape.group)
        sel = self.select_group(one, params).tail(shape.seq_len)
        return Selection(spec=self.name, seq_len=shape.seq_len, num_keys=shape.kv_len,
                         group_size=shape.group, groups=(sel,) * shape.kv_heads)

    # ---- counts ----
    def pair_count(self, params: AttentionParams, seq_len: int) -> int | None:
        """Exact selected pairs of one KV head in closed form, or None."""
        return None

    def pair_bound(self, params: AttentionParams, seq_len: int) -> int:
        """An upper bound of the selected pairs of one KV head (no index lists)."""
        return seq_len * seq_len

    def keys_bound(self, params: AttentionParams, seq_len: int) -> int:
        """An upper bound of the keys one query row selects."""
        return seq_len

    # ---- IR records ----
    def index_table(self, params: AttentionParams) -> dict | None:
        """The static index table of ``sattn-materialize-indices`` (None: data-dependent).

        Default: the token CSR of one KV head (``kind = "csr"``), counts always, the lists
        when they fit :data:`MAX_TABLE_ENTRIES` (else ``elided = 1``)."""
        if self.data_dependent:
            return None
        shape = params.shape()
        s = shape.seq_len
        table: dict[str, Any] = {"kind": "csr", "rows": s, "heads": shape.kv_heads,
                                 "causal": params.causal}
        if self.pair_bound(params, s) > MAX_COUNTED_PAIRS:
            return {**table, "counted": 0, "elided": 1}
        g = self.select(params, one_kv_head(shape)).groups[0]
        counts = g.counts()
        if shape.offset:  # the key space (Skv) when it is not the rows'
            table["keys"] = shape.kv_len
        table.update(nnz=g.nnz, min_keys=int(counts.min()) if s else 0,
                     max_keys=int(counts.max()) if s else 0)
        if g.nnz + s + 1 <= MAX_TABLE_ENTRIES:
            table["indptr"] = [int(x) for x in g.indptr]
            table["indices"] = [int(x) for x in g.indices]
        else:
            table["elided"] = 1
        return table

    def plan(self, params: AttentionParams) -> dict | None:
        """What a runtime selects on (data-dependent patterns), else None."""
        return None

    # ---- backends ----
    def rvv_mode(self, params: AttentionParams) -> str:
        """The RVV kernel driver that runs this pattern."""
        return self.rvv_kernel

    def call_attributes(self, params: AttentionParams) -> dict[str, Any]:
        """Attributes the lowered call records beside the source's (resolved defaults a
        kernel reads from the call: the lowered IR is the runner's contract)."""
        return {}

    def rvv_header(self, params: AttentionParams, seq_len: int) -> dict[str, int]:
        """The pattern's RVV header slots (``sattn.backends.rvv.abi.SLOTS`` names), reduced
        to what they mean at ``seq_len``."""
        return {}

    def rvv_aux(self, params: AttentionParams, shape: Shape) -> np.ndarray | None:
        """An auxiliary float32 array the RVV kernel reads (e.g. LSH hyperplanes)."""
        return None

    def desc_fields(self, params: AttentionParams, seq_len: int) -> dict[str, Any]:
        """``indices.desc`` fields whose value this pattern resolves (its defaults)."""
        return {}

    def mask_mod(self, params: AttentionParams, seq_len: int) -> Callable[..., Any] | None:
        """A closed-form FlexAttention ``mask_mod(b, h, q_idx, kv_idx)`` without the causal
        term (index arithmetic only: works on torch tensors and NumPy arrays), or None when
        the mask must come from the selection."""
        return None

    # ---- resource estimates (sattn.resources) ----
    def host_scoring(self, params: AttentionParams, shape: Shape) -> list[tuple[str, float, float]]:
        """(what, host bytes, seconds at the scoring rate's unit work) of the host's scoring."""
        return []

    def kernel_scoring(self, params: AttentionParams, shape: Shape, lanes: int) -> list[tuple[str, float]]:
        """(what, guest instructions) of the RVV kernel's own selection work."""
        return []

    def __repr__(self) -> str:
        return f"<pattern {self.name}>"


def check_data(name: str, shape: Shape, q, k) -> None:
    """Q/K present and of the shape's size (data-dependent patterns)."""
    if q is None or k is None:
        raise SattnError(f"spec '{name}' selects keys from the data: pass q and k")
    want_q = (shape.heads, shape.seq_len, shape.head_dim)
    want_k = (shape.kv_heads, shape.kv_len, shape.head_dim)
    if tuple(q.shape) != want_q:
        raise SattnError(f"Q has shape {tuple(q.shape)}, expected {want_q} for spec '{name}'")
    if tuple(k.shape) != want_k:
        raise SattnError(f"K has shape {tuple(k.shape)}, expected {want_k} for spec '{name}'")


def num_blocks(seq_len: int, block: int) -> int:
    return math.ceil(seq_len / block)




def block_csr_table(params: AttentionParams, sel: Selection, source: str,
                    extra: dict | None = None) -> dict:
    """The ``kind = "block_csr"`` index table of a block selection: query block -> key blocks,
    one table shared by every KV head (``source = "structural"``) or CSR over (head, query
    block) rows (``per_head = 1``); lists elided above :data:`MAX_TABLE_ENTRIES`."""
    shape = params.shape()
    b = sel.block_size or params.effective_block_size(shape.seq_len)
    tables = sel.block_table or ()
    per_head = source != "structural"
    heads = tables if per_head else tables[:1]
    indptr = [0]
    indices: list = []
    for t in heads:
        base = indptr[-1]
        indptr.extend(base + int(x) for x in t.indptr[1:])
        indices.append(t.indices)
    flat = np.concatenate(indices) if indices else np.zeros(0, dtype=np.int32)
    nb = num_blocks(shape.seq_len, b)
    table: dict[str, Any] = {
        "kind": "block_csr",
        "source": source,
        "block_size": b,
        "q_blocks": nb,
        "k_blocks": nb,
        "heads": shape.kv_heads,
        "per_head": int(per_head),
        "nnz_blocks": len(flat),
        "nnz": int(sel.groups[0].nnz) if not per_head else int(sel.nnz),
    }
    table.update(extra or {})
    if len(flat) + len(indptr) <= MAX_TABLE_ENTRIES:
        table["indptr"] = [int(x) for x in indptr]
        table["indices"] = [int(x) for x in flat]
    else:
        table["elided"] = 1
    return table





class PerGroupPattern(Pattern):
    """A data-dependent pattern that selects each KV head's keys from its group score
    ``Qsum . K`` (:mod:`sattn.specs.gqa`): a subclass defines :meth:`select_scored`."""

    data_dependent = True
    #: The precision of the group scores (sattn.specs.gqa): what the RVV kernel scores in too.
    score_dtype: type = np.float64

    def select_scored(self, shape: Shape, params: AttentionParams, qsum: np.ndarray,
                      k: np.ndarray) -> GroupSelection:
        """Selection of one KV head from Qsum [Sq, D] and K [Skv, D] (in score_dtype)."""
        raise NotImplementedError

    def select(self, params: AttentionParams, shape: Shape, q=None, k=None) -> Selection:
        check_data(self.name, shape, q, k)
        qsum, ks = group_operands(params, shape, q, k, self.score_dtype)
        groups = tuple(self.select_scored(shape, params, qsum[i], ks[i])
                       for i in range(shape.kv_heads))
        return Selection(spec=self.name, seq_len=shape.seq_len, num_keys=shape.kv_len,
                         group_size=shape.group, groups=groups)

    def host_scoring(self, params: AttentionParams, shape: Shape) -> list[tuple[str, float, float]]:
        s, d, g, h = shape.seq_len, shape.head_dim, shape.kv_heads, shape.heads
        return [("selection scores", 8.0 * (h + g) * s * d + 6 * 8.0 * CHUNK_ELEMENTS,
                 g * float(s) * s * (d + 16))]

    def kernel_scoring(self, params: AttentionParams, shape: Shape, lanes: int) -> list[tuple[str, float]]:
        s, d, g = shape.seq_len, shape.head_dim, shape.kv_heads
        return [("in-kernel selection scores",
                 g * float(s) * s * (20 + 2 * -(-2 * d // lanes)) * shape.group)]


__all__ = ["MAX_COUNTED_PAIRS", "MAX_TABLE_ENTRIES", "ForcingRule", "Pattern", "PerGroupPattern",
           "block_csr_table", "check_data", "num_blocks", "one_kv_head"]
