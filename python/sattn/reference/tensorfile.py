"""``.safetensors`` files: reading one tensor with every check before allocating, and writing.

The format (published with Hugging Face's ``safetensors`` library, README "Format") is::

    8 bytes      N, an unsigned little-endian 64-bit integer
    N bytes      a UTF-8 JSON object: {"<name>": {"dtype": "F32", "shape": [..],
                 "data_offsets": [begin, end]}, ..., "__metadata__": {"<str>": "<str>"}}
                 (may be padded with trailing spaces)
    the rest     the byte buffer; each tensor is C-ordered little-endian bytes at
                 [begin, end) counted from the buffer's start

This module is our own reader and writer of that layout, so that loading an input needs no
optional package, and every way a file can be wrong (truncated, a header that claims more data
than the file holds, overlapping or out-of-range offsets, a non-float dtype) is one
:class:`~sattn.errors.SattnError` line naming the file and the tensor, checked before anything
large is allocated. A tensor is picked by name: ``FILE:name`` on the command line
(:func:`split_name`).
"""

from __future__ import annotations

import io
import itertools
import json
import math
import stat as stat_mod
from dataclasses import dataclass
from pathlib import Path

import ml_dtypes
import numpy as np

from sattn.errors import SattnError
from sattn.toolrun import atomic_write

#: File suffix of the format.
SUFFIX = ".safetensors"
#: The largest header the reference implementation accepts (100 MB); a larger N is corrupt.
MAX_HEADER = 100_000_000

#: Format dtype names -> NumPy dtypes (little-endian). bfloat16 comes from ml_dtypes.
_FLOATS = {"F32": "<f4", "F16": "<f2", "F64": "<f8", "BF16": "bfloat16"}
#: Every dtype name of the format (others than floats are recognised, then refused as inputs).
DTYPES = ("BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16", "I32", "U32",
          "F32", "F64", "I64", "U64")
_SIZES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2,
          "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "F64": 8, "I64": 8, "U64": 8}


def np_dtype(code: str) -> np.dtype:
    """The NumPy dtype of a float dtype name of the format (F32, F16, BF16, F64)."""
    if code == "BF16":
        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(_FLOATS[code])


def dtype_code(dtype: np.dtype) -> str:
    """The format's name of a float NumPy dtype (the inverse of :func:`np_dtype`)."""
    dtype = np.dtype(dtype)
    if dtype.name == "bfloat16":
        return "BF16"
    names = {np.dtype(np.float32): "F32", np.dtype(np.float16): "F16", np.dtype(np.float64): "F64"}
    key = dtype.newbyteorder("=")
    if key not in names:
        raise SattnError(f"cannot write dtype {dtype} to {SUFFIX} (float32, float16, bfloat16, "
                         "float64 only)")
    return names[key]


def is_safetensors(path: str | Path) -> bool:
    """True when ``path`` names a ``.safetensors`` file (by its suffix, any case)."""
    return str(path).lower().endswith(SUFFIX)


def split_name(spec: str | Path) -> tuple[Path, str | None]:
    """``FILE.safetensors:name`` -> (FILE.safetensors, name); anything else -> (path, None).

    Only a colon after a ``.safetensors`` suffix separates a name, so paths with colons in
    them keep working."""
    text = str(spec)
    head, sep, name = text.rpartition(":")
    if sep and is_safetensors(head) and name and "/" not in name:
        return Path(head), name
    return Path(text), None


@dataclass(frozen=True)
class Entry:
    """One tensor of a file, validated against the file's size: where its bytes are."""

    path: Path
    name: str
    dtype: str  # the format's dtype name
    shape: tuple[int, ...]
    offset: int  # absolute, from the start of the file
    nbytes: int

    def read(self) -> np.ndarray:
        """The tensor's values in its stored dtype (call after the caller's memory check)."""
        dt = np_dtype(self.dtype)
        count = math.prod(self.shape)
        with self.path.open("rb") as f:
            f.seek(self.offset)
            arr = np.fromfile(f, dtype=dt, count=count)
        if arr.size != count:  # the file shrank since its header was checked
            raise SattnError(f"{self.path}: tensor '{self.name}' is truncated")
        return arr.reshape(self.shape)


@dataclass(frozen=True)
class Header:
    """The parsed and validated header of a ``.safetensors`` file."""

    path: Path
    entries: dict[str, Entry]
    metadata: dict[str, str]

    def entry(self, name: str | None, what: str, default: str | None = None) -> Entry:
        """The tensor ``name`` (else ``default`` when the file has it, else the only tensor)."""
        names = list(self.entries)
        if name is None:
            if default is not None and default in self.entries:
                name = default
            elif len(names) == 1:
                name = names[0]
            else:
                want = f"no tensor '{default}'" if default else f"{len(names)} tensors"
                raise SattnError(f"{what}: {self.path} has {want}; name one as "
                                 f"{self.path}:NAME (it holds: {', '.join(names) or 'none'})")
        if name not in self.entries:
            raise SattnError(f"{what}: {self.path} has no tensor '{name}' "
                             f"(it holds: {', '.join(names) or 'none'})")
        return self.entries[name]


def checked_file(p: Path, what: str, expected: str = SUFFIX) -> int:
    """The size of ``p``; a missing, unreadable or non-regular file is one SattnError line
    (naming ``expected``, the kind of file wanted, e.g. ``.npy``)."""
    try:
        st = p.stat()
    except FileNotFoundError:
        raise SattnError(f"{what}: file not found: {p}") from None
    except OSError as e:
        raise SattnError(f"{what}: cannot read {p}: {e.strerror or e}") from None
    if stat_mod.S_ISDIR(st.st_mode):
        raise SattnError(f"{what}: {p} is a directory, expected a {expected} file")
    if not stat_mod.S_ISREG(st.st_mode):
        raise SattnError(f"{what}: {p} is not a regular file (a FIFO, socket or device), "
                         f"expected a {expected} file")
    return st.st_size


def read_header(path: str | Path, what: str) -> Header:
    """Parse and validate the header of ``path`` (see the module doc); reads only the header."""
    p = Path(path)
    size = checked_file(p, what)
    bad = f"{what}: {p} is not a {SUFFIX} file"
    try:
        with p.open("rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise SattnError(f"{bad} (shorter than its 8-byte header length)")
            n = int.from_bytes(head, "little")
            if n > MAX_HEADER or 8 + n > size:
                raise SattnError(f"{bad}: its header length {n} exceeds the file "
                                 f"({size} bytes; truncated or corrupt)")
            text = f.read(n)
    except PermissionError:
        raise SattnError(f"{what}: cannot read {p}: permission denied") from None
    except OSError as e:
        raise SattnError(f"{what}: cannot read {p}: {e.strerror or e}") from None
    try:
        doc = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise SattnError(f"{bad} (its header is not UTF-8 JSON)") from None
    if not isinstance(doc, dict):
        raise SattnError(f"{bad} (its header is not a JSON object)")
    meta = doc.pop("__metadata__", None) or {}
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise SattnError(f"{bad} (__metadata__ must map strings to strings)")
    start = 8 + n
    buffer = size - start
    entries: dict[str, Entry] = {}
    spans: list[tuple[int, int, str]] = []
    for name, info in doc.items():
        where = f"{what}: {p}: tensor '{name}'"
        if not isinstance(info, dict):
            raise SattnError(f"{where}: its header entry is not an object")
        dtype, shape, offs = info.get("dtype"), info.get("shape"), info.get("data_offsets")
        if dtype not in _SIZES:
            raise SattnError(f"{where}: unknown dtype {dtype!r}")
        if (not isinstance(shape, list)
                or not all(isinstance(x, int) and not isinstance(x, bool) and x >= 0
                           for x in shape)):
            raise SattnError(f"{where}: shape must be a list of non-negative integers, got {shape!r}")
        if (not isinstance(offs, list) or len(offs) != 2
                or not all(isinstance(x, int) and not isinstance(x, bool) for x in offs)
                or not 0 <= offs[0] <= offs[1]):
            raise SattnError(f"{where}: data_offsets must be [begin, end] with "
                             f"0 <= begin <= end, got {offs!r}")
        need = math.prod(shape) * _SIZES[dtype]
        if offs[1] - offs[0] != need:
            raise SattnError(f"{where}: shape {tuple(shape)} {dtype} needs {need} bytes but its "
                             f"data_offsets {offs} span {offs[1] - offs[0]}")
        if offs[1] > buffer:
            raise SattnError(f"{where}: its data ends at byte {offs[1]} of a {buffer}-byte "
                             "buffer (truncated or corrupt)")
        spans.append((offs[0], offs[1], name))
        entries[name] = Entry(p, name, dtype, tuple(shape), start + offs[0], need)
    spans.sort()
    for (_, end, a), (begin, _, b) in itertools.pairwise(spans):
        if begin < end:
            raise SattnError(f"{what}: {p}: tensors '{a}' and '{b}' overlap (corrupt header)")
    return Header(p, entries, {str(k): v for k, v in meta.items()})


def encode(tensors: dict[str, np.ndarray], metadata: dict[str, str] | None = None) -> bytes:
    """The bytes of a ``.safetensors`` file holding ``tensors`` (float arrays) in the given
    order, with ``metadata`` (string to string) as ``__metadata__``."""
    header: dict[str, object] = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs = []
    pos = 0
    for name, arr in tensors.items():
        a = np.asarray(arr)
        code = dtype_code(a.dtype)
        data = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": code, "shape": list(a.shape), "data_offsets": [pos, pos + len(data)]}
        blobs.append(data)
        pos += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-(8 + len(text)) % 8)  # the buffer starts 8-byte aligned
    return len(text).to_bytes(8, "little") + text + b"".join(blobs)


def save(path: str | Path, tensors: dict[str, np.ndarray], metadata: dict[str, str] | None = None,
         *, make_parents: bool = False) -> None:
    """Write ``tensors`` to ``path`` atomically (:func:`sattn.toolrun.atomic_write`)."""
    atomic_write(path, encode(tensors, metadata), make_parents=make_parents)


def save_output(path: str | Path, output: np.ndarray, metadata: dict[str, str] | None = None) -> None:
    """Write one output tensor to ``path`` as float32, atomically: ``.safetensors`` (the tensor
    ``out``, with ``metadata``) or else ``.npy``."""
    output = np.asarray(output, dtype=np.float32)
    if str(path).endswith(SUFFIX):
        save(path, {"out": output}, metadata)
    else:
        buf = io.BytesIO()
        np.save(buf, output)
        atomic_write(path, buf.getvalue())
