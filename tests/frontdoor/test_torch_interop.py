"""FlexAttention export: the exported mask_mod equals the selection pair for pair, and
torch's flex_attention (an independent implementation) agrees with our reference."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import need_module

torch = need_module("torch")  # installed by set-up; under make test its absence is a failure

from sattn.errors import SattnError
from sattn.interop import torch as ti
from sattn.ir.schema import params_from_dict
from sattn.reference.data import synthetic
from sattn.reference.executor import attention
from sattn.specs import select_indices
from tolerance import assert_attention_close

STATIC = [
    {"spec": "dense", "seq_len": 40, "head_dim": 8},
    {"spec": "dense", "seq_len": 40, "head_dim": 8, "causal": 1},
    {"spec": "sliding_window", "window_size": 5, "seq_len": 64, "head_dim": 16},
    {"spec": "sliding_window", "window_size": 3, "dilation": 3, "seq_len": 50, "head_dim": 8},
    {"spec": "sliding_window", "window_size": 3, "dilation": 4, "wrap": 1, "seq_len": 48, "head_dim": 8},
    {"spec": "sliding_window", "window_size": 30, "dilation": 2, "wrap": 1, "causal": 1,
     "seq_len": 48, "head_dim": 8},
    {"spec": "block_local_global", "block_size": 16, "global_tokens": 4, "seq_len": 80,
     "head_dim": 16},
    {"spec": "block_local_global", "block_size": 12, "global_tokens": 0, "causal": 1,
     "seq_len": 50, "head_dim": 8},
]
DATA = [
    {"spec": "bsr", "keep_ratio": 0.3, "block_size": 8, "seq_len": 64, "head_dim": 16,
     "num_heads": 4, "gqa_group_size": 2},
    {"spec": "bsr", "keep_ratio": 0.5, "block_size": 8, "comp_block_size": 4, "seq_len": 48,
     "head_dim": 8},
    {"spec": "topk_per_query", "topk_k": 5, "seq_len": 64, "head_dim": 16, "precision": "i8"},
    {"spec": "nm_structured", "nm_n": 1, "nm_m": 4, "seq_len": 64, "head_dim": 16,
     "precision": "bf16"},
    {"spec": "lsh", "lsh_buckets": 4, "seq_len": 64, "head_dim": 16, "num_heads": 2,
     "gqa_group_size": 2},
    {"spec": "sliding_window", "window_size": 2, "causal": 1, "seq_len": 32, "head_dim": 8,
     "precision": "i4"},
]


def _dense_mask(mod, heads, s):
    from torch.nn.attention.flex_attention import create_mask

    return create_mask(mod, 1, heads, s, s, device="cpu")[0].numpy()


@pytest.mark.parametrize("attrs", STATIC, ids=lambda a: "-".join(f"{k}{v}" for k, v in a.items()))
def test_static_mask_mod_equals_selection(attrs) -> None:
    p = params_from_dict(attrs)
    shape = p.shape()
    want = select_indices(p, shape).groups[0].to_dense(shape.seq_len)
    got = _dense_mask(ti.pattern_mask_mod(p, shape), 1, shape.seq_len)[0]
    assert got.dtype == bool
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("attrs", DATA, ids=lambda a: a["spec"])
def test_selection_mask_mod_per_kv_head(attrs) -> None:
    p = params_from_dict(attrs)
    shape = p.shape()
    q, k, _ = synthetic(shape)
    sel = select_indices(p, shape, q, k)
    got = _dense_mask(ti.mask_mod(p, shape, q, k), shape.heads, shape.seq_len)
    for h in range(shape.heads):
        np.testing.assert_array_equal(got[h], sel.groups[h // shape.group].to_dense(shape.seq_len))


@pytest.mark.parametrize("attrs", STATIC + DATA, ids=lambda a: a["spec"])
def test_flex_attention_agrees_with_reference(attrs) -> None:
    p = params_from_dict(attrs)
    q, k, v = synthetic(p.shape(), seed=1)
    got = ti.flex_attention(p, q, k, v, block_size=16)
    want = attention(p, q, k, v)
    assert got.shape == want.shape
    # torch sums in its own order: the fp32 tolerance policy
    assert_attention_close(got, want, p, q, k, v, selection=select_indices(p, p.shape(), q, k),
                           what="FlexAttention vs reference")


def test_block_mask_skips_empty_blocks() -> None:
    p = params_from_dict({"spec": "sliding_window", "window_size": 4, "seq_len": 128,
                          "head_dim": 16})
    bm = ti.block_mask(p, p.shape(), block_size=16)
    # 8x8 blocks; a +-4 band touches the diagonal and its two neighbours: 3*8-2 blocks
    assert int(bm.kv_num_blocks.sum()) + int(bm.full_kv_num_blocks.sum()) == 3 * 8 - 2


def test_landmark_cannot_be_a_mask() -> None:
    p = params_from_dict({"spec": "landmark", "num_landmarks": 4, "seq_len": 32, "head_dim": 8})
    q, k, _ = synthetic(p.shape())
    with pytest.raises(SattnError, match="landmark"):
        ti.mask_mod(p, p.shape(), q, k)


def test_data_dependent_pattern_needs_selection() -> None:
    p = params_from_dict({"spec": "topk_per_query", "topk_k": 3, "seq_len": 16, "head_dim": 8})
    with pytest.raises(SattnError, match="data-dependent"):
        ti.pattern_mask_mod(p, p.shape())


@pytest.mark.parametrize("sq", [1, 24])
@pytest.mark.parametrize("attrs", STATIC + DATA, ids=lambda a: a["spec"])
def test_flex_attention_agrees_with_reference_sq_below_skv(attrs, sq) -> None:
    """Sq < Skv (a KV cache): the exported mask is the pattern at each row's position
    Skv - Sq + i, and FlexAttention on it agrees with the reference."""
    skv = attrs["seq_len"]
    p = params_from_dict({**attrs, "seq_len": sq, "kv_len": skv})
    shape = p.shape()
    q, k, v = synthetic(shape, seed=2)
    sel = select_indices(p, shape, q, k)
    if p.spec in ti.static_specs():
        from torch.nn.attention.flex_attention import create_mask

        got = create_mask(ti.pattern_mask_mod(p, shape), 1, 1, sq, skv, device="cpu")[0, 0]
        np.testing.assert_array_equal(got.numpy(), sel.groups[0].to_dense(skv))
    out = ti.flex_attention(p, q, k, v, block_size=16)
    want = attention(p, q, k, v)
    assert out.shape == want.shape == (shape.heads, sq, shape.head_dim)
    assert_attention_close(out, want, p, q, k, v, selection=sel, what="FlexAttention vs reference")
