"""``sattn-opt``: parse, verify and transform MLIR with the sattn dialect and passes.

    sattn-opt input.mlir --allow-unregistered-dialect -pass-pipeline='builtin.module(sattn-lower-rvv)'
    cat input.mlir | sattn-opt -pass-pipeline='builtin.module(sattn-select-spec,sattn-tile)' -o out.mlir

``--explain-selection`` prints the selector's reasoning for every ``sattn.sparse_attention``
to stderr. ``--split-input-file`` handles ``// -----`` separated chunks one by one.
``--verify-diagnostics`` means what it means in mlir-opt: the diagnostics each chunk produces
(errors and warnings) are matched against its ``// expected-error {{...}}`` /
``// expected-warning {{...}}`` comments (``@+N``, ``@-N``, ``@above``, ``@below``,
``@unknown``; see :mod:`sattn.diagnostics`); the exit status is 0 only when every expected
diagnostic appeared and no other did, otherwise each one missing or unexpected is an error line
and the exit status is 1. Attributes ``sattn.sparse_attention`` does not know are kept with a
warning; ``--strict-attributes`` makes them errors.
Errors: one line ``sattn-opt: error: <file>:<line>:<col>: <message>``, exit 1, and no output
file is written.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from io import StringIO

from xdsl.printer import Printer

from sattn.cli.common import add_strict_attributes, error_line, guarded
from sattn.cli.parser import ArgumentParser
from sattn.diagnostics import collecting, expectations, from_error, verify
from sattn.errors import SattnError
from sattn.frontend import edge_hints, make_context, parse_module, read_source, run_pipeline
from sattn.ir.dialect import SparseAttentionOp, location_of
from sattn.selector import Hints
from sattn.toolrun import atomic_write, check_output_path
from sattn.transforms import PASSES, PIPELINES, build_pipeline
from sattn.transforms.common import attention_ops, decision_for, params_of
from sattn.transforms.select_spec import SelectSpecPass

SPLIT_MARKER = re.compile(r"^// -----\s*$", re.MULTILINE)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Command-line options (shared by ``sattn-opt`` and ``sattn opt``)."""
    parser.add_argument("input", nargs="?", default="-", help="MLIR file (default: stdin)")
    parser.add_argument(
        "-p", "-pass-pipeline", "--pass-pipeline", dest="pipeline", default="",
        metavar="PIPELINE",
        help="passes to run, e.g. 'builtin.module(sattn-lower-rvv)' or 'sattn-select-spec,sattn-tile'",
    )
    parser.add_argument(
        "-allow-unregistered-dialect", "--allow-unregistered-dialect", dest="allow_unregistered",
        action="store_true", help="accept operations of dialects sattn-opt does not know",
    )
    parser.add_argument("-o", "--output", default="-", metavar="FILE",
                        help="output file, written atomically (default: stdout)")
    parser.add_argument("--explain-selection", action="store_true",
                        help="print the selector's decision for every sattn.sparse_attention (stderr)")
    parser.add_argument("--split-input-file", "-split-input-file", action="store_true",
                        help="process '// -----' separated chunks independently")
    parser.add_argument("--verify-diagnostics", "-verify-diagnostics", action="store_true",
                        help="check the diagnostics against the input's expected-error/-warning "
                             "comments; exit 1 on a missing or unexpected one")
    parser.add_argument("--print-op-generic", "-print-op-generic", action="store_true",
                        help="print every operation in the generic form")
    parser.add_argument("--list-passes", action="store_true", help="list the passes and pipelines and exit")
    add_strict_attributes(parser)
    hints = parser.add_argument_group("selector hints (same as the SATTN_* environment variables)")
    hints.add_argument("--prefer-bsr", action="store_true", help="SATTN_PREFER_BSR=1")
    hints.add_argument("--prefer-sw", action="store_true", help="SATTN_PREFER_SW=1")
    hints.add_argument("--l1-bytes", type=int, metavar="N", help="SATTN_HW_L1_BYTES=N")
    hints.add_argument("--force-spec", metavar="SPEC", help="SATTN_FORCE_SPEC=SPEC")


def _chunks(text: str, split: bool) -> list[tuple[str, int]]:
    """(chunk text, line number of its first line)."""
    if not split:
        return [(text, 1)]
    out, start, line = [], 0, 1
    for m in SPLIT_MARKER.finditer(text):
        out.append((text[start:m.start()], line))
        line += text.count("\n", start, m.end()) + 1
        start = m.end() + 1
    out.append((text[start:], line))
    return out


def _selection_hints(pipeline: str | None, edge: Hints) -> Hints:
    """The hints the pipeline's own select-spec pass will use (its options, the pipeline's
    default target, the edge's), else the edge's."""
    stack = list(build_pipeline(pipeline, hints=edge)) if pipeline else []
    while stack:
        p = stack.pop(0)
        if isinstance(p, SelectSpecPass):
            return p.hints()
        stack[:0] = list(getattr(p, "passes", lambda: ())())
    return edge


def _explain(module, pipeline: str | None, edge: Hints) -> str:
    hints = _selection_hints(pipeline, edge)
    parts = []
    for i, op in enumerate(attention_ops(module, (SparseAttentionOp,))):
        where = location_of(op) or f"op #{i}"
        parts.append(f"{where}: sattn.sparse_attention\n{decision_for(params_of(op), hints).explain()}")
    return "\n".join(parts) + ("\n" if parts else "")


def _process(text: str, name: str, first_line: int, args: argparse.Namespace) -> str:
    ctx = make_context(allow_unregistered=args.allow_unregistered)
    module = parse_module(text, name, ctx=ctx, first_line=first_line,
                          strict_attributes=args.strict_attributes)
    if args.explain_selection:
        sys.stderr.write(_explain(module, args.pipeline, args.hints))
    if args.pipeline:
        run_pipeline(module, args.pipeline, ctx, args.hints)
    out = StringIO()
    Printer(stream=out, print_generic_format=args.print_op_generic).print_op(module)
    out.write("\n")
    return out.getvalue()


def _verify_chunk(chunk: str, name: str, first_line: int,
                  args: argparse.Namespace) -> tuple[str | None, list[str]]:
    """(printed module or None when the chunk failed, the mismatches between the chunk's
    ``expected-*`` comments and the diagnostics it produced)."""
    expected = expectations(chunk, first_line, name)
    with collecting() as produced:
        try:
            out: str | None = _process(chunk, name, first_line, args)
        except SattnError as e:
            out = None
            produced.append(from_error(e))
    return out, verify(expected, produced, name)


def execute(args: argparse.Namespace) -> int:
    """Run sattn-opt on parsed arguments: the command-line edge, where the spec's environment
    variables and the hint flags become the passes' hints (read once, written nowhere)."""
    if args.list_passes:
        for name in PASSES:
            print(f"{name}: " + ", ".join(PIPELINES[name]) if name in PIPELINES else name)
        return 0
    if args.l1_bytes is not None and args.l1_bytes <= 0:
        raise SattnError(f"--l1-bytes expects a positive integer, got {args.l1_bytes}")
    args.hints = edge_hints(os.environ, prefer_bsr=args.prefer_bsr, prefer_sw=args.prefer_sw,
                            l1_bytes=args.l1_bytes, force_spec=args.force_spec)
    return _run(args)


def _run(args: argparse.Namespace) -> int:
    if args.output != "-":
        check_output_path(args.output, "-o")  # a bad output path fails before any work
    if args.pipeline:
        build_pipeline(args.pipeline)  # unknown pass names fail before any work is done
    text, name = read_source(args.input)
    results, problems = [], []
    for chunk, first_line in _chunks(text, args.split_input_file):
        if args.verify_diagnostics:
            out, found = _verify_chunk(chunk, name, first_line, args)
            problems += found
            if out is not None:
                results.append(out)
        else:
            results.append(_process(chunk, name, first_line, args))
    if problems:  # like mlir-opt: every mismatch is reported; no output is written
        sys.stderr.write("".join(error_line(p) + "\n" for p in problems))
        return 1
    output = "// -----\n".join(results)
    if args.output == "-":
        sys.stdout.write(output)
    else:
        atomic_write(args.output, output)
    return 0


@guarded
def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``sattn-opt`` console script and launcher."""
    parser = ArgumentParser(prog="sattn-opt", description=__doc__.split("\n")[0])
    add_arguments(parser)
    return execute(parser.parse_args(argv))


if __name__ == "__main__":  # `python -m sattn.tools.opt` (the launcher): errors say sattn-opt
    sys.argv[0] = "sattn-opt"
    sys.exit(main())
