"""``sattn capture``: the Q, K, V it writes reproduce the model's own attention output.

For each family (Llama and Qwen2 with grouped-query attention, GPT-2 with a per-layer scale) a
tiny random model is built from its config and saved (no download). During the capture's own
forward pass the test records, with forward hooks on the model it loads, each layer's attention
output before the output projection (and Q, K before the rotary embedding). sattn's reference
``dense`` with ``causal = 1`` on the captured tensors must give that output, layer by layer and
head by head, within the fp32 tolerance policy -- and must not when the capture is wrong in a
way that matters (no causal mask, Q and K before the rotary embedding, the model's scale not
folded in). Layer 0 is also checked against a separate run of the model with the ``eager``
implementation (the models' own reference code; later layers' inputs differ between the two
runs by rounding, so only layer 0 sees identical inputs).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import need_module
from fd_util import PY, assert_one_line_error, run_cmd, write_mlir

torch = need_module("torch")
transformers = need_module("transformers")
need_module("safetensors")

from sattn.errors import SattnError
from sattn.interop import hf
from sattn.interop.hf_tiny import tiny_model
from sattn.ir.schema import params_from_dict
from sattn.reference import tensorfile
from sattn.reference.compare import attention_tolerance
from sattn.reference.data import load_inputs, load_tensor
from sattn.reference.executor import attention
from tolerance import assert_attention_close

TEXT = ("Sparse attention keeps a few keys per query; the selector decides which pattern "
        "fits a layer best.\n")
FAMILIES = {
    "llama": {},
    "qwen2": {},
    # layer 1 scales scores by 1/(sqrt(D) * 2): capture folds the 1/2 into q
    "gpt2": {"scale_attn_by_inverse_layer_idx": True},
}


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("hf")
    (root / "text.txt").write_text(TEXT)
    return {f: tiny_model(f, root / f"tiny-{f}", **extra) for f, extra in FAMILIES.items()}


def text_file(models: dict[str, Path]) -> Path:
    return next(iter(models.values())).parent / "text.txt"


def add_hooks(net, seen: dict[str, dict[int, np.ndarray]]) -> list:
    """Forward hooks on ``net``: per layer, into ``seen``, the attention output before the
    output projection [S, H*D] and Q/K before the rotary embedding [S, H*D]."""
    blocks = net.layers if hasattr(net, "layers") else net.h
    hooks = []
    for i, block in enumerate(blocks):
        attn = block.self_attn if hasattr(block, "self_attn") else block.attn
        proj = attn.o_proj if hasattr(attn, "o_proj") else attn.c_proj
        hooks.append(proj.register_forward_pre_hook(
            lambda mod, args, i=i: seen["out"].__setitem__(i, args[0][0].detach().clone())))
        if hasattr(attn, "q_proj"):
            for name in ("q", "k"):
                hooks.append(getattr(attn, f"{name}_proj").register_forward_hook(
                    lambda mod, args, out, i=i, name=name:
                        seen[f"{name}_pre"].__setitem__(i, out[0].detach().clone())))
    return hooks


def eager_run(model: Path, ids) -> dict[str, dict[int, np.ndarray]]:
    """A separate forward pass of the model with the eager attention (:func:`add_hooks`)."""
    net = transformers.AutoModel.from_pretrained(str(model), local_files_only=True,
                                                 attn_implementation="eager").eval()
    seen: dict[str, dict[int, np.ndarray]] = {"out": {}, "q_pre": {}, "k_pre": {}}
    add_hooks(net, seen)
    with torch.inference_mode():
        net(input_ids=ids, use_cache=False)
    return seen


def hooked_capture(monkeypatch, *args, **kwargs):
    """:func:`hf.capture`, with :func:`add_hooks` on the model it loads: (capture, what the
    hooks saw in the capture's own forward pass)."""
    seen: dict[str, dict[int, np.ndarray]] = {"out": {}, "q_pre": {}, "k_pre": {}}
    load = transformers.AutoModel.from_pretrained

    def hooked(*a, **kw):
        net = load(*a, **kw)
        add_hooks(net, seen)
        return net

    monkeypatch.setattr(transformers.AutoModel, "from_pretrained", hooked)
    try:
        cap = hf.capture(*args, **kwargs)
    finally:
        monkeypatch.undo()
    return cap, seen


def heads_first(x, d: int) -> np.ndarray:
    """[S, H*D] -> [H, S, D]."""
    s = x.shape[0]
    return x.reshape(s, -1, d).permute(1, 0, 2).contiguous().numpy()


def tokens(model: Path, text: str):
    tok = transformers.AutoTokenizer.from_pretrained(str(model), local_files_only=True)
    return tok(text, return_tensors="pt")["input_ids"]


def layer_params(h: int, hk: int, s: int, d: int, causal: int = 1):
    return params_from_dict({"spec": "dense", "causal": causal, "seq_len": s, "head_dim": d,
                             "num_heads": h, "gqa_group_size": h // hk})


def per_head(got: np.ndarray, want: np.ndarray, q, k, v, causal: int, what: str) -> None:
    """Head by head: ``got`` [H, S, D] equals ``want`` within the policy's bound."""
    h, hk = q.shape[0], k.shape[0]
    for i in range(h):
        g = i // (h // hk)
        qi, ki, vi = q[i:i + 1], k[g:g + 1], v[g:g + 1]
        p = layer_params(1, 1, q.shape[1], q.shape[2], causal)
        assert_attention_close(got[i:i + 1], want[i:i + 1], p, qi, ki, vi, what=f"{what} head {i}")


def far_off(got: np.ndarray, want: np.ndarray, q, k, v) -> bool:
    """``got`` misses ``want`` by more than ten times the policy's bound."""
    p = layer_params(q.shape[0], k.shape[0], q.shape[1], q.shape[2])
    return float(np.abs(got - want).max()) > 10 * attention_tolerance(p, q, k, v).bound


@pytest.mark.parametrize("family", list(FAMILIES))
def test_capture_reproduces_the_models_attention(family: str, models, tmp_path: Path,
                                                 monkeypatch) -> None:
    model = models[family]
    cap, own = hooked_capture(monkeypatch, model, text_file(models), tmp_path / "cap", layers="all")
    ids = tokens(model, TEXT)
    eager = eager_run(model, ids)
    s = ids.shape[-1]
    assert cap.tokens == s == len(TEXT.encode())  # the byte tokenizer: one token per byte
    assert [x.index for x in cap.layers] == [0, 1]
    manifest = json.loads((tmp_path / "cap" / "manifest.json").read_text())
    assert [x["file"] for x in manifest["layers"]] == ["layer_0.safetensors", "layer_1.safetensors"]
    assert (manifest["model_type"], manifest["tokens"]) == (family, s)
    for layer in cap.layers:
        f = tmp_path / "cap" / layer.file
        meta = tensorfile.read_header(f, "t").metadata
        hk = 4 if family == "gpt2" else 2
        d = 16
        factor = 0.5 if (family == "gpt2" and layer.index == 1) else 1.0
        assert {k: meta[k] for k in ("model_type", "layer", "num_heads", "num_kv_heads",
                                     "head_dim", "causal", "tokens")} == {
            "model_type": family, "layer": str(layer.index), "num_heads": "4",
            "num_kv_heads": str(hk), "head_dim": "16", "causal": "1", "tokens": str(s)}
        assert float(meta["scale"]) == 0.25 * factor and float(meta["q_prescaled_by"]) == factor
        got = load_inputs(layer_params(4, hk, s, d), str(f))  # what `--qkv` reads
        assert got.rank4 and got.q.shape == (4, s, d) and got.k.shape == (hk, s, d)
        assert np.array_equal(got.q, layer.q[0]) and np.array_equal(got.v, layer.v[0])
        out = attention(layer_params(4, hk, s, d), got.q, got.k, got.v)
        want = heads_first(own["out"][layer.index], d)
        per_head(out, want, got.q, got.k, got.v, 1, f"{family} layer {layer.index}")
        if layer.index == 0:
            per_head(out, heads_first(eager["out"][0], d), got.q, got.k, got.v, 1,
                     f"{family} layer 0 vs the eager implementation")

        # the comparison can fail: each of these mistakes moves the output far beyond the bound
        noncausal = attention(layer_params(4, hk, s, d, causal=0), got.q, got.k, got.v)
        assert far_off(noncausal, want, got.q, got.k, got.v), "causal mask"
        if factor != 1.0:
            unfolded = got.q / np.float32(factor)
            assert far_off(attention(layer_params(4, hk, s, d), unfolded, got.k, got.v), want,
                           unfolded, got.k, got.v), "scale"
        if family != "gpt2":
            q_pre = heads_first(own["q_pre"][layer.index], d)
            k_pre = heads_first(own["k_pre"][layer.index], d)
            pre = attention(layer_params(4, hk, s, d), q_pre, k_pre, got.v)
            assert far_off(pre, want, q_pre, k_pre, got.v), "rotary embedding"
            assert not np.allclose(q_pre, got.q)


def test_cli_capture_then_sattn_run(models, tmp_path: Path) -> None:
    """The command line on one layer and a prefix of the text, then ``sattn run --qkv`` on the
    RVV kernels: PASS against the reference, and the model's own (eager) output of layer 0
    within the bound."""
    model = models["llama"]
    proc = run_cmd([PY, "-m", "sattn", "capture", "--model", str(model), "--text",
                    str(text_file(models)), "--out", "cap", "--layers", "-2", "--max-tokens", "40"],
                   cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == f"capture: llama layers=0 tokens=40 (of {len(TEXT.encode())})"
    assert lines[1] == ("capture: layer_0.safetensors q[1, 4, 40, 16] k[1, 2, 40, 16] "
                        "v[1, 2, 40, 16] scale=0.25 causal=1")
    assert sorted(p.name for p in (tmp_path / "cap").iterdir()) == ["layer_0.safetensors",
                                                                     "manifest.json"]
    write_mlir(tmp_path / "dense.mlir", {"spec": "dense", "causal": 1, "seq_len": 40,
                                         "head_dim": 16, "num_heads": 4, "gqa_group_size": 2})
    proc = run_cmd([PY, "-m", "sattn", "run", "--mlir", "dense.mlir", "--backend", "rvv",
                    "--qkv", "cap/layer_0.safetensors", "--out", "out.npy"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"^compare: rvv vs reference .* -> PASS$", proc.stdout, re.MULTILINE)
    out = np.load(tmp_path / "out.npy")
    assert out.shape == (1, 4, 40, 16)
    own = eager_run(model, tokens(model, TEXT)[:, :40])
    q, k, v = (load_tensor(f"{tmp_path}/cap/layer_0.safetensors:{n}", n) for n in "qkv")
    per_head(out[0], heads_first(own["out"][0], 16), q[0], k[0], v[0], 1, "rvv vs the model")


def test_parse_layers() -> None:
    assert hf.parse_layers("all", 3) == [0, 1, 2] == hf.parse_layers(None, 3)
    assert hf.parse_layers("2, 0,-3", 3) == [0, 2] == hf.parse_layers([2, 0], 3)
    with pytest.raises(SattnError, match=r"--layers: 'x' is not a layer index"):
        hf.parse_layers("0,x", 3)
    with pytest.raises(SattnError, match=r"layer -4 does not exist; the model has 3 layers"):
        hf.parse_layers("-4", 3)


def test_bfloat16_capture(models, tmp_path: Path) -> None:
    """``--dtype bfloat16`` runs the model in bf16 and writes BF16 tensors, which sattn reads
    as float32 (exactly: every bf16 value is a float32)."""
    cap = hf.capture(models["qwen2"], text_file(models), tmp_path, layers=[0], dtype="bfloat16")
    header = tensorfile.read_header(tmp_path / "layer_0.safetensors", "t")
    assert {e.dtype for e in header.entries.values()} == {"BF16"}
    assert header.metadata["dtype"] == "bfloat16"
    q = load_tensor(tmp_path / "layer_0.safetensors", "--q", "q")
    assert np.array_equal(q, cap.layers[0].q.astype(np.float32))


def _bad_models(root: Path, models) -> dict[str, tuple[list[str], str]]:
    llama = models["llama"]
    (root / "empty").mkdir()
    (root / "bert").mkdir()
    (root / "bert" / "config.json").write_text('{"model_type": "bert", "architectures": ["BertModel"]}')
    (root / "bin").mkdir()
    (root / "bin" / "config.json").write_text((llama / "config.json").read_text())
    (root / "bin" / "pytorch_model.bin").write_bytes(b"\0")
    (root / "notok").mkdir()
    for name in ("config.json", "model.safetensors"):
        (root / "notok" / name).write_bytes((llama / name).read_bytes())
    (root / "empty.txt").write_text(" \n")
    (root / "afile").write_text("x")
    text = str(text_file(models))
    base = ["--text", text, "--out", str(root / "never")]
    return {
        "missing": (["--model", str(root / "nope"), *base], "directory not found"),
        "no_config": (["--model", str(root / "empty"), *base], "no config.json"),
        "arch": (["--model", str(root / "bert"), *base],
                 ("unsupported architecture model_type='bert' (BertModel); sattn capture "
                  "supports gpt2, llama, qwen2")),
        "bin": (["--model", str(root / "bin"), *base],
                "no .safetensors weights (found pytorch_model.bin"),
        "empty_text": (["--model", str(llama), "--text", str(root / "empty.txt"),
                        "--out", str(root / "never")], "the file is empty"),
        "layers": (["--model", str(llama), *base, "--layers", "0,5"],
                   "layer 5 does not exist; the model has 2 layers (0-1)"),
        "max_tokens": (["--model", str(llama), *base, "--max-tokens", "0"],
                       "--max-tokens must be a positive integer"),
        "out_file": (["--model", str(llama), "--text", text, "--out", str(root / "afile")],
                     "exists and is not a directory"),
        "tokenizer": (["--model", str(root / "notok"), *base], "cannot load its tokenizer"),
    }


def test_bad_input_is_one_line(models, tmp_path: Path) -> None:
    for case, (argv, needle) in _bad_models(tmp_path, models).items():
        proc = run_cmd([PY, "-m", "sattn", "capture", *argv])
        assert proc.returncode == 1, (case, proc.stderr)
        line = assert_one_line_error(proc, needle)
        assert line.startswith("sattn: error: "), line
        assert not (tmp_path / "never").exists(), case


def test_missing_extra_names_the_install_command(models, tmp_path: Path) -> None:
    code = ("import sys; sys.modules['transformers'] = None; from sattn.cli.main import main; "
            f"sys.exit(main(['capture', '--model', {str(models['llama'])!r}, '--text', "
            f"{str(text_file(models))!r}, '--out', {str(tmp_path / 'o')!r}]))")
    proc = run_cmd([PY, "-c", code])
    assert_one_line_error(proc, "needs the optional packages transformers, safetensors and torch",
                          "pip install transformers==5.23.0 safetensors==0.8.0 torch==2.13.0")
    with pytest.raises(SattnError, match="--dtype must be one of float32, bfloat16, float16"):
        hf.capture(models["llama"], text_file(models), tmp_path / "o", dtype="int8")
