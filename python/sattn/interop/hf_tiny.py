"""Tiny randomly initialised ``transformers`` models, to try ``sattn capture`` without
downloading anything (the docs' worked example and the tests use them).

:func:`tiny_model` writes a model directory as ``save_pretrained`` does -- ``config.json``,
``model.safetensors`` -- plus a byte-level tokenizer (the 256 byte values as tokens, no merges:
any UTF-8 text tokenizes, one token per byte), built with the ``tokenizers`` package that
transformers depends on. The weights are random (``torch.manual_seed(seed)``) with a wider
spread than a training run starts from (``initializer_range`` 0.2 instead of 0.02), so that
attention weights are far from uniform and a wrong Q, K or V changes the output visibly.
"""

from __future__ import annotations

from pathlib import Path

from sattn.errors import SattnError
from sattn.interop.hf import extras

#: The families :func:`tiny_model` builds (the ones ``sattn capture`` supports).
FAMILIES: tuple[str, ...] = ("llama", "qwen2", "gpt2")
#: Special tokens added after the 256 byte tokens.
SPECIALS: tuple[str, ...] = ("<s>", "</s>")


def byte_tokenizer():
    """A ``PreTrainedTokenizerFast`` whose vocabulary is the 256 bytes (GPT-2's byte-to-unicode
    alphabet) plus :data:`SPECIALS`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    tok = Tokenizer(models.BPE(vocab={c: i for i, c in enumerate(alphabet)}, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(list(SPECIALS))
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=SPECIALS[0],
                                   eos_token=SPECIALS[1])


def tiny_config(family: str, vocab_size: int, *, layers: int = 2, hidden: int = 64,
                heads: int = 4, kv_heads: int = 2, context: int = 512, **extra):
    """The config of a tiny model of ``family`` (GQA with ``kv_heads`` where the family has
    it; GPT-2 has none). ``extra`` goes to the config (e.g. GPT-2's
    ``scale_attn_by_inverse_layer_idx=True``)."""
    import transformers

    common = {"vocab_size": vocab_size, "initializer_range": 0.2, **extra}
    if family in ("llama", "qwen2"):
        cls = transformers.LlamaConfig if family == "llama" else transformers.Qwen2Config
        return cls(hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
                   num_attention_heads=heads, num_key_value_heads=kv_heads,
                   max_position_embeddings=context, **common)
    if family == "gpt2":
        return transformers.GPT2Config(n_embd=hidden, n_layer=layers, n_head=heads,
                                       n_positions=context, **common)
    raise SattnError(f"tiny_model: family must be one of {', '.join(FAMILIES)}, got {family!r}")


def tiny_model(family: str, out: str | Path, *, seed: int = 0, **config) -> Path:
    """Write a tiny random ``family`` model (:func:`tiny_config`; ``config`` overrides its
    sizes) with the byte tokenizer to the directory ``out``; returns it."""
    torch, transformers = extras()
    tokenizer = byte_tokenizer()
    cfg = tiny_config(family, len(tokenizer), **config)
    torch.manual_seed(seed)
    model = transformers.AutoModelForCausalLM.from_config(cfg)
    out = Path(out)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
