"""The guard of every program entry point: a :class:`~sattn.errors.SattnError` becomes one
line on stderr and its exit code, Ctrl-C and SIGTERM a clean stop, an internal error one line.

It sits at the bottom of the layers (it needs only :mod:`sattn.errors`) so that the entry
points of lower modules (``python -m sattn.backends.rocc.build``) use the same guard as the
command-line tools (:mod:`sattn.cli.common` re-exports it) without importing upwards.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
import threading
from collections.abc import Callable

from sattn.errors import SattnError, Terminated


def guarded(main: Callable[..., int | None]) -> Callable[..., int]:
    """Wrap a ``main``: SattnError -> one line on stderr and its exit code; Ctrl-C -> 130;
    SIGTERM (``kill``, ``timeout``) -> the same clean stop as Ctrl-C, exit 143 (128 + 15).

    On either signal the running tool's process group is killed and scratch directories are
    removed (:mod:`sattn.toolrun`) before the one line is printed.
    Set ``SATTN_TRACEBACK=1`` to see the traceback of an unexpected error while debugging.
    """

    @functools.wraps(main)
    def wrapper(*args, **kwargs) -> int:
        prog = prog_name()
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


def prog_name() -> str:
    """The command's name for error lines: ``python -m sattn`` runs ``sattn/__main__.py``."""
    base = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return "sattn" if base in ("", "__main__.py", "-c", "-m") else base


__all__ = ["guarded", "prog_name"]
