"""From MLIR text to validated attention parameters: parse once, verify, lower, read back.

Every tool enters here. :func:`parse_module` parses (recording each sattn op's ``file:line:col``
so the verifier and the passes can say where a problem is), reports the attributes nothing
reads (:func:`check_unknown_attributes`: one warning each, or with ``strict_attributes`` the
error), :func:`verify_module` turns xDSL's verification failures into one-line
:class:`SattnError`, :func:`run_pipeline` applies a named pass pipeline, and
:func:`load_params` does all of it and returns one :class:`AttentionParams` per attention op.
"""

from __future__ import annotations

import bisect
import difflib
import io
import json
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from xdsl.context import Context
from xdsl.dialects import get_all_dialects
from xdsl.dialects.builtin import FileLineColLoc, IntAttr, ModuleOp, StringAttr, UnknownLoc
from xdsl.parser import Parser
from xdsl.printer import Printer
from xdsl.utils.exceptions import DiagnosticException, ParseError
from xdsl.utils.mlir_lexer import MLIRTokenKind

from sattn.diagnostics import Diagnostic, warn
from sattn.errors import SattnError
from sattn.ir.dialect import (
    Sattn,
    SattnOp,
    SparseAttentionOp,
    located,
    location_of,
    unknown_attribute_message,
    unknown_attributes,
)
from sattn.ir.schema import AttentionParams, coerce, params_from_dict
from sattn.selector import Hints, select_spec
from sattn.transforms import build_pipeline


def make_context(*, allow_unregistered: bool = True) -> Context:
    """An xDSL context that knows the sattn dialect and (lazily) every xDSL dialect."""
    ctx = Context(allow_unregistered=allow_unregistered)
    for name, factory in get_all_dialects().items():
        if name != "sattn":
            ctx.register_dialect(name, factory)
    ctx.load_dialect(Sattn)
    return ctx


class LocatingParser(Parser):
    """A parser that gives every sattn op the ``file:line:col`` where its text starts."""

    def __init__(self, ctx, text: str, name: str, first_line: int = 1):
        super().__init__(ctx, text, name)
        self._text = text
        self._name = name
        self._first_line = first_line
        self._starts: list[tuple[SattnOp, int]] = []

    def parse_operation(self):
        start = self._current_token.span.start
        op = super().parse_operation()
        if isinstance(op, SattnOp) and isinstance(op.location, UnknownLoc):
            self._starts.append((op, start))
        return op

    def attach_locations(self) -> None:
        if not self._starts:
            return
        newlines = _newlines(self._text)
        fname = StringAttr(self._name)
        for op, start in self._starts:
            line = bisect.bisect_left(newlines, start)  # newlines before start
            col = start - (newlines[line - 1] + 1 if line else 0) + 1
            op.location = FileLineColLoc(fname, IntAttr(line + self._first_line), IntAttr(col))


def _newlines(text: str) -> list[int]:
    out, i = [], text.find("\n")
    while i >= 0:
        out.append(i)
        i = text.find("\n", i + 1)
    return out


def parse_module(
    text: str,
    filename: str = "<stdin>",
    *,
    ctx: Context | None = None,
    first_line: int = 1,
    verify: bool = True,
    strict_attributes: bool = False,
) -> ModuleOp:
    """Parse MLIR text into a module (and verify it); errors become one-line SattnError.

    ``first_line`` is the line number of ``text``'s first line in ``filename`` (for
    ``--split-input-file`` chunks). Attributes of ``sattn.sparse_attention`` that nothing reads
    are kept with one warning each, or refused when ``strict_attributes`` is set
    (:func:`check_unknown_attributes`).
    """
    ctx = ctx if ctx is not None else make_context()
    parser = LocatingParser(ctx, text, filename, first_line)
    try:
        module = parser.parse_module()
    except ParseError as e:
        loc = e.span.get_location()
        msg = e.msg
        if msg.startswith("Operation ") and msg.endswith(" is not registered"):
            msg += " (pass --allow-unregistered-dialect to accept it)"
        elif msg.endswith("builtin.unregistered does not have a custom format."):
            # a bare word xDSL does not know as an op (e.g. `modul {`): name the word
            words = re.findall(r"[A-Za-z_][\w.$-]*", text[: e.span.start])
            name = words[-1] if words else "?"
            msg = f"unknown operation '{name}' in custom syntax"
            if difflib.get_close_matches(name, ["module"], n=1):
                msg += " (did you mean 'module'?)"
        elif msg.strip() == "in block definition":
            # xDSL looked for a block label where a region's ops stopped: say what is missing
            at_eof = parser._current_token.kind == MLIRTokenKind.EOF
            msg = ("unexpected end of input: '}' expected to close a region" if at_eof
                   else "expected an operation, a block label or '}'")
        raise SattnError(f"{filename}:{loc.line + first_line - 1}:{loc.col}: {msg}") from None
    except (DiagnosticException, ValueError) as e:
        # raised while building an attribute, e.g. `300 : i8`: report where the parser stood
        loc = parser._current_token.span.get_location()
        raise SattnError(f"{filename}:{loc.line + first_line - 1}:{loc.col}: {_one_line(e)}") from None
    parser.attach_locations()
    check_unknown_attributes(module, strict=strict_attributes)
    if verify:
        verify_module(module)
    return module


def check_unknown_attributes(module: ModuleOp, *, strict: bool = False) -> None:
    """Attributes of a ``sattn.sparse_attention`` that nothing reads are discardable, as in
    MLIR: each gets one warning line (``file:line:col: warning: 'sattn.sparse_attention' unknown
    attribute 'windw_size' (did you mean 'window_size'?); kept and ignored``, see
    :func:`sattn.diagnostics.warn`) and travels through the lowerings untouched. ``strict``
    makes the first one an error instead."""
    for op in module.walk():
        if not isinstance(op, SparseAttentionOp):
            continue
        for name in unknown_attributes(op):
            message = unknown_attribute_message(op, name)
            if strict:
                raise SattnError(located(op, message))
            warn(_diagnostic("warning", f"{message}; kept and ignored", op))


def _diagnostic(severity: str, message: str, op):
    loc = op.location
    if isinstance(loc, FileLineColLoc):
        return Diagnostic(severity, message, loc.filename.data, loc.line.data, loc.column.data)
    return Diagnostic(severity, message)


def verify_module(module: ModuleOp) -> None:
    """Verify every op; a failure becomes one SattnError line (with the op's location)."""
    try:
        module.verify()
    except DiagnosticException as e:
        raise SattnError(_first_failure(module) or _one_line(e)) from None


def _one_line(e: BaseException) -> str:
    text = " ".join(line.strip() for line in str(e).strip().splitlines() if line.strip())
    return text or type(e).__name__


def _first_failure(module: ModuleOp) -> str | None:
    """The first op that fails to verify on its own, as '<location>: <message>' (error path only)."""
    for op in module.walk():
        if op is module:
            continue
        try:
            op.verify(verify_nested_ops=False)
        except DiagnosticException as e:
            msg = _one_line(e)
            where = location_of(op)
            if where and not msg.startswith(where):
                msg = f"{where}: '{op.name}' {msg}"
            return msg
    return None


def read_source(source: str | Path) -> tuple[str, str]:
    """(text, name) of an MLIR file; ``-`` reads stdin. A leading UTF-8 byte-order mark (as some
    editors write) is dropped. A missing or unreadable file is a SattnError."""
    if str(source) == "-":
        return sys.stdin.read().removeprefix("\ufeff"), "<stdin>"
    path = Path(source)
    try:
        return path.read_text(encoding="utf-8").removeprefix("\ufeff"), str(source)  # BOM
    except FileNotFoundError:
        raise SattnError(f"cannot read '{source}': no such file") from None
    except IsADirectoryError:
        raise SattnError(f"cannot read '{source}': is a directory") from None
    except (OSError, UnicodeDecodeError) as e:
        raise SattnError(f"cannot read '{source}': {e}") from None


def run_pipeline(module: ModuleOp, pipeline: str, ctx: Context | None = None,
                 hints: Hints | None = None) -> None:
    """Apply a pipeline (``builtin.module(a,b{opt=v})``, ``a,b`` or one name) in place, with
    the edge's selector ``hints`` (see :func:`edge_hints`)."""
    ctx = ctx if ctx is not None else make_context()
    for p in build_pipeline(pipeline, hints=hints):
        p.apply(ctx, module)


def attention_ops(module: ModuleOp) -> list:
    """Every sattn op of a module, in program order."""
    return [op for op in module.walk() if isinstance(op, SattnOp)]


def is_lowered(module: ModuleOp) -> bool:
    """Whether the module has attention ops and every one is a lowered call."""
    ops = attention_ops(module)
    return bool(ops) and not any(isinstance(op, SparseAttentionOp) for op in ops)


def load_params(
    source: str | Path,
    *,
    pipeline: str | None = "sattn-lower-rvv",
    text: bool = False,
    strict_attributes: bool = False,
    hints: Hints | None = None,
) -> list[AttentionParams]:
    """Parse, verify and lower an MLIR file (or ``text=True``: MLIR text); return one
    :class:`AttentionParams` per attention op after the pipeline (per lowered call; per
    ``sattn.sparse_attention`` when ``pipeline`` is None), with ``spec`` set to the selected
    spec and every pass marker / record (and every discardable attribute) in ``.extra``.
    ``strict_attributes`` refuses attributes nothing reads instead of warning.

    ``hints`` are the edge's selector hints (:func:`edge_hints`; None: none).

    A module whose attention ops are all lowered calls (``sattn.rvv_call``,
    ``sattn.rocc_call``) is run as written: the pipeline does not run again, so the recorded
    ``spec``, index table and vector strips are what the backends run.
    """
    if text:
        src, name = str(source), "<string>"
    else:
        src, name = read_source(source)
    ctx = make_context()
    module = parse_module(src, name, ctx=ctx, strict_attributes=strict_attributes)
    if pipeline and not is_lowered(module):
        run_pipeline(module, pipeline, ctx, hints)
    out = module_params(module, hints)
    if not out:
        raise SattnError(f"{name}: no sattn.sparse_attention op found")
    return out


def module_params(module: ModuleOp, hints: Hints | None = None) -> list[AttentionParams]:
    """The :class:`AttentionParams` of every sattn op of ``module``, in program order, with
    ``spec`` selected: the recorded one (a pipeline ran select-spec), else the selection runs
    once with ``hints``. A schema or selector error names the op and its location."""
    hints = hints or Hints()
    out = []
    for op in attention_ops(module):
        try:
            p = op.params()
            if p.spec is None:  # not selected by the pipeline: select now
                p = p.replace(spec=select_spec(p, hints=hints).spec)
        except SattnError as e:
            raise SattnError(located(op, f"'{op.name}' {e}")) from None
        out.append(p)
    return out


def edge_hints(env: Mapping[str, str] | None = None, *, prefer_bsr: bool = False,
               prefer_sw: bool = False, l1_bytes: int | None = None,
               force_spec: str | None = None, disable: tuple[str, ...] = (),
               target: str | None = None, default_target: str | None = None,
               max_error_data: str | Path | None = None) -> Hints:
    """The selector hints of a command-line or API edge: the spec's environment variables of
    ``env`` (the edge passes ``os.environ``; this is the one place they are read), then the
    tool's flags on top. ``default_target`` applies when neither names a target (the API
    selects for the backend it runs); ``max_error_data`` (``--max-error-data``) beats
    ``SATTN_MAX_ERROR_DATA``. Nothing here writes the environment."""
    base = Hints.from_env(env if env is not None else {})
    if prefer_bsr and prefer_sw:
        raise SattnError("prefer_bsr and prefer_sw (--prefer-bsr, --prefer-sw) exclude each other")
    if default_target is not None and target is None and not base.explicit_target:
        target = default_target
    prefer = "bsr" if prefer_bsr else "sw" if prefer_sw else None
    if l1_bytes is not None and (isinstance(l1_bytes, bool) or not isinstance(l1_bytes, int)
                                 or l1_bytes <= 0):
        raise SattnError(f"l1_bytes (--l1-bytes) must be a positive integer, got {l1_bytes!r}")
    return base.with_options(target=target, prefer=prefer, l1_bytes=l1_bytes, disable=disable,
                             force=force_spec, where="the selector flags",
                             max_error_data=None if max_error_data is None else str(max_error_data))


def _mlir_attr(name: str, value: Any) -> str:
    if isinstance(value, str):
        return f'{name} = "{value}"'
    if isinstance(value, float):
        return f"{name} = {value!r} : f64"
    if not isinstance(value, int):  # an xDSL attribute (a discardable one, kept as written)

        buf = io.StringIO()
        Printer(stream=buf).print_attribute(value)
        return f"{name} = {buf.getvalue()}"
    return f"{name} = {int(value)} : i64"


def mlir_for(attrs: dict[str, Any], *, loc: str | None = None) -> str:
    """MLIR text of one ``sattn.sparse_attention`` op with ``attrs`` (plain Python values or
    xDSL attributes, in the generic form of the spec's examples). Values are written as given:
    the parser and the verifier judge them, exactly as for a file. ``loc`` (``file:line:col``)
    becomes the op's ``loc(...)``: errors and warnings then name where the op came from."""
    body = ", ".join(_mlir_attr(n, v) for n, v in attrs.items())
    where = ""
    if loc:
        file, line, col = loc.rsplit(":", 2)
        where = f" loc({json.dumps(file)}:{line}:{col})"
    return f'module {{\n  "sattn.sparse_attention"() {{ {body} }} : () -> (){where}\n}}\n'


def with_overrides(mlir: str | Path, overrides: dict[str, Any], *, op: int | None = None,
                   text: bool = False, strict_attributes: bool = False,
                   keep_location: bool = False) -> str:
    """MLIR text of one ``sattn.sparse_attention`` whose attributes are those of ``mlir``'s op
    with ``overrides`` applied (what the runners' ``--precision``, ``--dilation``, ... flags
    do), so that selection and lowering see the overridden values. Unknown or ill-typed
    overrides are rejected by the schema with the attribute's name. Discardable attributes of
    the op are kept as written (``strict_attributes`` refuses them); the shape of operand types
    becomes ``seq_len``/``head_dim``/``num_heads``/``batch`` attributes. ``keep_location``
    gives the op the location of the original (errors and warnings then name that file)."""
    src, name = (str(mlir), "<string>") if text else read_source(mlir)
    module = parse_module(src, name, strict_attributes=strict_attributes)
    ops = [o for o in attention_ops(module) if o.name == "sattn.sparse_attention"]
    if not ops:
        raise SattnError(f"{name}: no sattn.sparse_attention op to apply the overrides to")
    if op is None and len(ops) > 1:
        raise SattnError(f"{name} has {len(ops)} attention ops; choose one with op=N (--op N)")
    if not 0 <= (op or 0) < len(ops):
        raise SattnError(f"{name} has {len(ops)} attention op(s); --op {op} is out of range")
    target = ops[op or 0]
    attrs = target.params().as_dict()  # as written (shape from operand types), unselected
    try:
        for key, value in overrides.items():
            if value is not None:
                attrs[key] = coerce(key, value)
        params_from_dict(attrs)  # cross-attribute rules (nm_n <= nm_m, heads % group, ...)
    except SattnError as e:
        raise SattnError(located(target, f"override: {e}")) from None
    for unknown in unknown_attributes(target):
        attrs[unknown] = target.attributes[unknown]
    return mlir_for(attrs, loc=location_of(target) if keep_location else None)
