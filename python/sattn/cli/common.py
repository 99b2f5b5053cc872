"""Shared plumbing for every command-line entry point: one-line errors, no tracebacks."""

from __future__ import annotations

import functools
import os
import sys
from typing import Callable

from sattn.errors import SattnError


def guarded(main: Callable[..., int | None]) -> Callable[..., int]:
    """Wrap a ``main``: SattnError -> one line on stderr and its exit code; Ctrl-C -> 130.

    Set ``SATTN_TRACEBACK=1`` to see the traceback of an unexpected error while debugging.
    """

    @functools.wraps(main)
    def wrapper(*args, **kwargs) -> int:
        prog = os.path.basename(sys.argv[0]) or "sattn"
        try:
            rc = main(*args, **kwargs)
            return int(rc or 0)
        except SattnError as e:
            print(f"{prog}: error: {e}", file=sys.stderr)
            return e.exit_code
        except KeyboardInterrupt:
            print(f"{prog}: interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:
            return 0
        except Exception as e:  # an internal bug: still one line unless asked for more
            if os.environ.get("SATTN_TRACEBACK"):
                raise
            print(f"{prog}: internal error: {type(e).__name__}: {e}", file=sys.stderr)
            return 2

    return wrapper


def run_main(main: Callable[..., int | None]) -> None:
    """``if __name__ == '__main__': run_main(main)`` for the launchers."""
    sys.exit(guarded(main)())
