"""The IDX file format of MNIST and Fashion-MNIST (LeCun et al. 1998; Xiao et al. 2017).

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of
dimensions), one big-endian uint32 per dimension, then the values in row-major order. Both
data sets store unsigned bytes (type code 0x08): images as N x 28 x 28, labels as N. Files
may be gzip-compressed (as distributed) or raw; the first two bytes tell which.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from archforge.errors import ConfigError

UBYTE = 0x08
_GZIP_MAGIC = b"\x1f\x8b"


def read_idx(path: Path, ndim: int, key: str = "data.root") -> np.ndarray:
    """The uint8 array stored in the IDX file `path`, which must have `ndim` dimensions.

    A missing, truncated or malformed file is a `ConfigError` under `key` naming the file.
    """
    try:
        raw = path.read_bytes()
        if raw[:2] == _GZIP_MAGIC:
            raw = gzip.decompress(raw)
    except FileNotFoundError as exc:
        raise ConfigError(key, f"{path} does not exist") from exc
    except (OSError, EOFError, zlib.error) as exc:  # gzip raises all three for bad data
        raise ConfigError(key, f"{path} is not a readable gzip or IDX file: {exc}") from exc
    return parse_idx(raw, ndim, f"{path}", key)


def parse_idx(raw: bytes, ndim: int, where: str, key: str = "data.root") -> np.ndarray:
    """Decode IDX bytes (already decompressed); `where` names the source in errors."""
    if len(raw) < 4:
        raise ConfigError(key, f"{where} is truncated: {len(raw)} bytes, no IDX header")
    zeros, kind, dims = struct.unpack(">HBB", raw[:4])
    expected = f"{UBYTE:02x}{ndim:02x}"
    if zeros != 0 or kind != UBYTE or dims != ndim:
        raise ConfigError(
            key,
            f"{where} has magic number 0x{raw[:4].hex()}; expected 0x0000{expected} "
            f"(unsigned bytes, {ndim} dimension{'s' if ndim > 1 else ''}): not an IDX "
            f"{'image' if ndim == 3 else 'label'} file",
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ConfigError(key, f"{where} is truncated inside its header ({len(raw)} bytes)")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    size = int(np.prod(shape, dtype=np.int64))
    body = len(raw) - header
    if body != size:
        state = "truncated" if body < size else "longer than its header says"
        raise ConfigError(
            key,
            f"{where} is {state}: the header gives shape {'x'.join(map(str, shape))} "
            f"({size:,} values) but {body:,} bytes follow it",
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def write_idx(path: Path, array: np.ndarray) -> Path:
    """Write a uint8 array as an IDX file, gzip-compressed when `path` ends in .gz."""
    values = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">HBB", 0, UBYTE, values.ndim)
    header += struct.pack(f">{values.ndim}I", *values.shape)
    data = header + values.tobytes()
    path.write_bytes(gzip.compress(data, mtime=0) if path.name.endswith(".gz") else data)
    return path
