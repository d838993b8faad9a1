"""A long command outlives its reader: output to a closed pipe is dropped, not fatal.

`archforge search ... | head`, a parent script killed while the search ran, a terminal
closed over a `nohup`-less run: the next write to stdout or stderr raises BrokenPipeError
(Python ignores SIGPIPE), and an uncaught one would end the search between two trials, or
before it writes its winners. What a search prints is a view of its study; the study and
the exported files are what matter. Inside `surviving_closed_output()` a write that finds
its pipe closed points that file descriptor at /dev/null, so this write and every later
one (the progress thread's, Lightning's, the interpreter's final flush) succeed silently.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any, TextIO


class _Tolerant:
    """A text stream that drops its output once its reader has gone."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def _closed_reader(self) -> None:
        try:
            fd = self._stream.fileno()
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, fd)
            os.close(null)
        except (OSError, ValueError):
            pass

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._closed_reader()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._closed_reader()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextlib.contextmanager
def surviving_closed_output() -> Iterator[None]:
    old = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Tolerant(old[0]), _Tolerant(old[1])
    try:
        yield
    finally:
        sys.stdout, sys.stderr = old
