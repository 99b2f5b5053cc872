"""The worker of the whole-range fuzz test (``test_fuzz_tools.py``): runs the tools' ``main``
functions in this one process (imports paid once), one JSON request per stdin line, one JSON
reply per stdout line. It first limits its own address space (RLIMIT_AS, the bytes in
``argv[1]``; the qemu and Verilator processes the tools start inherit it), and the test kills it
when a request does not answer in time, so a traceback, a kill and a hang are all visible.

Request: ``{"tool": "opt", "argv": [...], "env": {...}, "cwd": "..."}``; reply: ``{"rc": int or
"crash", "stdout": "...", "stderr": "..."}``.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import sys
import traceback

#: tool -> (program name on its error lines, module, function taking argv)
TOOLS: dict[str, tuple[str, str, str]] = {
    "opt": ("sattn-opt", "sattn.tools.opt", "main"),
    "sattn": ("sattn", "sattn.cli.main", "main"),
    "run_rvv": ("sattn_run_rvv_from_mlir.py", "sattn.tools.run_rvv", "main"),
    "compile_and_sim": ("sattn_compile_and_sim.py", "sattn.tools.compile_and_sim", "main"),
    "emit": ("sattn_emit_artifacts.py", "sattn.tools.emit_artifacts", "main"),
    "calibrate": ("sattn_calibrate_scales.py", "sattn.tools.calibrate_scales", "main"),
    "profile": ("sattn_profile.py", "sattn.tools.profile", "main"),
}


def handle(req: dict) -> dict:
    from sattn import errors

    prog, module, func = TOOLS[req["tool"]]
    main = getattr(importlib.import_module(module), func)
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    os.environ.update(req.get("env", {}))
    os.chdir(req.get("cwd", saved_cwd))
    errors._NOTED.clear()  # notes are once per process: here once per request
    out, err = io.StringIO(), io.StringIO()
    sys.argv = [prog, *req["argv"]]
    rc: int | str
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                rc = main(list(req["argv"]))
            except SystemExit as e:  # argparse usage errors
                rc = e.code if isinstance(e.code, int) else 1
    except BaseException:  # noqa: BLE001 - a tool must never raise: report it as a crash
        rc = "crash"
        err.write(traceback.format_exc())
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    return {"rc": rc, "stdout": out.getvalue(), "stderr": err.getvalue()}


def serve() -> None:
    real_out = sys.stdout
    for line in sys.stdin:
        reply = handle(json.loads(line))
        real_out.write(json.dumps(reply) + "\n")
        real_out.flush()


if __name__ == "__main__":
    import resource

    # argv[1]: the address-space limit in bytes, for this process and every tool it starts
    limit = int(sys.argv[1])
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    serve()
