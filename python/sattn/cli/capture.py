"""``sattn capture``: write the Q, K, V a local Hugging Face model's attention layers see, as
``.safetensors`` files ``sattn run --qkv`` (and every tool's ``--qkv``) reads. The work is
:func:`sattn.interop.hf.capture`."""

from __future__ import annotations

import argparse

from sattn.interop.hf import DTYPES, FAMILIES, capture


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, metavar="DIR",
                        help=f"a local Hugging Face model directory ({', '.join(sorted(FAMILIES))}; "
                             "config.json, .safetensors weights, a tokenizer); nothing is downloaded")
    parser.add_argument("--text", required=True, metavar="FILE", help="UTF-8 text to run the model on")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="write layer_<n>.safetensors (q, k, v) and manifest.json here")
    parser.add_argument("--layers", default="all",
                        help="layers to capture: comma-separated indices (e.g. 0,3,5; negative "
                             "from the end) or all (default)")
    parser.add_argument("--max-tokens", type=int, default=None, metavar="N",
                        help="keep the first N tokens of the text (default: the model's context length)")
    parser.add_argument("--dtype", default="float32", choices=DTYPES,
                        help="run the model and write the tensors in this dtype (default float32)")


def execute(args: argparse.Namespace) -> int:
    result = capture(args.model, args.text, args.out, layers=args.layers,
                     max_tokens=args.max_tokens, dtype=args.dtype)
    for line in result.lines():
        print(line)
    return 0
