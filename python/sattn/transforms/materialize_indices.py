"""``sattn-materialize-indices``: attach the index table or the selection plan of each op.

Static patterns get their index table, computed by :func:`sattn.specs.select_indices` (the one
source of truth):

- ``sliding_window``: the offset stencil ``j - i = dilation * t`` plus the exact pair count::

      index_table = {kind = "stencil", offsets = array<i32: -2, -1, 0, 1, 2>, wrap = 0,
                     causal = 0, rows = 128, heads = 1, nnz = 634, min_keys = 3, max_keys = 5}

- ``block_local_global`` (and ``bsr``, see below): the block CSR (query block -> key blocks)::

      index_table = {kind = "block_csr", block_size = 64, q_blocks = 2, k_blocks = 2,
                     indptr = array<i32: 0, 2, 4>, indices = array<i32: 0, 1, 0, 1>, ...}

- ``dense``: ``{kind = "dense", ...}`` (no table needed).

Data-dependent patterns (``nm_structured``, ``topk_per_query``, ``lsh``, ``landmark``, and
``bsr``, whose kept blocks depend on block scores) get a ``selection_plan`` saying what the
runtime selects on, e.g. ``{kind = "topk", k = 8, score = "group_qk", ...}``.

``bsr`` gets both: its plan, and the block table its plan yields on the deterministic
synthetic data the tools use when no tensors are given (``source = "synthetic"``). A runtime
given real tensors re-selects by the plan; the table is then only the default layout.

Tables are elided (``elided = true``, counts kept) above :data:`MAX_TABLE_ENTRIES` entries, and
the synthetic bsr table is not computed above :data:`MAX_SYNTHETIC_ELEMENTS` input elements
or when its estimated selection (:mod:`sattn.resources`) would not fit or take more than
:data:`MAX_TABLE_SECONDS`, so huge shapes stay cheap to compile. Nothing here is an enumeration of pairs: the window and
its counts come from the clamped window in closed form (:func:`sattn.specs.sliding_window.clamped`,
``window_size = 2**62`` is the whole sequence), a stencil wider than :data:`MAX_TABLE_ENTRIES`
offsets is described by its range (``offset_min``, ``offset_max``, ``offset_step``), dense
counts are ``S^2`` (``S(S+1)/2`` causal), and a block table (or a causal ring's counts) is built
only when the pattern selects at most :data:`MAX_COUNTED_PAIRS` pairs; above that the counts
are left out (``counted = 0``) and ``sattn-bufferize`` uses the pattern's bound. Results are
cached by op content.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sattn.ir.attrs import UNIT, from_py, int_array
from sattn.ir.dialect import SattnOp
from sattn.ir.schema import AttentionParams
from sattn.selector import Hints
from sattn.transforms.common import AnnotatePass, selected_params

#: Largest index table (indices + indptr entries) written into the IR.
MAX_TABLE_ENTRIES = 65536
#: Largest H*S*D for which the synthetic-data bsr table is computed at compile time.
MAX_SYNTHETIC_ELEMENTS = 1 << 22
#: Largest pair count (bound) for which a structural table or count is built from index lists.
MAX_COUNTED_PAIRS = 1 << 24
#: Longest estimated time (s) of the synthetic bsr table's selection at compile time.
MAX_TABLE_SECONDS = 2.0


@dataclass(frozen=True)
class MaterializeIndicesPass(AnnotatePass):
    """Attach index tables (static patterns) and selection plans (data-dependent ones)."""

    name = "sattn-materialize-indices"

    def record(self, op: SattnOp, context: Hints) -> dict:
        out: dict[str, Any] = {"materialized_indices": UNIT}
        table, plan = materialize(selected_params(op, context))
        if table is not None:
            out["index_table"] = table
        if plan is not None:
            out["selection_plan"] = plan
        return {k: from_py(v, k) for k, v in out.items()}


def materialize(p: AttentionParams) -> tuple[dict | None, dict | None]:
    """(index table, selection plan) for params whose ``spec`` is set (plain Python)."""
    from sattn.specs import DATA_DEPENDENT

    spec = p.spec
    assert spec is not None
    shape = p.shape()
    plan = _plan(p) if spec in DATA_DEPENDENT else None
    if spec == "sliding_window":
        return _stencil(p), None
    if spec == "dense":
        return _dense(p), None
    if spec == "block_local_global":
        from sattn.transforms.bufferize import pair_bound

        if pair_bound(p) > MAX_COUNTED_PAIRS:
            return _blg_uncounted(p), None
        from sattn.specs import one_kv_head, select_indices

        return _block_table(p, select_indices(p, one_kv_head(shape)), "structural"), None
    if spec == "bsr":
        if shape.heads * shape.seq_len * shape.head_dim > MAX_SYNTHETIC_ELEMENTS:
            return None, {**plan, "synthetic_table": "skipped: shape too large"}  # type: ignore[dict-item]
        from sattn import resources

        est = resources.selection(p, shape, "the synthetic bsr table")
        if not resources.fits(est, seconds=MAX_TABLE_SECONDS):  # e.g. block_size = 1 at 64k
            return None, {**plan, "synthetic_table": "skipped: too costly to compile"}  # type: ignore[dict-item]
        from sattn.reference.data import synthetic
        from sattn.specs import select_indices

        q, k, _ = synthetic(shape)
        return _block_table(p, select_indices(p, shape, q, k), "synthetic"), plan
    return None, plan


def _stencil(p: AttentionParams) -> dict:
    from sattn.specs import sliding_window

    shape = p.shape()
    s = shape.seq_len
    w, dil = sliding_window.clamped(p, s)
    table: dict[str, Any] = {"kind": "stencil"}
    if 2 * w + 1 <= MAX_TABLE_ENTRIES:
        table["offsets"] = [dil * t for t in range(-w, w + 1)]
    else:
        table.update(offset_min=-dil * w, offset_max=dil * w, offset_step=dil)
    table.update(wrap=p.wrap, causal=p.causal, rows=s, heads=shape.kv_heads)
    nnz = sliding_window.pair_count(p, s)
    keys = sliding_window.keys_per_row(p, s)
    if nnz is None and s * min(s, 2 * w + 1) <= MAX_COUNTED_PAIRS:  # a causal ring: count it
        from sattn.specs import one_kv_head, select_indices

        g = select_indices(p, one_kv_head(shape)).groups[0]
        counts = g.counts()
        nnz, keys = g.nnz, (int(counts.min()), int(counts.max()))
    if nnz is None or keys is None:
        table["counted"] = 0
    else:
        table.update(nnz=int(nnz), min_keys=int(keys[0]), max_keys=int(keys[1]))
    return table


def _blg_uncounted(p: AttentionParams) -> dict:
    """The block_local_global structure without its table (too many pairs to count here)."""
    shape = p.shape()
    b = p.effective_block_size(shape.seq_len)
    nb = math.ceil(shape.seq_len / b)
    from sattn.specs.block_local_global import NEIGHBOURS

    return {"kind": "block_csr", "source": "structural", "block_size": b, "q_blocks": nb,
            "k_blocks": nb, "heads": shape.kv_heads, "per_head": 0, "neighbours": NEIGHBOURS,
            "global_tokens": min(p.global_tokens, shape.seq_len), "counted": 0, "elided": 1}


def _block_table(p: AttentionParams, sel: Any, source: str) -> dict:
    import numpy as np

    shape = p.shape()
    b = sel.block_size or p.effective_block_size(shape.seq_len)
    tables = sel.block_table
    per_head = source != "structural"
    heads = tables if per_head else tables[:1]
    # CSR over (head, query block) rows when per head: one indptr, concatenated indices.
    indptr = [0]
    indices: list = []
    for t in heads:
        base = indptr[-1]
        indptr.extend(base + int(x) for x in t.indptr[1:])
        indices.append(t.indices)
    flat = np.concatenate(indices) if indices else np.zeros(0, dtype=np.int32)
    nb = math.ceil(shape.seq_len / b)
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
    if p.spec == "block_local_global":
        table["global_tokens"] = min(p.global_tokens, shape.seq_len)
    if len(flat) + len(indptr) <= MAX_TABLE_ENTRIES:
        table["indptr"] = int_array(indptr)
        table["indices"] = int_array(flat)
    else:
        table["elided"] = 1
    return table


def _dense(p: AttentionParams) -> dict:
    from sattn.specs import dense

    shape = p.shape()
    return {"kind": "dense", "rows": shape.seq_len, "heads": shape.kv_heads,
            "causal": p.causal, "nnz": dense.pair_count(p, shape.seq_len)}


def _plan(p: AttentionParams) -> dict:
    """What a runtime selects on for a data-dependent pattern."""
    from sattn.specs import bsr, landmark, lsh, topk_per_query

    shape = p.shape()
    s = shape.seq_len
    # selection runs on the precision's view of Q/K, shared by a GQA group, causal-aware
    # (sattn.specs.gqa): those come from the op's own attributes, not repeated here
    common: dict[str, Any] = {"data_dependent": 1, "score": "group_qk"}
    spec = p.spec
    if spec == "nm_structured":
        n, m = p.nm_n or 1, p.nm_m or 1  # the reference's defaults when forced without them
        plan = {"kind": "nm", "n": n, "m": m, "groups_per_row": math.ceil(s / m)}
    elif spec == "topk_per_query":
        k = topk_per_query.DEFAULT_TOPK if p.topk_k is None else p.topk_k
        plan = {"kind": "topk", "k": min(k, s)}
    elif spec == "lsh":
        buckets = p.lsh_buckets or 1
        plan = {"kind": "lsh", "buckets": buckets, "hash": "random_hyperplane",
                "bits": lsh.num_bits(buckets), "seed": lsh.LSH_SEED}
    elif spec == "landmark":
        plan = {"kind": "landmark", "landmarks": landmark.num_landmarks(p, s),
                "iters": p.landmark_iters, "init": "evenly_spaced", "key_space": "landmarks"}
        common["score"] = "kmeans_k"
    else:  # bsr
        b = p.effective_block_size(s)
        nb = math.ceil(s / b)
        plan = {"kind": "block_topk", "block_size": b, "keep_blocks": bsr.num_kept(p, nb),
                "keep_ratio": bsr.keep_ratio(p), "always": "diagonal"}
        common["score"] = "mean_pool_blocks"
        if p.comp_block_size > 0:
            common["score"] = "compression_blocks"
            plan["comp_block_size"] = p.comp_block_size
    return {**plan, **common}
