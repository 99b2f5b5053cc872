"""Run the reference's independent query tiles on every core, with BLAS single-threaded meanwhile.

Why: NumPy's element-wise passes (mask, max, exp, sum) run on one core, and the BLAS calls of
a tile are small ([64 x 64] x [64 x ~900]) GEMMs that multi-threaded OpenBLAS splits badly;
when other processes share the cores its spinning worker threads degrade by 5-15x (measured:
sliding_window at S = 16384 attended in 0.42 s on a quiet 2-core machine and 3-10 s at load
average 4-6). Running one tile per Python thread (NumPy and BLAS release the GIL) with BLAS
limited to one thread uses both cores for every pass and degrades gracefully under load.

The BLAS thread count is set through the OpenBLAS that NumPy loaded (``ctypes``, the same
call ``threadpoolctl`` makes, without the dependency) and restored afterwards. When no
OpenBLAS control is found the tiles run in the calling thread (no oversubscription).
``SATTN_REFERENCE_THREADS=N`` overrides the worker count (1 = serial, BLAS untouched).
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

import numpy  # noqa: F401  (its BLAS must be loaded before /proc/self/maps is read)

T = TypeVar("T")

# (get, set) symbol pairs of the OpenBLAS builds NumPy ships or links against
_SYMBOLS = (
    ("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
    ("scipy_openblas_get_num_threads", "scipy_openblas_set_num_threads"),
    ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
    ("openblas_get_num_threads", "openblas_set_num_threads"),
)

_lock = threading.Lock()
_active = 0  # callers currently inside single_threaded_blas()
_saved: list[int] = []
_controls: list | None = None


def _loaded_openblas() -> list[str]:
    """Paths of the OpenBLAS libraries mapped into this process (Linux: /proc/self/maps)."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "openblas" in line.lower()}
    except OSError:
        return []
    return sorted(p for p in paths if p.startswith("/"))


def _find_controls() -> list:
    """[(get, set)] ctypes functions of every loaded OpenBLAS (cached)."""
    global _controls
    if _controls is None:
        found = []
        for path in _loaded_openblas():
            try:
                lib = ctypes.CDLL(path)
            except OSError:
                continue
            for get_name, set_name in _SYMBOLS:
                if hasattr(lib, get_name) and hasattr(lib, set_name):
                    get, put = getattr(lib, get_name), getattr(lib, set_name)
                    get.restype, get.argtypes = ctypes.c_int, []
                    put.restype, put.argtypes = None, [ctypes.c_int]
                    found.append((get, put))
                    break
        _controls = found
    return _controls


def limit_blas(threads: int = 1) -> None:
    """Limit every loaded OpenBLAS to ``threads`` threads for the rest of the process (a
    sweep's worker processes: several workers on few cores would oversubscribe them)."""
    for _, put in _find_controls():
        put(threads)


def workers() -> int:
    """Threads the reference uses: SATTN_REFERENCE_THREADS, else the usable cores when the
    BLAS thread count can be controlled, else 1."""
    env = os.environ.get("SATTN_REFERENCE_THREADS")
    if env and env.strip().isdigit() and int(env) > 0:
        return int(env)
    if not _find_controls():
        return 1
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Limit the loaded OpenBLAS to one thread inside the block (re-entrant, thread-safe:
    the first caller in saves the counts, the last one out restores them)."""
    global _active
    controls = _find_controls()
    with _lock:
        if _active == 0:
            _saved[:] = [get() for get, _ in controls]
            for _, put in controls:
                put(1)
        _active += 1
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0:
                for (_, put), n in zip(controls, _saved):
                    put(n)


def parallel_map(fn: Callable[[T], None], items: Iterable[T]) -> None:
    """Call ``fn(item)`` for every item, on :func:`workers` threads (items are independent
    and write disjoint outputs). Exceptions propagate to the caller."""
    items = list(items)
    n = min(workers(), len(items))
    if n <= 1:
        for it in items:
            fn(it)
        return
    with single_threaded_blas(), ThreadPoolExecutor(n, thread_name_prefix="sattn-ref") as ex:
        try:
            for _ in ex.map(fn, items):  # consumes results: re-raises the first exception
                pass
        except BaseException:
            # an error, Ctrl-C or SIGTERM: drop the queued tiles, wait only for running ones
            ex.shutdown(wait=True, cancel_futures=True)
            raise
