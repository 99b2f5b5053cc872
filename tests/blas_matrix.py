"""Run the test suite under several OpenBLAS kernels and thread counts (``make test-blas``).

The suite must not depend on which GEMM kernel OpenBLAS picks for the CPU, nor on its thread
count (docs/precision.md, "Tolerance policy"). This runs pytest once per configuration:
``OPENBLAS_CORETYPE`` unset and forced to other kernels, and ``OPENBLAS_NUM_THREADS`` 1 and 2.
Before each run it asks the OpenBLAS that NumPy loads under that environment which kernel it
took (OpenBLAS ignores an unknown or unsupported core type and falls back silently, so the
name asked for is not proof). One line per configuration, then a summary; exit 1 if any run
failed.

    python tests/blas_matrix.py [--cores ,Haswell,SandyBridge,Prescott] [--threads 1,2]
                                [-- PYTEST ARGS]   (default: -q -n 2 tests)
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time

PROBE = r"""
import ctypes, numpy
from sattn.reference.threads import _loaded_openblas
lib = ctypes.CDLL(_loaded_openblas()[0])
core, threads = "unknown", "?"
for suffix in ("scipy_openblas_%s64_", "scipy_openblas_%s", "openblas_%s64_", "openblas_%s"):
    if hasattr(lib, suffix % "get_corename"):
        f = getattr(lib, suffix % "get_corename")
        f.restype = ctypes.c_char_p
        core, threads = f().decode(), getattr(lib, suffix % "get_num_threads")()
        break
print(f"{core}, {threads} threads")
"""


def configs(cores: list[str], threads: list[str]) -> list[dict[str, str]]:
    """Core types at the default thread count, then thread counts at the default core type."""
    out = [{"OPENBLAS_CORETYPE": c} if c else {} for c in cores]
    out += [{"OPENBLAS_NUM_THREADS": t} for t in threads]
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    extra = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cores", default=",Haswell,SandyBridge,Prescott",
                    help="comma-separated OPENBLAS_CORETYPE values ('' = unset)")
    ap.add_argument("--threads", default="1,2", help="comma-separated OPENBLAS_NUM_THREADS values")
    args = ap.parse_args(argv)
    pytest_args = extra or ["-q", "-n", "2", "-p", "no:cacheprovider", "tests"]
    base = {k: v for k, v in os.environ.items()
            if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS")}
    base.setdefault("SATTN_REQUIRE_TOOLS", "1")
    results = []
    for cfg in configs(args.cores.split(","), [t for t in args.threads.split(",") if t]):
        env = {**base, **cfg}
        label = " ".join(f"{k}={v}" for k, v in cfg.items()) or "OPENBLAS_CORETYPE unset"
        core = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                              text=True, check=False).stdout.strip() or "?"
        print(f"blas-matrix: {label}: OpenBLAS {core}; pytest {' '.join(pytest_args)}",
              flush=True)
        t0 = time.time()
        proc = subprocess.run([sys.executable, "-m", "pytest", *pytest_args], env=env,
                              capture_output=True, text=True, check=False)
        tail = [ln for ln in proc.stdout.splitlines() if ln.strip()]
        summary = next((ln.strip("= ") for ln in reversed(tail)
                        if re.search(r"\d+ (passed|failed|error)", ln)), "no summary")
        failed = [ln for ln in tail if ln.startswith(("FAILED", "ERROR"))]
        results.append((label, core, proc.returncode, summary))
        print(f"blas-matrix: {label}: {summary} ({time.time() - t0:.0f} s)", flush=True)
        for ln in failed:
            print(f"blas-matrix:   {ln}", flush=True)
    print("blas-matrix summary:")
    for label, core, rc, summary in results:
        print(f"  {label:<28} OpenBLAS {core:<22} rc={rc} {summary}")
    return 0 if all(rc == 0 for _, _, rc, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
