"""Located diagnostics: warnings on their way to the user, and checking them against the
``expected-*`` comments of a test input (``sattn-opt --verify-diagnostics``).

Errors are :class:`~sattn.errors.SattnError` (one line, raised); warnings do not stop the work,
so they go through :func:`warn`, which prints one line to stderr unless a caller collects them
(:func:`collecting`). Within a :func:`once` scope a warning is reported once however often the
same input is parsed (a tool that lowers one file for three backends warns once).

``--verify-diagnostics`` follows MLIR's ``SourceMgrDiagnosticVerifierHandler``: a comment
``// expected-error {{text}}`` (or ``expected-warning``, ``expected-note``,
``expected-remark``; with ``-re`` the text may hold ``{{regex}}`` parts) expects a diagnostic of
that severity on its own line whose message contains the text; ``@+N``/``@-N`` shift the line,
``@above``/``@below`` name the nearest line above/below that holds no expectation, and
``@unknown`` expects a diagnostic without a location. The check passes when every expected
diagnostic was produced and every produced one was expected.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from sattn.errors import SattnError


@dataclass(frozen=True)
class Diagnostic:
    """One diagnostic: severity, message (without location) and where, when known."""

    severity: str  # "error" | "warning" | "note" | "remark"
    message: str
    filename: str | None = None
    line: int | None = None
    col: int | None = None

    @property
    def where(self) -> str:
        """``file:line:col`` or ''."""
        if self.filename is None or self.line is None:
            return ""
        return f"{self.filename}:{self.line}:{self.col or 1}"

    def __str__(self) -> str:
        """``file:line:col: warning: message`` -- MLIR's form of a diagnostic line."""
        head = f"{self.where}: " if self.where else ""
        return f"{head}{self.severity}: {self.message}"


_LOCATED = re.compile(r"(?P<file>[^\s:][^:]*):(?P<line>\d+):(?P<col>\d+): (?P<msg>.*)", re.DOTALL)


def from_error(error: SattnError) -> Diagnostic:
    """The error diagnostic of a :class:`SattnError` (``file:line:col: message`` split up)."""
    text = str(error)
    m = _LOCATED.fullmatch(text)
    if m is None:
        return Diagnostic("error", text)
    return Diagnostic("error", m["msg"], m["file"], int(m["line"]), int(m["col"]))


# ---- reporting -----------------------------------------------------------------------------

def _to_stderr(diag: Diagnostic) -> None:
    sys.stderr.write(f"{diag}\n")
    sys.stderr.flush()


_HANDLER: ContextVar[Callable[[Diagnostic], None]] = ContextVar("sattn_diag_handler", default=_to_stderr)
_SEEN: ContextVar[set[Diagnostic] | None] = ContextVar("sattn_diag_seen", default=None)


def warn(diag: Diagnostic) -> None:
    """Report a warning (to stderr, or to the :func:`collecting` caller); once per scope."""
    seen = _SEEN.get()
    if seen is not None:
        if diag in seen:
            return
        seen.add(diag)
    _HANDLER.get()(diag)


@contextmanager
def once() -> Iterator[None]:
    """Report each distinct warning once inside this block (nested blocks share the outer's
    memory): one tool run or API call parses its input as often as it needs, warns once."""
    if _SEEN.get() is not None:
        yield
        return
    token = _SEEN.set(set())
    try:
        yield
    finally:
        _SEEN.reset(token)


@contextmanager
def collecting() -> Iterator[list[Diagnostic]]:
    """Collect the warnings of a block in a list instead of printing them."""
    got: list[Diagnostic] = []
    token = _HANDLER.set(got.append)
    try:
        yield got
    finally:
        _HANDLER.reset(token)


# ---- --verify-diagnostics ------------------------------------------------------------------

#: MLIR's expected-diagnostic syntax (mlir/lib/IR/Diagnostics.cpp).
_EXPECTED = re.compile(
    r"expected-(?P<sev>error|note|remark|warning)(?P<re>-re)? *"
    r"(?:@(?P<at>[+-]\d+|above|below|unknown))? *\{\{(?P<text>.*)\}\}\s*$"
)


@dataclass
class Expected:
    """One ``expected-*`` comment: what it expects and where it was written."""

    severity: str
    pattern: re.Pattern[str]
    text: str
    line: int | None  # None: @unknown
    comment_line: int
    comment_col: int
    matched: bool = False

    def matches(self, diag: Diagnostic) -> bool:
        return (diag.severity == self.severity and diag.line == self.line
                and self.pattern.search(diag.message) is not None)


def _pattern(text: str, regex: bool) -> re.Pattern[str]:
    """Substring match; with ``-re``, ``{{...}}`` parts are regular expressions."""
    if not regex:
        return re.compile(re.escape(text))
    parts, pos = [], 0
    for m in re.finditer(r"\{\{(.*?)\}\}", text):
        parts.append(re.escape(text[pos:m.start()]))
        parts.append(f"(?:{m.group(1)})")
        pos = m.end()
    parts.append(re.escape(text[pos:]))
    return re.compile("".join(parts))


def expectations(text: str, first_line: int = 1, filename: str = "<input>") -> list[Expected]:
    """The ``expected-*`` comments of ``text`` (its first line is ``first_line`` of
    ``filename``)."""
    out: list[Expected] = []
    below: list[Expected] = []
    last_plain: int | None = None
    for i, line in enumerate(text.split("\n")):
        lineno = first_line + i
        m = _EXPECTED.search(line)
        if m is None:
            last_plain = lineno
            for e in below:
                e.line = lineno
            below.clear()
            continue
        at = m["at"]
        try:
            pattern = _pattern(m["text"], bool(m["re"]))
        except re.error as e:
            raise SattnError(f"{filename}:{lineno}:{m.start() + 1}: bad regular expression in "
                             f"expected-{m['sev']}-re: {e}") from None
        exp = Expected(m["sev"], pattern, m["text"], lineno, lineno, m.start() + 1)
        if at == "unknown":
            exp.line = None
        elif at == "above":
            if last_plain is None:
                raise SattnError(f"{filename}:{lineno}:{m.start() + 1}: expected-{m['sev']} "
                                 "@above has no line above it")
            exp.line = last_plain
        elif at == "below":
            below.append(exp)
        elif at:
            exp.line = lineno + int(at)
        out.append(exp)
    if below:
        e = below[0]
        raise SattnError(f"{filename}:{e.comment_line}:{e.comment_col}: expected-{e.severity} "
                         "@below has no line below it")
    return out


def verify(expected: list[Expected], produced: list[Diagnostic], filename: str) -> list[str]:
    """The problems of one input: each produced diagnostic nobody expected, and each expected
    one that was not produced (MLIR's wording). Empty when everything matches."""
    problems = []
    for diag in produced:
        exp = None
        if diag.filename in (None, filename):  # a diagnostic in another file was not expected
            exp = next((e for e in expected if not e.matched and e.matches(diag)), None)
            if exp is None:  # as in MLIR, one expectation may match repeated diagnostics
                exp = next((e for e in expected if e.matches(diag)), None)
        if exp is None:
            head = f"{diag.where}: " if diag.where else ""
            problems.append(f"{head}unexpected {diag.severity}: {diag.message}")
        else:
            exp.matched = True
    for e in expected:
        if not e.matched:
            problems.append(f"{filename}:{e.comment_line}:{e.comment_col}: expected "
                            f"{e.severity} \"{e.text}\" was not produced")
    return problems


__all__ = [
    "Diagnostic",
    "Expected",
    "collecting",
    "expectations",
    "from_error",
    "once",
    "verify",
    "warn",
]
