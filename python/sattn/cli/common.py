"""Shared plumbing for every command-line entry point: one-line errors, no tracebacks, and
the common way a run's result is printed, saved and turned into an exit status."""

from __future__ import annotations

import argparse
import functools
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from sattn.errors import SattnError, Terminated

if TYPE_CHECKING:
    from sattn.result import RunResult


class ArgumentParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose usage errors are one line (``prog: error: ... (see
    --help)``, exit 2) instead of the usage block followed by the error."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def guarded(main: Callable[..., int | None]) -> Callable[..., int]:
    """Wrap a ``main``: SattnError -> one line on stderr and its exit code; Ctrl-C -> 130;
    SIGTERM (``kill``, ``timeout``) -> the same clean stop as Ctrl-C, exit 143 (128 + 15).

    On either signal the running tool's process group is killed and scratch directories are
    removed (:mod:`sattn.toolrun`) before the one line is printed.
    Set ``SATTN_TRACEBACK=1`` to see the traceback of an unexpected error while debugging.
    """

    @functools.wraps(main)
    def wrapper(*args, **kwargs) -> int:
        prog = _prog_name()
        restore = _catch_sigterm()
        try:
            rc = main(*args, **kwargs)
            return int(rc or 0)
        except SattnError as e:
            print(f"{prog}: error: {e}", file=sys.stderr)
            return e.exit_code
        except KeyboardInterrupt:
            print(f"{prog}: interrupted", file=sys.stderr)
            return 130
        except Terminated:
            print(f"{prog}: terminated", file=sys.stderr)
            return 143
        except BrokenPipeError:
            return 0
        except MemoryError as e:  # an estimate was too low: still one line, and say so
            if os.environ.get("SATTN_TRACEBACK"):
                raise
            print(f"{prog}: internal error: out of memory ({e}); the run's memory estimate "
                  "was too low, please report it", file=sys.stderr)
            return 2
        except Exception as e:  # an internal bug: still one line unless asked for more
            if os.environ.get("SATTN_TRACEBACK"):
                raise
            print(f"{prog}: internal error: {type(e).__name__}: {e}", file=sys.stderr)
            return 2
        finally:
            restore()

    return wrapper


def _catch_sigterm() -> Callable[[], None]:
    """Turn SIGTERM into :class:`Terminated` (once: a second one during the clean-up is
    ignored, so the clean-up finishes); returns the function that restores the old handler.
    Only the main thread can install handlers; elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise Terminated()

    old = signal.signal(signal.SIGTERM, handler)

    def restore() -> None:
        signal.signal(signal.SIGTERM, old)

    return restore


def _prog_name() -> str:
    """The command's name for error lines: ``python -m sattn`` runs ``sattn/__main__.py``."""
    base = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return "sattn" if base in ("", "__main__.py", "-c", "-m") else base


def error_line(message: str) -> str:
    """``<prog>: error: <message>``, the form of every error line (for tools that report
    several problems before exiting, such as ``sattn-opt --verify-diagnostics``)."""
    return f"{_prog_name()}: error: {message}"


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
    (one ``.safetensors`` file holding q, k and v); rank 3 or 4 (``[1, H, S, D]``)."""
    shape = {"q": "[H, S, D]", "k": "[H_kv, S, D]", "v": "[H_kv, S, D]"}
    for t in "qkv":
        parser.add_argument(
            f"--{t}", action=_TensorArgument, metavar="FILE",
            help=f"{t.upper()} as .npy or FILE.safetensors[:name], float {shape[t]} or "
                 f"[1, ...]" + (" (default: synthetic data)" if t == "q" else ""))
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
        from sattn.toolrun import check_output_path

        if not str(out).endswith((".npy", ".safetensors")):
            raise SattnError(f"{flag} {out}: the output file must end in .npy or .safetensors")
        check_output_path(out, flag)


def print_result(result: RunResult, *, density: bool = False) -> None:
    """Print ``spec=.. checksum=..`` (then, with ``density``, ``density=.. [selected_pairs=..]``)
    and the result's lines (the backend's counters and the verdict, when compared)."""
    print(f"spec={result.spec} checksum={result.checksum:.6f}")
    if density:
        pairs = result.counters.get("selected_pairs")
        print(f"density={result.density:.6f}" + (f" selected_pairs={pairs}" if pairs is not None else ""))
    for line in result.lines:
        print(line)


def finish(result: RunResult, out: str | None) -> int:
    """Write the output tensor to ``out`` when given (float32, in the rank of Q; ``.npy``, or
    ``.safetensors`` with the tensor ``out``; atomically: never half-written); the exit status
    is 1 when the result was compared and failed, else 0."""
    if out:
        import io

        import numpy as np

        from sattn.toolrun import atomic_write

        output = np.asarray(result.output, dtype=np.float32)
        if str(out).endswith(".safetensors"):
            from sattn.reference import tensorfile

            tensorfile.save(out, {"out": output}, {"spec": str(result.spec)})
        else:
            buf = io.BytesIO()
            np.save(buf, output)
            atomic_write(out, buf.getvalue())
    return 1 if result.verdict is not None and not result.verdict.passed else 0


def report(result: RunResult, out: str | None, *, density: bool = False) -> int:
    """The tail of every run command: :func:`print_result`, then :func:`finish`."""
    print_result(result, density=density)
    return finish(result, out)
