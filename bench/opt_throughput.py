#!/usr/bin/env python3
"""sattn-opt throughput: 10,000 mixed sattn.sparse_attention ops through both pipelines.

Prints ops/second for a bare xDSL parse+print of the module, for sattn-opt's parse+verify
(no passes), and for each pipeline (parse, verify, lower, print), with the ratio to the bare
parse+print; then the launcher's cold start on a one-op file. Targets (issue 2): pipeline
cost <= 3x bare parse+print; cold start < 0.5 s. Figures are measured here, nothing modelled.

    python bench/opt_throughput.py [--ops 10000] [--repeat 1]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from io import StringIO
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python"))

from sattn.guard import guarded

LAUNCHER = REPO / "build" / "mlir" / "tools" / "sattn-opt" / "sattn-opt"

# A mix over every selection rule, precisions, GQA, compression and window variants.
TEMPLATES = (
    "window_size = {a} : i64, tile_D = 32 : i64, tile_S = 128 : i64",
    "global_tokens = {b} : i64, block_size = 64 : i64, tile_M = 16 : i64, tile_D = 32 : i64, tile_S = 128 : i64",
    "nm_n = 2 : i64, nm_m = 4 : i64, tile_S = 128 : i64, precision = \"bf16\"",
    "topk_k = {a} : i64, gqa_group_size = 2 : i64, num_heads = 4 : i64, seq_len = 128 : i64",
    "lsh_buckets = {b} : i64, seq_len = 256 : i64, head_dim = 32 : i64",
    "keep_ratio = 0.25 : f64, block_size = 32 : i64, window_size = {a} : i64",
    "precision = \"i8\", scale_q = 0.05 : f32, scale_k = 0.05 : f32, scale_v = 0.05 : f32, window_size = {a} : i64, tile_D = 32 : i64, tile_S = 128 : i64",
    "num_landmarks = 16 : i64, landmark_iters = {b} : i64",
    "keep_ratio = 0.5 : f64, block_size = 16 : i64, comp_block_size = 4 : i64, gqa_group_size = 2 : i64, num_heads = 2 : i64, tile_S = 128 : i64",
    "window_size = {a} : i64, dilation = 2 : i64, wrap = 1 : i64, causal = 1 : i64, tile_S = 128 : i64",
)


def module_text(n: int) -> str:
    lines = ["module {"]
    for i in range(n):
        body = TEMPLATES[i % len(TEMPLATES)].format(a=1 + i % 16, b=1 + i % 8)
        lines.append(f'  "sattn.sparse_attention"() {{ {body} }} : () -> ()')
    lines.append("}")
    return "\n".join(lines) + "\n"


def bare_parse_print(text: str) -> float:
    """Plain xDSL: parse (sattn ops as unregistered ops) and print."""
    from xdsl.context import Context
    from xdsl.dialects.builtin import Builtin
    from xdsl.parser import Parser
    from xdsl.printer import Printer

    t0 = time.perf_counter()
    ctx = Context(allow_unregistered=True)
    ctx.load_dialect(Builtin)
    module = Parser(ctx, text, "bench.mlir").parse_module()
    Printer(stream=StringIO()).print_op(module)
    return time.perf_counter() - t0


def sattn_opt(text: str, pipeline: str | None) -> tuple[float, int]:
    """sattn-opt's work in process: parse, verify, the pipeline, print. (seconds, output bytes)."""
    from sattn.frontend import make_context, parse_module, run_pipeline
    from xdsl.printer import Printer

    t0 = time.perf_counter()
    ctx = make_context()
    module = parse_module(text, "bench.mlir", ctx=ctx)
    if pipeline:
        run_pipeline(module, pipeline, ctx)
    out = StringIO()
    Printer(stream=out).print_op(module)
    return time.perf_counter() - t0, len(out.getvalue())


def fresh_caches() -> None:
    """Drop the per-content caches so each measurement starts cold (as a new process would)."""
    from sattn.ir import dialect
    from sattn.transforms.common import reset_caches

    dialect._PARAMS_CACHE.clear()
    reset_caches()


def cold_start(path: Path, pipeline: str, runs: int = 5) -> float | None:
    if not LAUNCHER.exists():
        return None
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([str(LAUNCHER), str(path), "--allow-unregistered-dialect",
                        f"-pass-pipeline=builtin.module({pipeline})"],
                       check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


@guarded  # SattnError: one line; Ctrl-C / SIGTERM stop the tools it runs, scratch removed
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ops", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=1, help="take the best of N runs")
    args = ap.parse_args()

    text = module_text(args.ops)
    n = args.ops
    sattn_opt(module_text(10), "sattn-lower-rocc")  # import everything once, outside the timing

    bare = min(bare_parse_print(text) for _ in range(args.repeat))
    rows = [("bare xDSL parse+print", bare, len(text))]
    for label, pipeline in (("sattn-opt parse+verify+print", None),
                            ("sattn-lower-rvv", "sattn-lower-rvv"),
                            ("sattn-lower-rocc", "sattn-lower-rocc")):
        best = None
        for _ in range(args.repeat):
            fresh_caches()
            t, size = sattn_opt(text, pipeline)
            best = (t, size) if best is None or t < best[0] else best
        assert best is not None
        rows.append((label, best[0], best[1]))

    print(f"opt_throughput: {n} sattn.sparse_attention ops ({len(TEMPLATES)} attribute mixes), "
          f"input {len(text) / 1e6:.2f} MB")
    print(f"{'run':<32} {'seconds':>8} {'ops/s':>9} {'vs bare':>8} {'output MB':>10}")
    for label, t, size in rows:
        print(f"{label:<32} {t:>8.3f} {n / t:>9.0f} {t / bare:>7.2f}x {size / 1e6:>10.2f}")

    with tempfile.TemporaryDirectory(prefix="sattn-bench-") as d:
        one = Path(d) / "one.mlir"
        one.write_text(module_text(1))
        print(f"\nlauncher cold start, one op ({LAUNCHER.relative_to(REPO)}), median of 5:")
        for pipeline in ("sattn-lower-rvv", "sattn-lower-rocc"):
            t = cold_start(one, pipeline)
            shown = "launcher missing (make launcher)" if t is None else f"{t:.3f} s"
            print(f"  {pipeline:<18} {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
