"""Image files opened without blocking, and Pillow's size warning as one line naming the file.

A folder of images can hold things that are not files: a FIFO named `x.png` blocks the
first `open()` forever (no writer ever comes), a character device such as a link to
/dev/zero never ends, a socket cannot be opened at all. `regular_files` keeps only regular
files (a symbolic link counts as what it points to) and names everything it left out in one
`DataWarning`; `open_image` opens with `O_NONBLOCK` and checks the opened descriptor, so even
a file swapped for a FIFO after it was listed fails at once instead of hanging.

Pillow warns (`DecompressionBombWarning`) when an image has more than
`Image.MAX_IMAGE_PIXELS` pixels, and refuses it past twice that; its warning names neither the
file nor anything but Pillow's own source line. `open_image` turns it into one `DataWarning`
line naming the file and its size (archforge/quiet.py prints archforge's warnings on one line).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from PIL import Image

from archforge.data.data_warning import DataWarning

SHOWN = 5  # entries named in the warning about skipped non-files; the rest are counted
_KINDS = ((stat.S_ISFIFO, "FIFO"), (stat.S_ISCHR, "character device"),
          (stat.S_ISBLK, "block device"), (stat.S_ISSOCK, "socket"), (stat.S_ISDIR, "folder"))


class NotRegularFile(OSError):
    """A path that is a FIFO, a device, a socket or a folder where an image file was due."""


def kind_of(mode: int) -> str:
    """What a non-regular file is, in words."""
    return next((name for test, name in _KINDS if test(mode)), "special file")


def _warn(message: str) -> None:
    warnings.warn(message, DataWarning, stacklevel=3)


def regular_files(paths: Iterable[Path]) -> list[Path]:
    """`paths` minus those that exist and are not regular files, with one warning naming
    them. A path that cannot be stat'ed (a broken link) is kept: reading it reports it."""
    kept: list[Path] = []
    skipped: list[str] = []
    for path in paths:
        try:
            mode = os.stat(path).st_mode
        except OSError:
            kept.append(path)
            continue
        if stat.S_ISREG(mode):
            kept.append(path)
        else:
            skipped.append(f"{path} ({kind_of(mode)})")
    if skipped:
        more = f" and {len(skipped) - SHOWN} more" if len(skipped) > SHOWN else ""
        _warn(f"skipping {len(skipped)} entr{'y' if len(skipped) == 1 else 'ies'} that "
              f"{'is' if len(skipped) == 1 else 'are'} not a regular file (reading one could "
              f"block forever): {', '.join(skipped[:SHOWN])}{more}")
    return kept


def open_regular(path: str | Path) -> BinaryIO:
    """`path` opened for binary reading, if it is a regular file; else NotRegularFile. The
    open itself never blocks (`O_NONBLOCK`, which does nothing to a regular file's reads)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(errno.EINVAL, f"a {kind_of(mode)}, not an image file", str(path))
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def _bomb_line(path: str | Path, image: Image.Image) -> str:
    width, height = image.size
    return (f"image {path} is {width}x{height} ({width * height:,} pixels), more than Pillow's "
            f"decompression-bomb limit of {Image.MAX_IMAGE_PIXELS:,}: it is decoded, but check "
            "that it is what you meant to train on")


@contextlib.contextmanager
def open_image(path: str | Path) -> Iterator[Image.Image]:
    """`Image.open` of a regular file (lazily: only the header is read until pixels are
    asked for), its DecompressionBombWarning one DataWarning naming the file."""
    with open_regular(path) as f:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", Image.DecompressionBombWarning)
            image = Image.open(f)
        for w in caught:
            if issubclass(w.category, Image.DecompressionBombWarning):
                _warn(_bomb_line(path, image))
            else:  # anything else Pillow said, passed on as it was
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        with image:
            yield image
