"""Every command in README.md and docs/**/*.md runs, and prints what the doc says it prints.

Convention (docs/tools.md): in a ```console block a line starting with ``$ `` is a bash command
(a trailing ``\\`` continues it); the lines after it up to the next ``$ `` are expected output,
each matching an output line in order (``...`` matches anything). A ```python block runs as a
script. A command ending in ``# notest: reason`` is skipped. Commands run in a scratch
directory mirroring the repository, where ``input.mlir`` is ``examples/input.mlir``; ``python``
is the project's interpreter, and so is the spec's ``/opt/venv/bin/python`` (the spec author's
own venv, which the set-up never touches: README "Set-up").
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import need_tool
from fd_util import PY, REPO, run_cmd

DOCS = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
#: The interpreter the spec's command lines name (its author's venv).
SPEC_PYTHON = "/opt/venv/bin/python"
FENCE = re.compile(r"^```(\w*)\s*$")


@dataclass
class Snippet:
    doc: Path
    line: int
    kind: str  # "console" | "python"
    code: str
    expect: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"{self.doc.relative_to(REPO)}:{self.line}"


def snippets(doc: Path) -> list[Snippet]:
    """The runnable snippets of one markdown file."""
    out: list[Snippet] = []
    lines = doc.read_text().splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        kind, start = m.group(1), i + 1
        j = start
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        body = lines[start:j]
        if kind == "python":
            out.append(Snippet(doc, start + 1, "python", "\n".join(body)))
        elif kind == "console":
            cur: Snippet | None = None
            for n, text in enumerate(body):
                if text.startswith("$ "):
                    cur = Snippet(doc, start + n + 1, "console", text[2:])
                    out.append(cur)
                elif cur is not None and cur.code.endswith("\\"):
                    cur.code = cur.code[:-1] + " " + text.strip()
                elif cur is not None and text.strip():
                    cur.expect.append(text)
        i = j + 1
    return [s for s in out if "# notest" not in s.code]


ALL = [s for d in DOCS for s in snippets(d)]


def _pattern(expected: str) -> re.Pattern:
    parts = [re.escape(p) for p in expected.strip().split("...")]
    return re.compile(".*".join(parts))


def check_output(output: str, expect: list[str]) -> None:
    """Each expected line matches some output line, in order."""
    lines = output.splitlines()
    pos = 0
    for want in expect:
        pat = _pattern(want)
        while pos < len(lines) and not pat.search(lines[pos]):
            pos += 1
        assert pos < len(lines), f"expected a line matching {want!r} in:\n{output}"
        pos += 1


def make_sandbox(d: Path) -> Path:
    """``d`` made a directory mirroring the repository top level (symlinks), plus input.mlir."""
    for entry in REPO.iterdir():
        if entry.name not in (".git",):
            (d / entry.name).symlink_to(entry)
    (d / "input.mlir").symlink_to(REPO / "examples" / "input.mlir")
    return d


def test_spec_python_lines_run_with_the_project_python() -> None:
    """The README shows a spec command line verbatim (``/opt/venv/bin/python ...``) and the
    set-up never creates or repoints /opt/venv (nothing outside the checkout)."""
    readme = [s for s in ALL if s.doc.name == "README.md"]
    assert any(s.code.startswith(SPEC_PYTHON + " ") for s in readme)
    makefile = (REPO / "Makefile").read_text()
    assert "/opt/venv" not in "".join(ln for ln in makefile.splitlines(keepends=True)
                                      if not ln.lstrip().startswith("#"))


def test_snippets_found() -> None:
    """The extractor sees the README's tour (so a broken fence cannot silently skip it)."""
    readme = [s for s in ALL if s.doc.name == "README.md"]
    assert sum(s.kind == "console" for s in readme) >= 8
    assert sum(s.kind == "python" for s in readme) >= 2
    assert any("sattn_run_rvv_from_mlir.py" in s.code for s in readme)


def run_snippet(snip: Snippet, sandbox: Path) -> None:
    """Run one snippet in ``sandbox`` and check its exit status and expected output."""
    if snip.kind == "python":
        script = sandbox / f"snippet_{snip.line}.py"
        script.write_text(snip.code + "\n")
        proc = run_cmd([PY, str(script)], cwd=sandbox)
    else:
        env = {"PATH": f"{Path(PY).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
        code = snip.code.replace(SPEC_PYTHON, PY)  # the spec's interpreter is the project's here
        proc = run_cmd(["bash", "-euo", "pipefail", "-c", code], cwd=sandbox, env=env)
    assert proc.returncode == 0, f"{snip.id}: `{snip.code}` failed:\n{proc.stdout}\n{proc.stderr}"
    check_output(proc.stdout + proc.stderr, snip.expect)


# One test per document: a doc's commands build on each other (one writes q.npy, the next
# reads it), so they run in order in one fresh sandbox, whichever xdist worker runs the doc.
@pytest.mark.parametrize("doc", sorted({s.doc for s in ALL}), ids=lambda d: str(d.relative_to(REPO)))
def test_documented_commands(doc: Path, tmp_path: Path) -> None:
    need_tool("qemu-riscv64")
    need_tool("verilator")
    sandbox = make_sandbox(tmp_path)
    for snip in (s for s in ALL if s.doc == doc):
        run_snippet(snip, sandbox)
