"""``sattn`` — the front door. Each subcommand lives in its own module under ``sattn.cli``
and exposes ``add_arguments(parser)`` and ``execute(args) -> int``; this file only dispatches."""

from __future__ import annotations

import argparse
import importlib
import sys

from sattn.cli.parser import ArgumentParser
from sattn.guard import guarded

#: subcommand -> (module, one-line help). Modules are imported only when their command runs.
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("sattn.cli.run", "run an MLIR attention op on a backend and compare with the reference"),
    "opt": ("sattn.tools.opt", "sattn-opt: parse, verify and lower MLIR"),
    "calibrate": ("sattn.tools.calibrate_scales", "derive i8/i4 scales from data"),
    "emit": ("sattn.tools.emit_artifacts", "write the index table (.txt) and descriptor (.desc)"),
    "profile": ("sattn.tools.profile", "run backends and print their counters as one table"),
    "sweep": ("sattn.cli.sweep", "measure the selector's choices over a grid of shapes"),
    "show": ("sattn.cli.show", "draw the selected query-by-key pattern"),
    "synth": ("sattn.cli.synth", "synthesise the RoCC accelerator: area and Fmax per unit"),
    "capture": ("sattn.cli.capture", "write the Q, K, V a local Hugging Face model's attention sees"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="sattn", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_) in COMMANDS.items():
        sub.add_parser(name, help=help_, add_help=False)
    return parser


@guarded
def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        parser = build_parser()
        if argv and argv[0] not in ("-h", "--help"):
            parser.error(f"unknown command '{argv[0]}' (choose from {', '.join(COMMANDS)})")
        parser.print_help()
        return 0 if argv else 2
    module = importlib.import_module(COMMANDS[argv[0]][0])
    sub = ArgumentParser(prog=f"sattn {argv[0]}", description=COMMANDS[argv[0]][1])
    module.add_arguments(sub)
    args = sub.parse_args(argv[1:])
    return module.execute(args)


if __name__ == "__main__":
    sys.exit(main())
