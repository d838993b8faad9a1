"""SIGINT / SIGTERM for a search: every worker stops, running trials are re-queued.

One handler per process (parent and worker children alike). The first signal:

- is remembered (`stop.signum`): workers take no new trial, the exit status is 128+signum;
- is passed on, so that it reaches every worker whichever process received it: the parent
  forwards it to its children, a child to its parent (which forwards it to the others);
- interrupts the running trial by raising `Interrupted` (a `KeyboardInterrupt`, so that
  Lightning runs its own graceful shutdown), but only where that is safe: inside
  `stop.interruptible()` (a trial's build and training) and never inside
  `stop.shielded()` (a storage write), where it is raised once the write is done.

Later signals are only remembered: a second Ctrl-C does not cut the shutdown short.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """The search was asked to stop by a signal while a trial ran."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(signal.Signals(signum).name)


def signal_name(signum: int) -> str:
    return signal.Signals(signum).name


class Stop:
    """The process's stop request and where it may interrupt the main thread."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.peers: Callable[[], list[int]] = list  # pids to pass the first signal on to
        self._interruptible = False
        self.active = False  # inside `handling()`: the handler is ours to (re)install

    @property
    def requested(self) -> bool:
        return self.signum is not None

    @property
    def exit_code(self) -> int:
        return 128 + int(self.signum or 0)

    def reset(self) -> None:
        self.signum = None
        self.peers = list
        self._interruptible = False
        self.active = False

    def handle(self, signum: int, frame: FrameType | None = None) -> None:
        first = self.signum is None
        if first:
            self.signum = signum
            for pid in self.peers():
                with contextlib.suppress(OSError):  # already gone
                    os.kill(pid, signum)
        if not first or threading.current_thread() is not threading.main_thread():
            return
        if self._interruptible:
            raise Interrupted(signum)

    @contextlib.contextmanager
    def interruptible(self) -> Iterator[None]:
        """A signal raises `Interrupted` here (at once if one came before)."""
        if self.signum is not None:
            raise Interrupted(self.signum)
        outer = self._interruptible
        self._interruptible = True
        try:
            yield
        finally:
            self._interruptible = outer

    @contextlib.contextmanager
    def shielded(self) -> Iterator[None]:
        """No `Interrupted` in the middle of this (a storage write); raised after it."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        outer = self._interruptible
        self._interruptible = False
        try:
            yield
        finally:
            self._interruptible = outer
        if outer and self.signum is not None:
            raise Interrupted(self.signum)


stop = Stop()


@contextlib.contextmanager
def handling(peers: Callable[[], list[int]] = list) -> Iterator[Stop]:
    """Install the handler for SIGINT and SIGTERM (main thread only); restore on exit."""
    stop.reset()
    stop.peers = peers
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous: dict[int, Any] = {s: signal.getsignal(s) for s in SIGNALS}
    stop.active = True
    install()
    try:
        yield stop
    finally:
        stop.active = False
        for s, handler in previous.items():
            signal.signal(s, handler)


def install() -> None:
    """(Re)install the handler: Lightning sets SIGINT to ignored after a Ctrl-C in `fit`."""
    if stop.active and threading.current_thread() is threading.main_thread():
        for s in SIGNALS:
            signal.signal(s, stop.handle)
