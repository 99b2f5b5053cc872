"""Shared plumbing for every command-line entry point: one-line errors, no tracebacks, and
the common way a run's result is printed, saved and turned into an exit status."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from sattn.errors import SattnError
from sattn.guard import guarded, prog_name
from sattn.ir.schema import SPECS
from sattn.reference import tensorfile
from sattn.specs import pattern_of
from sattn.toolrun import check_output_path

if TYPE_CHECKING:
    from sattn.result import RunResult


def error_line(message: str) -> str:
    """``<prog>: error: <message>``, the form of every error line (for tools that report
    several problems before exiting, such as ``sattn-opt --verify-diagnostics``)."""
    return f"{prog_name()}: error: {message}"


def run_main(main: Callable[..., int | None]) -> None:
    """``if __name__ == '__main__': run_main(main)`` for the launchers."""
    sys.exit(guarded(main)())


def add_strict_attributes(parser: argparse.ArgumentParser, help: str | None = None) -> None:
    """``--strict-attributes``, the same on every tool: an attribute of
    ``sattn.sparse_attention`` that nothing reads is an error instead of a warning
    (:func:`sattn.frontend.check_unknown_attributes`)."""
    parser.add_argument(
        "--strict-attributes", "-strict-attributes", dest="strict_attributes",
        action="store_true",
        help=help or "treat attributes sattn.sparse_attention does not know as errors "
                     "(default: keep them, one warning each)",
    )


class _TensorArgument(argparse.Action):
    """``--q/--k/--v FILE`` and ``--qkv FILE``: ``--qkv`` gives all three (it is passed on as
    ``q`` alone, :func:`sattn.reference.data.load_inputs`), so it excludes the other three."""

    def __call__(self, parser, namespace, values, option_string=None):
        if self.dest == "qkv":
            clash = next((f"--{t}" for t in ("q", "k", "v") if getattr(namespace, t, None)), None)
        else:
            clash = "--qkv" if getattr(namespace, "qkv", None) else None
        if clash:
            parser.error(f"{option_string} and {clash} exclude each other (--qkv FILE gives "
                         "Q, K and V)")
        setattr(namespace, self.dest, values)
        if self.dest == "qkv":
            namespace.q = values


def add_tensor_arguments(parser: argparse.ArgumentParser) -> None:
    """``--q/--k/--v`` (each a ``.npy`` file or ``FILE.safetensors[:name]``) or ``--qkv``
    (one ``.safetensors`` file holding q, k and v); rank 3 or 4 (``[B, H, S, D]``)."""
    shape = {"q": "[H, Sq, D]", "k": "[H_kv, Skv, D]", "v": "[H_kv, Skv, Dv]"}
    for t in "qkv":
        parser.add_argument(
            f"--{t}", action=_TensorArgument, metavar="FILE",
            help=f"{t.upper()} as .npy or FILE.safetensors[:name], float {shape[t]} or "
                 f"[B, ...]" + (" (default: synthetic data)" if t == "q" else ""))
    parser.add_argument("--qkv", action=_TensorArgument, metavar="FILE",
                        help="Q, K and V as the tensors q, k, v of one .safetensors file "
                             "(what `sattn capture` writes)")


def add_input_arguments(parser: argparse.ArgumentParser) -> None:
    """:func:`add_tensor_arguments` (else the synthetic data of ``--seed``) and ``--op``."""
    add_tensor_arguments(parser)
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic data (default 0)")
    parser.add_argument("--op", type=int, default=None, help="which attention op when there are several")


def check_npy_out(out: str | None, flag: str = "--out") -> None:
    """Reject, before any work is done, an ``--out`` that is not a ``.npy`` or ``.safetensors``
    file or whose directory does not exist."""
    if out:
        if not str(out).endswith((".npy", ".safetensors")):
            raise SattnError(f"{flag} {out}: the output file must end in .npy or .safetensors")
        check_output_path(out, flag)


def pairs_note(spec: str | None) -> str | None:
    """What ``selected_pairs``/``density`` count for ``spec`` when it is not one key set per row
    (:attr:`sattn.specs.pattern.Pattern.pairs_note`), else None."""
    return pattern_of(spec).pairs_note if spec in SPECS else None


def print_result(result: RunResult, *, density: bool = False) -> None:
    """Print ``spec=.. checksum=..`` (then, with ``density``, ``density=.. [selected_pairs=..]``)
    and the result's lines (the backend's counters and the verdict, when compared)."""
    print(f"spec={result.spec} checksum={result.checksum:.6f}")
    if density:
        pairs = result.counters.get("selected_pairs")
        note = pairs_note(result.spec)
        print(f"density={result.density:.6f}" + (f" selected_pairs={pairs}" if pairs is not None else "")
              + (f" ({note})" if note else ""))
    for line in result.lines:
        print(line)


def finish(result: RunResult, out: str | None) -> int:
    """Write the output tensor to ``out`` when given (float32, in the rank of Q; ``.npy``, or
    ``.safetensors`` with the tensor ``out``; atomically: never half-written); the exit status
    is 1 when the result was compared and failed, else 0."""
    if out:
        tensorfile.save_output(out, result.output, {"spec": str(result.spec)})
    return 1 if result.verdict is not None and not result.verdict.passed else 0


def report(result: RunResult, out: str | None, *, density: bool = False) -> int:
    """The tail of every run command: :func:`print_result`, then :func:`finish`."""
    print_result(result, density=density)
    return finish(result, out)
