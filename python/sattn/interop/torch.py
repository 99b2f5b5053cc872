"""Export sattn patterns to PyTorch FlexAttention (``torch.nn.attention.flex_attention``).

FlexAttention describes sparsity with a ``mask_mod(b, h, q_idx, kv_idx) -> bool`` and a
``BlockMask`` (which blocks of the score matrix hold any kept pair). This module writes the
sattn patterns in that vocabulary:

- :func:`pattern_mask_mod` -- the closed form of a *static* pattern (dense, sliding_window with
  dilation/wrap, block_local_global), composed like attention-gym: a pattern term
  ``and``-ed with the causal term when ``causal = 1``, block_local_global the ``or`` of
  local blocks, global keys and global queries;
- :func:`selection_mask_mod` -- any token-space :class:`~sattn.specs.selection.Selection`
  (data-dependent patterns too, after :func:`sattn.specs.select_indices` ran) as a lookup
  into its dense mask, per KV head;
- :func:`mask_mod` / :func:`block_mask` -- pick the right one of the two for ``params.spec``;
- :func:`flex_attention` -- run FlexAttention with the exported mask on the operands of the
  precision and return a NumPy array, for side-by-side comparisons with the reference.

landmark attends over *compressed* keys (segment means), which a mask cannot express: it is
rejected with a clear error. torch is an optional extra: ``pip install torch==2.13.0``
(CPU build); importing this module without it raises :class:`~sattn.errors.SattnError`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from sattn.errors import SattnError
from sattn.ir.patterns import known, patterns
from sattn.ir.schema import AttentionParams, Shape
from sattn.precision import resolved_scales, view
from sattn.reference.data import check_qkv
from sattn.specs import pattern_of, select_indices
from sattn.specs.block_local_global import local_global_mask
from sattn.specs.pattern import Pattern
from sattn.specs.sliding_window import band_mask

if TYPE_CHECKING:
    import torch as _torch
    from torch.nn.attention.flex_attention import BlockMask

INSTALL_HINT = "pip install torch==2.13.0  (or: pip install -e 'python[torch]')"

#: Default FlexAttention block size (its own default is 128; small tests use smaller shapes).
DEFAULT_BLOCK = 128

MaskMod = Callable[..., "_torch.Tensor"]


def _torch():
    try:
        import torch
        from torch.nn.attention import flex_attention as fa
    except ImportError:
        raise SattnError(
            f"PyTorch is not installed (sattn.interop.torch needs it); install it with: {INSTALL_HINT}"
        ) from None
    return torch, fa


# ---------------------------------------------------------------- closed-form mask_mods
def causal_mask(b, h, q_idx, kv_idx):
    """FlexAttention's causal term: keep ``kv_idx <= q_idx``."""
    return q_idx >= kv_idx


def sliding_window_mask(seq_len: int, window: int, dilation: int = 1, wrap: int = 0) -> MaskMod:
    """``j = i + dilation * t``, ``|t| <= window``; ``wrap`` takes ``j`` modulo ``seq_len``
    (the pattern's own closed form, :func:`sattn.specs.sliding_window.band_mask`)."""
    return band_mask(seq_len, window, dilation, wrap)


def block_local_global_mask(block: int, global_tokens: int) -> MaskMod:
    """Key blocks ``qb-1..qb+1`` around the query block, the first ``global_tokens`` keys for
    every query, and every key for the first ``global_tokens`` queries
    (:func:`sattn.specs.block_local_global.local_global_mask`)."""
    return local_global_mask(block, global_tokens)


def pattern_mask_mod(params: AttentionParams, shape: Shape) -> MaskMod:
    """The closed-form ``mask_mod`` of a structural pattern (the pattern's own,
    :meth:`sattn.specs.pattern.Pattern.mask_mod`), and-ed with the causal term. With Sq < Skv
    FlexAttention's ``q_idx`` is the query row: the mask is the pattern's at the row's position
    ``q_idx + Skv - Sq``."""
    _, fa = _torch()
    base = pattern_of(params.spec).mask_mod(params, shape.kv_len)
    if base is None:
        raise SattnError(
            f"spec '{params.spec}' is data-dependent: export its selection with selection_mask_mod "
            f"(static specs: {', '.join(static_specs())})"
        )
    mod = fa.and_masks(base, causal_mask) if params.causal else base
    if not shape.offset:
        return mod
    offset = shape.offset

    def at_position(b, h, q_idx, kv_idx):
        return mod(b, h, q_idx + offset, kv_idx)
    return at_position


def static_specs() -> tuple[str, ...]:
    """The registered patterns whose mask follows from the shape and the attributes alone."""
    return tuple(p.name for p in patterns() if p.mask_mod is not Pattern.mask_mod
                 and not p.data_dependent)


# ---------------------------------------------------------------- selections as masks
def selection_mask_mod(selection) -> MaskMod:
    """A ``mask_mod`` that looks a query-key pair up in a token-space selection: query head
    ``h`` uses the selection of KV head ``h // group_size``. Memory is H_kv x S x S bools."""
    torch, _ = _torch()
    if known(selection.spec):
        _expressible(pattern_of(selection.spec))
    if selection.key_space != "tokens":
        raise SattnError(
            f"spec '{selection.spec}' attends over {selection.key_space}, not tokens: a "
            "FlexAttention mask cannot express it"
        )
    dense = np.stack([g.to_dense(selection.num_keys) for g in selection.groups])
    table = torch.from_numpy(dense)
    group = selection.group_size

    def lookup(b, h, q_idx, kv_idx):
        return table[h // group, q_idx, kv_idx]

    return lookup


def _expressible(pattern: Pattern) -> None:
    """Refuse a composite pattern (nsa: three gated softmaxes): no one mask expresses it."""
    if pattern.composite:
        raise SattnError(f"spec '{pattern.name}' is several gated attentions, not one softmax "
                         "over a set of keys: a FlexAttention mask cannot express it")


def mask_mod(params: AttentionParams, shape: Shape, q: np.ndarray | None = None,
             k: np.ndarray | None = None) -> MaskMod:
    """The ``mask_mod`` of ``params.spec``: closed form for static patterns, else the lookup
    of the selection :func:`sattn.specs.select_indices` makes on ``q``/``k``."""
    pattern = pattern_of(params.spec)
    _expressible(pattern)
    if pattern.key_space != "tokens":
        raise SattnError(
            f"spec '{params.spec}' attends over compressed keys ({pattern.key_space}, not "
            "tokens): a FlexAttention mask cannot express it"
        )
    if pattern.mask_mod(params, shape.seq_len) is not None:
        return pattern_mask_mod(params, shape)
    return selection_mask_mod(select_indices(params, shape, q, k))


def block_mask(params: AttentionParams, shape: Shape, q: np.ndarray | None = None,
               k: np.ndarray | None = None, *, block_size: int = DEFAULT_BLOCK,
               mod: MaskMod | None = None) -> BlockMask:
    """A CPU ``BlockMask`` for ``params.spec`` on ``shape`` (``mod`` reuses a mask_mod).

    Static patterns do not depend on the head (``H=None`` broadcasts); a selection does.
    """
    _, fa = _torch()
    mod = mod if mod is not None else mask_mod(params, shape, q, k)
    heads = None if params.spec in static_specs() else shape.heads
    s, n = shape.seq_len, shape.kv_len
    return fa.create_block_mask(mod, B=None, H=heads, Q_LEN=s, KV_LEN=n, device="cpu",
                                BLOCK_SIZE=min(block_size, max(s, 1)))


def flex_attention(params: AttentionParams, q: np.ndarray, k: np.ndarray, v: np.ndarray, *,
                   block_size: int = DEFAULT_BLOCK) -> np.ndarray:
    """FlexAttention on CPU with the exported mask, on the values the precision computes with
    (bf16-rounded, or dequantised i8/i4 codes); float32 [H, Sq, Dv] (V [H_kv, Skv, Dv]), or
    [B, H, Sq, Dv] for rank-4 inputs (each batch element with its own mask, as the reference).

    This is an independent implementation of the reference semantics: agreement with
    :func:`sattn.reference.executor.attention` checks both the pattern and the arithmetic.
    """
    torch, fa = _torch()
    shape = check_qkv(q, k, v, params.gqa_group_size)
    if q.ndim == 4:  # data-dependent masks are per element: one call per batch element
        return np.stack([flex_attention(params, q[b], k[b], v[b], block_size=block_size)
                         for b in range(shape.batch)])
    mod = mask_mod(params, shape, q, k)
    bm = block_mask(params, shape, mod=mod, block_size=block_size)
    sq, sk, sv = resolved_scales(params)
    tq, tk, tv = (torch.from_numpy(np.ascontiguousarray(view(x, params.precision, s)))[None]
                  for x, s in ((q, sq), (k, sk), (v, sv)))
    with warnings.catch_warnings():
        # eager CPU flex_attention warns that it is not compiled: correct, only slower
        warnings.simplefilter("ignore")
        out = fa.flex_attention(tq, tk, tv, block_mask=bm, enable_gqa=shape.group > 1)
    out = out[0].detach().numpy().astype(np.float32)
    # a row with no selected key: FlexAttention yields zeros as sattn does; keep it explicit
    return np.nan_to_num(out, nan=0.0)


__all__ = [
    "block_local_global_mask",
    "block_mask",
    "causal_mask",
    "flex_attention",
    "mask_mod",
    "pattern_mask_mod",
    "selection_mask_mod",
    "sliding_window_mask",
    "static_specs",
]
