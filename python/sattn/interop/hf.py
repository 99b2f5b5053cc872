"""Capture real attention tensors: the Q, K, V a local Hugging Face ``transformers`` model's
attention layers actually see, written as ``.safetensors`` files sattn's tools read.

How it hooks in. Since transformers 4.48 every attention module of the supported families
(``LlamaAttention``, ``Qwen2Attention``, ``GPT2Attention``) computes its projections (and, for
Llama and Qwen2, the rotary embedding), then calls the function registered in
``ALL_ATTENTION_FUNCTIONS`` under ``config._attn_implementation`` as
``f(module, query, key, value, attention_mask, scaling=..., dropout=..., **kwargs)`` with
``query [B, H, S, D]`` and ``key``/``value [B, H_kv, S, D]`` -- after the rotary embedding and
before grouped-query heads are repeated. :func:`capture` registers such a function under its
own name (``sattn_capture``, with the ``sdpa`` mask builder), loads the model with it, and
records what each selected layer receives (with ``scaling``, ``is_causal`` and Qwen2's
``sliding_window``) before handing the call on to the ``sdpa`` implementation, so the model
computes exactly what it computes normally. Nothing of the model's code is copied or patched.

Scale. sattn's attention scales scores by ``1/sqrt(D)``. When the model uses another scale
(GPT-2 with ``scale_attn_by_inverse_layer_idx`` or without ``scale_attn_weights``), ``q`` is
written pre-multiplied by ``scale * sqrt(D)`` so that sattn computes the model's attention; the
metadata keeps the model's ``scale`` and the factor (``q_prescaled_by``).

Offline. Only a local directory is read (every load passes ``local_files_only=True``;
safetensors weights only, no remote code): nothing is downloaded. The environment is not
touched (nothing in sattn writes ``os.environ``).

``transformers`` and ``safetensors`` (with torch) are the optional extra ``capture``: without
them :func:`capture` is one error line with the install command.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np

from sattn import resources
from sattn.errors import SattnError
from sattn.reference import tensorfile
from sattn.toolrun import atomic_write, check_keep_path

#: config.json ``model_type`` -> (family name, key of the layer count, key of the context length).
FAMILIES: dict[str, tuple[str, str, str]] = {
    "llama": ("Llama", "num_hidden_layers", "max_position_embeddings"),
    "qwen2": ("Qwen2", "num_hidden_layers", "max_position_embeddings"),
    "gpt2": ("GPT-2", "n_layer", "n_positions"),
}
#: The pins of the ``capture`` extra (python/pyproject.toml).
INSTALL_HINT = ("pip install transformers==5.23.0 safetensors==0.8.0 torch==2.13.0 "
                "(or: pip install -e 'python[capture]')")
#: The name the recording attention function is registered under.
IMPLEMENTATION = "sattn_capture"
#: What ``--dtype`` accepts: the dtype the model runs in and the tensors are written in.
DTYPES: tuple[str, ...] = ("float32", "bfloat16", "float16")
#: The layer files' format tag (metadata ``format``).
FORMAT = "sattn-capture/1"
#: Rate used for the time estimate of the forward pass (multiply-adds per second; a CPU core
#: does several 1e9, taken low as the other rates of :mod:`sattn.resources`).
FORWARD_RATE = 1e9


@dataclass
class Layer:
    """What one attention layer saw: ``q [1, H, S, D]``, ``k``/``v [1, H_kv, S, D]`` (q
    pre-multiplied by ``q_prescaled_by``), the model's ``scale``, ``causal`` and, for Qwen2's
    sliding-window layers, the window."""

    index: int
    q: np.ndarray
    k: np.ndarray
    v: np.ndarray
    scale: float
    q_prescaled_by: float
    causal: int
    sliding_window: int | None = None

    @property
    def file(self) -> str:
        return f"layer_{self.index}.safetensors"

    def metadata(self, common: dict[str, str]) -> dict[str, str]:
        """The file's ``__metadata__`` (strings, as the format requires)."""
        _, h, s, d = self.q.shape
        return {**common, "layer": str(self.index), "scale": repr(self.scale),
                "q_prescaled_by": repr(self.q_prescaled_by), "causal": str(self.causal),
                "num_heads": str(h), "num_kv_heads": str(self.k.shape[1]), "head_dim": str(d),
                "tokens": str(s), "sliding_window": "" if self.sliding_window is None
                else str(self.sliding_window)}

    def line(self) -> str:
        dims = " ".join(f"{n}{list(a.shape)}" for n, a in (("q", self.q), ("k", self.k), ("v", self.v)))
        extra = f" q_prescaled_by={self.q_prescaled_by:g}" if self.q_prescaled_by != 1.0 else ""
        window = f" sliding_window={self.sliding_window}" if self.sliding_window else ""
        return (f"capture: {self.file} {dims} scale={self.scale:g} causal={self.causal}"
                f"{extra}{window}")


@dataclass
class Capture:
    """The result of :func:`capture`: the layers written to ``out`` and the manifest."""

    out: Path
    model_type: str
    tokens: int
    layers: list[Layer] = field(default_factory=list)
    manifest: dict[str, Any] = field(default_factory=dict)
    truncated_from: int | None = None  # the text's token count when --max-tokens cut it

    def lines(self) -> list[str]:
        """What ``sattn capture`` prints."""
        head = (f"capture: {self.model_type} layers={','.join(str(x.index) for x in self.layers)} "
                f"tokens={self.tokens}")
        if self.truncated_from is not None:
            head += f" (of {self.truncated_from})"
        return [head, *(x.line() for x in self.layers),
                f"capture: wrote {len(self.layers)} layer file(s) and manifest.json to {self.out}"]


# ------------------------------------------------------------------------- checks (no imports)

def read_config(model: str | Path) -> dict[str, Any]:
    """config.json of the model directory, checked: the directory, its config, its model type
    (:data:`FAMILIES`) and its safetensors weights. One SattnError line for each problem."""
    d = Path(model)
    if not d.exists():
        raise SattnError(f"--model {d}: directory not found")
    if not d.is_dir():
        raise SattnError(f"--model {d}: not a directory (expected a Hugging Face model directory)")
    cfg_path = d / "config.json"
    if not cfg_path.is_file():
        raise SattnError(f"--model {d}: no config.json (not a Hugging Face model directory)")
    try:
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise SattnError(f"--model {cfg_path}: cannot read it as JSON: "
                         f"{' '.join(str(e).split())}") from None
    if not isinstance(cfg, dict):
        raise SattnError(f"--model {cfg_path}: not a JSON object")
    kind = cfg.get("model_type")
    if kind not in FAMILIES:
        arch = ", ".join(cfg.get("architectures") or []) or "none named"
        raise SattnError(f"--model {d}: unsupported architecture model_type={kind!r} ({arch}); "
                         f"sattn capture supports {', '.join(sorted(FAMILIES))}")
    if not any(d.glob("*.safetensors")):
        other = sorted(p.name for p in d.iterdir() if p.suffix in (".bin", ".pt", ".pth", ".h5"))
        found = f" (found {', '.join(other)}; convert them to .safetensors)" if other else ""
        raise SattnError(f"--model {d}: no .safetensors weights{found}")
    return cfg


def num_layers(cfg: dict[str, Any]) -> int:
    """The model's layer count from its config."""
    n = cfg.get(FAMILIES[cfg["model_type"]][1])
    if not isinstance(n, int) or n < 1:
        raise SattnError(f"config.json: {FAMILIES[cfg['model_type']][1]} must be a positive "
                         f"integer, got {n!r}")
    return n


def parse_layers(text: str | list[int] | None, n: int) -> list[int]:
    """``--layers``: ``all`` (or None), or comma-separated indices (negative from the end)
    -> sorted distinct layer indices, each checked against the model's ``n`` layers."""
    if text is None or (isinstance(text, str) and text.strip().lower() == "all"):
        return list(range(n))
    items = text.split(",") if isinstance(text, str) else list(text)
    out = set()
    for item in items:
        try:
            i = int(str(item).strip())
        except ValueError:
            raise SattnError(f"--layers: {item!r} is not a layer index (give e.g. 0,3,5 or all)") from None
        if not -n <= i < n:
            raise SattnError(f"--layers: layer {i} does not exist; the model has {n} layers "
                             f"(0-{n - 1})")
        out.add(i % n)
    if not out:
        raise SattnError("--layers: no layer given (give e.g. 0,3,5 or all)")
    return sorted(out)


def read_text(path: str | Path) -> str:
    """The text file's contents (UTF-8); missing, unreadable or empty is one SattnError line."""
    p = Path(path)
    if p.is_dir():
        raise SattnError(f"--text {p}: is a directory, expected a text file")
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SattnError(f"--text {p}: file not found") from None
    except UnicodeDecodeError as e:
        raise SattnError(f"--text {p}: not UTF-8 text (byte {e.start})") from None
    except OSError as e:
        raise SattnError(f"--text {p}: cannot read it: {e.strerror or e}") from None
    if not text.strip():
        raise SattnError(f"--text {p}: the file is empty (nothing to tokenize)")
    return text


# ----------------------------------------------------------------------------- the extras

def extras():
    """(torch, transformers), quiet; missing packages are one line with the install command."""
    try:
        import safetensors  # noqa: F401  (transformers reads the weights with it)
        import torch
        import transformers
    except ImportError as e:
        raise SattnError(f"sattn capture needs the optional packages transformers, safetensors "
                         f"and torch ({e.name or e} is missing); install them with: "
                         f"{INSTALL_HINT}") from None
    if not hasattr(transformers, "AttentionInterface"):
        raise SattnError(f"transformers {transformers.__version__} is too old for sattn capture "
                         f"(it needs the AttentionInterface of 4.48 or later); {INSTALL_HINT}")
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    return torch, transformers


def _first_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return (text[:300] + "...") if len(text) > 300 else (text or type(e).__name__)


# ----------------------------------------------------------------------------- the capture

def _sdpa():
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

    return ALL_ATTENTION_FUNCTIONS["sdpa"]


def _attention(module, query, key, value, attention_mask, **kwargs):
    """The function registered as ``sattn_capture``: the active :class:`_Recorder` sees the
    call, then the ``sdpa`` implementation computes it."""
    if _ACTIVE is not None:
        _ACTIVE.record(module, query, key, value, kwargs)
    return _sdpa()(module, query, key, value, attention_mask, **kwargs)


def _register(transformers) -> None:
    """Register :func:`_attention` (and the ``sdpa`` mask builder) as ``sattn_capture``."""
    transformers.AttentionInterface.register(IMPLEMENTATION, _attention)
    try:
        from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, AttentionMaskInterface
    except ImportError:  # before 4.53 the models build their masks themselves
        return
    AttentionMaskInterface.register(IMPLEMENTATION, ALL_MASK_ATTENTION_FUNCTIONS["sdpa"])


class _Recorder:
    """Records the inputs of the selected layers' attention calls of one forward pass."""

    def __init__(self, layers: list[int]):
        self.layers = set(layers)
        self.calls = 0
        self.seen: dict[int, dict[str, Any]] = {}

    def record(self, module, query, key, value, kwargs: dict[str, Any]) -> None:
        # modules without layer_idx (older releases) are numbered in call order
        index = getattr(module, "layer_idx", None)
        index = self.calls if index is None else int(index)
        self.calls += 1
        if index in self.layers:
            if index in self.seen:
                raise SattnError(f"attention layer {index} was called twice in one forward pass")
            causal = kwargs.get("is_causal")
            causal = getattr(module, "is_causal", True) if causal is None else causal
            scaling = kwargs.get("scaling")
            self.seen[index] = {
                "q": query.detach().clone(), "k": key.detach().clone(),
                "v": value.detach().clone(),
                "scale": float(query.shape[-1] ** -0.5 if scaling is None else scaling),
                "causal": int(bool(causal)), "sliding_window": kwargs.get("sliding_window"),
            }


#: The recorder of the forward pass running now (None outside :func:`capture`).
_ACTIVE: _Recorder | None = None


def _numpy(torch, t) -> np.ndarray:
    """A CPU tensor as a NumPy array of the same dtype (bfloat16 through ml_dtypes)."""
    t = t.contiguous().cpu()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().view(ml_dtypes.bfloat16)
    return t.numpy()


def _weights_bytes(model: Path) -> int:
    return sum(p.stat().st_size for p in model.glob("*.safetensors"))


def _estimate(cfg: dict[str, Any], model: Path, tokens: int, layers: int, dtype_bytes: int):
    """Memory and time of loading the model and one forward pass over ``tokens``."""
    hidden = int(cfg.get("hidden_size") or cfg.get("n_embd") or 0)
    heads = int(cfg.get("num_attention_heads") or cfg.get("n_head") or 1)
    n = num_layers(cfg)
    inter = int(cfg.get("intermediate_size") or cfg.get("n_inner") or 4 * hidden)
    stored = _weights_bytes(model)
    params = stored / 2  # at least 2 bytes per stored weight: an upper bound on the count
    est = resources.Estimate("capture", f"{model.name}: {n} layers, hidden {hidden}, "
                                        f"{heads} heads, {tokens} tokens")
    est.add("the model's weights", host=stored + params * dtype_bytes)
    est.add("activations of one layer", host=4.0 * tokens * (4 * hidden + 2 * inter))
    # the CPU sdpa kernels may materialise the scores (and their softmax) of one layer
    est.add("attention scores of one layer", host=3 * 4.0 * heads * tokens * tokens)
    est.add("the captured tensors", host=2 * 3 * 4.0 * layers * tokens * hidden)
    macs = params * tokens + 2.0 * n * tokens * tokens * hidden
    est.add("one forward pass", seconds=macs / FORWARD_RATE)
    resources.require(est)


def capture(model: str | Path, text: str | Path, out: str | Path, *,
            layers: str | list[int] | None = "all", max_tokens: int | None = None,
            dtype: str = "float32") -> Capture:
    """Run the local model directory ``model`` on the text file ``text`` and write, per
    selected layer, ``out/layer_<n>.safetensors`` (tensors q, k, v, rank 4 with B = 1; the
    metadata of :meth:`Layer.metadata`) and ``out/manifest.json``.

    ``layers``: ``"all"``, ``"0,3,5"`` or a list of indices; ``max_tokens``: keep the first N
    tokens (default: the model's context length); ``dtype``: what the model runs in and the
    tensors are written in (float32, bfloat16, float16; sattn converts the last two to float32
    when it reads them). Every problem is one :class:`SattnError` line; files are written
    atomically and only after the forward pass succeeded, the manifest last."""
    if dtype not in DTYPES:
        raise SattnError(f"--dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int)
                                   or max_tokens < 1):
        raise SattnError(f"--max-tokens must be a positive integer, got {max_tokens!r}")
    out = check_keep_path(out, "--out")
    model = Path(model)
    cfg = read_config(model)
    kind = cfg["model_type"]
    n = num_layers(cfg)
    chosen = parse_layers(layers, n)
    words = read_text(text)
    context = cfg.get(FAMILIES[kind][2])
    limits = [x for x in (max_tokens, context) if isinstance(x, int) and x > 0]
    limit = min(limits) if limits else None

    torch, transformers = extras()
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(
            str(model), local_files_only=True, trust_remote_code=False)
    except Exception as e:  # noqa: BLE001  (transformers raises OSError, ValueError, ...)
        raise SattnError(f"--model {model}: cannot load its tokenizer (tokenizer.json / "
                         f"tokenizer_config.json): {_first_line(e)}") from None
    ids = tokenizer(words, return_tensors="pt")["input_ids"]
    total = int(ids.shape[-1])
    if total == 0:
        raise SattnError(f"--text {text}: the tokenizer made no tokens of it")
    truncated = None
    if limit is not None and total > limit:
        ids, truncated = ids[:, :limit], total
    tokens = int(ids.shape[-1])
    torch_dtype = getattr(torch, dtype)
    _estimate(cfg, model, tokens, len(chosen), torch_dtype.itemsize)

    _register(transformers)
    try:
        net = transformers.AutoModel.from_pretrained(
            str(model), local_files_only=True, trust_remote_code=False,
            use_safetensors=True, attn_implementation=IMPLEMENTATION)
    except Exception as e:  # noqa: BLE001  (corrupt weights, shape mismatches, ...)
        raise SattnError(f"--model {model}: cannot load the model: {_first_line(e)}") from None
    net = net.to(torch_dtype).eval()
    global _ACTIVE
    recorder = _ACTIVE = _Recorder(chosen)
    try:
        with torch.inference_mode():
            net(input_ids=ids, use_cache=False)
    finally:
        _ACTIVE = None
    missing = [i for i in chosen if i not in recorder.seen]
    if missing:
        raise SattnError(f"layers {missing} never called the attention interface (transformers "
                         f"{transformers.__version__}); sattn capture cannot see their inputs")
    result = Capture(out, kind, tokens, truncated_from=truncated)
    for i in chosen:
        rec = recorder.seen.pop(i)
        d = rec["q"].shape[-1]
        factor = rec["scale"] * math.sqrt(d)
        q = rec["q"]
        if factor != 1.0:  # sattn scales by 1/sqrt(D): fold the model's own scale into q
            q = (q.float() * factor).to(q.dtype)
        result.layers.append(Layer(
            i, _numpy(torch, q), _numpy(torch, rec["k"]), _numpy(torch, rec["v"]), rec["scale"],
            factor, rec["causal"], rec["sliding_window"]))
    _write(result, model, text, dtype, transformers.__version__)
    return result


def _write(result: Capture, model: Path, text: str | Path, dtype: str, version: str) -> None:
    common = {"format": FORMAT, "model_type": result.model_type, "model": str(model),
              "dtype": dtype, "transformers": version}
    for layer in result.layers:
        tensorfile.save(result.out / layer.file, {"q": layer.q, "k": layer.k, "v": layer.v},
                        layer.metadata(common), make_parents=True)
    result.manifest = {
        **common, "text": str(text), "tokens": result.tokens,
        "tokens_in_text": result.truncated_from or result.tokens,
        "layers": [{"layer": x.index, "file": x.file, "q": list(x.q.shape), "k": list(x.k.shape),
                    "v": list(x.v.shape), "scale": x.scale, "q_prescaled_by": x.q_prescaled_by,
                    "causal": x.causal, "sliding_window": x.sliding_window}
                   for x in result.layers],
    }
    atomic_write(result.out / "manifest.json", json.dumps(result.manifest, indent=2) + "\n",
                 make_parents=True)
